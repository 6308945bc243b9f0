/*
 * plan.c - the plan's ledger state (its fingerprint), the freshness check
 * and the apply: the only code that runs under the write lock of an
 * allocation (plan.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decimal.h"
#include "plan.h"

/* ------------------------------------------------------------------------ */
/* the state and its fingerprint                                             */
/* ------------------------------------------------------------------------ */

void plan_state_free(plan_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->books[i].id);
    free(st->books);
    memset(st, 0, sizeof *st);
}

static void h_str(sha256_ctx *c, const char *s)
{
    sha256_update(c, s, strlen(s));
}

static void h_dec(sha256_ctx *c, capalloc_dec d)
{
    char buf[48];
    h_str(c, dec_format(d, 0, buf, sizeof buf));
}

static void h_int(sha256_ctx *c, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    h_str(c, buf);
}

static void h_done(sha256_ctx *c, char out[SHA256_HEX_LEN + 1])
{
    unsigned char d[SHA256_LEN];
    sha256_final(c, d);
    sha256_hex(d, out);
}

static int cmp_pos_ref(const void *a, const void *b)
{
    const pos_row *x = *(const pos_row *const *)a,
                  *y = *(const pos_row *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->ticker, y->ticker);
}

static plan_book *add_book(plan_state *st, const char *id)
{
    if (GROW(st->books, st->n, st->cap))
        return NULL;
    plan_book *b = &st->books[st->n];
    memset(b, 0, sizeof *b);
    if ((b->id = strdup(id)) == NULL)
        return NULL;
    st->n++;
    return b;
}

/* The open redemptions, as the plan pays them: id and what is owed. */
static void reds_digest(const red_pay *reds, size_t n_reds,
                        char out[SHA256_HEX_LEN + 1])
{
    sha256_ctx h;
    sha256_init(&h);
    for (size_t k = 0; k < n_reds; k++) {
        h_int(&h, reds[k].id);
        h_str(&h, "\t");
        h_dec(&h, reds[k].owed);
        h_str(&h, "\n");
    }
    h_done(&h, out);
}

int plan_state_make(const ledger *l, int64_t date_run, const red_pay *reds,
                    size_t n_reds, const val_set *vs, int with_pos,
                    plan_state *st)
{
    memset(st, 0, sizeof *st);
    st->no_pos = !with_pos;
    size_t n_pos = with_pos ? l->n_pos : 0; /* else: the cash rows only */
    const pos_row **pp = calloc(n_pos ? n_pos : 1, sizeof *pp);
    if (pp == NULL)
        return -1;
    int sorted = 1;
    for (size_t i = 0; i < n_pos; i++) {
        pp[i] = &l->pos[i];
        if (sorted && i > 0 && cmp_pos_ref(&pp[i - 1], &pp[i]) > 0)
            sorted = 0;
    }
    /* backends usually return them in key order: then no sort */
    if (!sorted)
        sort_rows(pp, n_pos, sizeof *pp, cmp_pos_ref);
    /* merge the cash rows (sorted by read_ledger) with the position
     * groups: one book per portfolio */
    size_t i = 0, j = 0;
    int bad = 0;
    while (!bad && (i < l->n_cash || j < n_pos)) {
        int c = i == l->n_cash   ? 1
                : j == n_pos ? -1
                                 : strcmp(l->cash[i].id, pp[j]->id);
        const char *id = c <= 0 ? l->cash[i].id : pp[j]->id;
        plan_book *b = add_book(st, id);
        if (b == NULL) {
            bad = 1;
            break;
        }
        if (c <= 0) {
            b->has_cash = 1;
            b->cash = l->cash[i++].cash;
        }
        if (c >= 0) {
            sha256_ctx h;
            sha256_init(&h);
            /* ticker, NUL, the quantity's micros as 8 bytes big-endian */
            for (; j < n_pos && strcmp(pp[j]->id, id) == 0; j++) {
                unsigned char q[8];
                uint64_t m = (uint64_t)pp[j]->qty.micros;
                for (int k = 7; k >= 0; k--, m >>= 8)
                    q[k] = (unsigned char)(m & 0xff);
                sha256_update(&h, pp[j]->ticker, strlen(pp[j]->ticker) + 1);
                sha256_update(&h, q, sizeof q);
            }
            h_done(&h, b->pos);
        }
    }
    free(pp);
    if (bad) {
        plan_state_free(st);
        return -1;
    }
    st->date_run = date_run;
    reds_digest(reds, n_reds, st->reds);
    sha256_ctx h;
    sha256_init(&h);
    for (size_t k = 0; vs != NULL && k < vs->n; k++) {
        const capalloc_valuation *v = &vs->v[k];
        if (v->run_id > st->last_run)
            st->last_run = v->run_id;
        h_int(&h, v->run_id);
        h_str(&h, "\t");
        h_str(&h, v->date ? v->date : "");
        h_str(&h, "\t");
        h_str(&h, v->portfolio_id ? v->portfolio_id : "");
        h_str(&h, "\t");
        h_int(&h, v->flags);
        const capalloc_dec d[] = {v->cash,   v->positions_value, v->nav,
                                  v->weight, v->target, v->transfer,
                                  v->shortfall};
        for (size_t q = 0; q < sizeof d / sizeof *d; q++) {
            h_str(&h, "\t");
            h_dec(&h, d[q]);
        }
        h_str(&h, "\n");
    }
    h_done(&h, st->history);
    plan_state_finish(st);
    return 0;
}

void plan_state_finish(plan_state *st)
{
    sha256_ctx h;
    sha256_init(&h);
    h_str(&h, "capalloc plan state 1\n");
    for (size_t i = 0; i < st->n; i++) {
        const plan_book *b = &st->books[i];
        h_str(&h, "book\t");
        h_str(&h, b->id);
        h_str(&h, "\t");
        if (b->has_cash)
            h_dec(&h, b->cash);
        else
            h_str(&h, "-");
        h_str(&h, "\t");
        h_str(&h, b->pos[0] ? b->pos : "-");
        h_str(&h, "\n");
    }
    h_str(&h, "date_run\t");
    h_int(&h, st->date_run);
    h_str(&h, "\nlast_run\t");
    h_int(&h, st->last_run);
    h_str(&h, "\nredemptions\t");
    h_str(&h, st->reds);
    h_str(&h, "\nhistory\t");
    h_str(&h, st->history);
    h_str(&h, "\n");
    if (st->history_points != 0) {
        h_str(&h, "history_points\t");
        h_int(&h, st->history_points);
        h_str(&h, "\n");
    }
    h_done(&h, st->fingerprint);
}

static void say(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static void say(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at >= len)
        return;
    if (*at > 0) {
        int k = snprintf(buf + *at, len - *at, "; ");
        *at += k > 0 ? (size_t)k : 0;
        if (*at >= len)
            return;
    }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    *at += k > 0 ? (size_t)k : 0;
}

static void cash_text(const plan_book *b, int mu, char *out, size_t len)
{
    if (b == NULL || !b->has_cash)
        snprintf(out, len, "(no book)");
    else
        dec_format(b->cash, mu, out, len);
}

void plan_state_diff(const plan_state *was, const plan_state *now,
                     int minor_units, char *buf, size_t len)
{
    size_t at = 0, shown = 0, more = 0;
    buf[0] = '\0';
    size_t i = 0, j = 0;
    while (i < was->n || j < now->n) {
        int c = i == was->n   ? 1
                : j == now->n ? -1
                              : strcmp(was->books[i].id, now->books[j].id);
        const plan_book *a = c <= 0 ? &was->books[i] : NULL,
                        *b = c >= 0 ? &now->books[j] : NULL;
        const char *id = a ? a->id : b->id;
        int cash_differs = (a && a->has_cash) != (b && b->has_cash) ||
                           (a && b && a->has_cash &&
                            dec_cmp(a->cash, b->cash) != 0);
        int pos_differs = strcmp(a ? a->pos : "", b ? b->pos : "") != 0;
        if (cash_differs || pos_differs) {
            if (shown >= 5) {
                more++;
            } else {
                char x[48], y[48];
                cash_text(a, minor_units, x, sizeof x);
                cash_text(b, minor_units, y, sizeof y);
                if (cash_differs)
                    say(buf, len, &at, "balance of '%s' %s -> %s", id, x, y);
                if (pos_differs)
                    say(buf, len, &at, "positions of '%s'", id);
                shown++;
            }
        }
        i += c <= 0;
        j += c >= 0;
    }
    if (more)
        say(buf, len, &at, "%zu more portfolios", more);
    if (was->date_run != now->date_run)
        say(buf, len, &at, "a new run id %" PRId64 " recorded for the "
                           "plan's date", now->date_run);
    if (was->last_run != now->last_run)
        say(buf, len, &at, "a new run id %" PRId64 " in the recorded "
                           "history (was %" PRId64 ")",
            now->last_run, was->last_run);
    else if (strcmp(was->history, now->history) != 0)
        say(buf, len, &at, "the recorded history");
    if (strcmp(was->reds, now->reds) != 0)
        say(buf, len, &at, "the queued redemptions");
    if (at == 0 && was->no_pos)
        say(buf, len, &at, "the ledger's change stamp moved (a write to the "
                           "positions, the books or the runs)");
    else if (at == 0)
        say(buf, len, &at, "the ledger's state (fingerprint %.12s -> %.12s)",
            was->fingerprint, now->fingerprint);
}

/* ------------------------------------------------------------------------ */
/* freshness                                                                 */
/* ------------------------------------------------------------------------ */

static int has_stamp(const engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    return CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                              ledger_stamp) &&
           sp->ledger_stamp != NULL;
}

/* The stamp, in the open transaction: 0, -1 retry, or an exit code. */
static int read_stamp(engine *en, int64_t *stamp, cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->ledger_stamp(en->storage->state, stamp, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err,
                                "reading the ledger's change stamp", e);
    return 0;
}

int plan_stamp_kept(const engine *en)
{
    return has_stamp(en);
}

int plan_state_stamp(engine *en, plan_state *st, cap_error *e)
{
    st->has_stamp = 0;
    if (!has_stamp(en))
        return 0;
    int rc = read_stamp(en, &st->stamp, e);
    if (rc == 0)
        st->has_stamp = 1;
    return rc;
}

/* The stamp under the write lock (on postgres it also locks the stamp's
 * row: every other writer of the books or the runs waits for our commit,
 * their triggers run before their statements). Equal to the plan's: no
 * writer changed the books, the positions, the runs, the recorded
 * valuations or the queued redemptions since the plan's read, so the full
 * re-read is skipped (the open redemptions are compared too: one small
 * query). *fresh = 1 then. */
static int stamp_fresh(engine *en, const plan_state *st, int *fresh,
                       cap_error *e)
{
    *fresh = 0;
    if (!st->has_stamp || !has_stamp(en))
        return 0;
    int64_t now = 0;
    int rc = read_stamp(en, &now, e);
    if (rc != 0 || now != st->stamp)
        return rc;
    alloc_report tmp;
    memset(&tmp, 0, sizeof tmp);
    if ((rc = flows_read_open(en, &tmp, e)) != 0)
        return rc;
    char reds[SHA256_HEX_LEN + 1];
    reds_digest(tmp.reds, tmp.n_reds, reds);
    free(tmp.reds);
    *fresh = strcmp(reds, st->reds) == 0;
    return 0;
}

int plan_check_fresh(engine *en, const char *run_date,
                     const alloc_strategy *s, size_t n,
                     const plan_state *st, plan_state *now, cap_error *e)
{
    memset(now, 0, sizeof *now);
    int fresh = 0;
    int rc = stamp_fresh(en, st, &fresh, e);
    if (rc != 0 || fresh) {
        if (fresh)
            eng_progress(en, "the ledger's change stamp is the plan's (%lld): "
                             "not read again",
                         (long long)st->stamp);
        return rc;
    }
    /* The full re-read: the ledger (every cash row locked), the date's
     * run, the open redemptions and the policy's history. */
    capalloc_err err = {{0}, {0}};
    capalloc_run_info info;
    int found = 0;
    capalloc_status sst = SP(en)->find_run(en->storage->state, run_date,
                                           &info, &found, &err);
    if (sst == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (sst != CAPALLOC_OK)
        return eng_storage_fail(en, sst, &err, "looking up earlier runs", e);
    ledger l = {0};
    rc = read_ledger(en, &l, e);
    if (rc != 0) {
        if (rc < 0)
            eng_rollback(en);
        return rc;
    }
    alloc_report tmp;
    memset(&tmp, 0, sizeof tmp);
    if ((rc = flows_read_open(en, &tmp, e)) != 0) {
        ledger_free(&l);
        return rc;
    }
    /* the history as deep as the plan read it (apply starts no policy
     * stack: en->history_points is the plan's only through its state) */
    run_history rh;
    uint32_t depth = en->history_points;
    en->history_points = st->history_points;
    rc = read_run_history(en, run_date, s, n, &rh, e);
    en->history_points = depth;
    if (rc != 0) {
        free(tmp.reds);
        ledger_free(&l);
        return rc;
    }
    rc = plan_state_make(&l, found ? info.run_id : 0, tmp.reds, tmp.n_reds,
                         &rh.vs, !st->no_pos, now);
    if (rc == 0) {
        now->history_points = st->history_points;
        plan_state_finish(now);
    }
    run_history_free(&rh);
    free(tmp.reds);
    ledger_free(&l);
    if (rc != 0) {
        eng_rollback(en);
        return eng_oom(e);
    }
    /* without the positions' digest the stamp decides: it moved */
    return st->no_pos || strcmp(now->fingerprint, st->fingerprint) != 0;
}

/* ------------------------------------------------------------------------ */
/* apply                                                                     */
/* ------------------------------------------------------------------------ */

static int cmp_book_id(const void *a, const void *b)
{
    return strcmp(((const plan_book *)a)->id, ((const plan_book *)b)->id);
}

static const plan_book *state_book(const plan_state *st, const char *id)
{
    plan_book key = {(char *)id, 0, {0}, {0}};
    return find_row(&key, st->books, st->n, sizeof *st->books, cmp_book_id);
}

static int cmp_cash_ref(const void *a, const void *b)
{
    return strcmp((*(const capalloc_cash_row *const *)a)->portfolio_id,
                  (*(const capalloc_cash_row *const *)b)->portfolio_id);
}

/* The batch against the state it was planned from: every new balance >= 0,
 * each portfolio's balance moves by exactly its transfer rows, the cash
 * rows conserve the fund's cash (the payout: payout_recheck).
 * Sorted once, each row looked up: no quadratic loop. */
static int recheck(const engine *en, const plan_write *w,
                   const plan_state *st, cap_error *e)
{
    capalloc_dec before = DEC_ZERO, after = DEC_ZERO, net = DEC_ZERO;
    int over = 0, rc = 0;
    const capalloc_cash_row **cr = calloc(w->n_cash + 1, sizeof *cr);
    capalloc_dec *moved = calloc(w->n_cash + 1, sizeof *moved);
    if (cr == NULL || moved == NULL) {
        free(cr);
        free(moved);
        return eng_oom(e);
    }
    for (size_t i = 0; i < w->n_cash; i++)
        cr[i] = &w->cash[i];
    sort_rows(cr, w->n_cash, sizeof *cr, cmp_cash_ref);
    for (size_t i = 0; rc == 0 && i + 1 < w->n_cash; i++)
        if (strcmp(cr[i]->portfolio_id, cr[i + 1]->portfolio_id) == 0)
            rc = cap_fail(e, CAP_EXIT_PLAN,
                          "the plan sets the balance of '%s' twice; "
                          "nothing was written",
                          cr[i]->portfolio_id);
    for (size_t k = 0; rc == 0 && k < w->n_trades; k++) {
        const capalloc_trade *t = &w->trades[k];
        capalloc_cash_row key = {t->portfolio_id, DEC_ZERO};
        const capalloc_cash_row *kp = &key;
        const capalloc_cash_row **hit =
            find_row(&kp, cr, w->n_cash, sizeof *cr, cmp_cash_ref);
        if (strcmp(t->ticker, en->cash_ticker) != 0 ||
            dec_is_neg(t->quantity) || dec_is_zero(t->quantity))
            rc = cap_fail(e, CAP_EXIT_PLAN,
                          "the plan's transfer row %zu ('%s' %s) is not "
                          "a positive %s movement; nothing was written",
                          k + 1, t->portfolio_id, t->ticker,
                          en->cash_ticker);
        else if (hit == NULL)
            rc = cap_fail(e, CAP_EXIT_PLAN,
                          "the plan moves cash of '%s' without a new "
                          "balance; nothing was written",
                          t->portfolio_id);
        else {
            capalloc_dec *m = &moved[hit - cr];
            over |= t->side == CAPALLOC_BUY ? dec_add(*m, t->quantity, m)
                                            : dec_sub(*m, t->quantity, m);
            over |= t->side == CAPALLOC_BUY
                        ? dec_add(net, t->quantity, &net)
                        : dec_sub(net, t->quantity, &net);
        }
    }
    for (size_t i = 0; rc == 0 && i < w->n_cash; i++) {
        const capalloc_cash_row *c = cr[i];
        const plan_book *b = state_book(st, c->portfolio_id);
        capalloc_dec old = b && b->has_cash ? b->cash : DEC_ZERO, want;
        if (dec_is_neg(c->cash))
            rc = cap_fail(e, CAP_EXIT_PLAN,
                          "the plan would leave '%s' with a negative "
                          "balance; nothing was written",
                          c->portfolio_id);
        over |= dec_add(before, old, &before) ||
                dec_add(after, c->cash, &after) ||
                dec_sub(c->cash, old, &want);
        if (rc == 0 && !over && dec_cmp(moved[i], want) != 0)
            rc = cap_fail(e, CAP_EXIT_PLAN,
                          "the plan's transfers for '%s' do not match "
                          "its new balance; nothing was written",
                          c->portfolio_id);
    }
    free(cr);
    free(moved);
    if (rc != 0)
        return rc;
    if (over || dec_cmp(before, after) != 0 || !dec_is_zero(net))
        return cap_fail(e, CAP_EXIT_PLAN,
                        "the plan does not conserve the fund's cash; "
                        "nothing was written");
    return 0;
}

/* The master's balance once the ALLOCATE batch is written: its cash row
 * in the batch, else its balance in the (fresh) planned state. */
static capalloc_dec master_planned(const engine *en, const plan_write *w,
                                   const plan_state *st)
{
    const char *m = en->cfg->master_id;
    for (size_t i = 0; i < w->n_cash; i++)
        if (strcmp(w->cash[i].portfolio_id, m) == 0)
            return w->cash[i].cash;
    const plan_book *b = state_book(st, m);
    return b && b->has_cash ? b->cash : DEC_ZERO;
}

/* The payout, recomputed under the write lock: the open redemptions read
 * now, paid oldest first out of the master's balance the ALLOCATE batch
 * sets (flows_plan_payout). Nothing of the plan's payout is trusted: it
 * must be exactly this (same ids, same order, same amounts), and *out is
 * what is written. 0, -1 retry, or an exit code (rolled back). */
static int payout_recheck(engine *en, const plan_write *w,
                          const plan_state *st, alloc_report *out,
                          cap_error *e)
{
    memset(out, 0, sizeof *out);
    int rc = flows_read_open(en, out, e);
    if (rc != 0)
        return rc;
    out->totals.master_after = master_planned(en, w, st);
    flows_plan_payout(out);
    const alloc_report *p = w->payout;
    size_t n = p ? p->n_reds : 0;
    capalloc_dec paid = p ? p->paid_out : DEC_ZERO;
    const char *why = NULL;
    int64_t bad_id = 0;
    if (n != out->n_reds)
        why = "it lists another set of open redemptions";
    for (size_t k = 0; why == NULL && k < n; k++) {
        bad_id = p->reds[k].id;
        if (p->reds[k].id != out->reds[k].id)
            why = "it pays a redemption that is not the next open one";
        else if (dec_cmp(p->reds[k].pay, out->reds[k].pay) != 0 ||
                 dec_cmp(p->reds[k].owed, out->reds[k].owed) != 0)
            why = "it pays another amount than is owed and the master "
                  "holds";
    }
    if (why == NULL && (dec_cmp(paid, out->paid_out) != 0 ||
                        (p && dec_cmp(p->totals.master_after,
                                      out->totals.master_after) != 0))) {
        why = "its master_after or paid_out is not the master's planned "
              "balance or what it pays";
        bad_id = 0;
    }
    if (why == NULL)
        return 0;
    eng_rollback(en);
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c[CAPALLOC_DEC_MAX_TEXT], id[40] = "";
    int mu = en->cfg->minor_units;
    if (bad_id != 0)
        snprintf(id, sizeof id, " at redemption %lld", (long long)bad_id);
    int rc2 = cap_fail(e, CAP_EXIT_PLAN,
                       "the plan's redemption payout is not what the open "
                       "redemptions and the master's planned balance give: "
                       "%s%s (the plan pays %s, the ledger gives %s out of "
                       "'%s' %s); nothing was written",
                       why, id, dec_format(paid, mu, a, sizeof a),
                       dec_format(out->paid_out, mu, b, sizeof b),
                       en->cfg->master_id,
                       dec_format(out->totals.master_after, mu, c, sizeof c));
    free(out->reds);
    memset(out, 0, sizeof *out);
    return rc2;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int plan_apply(engine *en, const plan_write *w, const plan_state *st,
               const alloc_strategy *s, size_t n, int approved,
               cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    double t0 = now_s();
    int rc = eng_begin(en, CAPALLOC_TXN_WRITE, e);
    if (rc != 0)
        return rc;
    eng_progress(en, "write lock taken");
    plan_state now;
    rc = plan_check_fresh(en, w->run_date, s, n, st, &now, e);
    if (rc == 1) {
        eng_rollback(en);
        char what[1024];
        plan_state_diff(st, &now, cfg->minor_units, what, sizeof what);
        plan_state_free(&now);
        double held = now_s() - t0;
        eng_progress(en, "write lock held %.3f s (the plan was stale: %s)",
                     held, what);
        if (!approved)
            return -1;
        return cap_fail(e, CAP_EXIT_PLAN,
                        "the plan is stale: the ledger changed since it "
                        "was made (%s); nothing was written, make a new "
                        "plan",
                        what);
    }
    plan_state_free(&now);
    if (rc != 0)
        return rc;
    eng_progress(en, "the ledger is as planned (fingerprint %.12s...)",
                 st->fingerprint);
    if ((rc = recheck(en, w, st, e)) != 0) {
        eng_rollback(en);
        return rc;
    }
    alloc_report pay;
    if ((rc = payout_recheck(en, w, st, &pay, e)) != 0)
        return rc;
    capalloc_write_batch wb = {"ALLOCATE", w->run_date, w->forced,
                               cfg->currency, w->trades, w->n_trades,
                               w->cash, w->n_cash, NULL, 0, w->record, NULL,
                               NULL, NULL, NULL, NULL, NULL, 0};
    eng_progress(en, "writing %zu transfer rows, %zu balances and the "
                     "run's record",
                 w->n_trades, w->n_cash);
    rc = pay.paid_out.micros > 0 ? flows_write_with_payout(en, &wb, &pay, e)
                                 : eng_write_commit(en, &wb, e);
    free(pay.reds);
    double held = now_s() - t0;
    if (rc == 0)
        eng_progress(en, "committed; write lock held %.3f s", held);
    return rc;
}
