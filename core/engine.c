/*
 * engine.c - the workflows over the three plugins (see engine.h).
 *
 * Every write command follows the same shape:
 *   begin(WRITE) -> read what it changes -> compute -> write(batch) -> commit
 * with the ledger lock held from the read to the commit, so no other writer
 * can change a balance in between. Any failure rolls the transaction back:
 * a command is all or nothing. CAPALLOC_ERR_RETRY from the backend (a
 * serialization failure) re-runs the command from a fresh read, a bounded
 * number of times; prices already fetched are kept, so the price source is
 * still asked once per ticker.
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "options.h"
#include "positions_csv.h"

#define CASH_FMT(d, buf) dec_format((d), en->cfg->minor_units, (buf), sizeof(buf))

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */
/* ------------------------------------------------------------------------ */

static int oom(cap_error *e)
{
    return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A growable array of T. */
#define GROW(ptr, n, cap)                                                    \
    ((n) < (cap) ? 0                                                         \
                 : grow_array((void **)&(ptr), &(cap), sizeof *(ptr)))

static int grow_array(void **p, size_t *cap, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *np = realloc(*p, ncap * size);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

/* Map a plugin status to an exit code. */
static cap_exit storage_code(capalloc_status st)
{
    switch (st) {
    case CAPALLOC_ERR_BUSY:
        return CAP_EXIT_BUSY;
    case CAPALLOC_ERR_NOMEM:
        return CAP_EXIT_INTERNAL;
    default:
        return CAP_EXIT_STORAGE;
    }
}

/* ------------------------------------------------------------------------ */
/* open / close                                                              */
/* ------------------------------------------------------------------------ */

int engine_open(const char *config_path, engine **out, cap_error *e)
{
    *out = NULL;
    char *path = config_find(config_path, e);
    if (path == NULL)
        return e->code;
    engine *en = calloc(1, sizeof *en);
    if (en == NULL) {
        free(path);
        return oom(e);
    }
    en->max_attempts = 3;
    int rc = config_load(path, &en->cfg, e);
    free(path);
    if (rc != 0)
        goto fail;
    snprintf(en->cash_ticker, sizeof en->cash_ticker, "%s_CASH",
             en->cfg->currency);
    if ((rc = plugin_start(en->cfg, &en->cfg->policy, "fixed_weight",
                           CAPALLOC_KIND_POLICY, "policy", &en->policy, e)))
        goto fail;
    /* The price source and storage are only prepared here (found, checked,
     * options bound). The price source is created by the commands that
     * value the fund (allocate, status), so moving capital never needs a
     * price feed or its key; storage's create() opens or creates the
     * ledger, which waits for the first transaction, so that input refused
     * before it leaves no file behind. */
    if ((rc = plugin_prepare(en->cfg, &en->cfg->prices, "file",
                             CAPALLOC_KIND_PRICES, "prices", &en->prices, e)))
        goto fail;
    if ((rc = plugin_prepare(en->cfg, &en->cfg->storage, "sqlite",
                             CAPALLOC_KIND_STORAGE, "storage", &en->storage,
                             e)))
        goto fail;
    *out = en;
    return 0;
fail:
    engine_close(en);
    return rc ? rc : (int)e->code;
}

void engine_close(engine *en)
{
    if (en == NULL)
        return;
    plugin_close(en->policy);
    plugin_close(en->prices);
    plugin_close(en->storage);
    config_free(en->cfg);
    free(en);
}

static const capalloc_storage_plugin *SP(const engine *en)
{
    return (const capalloc_storage_plugin *)en->storage->hdr;
}

static void rollback(engine *en)
{
    capalloc_err err = {{0}, {0}};
    if (en->storage->state != NULL)
        SP(en)->rollback(en->storage->state, &err);
}

static int storage_fail(engine *en, capalloc_status st, const capalloc_err *err,
                        const char *what, cap_error *e)
{
    rollback(en);
    return plugin_fail(en->storage, err, storage_code(st), what, e);
}

/* ------------------------------------------------------------------------ */
/* the ledger as read                                                        */
/* ------------------------------------------------------------------------ */

typedef struct cash_row {
    char *id;
    capalloc_dec cash;
} cash_row;

typedef struct pos_row {
    char *id;
    char *ticker;
    capalloc_dec qty;
} pos_row;

typedef struct ledger {
    cash_row *cash;
    size_t n_cash, cap_cash;
    pos_row *pos;
    size_t n_pos, cap_pos;
} ledger;

static void ledger_free(ledger *l)
{
    for (size_t i = 0; i < l->n_cash; i++)
        free(l->cash[i].id);
    for (size_t i = 0; i < l->n_pos; i++) {
        free(l->pos[i].id);
        free(l->pos[i].ticker);
    }
    free(l->cash);
    free(l->pos);
    memset(l, 0, sizeof *l);
}

static capalloc_status sink_cash(void *ctx, const char *id, capalloc_dec cash)
{
    ledger *l = ctx;
    if (id == NULL || GROW(l->cash, l->n_cash, l->cap_cash))
        return CAPALLOC_ERR_NOMEM;
    char *dup = strdup(id);
    if (dup == NULL)
        return CAPALLOC_ERR_NOMEM;
    l->cash[l->n_cash].id = dup;
    l->cash[l->n_cash].cash = cash;
    l->n_cash++;
    return CAPALLOC_OK;
}

static capalloc_status sink_position(void *ctx, const char *id,
                                     const char *ticker, capalloc_dec qty)
{
    ledger *l = ctx;
    if (id == NULL || ticker == NULL || GROW(l->pos, l->n_pos, l->cap_pos))
        return CAPALLOC_ERR_NOMEM;
    pos_row *p = &l->pos[l->n_pos];
    p->id = strdup(id);
    p->ticker = strdup(ticker);
    p->qty = qty;
    if (p->id == NULL || p->ticker == NULL) {
        free(p->id);
        free(p->ticker);
        return CAPALLOC_ERR_NOMEM;
    }
    l->n_pos++;
    return CAPALLOC_OK;
}

/* qsort() and bsearch() with an empty array: their base may be NULL then,
 * which the C library declares nonnull (UBSan says so). */
static void sort_rows(void *base, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

static void *find_row(const void *key, const void *base, size_t n,
                      size_t size, int (*cmp)(const void *, const void *))
{
    return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static int cmp_cash(const void *a, const void *b)
{
    return strcmp(((const cash_row *)a)->id, ((const cash_row *)b)->id);
}

static int read_ledger(engine *en, ledger *l, cap_error *e)
{
    capalloc_ledger_sink sink = {l, sink_cash, sink_position};
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->read_ledger(en->storage->state, &sink, &err);
    if (st != CAPALLOC_OK) {
        ledger_free(l);
        if (st == CAPALLOC_ERR_RETRY)
            return -1;
        return storage_fail(en, st, &err, "reading the ledger", e);
    }
    sort_rows(l->cash, l->n_cash, sizeof *l->cash, cmp_cash);
    for (size_t i = 1; i < l->n_cash; i++)
        if (strcmp(l->cash[i - 1].id, l->cash[i].id) == 0) {
            rollback(en);
            int rc = cap_fail(e, CAP_EXIT_STORAGE,
                              "the storage backend returned portfolio '%s' "
                              "twice in cash_equity_book",
                              l->cash[i].id);
            ledger_free(l);
            return rc;
        }
    return 0;
}

static const cash_row *find_cash(const ledger *l, const char *id)
{
    cash_row key = {(char *)id, DEC_ZERO};
    return find_row(&key, l->cash, l->n_cash, sizeof *l->cash, cmp_cash);
}

/* ------------------------------------------------------------------------ */
/* the strategy portfolios                                                   */
/* ------------------------------------------------------------------------ */

/* The strategies: the config's `portfolios` list, then the policy's own, in
 * that order, without duplicates. ids are borrowed (config / plugin). */
static int strategy_ids(engine *en, const char ***ids_out, size_t *n_out,
                        cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    const capalloc_policy_plugin *pp =
        (const capalloc_policy_plugin *)en->policy->hdr;
    const char *const *pids = NULL;
    size_t pn = 0;
    if (CAPALLOC_HAS_FIELD(pp->header.struct_size, capalloc_policy_plugin,
                           portfolios) &&
        pp->portfolios != NULL) {
        capalloc_err err = {{0}, {0}};
        capalloc_status st = pp->portfolios(en->policy->state, &pids, &pn, &err);
        if (st != CAPALLOC_OK)
            return plugin_fail(en->policy, &err, CAP_EXIT_PLUGIN,
                               "listing the policy's portfolios", e);
        if (pn > 0 && pids == NULL)
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "policy plugin '%s': portfolios() said %zu "
                            "portfolios but gave no list",
                            en->policy->hdr->name, pn);
    }
    const char **ids = calloc(cfg->n_portfolios + pn + 1, sizeof *ids);
    if (ids == NULL)
        return oom(e);
    size_t n = 0;
    for (size_t k = 0; k < cfg->n_portfolios + pn; k++) {
        const char *id = k < cfg->n_portfolios ? cfg->portfolios[k]
                                               : pids[k - cfg->n_portfolios];
        if (id == NULL || *id == '\0') {
            free(ids);
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "the policy named an empty portfolio id");
        }
        if (strcmp(id, cfg->master_id) == 0) {
            free(ids);
            return cap_fail(e, CAP_EXIT_CONFIG,
                            "%s: the master portfolio '%s' cannot be a "
                            "strategy portfolio",
                            cfg->path, id);
        }
        int dup = 0;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(ids[j], id) == 0;
        if (!dup)
            ids[n++] = id;
    }
    if (n == 0) {
        free(ids);
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "%s: no strategy portfolios: list them under "
                        "'portfolios' or give the policy its weights",
                        cfg->path);
    }
    *ids_out = ids;
    *n_out = n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* prices                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct price_cache {
    ticker_price *p; /* sorted by ticker */
    size_t n;
    size_t requests;
} price_cache;

static int cmp_tp(const void *a, const void *b)
{
    return strcmp(((const ticker_price *)a)->ticker,
                  ((const ticker_price *)b)->ticker);
}

static const ticker_price *cache_find(const price_cache *c, const char *t)
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
        return oom(e);
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
        return oom(e);
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
            /* who holds it: the first holder is enough to find it */
            for (size_t k = 0; k < l->n_pos; k++)
                if (strcmp(l->pos[k].ticker, ask[i]) == 0) {
                    w = snprintf(missing + used, sizeof missing - used,
                                 " held by portfolio '%s'", l->pos[k].id);
                    used += w > 0 ? (size_t)w : 0;
                    break;
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
            return oom(e);
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
static int value_fund(engine *en, const ledger *l, alloc_strategy *s, size_t n,
                      price_cache *pc, cap_error *e)
{
    strat_index *si = malloc(n * sizeof *si);
    const char **need = malloc((l->n_pos + 1) * sizeof *need);
    if (si == NULL || need == NULL) {
        free(si);
        free(need);
        return oom(e);
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

/* Ask the policy for the weights of s[0..n). */
static int policy_weights(engine *en, const char *run_date,
                          capalloc_dec master_cash, alloc_strategy *s, size_t n,
                          cap_error *e)
{
    capalloc_portfolio_view *v = calloc(n ? n : 1, sizeof *v);
    capalloc_dec *w = calloc(n ? n : 1, sizeof *w);
    if (v == NULL || w == NULL) {
        free(v);
        free(w);
        return oom(e);
    }
    capalloc_dec equity = master_cash;
    for (size_t i = 0; i < n; i++) {
        v[i].id = s[i].id;
        v[i].cash = s[i].cash;
        v[i].positions_value = s[i].positions_value;
        if (dec_add(s[i].cash, s[i].positions_value, &v[i].total) ||
            dec_add(equity, v[i].total, &equity)) {
            free(v);
            free(w);
            return cap_fail(e, CAP_EXIT_INTERNAL,
                            "arithmetic overflow computing total equity");
        }
    }
    capalloc_snapshot snap = {en->cfg->master_id, en->cfg->currency, run_date,
                              master_cash, equity, n, v, en->policy->opts};
    const capalloc_policy_plugin *pp =
        (const capalloc_policy_plugin *)en->policy->hdr;
    capalloc_err err = {{0}, {0}};
    capalloc_status st = pp->weights(en->policy->state, &snap, w, &err);
    free(v);
    if (st != CAPALLOC_OK) {
        free(w);
        return plugin_fail(en->policy, &err, CAP_EXIT_PLUGIN,
                           "computing target weights", e);
    }
    for (size_t i = 0; i < n; i++)
        s[i].weight = w[i];
    free(w);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* writing                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct batch_buf {
    capalloc_trade *trades;
    size_t n_trades, cap_trades;
    capalloc_cash_row *cash;
    size_t n_cash, cap_cash;
} batch_buf;

static void batch_free(batch_buf *b)
{
    free(b->trades);
    free(b->cash);
    memset(b, 0, sizeof *b);
}

static int add_trade(batch_buf *b, const char *id, const char *ticker,
                     capalloc_side side, capalloc_dec qty)
{
    if (GROW(b->trades, b->n_trades, b->cap_trades))
        return -1;
    b->trades[b->n_trades++] = (capalloc_trade){
        id, ticker, side, qty, dec_from_int(1), dec_from_int(1)};
    return 0;
}

/* An internal transfer: two rows, SELL from the payer, BUY to the payee. */
static int add_transfer(batch_buf *b, const char *cash_ticker, const char *from,
                        const char *to, capalloc_dec amount)
{
    return add_trade(b, from, cash_ticker, CAPALLOC_SELL, amount) ||
           add_trade(b, to, cash_ticker, CAPALLOC_BUY, amount);
}

static int add_cash(batch_buf *b, const char *id, capalloc_dec cash)
{
    if (GROW(b->cash, b->n_cash, b->cap_cash))
        return -1;
    b->cash[b->n_cash++] = (capalloc_cash_row){id, cash};
    return 0;
}

/* Write and commit. Returns 0, -1 to retry, -2 when the run already exists
 * (a concurrent allocator won), or an exit code. */
static int write_commit(engine *en, const capalloc_write_batch *wb,
                        cap_error *e)
{
    const capalloc_storage_plugin *sp = SP(en);
    capalloc_err err = {{0}, {0}};
    capalloc_status st = sp->write(en->storage->state, wb, &err);
    if (st == CAPALLOC_ERR_RETRY || st == CAPALLOC_ERR_EXISTS) {
        rollback(en);
        return st == CAPALLOC_ERR_RETRY ? -1 : -2;
    }
    if (st != CAPALLOC_OK)
        return storage_fail(en, st, &err,
                            "writing the ledger (rolled back, nothing written)",
                            e);
    st = sp->commit(en->storage->state, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        /* The backend says what became of the transaction: a server
         * backend that lost its connection during COMMIT cannot know. */
        return storage_fail(en, st, &err, "committing", e);
    return 0;
}

static int begin(engine *en, capalloc_txn_mode mode, cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    if (en->storage->state == NULL) {
        int rc = plugin_create(en->storage, e);
        if (rc != 0)
            return rc;
    }
    capalloc_status st = SP(en)->begin(en->storage->state, mode, &err);
    if (st == CAPALLOC_OK)
        return 0;
    if (st == CAPALLOC_ERR_RETRY) {
        rollback(en);
        return -1;
    }
    return storage_fail(en, st, &err, "starting a transaction", e);
}

static int retries_exhausted(engine *en, cap_error *e)
{
    return cap_fail(e, CAP_EXIT_BUSY,
                    "storage '%s' reported a conflict with a concurrent "
                    "writer %d times; nothing was written, try again",
                    en->storage->hdr->name, en->max_attempts);
}

/* ------------------------------------------------------------------------ */
/* capital                                                                   */
/* ------------------------------------------------------------------------ */

int engine_capital(engine *en, cap_action action, capalloc_dec amount,
                   int dry_run, capital_result *r, cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    const capalloc_config *cfg = en->cfg;
    memset(r, 0, sizeof *r);
    r->action = action;
    r->amount = amount;
    r->dry_run = dry_run;
    capalloc_dec q;
    if (amount.micros <= 0)
        return cap_fail(e, CAP_EXIT_USAGE, "amount %s must be positive",
                        dec_format(amount, 0, a, sizeof a));
    if (dec_quantize(amount, cfg->minor_units, CAPALLOC_ROUND_DOWN, &q) ||
        dec_cmp(q, amount) != 0)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "amount %s has more decimal places than %s allows "
                        "(%d)",
                        dec_format(amount, 0, a, sizeof a), cfg->currency,
                        cfg->minor_units);

    for (int attempt = 1; attempt <= en->max_attempts; attempt++) {
        int rc = begin(en, dry_run ? CAPALLOC_TXN_READ : CAPALLOC_TXN_WRITE, e);
        if (rc < 0)
            continue;
        if (rc > 0)
            return rc;
        ledger l = {0};
        rc = read_ledger(en, &l, e);
        if (rc < 0) {
            rollback(en);
            continue;
        }
        if (rc > 0)
            return rc;
        const cash_row *mr = find_cash(&l, cfg->master_id);
        r->before = mr ? mr->cash : DEC_ZERO;
        ledger_free(&l);
        if (action == CAP_ADD) {
            if (dec_add(r->before, amount, &r->after)) {
                rollback(en);
                return cap_fail(e, CAP_EXIT_USAGE,
                                "amount %s would take the master's cash "
                                "beyond the representable range",
                                CASH_FMT(amount, a));
            }
        } else {
            if (dec_cmp(amount, r->before) > 0) {
                rollback(en);
                return cap_fail(e, CAP_EXIT_FUNDS,
                                "insufficient funds: cannot withdraw %s %s, "
                                "the master portfolio '%s' holds %s %s; "
                                "nothing was written",
                                CASH_FMT(amount, a), cfg->currency,
                                cfg->master_id, CASH_FMT(r->before, b),
                                cfg->currency);
            }
            dec_sub(r->before, amount, &r->after);
        }
        if (dry_run) {
            rollback(en);
            return 0;
        }
        capalloc_trade t = {cfg->master_id, en->cash_ticker,
                            action == CAP_ADD ? CAPALLOC_BUY : CAPALLOC_SELL,
                            amount, dec_from_int(1), dec_from_int(1)};
        capalloc_cash_row c = {cfg->master_id, r->after};
        capalloc_write_batch wb = {action == CAP_ADD ? "ADD" : "WITHDRAW",
                                   NULL, 0, cfg->currency, &t, 1, &c, 1,
                                   NULL, 0};
        rc = write_commit(en, &wb, e);
        if (rc == -1)
            continue;
        if (rc == -2)
            return cap_fail(e, CAP_EXIT_STORAGE,
                            "storage refused the capital movement as a "
                            "duplicate run");
        return rc;
    }
    return retries_exhausted(en, e);
}

/* ------------------------------------------------------------------------ */
/* allocation and status                                                     */
/* ------------------------------------------------------------------------ */

void alloc_report_free(alloc_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free((char *)r->strategies[i].id);
    free(r->strategies);
    free(r->new_books); /* entries borrowed from strategies */
    for (size_t i = 0; i < r->n_prices; i++)
        free(r->prices[i].ticker);
    free(r->prices);
    memset(r, 0, sizeof *r);
}

/* One attempt of a plan (and, unless dry, its write). Returns 0 done,
 * -1 retry, -2 lost the race for the date, or an exit code. */
static int allocate_once(engine *en, const char *run_date, int force,
                         int dry_run, int check_run, alloc_report *r,
                         price_cache *pc, cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    int rc = begin(en, dry_run ? CAPALLOC_TXN_READ : CAPALLOC_TXN_WRITE, e);
    if (rc != 0)
        return rc;

    /* A run that finds no earlier one for its date is the date's run even
     * under --force: only a repeat is stored as forced, so the backend's
     * one-run-per-date guard covers every date. */
    int found = 0;
    if (check_run) {
        capalloc_err err = {{0}, {0}};
        capalloc_status st = SP(en)->find_run(en->storage->state, run_date,
                                              &r->previous, &found, &err);
        if (st == CAPALLOC_ERR_RETRY) {
            rollback(en);
            return -1;
        }
        if (st != CAPALLOC_OK)
            return storage_fail(en, st, &err, "looking up earlier runs", e);
        if (found && !force) {
            rollback(en);
            r->already_ran = 1;
            return 0;
        }
    }

    ledger l = {0};
    rc = read_ledger(en, &l, e);
    if (rc != 0) {
        if (rc < 0)
            rollback(en);
        return rc;
    }
    const cash_row *mr = find_cash(&l, cfg->master_id);
    capalloc_dec master_cash = mr ? mr->cash : DEC_ZERO;

    /* Warn about books nobody manages any more: they are left alone. */
    for (size_t i = 0; i < l.n_cash; i++) {
        int known = strcmp(l.cash[i].id, cfg->master_id) == 0;
        for (size_t k = 0; k < r->n && !known; k++)
            known = strcmp(l.cash[i].id, r->strategies[k].id) == 0;
        if (!known)
            fprintf(stderr,
                    "capalloc: warning: portfolio '%s' has a book but is "
                    "not in the configuration; it is left alone and not "
                    "counted in total equity\n",
                    l.cash[i].id);
    }

    rc = value_fund(en, &l, r->strategies, r->n, pc, e);
    if (rc == 0)
        rc = policy_weights(en, run_date, master_cash, r->strategies, r->n, e);
    if (rc == 0)
        rc = alloc_compute(master_cash, r->strategies, r->n, cfg->minor_units,
                           &r->totals, e);
    if (rc != 0) {
        ledger_free(&l);
        rollback(en);
        return rc;
    }

    /* Books to open: strategies (and the master) with no cash row. */
    r->n_new_books = 0;
    for (size_t i = 0; i < r->n; i++)
        if (find_cash(&l, r->strategies[i].id) == NULL)
            r->new_books[r->n_new_books++] = (char *)r->strategies[i].id;
    int master_new = (mr == NULL);
    ledger_free(&l);

    if (dry_run) {
        rollback(en);
        return 0;
    }

    /* Returns first, then fundings: the master never dips below zero even
     * between two rows. */
    batch_buf b = {0};
    int bad = 0;
    for (int pass = 0; pass < 2 && !bad; pass++)
        for (size_t i = 0; i < r->n && !bad; i++) {
            alloc_strategy *s = &r->strategies[i];
            if (pass == 0 && dec_is_neg(s->transfer)) {
                capalloc_dec amt = {-s->transfer.micros};
                bad = add_transfer(&b, en->cash_ticker, s->id, cfg->master_id,
                                   amt);
            } else if (pass == 1 && s->transfer.micros > 0) {
                bad = add_transfer(&b, en->cash_ticker, cfg->master_id, s->id,
                                   s->transfer);
            }
        }
    if (!bad && (master_new || r->totals.n_transfers > 0))
        bad = add_cash(&b, cfg->master_id, r->totals.master_after);
    for (size_t i = 0; i < r->n && !bad; i++) {
        const alloc_strategy *s = &r->strategies[i];
        int is_new = 0;
        for (size_t k = 0; k < r->n_new_books; k++)
            is_new |= r->new_books[k] == s->id;
        if (is_new || !dec_is_zero(s->transfer))
            bad = add_cash(&b, s->id, s->cash_after);
    }
    if (bad) {
        batch_free(&b);
        rollback(en);
        return oom(e);
    }
    capalloc_write_batch wb = {"ALLOCATE", run_date, force && found,
                               cfg->currency,
                               b.trades, b.n_trades, b.cash, b.n_cash,
                               NULL, 0};
    rc = write_commit(en, &wb, e);
    batch_free(&b);
    return rc;
}

static int plan(engine *en, const char *run_date, int force, int dry_run,
                int check_run, alloc_report *r, cap_error *e)
{
    memset(r, 0, sizeof *r);
    snprintf(r->run_date, sizeof r->run_date, "%s", run_date);
    r->dry_run = dry_run;
    r->forced = force;
    if (en->prices->state == NULL) {
        int rc = plugin_create(en->prices, e);
        if (rc != 0)
            return rc;
    }

    const char **ids = NULL;
    size_t n = 0;
    int rc = strategy_ids(en, &ids, &n, e);
    if (rc != 0)
        return rc;
    r->strategies = calloc(n, sizeof *r->strategies);
    r->new_books = calloc(n, sizeof *r->new_books);
    if (r->strategies == NULL || r->new_books == NULL) {
        free(ids);
        alloc_report_free(r);
        return oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        r->strategies[i].id = strdup(ids[i]);
        if (r->strategies[i].id == NULL) {
            r->n = i;
            free(ids);
            alloc_report_free(r);
            return oom(e);
        }
    }
    r->n = n;
    free(ids);

    price_cache pc = {0};
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        r->attempts = attempt;
        rc = allocate_once(en, run_date, force, dry_run, check_run, r, &pc, e);
        if (rc == -2) {
            /* A concurrent allocator recorded this date between our check
             * and our write: look again, which reports it as already run. */
            rc = -1;
        }
    }
    if (rc < 0)
        rc = retries_exhausted(en, e);
    r->prices = pc.p;
    r->n_prices = pc.n;
    r->price_requests = pc.requests;
    return rc;
}

int engine_allocate(engine *en, const char *run_date, int force, int dry_run,
                    alloc_report *r, cap_error *e)
{
    return plan(en, run_date, force, dry_run, 1, r, e);
}

int engine_status(engine *en, const char *run_date, alloc_report *r,
                  cap_error *e)
{
    return plan(en, run_date, 0, 1, 0, r, e);
}

/* ------------------------------------------------------------------------ */
/* position import                                                           */
/* ------------------------------------------------------------------------ */

int engine_import_positions(engine *en, const char *csv_path, int dry_run,
                            import_result *r, cap_error *e)
{
    memset(r, 0, sizeof *r);
    r->dry_run = dry_run;
    const char **ids = NULL;
    size_t n_ids = 0;
    int rc = strategy_ids(en, &ids, &n_ids, e);
    if (rc != 0)
        return rc;
    positions_csv pc = {0};
    rc = positions_csv_load(csv_path, ids, n_ids, en->cfg->path, &pc, e);
    if (rc != 0)
        goto out;
    r->n_rows = pc.n;
    r->n_portfolios = pc.n_portfolios;
    if (dry_run)
        goto out;
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        rc = begin(en, CAPALLOC_TXN_WRITE, e);
        if (rc != 0)
            continue;
        ledger l = {0};
        rc = read_ledger(en, &l, e);
        if (rc < 0)
            rollback(en);
        if (rc != 0)
            continue;
        /* Open the books of strategies that get positions but have none. */
        batch_buf b = {0};
        int bad = 0;
        for (size_t k = 0; k < pc.n_portfolios && !bad; k++)
            if (find_cash(&l, pc.portfolios[k]) == NULL)
                bad = add_cash(&b, pc.portfolios[k], DEC_ZERO);
        ledger_free(&l);
        if (bad) {
            batch_free(&b);
            rollback(en);
            rc = oom(e);
            break;
        }
        capalloc_write_batch wb = {"IMPORT", NULL, 0, en->cfg->currency,
                                   NULL, 0, b.cash, b.n_cash,
                                   pc.rows, pc.n};
        rc = write_commit(en, &wb, e);
        batch_free(&b);
        if (rc == -2)
            rc = cap_fail(e, CAP_EXIT_STORAGE,
                          "storage refused the import as a duplicate run");
    }
    if (rc < 0)
        rc = retries_exhausted(en, e);
out:
    positions_csv_free(&pc);
    free(ids);
    return rc;
}
