/*
 * run_read.c - the first step of a run: what the ledger holds (every cash
 * balance and position, in a handful of queries) and which strategies the
 * run is for. A capital movement reads only the books it changes
 * (read_books).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "policy_stack.h"
#include "options.h"

/* ------------------------------------------------------------------------ */
/* the ledger as read                                                        */
/* ------------------------------------------------------------------------ */

/* Every id and ticker of the ledger once: a hash set over an arena of
 * 64 KiB chunks. 1M positions over 10,000 books and 5,000 tickers keep
 * 15,000 strings (not 2M strdup()s), and equal strings are one pointer,
 * which run_value.c compares instead of calling strcmp(). */
typedef struct pool_slot {
    const char *s;      /* NULL = empty */
    uint64_t hash;      /* s's, compared before s (a look-up that misses
                           touches no string: no cache miss per probe) */
} pool_slot;

struct str_pool {
    pool_slot *slots;   /* open addressing */
    size_t cap, used;
    char *chunk;        /* the current arena chunk: next pointer, then text */
    size_t room;        /* bytes left in it */
    char *at;           /* where the next string goes */
};

#define POOL_CHUNK 65536

/* FNV-1a of s, and its length, in one pass (a position's ticker is a few
 * bytes: a separate strlen() was a sixth of the look-up). */
static uint64_t pool_hash(const char *s, size_t *len)
{
    uint64_t h = UINT64_C(1469598103934665603);
    const unsigned char *p = (const unsigned char *)s;
    for (; *p != '\0'; p++) {
        h ^= *p;
        h *= UINT64_C(1099511628211);
    }
    *len = (size_t)(p - (const unsigned char *)s);
    return h;
}

static void pool_free(str_pool *p)
{
    if (p == NULL)
        return;
    char *c = p->chunk;
    while (c != NULL) {
        char *next;
        memcpy(&next, c, sizeof next);
        free(c);
        c = next;
    }
    free(p->slots);
    free(p);
}

/* Room for len bytes in the arena: the chunk list grows by POOL_CHUNK (or
 * by one string's size when it is larger). */
static char *pool_room(str_pool *p, size_t len)
{
    if (len > p->room) {
        size_t size = sizeof(char *) + (len > POOL_CHUNK ? len : POOL_CHUNK);
        char *c = malloc(size);
        if (c == NULL)
            return NULL;
        memcpy(c, &p->chunk, sizeof p->chunk);
        p->chunk = c;
        p->at = c + sizeof(char *);
        p->room = size - sizeof(char *);
    }
    char *r = p->at;
    p->at += len;
    p->room -= len;
    return r;
}

/* The pool's copy of s (added when new), or NULL when out of memory. */
static const char *pool_intern(str_pool *p, const char *s)
{
    if ((p->used + 1) * 2 > p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 1024;
        pool_slot *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; i < p->cap; i++) {
            if (p->slots[i].s == NULL)
                continue;
            size_t j = (size_t)p->slots[i].hash & (ncap - 1);
            while (ns[j].s != NULL)
                j = (j + 1) & (ncap - 1);
            ns[j] = p->slots[i];
        }
        free(p->slots);
        p->slots = ns;
        p->cap = ncap;
    }
    size_t len;
    uint64_t h = pool_hash(s, &len);
    size_t j = (size_t)h & (p->cap - 1);
    while (p->slots[j].s != NULL) {
        if (p->slots[j].hash == h && strcmp(p->slots[j].s, s) == 0)
            return p->slots[j].s;
        j = (j + 1) & (p->cap - 1);
    }
    char *copy = pool_room(p, len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len + 1);
    p->slots[j].s = copy;
    p->slots[j].hash = h;
    p->used++;
    return copy;
}

void ledger_free(ledger *l)
{
    pool_free(l->pool);
    free(l->cash);
    free(l->pos);
    memset(l, 0, sizeof *l);
}

static capalloc_status sink_cash(void *ctx, const char *id, capalloc_dec cash)
{
    ledger *l = ctx;
    if (id == NULL || GROW(l->cash, l->n_cash, l->cap_cash))
        return CAPALLOC_ERR_NOMEM;
    const char *in = pool_intern(l->pool, id);
    if (in == NULL)
        return CAPALLOC_ERR_NOMEM;
    l->cash[l->n_cash].id = in;
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
    /* rows of one portfolio usually come together: skip the lookup */
    p->id = l->n_pos > 0 && strcmp(p[-1].id, id) == 0
                ? p[-1].id
                : pool_intern(l->pool, id);
    p->ticker = pool_intern(l->pool, ticker);
    p->qty = qty;
    if (p->id == NULL || p->ticker == NULL)
        return CAPALLOC_ERR_NOMEM;
    l->n_pos++;
    return CAPALLOC_OK;
}

/* qsort() and bsearch() with an empty array: their base may be NULL then,
 * which the C library declares nonnull (UBSan says so). */
void sort_rows(void *base, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

void *find_row(const void *key, const void *base, size_t n,
                      size_t size, int (*cmp)(const void *, const void *))
{
    return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static int cmp_cash(const void *a, const void *b)
{
    return strcmp(((const cash_row *)a)->id, ((const cash_row *)b)->id);
}

/* After a read: the cash rows sorted, each portfolio once. */
static int cash_checked(engine *en, ledger *l, cap_error *e);

int read_ledger(engine *en, ledger *l, cap_error *e)
{
    memset(l, 0, sizeof *l);
    if ((l->pool = calloc(1, sizeof *l->pool)) == NULL) {
        eng_rollback(en);
        return eng_oom(e);
    }
    capalloc_ledger_sink sink = {l, sink_cash, sink_position};
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->read_ledger(en->storage->state, &sink, &err);
    if (st != CAPALLOC_OK) {
        ledger_free(l);
        if (st == CAPALLOC_ERR_RETRY)
            return -1;
        return eng_storage_fail(en, st, &err, "reading the ledger", e);
    }
    return cash_checked(en, l, e);
}

int read_books(engine *en, const char *const *ids, size_t n, ledger *l,
               cap_error *e)
{
    const capalloc_storage_plugin *sp = SP(en);
    if (!CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                            read_cash) ||
        sp->read_cash == NULL)
        return read_ledger(en, l, e);
    memset(l, 0, sizeof *l);
    if ((l->pool = calloc(1, sizeof *l->pool)) == NULL) {
        eng_rollback(en);
        return eng_oom(e);
    }
    capalloc_ledger_sink sink = {l, sink_cash, NULL};
    capalloc_err err = {{0}, {0}};
    capalloc_status st = sp->read_cash(en->storage->state, ids, n, &sink, &err);
    if (st != CAPALLOC_OK) {
        ledger_free(l);
        if (st == CAPALLOC_ERR_RETRY)
            return -1;
        return eng_storage_fail(en, st, &err, "reading the cash balances", e);
    }
    return cash_checked(en, l, e);
}

static int cash_checked(engine *en, ledger *l, cap_error *e)
{
    sort_rows(l->cash, l->n_cash, sizeof *l->cash, cmp_cash);
    for (size_t i = 1; i < l->n_cash; i++)
        if (strcmp(l->cash[i - 1].id, l->cash[i].id) == 0) {
            eng_rollback(en);
            int rc = cap_fail(e, CAP_EXIT_STORAGE,
                              "the storage backend returned portfolio '%s' "
                              "twice in cash_equity_book",
                              l->cash[i].id);
            ledger_free(l);
            return rc;
        }
    return 0;
}

const cash_row *find_cash(const ledger *l, const char *id)
{
    cash_row key = {(char *)id, DEC_ZERO};
    return find_row(&key, l->cash, l->n_cash, sizeof *l->cash, cmp_cash);
}

/* ------------------------------------------------------------------------ */
/* the strategy portfolios                                                   */
/* ------------------------------------------------------------------------ */

/* The portfolios stage p names through its optional portfolios(). */
static int stage_portfolios(const loaded_plugin *p, const char *const **pids,
                            size_t *pn, cap_error *e)
{
    const capalloc_policy_plugin *pp = (const capalloc_policy_plugin *)p->hdr;
    *pids = NULL;
    *pn = 0;
    if (!CAPALLOC_HAS_FIELD(pp->header.struct_size, capalloc_policy_plugin,
                            portfolios) ||
        pp->portfolios == NULL)
        return 0;
    capalloc_err err = {{0}, {0}};
    capalloc_status st = pp->portfolios(p->state, pids, pn, &err);
    if (st != CAPALLOC_OK)
        return plugin_fail(p, &err, CAP_EXIT_PLUGIN,
                           "listing the policy's portfolios", e);
    if (*pn > 0 && *pids == NULL)
        return cap_fail(e, CAP_EXIT_PLUGIN,
                        "policy plugin '%s': portfolios() said %zu "
                        "portfolios but gave no list",
                        p->hdr->name, *pn);
    return 0;
}

typedef struct id_at {
    const char *id;
    size_t at;
} id_at;

static int cmp_id_at(const void *a, const void *b)
{
    const id_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/* Drop the later repeats of ids[0..n) in place, keeping the first
 * occurrence of each in its place: sorted by (id, position), so a fund of
 * 10,000 strategies costs n log n comparisons, not n^2. Returns the new
 * count, or SIZE_MAX when out of memory. */
static size_t unique_ids(const char **ids, size_t n)
{
    if (n < 2)
        return n;
    id_at *s = malloc(n * sizeof *s);
    unsigned char *keep = calloc(n, 1);
    if (s == NULL || keep == NULL) {
        free(s);
        free(keep);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = (id_at){ids[i], i};
    qsort(s, n, sizeof *s, cmp_id_at);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(s[i - 1].id, s[i].id) != 0)
            keep[s[i].at] = 1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            ids[m++] = ids[i];
    free(s);
    free(keep);
    return m;
}

/* The strategies: the config's `portfolios` list, then those the policy's
 * stages name, stage by stage, in that order, without duplicates
 * (unique_ids). ids are borrowed (config / plugins). */
int strategy_ids(engine *en, const char ***ids_out, size_t *n_out,
                        cap_error *e)
{
    int src = engine_policy_start(en, e);
    if (src != 0)
        return src;
    const capalloc_config *cfg = en->cfg;
    const policy_stack *ps = en->stack;
    const char *const *pids = NULL;
    size_t pn = 0;
    const char **all = NULL; /* every stage's, concatenated */
    for (size_t i = 0; i < ps->n; i++) {
        const char *const *sp;
        size_t sn;
        int rc = stage_portfolios(ps->st[i].p, &sp, &sn, e);
        if (rc != 0) {
            free(all);
            return rc;
        }
        if (sn == 0)
            continue;
        const char **na = realloc(all, (pn + sn) * sizeof *na);
        if (na == NULL) {
            free(all);
            return eng_oom(e);
        }
        all = na;
        memcpy(all + pn, sp, sn * sizeof *all);
        pn += sn;
    }
    pids = (const char *const *)all;
    const char **ids = calloc(cfg->n_portfolios + pn + 1, sizeof *ids);
    if (ids == NULL) {
        free(all);
        return eng_oom(e);
    }
    size_t n = 0;
    for (size_t k = 0; k < cfg->n_portfolios + pn; k++) {
        const char *id = k < cfg->n_portfolios ? cfg->portfolios[k]
                                               : pids[k - cfg->n_portfolios];
        if (id == NULL || *id == '\0') {
            free(ids);
            free(all);
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "the policy named an empty portfolio id");
        }
        if (strcmp(id, cfg->master_id) == 0) {
            free(ids);
            free(all);
            return cap_fail(e, CAP_EXIT_CONFIG,
                            "%s: the master portfolio '%s' cannot be a "
                            "strategy portfolio",
                            cfg->path, id);
        }
        ids[n++] = id;
    }
    n = unique_ids(ids, n);
    if (n == SIZE_MAX) {
        free(ids);
        free(all);
        return eng_oom(e);
    }
    if (n == 0) {
        free(ids);
        free(all);
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "%s: no strategy portfolios: list them under "
                        "'portfolios' or give the policy its weights",
                        cfg->path);
    }
    free(all); /* the ids are borrowed from the plugins */
    *ids_out = ids;
    *n_out = n;
    return 0;
}


/* ------------------------------------------------------------------------ */
/* books nobody manages                                                      */
/* ------------------------------------------------------------------------ */

typedef struct id_ref {
    const char *id;
} id_ref;

static int cmp_id_ref(const void *a, const void *b)
{
    return strcmp(((const id_ref *)a)->id, ((const id_ref *)b)->id);
}

void warn_unknown_books(engine *en, const ledger *l, const alloc_strategy *s,
                        size_t n)
{
    /* sorted ids + binary search: no strategy compared with every book */
    id_ref *ids = malloc((n + 1) * sizeof *ids);
    if (ids == NULL)
        return; /* only a warning */
    for (size_t i = 0; i < n; i++)
        ids[i].id = s[i].id;
    sort_rows(ids, n, sizeof *ids, cmp_id_ref);
    for (size_t i = 0; i < l->n_cash; i++) {
        id_ref key = {l->cash[i].id};
        if (strcmp(key.id, en->cfg->master_id) == 0 ||
            find_row(&key, ids, n, sizeof *ids, cmp_id_ref) != NULL)
            continue;
        fprintf(stderr,
                "capalloc: warning: portfolio '%s' has a book but is not in "
                "the configuration; it is left alone and not counted in "
                "total equity\n",
                l->cash[i].id);
    }
    free(ids);
}

/* ------------------------------------------------------------------------ */
/* the fund's memory                                                         */
/* ------------------------------------------------------------------------ */

void val_set_free(val_set *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free((char *)vs->v[i].portfolio_id);
        free((char *)vs->v[i].date);
    }
    free(vs->v);
    memset(vs, 0, sizeof *vs);
}

const char *run_kind_const(const char *kind)
{
    static const char *const kinds[] = {CAPALLOC_RUN_RUN, CAPALLOC_RUN_DEPLOY,
                                        CAPALLOC_RUN_REVERSE};
    for (size_t i = 0; kind != NULL && i < sizeof kinds / sizeof kinds[0];
         i++)
        if (strcmp(kind, kinds[i]) == 0)
            return kinds[i];
    return NULL;
}

void valuation_copy(capalloc_valuation *c, const capalloc_valuation *v,
                    int kinds)
{
    if (kinds) {
        *c = *v;
        c->run_kind = run_kind_const(v->run_kind);
    } else { /* a backend before ABI 1.3: its struct ends before run_kind */
        memset(c, 0, sizeof *c);
        memcpy(c, v, offsetof(capalloc_valuation, run_kind));
    }
}

typedef struct val_sink {
    val_set *vs;
    int kinds; /* the backend speaks ABI 1.3 */
} val_sink;

static capalloc_status sink_valuation(void *ctx, const capalloc_valuation *v)
{
    const val_sink *vk = ctx;
    val_set *vs = vk->vs;
    if (v == NULL || v->portfolio_id == NULL || v->date == NULL ||
        GROW(vs->v, vs->n, vs->cap))
        return CAPALLOC_ERR_NOMEM;
    capalloc_valuation c;
    valuation_copy(&c, v, vk->kinds);
    c.portfolio_id = strdup(v->portfolio_id);
    c.date = strdup(v->date);
    if (c.portfolio_id == NULL || c.date == NULL) {
        free((char *)c.portfolio_id);
        free((char *)c.date);
        return CAPALLOC_ERR_NOMEM;
    }
    vs->v[vs->n++] = c;
    return CAPALLOC_OK;
}

int read_valuations(engine *en, const capalloc_history_query *q,
                    val_set *vs, cap_error *e)
{
    memset(vs, 0, sizeof *vs);
    if (!en->memory)
        return 0;
    val_sink vk = {vs, SP(en)->header.abi_minor >= 3};
    capalloc_record_sink sink = {&vk, NULL, sink_valuation, NULL};
    capalloc_err err = {{0}, {0}};
    capalloc_status st =
        SP(en)->read_history(en->storage->state, q, &sink, &err);
    if (st != CAPALLOC_OK) {
        val_set_free(vs);
        if (st == CAPALLOC_ERR_RETRY) {
            eng_rollback(en);
            return -1;
        }
        return eng_storage_fail(en, st, &err,
                                "reading the fund's recorded history", e);
    }
    history_sort(vs->v, vs->n);
    return 0;
}

void run_history_free(run_history *rh)
{
    val_set_free(&rh->vs);
    free(rh->h);
    free(rh->pts);
    memset(rh, 0, sizeof *rh);
}

/* The first valuation of portfolio id in sorted v[0..n), or n. */
static size_t lower_bound(const capalloc_valuation *v, size_t n,
                          const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].portfolio_id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int read_run_history(engine *en, const char *run_date,
                     const alloc_strategy *s, size_t n, run_history *rh,
                     cap_error *e)
{
    memset(rh, 0, sizeof *rh);
    rh->h = calloc(n ? n : 1, sizeof *rh->h);
    if (rh->h == NULL)
        return eng_oom(e);
    if (en->history_points == 0 || !en->memory)
        return 0;
    /* One query for every strategy and date: the latest history_points
     * dates before the run's. */
    capalloc_history_query q = {NULL, run_date, NULL, en->history_points,
                                NULL, 0};
    int rc = read_valuations(en, &q, &rh->vs, e);
    if (rc != 0) {
        run_history_free(rh);
        return rc;
    }
    rh->pts = calloc(rh->vs.n ? rh->vs.n : 1, sizeof *rh->pts);
    if (rh->pts == NULL) {
        run_history_free(rh);
        eng_rollback(en);
        return eng_oom(e);
    }
    const capalloc_valuation *v = rh->vs.v;
    size_t nv = rh->vs.n;
    for (size_t i = 0; i < n; i++) {
        size_t a = lower_bound(v, nv, s[i].id), b = a;
        while (b < nv && strcmp(v[b].portfolio_id, s[i].id) == 0)
            b++;
        size_t np = 0;
        if (b > a && history_points(v + a, b - a, rh->pts + rh->n_points,
                                    &np) != CAPALLOC_OK) {
            run_history_free(rh);
            eng_rollback(en);
            return cap_fail(e, CAP_EXIT_STORAGE,
                            "arithmetic overflow computing the returns of "
                            "portfolio '%s' from its recorded history",
                            s[i].id);
        }
        rh->h[i].n = np;
        rh->h[i].points = np ? rh->pts + rh->n_points : NULL;
        rh->n_points += np;
    }
    return 0;
}
