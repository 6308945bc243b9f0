/*
 * engine_int.h - what the engine's files share; private to core/.
 *
 * The allocation run reads top to bottom in files named for its steps:
 *   run.c         the run: one attempt = read -> value -> policy -> plan ->
 *                 apply, retried from a fresh read on a conflict
 *   run_read.c    the ledger (balances, positions), the strategy list and
 *                 the fund's recorded history
 *   run_value.c   prices (one call to the price source) and valuation
 *   run_policy.c  the weighting policy's call
 *   run_plan.c    the transfers and the run's record, as one write batch
 *   engine.c      opening the plugins, transactions (begin, write+commit,
 *                 rollback), capital movements
 *   import.c      position import
 */
#ifndef CAPALLOC_ENGINE_INT_H
#define CAPALLOC_ENGINE_INT_H

#include <stddef.h>

#include "engine.h"

/* A growable array of T. */
#define GROW(ptr, n, cap)                                                    \
    ((n) < (cap) ? 0                                                         \
                 : grow_array((void **)&(ptr), &(cap), sizeof *(ptr)))

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

typedef struct price_cache {
    ticker_price *p; /* sorted by ticker */
    size_t n;
    size_t requests;
} price_cache;

typedef struct batch_buf {
    capalloc_trade *trades;
    size_t n_trades, cap_trades;
    capalloc_cash_row *cash;
    size_t n_cash, cap_cash;
} batch_buf;

/* engine.c: small helpers */
int eng_oom(cap_error *e);
int cmp_str(const void *a, const void *b);
int grow_array(void **p, size_t *cap, size_t size);
cap_exit storage_code(capalloc_status st);
/* qsort()/bsearch() that accept an empty array (base may then be NULL). */
void sort_rows(void *base, size_t n, size_t size,
               int (*cmp)(const void *, const void *));
void *find_row(const void *key, const void *base, size_t n, size_t size,
               int (*cmp)(const void *, const void *));

/* engine.c: transactions. Each returns 0, -1 to retry (the backend said
 * RETRY and the transaction is rolled back), or an exit code with e set
 * (and the transaction rolled back). eng_write_commit also returns -2 when
 * the run already exists (a concurrent allocator won the date). */
const capalloc_storage_plugin *SP(const engine *en);
void eng_rollback(engine *en);
int eng_storage_fail(engine *en, capalloc_status st, const capalloc_err *err,
                     const char *what, cap_error *e);
int eng_begin(engine *en, capalloc_txn_mode mode, cap_error *e);
int eng_write_commit(engine *en, const capalloc_write_batch *wb, cap_error *e);
int eng_retries_exhausted(engine *en, cap_error *e);

/* Recorded valuations as read (read_valuations); strings owned. */
typedef struct val_set {
    capalloc_valuation *v;
    size_t n, cap;
} val_set;

/* The history handed to the policy: h[i] for strategy i, points borrowed
 * from pts (dates from vs). */
typedef struct run_history {
    val_set vs;
    capalloc_history *h;
    capalloc_history_point *pts;
    size_t n_points;
} run_history;

/* run_read.c */
void val_set_free(val_set *vs);
/* Every valuation q selects, in one read_history call, sorted
 * (history_sort). In an open transaction; 0, -1 retry, or an exit code
 * (rolled back). */
int read_valuations(engine *en, const capalloc_history_query *q,
                    val_set *vs, cap_error *e);
/* The history of s[0..n) before run_date, en->history_points dates deep. */
int read_run_history(engine *en, const char *run_date,
                     const alloc_strategy *s, size_t n, run_history *rh,
                     cap_error *e);
void run_history_free(run_history *rh);
/* Warn about books the configuration no longer names (left alone). */
void warn_unknown_books(engine *en, const ledger *l, const alloc_strategy *s,
                        size_t n);
void ledger_free(ledger *l);
int read_ledger(engine *en, ledger *l, cap_error *e);
const cash_row *find_cash(const ledger *l, const char *id);
int strategy_ids(engine *en, const char ***ids_out, size_t *n_out,
                 cap_error *e);

/* run_value.c */
const ticker_price *cache_find(const price_cache *c, const char *t);
int value_fund(engine *en, const ledger *l, alloc_strategy *s, size_t n,
               price_cache *pc, cap_error *e);

/* run_policy.c */
/* Run the policy stack on r's strategies (r->context set): their weights,
 * and what each stage did in r->stages. */
int policy_weights(engine *en, const char *run_date, capalloc_dec master_cash,
                   alloc_report *r, const capalloc_history *hist,
                   cap_error *e);

/* The policy's inputs as bytes (master cash; each strategy's id, cash,
 * positions value and history), to tell whether a later read of the
 * ledger saw the same fund. *buf malloc'd. 0 or -1 (out of memory). */
int policy_inputs(capalloc_dec master_cash, const alloc_strategy *s, size_t n,
                  const capalloc_history *h, unsigned char **buf, size_t *len);

/* run_plan.c */
void batch_free(batch_buf *b);
int add_trade(batch_buf *b, const char *id, const char *ticker,
              capalloc_side side, capalloc_dec qty);
int add_transfer(batch_buf *b, const char *cash_ticker, const char *from,
                 const char *to, capalloc_dec amount);
int add_cash(batch_buf *b, const char *id, capalloc_dec cash);
/* The transfers and new balances of r (returns first, then fundings, so
 * the master never dips below zero between two rows). master_new: the
 * master has no book yet. 0 or -1 (out of memory). */
int plan_transfers(const engine *en, const alloc_report *r, int master_new,
                   batch_buf *b);

/* The run's record: a valuation per portfolio (the master first), the
 * price of every ticker used, and the explanation. */
typedef struct record_buf {
    capalloc_valuation *v;
    capalloc_price_row *p;
    capalloc_run_record rec;
} record_buf;
/* Fills r->detail_json (the explanation) and, when rb is not NULL, the
 * record to write. 0 or an exit code. */
int plan_record(engine *en, alloc_report *r, record_buf *rb, cap_error *e);
void record_buf_free(record_buf *rb);

#endif
