/*
 * engine_int.h - what the engine's files share; private to core/.
 *
 * The allocation run reads top to bottom in files named for its steps:
 *   run.c         the run: one attempt = read -> value -> policy -> plan
 *                 (in a read transaction) -> apply (plan.c), planned again
 *                 from a fresh read when the ledger changed
 *   plan.c        the plan's ledger state and fingerprint, the freshness
 *                 check and the apply: all that runs under the write lock
 *   plan_file.c   a plan as a file: --plan-out, approve, apply
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

/* The ledger's strings, each stored once (run_read.c): a fund of 1M
 * positions holds 10,000 portfolio ids and 5,000 tickers, not 2M copies. */
typedef struct str_pool str_pool;

/* Row strings point into the ledger's pool: never freed one by one. */
typedef struct cash_row {
    const char *id;
    capalloc_dec cash;
} cash_row;

typedef struct pos_row {
    const char *id;
    const char *ticker;
    capalloc_dec qty;
} pos_row;

typedef struct ledger {
    cash_row *cash;
    size_t n_cash, cap_cash;
    pos_row *pos;
    size_t n_pos, cap_pos;
    str_pool *pool;
} ledger;

/* Every price fetched by the run's attempts. p[0..n_used): the tickers
 * the last valuation used (held by the master or a strategy), sorted;
 * p[n_used..n): the others (an unknown portfolio's, or held no longer),
 * sorted: kept so a retry asks no ticker twice, out of the record. */
typedef struct price_cache {
    ticker_price *p;
    size_t n, n_used;
    size_t requests;
    /* Optional tickers (an unknown portfolio's) the source had no price
     * for, sorted, owned: not asked again by a later valuation of the same
     * run (a real run values the fund twice: before the policy and under
     * the write lock). */
    char **absent;
    size_t n_absent;
} price_cache;

/* At the end of a run: the prices the valuation used go to the report
 * (r->prices, n_prices, price_requests); the rest of pc is freed. */
void price_cache_to_report(price_cache *pc, alloc_report *r);

typedef struct batch_buf {
    capalloc_trade *trades;
    size_t n_trades, cap_trades;
    capalloc_cash_row *cash;
    size_t n_cash, cap_cash;
} batch_buf;

/* engine.c: small helpers */
int capital_check(const engine *en, capalloc_dec amount,
                  const char *reference, cap_error *e);
int eng_oom(cap_error *e);
int cmp_str(const void *a, const void *b);
int grow_array(void **p, size_t *cap, size_t size);
cap_exit storage_code(capalloc_status st);
/* qsort()/bsearch() that accept an empty array (base may then be NULL). */
void sort_rows(void *base, size_t n, size_t size,
               int (*cmp)(const void *, const void *));
void *find_row(const void *key, const void *base, size_t n, size_t size,
               int (*cmp)(const void *, const void *));

/* engine.c: a progress line through en->progress, if set. */
void eng_progress(const engine *en, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* engine.c: transactions. Each returns 0, -1 to retry (the backend said
 * RETRY and the transaction is rolled back), or an exit code with e set
 * (and the transaction rolled back). eng_write_commit also returns -2 when
 * the run already exists (a concurrent allocator won the date). */
const capalloc_storage_plugin *SP(const engine *en);
void eng_rollback(engine *en);
int eng_storage_fail(engine *en, capalloc_status st, const capalloc_err *err,
                     const char *what, cap_error *e);
int eng_begin(engine *en, capalloc_txn_mode mode, cap_error *e);
/* Write one batch on the hash chain (no commit): 0, -1 retry, -2 the run
 * already exists, or an exit code (rolled back). */
int eng_write(engine *en, const capalloc_write_batch *wb, cap_error *e);
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

/* record.c: a sink that copies one run's record (read_run) into *x, its
 * strings owned by x (run_explain_free). */
typedef struct explain_sink {
    run_explain *x;
    size_t cap_v, cap_p;
    int kinds; /* the backend fills the run info's ABI 1.3 fields (kind,
                  links): set it after explain_sink_init (0: an older
                  backend's smaller struct, whose end is not read) */
} explain_sink;
void explain_sink_init(explain_sink *xs, run_explain *x,
                       capalloc_record_sink *sink);

/* run_read.c */
void val_set_free(val_set *vs);
/* *c = *v, the ABI 1.3 fields only when kinds (the backend speaks 1.3:
 * an older one's struct ends before them); c->run_kind is one of the
 * CAPALLOC_RUN_* constants or NULL (never owned). */
void valuation_copy(capalloc_valuation *c, const capalloc_valuation *v,
                    int kinds);
const char *run_kind_const(const char *kind);
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
/* Only the cash rows of ids[0..n) (read_cash, ABI 1.1; locked in a write
 * transaction), or the whole ledger from a backend without read_cash.
 * Returns like read_ledger. */
int read_books(engine *en, const char *const *ids, size_t n, ledger *l,
               cap_error *e);
const cash_row *find_cash(const ledger *l, const char *id);
int strategy_ids(engine *en, const char ***ids_out, size_t *n_out,
                 cap_error *e);

/* run_value.c */
const ticker_price *cache_find(const price_cache *c, const char *t);
/* Refuses negative quantities and values beyond range (CAP_EXIT_PRICE,
 * naming the row); warns about positions of portfolios the configuration
 * does not name (not counted). */
int value_fund(engine *en, const ledger *l, alloc_strategy *s, size_t n,
               capalloc_dec *master_positions, price_cache *pc, cap_error *e);

/* run_policy.c */
/* Run the policy stack on r's strategies (r->context set): their weights,
 * and what each stage did in r->stages. r->strategies[i].total and equity
 * (master cash + the master's positions + every strategy's total) as
 * alloc_equity computed them. */
int policy_weights(engine *en, const char *run_date, capalloc_dec master_cash,
                   capalloc_dec equity, alloc_report *r,
                   const capalloc_history *hist, cap_error *e);

/* The policy's inputs as bytes (master cash, total equity; each strategy's
 * id, cash, positions value and history), to tell whether a later read of
 * the ledger saw the same fund. *buf malloc'd. 0 or -1 (out of memory). */
int policy_inputs(capalloc_dec master_cash, capalloc_dec equity,
                  const alloc_strategy *s, size_t n,
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

/* run_rules.c: the rebalance rules' step (rules.h). run_rules_weights
 * after the policy (sets r->rules_on, the buffer's weights),
 * run_rules_apply after alloc_compute; 0 or an exit code. run_rules_json:
 * the explanation's "rebalance" object (a new reference), NULL when the
 * rules are off or out of memory. */
int run_rules_weights(engine *en, alloc_report *r, cap_error *e);
int run_rules_apply(engine *en, alloc_report *r, capalloc_dec master_cash,
                    cap_error *e);
struct json_t *run_rules_json(const engine *en, const alloc_report *r);
/* The explanation's "redemptions" object: queued, paid, each payment. */
struct json_t *run_redemptions_json(const engine *en, const alloc_report *r);

/* run_guard.c: stop the run on a large NAV move (see there). In the run's
 * transaction after valuing: 0 (r->accepted filled under
 * en->accept_moves), -1 retry, or an exit code (CAP_EXIT_REVIEW), rolled
 * back. run_guard_json: the accepted moves, for the explanation. */
int guard_large_moves(engine *en, const char *run_date, const ledger *l,
                      alloc_report *r, const price_cache *pc, cap_error *e);
struct json_t *run_guard_json(const engine *en, const alloc_report *r);

/* flows.c: capital references. flows_reference_valid: 0 or
 * CAP_EXIT_USAGE. flows_storage_has_refs: the backend keeps references
 * (ABI 1.2). flows_reference_check, in the movement's WRITE transaction:
 * 0 when ref is not booked yet, 1 for a repeat (r->repeat set; the
 * transaction stays open), -1 to retry, or an exit code (rolled back). */
int flows_reference_valid(const char *ref, cap_error *e);
int flows_storage_has_refs(const engine *en);
int flows_reference_check(engine *en, cap_action action, capalloc_dec amount,
                          const char *ref, capital_result *r, cap_error *e);
/* flows.c: queued redemptions in the allocation. flows_read_open, in the
 * run's transaction after the ledger: r->reds and r->queued (0, -1 retry,
 * or an exit code, rolled back). flows_plan_payout: what the run pays,
 * oldest first (the partial payout rule, flows.c). flows_write_with_payout:
 * write alloc, the payments and their WITHDRAW batch, and commit; returns
 * like eng_write_commit. */
int flows_storage_has_redemptions(const engine *en);
int flows_read_open(engine *en, alloc_report *r, cap_error *e);
void flows_plan_payout(alloc_report *r);
int flows_write_with_payout(engine *en, const capalloc_write_batch *alloc,
                            const alloc_report *r, cap_error *e);

/* chain_write.c: the hash chain on the write path (chain.h). */
struct chain_balance;
int chain_has_ops(const engine *en);
void chain_utc_now(char *buf, size_t len);
/* Write wb with its chain: chain_head (under the write lock), the hashes,
 * write(). A backend without the chain ops: a plain write(). */
capalloc_status chain_write(engine *en, const capalloc_write_batch *wb,
                            capalloc_err *err);
/* The anchor of a migrated ledger: *found, the run it follows, its hash,
 * (bal not NULL) its balances sorted by id, freed with chain_anchor_free,
 * and (info not NULL) all that read_anchor said of it. */
capalloc_status chain_read_anchor(engine *en, int *found,
                                  int64_t *after_run_id, unsigned char *hash,
                                  struct chain_balance **bal, size_t *n_bal,
                                  capalloc_chain_anchor *info,
                                  capalloc_err *err);
void chain_anchor_free(struct chain_balance *b, size_t n);

#endif
