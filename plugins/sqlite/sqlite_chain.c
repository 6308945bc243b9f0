/*
 * sqlite_chain.c - the hash chain (ABI 1.3): chain_head, read_anchor and
 * read_journal. The hashes are the core's (core/chain.h); this file only
 * stores and streams them. read_journal merges two cursors by run id (the
 * runs by their key, the rows by the index on run_id, whose entries are in
 * (run_id, log_id) order): one pass, no sort, constant memory.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

capalloc_status sqlp_chain_head(void *state, capalloc_chain_head *out,
                                capalloc_err *err)
{
    sqlp *s = state;
    memset(out, 0, sizeof *out);
    capalloc_status st = sqlp_need_txn(s, 0, "chain_head", err);
    sqlite3_stmt *stmt;
    if (st != CAPALLOC_OK ||
        (st = sqlp_prepare(s, SQ_CHAIN_HEAD, &stmt, err)) != CAPALLOC_OK)
        return st;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        out->run_id = sqlite3_column_int64(stmt, 0);
        const char *h = sqlp_col_text(stmt, 1);
        snprintf(out->run_hash, sizeof out->run_hash, "%s", h ? h : "");
    } else if (rc != SQLITE_DONE) {
        st = sqlp_fail(s, err, rc, "reading the chain's head");
    }
    sqlp_reset(stmt);
    return st;
}

capalloc_status sqlp_read_anchor(void *state,
                                 const capalloc_journal_sink *sink,
                                 int *found, capalloc_err *err)
{
    sqlp *s = state;
    *found = 0;
    capalloc_status st = sqlp_need_txn(s, 0, "read_anchor", err);
    sqlite3_stmt *stmt;
    if (st != CAPALLOC_OK ||
        (st = sqlp_prepare(s, SQ_CHAIN_ANCHOR, &stmt, err)) != CAPALLOC_OK)
        return st;
    capalloc_chain_anchor a;
    memset(&a, 0, sizeof a);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *found = 1;
        a.after_run_id = sqlite3_column_int64(stmt, 0);
        sqlp_copy_col(stmt, 1, a.created_at, sizeof a.created_at);
        a.after_log_id = sqlite3_column_int64(stmt, 2);
        a.runs_before = sqlite3_column_int64(stmt, 3);
        a.runs_before_now = sqlite3_column_int64(stmt, 4);
    } else if (rc != SQLITE_DONE) {
        st = sqlp_fail(s, err, rc, "reading the chain's anchor");
    }
    sqlp_reset(stmt);
    if (st != CAPALLOC_OK || !*found)
        return st;
    if ((st = sink->anchor(sink->ctx, &a)) != CAPALLOC_OK)
        return st;
    if ((st = sqlp_prepare(s, SQ_CHAIN_ANCHOR_CASH, &stmt, err)) !=
        CAPALLOC_OK)
        return st;
    while (st == CAPALLOC_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *id = sqlp_col_text(stmt, 0);
        capalloc_dec cash;
        if ((st = sqlp_parse_stored(s, sqlp_col_text(stmt, 1), &cash, err,
                                    "capalloc_chain_anchor_cash",
                                    id ? id : "NULL", "cash")) == CAPALLOC_OK)
            st = sink->cash(sink->ctx, id ? id : "", cash);
    }
    if (st == CAPALLOC_OK && rc != SQLITE_DONE)
        st = sqlp_fail(s, err, rc, "reading the chain's anchor balances");
    sqlp_reset(stmt);
    return st;
}

/* The current row of SQ_JOURNAL_ROWS to the sink. */
static capalloc_status emit_row(sqlp *s, sqlite3_stmt *t,
                                const capalloc_journal_sink *sink,
                                capalloc_err *err)
{
    capalloc_journal_row r;
    memset(&r, 0, sizeof r);
    r.log_id = sqlite3_column_int64(t, 0);
    r.run_id = sqlite3_column_int64(t, 1);
    char where[48];
    snprintf(where, sizeof where, "log_id %lld", (long long)r.log_id);
    r.portfolio_id = sqlp_col_text(t, 2);
    r.ticker = sqlp_col_text(t, 3);
    const char *side = sqlp_col_text(t, 4);
    if (r.portfolio_id == NULL || r.ticker == NULL || side == NULL ||
        (strcmp(side, "BUY") != 0 && strcmp(side, "SELL") != 0)) {
        s->host->set_error(err, NULL,
                           "ledger %s is corrupted: trade_execution_logs, %s: "
                           "portfolio, ticker or side unreadable",
                           s->path, where);
        return CAPALLOC_ERR_IO;
    }
    r.side = side[0] == 'B' ? CAPALLOC_BUY : CAPALLOC_SELL;
    /* an amount that is not a decimal goes to the sink as bad_column (the
     * first such), for verify to name */
    static const char *const cols[3] = {"quantity", "arrival_price",
                                        "exec_price"};
    capalloc_dec *amt[3] = {&r.quantity, &r.arrival_price, &r.exec_price};
    for (int i = 0; i < 3; i++) {
        const char *text = sqlp_col_text(t, 5 + i);
        if (text == NULL || s->host->dec_parse(text, amt[i]) != CAPALLOC_OK) {
            amt[i]->micros = 0;
            if (r.bad_column == NULL) {
                r.bad_column = cols[i];
                r.bad_text = text ? text : "NULL";
            }
        }
    }
    (void)err;
    r.row_hash = sqlp_col_text(t, 8);
    return sink->row(sink->ctx, &r);
}

static capalloc_status emit_run(sqlite3_stmt *u,
                                const capalloc_journal_sink *sink)
{
    capalloc_journal_run r;
    memset(&r, 0, sizeof r);
    r.run_id = sqlite3_column_int64(u, 0);
    r.action = sqlp_col_text(u, 1);
    r.run_date = sqlp_col_text(u, 2);
    r.forced = sqlite3_column_int(u, 3);
    r.created_at = sqlp_col_text(u, 4);
    r.reference = sqlp_col_text(u, 5);
    r.prev_hash = sqlp_col_text(u, 6);
    r.run_hash = sqlp_col_text(u, 7);
    r.kind = sqlp_col_text(u, 8);
    r.reverses = sqlite3_column_int64(u, 9);
    if (r.action == NULL)
        r.action = "";
    return sink->run(sink->ctx, &r);
}

capalloc_status sqlp_read_journal(void *state, int64_t after_run_id,
                                  const capalloc_journal_sink *sink,
                                  capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 0, "read_journal", err);
    sqlite3_stmt *u, *t;
    /* first the rows of runs before the anchor written after it: their run
     * ids are below every run read next */
    if (st != CAPALLOC_OK ||
        (st = sqlp_prepare(s, SQ_JOURNAL_LATE, &t, err)) != CAPALLOC_OK)
        return st;
    int rl = sqlite3_bind_int64(t, 1, after_run_id);
    while (rl == SQLITE_OK && st == CAPALLOC_OK &&
           (rl = sqlite3_step(t)) == SQLITE_ROW) {
        st = emit_row(s, t, sink, err);
        rl = SQLITE_OK;
    }
    if (st == CAPALLOC_OK && rl != SQLITE_DONE)
        st = sqlp_fail(s, err, rl, "reading the journal");
    sqlp_reset(t);
    if (st != CAPALLOC_OK ||
        (st = sqlp_prepare(s, SQ_JOURNAL_RUNS, &u, err)) != CAPALLOC_OK ||
        (st = sqlp_prepare(s, SQ_JOURNAL_ROWS, &t, err)) != CAPALLOC_OK)
        return st;
    int rc = sqlite3_bind_int64(u, 1, after_run_id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(t, 1, after_run_id);
    int ru = SQLITE_DONE, rt = SQLITE_DONE;
    if (rc == SQLITE_OK) {
        ru = sqlite3_step(u);
        rt = sqlite3_step(t);
    }
    while (rc == SQLITE_OK && st == CAPALLOC_OK &&
           (ru == SQLITE_ROW || rt == SQLITE_ROW)) {
        if (ru == SQLITE_ROW &&
            (rt != SQLITE_ROW ||
             sqlite3_column_int64(u, 0) <= sqlite3_column_int64(t, 1))) {
            st = emit_run(u, sink);
            ru = sqlite3_step(u);
        } else {
            st = emit_row(s, t, sink, err);
            rt = sqlite3_step(t);
        }
    }
    if (rc == SQLITE_OK && ru != SQLITE_ROW && ru != SQLITE_DONE)
        rc = ru;
    if (rc == SQLITE_OK && rt != SQLITE_ROW && rt != SQLITE_DONE)
        rc = rt;
    if (st == CAPALLOC_OK && rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc, "reading the journal");
    sqlp_reset(u);
    sqlp_reset(t);
    return st;
}
