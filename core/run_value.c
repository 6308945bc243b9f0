/*
 * run_value.c - prices and valuation: every held ticker priced in ONE call
 * to the price source, each strategy's cash + positions at those prices.
 */
#include <errno.h>
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

/* Value the strategies: s[i].cash from the ledger, positions_value from
 * the positions and the (one-call) prices. */
int value_fund(engine *en, const ledger *l, alloc_strategy *s, size_t n,
                      price_cache *pc, cap_error *e)
{
    strat_index *si = malloc(n * sizeof *si);
    const char **need = malloc((l->n_pos + 1) * sizeof *need);
    if (si == NULL || need == NULL) {
        free(si);
        free(need);
        return eng_oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        si[i] = (strat_index){s[i].id, i};
        const cash_row *cr = find_cash(l, s[i].id);
        s[i].cash = cr ? cr->cash : DEC_ZERO;
        s[i].positions_value = DEC_ZERO;
    }
    sort_rows(si, n, sizeof *si, cmp_si);

    /* The tickers the run needs: held (non-zero) by a strategy. */
    size_t n_need = 0;
    for (size_t k = 0; k < l->n_pos; k++) {
        strat_index key = {l->pos[k].id, 0};
        if (dec_is_zero(l->pos[k].qty) ||
            find_row(&key, si, n, sizeof *si, cmp_si) == NULL)
            continue;
        need[n_need++] = l->pos[k].ticker;
    }
    sort_rows(need, n_need, sizeof *need, cmp_str);
    size_t d = 0;
    for (size_t k = 0; k < n_need; k++)
        if (d == 0 || strcmp(need[d - 1], need[k]) != 0)
            need[d++] = need[k];
    n_need = d;

    int rc = fetch_prices(en, pc, need, n_need, l, e);
    free(need);
    if (rc != 0) {
        free(si);
        return rc;
    }
    for (size_t k = 0; k < l->n_pos; k++) {
        strat_index key = {l->pos[k].id, 0};
        const strat_index *hit = find_row(&key, si, n, sizeof *si, cmp_si);
        if (hit == NULL || dec_is_zero(l->pos[k].qty))
            continue;
        const ticker_price *tp = cache_find(pc, l->pos[k].ticker);
        capalloc_dec v;
        /* position value rounded half-even to 6 places (a micro-unit of
         * the currency), far below the minor unit transfers move in */
        if (tp == NULL ||
            dec_mul(l->pos[k].qty, tp->price, CAPALLOC_ROUND_HALF_EVEN, &v) ||
            dec_add(s[hit->i].positions_value, v, &s[hit->i].positions_value)) {
            free(si);
            return cap_fail(e, CAP_EXIT_INTERNAL,
                            "arithmetic overflow valuing portfolio '%s'",
                            l->pos[k].id);
        }
    }
    free(si);
    return 0;
}

