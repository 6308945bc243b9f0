/*
 * sqlite_flows.c - queued redemptions (ABI 1.2): read_redemptions and
 * redemption_op over capalloc_redemptions. Amounts are exact decimal text;
 * a payment's sum is computed with the host's decimal arithmetic, never by
 * SQLite (whose arithmetic on TEXT would go through binary floats).
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

static const char *const STATES[] = {"QUEUED", "PAID", "CANCELLED"};

/* The current row of SQ_READ_REDEMPTIONS into *r (strings borrowed). */
static capalloc_status row(sqlp *s, sqlite3_stmt *stmt, capalloc_redemption *r,
                           capalloc_err *err)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(stmt, 0);
    char where[48];
    snprintf(where, sizeof where, "redemption_id %lld", (long long)r->id);
    const char *state = sqlp_col_text(stmt, 1);
    r->state = 3;
    for (uint32_t k = 0; state != NULL && k < 3; k++)
        if (strcmp(state, STATES[k]) == 0)
            r->state = k;
    capalloc_status st;
    if (r->state > 2 ||
        !sqlp_copy_col(stmt, 5, r->queued_at, sizeof r->queued_at) ||
        !sqlp_copy_col(stmt, 6, r->updated_at, sizeof r->updated_at)) {
        s->host->set_error(err, NULL,
                           "ledger %s is corrupted: capalloc_redemptions, %s: "
                           "state or dates unreadable",
                           s->path, where);
        return CAPALLOC_ERR_IO;
    }
    if ((st = sqlp_parse_stored(s, sqlp_col_text(stmt, 2), &r->amount, err,
                                "capalloc_redemptions", where, "amount")) ||
        (st = sqlp_parse_stored(s, sqlp_col_text(stmt, 3), &r->paid, err,
                                "capalloc_redemptions", where, "paid")))
        return st;
    r->reference = sqlp_col_text(stmt, 4);
    return CAPALLOC_OK;
}

capalloc_status sqlp_read_redemptions(
    void *state, int open_only,
    capalloc_status (*fn)(void *ctx, const capalloc_redemption *r), void *ctx,
    capalloc_err *err)
{
    sqlp *s = state;
    capalloc_status st = sqlp_need_txn(s, 0, "read_redemptions", err);
    if (st != CAPALLOC_OK)
        return st;
    sqlite3_stmt *stmt;
    if ((st = sqlp_prepare(s, SQ_READ_REDEMPTIONS, &stmt, err)) != CAPALLOC_OK)
        return st;
    int rc = sqlite3_bind_int(stmt, 1, open_only ? 1 : 0);
    while (rc == SQLITE_OK && st == CAPALLOC_OK &&
           (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        capalloc_redemption r;
        if ((st = row(s, stmt, &r, err)) == CAPALLOC_OK)
            st = fn(ctx, &r);
        rc = SQLITE_OK;
    }
    if (st == CAPALLOC_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc, "reading the queued redemptions");
    sqlp_reset(stmt);
    return st;
}

/* Redemption id, looked up by its key (one row, not the table: paying N
 * redemptions is N lookups); *found = 0 when none. */
typedef struct one_ctx {
    int64_t id;
    int found;
    capalloc_redemption r;
} one_ctx;

static capalloc_status read_one(sqlp *s, one_ctx *o, capalloc_err *err)
{
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_READ_REDEMPTION, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    int rc = sqlite3_bind_int64(stmt, 1, o->id);
    if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if ((st = row(s, stmt, &o->r, err)) == CAPALLOC_OK) {
            o->r.reference = NULL; /* borrowed: not kept */
            o->found = 1;
        }
        rc = SQLITE_DONE;
    }
    if (st == CAPALLOC_OK && rc != SQLITE_DONE)
        st = sqlp_fail(s, err, rc, "reading redemption %lld",
                       (long long)o->id);
    sqlp_reset(stmt);
    return st;
}

static capalloc_status insert(sqlp *s, const capalloc_redemption_op *op,
                              int64_t *id_out, capalloc_err *err)
{
    sqlite3_stmt *stmt;
    capalloc_status st = sqlp_prepare(s, SQ_INSERT_REDEMPTION, &stmt, err);
    if (st != CAPALLOC_OK)
        return st;
    dec_text t;
    char now[48];
    sqlp_utc_now(now, sizeof now);
    int rc;
    if ((rc = sqlp_bind_text(stmt, 1, sqlp_fmt_dec(s, op->amount, &t))) ==
            SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 2, op->reference)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 3, now)) == SQLITE_OK)
        rc = sqlp_step_done(stmt);
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        s->host->set_error(err, NULL,
                           "a redemption with reference '%.*s' is already "
                           "queued in ledger %s",
                           CAPALLOC_REF_MAX, op->reference, s->path);
        st = CAPALLOC_ERR_EXISTS;
    } else if (rc != SQLITE_OK) {
        st = sqlp_fail(s, err, rc, "queueing a redemption");
    } else if (id_out != NULL) {
        *id_out = sqlite3_last_insert_rowid(s->db);
    }
    sqlp_reset(stmt);
    return st;
}

capalloc_status sqlp_redemption_op(void *state,
                                   const capalloc_redemption_op *op,
                                   int64_t *id_out, capalloc_err *err)
{
    sqlp *s = state;
    const capalloc_host *h = s->host;
    capalloc_status st = sqlp_need_txn(s, 1, "redemption_op", err);
    if (st != CAPALLOC_OK)
        return st;
    if (op == NULL || op->op > CAPALLOC_RED_OP_CANCEL ||
        (op->op != CAPALLOC_RED_OP_CANCEL && op->amount.micros <= 0) ||
        (op->reference != NULL && (*op->reference == '\0' ||
                                   strlen(op->reference) > CAPALLOC_REF_MAX))) {
        h->set_error(err, NULL, "redemption_op(): a bad operation");
        return CAPALLOC_ERR_INTERNAL;
    }
    if (op->op == CAPALLOC_RED_OP_QUEUE)
        return insert(s, op, id_out, err);

    one_ctx o = {op->id, 0, {0}};
    if ((st = read_one(s, &o, err)) != CAPALLOC_OK)
        return st;
    if (!o.found || o.r.state != CAPALLOC_RED_QUEUED) {
        h->set_error(err, NULL, "redemption %lld %s", (long long)op->id,
                     !o.found ? "does not exist"
                     : o.r.state == CAPALLOC_RED_PAID ? "is already paid"
                                                      : "is cancelled");
        return CAPALLOC_ERR_INVALID;
    }
    capalloc_dec paid = o.r.paid;
    uint32_t to = CAPALLOC_RED_CANCELLED;
    if (op->op == CAPALLOC_RED_OP_PAY) {
        if (h->dec_add(o.r.paid, op->amount, &paid) != CAPALLOC_OK ||
            h->dec_cmp(paid, o.r.amount) > 0) {
            h->set_error(err, NULL,
                         "redemption %lld: a payment above what is owed",
                         (long long)op->id);
            return CAPALLOC_ERR_INVALID;
        }
        to = h->dec_cmp(paid, o.r.amount) == 0 ? CAPALLOC_RED_PAID
                                               : CAPALLOC_RED_QUEUED;
    }
    sqlite3_stmt *stmt;
    if ((st = sqlp_prepare(s, SQ_UPDATE_REDEMPTION, &stmt, err)) != CAPALLOC_OK)
        return st;
    dec_text t;
    char now[48];
    sqlp_utc_now(now, sizeof now);
    int rc;
    if ((rc = sqlite3_bind_int64(stmt, 1, op->id)) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 2, sqlp_fmt_dec(s, paid, &t))) ==
            SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 3, STATES[to])) == SQLITE_OK &&
        (rc = sqlp_bind_text(stmt, 4, now)) == SQLITE_OK)
        rc = sqlp_step_done(stmt);
    if (rc != SQLITE_OK)
        st = sqlp_fail(s, err, rc, "updating redemption %lld",
                       (long long)op->id);
    else if (id_out != NULL)
        *id_out = op->id;
    sqlp_reset(stmt);
    return st;
}
