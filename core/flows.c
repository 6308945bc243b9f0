/*
 * flows.c - investors' flows beyond a plain ADD or WITHDRAW: the
 * investor-side reference that makes a capital movement idempotent, and
 * queued redemptions (below).
 *
 * A payment system or scheduler that times out retries. With a reference
 * (its own transaction id), the retry finds the movement already booked
 * and does nothing. Two guards, one per side:
 *   - inside the movement's WRITE transaction (the ledger lock held) the
 *     core looks the reference up: the same action and amount is a repeat
 *     (a no-op, exit 0), anything else is refused;
 *   - the storage backend keeps the reference under a unique key, so that
 *     even a writer that slipped past the look-up cannot book it twice
 *     (write() says CAPALLOC_ERR_EXISTS and engine_capital re-reads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

int flows_reference_valid(const char *ref, cap_error *e)
{
    size_t n = strlen(ref);
    if (n == 0 || n > CAPALLOC_REF_MAX)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "reference '%.*s%s' must have 1 to %d bytes",
                        40, ref, n > 40 ? "..." : "", CAPALLOC_REF_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ref[i];
        if (c < 0x20 || c == 0x7f)
            return cap_fail(e, CAP_EXIT_USAGE,
                            "reference '%.*s...' has a control character at "
                            "byte %zu",
                            (int)(i < 40 ? i : 40), ref, i + 1);
    }
    return 0;
}

int flows_storage_has_refs(const engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    return CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                              find_reference) &&
           sp->find_reference != NULL;
}

int flows_reference_check(engine *en, cap_action action, capalloc_dec amount,
                          const char *ref, capital_result *r, cap_error *e)
{
    capalloc_capital_ref cr;
    capalloc_err err = {{0}, {0}};
    int found = 0;
    capalloc_status st =
        SP(en)->find_reference(en->storage->state, ref, &cr, &found, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "looking up the reference", e);
    if (!found)
        return 0;
    const char *an = action == CAP_ADD ? "ADD" : "WITHDRAW";
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    if (strcmp(cr.action, an) != 0 || dec_cmp(cr.amount, amount) != 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "reference '%s' is already booked as %s %s %s (run "
                        "%lld, %s), not %s %s %s: refused, nothing was "
                        "written",
                        ref, cr.action, dec_format(cr.amount, mu, a, sizeof a),
                        en->cfg->currency, (long long)cr.run_id,
                        cr.created_at, an,
                        dec_format(amount, mu, b, sizeof b),
                        en->cfg->currency);
    }
    r->repeat = 1;
    r->ref_run_id = cr.run_id;
    snprintf(r->ref_created_at, sizeof r->ref_created_at, "%s",
             cr.created_at);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* queued redemptions                                                        */
/* ------------------------------------------------------------------------ */
/*
 * A withdrawal the master cannot pay today is queued (`capital withdraw
 * --queue`). The next allocation computes the strategies' targets on total
 * equity less the queued amount (rules.h), raises that cash from the
 * strategies' cash and, in the same transaction, pays the redemptions out
 * of the master as a WITHDRAW, oldest first.
 *
 * The partial payout rule: a run pays min(owed, the master's cash after
 * the run's transfers). When a strategy's excess sits in positions, only
 * its cash comes back (alloc.h rule 2), so the master may hold less than
 * is owed: it then pays all it holds, the oldest redemption first, and
 * the rest stays queued; later runs pay it as the strategies' positions
 * turn into cash. The cash buffer does not hold back a redemption, and
 * while one is queued the master funds no strategy from the cash it needs.
 */

int flows_storage_has_redemptions(const engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    return CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                              redemption_op) &&
           sp->read_redemptions != NULL && sp->redemption_op != NULL;
}

void redemption_list_free(redemption_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->rows[i].reference);
    free(l->rows);
    memset(l, 0, sizeof *l);
}

static capalloc_status collect(void *ctx, const capalloc_redemption *r)
{
    redemption_list *l = ctx;
    if (GROW(l->rows, l->n, l->cap))
        return CAPALLOC_ERR_NOMEM;
    redemption_row *w = &l->rows[l->n];
    memset(w, 0, sizeof *w);
    w->id = r->id;
    w->state = (capalloc_redemption_state)r->state;
    w->amount = r->amount;
    w->paid = r->paid;
    snprintf(w->queued_at, sizeof w->queued_at, "%s", r->queued_at);
    snprintf(w->updated_at, sizeof w->updated_at, "%s", r->updated_at);
    if (r->reference != NULL && (w->reference = strdup(r->reference)) == NULL)
        return CAPALLOC_ERR_NOMEM;
    l->n++;
    return CAPALLOC_OK;
}

/* Keep row i of l alone. */
static void keep_only(redemption_list *l, size_t i)
{
    redemption_row keep = l->rows[i];
    l->rows[i].reference = NULL;
    for (size_t k = 0; k < l->n; k++)
        free(l->rows[k].reference);
    l->rows[0] = keep;
    l->n = 1;
}

/* In an open transaction: 0, -1 retry, or an exit code (rolled back). */
static int read_list(engine *en, int open_only, redemption_list *l,
                     cap_error *e)
{
    redemption_list_free(l);
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->read_redemptions(en->storage->state,
                                                  open_only, collect, l, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st == CAPALLOC_ERR_NOMEM) {
        eng_rollback(en);
        return eng_oom(e);
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "reading the queued redemptions",
                                e);
    return 0;
}

static int op(engine *en, const capalloc_redemption_op *o, int64_t *id,
              cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->redemption_op(en->storage->state, o, id,
                                               &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "updating the queued "
                                              "redemptions (rolled back)",
                                e);
    return 0;
}

/* Commit a transaction that wrote no batch: 0, -1 retry, or an exit code. */
static int commit(engine *en, cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->commit(en->storage->state, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "committing", e);
    return 0;
}

static int need_redemptions(engine *en, cap_error *e)
{
    if (flows_storage_has_redemptions(en))
        return 0;
    return cap_fail(e, CAP_EXIT_CONFIG,
                    "storage '%s' keeps no queued redemptions (it speaks ABI "
                    "%u.%u, queued redemptions need 1.2): nothing was written",
                    en->storage->hdr->name, (unsigned)SP(en)->header.abi_major,
                    (unsigned)SP(en)->header.abi_minor);
}

static int check_amount(const engine *en, capalloc_dec amount, cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    capalloc_dec q;
    if (amount.micros <= 0)
        return cap_fail(e, CAP_EXIT_USAGE, "amount %s must be positive",
                        dec_format(amount, 0, a, sizeof a));
    if (dec_quantize(amount, en->cfg->minor_units, CAPALLOC_ROUND_DOWN, &q) ||
        dec_cmp(q, amount) != 0)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "amount %s has more decimal places than %s allows "
                        "(%d)",
                        dec_format(amount, 0, a, sizeof a), en->cfg->currency,
                        en->cfg->minor_units);
    return 0;
}

int engine_redemption_queue(engine *en, capalloc_dec amount,
                            const char *reference, int dry_run,
                            redemption_list *l, cap_error *e)
{
    memset(l, 0, sizeof *l);
    int rc;
    if ((rc = check_amount(en, amount, e)) ||
        (reference != NULL && (rc = flows_reference_valid(reference, e))))
        return rc;
    if (en->storage->state == NULL && (rc = plugin_create(en->storage, e)))
        return rc;
    if ((rc = need_redemptions(en, e)))
        return rc;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    for (int attempt = 1; attempt <= en->max_attempts; attempt++) {
        rc = eng_begin(en, CAPALLOC_TXN_WRITE, e);
        if (rc < 0)
            continue;
        if (rc > 0)
            return rc;
        if (reference != NULL) {
            if ((rc = read_list(en, 0, l, e)) < 0)
                continue;
            if (rc > 0)
                return rc;
            for (size_t i = 0; i < l->n; i++) {
                redemption_row *w = &l->rows[i];
                if (w->reference == NULL || strcmp(w->reference, reference))
                    continue;
                eng_rollback(en);
                if (dec_cmp(w->amount, amount) != 0)
                    return cap_fail(e, CAP_EXIT_USAGE,
                                    "reference '%s' is already queued as "
                                    "redemption %lld of %s %s, not %s %s: "
                                    "refused, nothing was written",
                                    reference, (long long)w->id,
                                    dec_format(w->amount, mu, a, sizeof a),
                                    en->cfg->currency,
                                    dec_format(amount, mu, b, sizeof b),
                                    en->cfg->currency);
                keep_only(l, i);
                l->repeat = 1;
                return 0;
            }
            redemption_list_free(l);
        }
        if (dry_run) {
            eng_rollback(en);
            if (GROW(l->rows, l->n, l->cap))
                return eng_oom(e);
            memset(&l->rows[0], 0, sizeof l->rows[0]);
            l->rows[0].amount = amount;
            l->n = 1;
            return 0;
        }
        capalloc_redemption_op o = {CAPALLOC_RED_OP_QUEUE, 0, amount,
                                    reference};
        int64_t id = 0;
        if ((rc = op(en, &o, &id, e)) < 0)
            continue;
        if (rc > 0)
            return rc;
        if ((rc = read_list(en, 1, l, e)) < 0)
            continue;
        if (rc > 0)
            return rc;
        if ((rc = commit(en, e)) < 0)
            continue;
        if (rc > 0)
            return rc;
        /* keep only the new one */
        for (size_t i = 0; i < l->n; i++) {
            if (l->rows[i].id == id) {
                keep_only(l, i);
                return 0;
            }
        }
        return cap_fail(e, CAP_EXIT_STORAGE,
                        "queued redemption %lld was not read back",
                        (long long)id);
    }
    return eng_retries_exhausted(en, e);
}

int engine_redemptions(engine *en, int open_only, redemption_list *l,
                       cap_error *e)
{
    memset(l, 0, sizeof *l);
    int rc;
    if (en->storage->state == NULL && (rc = plugin_create(en->storage, e)))
        return rc;
    if ((rc = need_redemptions(en, e)))
        return rc;
    for (int attempt = 1; attempt <= en->max_attempts; attempt++) {
        rc = eng_begin(en, CAPALLOC_TXN_READ, e);
        if (rc < 0)
            continue;
        if (rc > 0)
            return rc;
        if ((rc = read_list(en, open_only, l, e)) < 0)
            continue;
        if (rc == 0)
            eng_rollback(en);
        return rc;
    }
    return eng_retries_exhausted(en, e);
}

int engine_redemption_cancel(engine *en, int64_t id, redemption_list *l,
                             cap_error *e)
{
    memset(l, 0, sizeof *l);
    int rc;
    if (en->storage->state == NULL && (rc = plugin_create(en->storage, e)))
        return rc;
    if ((rc = need_redemptions(en, e)))
        return rc;
    for (int attempt = 1; attempt <= en->max_attempts; attempt++) {
        rc = eng_begin(en, CAPALLOC_TXN_WRITE, e);
        if (rc < 0)
            continue;
        if (rc > 0)
            return rc;
        if ((rc = read_list(en, 0, l, e)) < 0)
            continue;
        if (rc > 0)
            return rc;
        size_t i;
        for (i = 0; i < l->n && l->rows[i].id != id; i++)
            ;
        if (i == l->n || l->rows[i].state != CAPALLOC_RED_QUEUED) {
            eng_rollback(en);
            int none = i == l->n;
            int paid = !none && l->rows[i].state == CAPALLOC_RED_PAID;
            redemption_list_free(l);
            return cap_fail(e, CAP_EXIT_USAGE,
                            "redemption %lld %s: nothing to cancel, nothing "
                            "was written",
                            (long long)id,
                            none   ? "does not exist"
                            : paid ? "is already paid"
                                   : "is already cancelled");
        }
        capalloc_redemption_op o = {CAPALLOC_RED_OP_CANCEL, id, DEC_ZERO,
                                    NULL};
        if ((rc = op(en, &o, NULL, e)) < 0)
            continue;
        if (rc > 0)
            return rc;
        if ((rc = commit(en, e)) < 0)
            continue;
        if (rc > 0)
            return rc;
        keep_only(l, i);
        return 0;
    }
    return eng_retries_exhausted(en, e);
}

/* ---- the allocation's side ---------------------------------------------- */

int flows_read_open(engine *en, alloc_report *r, cap_error *e)
{
    free(r->reds);
    r->reds = NULL;
    r->n_reds = 0;
    r->queued = r->paid_out = DEC_ZERO;
    if (!flows_storage_has_redemptions(en))
        return 0;
    redemption_list l = {0};
    int rc = read_list(en, 1, &l, e);
    if (rc != 0) {
        redemption_list_free(&l);
        return rc;
    }
    if (l.n > 0 && (r->reds = calloc(l.n, sizeof *r->reds)) == NULL) {
        redemption_list_free(&l);
        eng_rollback(en);
        return eng_oom(e);
    }
    for (size_t i = 0; i < l.n; i++) {
        red_pay *p = &r->reds[i];
        p->id = l.rows[i].id;
        if (dec_sub(l.rows[i].amount, l.rows[i].paid, &p->owed) ||
            dec_add(r->queued, p->owed, &r->queued)) {
            redemption_list_free(&l);
            eng_rollback(en);
            return cap_fail(e, CAP_EXIT_STORAGE,
                            "the queued redemptions overflow");
        }
    }
    r->n_reds = l.n;
    redemption_list_free(&l);
    return 0;
}

void flows_plan_payout(alloc_report *r)
{
    capalloc_dec left = r->totals.master_after;
    r->paid_out = DEC_ZERO;
    for (size_t i = 0; i < r->n_reds; i++) {
        red_pay *p = &r->reds[i];
        p->pay = dec_cmp(p->owed, left) <= 0 ? p->owed : left;
        dec_sub(left, p->pay, &left);
        dec_add(r->paid_out, p->pay, &r->paid_out);
    }
}

int flows_write_with_payout(engine *en, const capalloc_write_batch *alloc,
                            const alloc_report *r, cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    int rc = eng_write(en, alloc, e);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < r->n_reds; i++) {
        if (dec_is_zero(r->reds[i].pay))
            continue;
        capalloc_redemption_op o = {CAPALLOC_RED_OP_PAY, r->reds[i].id,
                                    r->reds[i].pay, NULL};
        if ((rc = op(en, &o, NULL, e)) != 0)
            return rc;
    }
    /* The master's balance after the payout: from the balance the
     * ALLOCATE batch just set (the caller's r->totals.master_after only
     * when the batch leaves the master's book alone), never below 0. */
    capalloc_dec before = r->totals.master_after, after;
    for (size_t i = 0; i < alloc->n_cash; i++)
        if (strcmp(alloc->cash[i].portfolio_id, cfg->master_id) == 0)
            before = alloc->cash[i].cash;
    if (dec_sub(before, r->paid_out, &after) || dec_is_neg(after)) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_FUNDS,
                        "the redemption payout exceeds the master's cash of "
                        "'%s'; nothing was written",
                        cfg->master_id);
    }
    capalloc_trade t = {cfg->master_id, en->cash_ticker, CAPALLOC_SELL,
                        r->paid_out, dec_from_int(1), dec_from_int(1)};
    capalloc_cash_row c = {cfg->master_id, after};
    capalloc_write_batch wb = {"WITHDRAW", NULL, 0, cfg->currency, &t, 1, &c,
                               1, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    return eng_write_commit(en, &wb, e);
}
