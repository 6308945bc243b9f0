/*
 * run_value.c - prices and valuation: every held ticker priced in ONE call
 * to the price source, each strategy's cash + positions at those prices.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

/* ------------------------------------------------------------------------ */
/* prices                                                                    */
/* ------------------------------------------------------------------------ */


static int cmp_tp(const void *a, const void *b)
{
    return strcmp(((const ticker_price *)a)->ticker,
                  ((const ticker_price *)b)->ticker);
}

const ticker_price *cache_find(const price_cache *c, const char *t)
{
    ticker_price key = {(char *)t, DEC_ZERO, 0, 0};
    return find_row(&key, c->p, c->n, sizeof *c->p, cmp_tp);
}

/* Price every ticker in need[] (sorted, distinct) not already cached, in
 * ONE call to the price source. A ticker without a price fails the run
 * before anything is written, naming every such ticker and its holders. */
static int fetch_prices(engine *en, price_cache *c, const char **need,
                        size_t n_need, const ledger *l, cap_error *e)
{
    const char **ask = malloc((n_need + 1) * sizeof *ask);
    if (ask == NULL)
        return eng_oom(e);
    size_t n_ask = 0;
    for (size_t i = 0; i < n_need; i++)
        if (cache_find(c, need[i]) == NULL)
            ask[n_ask++] = need[i];
    if (n_ask == 0) {
        free(ask);
        return 0;
    }
    capalloc_quote *q = calloc(n_ask, sizeof *q);
    ticker_price *np = realloc(c->p, (c->n + n_ask) * sizeof *np);
    if (q == NULL || np == NULL) {
        free(ask);
        free(q);
        if (np)
            c->p = np;
        return eng_oom(e);
    }
    c->p = np;
    const capalloc_price_plugin *pp =
        (const capalloc_price_plugin *)en->prices->hdr;
    capalloc_err err = {{0}, {0}};
    c->requests++;
    capalloc_status st =
        pp->get_prices(en->prices->state, (const char *const *)ask, n_ask, q, &err);
    if (st != CAPALLOC_OK) {
        free(ask);
        free(q);
        /* Whatever kept the source from answering (a bad price file, a
         * feed down): the run cannot be priced, which is exit 5 for the
         * scheduler, whichever source it is. */
        return plugin_fail(en->prices, &err,
                           st == CAPALLOC_ERR_NOMEM ? CAP_EXIT_INTERNAL
                                                    : CAP_EXIT_PRICE,
                           "fetching prices; nothing was written", e);
    }
    /* Missing or unusable prices: name them all. */
    char missing[1536] = "";
    size_t n_missing = 0, used = 0;
    for (size_t i = 0; i < n_ask; i++) {
        if (q[i].found && q[i].price.micros > 0)
            continue;
        n_missing++;
        if (used < sizeof missing - 64) {
            int w = snprintf(missing + used, sizeof missing - used, "%s%s%s",
                             n_missing > 1 ? ", " : "", ask[i],
                             q[i].found ? " (not positive)" : "");
            used += w > 0 ? (size_t)w : 0;
            /* who holds it: one holder is enough to find it (the least
             * id: the ledger is read in no particular order) */
            const char *holder = NULL;
            for (size_t k = 0; k < l->n_pos; k++)
                if (strcmp(l->pos[k].ticker, ask[i]) == 0 &&
                    (holder == NULL || strcmp(l->pos[k].id, holder) < 0))
                    holder = l->pos[k].id;
            if (holder != NULL) {
                w = snprintf(missing + used, sizeof missing - used,
                             " held by portfolio '%s'", holder);
                used += w > 0 ? (size_t)w : 0;
            }
            if (used >= sizeof missing)
                used = sizeof missing - 1;
        }
    }
    if (n_missing > 0) {
        free(ask);
        free(q);
        return cap_fail(e, CAP_EXIT_PRICE,
                        "no price for %zu held ticker%s from price source "
                        "'%s': %s; nothing was written",
                        n_missing, n_missing > 1 ? "s" : "",
                        en->prices->hdr->name, missing);
    }
    for (size_t i = 0; i < n_ask; i++) {
        char *t = strdup(ask[i]);
        if (t == NULL) {
            free(ask);
            free(q);
            return eng_oom(e);
        }
        c->p[c->n++] = (ticker_price){t, q[i].price, q[i].as_of, q[i].flags};
    }
    sort_rows(c->p, c->n, sizeof *c->p, cmp_tp);
    free(ask);
    free(q);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* valuation                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct strat_index {
    const char *id;
    size_t i;
} strat_index;

static int cmp_si(const void *a, const void *b)
{
    return strcmp(((const strat_index *)a)->id, ((const strat_index *)b)->id);
}

/* The ledger's ids and tickers are interned (run_read.c): one pointer per
 * distinct string, so a position finds its strategy and its price by its
 * pointers, not by strcmp() (at 1M positions the lookups were most of a
 * run). */

/* A set of the held tickers by address: open addressing, index + 1 in
 * at[] (0 = empty), the tickers in held[] in the order first seen. Sized
 * by the distinct tickers (thousands), not by the positions (millions). */
typedef struct ticker_set {
    size_t *at;
    size_t cap;
    const char **held;
    size_t n, cap_held;
} ticker_set;

static size_t addr_hash(const char *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (cap - 1);
}

/* The index of t in held[], or SIZE_MAX (not there; or, with add, out of
 * memory); with add, t is added when new. */
static size_t ticker_at(ticker_set *ts, const char *t, int add)
{
    if (add && (ts->n + 1) * 2 > ts->cap) {
        size_t ncap = ts->cap ? ts->cap * 2 : 1024;
        size_t *na = calloc(ncap, sizeof *na);
        if (na == NULL)
            return SIZE_MAX;
        for (size_t i = 0; i < ts->n; i++) {
            size_t j = addr_hash(ts->held[i], ncap);
            while (na[j] != 0)
                j = (j + 1) & (ncap - 1);
            na[j] = i + 1;
        }
        free(ts->at);
        ts->at = na;
        ts->cap = ncap;
    }
    if (ts->cap == 0)
        return SIZE_MAX;
    size_t j = addr_hash(t, ts->cap);
    while (ts->at[j] != 0) {
        if (ts->held[ts->at[j] - 1] == t)
            return ts->at[j] - 1;
        j = (j + 1) & (ts->cap - 1);
    }
    if (!add || GROW(ts->held, ts->n, ts->cap_held))
        return SIZE_MAX;
    ts->held[ts->n] = t;
    ts->at[j] = ++ts->n;
    return ts->n - 1;
}

/* The strategy holding position p: the previous one's when the ledger
 * gives a portfolio's positions together, else a binary search. */
static const strat_index *holder(const strat_index *si, size_t n,
                                 const pos_row *p, const char **last_id,
                                 const strat_index **last)
{
    if (p->id != *last_id) {
        strat_index key = {p->id, 0};
        *last_id = p->id;
        *last = find_row(&key, si, n, sizeof *si, cmp_si);
    }
    return *last;
}

/* Value the strategies: s[i].cash from the ledger, positions_value from
 * the positions and the (one-call) prices. */
int value_fund(engine *en, const ledger *l, alloc_strategy *s, size_t n,
                      price_cache *pc, cap_error *e)
{
    strat_index *si = malloc((n + 1) * sizeof *si);
    if (si == NULL)
        return eng_oom(e);
    for (size_t i = 0; i < n; i++) {
        si[i] = (strat_index){s[i].id, i};
        const cash_row *cr = find_cash(l, s[i].id);
        s[i].cash = cr ? cr->cash : DEC_ZERO;
        s[i].positions_value = DEC_ZERO;
    }
    sort_rows(si, n, sizeof *si, cmp_si);

    /* The tickers the run needs: held (non-zero) by a strategy; distinct
     * by address, then sorted by name for the price source. */
    ticker_set ts = {NULL, 0, NULL, 0, 0};
    const char *last_id = NULL;
    const strat_index *last = NULL;
    for (size_t k = 0; k < l->n_pos; k++)
        if (!dec_is_zero(l->pos[k].qty) &&
            holder(si, n, &l->pos[k], &last_id, &last) != NULL &&
            ticker_at(&ts, l->pos[k].ticker, 1) == SIZE_MAX) {
            free(si), free(ts.at), free(ts.held);
            return eng_oom(e);
        }
    size_t n_need = ts.n;
    const char **need = malloc((n_need + 1) * sizeof *need);
    if (need == NULL) {
        free(si), free(ts.at), free(ts.held);
        return eng_oom(e);
    }
    if (n_need > 0)
        memcpy(need, ts.held, n_need * sizeof *need);
    sort_rows(need, n_need, sizeof *need, cmp_str);

    int rc = fetch_prices(en, pc, need, n_need, l, e);
    free(need);
    /* each held ticker's price, by its index in ts.held */
    const ticker_price **tp_of = malloc((n_need + 1) * sizeof *tp_of);
    if (rc != 0 || tp_of == NULL) {
        free(si), free(ts.at), free(ts.held), free(tp_of);
        return rc != 0 ? rc : eng_oom(e);
    }
    for (size_t j = 0; j < n_need; j++)
        tp_of[j] = cache_find(pc, ts.held[j]);
    last_id = NULL;
    for (size_t k = 0; k < l->n_pos; k++) {
        const strat_index *hit = holder(si, n, &l->pos[k], &last_id, &last);
        if (hit == NULL || dec_is_zero(l->pos[k].qty))
            continue;
        size_t j = ticker_at(&ts, l->pos[k].ticker, 0);
        const ticker_price *tp = j != SIZE_MAX ? tp_of[j] : NULL;
        capalloc_dec v;
        /* position value rounded half-even to 6 places (a micro-unit of
         * the currency), far below the minor unit transfers move in */
        if (tp == NULL ||
            dec_mul(l->pos[k].qty, tp->price, CAPALLOC_ROUND_HALF_EVEN, &v) ||
            dec_add(s[hit->i].positions_value, v, &s[hit->i].positions_value)) {
            free(si), free(ts.at), free(ts.held), free(tp_of);
            return cap_fail(e, CAP_EXIT_INTERNAL,
                            "arithmetic overflow valuing portfolio '%s'",
                            l->pos[k].id);
        }
    }
    free(si), free(ts.at), free(ts.held), free(tp_of);
    return 0;
}
