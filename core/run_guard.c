/*
 * run_guard.c - a large move is a question, not a transfer.
 *
 * With `rebalance: {max_nav_move: F}`, the allocation compares each
 * strategy's NAV now with what the fund last recorded for it: the NAV of
 * its latest recorded valuation plus the transfer that run made (the
 * valuation is taken before the transfers). When |now / then - 1| > F (a
 * bad price, a missing position, a fat-fingered import), the run stops
 * before any write (exit 9, CAP_EXIT_REVIEW), naming the strategy, its old
 * and new NAV and the tickers that moved most (quantity held x the change
 * of price since that run's recorded price). `allocate --accept-moves`
 * runs it all the same, and the run's record says which moves were
 * accepted. A strategy with no recorded valuation, or none above zero, is
 * not checked; neither is a fund whose storage keeps no record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decimal.h"
#include "engine_int.h"

typedef struct then_prices {
    capalloc_price_row *p;
    size_t n, cap;
    char **tickers;
} then_prices;

static capalloc_status keep_price(void *ctx, const capalloc_price_row *p)
{
    then_prices *t = ctx;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        capalloc_price_row *np = realloc(t->p, cap * sizeof *np);
        char **nt = np ? realloc(t->tickers, cap * sizeof *nt) : NULL;
        if (np != NULL)
            t->p = np;
        if (nt == NULL)
            return CAPALLOC_ERR_NOMEM;
        t->tickers = nt;
        t->cap = cap;
    }
    if ((t->tickers[t->n] = strdup(p->ticker)) == NULL)
        return CAPALLOC_ERR_NOMEM;
    t->p[t->n] = *p;
    t->p[t->n].ticker = t->tickers[t->n];
    t->n++;
    return CAPALLOC_OK;
}

static capalloc_status no_run(void *ctx, const capalloc_run_info *info,
                              const char *action, int forced,
                              const char *version, const char *detail)
{
    (void)ctx, (void)info, (void)action, (void)forced, (void)version,
        (void)detail;
    return CAPALLOC_OK;
}

static capalloc_status no_val(void *ctx, const capalloc_valuation *v)
{
    (void)ctx, (void)v;
    return CAPALLOC_OK;
}

static void then_free(then_prices *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->tickers[i]);
    free(t->tickers);
    free(t->p);
    memset(t, 0, sizeof *t);
}

typedef struct mover {
    const char *ticker;
    capalloc_dec qty, then, now, move;
    int had_then;
} mover;

static int by_move(const void *a, const void *b)
{
    const mover *x = a, *y = b;
    int64_t mx = x->move.micros < 0 ? -x->move.micros : x->move.micros;
    int64_t my = y->move.micros < 0 ? -y->move.micros : y->move.micros;
    if (mx != my)
        return mx < my ? 1 : -1;
    return strcmp(x->ticker, y->ticker);
}

/* The tickers of strategy id that moved most since run_id, as text. */
static int movers_text(engine *en, const ledger *l, const char *id,
                       int64_t run_id, const price_cache *pc, char *out,
                       size_t len, cap_error *e)
{
    int mu = en->cfg->minor_units;
    then_prices tp = {0};
    capalloc_record_sink sink = {&tp, no_run, no_val, keep_price};
    capalloc_err err = {{0}, {0}};
    int found = 0;
    capalloc_status st = SP(en)->read_run(en->storage->state, run_id, &sink,
                                          &found, &err);
    if (st != CAPALLOC_OK) {
        then_free(&tp);
        if (st == CAPALLOC_ERR_RETRY) {
            eng_rollback(en);
            return -1;
        }
        return eng_storage_fail(en, st, &err, "reading the last run's prices",
                                e);
    }
    mover *m = calloc(l->n_pos ? l->n_pos : 1, sizeof *m);
    if (m == NULL) {
        then_free(&tp);
        eng_rollback(en);
        return eng_oom(e);
    }
    size_t n = 0;
    for (size_t k = 0; k < l->n_pos; k++) {
        if (strcmp(l->pos[k].id, id) != 0 || dec_is_zero(l->pos[k].qty))
            continue;
        const ticker_price *now = cache_find(pc, l->pos[k].ticker);
        mover *w = &m[n];
        w->ticker = l->pos[k].ticker;
        w->qty = l->pos[k].qty;
        w->now = now ? now->price : DEC_ZERO;
        for (size_t i = 0; i < tp.n; i++)
            if (strcmp(tp.p[i].ticker, w->ticker) == 0) {
                w->then = tp.p[i].price;
                w->had_then = 1;
            }
        capalloc_dec diff;
        if (dec_sub(w->now, w->then, &diff) ||
            dec_mul(w->qty, diff, CAPALLOC_ROUND_HALF_EVEN, &w->move))
            w->move = DEC_ZERO;
        n++;
    }
    qsort(m, n, sizeof *m, by_move);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 3; i++) {
        char q[CAPALLOC_DEC_MAX_TEXT], a[CAPALLOC_DEC_MAX_TEXT],
            b[CAPALLOC_DEC_MAX_TEXT], c[CAPALLOC_DEC_MAX_TEXT];
        int w = snprintf(
            out + used, len - used, "%s%s %s x %s -> %s (%s%s)",
            i ? ", " : "", m[i].ticker, dec_format(m[i].qty, 0, q, sizeof q),
            m[i].had_then ? dec_format(m[i].then, 2, a, sizeof a) : "(none)",
            dec_format(m[i].now, 2, b, sizeof b),
            m[i].move.micros > 0 ? "+" : "",
            dec_format(m[i].move, mu, c, sizeof c));
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    if (n == 0)
        snprintf(out, len, "no positions: the move is in its cash");
    free(m);
    then_free(&tp);
    return 0;
}

int guard_large_moves(engine *en, const char *run_date, const ledger *l,
                      alloc_report *r, const price_cache *pc, cap_error *e)
{
    const capalloc_dec limit = en->cfg->rebalance.max_nav_move;
    free(r->accepted);
    r->accepted = NULL;
    r->n_accepted = 0;
    if (limit.micros <= 0 || !en->memory)
        return 0;
    /* up to and including run_date: a forced re-run compares with the
     * date's earlier run (its NAV plus the transfer it made) */
    capalloc_history_query q = {NULL, NULL, run_date, 1, NULL, 0};
    val_set vs;
    int rc = read_valuations(en, &q, &vs, e);
    if (rc != 0)
        return rc;
    int mu = en->cfg->minor_units;
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        const alloc_strategy *s = &r->strategies[i];
        const capalloc_valuation *last = NULL;
        for (size_t k = 0; k < vs.n; k++)
            if (strcmp(vs.v[k].portfolio_id, s->id) == 0)
                last = &vs.v[k]; /* sorted: the latest is the last one */
        /* valued, not yet through alloc_compute: total is not set */
        capalloc_dec now, then, diff, ratio;
        if (last == NULL || dec_add(s->cash, s->positions_value, &now) ||
            dec_add(last->nav, last->transfer, &then) ||
            then.micros <= 0 || dec_sub(now, then, &diff) ||
            dec_div(diff, then, CAPALLOC_ROUND_HALF_EVEN, &ratio))
            continue;
        capalloc_dec mag = ratio;
        if (mag.micros < 0)
            mag.micros = -mag.micros;
        if (dec_cmp(mag, limit) <= 0)
            continue;
        if (en->accept_moves) {
            guard_move *g = realloc(r->accepted,
                                    (r->n_accepted + 1) * sizeof *g);
            if (g == NULL) {
                rc = eng_oom(e);
                eng_rollback(en);
                break;
            }
            r->accepted = g;
            g[r->n_accepted++] = (guard_move){s->id, then, now, ratio};
            continue;
        }
        char movers[600], a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
            c[CAPALLOC_DEC_MAX_TEXT], d[CAPALLOC_DEC_MAX_TEXT],
            date[16];
        snprintf(date, sizeof date, "%s", last->date);
        int64_t run_id = last->run_id;
        int imported = (last->flags & CAPALLOC_VAL_IMPORTED) != 0;
        if (imported)
            snprintf(movers, sizeof movers,
                     "the last valuation is imported history (no prices)");
        else if ((rc = movers_text(en, l, s->id, run_id, pc, movers,
                                   sizeof movers, e)) != 0)
            break;
        capalloc_dec pct;
        dec_mul(ratio, dec_from_int(100), CAPALLOC_ROUND_HALF_EVEN, &pct);
        eng_rollback(en);
        rc = cap_fail(e, CAP_EXIT_REVIEW,
                      "a large move is a question, not a transfer: portfolio "
                      "'%s' NAV %s -> %s %s (%s%s%%) since the run of %s, "
                      "above max_nav_move %s; moved most: %s. Nothing was "
                      "written: check the prices and the positions, and if "
                      "the move is real re-run with --accept-moves",
                      s->id, dec_format(then, mu, a, sizeof a),
                      dec_format(now, mu, b, sizeof b),
                      en->cfg->currency, pct.micros > 0 ? "+" : "",
                      dec_format(pct, 2, c, sizeof c), date,
                      dec_format(limit, 0, d, sizeof d), movers);
    }
    val_set_free(&vs);
    return rc;
}

json_t *run_guard_json(const engine *en, const alloc_report *r)
{
    int mu = en->cfg->minor_units;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < r->n_accepted; i++) {
        const guard_move *g = &r->accepted[i];
        char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
            c[CAPALLOC_DEC_MAX_TEXT];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "portfolio", g->id,
                              "nav_then", dec_format(g->then, mu, a, sizeof a),
                              "nav_now", dec_format(g->now, mu, b, sizeof b),
                              "move", dec_format(g->ratio, 0, c, sizeof c));
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
