/*
 * pg_flows.c - queued redemptions (ABI 1.2): read_redemptions and
 * redemption_op over {S}.capalloc_redemptions (NUMERIC amounts, exact).
 * Called inside the core's WRITE transaction, which holds the ledger lock:
 * the read before a payment cannot race another writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

static const char *const STATES[] = {"QUEUED", "PAID", "CANCELLED"};

#define RED_COLUMNS                                                          \
    "redemption_id, state, amount::text, paid::text, reference,"             \
    " to_char(queued_at AT TIME ZONE 'UTC',"                                 \
    "         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"                        \
    " to_char(updated_at AT TIME ZONE 'UTC',"                                \
    "         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

const char pgp_sql_read_redemptions[] =
    "SELECT " RED_COLUMNS " FROM {S}.capalloc_redemptions"
    " WHERE $1::int = 0 OR state = 'QUEUED' ORDER BY redemption_id";
const char pgp_sql_insert_redemption[] =
    "INSERT INTO {S}.capalloc_redemptions (amount, paid, state, reference,"
    " queued_at, updated_at) VALUES ($1::numeric, 0, 'QUEUED', $2, now(),"
    " now()) RETURNING redemption_id";
/* One, by its key, locked: paying N redemptions is N lookups. */
const char pgp_sql_read_redemption[] =
    "SELECT " RED_COLUMNS " FROM {S}.capalloc_redemptions"
    " WHERE redemption_id = $1::bigint FOR UPDATE";
/* A payment ($3 'PAY': paid += $2, PAID when it reaches the amount) or a
 * cancel, of an open redemption, in one statement: no row returned when
 * the redemption is not open or the payment is above what is owed (then
 * pgp_sql_read_redemption says which). NUMERIC arithmetic is exact. */
const char pgp_sql_update_redemption[] =
    "UPDATE {S}.capalloc_redemptions SET"
    " paid = CASE WHEN $3::text = 'PAY' THEN paid + $2::numeric"
    "   ELSE paid END,"
    " state = CASE WHEN $3::text <> 'PAY' THEN 'CANCELLED'"
    "   WHEN paid + $2::numeric = amount THEN 'PAID' ELSE 'QUEUED' END,"
    " updated_at = now()"
    " WHERE redemption_id = $1::bigint AND state = 'QUEUED'"
    " AND ($3::text <> 'PAY' OR paid + $2::numeric <= amount)"
    " RETURNING redemption_id";

typedef struct red_ctx {
    capalloc_status (*fn)(void *ctx, const capalloc_redemption *r);
    void *ctx;
} red_ctx;

static capalloc_status red_row(pgp *s, const PGresult *res, int r,
                               const void *ctx, capalloc_err *err)
{
    const red_ctx *x = ctx;
    capalloc_redemption v;
    memset(&v, 0, sizeof v);
    v.id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
    char where[48];
    snprintf(where, sizeof where, "redemption_id %lld", (long long)v.id);
    v.state = 3;
    for (uint32_t k = 0; k < 3; k++)
        if (strcmp(PQgetvalue(res, r, 1), STATES[k]) == 0)
            v.state = k;
    if (v.state > 2) {
        s->host->set_error(err, NULL,
                           "the ledger in %s is corrupted: "
                           "capalloc_redemptions, %s: state '%.20s'",
                           s->where, where, PQgetvalue(res, r, 1));
        return CAPALLOC_ERR_IO;
    }
    capalloc_status st;
    if ((st = pgp_parse_stored(s, PQgetvalue(res, r, 2), &v.amount, err,
                               "capalloc_redemptions", where, "amount")) ||
        (st = pgp_parse_stored(s, PQgetvalue(res, r, 3), &v.paid, err,
                               "capalloc_redemptions", where, "paid")))
        return st;
    v.reference = PQgetisnull(res, r, 4) ? NULL : PQgetvalue(res, r, 4);
    snprintf(v.queued_at, sizeof v.queued_at, "%s", PQgetvalue(res, r, 5));
    snprintf(v.updated_at, sizeof v.updated_at, "%s", PQgetvalue(res, r, 6));
    return x->fn(x->ctx, &v);
}

capalloc_status pgp_read_redemptions(
    void *state, int open_only,
    capalloc_status (*fn)(void *ctx, const capalloc_redemption *r), void *ctx,
    capalloc_err *err)
{
    pgp *s = state;
    capalloc_status st = pgp_need_txn(s, 0, "read_redemptions", err);
    if (st != CAPALLOC_OK)
        return st;
    red_ctx x = {fn, ctx};
    const char *v[1] = {open_only ? "1" : "0"};
    return pgp_stream(s, s->sql[PGP_SQL_READ_RED], 1, v, red_row, &x, err,
                      "reading the queued redemptions");
}

typedef struct one_ctx {
    int64_t id;
    int found;
    capalloc_redemption r;
} one_ctx;

static capalloc_status pick(void *ctx, const capalloc_redemption *r)
{
    one_ctx *o = ctx;
    if (r->id == o->id) {
        o->r = *r;
        o->r.reference = NULL; /* borrowed: not kept */
        o->found = 1;
    }
    return CAPALLOC_OK;
}

capalloc_status pgp_redemption_op(void *state,
                                  const capalloc_redemption_op *op,
                                  int64_t *id_out, capalloc_err *err)
{
    pgp *s = state;
    const capalloc_host *h = s->host;
    capalloc_status st = pgp_need_txn(s, 1, "redemption_op", err);
    if (st != CAPALLOC_OK)
        return st;
    if (op == NULL || op->op > CAPALLOC_RED_OP_CANCEL ||
        (op->op != CAPALLOC_RED_OP_CANCEL && op->amount.micros <= 0) ||
        (op->reference != NULL && (*op->reference == '\0' ||
                                   strlen(op->reference) > CAPALLOC_REF_MAX))) {
        h->set_error(err, NULL, "redemption_op(): a bad operation");
        return CAPALLOC_ERR_INTERNAL;
    }
    char amt[CAPALLOC_DEC_MAX_TEXT];
    if (op->op == CAPALLOC_RED_OP_QUEUE) {
        const char *v[2] = {h->dec_format(op->amount, h->minor_units, amt,
                                          sizeof amt),
                            op->reference};
        PGresult *res = pgp_exec(s, s->sql[PGP_SQL_INSERT_RED], 2, v);
        if (!pgp_ok(res)) {
            const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
            if (c != NULL &&
                strcmp(c, "capalloc_redemptions_reference_key") == 0) {
                h->set_error(err, NULL,
                             "a redemption with reference '%.*s' is already "
                             "queued (%s)",
                             CAPALLOC_REF_MAX, op->reference, s->where);
                PQclear(res);
                return CAPALLOC_ERR_EXISTS;
            }
            return pgp_fail(s, res, err, "queueing a redemption");
        }
        if (id_out != NULL)
            *id_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return CAPALLOC_OK;
    }

    /* one round trip: the conditional UPDATE */
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)op->id);
    int pay = op->op == CAPALLOC_RED_OP_PAY;
    const char *v[3] = {id,
                        pay ? h->dec_format(op->amount, h->minor_units, amt,
                                            sizeof amt)
                            : "0",
                        pay ? "PAY" : "CANCEL"};
    PGresult *res = pgp_exec(s, s->sql[PGP_SQL_UPDATE_RED], 3, v);
    if (!pgp_ok(res))
        return pgp_fail(s, res, err, "updating redemption %s", id);
    int done = PQntuples(res) == 1;
    PQclear(res);
    if (!done) {
        /* why not: the row, by its key */
        one_ctx o = {op->id, 0, {0}};
        const char *kv[1] = {id};
        red_ctx x = {pick, &o};
        if ((st = pgp_stream(s, s->sql[PGP_SQL_READ_RED_ONE], 1, kv, red_row,
                             &x, err, "reading a queued redemption")) !=
            CAPALLOC_OK)
            return st;
        if (!o.found || o.r.state != CAPALLOC_RED_QUEUED)
            h->set_error(err, NULL, "redemption %lld %s", (long long)op->id,
                         !o.found ? "does not exist"
                         : o.r.state == CAPALLOC_RED_PAID ? "is already paid"
                                                          : "is cancelled");
        else
            h->set_error(err, NULL,
                         "redemption %lld: a payment above what is owed",
                         (long long)op->id);
        return CAPALLOC_ERR_INVALID;
    }
    if (id_out != NULL)
        *id_out = op->id;
    return CAPALLOC_OK;
}
