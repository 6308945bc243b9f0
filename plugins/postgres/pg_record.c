/*
 * pg_record.c - reading the run's record (ABI 1.1): read_history and
 * read_run. write() stores the record in its one statement (pg_ledger.c).
 *
 * Each call is ONE query (one round trip) whatever the number of dates,
 * strategies or prices, streamed row by row (libpq single-row mode) so
 * memory does not grow with the result. Every optional bound of a
 * history query is a parameter that may be NULL ("$1::date IS NULL OR
 * ..."): statements are unnamed, so the server plans each with its
 * values and drops the bounds that are not given. read_run is the run
 * row, its valuations and its prices as one UNION ALL, in that order.
 *
 * Dates come back through to_char and amounts as NUMERIC::text: neither
 * depends on a session setting (DateStyle, lc_numeric) that another
 * client of a pooled connection may have left behind. A stored amount
 * that does not parse (more than 6 places, out of range) is
 * CAPALLOC_ERR_IO naming the table, the row and the column. A NULL amount
 * (an imported row's) reads as zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

/* A valuation's columns, in the order valuation_row() reads them. */
#define VALUATION_COLUMNS                                                    \
    "run_id, portfolio_id, to_char(valuation_date, 'YYYY-MM-DD'),"           \
    " is_master, imported, cash::text, positions_value::text, nav::text,"    \
    " weight::text, target::text, transfer::text, shortfall::text"

#define HISTORY_WHERE                                                        \
    " WHERE ($1::date IS NULL OR valuation_date >= $1::date)"                \
    " AND ($2::date IS NULL OR valuation_date < $2::date)"                   \
    " AND ($3::date IS NULL OR valuation_date <= $3::date)"                  \
    " AND ($4::text IS NULL OR portfolio_id = $4::text OR is_master = 1)"    \
    " AND ($5::smallint = 1 OR is_master = 0)"

/* $6 > 0 keeps the latest $6 distinct dates the other bounds select:
 * those on or after the $6-th latest. */
const char pgp_sql_history[] =
    /* ABI 1.3: each row's run kind and links, from the few runs that
     * are not plain allocations or were reversed (k: a small hash table;
     * every other row's are NULL: a RUN, not reversed) */
    "WITH k AS (SELECT r.run_id, r.kind, r.reverses,"
    "  (SELECT x.run_id FROM {S}.capalloc_runs x WHERE x.reverses = r.run_id)"
    "  AS reversed_by FROM {S}.capalloc_runs r"
    "  WHERE r.kind <> 'RUN' OR r.run_id IN (SELECT y.reverses"
    "   FROM {S}.capalloc_runs y WHERE y.reverses IS NOT NULL))"
    " SELECT h.*, k.kind, k.reverses::text,"
    " k.reversed_by::text FROM ("
    " SELECT " VALUATION_COLUMNS " FROM {S}.capalloc_valuations" HISTORY_WHERE
    " AND ($6::bigint = 0 OR valuation_date >= (SELECT min(l.d) FROM"
    "  (SELECT DISTINCT valuation_date AS d FROM {S}.capalloc_valuations"
    HISTORY_WHERE " ORDER BY d DESC LIMIT $6::bigint) AS l))) AS h"
    " LEFT JOIN k ON k.run_id = h.run_id";

/* k = 0: the run (c1 run_id, c2 run_date, c3 created_at, c4 trades, c5
 * action, c6 forced, c7 capalloc_version, c8 detail); k = 1: its
 * valuations (c1.. VALUATION_COLUMNS); k = 2: its prices (c1 run_id, c2
 * ticker, c3 price, c4 as_of, c5 stale). */
const char pgp_sql_run[] =
    "SELECT * FROM ("
    " SELECT 0 AS k, r.run_id AS c1, to_char(r.run_date, 'YYYY-MM-DD') AS c2,"
    "  to_char(r.created_at AT TIME ZONE 'UTC',"
    "          'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS c3,"
    "  (SELECT count(*) FROM {S}.trade_execution_logs t"
    "    WHERE t.run_id = r.run_id)::text AS c4,"
    "  r.action AS c5, r.forced::text AS c6, r.capalloc_version AS c7,"
    "  r.detail AS c8, r.kind AS c9, r.reverses::text AS c10,"
    "  (SELECT x.run_id FROM {S}.capalloc_runs x"
    "    WHERE x.reverses = r.run_id)::text AS c11, NULL::text AS c12"
    " FROM {S}.capalloc_runs r WHERE r.run_id = $1::bigint"
    " UNION ALL"
    " SELECT 1, run_id, portfolio_id, to_char(valuation_date, 'YYYY-MM-DD'),"
    "  is_master::text, imported::text, cash::text, positions_value::text,"
    "  nav::text, weight::text, target::text, transfer::text,"
    "  shortfall::text"
    " FROM {S}.capalloc_valuations WHERE run_id = $1::bigint"
    " UNION ALL"
    " SELECT 2, run_id, ticker, price::text, as_of::text, stale::text, NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM {S}.capalloc_run_prices WHERE run_id = $1::bigint"
    ") AS rec ORDER BY k, c2 COLLATE \"C\", c3";

static const char *value_or_null(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

/* Row r, its valuation columns from column off, to the sink. */
static capalloc_status valuation_row(pgp *s, const PGresult *res, int r,
                                     int off, const capalloc_record_sink *sink,
                                     capalloc_err *err)
{
    static const char *const names[] = {"cash", "positions_value", "nav",
                                        "weight", "target", "transfer",
                                        "shortfall"};
    capalloc_valuation v;
    memset(&v, 0, sizeof v);
    v.run_id = strtoll(PQgetvalue(res, r, off), NULL, 10);
    v.portfolio_id = PQgetvalue(res, r, off + 1);
    v.date = PQgetvalue(res, r, off + 2);
    if (strcmp(PQgetvalue(res, r, off + 3), "1") == 0)
        v.flags |= CAPALLOC_VAL_MASTER;
    if (strcmp(PQgetvalue(res, r, off + 4), "1") == 0)
        v.flags |= CAPALLOC_VAL_IMPORTED;
    char row[256];
    snprintf(row, sizeof row, "run %lld portfolio '%.100s' date %.20s",
             (long long)v.run_id, v.portfolio_id, v.date);
    capalloc_dec *out[] = {&v.cash,   &v.positions_value, &v.nav, &v.weight,
                           &v.target, &v.transfer,        &v.shortfall};
    for (int i = 0; i < 7; i++) {
        const char *text = value_or_null(res, r, off + 5 + i);
        capalloc_status st;
        if (text != NULL &&
            (st = pgp_parse_stored(s, text, out[i], err, "capalloc_valuations",
                                   row, names[i])) != CAPALLOC_OK)
            return st;
    }
    if (PQnfields(res) > off + 12) { /* read_history: ABI 1.3 */
        v.run_kind = value_or_null(res, r, off + 12);
        v.reverses = strtoll(PQgetvalue(res, r, off + 13), NULL, 10);
        v.reversed_by = strtoll(PQgetvalue(res, r, off + 14), NULL, 10);
    }
    capalloc_status st = sink->valuation(sink->ctx, &v);
    if (st != CAPALLOC_OK)
        s->host->set_error(err, NULL,
                           "the core stopped reading the record at "
                           "capalloc_valuations, %s (status %d)",
                           row, (int)st);
    return st;
}

static capalloc_status history_row(pgp *s, const PGresult *res, int r,
                                   const void *ctx, capalloc_err *err)
{
    return valuation_row(s, res, r, 0, ctx, err);
}

/* YYYY-MM-DD or NULL: what a bound may be. */
static int date_or_null(const char *d)
{
    if (d == NULL)
        return 1;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return 0;
    return d[10] == '\0';
}

capalloc_status pgp_read_history(void *state, const capalloc_history_query *q,
                                 const capalloc_record_sink *sink,
                                 capalloc_err *err)
{
    pgp *s = state;
    capalloc_status st = pgp_need_txn(s, 0, "read_history", err);
    if (st != CAPALLOC_OK)
        return st;
    if (q == NULL || sink == NULL || sink->valuation == NULL) {
        s->host->set_error(err, NULL, "read_history() without a query or a "
                                      "sink");
        return CAPALLOC_ERR_INTERNAL;
    }
    const char *dates[3] = {q->from_date, q->before_date, q->to_date};
    for (int i = 0; i < 3; i++)
        if (!date_or_null(dates[i])) {
            s->host->set_error(err, NULL,
                               "read_history(): the bound '%.40s' is not a "
                               "date (YYYY-MM-DD)",
                               dates[i]);
            return CAPALLOC_ERR_INTERNAL;
        }
    char last[16];
    snprintf(last, sizeof last, "%lu", (unsigned long)q->last_dates);
    const char *vals[6] = {q->from_date,   q->before_date,
                           q->to_date,     q->portfolio_id,
                           q->include_master ? "1" : "0", last};
    return pgp_stream(s, s->sql[PGP_SQL_HISTORY], 6, vals, history_row, sink,
                      err, "reading capalloc_valuations");
}

/* read_run()'s rows, by kind (column 0). */
typedef struct run_ctx {
    const capalloc_record_sink *sink;
    int *found;
} run_ctx;

static capalloc_status run_info_row(pgp *s, const PGresult *res, int r,
                                    const capalloc_record_sink *sink,
                                    capalloc_err *err)
{
    capalloc_run_info ri;
    memset(&ri, 0, sizeof ri);
    ri.run_id = strtoll(PQgetvalue(res, r, 1), NULL, 10);
    ri.n_trades = strtoll(PQgetvalue(res, r, 4), NULL, 10);
    /* capital movements have no run date: "" */
    snprintf(ri.run_date, sizeof ri.run_date, "%s", PQgetvalue(res, r, 2));
    snprintf(ri.created_at, sizeof ri.created_at, "%s", PQgetvalue(res, r, 3));
    /* ABI 1.3: the kind and the links (c9, c10, c11) */
    snprintf(ri.kind, sizeof ri.kind, "%s", PQgetvalue(res, r, 9));
    ri.reverses = strtoll(PQgetvalue(res, r, 10), NULL, 10);
    ri.reversed_by = strtoll(PQgetvalue(res, r, 11), NULL, 10);
    capalloc_status st = sink->run(
        sink->ctx, &ri, PQgetvalue(res, r, 5),
        strcmp(PQgetvalue(res, r, 6), "1") == 0, value_or_null(res, r, 7),
        value_or_null(res, r, 8));
    if (st != CAPALLOC_OK)
        s->host->set_error(err, NULL,
                           "the core stopped reading run %lld (status %d)",
                           (long long)ri.run_id, (int)st);
    return st;
}

static capalloc_status price_row(pgp *s, const PGresult *res, int r,
                                 const capalloc_record_sink *sink,
                                 capalloc_err *err)
{
    capalloc_price_row p;
    memset(&p, 0, sizeof p);
    p.ticker = PQgetvalue(res, r, 2);
    p.as_of = strtoll(PQgetvalue(res, r, 4), NULL, 10);
    if (strcmp(PQgetvalue(res, r, 5), "1") == 0)
        p.flags |= CAPALLOC_QUOTE_STALE;
    char row[192];
    snprintf(row, sizeof row, "run %s ticker '%.100s'", PQgetvalue(res, r, 1),
             p.ticker);
    capalloc_status st =
        pgp_parse_stored(s, PQgetvalue(res, r, 3), &p.price, err,
                         "capalloc_run_prices", row, "price");
    if (st == CAPALLOC_OK && (st = sink->price(sink->ctx, &p)) != CAPALLOC_OK)
        s->host->set_error(err, NULL,
                           "the core stopped reading the record at "
                           "capalloc_run_prices, %s (status %d)",
                           row, (int)st);
    return st;
}

static capalloc_status run_row(pgp *s, const PGresult *res, int r,
                               const void *ctx, capalloc_err *err)
{
    const run_ctx *rc = ctx;
    switch (PQgetvalue(res, r, 0)[0]) {
    case '0':
        *rc->found = 1;
        return run_info_row(s, res, r, rc->sink, err);
    case '1':
        return valuation_row(s, res, r, 1, rc->sink, err);
    default:
        return price_row(s, res, r, rc->sink, err);
    }
}

capalloc_status pgp_read_run(void *state, int64_t run_id,
                             const capalloc_record_sink *sink, int *found,
                             capalloc_err *err)
{
    pgp *s = state;
    *found = 0;
    capalloc_status st = pgp_need_txn(s, 0, "read_run", err);
    if (st != CAPALLOC_OK)
        return st;
    if (sink == NULL || sink->run == NULL || sink->valuation == NULL ||
        sink->price == NULL) {
        s->host->set_error(err, NULL, "read_run() without a sink");
        return CAPALLOC_ERR_INTERNAL;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *vals[1] = {id};
    run_ctx rc = {sink, found};
    return pgp_stream(s, s->sql[PGP_SQL_RUN], 1, vals, run_row, &rc, err,
                      "reading the record of a run");
}
