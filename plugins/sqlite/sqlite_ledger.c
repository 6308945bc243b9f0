/*
 * sqlite_ledger.c - reading and writing the ledger: read_ledger, find_run
 * and write (whose run's record, ABI 1.1, sqlite_record.c writes).
 *
 * Decimals are written as exact text, host->dec_format(d, minor_units), and
 * read back with host->dec_parse. A stored value that does not parse is
 * CAPALLOC_ERR_IO naming the table and row: a corrupted ledger must never
 * turn into a silent zero. Every value reaches SQL as a bound parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_int.h"

/* Outside the transaction the core must have opened, every statement
 * would commit on its own and a command would no longer be all or
 * nothing. */
capalloc_status sqlp_need_txn(sqlp *s, int write, const char *call,
                                capalloc_err *err)
{
    if (!sqlp_txn_open(s)) {
        s->host->set_error(err, NULL,
                           "%s() called with no transaction open (ledger %s)",
                           call, s->path);
        return s->txn != SQLP_TXN_NONE ? CAPALLOC_ERR_IO
                                       : CAPALLOC_ERR_INTERNAL;
    }
    if (write && s->txn != SQLP_TXN_WRITE) {
        s->host->set_error(err, NULL,
                           "%s() called inside a read transaction (ledger %s)",
                           call, s->path);
        return CAPALLOC_ERR_INTERNAL;
    }
    return CAPALLOC_OK;
}

/* Column i of the current row as text ("" never stands in for NULL). */
const char *sqlp_col_text(sqlite3_stmt *stmt, int i)
{
    /* NULL for SQL NULL (and when out of memory: then no value either);
     * one call per column, not two */
    return (const char *)sqlite3_column_text(stmt, i);
}

/* Parse a stored decimal; on failure describe the row. */
capalloc_status sqlp_parse_stored(sqlp *s, const char *text,
                                    capalloc_dec *out, capalloc_err *err,
                                    const char *table, const char *row,
                                    const char *column)
{
    capalloc_status st =
        text != NULL ? s->host->dec_parse(text, out) : CAPALLOC_ERR_INVALID;
    if (st == CAPALLOC_OK)
        return CAPALLOC_OK;
    s->host->set_error(err, NULL,
                       "ledger %s is corrupted: %s, %s: %s %s%s%s is not an "
                       "exact decimal%s",
                       s->path, table, row, column, text ? "'" : "",
                       text ? text : "NULL", text ? "'" : "",
                       st == CAPALLOC_ERR_OVERFLOW ? " in range" : "");
    return CAPALLOC_ERR_IO;
}

/* ------------------------------------------------------------------------ */
/* read_ledger                                                               */
/* ------------------------------------------------------------------------ */

/* The cash rows stmt (prepared and bound) returns, to sink->cash; resets
 * stmt. */
static capalloc_status cash_rows(sqlp *s, sqlite3_stmt *stmt,
                                 const capalloc_ledger_sink *sink,
                                 capalloc_err *err)
{
    const capalloc_host *h = s->host;
    capalloc_status st = CAPALLOC_OK;
    char row[192];
    int rc = SQLITE_DONE;
    while (st == CAPALLOC_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *id = sqlp_col_text(stmt, 0);
        const char *cur = sqlp_col_text(stmt, 1);
        const char *text = sqlp_col_text(stmt, 2);
        capalloc_dec cash;
        snprintf(row, sizeof row, "portfolio '%.120s'", id ? id : "NULL");
        if (id == NULL || cur == NULL) {
            h->set_error(err, NULL,
                         "ledger %s is corrupted: cash_equity_book, %s: NULL "
                         "portfolio_id or currency",
                         s->path, row);
            st = CAPALLOC_ERR_IO;
        } else if (h->currency != NULL && strcmp(cur, h->currency) != 0) {
            /* The amounts would silently change meaning. */
            h->set_error(err, NULL,
                         "ledger %s: cash_equity_book, %s is booked in %s, but "
                         "the fund's currency is %s: set 'currency: %s' in "
                         "the configuration, or point storage at a ledger "
                         "kept in %s (nothing was changed)",
                         s->path, row, cur, h->currency, cur, h->currency);
            st = CAPALLOC_ERR_INVALID;
        } else if ((st = sqlp_parse_stored(s, text, &cash, err, "cash_equity_book",
                                      row, "cash")) == CAPALLOC_OK &&
                   (st = sink->cash(sink->ctx, id, cash)) != CAPALLOC_OK) {
            h->set_error(err, NULL,
                         "the core stopped reading the ledger at "
                         "cash_equity_book, %s (status %d)",
                         row, (int)st);
        }
    }
    if (st == CAPALLOC_OK && rc != SQLITE_DONE)
        st = sqlp_fail(s, err, rc, "reading cash_equity_book");
    sqlp_reset(stmt);
    return st;
}

static capalloc_status read_cash(sqlp *s, const capalloc_ledger_sink *sink,
                                 capalloc_err *err)
{
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_READ_CASH, &stmt, err);
    return st == CAPALLOC_OK ? cash_rows(s, stmt, sink, err) : st;
}

/* read_cash (ABI 1.1): one indexed lookup per named book. The write
 * transaction (BEGIN IMMEDIATE) already holds the database's write lock:
 * there is nothing finer to lock in SQLite. */
capalloc_status sqlp_read_books(void *state, const char *const *ids, size_t n,
                                const capalloc_ledger_sink *sink,
                                capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 0, "read_cash", err);
    if (st != CAPALLOC_OK)
        return st;
    if (sink == NULL || sink->cash == NULL || (n > 0 && ids == NULL)) {
        s->host->set_error(err, NULL, "read_cash() without a sink or ids");
        return CAPALLOC_ERR_INTERNAL;
    }
    for (size_t i = 0; i < n && st == CAPALLOC_OK; i++) {
        sqlite3_stmt *stmt;
        if ((st = sqlp_prepare(s, SQ_READ_BOOK, &stmt, err)) != CAPALLOC_OK)
            break;
        int rc = sqlp_bind_text(stmt, 1, ids[i] != NULL ? ids[i] : "");
        if (rc != SQLITE_OK) {
            st = sqlp_fail(s, err, rc, "reading cash_equity_book");
            sqlp_reset(stmt);
            break;
        }
        st = cash_rows(s, stmt, sink, err);
    }
    return st;
}

/* ledger_stamp (ABI 1.3): the row schema step 6's triggers bump. A write
 * transaction (BEGIN IMMEDIATE) holds the database's write lock already:
 * no other writer can bump it before commit. */
capalloc_status sqlp_ledger_stamp(void *state, int64_t *stamp,
                                  capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 0, "ledger_stamp", err);
    if (st != CAPALLOC_OK)
        return st;
    sqlite3_stmt *stmt;
    if ((st = sqlp_prepare(s, SQ_LEDGER_STAMP, &stmt, err)) != CAPALLOC_OK)
        return st;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_INTEGER) {
        *stamp = sqlite3_column_int64(stmt, 0);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        s->host->set_error(err, NULL,
                           "%s: capalloc_ledger_stamp has no row 1 or a "
                           "value that is not an integer",
                           s->path);
        st = CAPALLOC_ERR_IO;
    } else {
        st = sqlp_fail(s, err, rc, "reading capalloc_ledger_stamp");
    }
    sqlp_reset(stmt);
    return st;
}

static capalloc_status read_positions(sqlp *s, const capalloc_ledger_sink *sink,
                                      capalloc_err *err)
{
    const capalloc_host *h = s->host;
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_READ_POSITIONS, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    char row[256];
    int rc = SQLITE_DONE;
    while (st == CAPALLOC_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *id = sqlp_col_text(stmt, 0);
        const char *ticker = sqlp_col_text(stmt, 1);
        const char *text = sqlp_col_text(stmt, 2);
        capalloc_dec qty;
        /* the common case first: the row's name is only formatted for a
         * message (100,000 snprintf() were a fifth of a run) */
        if (id != NULL && ticker != NULL && text != NULL &&
            h->dec_parse(text, &qty) == CAPALLOC_OK) {
            st = sink->position(sink->ctx, id, ticker, qty);
            if (st != CAPALLOC_OK)
                h->set_error(err, NULL,
                             "the core stopped reading the ledger at "
                             "positions_book, portfolio '%.100s' ticker "
                             "'%.100s' (status %d)",
                             id, ticker, (int)st);
            continue;
        }
        snprintf(row, sizeof row, "portfolio '%.100s' ticker '%.100s'",
                 id ? id : "NULL", ticker ? ticker : "NULL");
        if (id == NULL || ticker == NULL) {
            h->set_error(err, NULL,
                         "ledger %s is corrupted: positions_book, %s: NULL "
                         "portfolio_id or ticker",
                         s->path, row);
            st = CAPALLOC_ERR_IO;
        } else if ((st = sqlp_parse_stored(s, text, &qty, err, "positions_book",
                                      row, "quantity")) == CAPALLOC_OK &&
                   (st = sink->position(sink->ctx, id, ticker, qty)) !=
                       CAPALLOC_OK) {
            h->set_error(err, NULL,
                         "the core stopped reading the ledger at "
                         "positions_book, %s (status %d)",
                         row, (int)st);
        }
    }
    if (st == CAPALLOC_OK && rc != SQLITE_DONE)
        st = sqlp_fail(s, err, rc, "reading positions_book");
    sqlp_reset(stmt);
    return st;
}

capalloc_status sqlp_read_ledger(void *state, const capalloc_ledger_sink *sink,
                                 capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 0, "read_ledger", err);
    if (st != CAPALLOC_OK)
        return st;
    if (sink == NULL || sink->cash == NULL || sink->position == NULL) {
        s->host->set_error(err, NULL, "read_ledger() without a sink");
        return CAPALLOC_ERR_INTERNAL;
    }
    if ((st = read_cash(s, sink, err)) != CAPALLOC_OK)
        return st;
    return read_positions(s, sink, err);
}

/* ------------------------------------------------------------------------ */
/* find_run                                                                  */
/* ------------------------------------------------------------------------ */

/* Copy column text into a fixed buffer; 0 when it does not fit or is NULL. */
int sqlp_copy_col(sqlite3_stmt *stmt, int i, char *buf, size_t len)
{
    const char *t = sqlp_col_text(stmt, i);
    if (t == NULL || strlen(t) >= len)
        return 0;
    memcpy(buf, t, strlen(t) + 1);
    return 1;
}

capalloc_status sqlp_find_run(void *state, const char *run_date,
                              capalloc_run_info *info, int *found,
                              capalloc_err *err)
{
    sqlp *s = state;
    *found = 0;
    capalloc_status st = sqlp_need_txn(s, 0, "find_run", err);
    if (st != CAPALLOC_OK)
        return st;
    if (run_date == NULL) {
        s->host->set_error(err, NULL, "find_run() without a run date");
        return CAPALLOC_ERR_INTERNAL;
    }
    sqlite3_stmt *stmt;
    if ((st = sqlp_prepare(s, SQ_FIND_RUN, &stmt, err)) != CAPALLOC_OK)
        return st;
    int rc = sqlite3_bind_text(stmt, 1, run_date, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        capalloc_run_info ri;
        memset(&ri, 0, sizeof ri);
        ri.run_id = sqlite3_column_int64(stmt, 0);
        ri.n_trades = sqlite3_column_int64(stmt, 3);
        snprintf(ri.kind, sizeof ri.kind, "%s", CAPALLOC_RUN_RUN);
        if (!sqlp_copy_col(stmt, 1, ri.run_date, sizeof ri.run_date) ||
            !sqlp_copy_col(stmt, 2, ri.created_at, sizeof ri.created_at)) {
            s->host->set_error(err, NULL,
                               "ledger %s is corrupted: capalloc_runs, run_id "
                               "%lld: run_date or created_at is not a date",
                               s->path, (long long)ri.run_id);
            st = CAPALLOC_ERR_IO;
        } else {
            *info = ri;
            *found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        st = sqlp_fail(s, err, rc, "looking up the allocation run of %s",
                       run_date);
    }
    sqlp_reset(stmt);
    return st;
}

/* ------------------------------------------------------------------------ */
/* write                                                                     */
/* ------------------------------------------------------------------------ */

/* Now, ISO 8601 UTC with milliseconds: "2025-11-24T13:22:05.123Z". One
 * timestamp for the whole batch, so its rows say they were written
 * together. */
void sqlp_utc_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03uZ",
             (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

const char *sqlp_fmt_dec(const sqlp *s, capalloc_dec d, dec_text *t)
{
    return s->host->dec_format(d, s->host->minor_units, t->b, sizeof t->b);
}

/* Bind text (borrowed until the statement is reset). */
int sqlp_bind_text(sqlite3_stmt *stmt, int i, const char *v)
{
    return v != NULL ? sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC)
                     : sqlite3_bind_null(stmt, i);
}

/* Step a bound INSERT/UPDATE/DELETE; SQLITE_OK or the error. */
int sqlp_step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : (rc == SQLITE_ROW ? SQLITE_MISUSE
                                                             : rc);
}

static int known_action(const char *a)
{
    static const char *const actions[] = {"ADD", "WITHDRAW", "ALLOCATE",
                                          "IMPORT"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (a != NULL && strcmp(a, actions[i]) == 0)
            return 1;
    return 0;
}

static capalloc_status insert_run(sqlp *s, const capalloc_write_batch *b,
                                  const char *now, sqlite3_int64 *run_id,
                                  capalloc_err *err)
{
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_INSERT_RUN, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    const capalloc_run_record *rec = sqlp_record(s, b);
    int rc;
    if ((rc = sqlp_bind_text(stmt, 1, b->action)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 2, b->run_date)) == SQLITE_OK &&
        (rc = sqlite3_bind_int(stmt, 3, b->forced ? 1 : 0)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 4, now)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 5, rec ? rec->capalloc_version : NULL)) ==
            SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 6, rec ? rec->detail_json : NULL)) ==
            SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 7, sqlp_reference(s, b))) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 8, SQLP_CHAIN(s, b, prev_hash))) ==
            SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 9, SQLP_CHAIN(s, b, run_hash))) ==
            SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 10, sqlp_kind(s, b))) == SQLITE_OK &&
        (rc = sqlp_reverses(s, b) > 0
                  ? sqlite3_bind_int64(stmt, 11, sqlp_reverses(s, b))
                  : sqlite3_bind_null(stmt, 11)) == SQLITE_OK)
        rc = sqlp_step_done(stmt);
    if (rc == SQLITE_CONSTRAINT_UNIQUE && sqlp_reverses(s, b) > 0 &&
        strstr(sqlite3_errmsg(s->db), "reverses") != NULL) {
        s->host->set_error(err, NULL,
                           "run %lld is already reversed in ledger %s",
                           (long long)sqlp_reverses(s, b), s->path);
        st = CAPALLOC_ERR_EXISTS;
    } else if (rc == SQLITE_CONSTRAINT_UNIQUE && sqlp_reference(s, b) != NULL) {
        /* only ALLOCATE batches meet the other unique index */
        s->host->set_error(err, NULL,
                           "reference '%s' is already recorded in ledger %s",
                           sqlp_reference(s, b), s->path);
        st = CAPALLOC_ERR_EXISTS;
    } else if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        s->host->set_error(err, NULL,
                           "an allocation run for %s is already recorded in "
                           "ledger %s",
                           b->run_date ? b->run_date : "(no date)", s->path);
        st = CAPALLOC_ERR_EXISTS;
    } else if (rc != SQLITE_OK) {
        st = sqlp_fail(s, err, rc, "recording the %s run%s%s", b->action,
                       b->run_date ? " of " : "",
                       b->run_date ? b->run_date : "");
    } else {
        *run_id = sqlite3_last_insert_rowid(s->db);
    }
    sqlp_reset(stmt);
    return st;
}

static capalloc_status insert_trades(sqlp *s, const capalloc_write_batch *b,
                                     sqlite3_int64 run_id, const char *now,
                                     capalloc_err *err)
{
    if (b->n_trades == 0)
        return CAPALLOC_OK;
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_INSERT_TRADE, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    const char *const *rh = SQLP_CHAIN(s, b, row_hashes);
    for (size_t i = 0; i < b->n_trades && st == CAPALLOC_OK; i++) {
        const capalloc_trade *t = &b->trades[i];
        const char *side = t->side == CAPALLOC_BUY    ? "BUY"
                           : t->side == CAPALLOC_SELL ? "SELL"
                                                      : NULL;
        if (side == NULL) {
            s->host->set_error(err, NULL, "trade %zu of %zu has side %d",
                               i + 1, b->n_trades, (int)t->side);
            st = CAPALLOC_ERR_INTERNAL;
            break;
        }
        dec_text q, ap, ep;
        int rc;
        if ((rc = sqlite3_bind_int64(stmt, 1, run_id)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 2, t->portfolio_id)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 3, t->ticker)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 4, side)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 5, sqlp_fmt_dec(s, t->quantity, &q))) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 6, sqlp_fmt_dec(s, t->arrival_price, &ap))) ==
                SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 7, sqlp_fmt_dec(s, t->exec_price, &ep))) ==
                SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 8, now)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 9, rh ? rh[i] : NULL)) == SQLITE_OK)
            rc = sqlp_step_done(stmt);
        if (rc != SQLITE_OK)
            st = sqlp_fail(s, err, rc,
                           "writing trade %zu of %zu (portfolio '%s', ticker "
                           "'%s') to trade_execution_logs",
                           i + 1, b->n_trades,
                           t->portfolio_id ? t->portfolio_id : "NULL",
                           t->ticker ? t->ticker : "NULL");
        sqlp_reset(stmt);
    }
    return st;
}

static capalloc_status upsert_cash(sqlp *s, const capalloc_write_batch *b,
                                   const char *now, capalloc_err *err)
{
    if (b->n_cash == 0)
        return CAPALLOC_OK;
    const char *currency = b->currency ? b->currency : s->host->currency;
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_UPSERT_CASH, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    for (size_t i = 0; i < b->n_cash && st == CAPALLOC_OK; i++) {
        const capalloc_cash_row *c = &b->cash[i];
        dec_text cash;
        int rc;
        if ((rc = sqlp_bind_text(stmt, 1, c->portfolio_id)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 2, currency)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 3, sqlp_fmt_dec(s, c->cash, &cash))) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, 4, now)) == SQLITE_OK)
            rc = sqlp_step_done(stmt);
        if (rc != SQLITE_OK) {
            st = sqlp_fail(s, err, rc,
                           "writing the cash of portfolio '%s' to "
                           "cash_equity_book",
                           c->portfolio_id ? c->portfolio_id : "NULL");
        } else if (sqlite3_changes(s->db) != 1) {
            s->host->set_error(err, NULL,
                               "ledger %s: the book of portfolio '%s' in "
                               "cash_equity_book is not in %s; nothing was "
                               "written",
                               s->path, c->portfolio_id, currency);
            st = CAPALLOC_ERR_IO;
        }
        sqlp_reset(stmt);
    }
    return st;
}

/* One position: an upsert, or a delete for quantity 0. */
static capalloc_status position_one(sqlp *s, const capalloc_position_row *p,
                                    const char *now, capalloc_err *err)
{
    sqlite3_stmt *stmt;
    int zero = p->quantity.micros == 0;
    capalloc_status st = sqlp_prepare(
        s, zero ? SQ_DELETE_POSITION : SQ_UPSERT_POSITION, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    dec_text q;
    int rc;
    if ((rc = sqlp_bind_text(stmt, 1, p->portfolio_id)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 2, p->ticker)) == SQLITE_OK) {
        if (!zero &&
            (rc = sqlp_bind_text(stmt, 3, sqlp_fmt_dec(s, p->quantity, &q))) ==
                SQLITE_OK)
            rc = sqlp_bind_text(stmt, 4, now);
        if (rc == SQLITE_OK)
            rc = sqlp_step_done(stmt);
    }
    if (rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc,
                       "%s the position of portfolio '%s' in '%s' in "
                       "positions_book",
                       zero ? "deleting" : "writing",
                       p->portfolio_id ? p->portfolio_id : "NULL",
                       p->ticker ? p->ticker : "NULL");
    sqlp_reset(stmt);
    return st;
}

/* SQLP_POS_ROWS upserts (no zero among them) in one statement: 0, or
 * non-zero when the statement failed (it changed nothing then: the caller
 * writes the rows one by one, which names the row at fault). */
static int position_many(sqlp *s, const capalloc_position_row *const *p,
                         const char *now)
{
    sqlite3_stmt *stmt;
    capalloc_err err;
    if (sqlp_prepare(s, SQ_UPSERT_POSITIONS_N, &stmt, &err) != CAPALLOC_OK)
        return 1;
    dec_text q[SQLP_POS_ROWS];
    int rc = SQLITE_OK;
    for (int i = 0; i < SQLP_POS_ROWS && rc == SQLITE_OK; i++) {
        int at = 4 * i;
        if ((rc = sqlp_bind_text(stmt, at + 1, p[i]->portfolio_id)) ==
                SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, at + 2, p[i]->ticker)) == SQLITE_OK &&
            (rc = sqlp_bind_text(stmt, at + 3,
                                 sqlp_fmt_dec(s, p[i]->quantity, &q[i]))) ==
                SQLITE_OK)
            rc = sqlp_bind_text(stmt, at + 4, now);
    }
    if (rc == SQLITE_OK)
        rc = sqlp_step_done(stmt);
    sqlp_reset(stmt);
    return rc != SQLITE_OK;
}

/* Key order: portfolio, then ticker (the primary key's BINARY order), the
 * batch's order among equal keys. */
static int cmp_pos_ref(const void *a, const void *b)
{
    const capalloc_position_row *x = *(const capalloc_position_row *const *)a;
    const capalloc_position_row *y = *(const capalloc_position_row *const *)b;
    int c = strcmp(x->portfolio_id ? x->portfolio_id : "",
                   y->portfolio_id ? y->portfolio_id : "");
    if (c == 0)
        c = strcmp(x->ticker ? x->ticker : "", y->ticker ? y->ticker : "");
    return c != 0 ? c : (x > y) - (x < y);
}

/* The batch's positions in key order (the primary key's B-tree is filled
 * from left to right, not all over), runs of SQLP_POS_ROWS upserts in
 * one statement each: a positions import of 100,000 rows is 1,563
 * statements, not 100,000. The order of a key's rows is kept, and a
 * delete ends a run, so the result is the batch's, row by row. */
static capalloc_status upsert_positions(sqlp *s, const capalloc_write_batch *b,
                                        const char *now, capalloc_err *err)
{
    size_t n = b->n_positions;
    if (n == 0)
        return CAPALLOC_OK;
    const capalloc_position_row **p = malloc(n * sizeof *p);
    if (p == NULL) {
        s->host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = &b->positions[i];
    qsort(p, n, sizeof *p, cmp_pos_ref);
    capalloc_status st = CAPALLOC_OK;
    for (size_t i = 0; i < n && st == CAPALLOC_OK;) {
        size_t k = 0;
        while (k < SQLP_POS_ROWS && i + k < n &&
               p[i + k]->quantity.micros != 0)
            k++;
        if (k == SQLP_POS_ROWS && position_many(s, p + i, now) == 0) {
            i += k;
            continue;
        }
        /* fewer left, a delete among them, or the statement failed */
        size_t end = k == SQLP_POS_ROWS ? i + k : i + 1;
        for (; i < end && st == CAPALLOC_OK; i++)
            st = position_one(s, p[i], now, err);
    }
    free(p);
    return st;
}

capalloc_status sqlp_write(void *state, const capalloc_write_batch *b,
                           capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 1, "write", err);
    if (st != CAPALLOC_OK)
        return st;
    if (b == NULL || !known_action(b->action)) {
        s->host->set_error(err, NULL, "write(): unknown action '%s'",
                           b && b->action ? b->action : "NULL");
        return CAPALLOC_ERR_INTERNAL;
    }
    if (strcmp(b->action, "ALLOCATE") == 0 && b->run_date == NULL) {
        s->host->set_error(err, NULL, "write(): an ALLOCATE batch needs a "
                                      "run date");
        return CAPALLOC_ERR_INTERNAL;
    }
    if ((b->n_trades && b->trades == NULL) || (b->n_cash && b->cash == NULL) ||
        (b->n_positions && b->positions == NULL)) {
        s->host->set_error(err, NULL, "write(): a batch count without rows");
        return CAPALLOC_ERR_INTERNAL;
    }

    const char *kind = sqlp_kind(s, b);
    int is_run = strcmp(kind, CAPALLOC_RUN_RUN) == 0;
    if ((!is_run && strcmp(kind, CAPALLOC_RUN_DEPLOY) != 0 &&
         strcmp(kind, CAPALLOC_RUN_REVERSE) != 0) ||
        (!is_run && strcmp(b->action, "ALLOCATE") != 0) ||
        ((strcmp(kind, CAPALLOC_RUN_REVERSE) == 0) !=
         (sqlp_reverses(s, b) > 0))) {
        s->host->set_error(err, NULL,
                           "write(): kind '%s' (reverses %lld) does not fit "
                           "a %s batch: DEPLOY and REVERSE are ALLOCATE "
                           "batches, and only a REVERSE names the run it "
                           "reverses",
                           kind, (long long)sqlp_reverses(s, b), b->action);
        return CAPALLOC_ERR_INTERNAL;
    }
    const char *ref = sqlp_reference(s, b);
    if (ref != NULL && ((strcmp(b->action, "ADD") != 0 &&
                         strcmp(b->action, "WITHDRAW") != 0) ||
                        *ref == '\0' || strlen(ref) > CAPALLOC_REF_MAX)) {
        s->host->set_error(err, NULL,
                           "write(): a reference belongs to an ADD or "
                           "WITHDRAW batch and has 1 to %d bytes",
                           CAPALLOC_REF_MAX);
        return CAPALLOC_ERR_INTERNAL;
    }

    char now[48];
    sqlp_utc_now(now, sizeof now);
    const char *created = SQLP_CHAIN(s, b, created_at);
    if (created != NULL) /* the core's, which the run's hash covers */
        snprintf(now, sizeof now, "%s", created);
    sqlite3_int64 run_id = 0;
    if ((st = insert_run(s, b, now, &run_id, err)) != CAPALLOC_OK ||
        (st = insert_trades(s, b, run_id, now, err)) != CAPALLOC_OK ||
        (st = upsert_cash(s, b, now, err)) != CAPALLOC_OK ||
        (st = upsert_positions(s, b, now, err)) != CAPALLOC_OK ||
        (st = sqlp_write_record(s, b, run_id, err)) != CAPALLOC_OK)
        return st; /* the core rolls back */
    return CAPALLOC_OK;
}

/* ------------------------------------------------------------------------ */
/* find_reference (ABI 1.2)                                                  */
/* ------------------------------------------------------------------------ */

capalloc_status sqlp_find_reference(void *state, const char *reference,
                                    capalloc_capital_ref *out, int *found,
                                    capalloc_err *err)
{
    sqlp *s = state;
    *found = 0;
    capalloc_status st = sqlp_need_txn(s, 0, "find_reference", err);
    if (st != CAPALLOC_OK)
        return st;
    if (reference == NULL) {
        s->host->set_error(err, NULL, "find_reference() without a reference");
        return CAPALLOC_ERR_INTERNAL;
    }
    sqlite3_stmt *stmt;
    if ((st = sqlp_prepare(s, SQ_FIND_REF, &stmt, err)) != CAPALLOC_OK)
        return st;
    int rc = sqlite3_bind_text(stmt, 1, reference, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        capalloc_capital_ref r;
        memset(&r, 0, sizeof r);
        r.run_id = sqlite3_column_int64(stmt, 0);
        char row[32];
        snprintf(row, sizeof row, "run_id %lld", (long long)r.run_id);
        if (!sqlp_copy_col(stmt, 1, r.action, sizeof r.action) ||
            !sqlp_copy_col(stmt, 3, r.created_at, sizeof r.created_at)) {
            s->host->set_error(err, NULL,
                               "ledger %s is corrupted: capalloc_runs, %s: "
                               "action or created_at unreadable",
                               s->path, row);
            st = CAPALLOC_ERR_IO;
        } else if ((st = sqlp_parse_stored(s, sqlp_col_text(stmt, 2),
                                           &r.amount, err,
                                           "trade_execution_logs", row,
                                           "quantity")) == CAPALLOC_OK) {
            *out = r;
            *found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        st = sqlp_fail(s, err, rc, "looking up reference '%.*s'",
                       CAPALLOC_REF_MAX, reference);
    }
    sqlp_reset(stmt);
    return st;
}
