/*
 * sqlite_record.c - the run's record (ABI 1.1): the valuations and prices
 * write() stores with each run, read back by read_history and read_run.
 *
 * Writing: sqlp_write_record() runs inside write(), after the run row, so
 * the record is committed or rolled back with the transfers: it exists
 * exactly when the run does. One prepared statement per table, reused per
 * row. An ALLOCATE batch's valuations are dated with the run's date; an
 * IMPORT batch's (imported history) with each row's own date, and the
 * unique index capalloc_valuations_imported_once refuses a strategy's date
 * imported twice: CAPALLOC_ERR_INVALID naming the portfolio and the date.
 * Imported rows keep nav and transfer only: the other amounts are NULL.
 *
 * Reading: read_history is one statement whatever the number of dates or
 * strategies; read_run is three (the run, its valuations, its prices).
 * Decimals are parsed with host->dec_parse; a stored value that does not
 * parse is CAPALLOC_ERR_IO naming the table, the row and the column. A
 * NULL amount (an imported row's) reads as zero.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* write                                                                     */
/* ------------------------------------------------------------------------ */

/* What the core must hand over: a record only with ALLOCATE (valued
 * portfolios) or IMPORT (imported rows, each with its date). */
static capalloc_status check_record(sqlp *s, const capalloc_write_batch *b,
                                    const capalloc_run_record *rec,
                                    capalloc_err *err)
{
    const capalloc_host *h = s->host;
    int allocate = strcmp(b->action, "ALLOCATE") == 0;
    if (!allocate && strcmp(b->action, "IMPORT") != 0) {
        h->set_error(err, NULL, "write(): a %s batch carries a run record; "
                                "only ALLOCATE and IMPORT batches have one",
                     b->action);
        return CAPALLOC_ERR_INTERNAL;
    }
    if ((rec->n_valuations && rec->valuations == NULL) ||
        (rec->n_prices && rec->prices == NULL)) {
        h->set_error(err, NULL, "write(): a record count without rows");
        return CAPALLOC_ERR_INTERNAL;
    }
    for (size_t i = 0; i < rec->n_valuations; i++) {
        const capalloc_valuation *v = &rec->valuations[i];
        int imported = (v->flags & CAPALLOC_VAL_IMPORTED) != 0;
        if (v->portfolio_id == NULL || imported == allocate ||
            (imported && v->date == NULL)) {
            h->set_error(err, NULL,
                         "write(): valuation %zu of %zu of the %s record "
                         "(portfolio '%s') is %s",
                         i + 1, rec->n_valuations, b->action,
                         v->portfolio_id ? v->portfolio_id : "NULL",
                         v->portfolio_id == NULL ? "without a portfolio"
                         : allocate ? "flagged imported"
                         : imported ? "imported without a date"
                                    : "not flagged imported");
            return CAPALLOC_ERR_INTERNAL;
        }
    }
    for (size_t i = 0; i < rec->n_prices; i++)
        if (rec->prices[i].ticker == NULL) {
            h->set_error(err, NULL, "write(): price %zu of %zu has no ticker",
                         i + 1, rec->n_prices);
            return CAPALLOC_ERR_INTERNAL;
        }
    return CAPALLOC_OK;
}

/* Bind an amount, or NULL for an imported row's unset ones. */
static int bind_amount(const sqlp *s, sqlite3_stmt *stmt, int i,
                       capalloc_dec d, int null, dec_text *t)
{
    return sqlp_bind_text(stmt, i, null ? NULL : sqlp_fmt_dec(s, d, t));
}

static capalloc_status insert_valuations(sqlp *s, const capalloc_write_batch *b,
                                         const capalloc_run_record *rec,
                                         sqlite3_int64 run_id,
                                         capalloc_err *err)
{
    if (rec->n_valuations == 0)
        return CAPALLOC_OK;
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_INSERT_VALUATION, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    for (size_t i = 0; i < rec->n_valuations && st == CAPALLOC_OK; i++) {
        const capalloc_valuation *v = &rec->valuations[i];
        int imp = (v->flags & CAPALLOC_VAL_IMPORTED) != 0;
        const char *date = imp ? v->date : b->run_date;
        dec_text c, pv, nav, w, tg, tr, sf;
        int rc;
        if ((rc = sqlite3_bind_int64(stmt, 1, run_id)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 2, date)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 3, v->portfolio_id)) == SQLITE_OK &&
            (rc = sqlite3_bind_int(stmt, 4, (v->flags & CAPALLOC_VAL_MASTER)
                                                ? 1 : 0)) == SQLITE_OK &&
            (rc = sqlite3_bind_int(stmt, 5, imp)) == SQLITE_OK &&
            (rc = bind_amount(s, stmt, 6, v->cash, imp, &c)) == SQLITE_OK &&
            (rc = bind_amount(s, stmt, 7, v->positions_value, imp, &pv)) ==
                SQLITE_OK &&
            (rc = bind_amount(s, stmt, 8, v->nav, 0, &nav)) == SQLITE_OK &&
            (rc = bind_amount(s, stmt, 9, v->weight, imp, &w)) == SQLITE_OK &&
            (rc = bind_amount(s, stmt, 10, v->target, imp, &tg)) ==
                SQLITE_OK &&
            (rc = bind_amount(s, stmt, 11, v->transfer, 0, &tr)) ==
                SQLITE_OK &&
            (rc = bind_amount(s, stmt, 12, v->shortfall, imp, &sf)) ==
                SQLITE_OK)
            rc = sqlp_step_done(stmt);
        if (imp && (rc == SQLITE_CONSTRAINT_UNIQUE ||
                    rc == SQLITE_CONSTRAINT_PRIMARYKEY)) {
            /* capalloc_valuations_imported_once (an earlier import), or the
             * key (the same row twice in this one) */
            s->host->set_error(err, NULL,
                               "the history of portfolio '%s' on %s is "
                               "already imported (ledger %s): a date of a "
                               "strategy is imported once",
                               v->portfolio_id, date, s->path);
            st = CAPALLOC_ERR_INVALID;
        } else if (rc != SQLITE_OK) {
            st = sqlp_fail(s, err, rc,
                           "writing the valuation of portfolio '%s' on %s "
                           "to capalloc_valuations",
                           v->portfolio_id, date ? date : "NULL");
        }
        sqlp_reset(stmt);
    }
    return st;
}

static capalloc_status insert_prices(sqlp *s, const capalloc_run_record *rec,
                                     sqlite3_int64 run_id, capalloc_err *err)
{
    if (rec->n_prices == 0)
        return CAPALLOC_OK;
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_INSERT_PRICE, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    for (size_t i = 0; i < rec->n_prices && st == CAPALLOC_OK; i++) {
        const capalloc_price_row *p = &rec->prices[i];
        dec_text price;
        int rc;
        if ((rc = sqlite3_bind_int64(stmt, 1, run_id)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 2, p->ticker)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 3, sqlp_fmt_dec(s, p->price, &price))) ==
                SQLITE_OK &&
            (rc = sqlite3_bind_int64(stmt, 4, p->as_of)) == SQLITE_OK &&
            (rc = sqlite3_bind_int(stmt, 5, (p->flags & CAPALLOC_QUOTE_STALE)
                                                ? 1 : 0)) == SQLITE_OK)
            rc = sqlp_step_done(stmt);
        if (rc != SQLITE_OK)
            st = sqlp_fail(s, err, rc,
                           "writing the price of '%s' to capalloc_run_prices",
                           p->ticker);
        sqlp_reset(stmt);
    }
    return st;
}

capalloc_status sqlp_write_record(sqlp *s, const capalloc_write_batch *b,
                                  sqlite3_int64 run_id, capalloc_err *err)
{
    const capalloc_run_record *rec = sqlp_record(s, b);
    if (rec == NULL)
        return CAPALLOC_OK;
    capalloc_status st;
    if ((st = check_record(s, b, rec, err)) != CAPALLOC_OK ||
        (st = insert_valuations(s, b, rec, run_id, err)) != CAPALLOC_OK)
        return st;
    return insert_prices(s, rec, run_id, err);
}

/* ------------------------------------------------------------------------ */
/* reading                                                                   */
/* ------------------------------------------------------------------------ */

/* The current row of SQ_READ_HISTORY or SQ_RUN_VALUATIONS (the columns of
 * SQLP_VALUATION_COLUMNS) to the sink. */
static capalloc_status valuation_row(sqlp *s, sqlite3_stmt *stmt,
                                     const capalloc_record_sink *sink,
                                     capalloc_err *err)
{
    static const char *const names[] = {"cash", "positions_value", "nav",
                                        "weight", "target", "transfer",
                                        "shortfall"};
    const capalloc_host *h = s->host;
    capalloc_valuation v;
    memset(&v, 0, sizeof v);
    v.run_id = sqlite3_column_int64(stmt, 0);
    v.portfolio_id = sqlp_col_text(stmt, 1);
    v.date = sqlp_col_text(stmt, 2);
    char row[256];
    snprintf(row, sizeof row, "run %lld portfolio '%.100s' date %.20s",
             (long long)v.run_id, v.portfolio_id ? v.portfolio_id : "NULL",
             v.date ? v.date : "NULL");
    if (v.portfolio_id == NULL || v.date == NULL) {
        h->set_error(err, NULL,
                     "ledger %s is corrupted: capalloc_valuations, %s: NULL "
                     "portfolio_id or valuation_date",
                     s->path, row);
        return CAPALLOC_ERR_IO;
    }
    if (sqlite3_column_int(stmt, 3))
        v.flags |= CAPALLOC_VAL_MASTER;
    if (sqlite3_column_int(stmt, 4))
        v.flags |= CAPALLOC_VAL_IMPORTED;
    capalloc_dec *out[] = {&v.cash,   &v.positions_value, &v.nav, &v.weight,
                           &v.target, &v.transfer,        &v.shortfall};
    for (int i = 0; i < 7; i++) {
        const char *text = sqlp_col_text(stmt, 5 + i);
        capalloc_status st;
        if (text != NULL &&
            (st = sqlp_parse_stored(s, text, out[i], err,
                                    "capalloc_valuations", row, names[i])) !=
                CAPALLOC_OK)
            return st;
    }
    if (sqlite3_column_count(stmt) > 12) { /* read_history: ABI 1.3 */
        v.run_kind = sqlp_col_text(stmt, 12);
        v.reverses = sqlite3_column_int64(stmt, 13);
        v.reversed_by = sqlite3_column_int64(stmt, 14);
    }
    capalloc_status st = sink->valuation(sink->ctx, &v);
    if (st != CAPALLOC_OK)
        h->set_error(err, NULL,
                     "the core stopped reading the record at "
                     "capalloc_valuations, %s (status %d)",
                     row, (int)st);
    return st;
}

/* Step stmt (bound) to its end, valuation_row() for each row. */
static capalloc_status valuation_rows(sqlp *s, sqlite3_stmt *stmt,
                                      const capalloc_record_sink *sink,
                                      capalloc_err *err)
{
    capalloc_status st = CAPALLOC_OK;
    int rc = SQLITE_DONE;
    while (st == CAPALLOC_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
        st = valuation_row(s, stmt, sink, err);
    if (st == CAPALLOC_OK && rc != SQLITE_DONE)
        st = sqlp_fail(s, err, rc, "reading capalloc_valuations");
    return st;
}

/* YYYY-MM-DD or NULL: what a bound may be (text comparison of dates is
 * only right in that form). */
static int date_or_null(const char *d)
{
    if (d == NULL)
        return 1;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return 0;
    return d[10] == '\0';
}

capalloc_status sqlp_read_history(void *state, const capalloc_history_query *q,
                                  const capalloc_record_sink *sink,
                                  capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 0, "read_history", err);
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
    sqlite3_stmt *stmt;
    if ((st = sqlp_prepare(s, SQ_READ_HISTORY, &stmt, err)) != CAPALLOC_OK)
        return st;
    int rc;
    if ((rc = sqlp_bind_text(stmt, 1, q->from_date)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 2, q->before_date)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 3, q->to_date)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 4, q->portfolio_id)) == SQLITE_OK &&
        (rc = sqlite3_bind_int(stmt, 5, q->include_master ? 1 : 0)) ==
            SQLITE_OK &&
        (rc = sqlite3_bind_int64(stmt, 6, q->last_dates)) == SQLITE_OK)
        st = valuation_rows(s, stmt, sink, err);
    else
        st = sqlp_fail(s, err, rc, "reading capalloc_valuations");
    sqlp_reset(stmt);
    return st;
}

static capalloc_status run_row(sqlp *s, sqlite3_stmt *stmt,
                               const capalloc_record_sink *sink,
                               capalloc_err *err)
{
    capalloc_run_info ri;
    memset(&ri, 0, sizeof ri);
    ri.run_id = sqlite3_column_int64(stmt, 0);
    ri.n_trades = sqlite3_column_int64(stmt, 3);
    const char *action = sqlp_col_text(stmt, 4);
    /* capital movements have no run date */
    if ((sqlp_col_text(stmt, 1) != NULL &&
         !sqlp_copy_col(stmt, 1, ri.run_date, sizeof ri.run_date)) ||
        !sqlp_copy_col(stmt, 2, ri.created_at, sizeof ri.created_at) ||
        action == NULL) {
        s->host->set_error(err, NULL,
                           "ledger %s is corrupted: capalloc_runs, run_id "
                           "%lld: run_date, created_at or action is not "
                           "valid",
                           s->path, (long long)ri.run_id);
        return CAPALLOC_ERR_IO;
    }
    /* ABI 1.3: the kind and the links */
    if (sqlp_col_text(stmt, 8) != NULL)
        (void)sqlp_copy_col(stmt, 8, ri.kind, sizeof ri.kind);
    ri.reverses = sqlite3_column_int64(stmt, 9);
    ri.reversed_by = sqlite3_column_int64(stmt, 10);
    capalloc_status st =
        sink->run(sink->ctx, &ri, action, sqlite3_column_int(stmt, 5) != 0,
                  sqlp_col_text(stmt, 6), sqlp_col_text(stmt, 7));
    if (st != CAPALLOC_OK)
        s->host->set_error(err, NULL,
                           "the core stopped reading run %lld (status %d)",
                           (long long)ri.run_id, (int)st);
    return st;
}

static capalloc_status price_rows(sqlp *s, sqlite3_stmt *stmt,
                                  const capalloc_record_sink *sink,
                                  int64_t run_id, capalloc_err *err)
{
    capalloc_status st = CAPALLOC_OK;
    int rc = SQLITE_DONE;
    char row[192];
    while (st == CAPALLOC_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        capalloc_price_row p;
        memset(&p, 0, sizeof p);
        p.ticker = sqlp_col_text(stmt, 0);
        snprintf(row, sizeof row, "run %lld ticker '%.100s'",
                 (long long)run_id, p.ticker ? p.ticker : "NULL");
        p.as_of = sqlite3_column_int64(stmt, 2);
        if (sqlite3_column_int(stmt, 3))
            p.flags |= CAPALLOC_QUOTE_STALE;
        if (p.ticker == NULL) {
            s->host->set_error(err, NULL,
                               "ledger %s is corrupted: capalloc_run_prices, "
                               "%s: NULL ticker",
                               s->path, row);
            st = CAPALLOC_ERR_IO;
        } else if ((st = sqlp_parse_stored(s, sqlp_col_text(stmt, 1), &p.price,
                                           err, "capalloc_run_prices", row,
                                           "price")) == CAPALLOC_OK &&
                   (st = sink->price(sink->ctx, &p)) != CAPALLOC_OK) {
            s->host->set_error(err, NULL,
                               "the core stopped reading the record at "
                               "capalloc_run_prices, %s (status %d)",
                               row, (int)st);
        }
    }
    if (st == CAPALLOC_OK && rc != SQLITE_DONE)
        st = sqlp_fail(s, err, rc, "reading capalloc_run_prices");
    return st;
}

capalloc_status sqlp_read_run(void *state, int64_t run_id,
                              const capalloc_record_sink *sink, int *found,
                              capalloc_err *err)
{
    sqlp *s = state;
    *found = 0;
    capalloc_status st = sqlp_need_txn(s, 0, "read_run", err);
    if (st != CAPALLOC_OK)
        return st;
    if (sink == NULL || sink->run == NULL || sink->valuation == NULL ||
        sink->price == NULL) {
        s->host->set_error(err, NULL, "read_run() without a sink");
        return CAPALLOC_ERR_INTERNAL;
    }
    static const sqlp_stmt_id ids[3] = {SQ_READ_RUN, SQ_RUN_VALUATIONS,
                                        SQ_RUN_PRICES};
    static const char *const what[3] = {"capalloc_runs", "capalloc_valuations",
                                        "capalloc_run_prices"};
    for (int i = 0; i < 3 && st == CAPALLOC_OK; i++) {
        sqlite3_stmt *stmt;
        if ((st = sqlp_prepare(s, ids[i], &stmt, err)) != CAPALLOC_OK)
            return st;
        int rc = sqlite3_bind_int64(stmt, 1, run_id);
        if (rc != SQLITE_OK) {
            st = sqlp_fail(s, err, rc, "reading %s", what[i]);
        } else if (i == 0) {
            rc = sqlite3_step(stmt);
            if (rc == SQLITE_ROW) {
                *found = 1;
                st = run_row(s, stmt, sink, err);
            } else if (rc != SQLITE_DONE) {
                st = sqlp_fail(s, err, rc, "reading run %lld of %s",
                               (long long)run_id, what[i]);
            }
        } else if (i == 1) {
            st = valuation_rows(s, stmt, sink, err);
        } else {
            st = price_rows(s, stmt, sink, run_id, err);
        }
        sqlp_reset(stmt);
        if (!*found)
            break; /* no such run: no rows either (foreign keys) */
    }
    return st;
}
