/*
 * chain_write.c - every write of the core goes through chain_write(): it
 * reads the chain's head under the write lock (same transaction), computes
 * the run's hashes (chain.h) and hands the batch to the backend with them.
 * ADD, WITHDRAW (also a queued redemption's payout, written in the
 * allocation's transaction right after it: its head is then that run),
 * ALLOCATE and IMPORT all come here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "engine_int.h"

int chain_has_ops(const engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    return CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                              read_journal) &&
           sp->chain_head != NULL && sp->read_anchor != NULL &&
           sp->read_journal != NULL;
}

void chain_utc_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03uZ",
             (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* The anchor's balances, collected (read_anchor's order is any). */
typedef struct anchor_buf {
    chain_balance *b;
    size_t n, cap;
    capalloc_chain_anchor a;
    int oom;
} anchor_buf;

static capalloc_status anchor_cb(void *ctx, const capalloc_chain_anchor *a)
{
    anchor_buf *ab = ctx;
    ab->a = *a;
    ab->a.created_at[sizeof ab->a.created_at - 1] = '\0';
    return CAPALLOC_OK;
}

static capalloc_status anchor_cash_cb(void *ctx, const char *id,
                                      capalloc_dec cash)
{
    anchor_buf *ab = ctx;
    char *copy = strdup(id);
    if (copy == NULL || GROW(ab->b, ab->n, ab->cap)) {
        free(copy);
        ab->oom = 1;
        return CAPALLOC_ERR_NOMEM;
    }
    ab->b[ab->n].portfolio_id = copy;
    ab->b[ab->n++].cash = cash;
    return CAPALLOC_OK;
}

void chain_anchor_free(chain_balance *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)b[i].portfolio_id);
    free(b);
}

capalloc_status chain_read_anchor(engine *en, int *found,
                                  int64_t *after_run_id,
                                  unsigned char *hash,
                                  chain_balance **bal, size_t *n_bal,
                                  capalloc_chain_anchor *info,
                                  capalloc_err *err)
{
    anchor_buf ab;
    memset(&ab, 0, sizeof ab);
    capalloc_journal_sink sink = {&ab, anchor_cb, anchor_cash_cb, NULL, NULL};
    *found = 0;
    capalloc_status st = SP(en)->read_anchor(en->storage->state, &sink, found,
                                             err);
    if (st == CAPALLOC_OK && ab.oom)
        st = CAPALLOC_ERR_NOMEM;
    if (st != CAPALLOC_OK) {
        chain_anchor_free(ab.b, ab.n);
        if (ab.oom)
            snprintf(err->msg, sizeof err->msg, "out of memory");
        return st;
    }
    chain_sort_balances(ab.b, ab.n);
    for (size_t i = 1; i < ab.n; i++)
        if (strcmp(ab.b[i].portfolio_id, ab.b[i - 1].portfolio_id) == 0) {
            snprintf(err->msg, sizeof err->msg,
                     "the chain's anchor holds portfolio '%s' twice",
                     ab.b[i].portfolio_id);
            chain_anchor_free(ab.b, ab.n);
            return CAPALLOC_ERR_INVALID;
        }
    *after_run_id = ab.a.after_run_id;
    if (info != NULL)
        *info = ab.a;
    if (*found)
        chain_anchor_hash(ab.a.after_run_id, ab.a.after_log_id,
                          ab.a.runs_before, ab.a.created_at, ab.b, ab.n,
                          hash);
    if (bal != NULL) {
        *bal = ab.b;
        *n_bal = ab.n;
    } else {
        chain_anchor_free(ab.b, ab.n);
    }
    return CAPALLOC_OK;
}

/* The hash the next run links to. A head that cannot be chained to (a
 * run inserted by hand) refuses the write: CAPALLOC_ERR_IO (exit 7), the
 * message sends the operator to `capalloc verify`. */
static capalloc_status chain_prev(engine *en, unsigned char prev[SHA256_LEN],
                                  capalloc_err *err)
{
    const capalloc_storage_plugin *sp = SP(en);
    capalloc_chain_head head;
    memset(&head, 0, sizeof head);
    capalloc_status st = sp->chain_head(en->storage->state, &head, err);
    if (st != CAPALLOC_OK)
        return st;
    if (head.run_hash[0] != '\0') {
        if (chain_from_hex(head.run_hash, prev) == 0)
            return CAPALLOC_OK;
        snprintf(err->msg, sizeof err->msg,
                 "run %lld carries a run_hash that is not a hash ('%.70s'): "
                 "the ledger was changed outside capalloc; run `capalloc "
                 "verify` (nothing was written)",
                 (long long)head.run_id, head.run_hash);
        return CAPALLOC_ERR_IO;
    }
    int found = 0;
    int64_t after = 0;
    if ((st = chain_read_anchor(en, &found, &after, prev, NULL, NULL, NULL,
                                 err)))
        return st;
    if (!found && head.run_id == 0) {
        chain_genesis(prev);
        return CAPALLOC_OK;
    }
    if (found && head.run_id <= after)
        return CAPALLOC_OK; /* the first run after the migration */
    snprintf(err->msg, sizeof err->msg,
             "run %lld, the ledger's latest, carries no hash and is not "
             "covered by the chain's anchor: the ledger was changed outside "
             "capalloc; run `capalloc verify` (nothing was written)",
             (long long)head.run_id);
    return CAPALLOC_ERR_IO;
}

static int cmp_cash_row(const void *x, const void *y)
{
    return strcmp(((const capalloc_cash_row *)x)->portfolio_id,
                  ((const capalloc_cash_row *)y)->portfolio_id);
}

static int cmp_cstr(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

capalloc_status chain_write(engine *en, const capalloc_write_batch *wb,
                            capalloc_err *err)
{
    const capalloc_storage_plugin *sp = SP(en);
    if (!chain_has_ops(en))
        return sp->write(en->storage->state, wb, err);

    unsigned char prev[SHA256_LEN];
    capalloc_status st = chain_prev(en, prev, err);
    if (st != CAPALLOC_OK)
        return st;

    size_t n = wb->n_trades;
    char (*hex)[SHA256_HEX_LEN + 1] = calloc(n + 1, sizeof *hex);
    const char **rh = calloc(n + 1, sizeof *rh);
    const char **ids = calloc(n + 1, sizeof *ids);
    capalloc_cash_row *cash = calloc(wb->n_cash + 1, sizeof *cash);
    chain_balance *bal = calloc(n + 1, sizeof *bal);
    if (hex == NULL || rh == NULL || ids == NULL || cash == NULL ||
        bal == NULL) {
        st = CAPALLOC_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        goto out;
    }
    /* the rows, each linked to the one before */
    unsigned char link[SHA256_LEN];
    memcpy(link, prev, sizeof link);
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++) {
        const capalloc_trade *t = &wb->trades[i];
        chain_row_hash(link, i, t->portfolio_id, t->ticker, t->side,
                       t->quantity, t->arrival_price, t->exec_price, link);
        sha256_hex(link, hex[i]);
        rh[i] = hex[i];
        if (strcmp(t->ticker, en->cash_ticker) == 0)
            ids[n_ids++] = t->portfolio_id;
    }
    /* the balances it set, of the portfolios its cash trades touched */
    if (n_ids > 1)
        qsort(ids, n_ids, sizeof *ids, cmp_cstr);
    if (wb->n_cash > 0)
        memcpy(cash, wb->cash, wb->n_cash * sizeof *cash);
    if (wb->n_cash > 1)
        qsort(cash, wb->n_cash, sizeof *cash, cmp_cash_row);
    size_t n_bal = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0)
            continue;
        capalloc_cash_row key = {ids[i], {0}};
        const capalloc_cash_row *c =
            bsearch(&key, cash, wb->n_cash, sizeof *cash, cmp_cash_row);
        if (c == NULL) {
            st = CAPALLOC_ERR_INTERNAL;
            snprintf(err->msg, sizeof err->msg,
                     "a %s batch moves cash of '%s' but sets no balance for "
                     "it",
                     wb->action, ids[i]);
            goto out;
        }
        bal[n_bal].portfolio_id = ids[i];
        bal[n_bal++].cash = c->cash;
    }

    char created_at[32];
    chain_utc_now(created_at, sizeof created_at);
    chain_run r = {wb->action, wb->run_date, wb->forced, created_at,
                   wb->reference, wb->kind, wb->reverses};
    unsigned char h[SHA256_LEN];
    chain_run_hash(prev, &r, n, link, bal, n_bal, h);
    char prev_hex[SHA256_HEX_LEN + 1], run_hex[SHA256_HEX_LEN + 1];
    sha256_hex(prev, prev_hex);
    sha256_hex(h, run_hex);

    capalloc_write_batch b = *wb;
    b.created_at = created_at;
    b.prev_hash = prev_hex;
    b.run_hash = run_hex;
    b.row_hashes = n > 0 ? rh : NULL;
    st = sp->write(en->storage->state, &b, err);
out:
    free(hex);
    free(rh);
    free(ids);
    free(cash);
    free(bal);
    return st;
}
