/*
 * pg_ledger.c - reading and writing the ledger: read_ledger, find_run and
 * write, each in a fixed number of round trips.
 *
 * Decimals travel as text both ways: host->dec_format(d, minor_units) into
 * a NUMERIC parameter, NUMERIC::text back through host->dec_parse. A stored
 * value that does not parse (more than 6 places, out of range) is
 * CAPALLOC_ERR_IO naming the table and row, never a silent rounding.
 *
 * read_ledger: two queries (cash, positions), streamed row by row (libpq
 * single-row mode) so memory does not grow with the result, positions in
 * no order (the core sorts); in a write transaction the cash rows (the
 * balances a run changes) are read FOR UPDATE, in portfolio order.
 * read_cash (ABI 1.1): the named books only, in one query.
 * write: ONE statement. The batch's columns go as array parameters
 * ($n::text[], $n::numeric[]) and unnest() turns them into rows; the run
 * row, the trades, the cash and the positions - and since ABI 1.1 the
 * run's record (valuations, prices; read back by pg_record.c) - are
 * inserted by data-modifying CTEs of that statement. The run row carries a
 * new random token: a commit in doubt is resolved by looking for it
 * (pgp_commit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pg_int.h"

capalloc_status pgp_need_txn(pgp *s, int write, const char *call,
                             capalloc_err *err)
{
    if (s->txn == PGP_TXN_NONE) {
        s->host->set_error(err, NULL, "%s() called with no transaction open "
                                      "(%s)",
                           call, s->where);
        return CAPALLOC_ERR_INTERNAL;
    }
    if (write && s->txn != PGP_TXN_WRITE) {
        s->host->set_error(err, NULL,
                           "%s() called inside a read transaction (%s)", call,
                           s->where);
        return CAPALLOC_ERR_INTERNAL;
    }
    if (s->aborted) {
        /* the server would say "current transaction is aborted"; outside
         * a transaction a statement would commit on its own */
        s->host->set_error(err, NULL,
                           "%s() called after an earlier statement of the "
                           "transaction failed: it was rolled back (%s)",
                           call, s->where);
        return CAPALLOC_ERR_IO;
    }
    return CAPALLOC_OK;
}

capalloc_status pgp_parse_stored(pgp *s, const char *text,
                                 capalloc_dec *out, capalloc_err *err,
                                 const char *table, const char *row,
                                 const char *column)
{
    capalloc_status st = s->host->dec_parse(text, out);
    if (st == CAPALLOC_OK)
        return CAPALLOC_OK;
    s->host->set_error(err, NULL,
                       "the ledger in %s is corrupted: %s, %s: %s '%.40s' is "
                       "not an exact decimal%s (at most 6 places)",
                       s->where, table, row, column, text,
                       st == CAPALLOC_ERR_OVERFLOW ? " in range" : "");
    return CAPALLOC_ERR_IO;
}

/* ------------------------------------------------------------------------ */
/* read_ledger                                                               */
/* ------------------------------------------------------------------------ */

capalloc_status pgp_stream(pgp *s, const char *sql, int n,
                           const char *const *values, pgp_row_fn fn,
                           const void *ctx, capalloc_err *err,
                           const char *what)
{
    s->txn_trips++;
    s->total_trips++;
    if (!PQsendQueryParams(s->conn, sql, n, NULL, values, NULL, NULL, 0))
        return pgp_fail(s, NULL, err, "%s", what);
    int single = PQsetSingleRowMode(s->conn);
    capalloc_status st = CAPALLOC_OK;
    int failed = 0;
    PGresult *res;
    while ((res = PQgetResult(s->conn)) != NULL) {
        ExecStatusType t = PQresultStatus(res);
        if (st != CAPALLOC_OK || failed) {
            PQclear(res);
            continue;
        }
        if (t == PGRES_SINGLE_TUPLE || (t == PGRES_TUPLES_OK && !single)) {
            for (int r = 0; r < PQntuples(res) && st == CAPALLOC_OK; r++)
                st = fn(s, res, r, ctx, err);
            PQclear(res);
        } else if (t == PGRES_TUPLES_OK) {
            PQclear(res); /* the end of a single-row stream */
        } else {
            failed = 1;
            st = pgp_fail(s, res, err, "%s", what);
        }
    }
    if (st == CAPALLOC_OK && PQstatus(s->conn) == CONNECTION_BAD)
        st = pgp_fail(s, NULL, err, "%s", what);
    if (st != CAPALLOC_OK)
        pgp_end_aborted(s); /* results drained: nothing pending now */
    return st;
}

static capalloc_status cash_row(pgp *s, const PGresult *res, int r,
                                const void *ctx, capalloc_err *err)
{
    const capalloc_ledger_sink *sink = ctx;
    const capalloc_host *h = s->host;
    const char *id = PQgetvalue(res, r, 0);
    const char *cur = PQgetvalue(res, r, 1);
    char row[192];
    snprintf(row, sizeof row, "portfolio '%.120s'", id);
    if (h->currency != NULL && strcmp(cur, h->currency) != 0) {
        h->set_error(err, NULL,
                     "the ledger in %s: cash_equity_book, %s is booked in "
                     "%.16s, but the fund's currency is %s: set 'currency: "
                     "%.16s' in the configuration, or point storage at a "
                     "ledger kept in %s (nothing was changed)",
                     s->where, row, cur, h->currency, cur, h->currency);
        return CAPALLOC_ERR_INVALID;
    }
    capalloc_dec cash;
    capalloc_status st = pgp_parse_stored(s, PQgetvalue(res, r, 2), &cash, err,
                                      "cash_equity_book", row, "cash");
    if (st == CAPALLOC_OK && (st = sink->cash(sink->ctx, id, cash)) != 0)
        h->set_error(err, NULL,
                     "the core stopped reading the ledger at "
                     "cash_equity_book, %s (status %d)",
                     row, (int)st);
    return st;
}

/* Every column is NOT NULL in the schema. No ORDER BY on what is only
 * read: the core sorts what it looks up, and a sort of 100,000 positions
 * on the server spills to disk with the default work_mem. The locking
 * reads keep their order: rows are locked one by one as the scan reaches
 * them, so in portfolio order a writer outside capalloc (that the
 * advisory lock does not stop) meets them in a known order (a deadlock is
 * detected and the run retried, tests/faults-postgres.pgtest). The cash
 * rows are one per book (10,000, not 1M): sorted in memory. */
#define SQL_CASH                                                             \
    "SELECT portfolio_id, currency, cash::text FROM {S}.cash_equity_book"
#define SQL_LOCK_ORDER " ORDER BY portfolio_id COLLATE \"C\" FOR UPDATE"
#define SQL_POSITIONS                                                        \
    "SELECT portfolio_id, ticker, quantity::text FROM {S}.positions_book"
/* read_cash: the named books only (the primary key's index). */
#define SQL_BOOKS SQL_CASH " WHERE portfolio_id = ANY ($1::text[])"

/* One field of a COPY text row, unescaped in place: what follows a
 * backslash is the character itself, but for the control characters COPY
 * writes as \b \f \n \r \t \v (COPY TO never writes octal or hex). 0,
 * or -1 for \N (NULL). */
static int copy_field(char *f)
{
    if (f[0] == '\\' && f[1] == 'N' && f[2] == '\0')
        return -1;
    char *w = f;
    for (const char *r = f; *r; r++) {
        if (*r != '\\' || r[1] == '\0') {
            *w++ = *r;
            continue;
        }
        switch (*++r) {
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'v': *w++ = '\v'; break;
        default: *w++ = *r; break;
        }
    }
    *w = '\0';
    return 0;
}

/* One line of the positions' COPY (n bytes, the newline last). */
static capalloc_status copy_position(pgp *s, char *line, int n,
                                     const capalloc_ledger_sink *sink,
                                     capalloc_err *err)
{
    char *f[3];
    int k = 0;
    if (n > 0 && line[n - 1] == '\n') /* libpq ends it with a NUL too */
        line[n - 1] = '\0';
    f[k++] = line;
    for (char *p = line; *p && k < 3; p++)
        if (*p == '\t') {
            *p = '\0';
            f[k++] = p + 1;
        }
    if (k != 3 || strchr(f[2], '\t') != NULL || copy_field(f[0]) != 0 ||
        copy_field(f[1]) != 0 || copy_field(f[2]) != 0) {
        s->host->set_error(err, NULL,
                           "the ledger in %s: positions_book gave a row that "
                           "is not (portfolio, ticker, quantity)",
                           s->where);
        return CAPALLOC_ERR_IO;
    }
    const char *id = f[0], *ticker = f[1], *text = f[2];
    capalloc_dec qty;
    capalloc_status st = s->host->dec_parse(text, &qty);
    if (st != CAPALLOC_OK) {
        char row[256];
        snprintf(row, sizeof row, "portfolio '%.100s' ticker '%.100s'", id,
                 ticker);
        return pgp_parse_stored(s, text, &qty, err, "positions_book", row,
                                "quantity");
    }
    if ((st = sink->position(sink->ctx, id, ticker, qty)) != 0)
        s->host->set_error(err, NULL,
                           "the core stopped reading the ledger at "
                           "positions_book, portfolio '%.100s' ticker "
                           "'%.100s' (status %d)",
                           id, ticker, (int)st);
    return st;
}

/* The positions, streamed by COPY ... TO STDOUT in one round trip: a line
 * per row, where single-row mode built a PGresult per row (with 100,000
 * positions most of the read's client time). On failure every pending
 * result is drained. */
static capalloc_status copy_positions(pgp *s, const capalloc_ledger_sink *sink,
                                      capalloc_err *err)
{
    const char *what = "reading positions_book";
    s->txn_trips++;
    s->total_trips++;
    PGresult *res = PQexec(s->conn, s->sql[PGP_SQL_COPY_POSITIONS]);
    if (PQresultStatus(res) != PGRES_COPY_OUT)
        return pgp_fail(s, res, err, "%s", what);
    PQclear(res);
    capalloc_status st = CAPALLOC_OK;
    char *line;
    int n;
    while ((n = PQgetCopyData(s->conn, &line, 0)) > 0) {
        if (st == CAPALLOC_OK)
            st = copy_position(s, line, n, sink, err);
        PQfreemem(line);
    }
    int copy_failed = n == -2;
    while ((res = PQgetResult(s->conn)) != NULL) {
        if (st == CAPALLOC_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            st = pgp_fail(s, res, err, "%s", what);
        else
            PQclear(res);
    }
    if (st == CAPALLOC_OK &&
        (copy_failed || PQstatus(s->conn) == CONNECTION_BAD))
        st = pgp_fail(s, NULL, err, "%s", what);
    if (st != CAPALLOC_OK)
        pgp_end_aborted(s);
    return st;
}

capalloc_status pgp_read_ledger(void *state, const capalloc_ledger_sink *sink,
                                capalloc_err *err)
{
    pgp *s = state;
    capalloc_status st = pgp_need_txn(s, 0, "read_ledger", err);
    if (st != CAPALLOC_OK)
        return st;
    if (sink == NULL || sink->cash == NULL || sink->position == NULL) {
        s->host->set_error(err, NULL, "read_ledger() without a sink");
        return CAPALLOC_ERR_INTERNAL;
    }
    int w = s->txn == PGP_TXN_WRITE;
    if ((st = pgp_stream(s, s->sql[w ? PGP_SQL_CASH_LOCK : PGP_SQL_CASH], 0,
                         NULL, cash_row, sink, err,
                         "reading cash_equity_book")) != CAPALLOC_OK)
        return st;
    /* Positions are not locked row by row: an allocation never changes
     * them, and locking 100,000 rows would write to each (xmax); capalloc
     * writers are kept out by the advisory lock. */
    if ((st = copy_positions(s, sink, err)) == CAPALLOC_OK)
        pgp_test_pause(s, PGP_PAUSE_READ);
    return st;
}

/* A growable text buffer holding one array literal: {"a","b"}. */
typedef struct arr {
    char *b;
    size_t n, cap;
    int items;
    int oom;
} arr;

static void arr_put(arr *a, const char *p, size_t len)
{
    if (a->oom)
        return;
    if (a->n + len + 1 > a->cap) {
        size_t nc = a->cap ? a->cap : 256;
        while (a->n + len + 1 > nc)
            nc *= 2;
        char *nb = realloc(a->b, nc);
        if (nb == NULL) {
            a->oom = 1;
            return;
        }
        a->b = nb;
        a->cap = nc;
    }
    memcpy(a->b + a->n, p, len);
    a->n += len;
    a->b[a->n] = '\0';
}

/* Append one element, double-quoted with '"' and '\' escaped: any text is
 * safe in an array literal this way (it is a parameter value, not SQL). */
static void arr_add(arr *a, const char *v)
{
    arr_put(a, a->items++ ? ",\"" : "{\"", 2);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            arr_put(a, "\\", 1);
        arr_put(a, p, 1);
    }
    arr_put(a, "\"", 1);
}

static const char *arr_done(arr *a)
{
    if (a->items == 0)
        arr_put(a, "{}", 2);
    else
        arr_put(a, "}", 1);
    return a->oom ? NULL : a->b;
}

/* read_cash (ABI 1.1): the named books in one query; in a write
 * transaction FOR UPDATE, so a capital movement locks the master's row
 * and nothing else. */
capalloc_status pgp_read_books(void *state, const char *const *ids, size_t n,
                               const capalloc_ledger_sink *sink,
                               capalloc_err *err)
{
    pgp *s = state;
    capalloc_status st = pgp_need_txn(s, 0, "read_cash", err);
    if (st != CAPALLOC_OK)
        return st;
    if (sink == NULL || sink->cash == NULL || (n > 0 && ids == NULL)) {
        s->host->set_error(err, NULL, "read_cash() without a sink or ids");
        return CAPALLOC_ERR_INTERNAL;
    }
    arr a = {0};
    for (size_t i = 0; i < n; i++)
        arr_add(&a, ids[i] != NULL ? ids[i] : "");
    const char *v[1] = {arr_done(&a)};
    if (v[0] == NULL) {
        free(a.b);
        s->host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    int w = s->txn == PGP_TXN_WRITE;
    st = pgp_stream(s, s->sql[w ? PGP_SQL_BOOKS_LOCK : PGP_SQL_BOOKS], 1, v,
                    cash_row, sink, err, "reading cash_equity_book");
    free(a.b);
    return st;
}

/* ------------------------------------------------------------------------ */
/* ledger_stamp (ABI 1.3)                                                    */
/* ------------------------------------------------------------------------ */

#define SQL_STAMP "SELECT n FROM {S}.capalloc_ledger_stamp WHERE id = 1"

/* The row schema step 7's statement triggers bump. In a write transaction
 * FOR UPDATE: the triggers run BEFORE each statement, so any other
 * writer's INSERT, UPDATE, DELETE or TRUNCATE of the books or the runs
 * waits for our commit before it touches a row (and a writer that got
 * there first makes us wait, then read its stamp). */
capalloc_status pgp_ledger_stamp(void *state, int64_t *stamp,
                                 capalloc_err *err)
{
    pgp *s = state;
    capalloc_status st = pgp_need_txn(s, 0, "ledger_stamp", err);
    if (st != CAPALLOC_OK)
        return st;
    int w = s->txn == PGP_TXN_WRITE;
    PGresult *res =
        pgp_exec(s, s->sql[w ? PGP_SQL_STAMP_LOCK : PGP_SQL_STAMP], 0, NULL);
    if (!pgp_ok(res))
        return pgp_fail(s, res, err, "reading capalloc_ledger_stamp");
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        s->host->set_error(err, NULL,
                           "the ledger in %s: capalloc_ledger_stamp has no "
                           "row 1",
                           s->where);
        return CAPALLOC_ERR_IO;
    }
    *stamp = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    /* under the write lock, the stamp is the run's read when it is equal */
    pgp_test_pause(s, PGP_PAUSE_READ);
    return CAPALLOC_OK;
}

/* ------------------------------------------------------------------------ */
/* find_run                                                                  */
/* ------------------------------------------------------------------------ */

capalloc_status pgp_find_run(void *state, const char *run_date,
                             capalloc_run_info *info, int *found,
                             capalloc_err *err)
{
    pgp *s = state;
    *found = 0;
    capalloc_status st = pgp_need_txn(s, 0, "find_run", err);
    if (st != CAPALLOC_OK)
        return st;
    if (run_date == NULL) {
        s->host->set_error(err, NULL, "find_run() without a run date");
        return CAPALLOC_ERR_INTERNAL;
    }
    const char *v[1] = {run_date};
    PGresult *res = pgp_exec(s, s->sql[PGP_SQL_FIND_RUN], 1, v);
    if (!pgp_ok(res))
        return pgp_fail(s, res, err, "looking up the allocation run of %.20s",
                        run_date);
    if (PQntuples(res) == 1) {
        capalloc_run_info ri;
        memset(&ri, 0, sizeof ri);
        ri.run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        ri.n_trades = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        snprintf(ri.run_date, sizeof ri.run_date, "%s", PQgetvalue(res, 0, 1));
        snprintf(ri.created_at, sizeof ri.created_at, "%s",
                 PQgetvalue(res, 0, 2));
        snprintf(ri.kind, sizeof ri.kind, "%s", CAPALLOC_RUN_RUN);
        *info = ri;
        *found = 1;
    }
    PQclear(res);
    return CAPALLOC_OK;
}

/* ------------------------------------------------------------------------ */
/* write                                                                     */
/* ------------------------------------------------------------------------ */

static int known_action(const char *a)
{
    static const char *const actions[] = {"ADD", "WITHDRAW", "ALLOCATE",
                                          "IMPORT"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (a != NULL && strcmp(a, actions[i]) == 0)
            return 1;
    return 0;
}

/* Whether the run of a commit in doubt is in the ledger: its token. */
#define SQL_FIND_TOKEN                                                       \
    "SELECT run_id FROM {S}.capalloc_runs WHERE run_token = $1"

#define SQL_FIND_RUN                                                         \
    "SELECT r.run_id, to_char(r.run_date, 'YYYY-MM-DD'),"                    \
    " to_char(r.created_at AT TIME ZONE 'UTC',"                              \
    "         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"                        \
    " (SELECT count(*) FROM {S}.trade_execution_logs t"                      \
    "   WHERE t.run_id = r.run_id)"                                          \
    " FROM {S}.capalloc_runs r"                                              \
    " WHERE r.action = 'ALLOCATE' AND r.kind = 'RUN'"                        \
    "   AND r.run_date = $1::date"                                           \
    " ORDER BY r.run_id DESC LIMIT 1"

/* A movement's reference: its run and its one cash trade (ABI 1.2). */
#define SQL_FIND_REF                                                         \
    "SELECT r.run_id, r.action, t.quantity::text,"                           \
    " to_char(r.created_at AT TIME ZONE 'UTC',"                              \
    "         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"                        \
    " FROM {S}.capalloc_runs r JOIN {S}.trade_execution_logs t"              \
    "   ON t.run_id = r.run_id"                                              \
    " WHERE r.reference = $1 ORDER BY t.log_id LIMIT 1"

/* A second unforced run of a date is refused by the unique index
 * capalloc_runs_one_allocation_per_date as the arbiter of ON CONFLICT DO
 * NOTHING, not by an error: the statement then inserts no run, every other
 * CTE waits on EXISTS (SELECT 1 FROM run) and writes nothing, and write()
 * returns CAPALLOC_ERR_EXISTS with the transaction still healthy. An error
 * would abort it, and the server would put back its SET LOCALs at once:
 * behind a pooler, a session idle_in_transaction_session_timeout another
 * client left (1 ms) could then end the connection before the core's
 * rollback(). */
static const char SQL_WRITE[] =
    "WITH run AS ("
    "  INSERT INTO {S}.capalloc_runs (action, run_date, forced, created_at,"
    "   capalloc_version, detail, run_token, reference, prev_hash, run_hash,"
    "   kind, reverses)"
    "  VALUES ($1, $2::date, $3::smallint, coalesce($35::timestamptz, now()),"
    "   $16, $17, $33, $34, $36, $37, coalesce($39, 'RUN'), $40::bigint)"
    "  ON CONFLICT (run_date)"
    "  WHERE action = 'ALLOCATE' AND forced = 0 AND kind = 'RUN'"
    "  DO NOTHING RETURNING run_id),"
    " tr AS ("
    "  INSERT INTO {S}.trade_execution_logs (run_id, portfolio_id, ticker, side,"
    "   quantity, arrival_price, exec_price, executed_at, row_hash)"
    "  SELECT run.run_id, t.p, t.k, t.s, t.q, t.a, t.e, now(), t.h"
    "  FROM run, unnest($4::text[], $5::text[], $6::text[], $7::numeric[],"
    "   $8::numeric[], $9::numeric[], $38::text[])"
    "   WITH ORDINALITY AS t(p, k, s, q, a, e, h, n)"
    "  ORDER BY t.n RETURNING 1),"
    /* A book keeps the currency it was opened in: the WHERE makes the update
     * a no-op for another currency and write() refuses the batch. */
    " ca AS ("
    "  INSERT INTO {S}.cash_equity_book (portfolio_id, currency, cash, updated_at)"
    "  SELECT c.p, $10, c.c, now()"
    "  FROM unnest($11::text[], $12::numeric[]) AS c(p, c)"
    "  WHERE EXISTS (SELECT 1 FROM run)"
    "  ON CONFLICT (portfolio_id) DO UPDATE"
    "  SET cash = excluded.cash, updated_at = excluded.updated_at"
    "  WHERE cash_equity_book.currency = excluded.currency RETURNING 1),"
    " pu AS ("
    "  INSERT INTO {S}.positions_book (portfolio_id, ticker, quantity, updated_at)"
    "  SELECT p.p, p.k, p.q, now()"
    "  FROM unnest($13::text[], $14::text[], $15::numeric[]) AS p(p, k, q)"
    "  WHERE p.q <> 0 AND EXISTS (SELECT 1 FROM run)"
    "  ON CONFLICT (portfolio_id, ticker) DO UPDATE"
    "  SET quantity = excluded.quantity, updated_at = excluded.updated_at"
    "  RETURNING 1),"
    " pd AS ("
    "  DELETE FROM {S}.positions_book b"
    "  USING unnest($13::text[], $14::text[], $15::numeric[]) AS d(p, k, q)"
    "  WHERE d.q = 0 AND b.portfolio_id = d.p AND b.ticker = d.k"
    "  AND EXISTS (SELECT 1 FROM run)"
    "  RETURNING 1),"
    /* The run's record (ABI 1.1). A strategy's date imported before is
     * skipped here, not an error that would leave no trace of which one:
     * the SELECT below names the first such row, and write() refuses the
     * batch (the core rolls it back). */
    " va AS ("
    "  INSERT INTO {S}.capalloc_valuations (run_id, valuation_date,"
    "   portfolio_id, is_master, imported, cash, positions_value, nav, weight,"
    "   target, transfer, shortfall)"
    "  SELECT run.run_id, v.d, v.p, v.m, v.i, v.c, v.pv, v.n, v.w, v.t, v.x,"
    "   v.s"
    "  FROM run, unnest($18::date[], $19::text[], $20::smallint[],"
    "   $21::smallint[], $22::numeric[], $23::numeric[], $24::numeric[],"
    "   $25::numeric[], $26::numeric[], $27::numeric[], $28::numeric[])"
    "   AS v(d, p, m, i, c, pv, n, w, t, x, s)"
    "  ON CONFLICT (portfolio_id, valuation_date) WHERE imported = 1"
    "  DO NOTHING"
    "  RETURNING portfolio_id, valuation_date),"
    " pr AS ("
    "  INSERT INTO {S}.capalloc_run_prices (run_id, ticker, price, as_of,"
    "   stale)"
    "  SELECT run.run_id, q.k, q.p, q.a, q.s"
    "  FROM run, unnest($29::text[], $30::numeric[], $31::bigint[],"
    "   $32::smallint[]) AS q(k, p, a, s)"
    "  RETURNING 1)"
    " SELECT (SELECT run_id FROM run), (SELECT count(*) FROM tr),"
    "  (SELECT count(*) FROM ca), (SELECT count(*) FROM va),"
    "  (SELECT count(*) FROM pr), dup.p, to_char(dup.d, 'YYYY-MM-DD')"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
    "  SELECT v.p, v.d FROM unnest($18::date[], $19::text[], $21::smallint[])"
    "   WITH ORDINALITY AS v(d, p, i, o)"
    "  WHERE v.i = 1 AND EXISTS (SELECT 1 FROM run)"
    "   AND NOT EXISTS (SELECT 1 FROM va"
    "   WHERE va.portfolio_id = v.p AND va.valuation_date = v.d)"
    "  ORDER BY v.o LIMIT 1) AS dup ON true";

/* A new run token in s->run_token: 16 bytes from the kernel's random
 * source, as 32 hex digits. Unique in the ledger (UNIQUE index): a clash
 * (2^-64 for a billion runs) fails the write, never mixes two runs up. */
static capalloc_status new_token(pgp *s, capalloc_err *err)
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->host->set_error(err, NULL,
                               "write(): no random bytes for the run token: "
                               "%s",
                               n < 0 ? strerror(errno) : "none returned");
            return CAPALLOC_ERR_IO;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        s->run_token[2 * i] = hex[r[i] >> 4];
        s->run_token[2 * i + 1] = hex[r[i] & 15];
    }
    s->run_token[2 * sizeof r] = '\0';
    return CAPALLOC_OK;
}

enum { A_TP, A_TK, A_TS, A_TQ, A_TA, A_TE, A_CP, A_CC, A_PP, A_PK, A_PQ, A_N };

/* The record's arrays, parameters $18.. in this order. */
enum { R_VD, R_VP, R_VM, R_VI, R_VC, R_VPV, R_VN, R_VW, R_VT, R_VX, R_VS,
       R_QK, R_QP, R_QA, R_QS, R_N };
/* $1..$17 the batch, $18..$32 the record, $33 the run token, $34 the
 * reference (ABI 1.2). */
#define N_PARAMS_12 (18 + R_N + 1)
/* ABI 1.3: $35 created_at, $36 prev_hash, $37 run_hash, $38 the row
 * hashes (text[]; NULL from an older core), $39 the run's kind and $40 the
 * run it reverses. */
#define N_PARAMS (N_PARAMS_12 + 6)

/* The batch's record, or NULL: a core of ABI 1.0 hands over a batch
 * without the field, which must then not be read. */
static const capalloc_run_record *batch_record(const pgp *s,
                                               const capalloc_write_batch *b)
{
    return CAPALLOC_HOST_HAS_MINOR(s->host, 1) ? b->record : NULL;
}

/* An SQL NULL element. */
static void arr_null(arr *a)
{
    arr_put(a, a->items++ ? ",NULL" : "{NULL", 5);
}

/* An amount, or NULL for an imported row's unset ones. */
static void arr_amount(const pgp *s, arr *a, capalloc_dec d, int null)
{
    char t[CAPALLOC_DEC_MAX_TEXT];
    if (null)
        arr_null(a);
    else
        arr_add(a, s->host->dec_format(d, s->host->minor_units, t, sizeof t));
}

/* Valuations by portfolio, then date (an ALLOCATE record's rows all have
 * the run's date: by portfolio). */
static int cmp_valuation(const void *x, const void *y)
{
    const capalloc_valuation *a = *(const capalloc_valuation *const *)x;
    const capalloc_valuation *b = *(const capalloc_valuation *const *)y;
    int c = strcmp(a->portfolio_id, b->portfolio_id);
    if (c != 0 || !(a->flags & CAPALLOC_VAL_IMPORTED))
        return c;
    return strcmp(a->date, b->date);
}

/* A (portfolio, date) twice in the record: an imported one is the user's
 * (CAPALLOC_ERR_INVALID), a valued one the core's (INTERNAL). Found here,
 * before sending: the statement would skip an imported repeat without
 * saying which, and a key violation would abort the transaction (see
 * SQL_WRITE). */
static capalloc_status twice_in_record(pgp *s, const capalloc_write_batch *b,
                                       const capalloc_run_record *rec,
                                       capalloc_err *err)
{
    size_t n = rec->n_valuations;
    if (n < 2)
        return CAPALLOC_OK;
    const capalloc_valuation **v = malloc(n * sizeof *v);
    if (v == NULL) {
        s->host->set_error(err, NULL, "out of memory building the batch");
        return CAPALLOC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = &rec->valuations[i];
    qsort(v, n, sizeof *v, cmp_valuation);
    capalloc_status st = CAPALLOC_OK;
    for (size_t i = 1; i < n && st == CAPALLOC_OK; i++) {
        if (cmp_valuation(&v[i - 1], &v[i]) != 0)
            continue;
        if (v[i]->flags & CAPALLOC_VAL_IMPORTED) {
            s->host->set_error(err, NULL,
                               "the history of portfolio '%s' on %s is "
                               "imported twice in one batch (%s): a date of "
                               "a strategy is imported once",
                               v[i]->portfolio_id, v[i]->date, s->where);
            st = CAPALLOC_ERR_INVALID;
        } else {
            s->host->set_error(err, NULL,
                               "write(): the record of the run of %s values "
                               "portfolio '%s' twice",
                               b->run_date, v[i]->portfolio_id);
            st = CAPALLOC_ERR_INTERNAL;
        }
    }
    free(v);
    return st;
}

/* The record's rows into its arrays: checked first (a record only with
 * ALLOCATE - valued portfolios dated with the run - or IMPORT - imported
 * rows, each with its own date), then formatted. */
static capalloc_status record_arrays(pgp *s, const capalloc_write_batch *b,
                                     const capalloc_run_record *rec, arr *a,
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
        int imp = (v->flags & CAPALLOC_VAL_IMPORTED) != 0;
        if (v->portfolio_id == NULL || imp == allocate ||
            (imp && v->date == NULL)) {
            h->set_error(err, NULL,
                         "write(): valuation %zu of %zu of the %s record "
                         "(portfolio '%s') is %s",
                         i + 1, rec->n_valuations, b->action,
                         v->portfolio_id ? v->portfolio_id : "NULL",
                         v->portfolio_id == NULL ? "without a portfolio"
                         : allocate ? "flagged imported"
                         : imp ? "imported without a date"
                               : "not flagged imported");
            return CAPALLOC_ERR_INTERNAL;
        }
        arr_add(&a[R_VD], imp ? v->date : b->run_date);
        arr_add(&a[R_VP], v->portfolio_id);
        arr_add(&a[R_VM], (v->flags & CAPALLOC_VAL_MASTER) ? "1" : "0");
        arr_add(&a[R_VI], imp ? "1" : "0");
        arr_amount(s, &a[R_VC], v->cash, imp);
        arr_amount(s, &a[R_VPV], v->positions_value, imp);
        arr_amount(s, &a[R_VN], v->nav, 0);
        arr_amount(s, &a[R_VW], v->weight, imp);
        arr_amount(s, &a[R_VT], v->target, imp);
        arr_amount(s, &a[R_VX], v->transfer, 0);
        arr_amount(s, &a[R_VS], v->shortfall, imp);
    }
    for (size_t i = 0; i < rec->n_prices; i++) {
        const capalloc_price_row *p = &rec->prices[i];
        char as_of[24];
        if (p->ticker == NULL) {
            h->set_error(err, NULL, "write(): price %zu of %zu has no ticker",
                         i + 1, rec->n_prices);
            return CAPALLOC_ERR_INTERNAL;
        }
        snprintf(as_of, sizeof as_of, "%lld", (long long)p->as_of);
        arr_add(&a[R_QK], p->ticker);
        arr_amount(s, &a[R_QP], p->price, 0);
        arr_add(&a[R_QA], as_of);
        arr_add(&a[R_QS], (p->flags & CAPALLOC_QUOTE_STALE) ? "1" : "0");
    }
    return twice_in_record(s, b, rec, err);
}

capalloc_status pgp_write(void *state, const capalloc_write_batch *b,
                          capalloc_err *err)
{
    pgp *s = state;
    const capalloc_host *h = s->host;
    capalloc_status st = pgp_need_txn(s, 1, "write", err);
    if (st != CAPALLOC_OK)
        return st;
    if (b == NULL || !known_action(b->action)) {
        h->set_error(err, NULL, "write(): unknown action '%s'",
                     b && b->action ? b->action : "NULL");
        return CAPALLOC_ERR_INTERNAL;
    }
    if (strcmp(b->action, "ALLOCATE") == 0 && b->run_date == NULL) {
        h->set_error(err, NULL, "write(): an ALLOCATE batch needs a run date");
        return CAPALLOC_ERR_INTERNAL;
    }
    if ((b->n_trades && b->trades == NULL) || (b->n_cash && b->cash == NULL) ||
        (b->n_positions && b->positions == NULL)) {
        h->set_error(err, NULL, "write(): a batch count without rows");
        return CAPALLOC_ERR_INTERNAL;
    }

    const char *ref = CAPALLOC_HOST_HAS_MINOR(h, 2) ? b->reference : NULL;
    if (ref != NULL && ((strcmp(b->action, "ADD") != 0 &&
                         strcmp(b->action, "WITHDRAW") != 0) ||
                        *ref == '\0' || strlen(ref) > CAPALLOC_REF_MAX)) {
        h->set_error(err, NULL,
                     "write(): a reference belongs to an ADD or WITHDRAW "
                     "batch and has 1 to %d bytes",
                     CAPALLOC_REF_MAX);
        return CAPALLOC_ERR_INTERNAL;
    }

    /* ABI 1.3: the run's kind and the run it reverses */
    const char *kind =
        CAPALLOC_HOST_HAS_MINOR(h, 3) && b->kind != NULL ? b->kind
                                                         : CAPALLOC_RUN_RUN;
    int64_t reverses = CAPALLOC_HOST_HAS_MINOR(h, 3) ? b->reverses : 0;
    int is_run = strcmp(kind, CAPALLOC_RUN_RUN) == 0;
    if ((!is_run && strcmp(kind, CAPALLOC_RUN_DEPLOY) != 0 &&
         strcmp(kind, CAPALLOC_RUN_REVERSE) != 0) ||
        (!is_run && strcmp(b->action, "ALLOCATE") != 0) ||
        ((strcmp(kind, CAPALLOC_RUN_REVERSE) == 0) != (reverses > 0))) {
        h->set_error(err, NULL,
                     "write(): kind '%s' (reverses %lld) does not fit a %s "
                     "batch: DEPLOY and REVERSE are ALLOCATE batches, and "
                     "only a REVERSE names the run it reverses",
                     kind, (long long)reverses, b->action);
        return CAPALLOC_ERR_INTERNAL;
    }

    arr a[A_N], ra[R_N], rh;
    memset(a, 0, sizeof a);
    memset(ra, 0, sizeof ra);
    memset(&rh, 0, sizeof rh);
    const capalloc_run_record *rec = batch_record(s, b);
    if (rec != NULL && (st = record_arrays(s, b, rec, ra, err)) != CAPALLOC_OK)
        goto out;
    char t[CAPALLOC_DEC_MAX_TEXT];
    int mu = h->minor_units;
    for (size_t i = 0; i < b->n_trades; i++) {
        const capalloc_trade *tr = &b->trades[i];
        const char *side = tr->side == CAPALLOC_BUY    ? "BUY"
                           : tr->side == CAPALLOC_SELL ? "SELL"
                                                       : NULL;
        if (side == NULL || tr->portfolio_id == NULL || tr->ticker == NULL) {
            h->set_error(err, NULL,
                         "write(): trade %zu of %zu has side %d or no "
                         "portfolio/ticker",
                         i + 1, b->n_trades, (int)tr->side);
            st = CAPALLOC_ERR_INTERNAL;
            goto out;
        }
        arr_add(&a[A_TP], tr->portfolio_id);
        arr_add(&a[A_TK], tr->ticker);
        arr_add(&a[A_TS], side);
        arr_add(&a[A_TQ], h->dec_format(tr->quantity, mu, t, sizeof t));
        arr_add(&a[A_TA], h->dec_format(tr->arrival_price, mu, t, sizeof t));
        arr_add(&a[A_TE], h->dec_format(tr->exec_price, mu, t, sizeof t));
    }
    for (size_t i = 0; i < b->n_cash; i++) {
        if (b->cash[i].portfolio_id == NULL) {
            h->set_error(err, NULL, "write(): cash row %zu has no portfolio",
                         i + 1);
            st = CAPALLOC_ERR_INTERNAL;
            goto out;
        }
        arr_add(&a[A_CP], b->cash[i].portfolio_id);
        arr_add(&a[A_CC], h->dec_format(b->cash[i].cash, mu, t, sizeof t));
    }
    for (size_t i = 0; i < b->n_positions; i++) {
        const capalloc_position_row *p = &b->positions[i];
        if (p->portfolio_id == NULL || p->ticker == NULL) {
            h->set_error(err, NULL,
                         "write(): position row %zu has no portfolio/ticker",
                         i + 1);
            st = CAPALLOC_ERR_INTERNAL;
            goto out;
        }
        arr_add(&a[A_PP], p->portfolio_id);
        arr_add(&a[A_PK], p->ticker);
        arr_add(&a[A_PQ], h->dec_format(p->quantity, mu, t, sizeof t));
    }
    if ((st = new_token(s, err)) != CAPALLOC_OK)
        goto out;
    const char *vals[N_PARAMS];
    vals[0] = b->action;
    vals[1] = b->run_date; /* NULL for capital movements */
    vals[2] = b->forced ? "1" : "0";
    for (int i = 0; i < A_N; i++) {
        const char *v = arr_done(&a[i]);
        if (v == NULL) {
            h->set_error(err, NULL, "out of memory building the batch");
            st = CAPALLOC_ERR_NOMEM;
            goto out;
        }
        /* parameter $10 is the currency, between trades and cash */
        vals[i < A_CP ? 3 + i : 4 + i] = v;
    }
    vals[9] = b->currency ? b->currency : h->currency;
    vals[15] = rec ? rec->capalloc_version : NULL;
    vals[16] = rec ? rec->detail_json : NULL;
    for (int i = 0; i < R_N; i++)
        if ((vals[17 + i] = arr_done(&ra[i])) == NULL) {
            h->set_error(err, NULL, "out of memory building the batch");
            st = CAPALLOC_ERR_NOMEM;
            goto out;
        }
    vals[N_PARAMS_12 - 2] = s->run_token;
    vals[N_PARAMS_12 - 1] = ref;
    int chain = CAPALLOC_HOST_HAS_MINOR(h, 3);
    vals[N_PARAMS_12] = chain ? b->created_at : NULL;
    vals[N_PARAMS_12 + 1] = chain ? b->prev_hash : NULL;
    vals[N_PARAMS_12 + 2] = chain ? b->run_hash : NULL;
    vals[N_PARAMS_12 + 3] = NULL;
    if (chain && b->row_hashes != NULL) {
        for (size_t i = 0; i < b->n_trades; i++)
            arr_add(&rh, b->row_hashes[i]);
        if ((vals[N_PARAMS_12 + 3] = arr_done(&rh)) == NULL) {
            h->set_error(err, NULL, "out of memory building the batch");
            st = CAPALLOC_ERR_NOMEM;
            goto out;
        }
    }
    vals[N_PARAMS_12 + 4] = kind;
    char rev[24];
    snprintf(rev, sizeof rev, "%lld", (long long)reverses);
    vals[N_PARAMS_12 + 5] = reverses > 0 ? rev : NULL;

    PGresult *res = pgp_exec(s, s->sql[PGP_SQL_WRITE], N_PARAMS, vals);
    if (!pgp_ok(res)) {
        const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
        if (c != NULL && strcmp(c, "capalloc_runs_reversed_once") == 0) {
            h->set_error(err, NULL,
                         "run %lld is already reversed in the ledger (%s)",
                         (long long)reverses, s->where);
            PQclear(res);
            pgp_end_aborted(s);
            st = CAPALLOC_ERR_EXISTS;
        } else if (c != NULL &&
                   strcmp(c, "capalloc_runs_reference_once") == 0) {
            h->set_error(err, NULL,
                         "reference '%.*s' is already recorded in the ledger "
                         "(%s)",
                         CAPALLOC_REF_MAX, ref ? ref : "", s->where);
            PQclear(res);
            pgp_end_aborted(s);
            st = CAPALLOC_ERR_EXISTS;
        } else if (c != NULL &&
            strcmp(c, "capalloc_runs_one_allocation_per_date") == 0) {
            h->set_error(err, NULL,
                         "an allocation run for %s is already recorded in "
                         "the ledger (%s)",
                         b->run_date ? b->run_date : "(no date)", s->where);
            PQclear(res);
            pgp_end_aborted(s);
            st = CAPALLOC_ERR_EXISTS;
        } else {
            st = pgp_fail(s, res, err,
                          "writing the %s batch (%zu trades, %zu cash rows, "
                          "%zu positions)",
                          b->action, b->n_trades, b->n_cash, b->n_positions);
        }
        goto out;
    }
    if (PQgetisnull(res, 0, 0)) { /* the date's run is there already */
        h->set_error(err, NULL,
                     "an allocation run for %s is already recorded in the "
                     "ledger (%s)",
                     b->run_date ? b->run_date : "(no date)", s->where);
        PQclear(res);
        st = CAPALLOC_ERR_EXISTS;
        goto out;
    }
    long n_tr = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    long n_ca = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    long n_va = strtol(PQgetvalue(res, 0, 3), NULL, 10);
    long n_pr = strtol(PQgetvalue(res, 0, 4), NULL, 10);
    size_t want_va = rec ? rec->n_valuations : 0;
    size_t want_pr = rec ? rec->n_prices : 0;
    if (!PQgetisnull(res, 0, 5)) {
        h->set_error(err, NULL,
                     "the history of portfolio '%s' on %s is already "
                     "imported (%s): a date of a strategy is imported once",
                     PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6), s->where);
        st = CAPALLOC_ERR_INVALID;
    }
    PQclear(res);
    if (st != CAPALLOC_OK) {
        /* reported above */
    } else if (n_tr != (long)b->n_trades) {
        h->set_error(err, NULL,
                     "write(): %ld of %zu trades were written (%s)", n_tr,
                     b->n_trades, s->where);
        st = CAPALLOC_ERR_IO;
    } else if (n_ca != (long)b->n_cash) {
        h->set_error(err, NULL,
                     "the ledger in %s: a book in cash_equity_book is not in "
                     "%s; nothing was written",
                     s->where, vals[9]);
        st = CAPALLOC_ERR_IO;
    } else if (n_va != (long)want_va || n_pr != (long)want_pr) {
        h->set_error(err, NULL,
                     "write(): %ld of %zu valuations and %ld of %zu prices "
                     "of the run's record were written (%s)",
                     n_va, want_va, n_pr, want_pr, s->where);
        st = CAPALLOC_ERR_IO;
    }
    if (st == CAPALLOC_OK)
        pgp_test_pause(s, PGP_PAUSE_WRITE);
out:
    for (int i = 0; i < A_N; i++)
        free(a[i].b);
    for (int i = 0; i < R_N; i++)
        free(ra[i].b);
    free(rh.b);
    return st;
}

/* ------------------------------------------------------------------------ */
/* the statements, qualified                                                 */
/* ------------------------------------------------------------------------ */

capalloc_status pgp_ledger_prepare(pgp *s, capalloc_err *err)
{
    static const char *const tmpl[PGP_SQL_N] = {
        [PGP_SQL_CASH] = SQL_CASH,
        [PGP_SQL_CASH_LOCK] = SQL_CASH SQL_LOCK_ORDER,
        [PGP_SQL_POSITIONS] = SQL_POSITIONS,
        [PGP_SQL_BOOKS] = SQL_BOOKS,
        [PGP_SQL_BOOKS_LOCK] = SQL_BOOKS SQL_LOCK_ORDER,
        [PGP_SQL_FIND_RUN] = SQL_FIND_RUN,
        [PGP_SQL_WRITE] = SQL_WRITE,
        [PGP_SQL_HISTORY] = pgp_sql_history,
        [PGP_SQL_RUN] = pgp_sql_run,
        [PGP_SQL_FIND_TOKEN] = SQL_FIND_TOKEN,
        [PGP_SQL_FIND_REF] = SQL_FIND_REF,
        [PGP_SQL_READ_RED] = pgp_sql_read_redemptions,
        [PGP_SQL_INSERT_RED] = pgp_sql_insert_redemption,
        [PGP_SQL_UPDATE_RED] = pgp_sql_update_redemption,
        [PGP_SQL_READ_RED_ONE] = pgp_sql_read_redemption,
        [PGP_SQL_CHAIN_HEAD] = pgp_sql_chain_head,
        [PGP_SQL_ANCHOR] = pgp_sql_anchor,
        [PGP_SQL_ANCHOR_CASH] = pgp_sql_anchor_cash,
        [PGP_SQL_JOURNAL] = pgp_sql_journal,
        [PGP_SQL_STAMP] = SQL_STAMP,
        [PGP_SQL_STAMP_LOCK] = SQL_STAMP " FOR UPDATE",
        [PGP_SQL_COPY_POSITIONS] = "COPY (" SQL_POSITIONS ") TO STDOUT",
    };
    for (int i = 0; i < PGP_SQL_N; i++)
        if ((s->sql[i] = pgp_qualify(s, tmpl[i])) == NULL) {
            s->host->set_error(err, NULL, "out of memory");
            return CAPALLOC_ERR_NOMEM;
        }
    return CAPALLOC_OK;
}

/* ------------------------------------------------------------------------ */
/* find_reference (ABI 1.2)                                                  */
/* ------------------------------------------------------------------------ */

capalloc_status pgp_find_reference(void *state, const char *reference,
                                   capalloc_capital_ref *out, int *found,
                                   capalloc_err *err)
{
    pgp *s = state;
    *found = 0;
    capalloc_status st = pgp_need_txn(s, 0, "find_reference", err);
    if (st != CAPALLOC_OK)
        return st;
    if (reference == NULL) {
        s->host->set_error(err, NULL, "find_reference() without a reference");
        return CAPALLOC_ERR_INTERNAL;
    }
    const char *v[1] = {reference};
    PGresult *res = pgp_exec(s, s->sql[PGP_SQL_FIND_REF], 1, v);
    if (!pgp_ok(res))
        return pgp_fail(s, res, err, "looking up reference '%.*s'",
                        CAPALLOC_REF_MAX, reference);
    if (PQntuples(res) == 1) {
        capalloc_capital_ref r;
        memset(&r, 0, sizeof r);
        r.run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(r.action, sizeof r.action, "%s", PQgetvalue(res, 0, 1));
        snprintf(r.created_at, sizeof r.created_at, "%s",
                 PQgetvalue(res, 0, 3));
        char row[32];
        snprintf(row, sizeof row, "run_id %lld", (long long)r.run_id);
        st = pgp_parse_stored(s, PQgetvalue(res, 0, 2), &r.amount, err,
                              "trade_execution_logs", row, "quantity");
        if (st == CAPALLOC_OK) {
            *out = r;
            *found = 1;
        }
    }
    PQclear(res);
    return st;
}
