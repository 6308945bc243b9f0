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
    const ticker_price *hit =
        find_row(&key, c->p, c->n_used, sizeof *c->p, cmp_tp);
    return hit ? hit
               : find_row(&key, c->p + c->n_used, c->n - c->n_used,
                          sizeof *c->p, cmp_tp);
}

/* Whose a position is: strategy i (< n), the master, or nobody's. */
#define OWNER_MASTER ((size_t)-1)
#define OWNER_NONE ((size_t)-2)

/* A ticker the run prices; required: held by the master or a strategy
 * (an unknown portfolio's ticker is priced only for its warning). */
typedef struct need_ticker {
    const char *ticker;
    int required;
} need_ticker;

static int cmp_need(const void *a, const void *b)
{
    return strcmp(((const need_ticker *)a)->ticker,
                  ((const need_ticker *)b)->ticker);
}

/* Price every ticker in need[] (sorted, distinct) not already cached, in
 * ONE call to the price source. A required ticker without a price fails
 * the run before anything is written, naming every such ticker and its
 * holders; an optional one is left out of the cache. owner[k]: whose
 * l->pos[k] is. */
static int fetch_prices(engine *en, price_cache *c, const need_ticker *need,
                        size_t n_need, const ledger *l, const size_t *owner,
                        cap_error *e)
{
    const char **ask = malloc((n_need + 1) * sizeof *ask);
    int *required = malloc((n_need + 1) * sizeof *required);
    if (ask == NULL || required == NULL) {
        free(ask);
        free(required);
        return eng_oom(e);
    }
    size_t n_ask = 0;
    for (size_t i = 0; i < n_need; i++)
        if (cache_find(c, need[i].ticker) == NULL &&
            (need[i].required ||
             find_row(&need[i].ticker, c->absent, c->n_absent,
                      sizeof *c->absent, cmp_str) == NULL)) {
            required[n_ask] = need[i].required;
            ask[n_ask++] = need[i].ticker;
        }
    if (n_ask == 0) {
        free(ask);
        free(required);
        return 0;
    }
    capalloc_quote *q = calloc(n_ask, sizeof *q);
    ticker_price *np = realloc(c->p, (c->n + n_ask) * sizeof *np);
    if (q == NULL || np == NULL) {
        free(ask);
        free(required);
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
        free(required);
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
        if ((q[i].found && q[i].price.micros > 0) || !required[i])
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
                if (owner[k] != OWNER_NONE && !dec_is_zero(l->pos[k].qty) &&
                    strcmp(l->pos[k].ticker, ask[i]) == 0 &&
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
        free(required);
        free(q);
        return cap_fail(e, CAP_EXIT_PRICE,
                        "no price for %zu held ticker%s from price source "
                        "'%s': %s; nothing was written",
                        n_missing, n_missing > 1 ? "s" : "",
                        en->prices->hdr->name, missing);
    }
    size_t n_absent = 0;
    for (size_t i = 0; i < n_ask; i++)
        n_absent += !q[i].found || q[i].price.micros <= 0;
    if (n_absent > 0) {
        char **na = realloc(c->absent, (c->n_absent + n_absent) * sizeof *na);
        if (na == NULL) {
            free(ask);
            free(required);
            free(q);
            return eng_oom(e);
        }
        c->absent = na;
    }
    for (size_t i = 0; i < n_ask; i++) {
        if (!q[i].found || q[i].price.micros <= 0) {
            /* optional: its holder's warning says so; not asked again */
            char *t = strdup(ask[i]);
            if (t == NULL) {
                free(ask);
                free(required);
                free(q);
                return eng_oom(e);
            }
            c->absent[c->n_absent++] = t;
            continue;
        }
        char *t = strdup(ask[i]);
        if (t == NULL) {
            free(ask);
            free(required);
            free(q);
            return eng_oom(e);
        }
        c->p[c->n++] = (ticker_price){t, q[i].price, q[i].as_of, q[i].flags};
    }
    sort_rows(c->p, c->n, sizeof *c->p, cmp_tp);
    sort_rows(c->absent, c->n_absent, sizeof *c->absent, cmp_str);
    c->n_used = c->n; /* one sorted run until use_prices() splits it */
    free(ask);
    free(required);
    free(q);
    return 0;
}

static void price_cache_free_absent(price_cache *pc)
{
    for (size_t i = 0; i < pc->n_absent; i++)
        free(pc->absent[i]);
    free(pc->absent);
    pc->absent = NULL;
    pc->n_absent = 0;
}

void price_cache_to_report(price_cache *pc, alloc_report *r)
{
    for (size_t i = pc->n_used; i < pc->n; i++)
        free(pc->p[i].ticker);
    price_cache_free_absent(pc);
    r->prices = pc->p;
    r->n_prices = pc->n_used;
    r->price_requests = pc->requests;
}

/* Split the cache: the prices of need[]'s required tickers first (the
 * ones the valuation used, for the record and the report), then the
 * rest; each part stays sorted. 0 or -1 (out of memory). */
static int use_prices(price_cache *c, const need_ticker *need, size_t n_need)
{
    ticker_price *tmp = malloc((c->n + 1) * sizeof *tmp);
    if (tmp == NULL)
        return -1;
    sort_rows(c->p, c->n, sizeof *c->p, cmp_tp); /* split by an earlier call */
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->n; i++) {
            need_ticker key = {c->p[i].ticker, 0};
            const need_ticker *nt =
                find_row(&key, need, n_need, sizeof *need, cmp_need);
            if ((nt != NULL && nt->required) == (pass == 0))
                tmp[k++] = c->p[i];
        }
        if (pass == 0)
            c->n_used = k;
    }
    if (c->n > 0)
        memcpy(c->p, tmp, c->n * sizeof *tmp);
    free(tmp);
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

/* Short positions are not valued (README "Data other systems write"):
 * every negative quantity in the ledger, whoever holds it, fails the run
 * before a price is asked for, naming each row. */
static int refuse_shorts(const ledger *l, cap_error *e)
{
    char list[1536] = "";
    size_t n_neg = 0, used = 0;
    for (size_t k = 0; k < l->n_pos; k++) {
        if (!dec_is_neg(l->pos[k].qty))
            continue;
        if (n_neg++ > 0 && used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "; ");
        if (used < sizeof list) {
            char q[CAPALLOC_DEC_MAX_TEXT];
            int w = snprintf(list + used, sizeof list - used,
                             "portfolio '%s' ticker %s quantity %s",
                             l->pos[k].id, l->pos[k].ticker,
                             dec_format(l->pos[k].qty, 0, q, sizeof q));
            used += w > 0 ? (size_t)w : 0;
        }
    }
    if (n_neg == 0)
        return 0;
    if (used >= sizeof list)
        memcpy(list + sizeof list - 4, "...", 4);
    return cap_fail(e, CAP_EXIT_PRICE,
                    "positions_book holds %zu negative quantit%s (short "
                    "positions, which capalloc does not value): %s; nothing "
                    "was written",
                    n_neg, n_neg > 1 ? "ies" : "y", list);
}

/* qty x price, rounded half-even to 6 places (a micro-unit of the
 * currency, far below the minor unit transfers move in), added to *sum;
 * non-zero when either overflows. */
static int add_position_value(const pos_row *p, const ticker_price *tp,
                              capalloc_dec *sum)
{
    capalloc_dec v;
    int64_t t; /* an amount is any int64 of micros: dec_add's range */
    if (dec_mul(p->qty, tp->price, CAPALLOC_ROUND_HALF_EVEN, &v) ||
        __builtin_add_overflow(sum->micros, v.micros, &t))
        return 1;
    sum->micros = t;
    return 0;
}

static int cmp_pos_ptr(const void *a, const void *b)
{
    const pos_row *x = *(const pos_row *const *)a,
                  *y = *(const pos_row *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->ticker, y->ticker);
}

/* Positions of portfolios the configuration does not name: left alone and
 * not counted, but said, with their value (like unknown cash books:
 * warn_unknown_books), one line per portfolio. */
static void warn_unknown_positions(const engine *en, const ledger *l,
                                   const size_t *owner, const price_cache *pc)
{
    const pos_row **u = malloc((l->n_pos + 1) * sizeof *u);
    if (u == NULL)
        return; /* only a warning */
    size_t nu = 0;
    for (size_t k = 0; k < l->n_pos; k++)
        if (owner[k] == OWNER_NONE && !dec_is_zero(l->pos[k].qty))
            u[nu++] = &l->pos[k];
    sort_rows(u, nu, sizeof *u, cmp_pos_ptr);
    for (size_t a = 0, b; a < nu; a = b) {
        capalloc_dec sum = DEC_ZERO;
        const char *unpriced = NULL;
        int too_big = 0;
        for (b = a; b < nu && strcmp(u[b]->id, u[a]->id) == 0; b++) {
            const ticker_price *tp = cache_find(pc, u[b]->ticker);
            if (tp == NULL) {
                if (unpriced == NULL)
                    unpriced = u[b]->ticker;
            } else if (!too_big) {
                too_big = add_position_value(u[b], tp, &sum);
            }
        }
        char v[CAPALLOC_DEC_MAX_TEXT + 64], m[CAPALLOC_DEC_MAX_TEXT];
        if (unpriced != NULL)
            snprintf(v, sizeof v, "of unknown value (no price for %s)",
                     unpriced);
        else if (too_big)
            snprintf(v, sizeof v, "worth more than capalloc can represent");
        else
            snprintf(v, sizeof v, "worth %s %s",
                     dec_format(sum, en->cfg->minor_units, m, sizeof m),
                     en->cfg->currency);
        fprintf(stderr,
                "capalloc: warning: portfolio '%s' holds %zu position%s %s "
                "but is not in the configuration; %s left alone and not "
                "counted in total equity\n",
                u[a]->id, b - a, b - a > 1 ? "s" : "", v,
                b - a > 1 ? "they are" : "it is");
    }
    free(u);
}

/* The ledger's ids and tickers are interned (run_read.c): one pointer per
 * distinct string, so a position finds its owner and its price by its
 * pointers, not by strcmp() (at 1M positions the lookups were most of a
 * run). */

/* A set of the tickers held, by address: open addressing, index + 1 in
 * at[] (0 = empty), the tickers in held[] in the order first seen with
 * whether an owned position needs them. Sized by the distinct tickers
 * (thousands), not by the positions (millions). */
typedef struct ticker_set {
    size_t *at;
    size_t cap;
    need_ticker *held;
    size_t n, cap_held;
} ticker_set;

static void ticker_set_free(ticker_set *ts)
{
    free(ts->at);
    free(ts->held);
}

static size_t addr_hash(const char *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (cap - 1);
}

/* The index of t in held[], or SIZE_MAX (not there; or, with add, out of
 * memory); with add, t is added when new and marked required when asked. */
static size_t ticker_at(ticker_set *ts, const char *t, int add, int required)
{
    if (add && (ts->n + 1) * 2 > ts->cap) {
        size_t ncap = ts->cap ? ts->cap * 2 : 1024;
        size_t *na = calloc(ncap, sizeof *na);
        if (na == NULL)
            return SIZE_MAX;
        for (size_t i = 0; i < ts->n; i++) {
            size_t j = addr_hash(ts->held[i].ticker, ncap);
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
        size_t k = ts->at[j] - 1;
        if (ts->held[k].ticker == t) {
            ts->held[k].required |= required;
            return k;
        }
        j = (j + 1) & (ts->cap - 1);
    }
    if (!add || GROW(ts->held, ts->n, ts->cap_held))
        return SIZE_MAX;
    ts->held[ts->n] = (need_ticker){t, required};
    ts->at[j] = ++ts->n;
    return ts->n - 1;
}

/* Value the fund: s[i].cash from the ledger, s[i].positions_value and
 * s[i].holds_positions from the positions and the (one-call) prices, and
 * the master's positions value. */
int value_fund(engine *en, const ledger *l, alloc_strategy *s, size_t n,
               capalloc_dec *master_positions, price_cache *pc, cap_error *e)
{
    *master_positions = DEC_ZERO;
    int rc = refuse_shorts(l, e);
    if (rc != 0)
        return rc;
    strat_index *si = malloc((n + 1) * sizeof *si);
    size_t *owner = malloc((l->n_pos + 1) * sizeof *owner);
    if (si == NULL || owner == NULL) {
        free(si);
        free(owner);
        return eng_oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        si[i] = (strat_index){s[i].id, i};
        const cash_row *cr = find_cash(l, s[i].id);
        s[i].cash = cr ? cr->cash : DEC_ZERO;
        s[i].positions_value = DEC_ZERO;
        s[i].holds_positions = 0;
    }
    sort_rows(si, n, sizeof *si, cmp_si);

    /* Who holds what (the previous position's owner when the ledger gives
     * a portfolio's positions together, else a binary search), and the
     * tickers the run prices: every non-zero position's, required for the
     * master's and the strategies'. */
    ticker_set ts = {NULL, 0, NULL, 0, 0};
    const char *last_id = NULL;
    size_t last_owner = OWNER_NONE;
    /* each position's ticker as its index in ts.held, found once here for
     * the valuation below (SIZE_MAX: a zero quantity, not priced) */
    size_t *tix = malloc((l->n_pos + 1) * sizeof *tix);
    if (tix == NULL)
        rc = eng_oom(e);
    for (size_t k = 0; k < l->n_pos && rc == 0; k++) {
        const pos_row *p = &l->pos[k];
        if (p->id != last_id) {
            strat_index key = {p->id, 0};
            const strat_index *hit = find_row(&key, si, n, sizeof *si, cmp_si);
            last_id = p->id;
            last_owner = hit ? hit->i
                         : strcmp(p->id, en->cfg->master_id) == 0
                             ? OWNER_MASTER
                             : OWNER_NONE;
        }
        owner[k] = last_owner;
        tix[k] = dec_is_zero(p->qty)
                     ? SIZE_MAX
                     : ticker_at(&ts, p->ticker, 1, owner[k] != OWNER_NONE);
        if (!dec_is_zero(p->qty) && tix[k] == SIZE_MAX)
            rc = eng_oom(e);
    }
    free(si);
    /* distinct, sorted by name for the price source */
    size_t n_need = ts.n;
    need_ticker *need = malloc((n_need + 1) * sizeof *need);
    const ticker_price **tp_of = malloc((n_need + 1) * sizeof *tp_of);
    if (rc == 0 && (need == NULL || tp_of == NULL))
        rc = eng_oom(e);
    if (rc == 0) {
        if (n_need > 0)
            memcpy(need, ts.held, n_need * sizeof *need);
        sort_rows(need, n_need, sizeof *need, cmp_need);
        rc = fetch_prices(en, pc, need, n_need, l, owner, e);
    }
    if (rc == 0 && use_prices(pc, need, n_need) != 0)
        rc = eng_oom(e);
    free(need);
    /* each held ticker's price, by its index in ts.held */
    for (size_t j = 0; rc == 0 && j < n_need; j++)
        tp_of[j] = cache_find(pc, ts.held[j].ticker);
    for (size_t k = 0; rc == 0 && k < l->n_pos; k++) {
        const pos_row *p = &l->pos[k];
        if (owner[k] == OWNER_NONE || dec_is_zero(p->qty))
            continue;
        capalloc_dec *sum = owner[k] == OWNER_MASTER
                                ? master_positions
                                : &s[owner[k]].positions_value;
        if (owner[k] != OWNER_MASTER)
            s[owner[k]].holds_positions = 1;
        const ticker_price *tp = tp_of[tix[k]];
        if (tp == NULL) /* fetch_prices checked: a bug */
            rc = cap_fail(e, CAP_EXIT_INTERNAL, "no price for %s after "
                          "pricing it", p->ticker);
        else if (add_position_value(p, tp, sum)) {
            char q[CAPALLOC_DEC_MAX_TEXT], pr[CAPALLOC_DEC_MAX_TEXT];
            rc = cap_fail(e, CAP_EXIT_PRICE,
                          "portfolio '%s' ticker %s: quantity %s at price %s "
                          "takes the portfolio's positions beyond "
                          "+/-9,223,372,036,854.775807; correct the "
                          "positions_book row; nothing was written",
                          p->id, p->ticker,
                          dec_format(p->qty, 0, q, sizeof q),
                          dec_format(tp->price, 0, pr, sizeof pr));
        }
    }
    free(tp_of);
    free(tix);
    ticker_set_free(&ts);
    if (rc == 0)
        warn_unknown_positions(en, l, owner, pc);
    free(owner);
    return rc;
}
