/*
 * verify.c - `capalloc verify`: a ledger that checks itself.
 *
 * In one read transaction: the chain's anchor (a ledger migrated from
 * before the chain: its balances then, the start of the replay), then the
 * journal streamed run by run with its trade rows (read_journal), then
 * the books (read_ledger). Each run's prev_hash must be the hash of the
 * run before (the anchor's, or the genesis value), each row must match
 * its row hash (linked to the row before it: an edited, inserted or
 * deleted row is named), each run must match its run_hash (its fields,
 * its rows, the balances they leave); an allocation or import moves no
 * net cash, an ADD adds and a WITHDRAW takes, no balance is negative
 * after a run; at the end every book equals its replayed balance.
 *
 * Also: a run id <= 0 (a ledger without an anchor is read from the lowest
 * id), a row of a run before the anchor written after it, a run before
 * the anchor inserted or deleted (their number), an amount that
 * is not a decimal (the backend hands the row over with bad_column), a
 * negative balance in the anchor or the books. A chain cannot see its
 * tail cut off: verify_expect checks it against the head and the run
 * count the operator kept elsewhere. Not covered (README): valuations,
 * run prices, a run's detail, executed_at, positions_book, the queue of
 * redemptions.
 *
 * Time O(rows); memory O(portfolios): one entry per portfolio (a hash
 * table) and the current run's touched portfolios, never the journal.
 * A fault does not stop the replay: each is counted and the first few
 * are named (CAP_EXIT_INTEGRITY at the end). After a row or run that does
 * not match its hash, the replay links on from the STORED hash, so one
 * edited row is one fault (plus the balances it changed, expected vs
 * found), not every row after it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "decimal.h"
#include "engine_int.h"
#include "verify.h"

typedef struct pf {
    char *id;             /* NULL: a free slot */
    capalloc_dec cash;    /* replayed */
    int64_t last_run;     /* the run that last moved it */
    int moved;            /* a row moved it (else: as the anchor left it) */
    int unknown;          /* a row whose amount is not a decimal moved it:
                             no balance to compare (the row is named) */
    int64_t last_log;
    int64_t touched_run;  /* the current run touched it */
    int in_book;
    int tainted;          /* a faulty row or a missing run moved it: the
                             replayed balance is known to differ, so the
                             later runs' hashes over it are not faults of
                             their own */
} pf;

#define VERIFY_SHOWN 5 /* faults named in the message */

typedef struct vctx {
    engine *en;
    verify_result *r;
    cap_error *e;
    int64_t faults;
    int run_faults;        /* faults of the current run's rows */
    int run_hashed;        /* the current run carries valid hashes */
    int net_unknown;       /* a row of the run has no decimal amount */
    int oom;
    pf **slots;            /* open addressing; NULL: free */
    size_t cap, n;
    unsigned char expect_prev[SHA256_LEN];
    int64_t prev_run_id;   /* the last run replayed (have_prev) */
    int have_prev;
    const verify_expect *x; /* what was kept elsewhere, or NULL */
    int head_found;        /* a run carries x->head */
    int64_t head_run;      /* ... that run */
    int64_t last_log;      /* the last log row replayed */
    /* the current run */
    int in_run;
    int64_t run_id;
    char action[16];
    char run_date[16];
    int forced;
    char created_at[64];
    char *reference;
    char kind[16];         /* the run's kind (ABI 1.3), "" is RUN */
    int64_t reverses;
    unsigned char stored_hash[SHA256_LEN];
    unsigned char link[SHA256_LEN];
    uint64_t n_rows;
    capalloc_dec net;
    pf **touched;
    size_t n_touched, cap_touched;
    chain_balance *bal;
    size_t cap_bal;
} vctx;

#define AMT(d, buf) dec_format((d), v->en->cfg->minor_units, (buf), sizeof (buf))

static capalloc_status fail(vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A fault: counted, the first VERIFY_SHOWN named in e->msg (one line
 * each). The replay goes on. */
static capalloc_status fail(vctx *v, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    v->e->code = CAP_EXIT_INTEGRITY;
    if (v->faults++ < VERIFY_SHOWN) {
        size_t n = strlen(v->e->msg);
        snprintf(v->e->msg + n, sizeof v->e->msg - n, "%s%s",
                 n > 0 ? "\n  " : "", line);
    }
    return CAPALLOC_OK;
}

/* 16 hex digits of a hash: enough to tell two apart in a message. */
static const char *short_hex(const unsigned char h[SHA256_LEN], char *buf)
{
    char full[SHA256_HEX_LEN + 1];
    sha256_hex(h, full);
    snprintf(buf, 17, "%.16s", full);
    return buf;
}

static capalloc_status nomem(vctx *v)
{
    v->oom = 1;
    return CAPALLOC_ERR_NOMEM;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The portfolio's entry (create: made when missing). Entries are
 * allocated one by one and never move: the current run keeps pointers to
 * them (touched) while the table grows. */
static pf *lookup(vctx *v, const char *id, int create)
{
    if (create && (v->n + 1) * 10 >= v->cap * 7) {
        size_t ncap = v->cap ? v->cap * 2 : 1024;
        pf **ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; i < v->cap; i++) {
            if (v->slots[i] == NULL)
                continue;
            size_t j = hash_str(v->slots[i]->id) & (ncap - 1);
            while (ns[j] != NULL)
                j = (j + 1) & (ncap - 1);
            ns[j] = v->slots[i];
        }
        free(v->slots);
        v->slots = ns;
        v->cap = ncap;
    }
    if (v->cap == 0)
        return NULL;
    size_t j = hash_str(id) & (v->cap - 1);
    while (v->slots[j] != NULL) {
        if (strcmp(v->slots[j]->id, id) == 0)
            return v->slots[j];
        j = (j + 1) & (v->cap - 1);
    }
    if (!create)
        return NULL;
    pf *p = calloc(1, sizeof *p);
    if (p == NULL || (p->id = strdup(id)) == NULL) {
        free(p);
        return NULL;
    }
    v->slots[j] = p;
    v->n++;
    return p;
}

/* A fault whose portfolios are unknown (a run or row deleted): every
 * replayed balance is suspect from here on. */
static void taint_all(vctx *v)
{
    for (size_t i = 0; i < v->cap; i++)
        if (v->slots[i] != NULL)
            v->slots[i]->tainted = 1;
}

static int cmp_pf(const void *x, const void *y)
{
    return strcmp((*(pf *const *)x)->id, (*(pf *const *)y)->id);
}

static const char *run_label(const vctx *v, char *buf, size_t len)
{
    snprintf(buf, len, "run %lld (%s%s%s%s, %s)", (long long)v->run_id,
             v->action, v->run_date[0] ? " " : "", v->run_date,
             v->forced ? ", forced" : "", v->created_at);
    return buf;
}

/* The current run is complete: its hash, then what it did. */
static capalloc_status finish_run(vctx *v)
{
    char lab[160], a[CAPALLOC_DEC_MAX_TEXT], h1[17], h2[17];
    if (!v->in_run)
        return CAPALLOC_OK;
    v->in_run = 0;
    v->r->runs++;
    v->r->rows += (int64_t)v->n_rows;
    if (v->r->first_run == 0)
        v->r->first_run = v->run_id;
    v->r->last_run = v->run_id;
    if (!v->run_hashed) { /* a run without hashes: faulted already */
        for (size_t i = 0; i < v->n_touched; i++)
            if (dec_is_neg(v->touched[i]->cash))
                fail(v, "%s left portfolio '%s' with a negative balance %s",
                     run_label(v, lab, sizeof lab), v->touched[i]->id,
                     AMT(v->touched[i]->cash, a));
        return CAPALLOC_OK;
    }
    if (v->n_touched > 1)
        qsort(v->touched, v->n_touched, sizeof *v->touched, cmp_pf);
    if (v->n_touched > v->cap_bal) {
        free(v->bal);
        v->cap_bal = v->n_touched * 2;
        if ((v->bal = calloc(v->cap_bal, sizeof *v->bal)) == NULL) {
            v->cap_bal = 0;
            return nomem(v);
        }
    }
    for (size_t i = 0; i < v->n_touched; i++) {
        v->bal[i].portfolio_id = v->touched[i]->id;
        v->bal[i].cash = v->touched[i]->cash;
    }
    chain_run cr = {v->action, v->run_date, v->forced, v->created_at,
                    v->reference, v->kind, v->reverses};
    unsigned char h[SHA256_LEN];
    chain_run_hash(v->expect_prev, &cr, v->n_rows, v->link, v->bal,
                   v->n_touched, h);
    int tainted = 0;
    for (size_t i = 0; i < v->n_touched; i++)
        tainted |= v->touched[i]->tainted;
    if (memcmp(h, v->stored_hash, SHA256_LEN) != 0 && v->run_faults == 0 &&
        !tainted) {
        taint_all(v); /* a row at its end deleted: whose, unknown */
        fail(v,
             "%s does not match its run_hash (stored %s..., computed %s... "
             "from its fields, its %llu row%s and the balances they "
             "leave): a field of the run was edited, or a row at the end "
             "of the run was deleted",
             run_label(v, lab, sizeof lab), short_hex(v->stored_hash, h1),
             short_hex(h, h2), (unsigned long long)v->n_rows,
             v->n_rows == 1 ? "" : "s");
    }
    /* the fund's total: only ADD and WITHDRAW change it */
    int add = strcmp(v->action, "ADD") == 0;
    int wd = strcmp(v->action, "WITHDRAW") == 0;
    if (v->net_unknown)
        add = wd = 0; /* its net is unknown: the row is named */
    if (!v->net_unknown && !add && !wd && !dec_is_zero(v->net))
        fail(v,
                    "%s moved %s net cash %s the fund (expected 0: only ADD "
                    "and WITHDRAW change the fund's total)",
                    run_label(v, lab, sizeof lab), AMT(v->net, a),
                    dec_is_neg(v->net) ? "out of" : "into");
    if ((add && v->net.micros <= 0) || (wd && v->net.micros >= 0))
        fail(v, "%s moved net cash %s (expected %s)",
                    run_label(v, lab, sizeof lab), AMT(v->net, a),
                    add ? "> 0" : "< 0");
    for (size_t i = 0; i < v->n_touched; i++)
        if (dec_is_neg(v->touched[i]->cash) && !v->touched[i]->tainted)
            fail(v,
                        "%s left portfolio '%s' with a negative balance %s "
                        "(log row %lld)",
                        run_label(v, lab, sizeof lab), v->touched[i]->id,
                        AMT(v->touched[i]->cash, a),
                        (long long)v->touched[i]->last_log);
    /* the next run links to this one's stored hash, matched or not */
    memcpy(v->expect_prev, v->stored_hash, SHA256_LEN);
    v->prev_run_id = v->run_id;
    v->have_prev = 1;
    sha256_hex(v->stored_hash, v->r->head);
    return CAPALLOC_OK;
}

static capalloc_status run_cb(void *ctx, const capalloc_journal_run *jr)
{
    vctx *v = ctx;
    capalloc_status st = finish_run(v);
    if (st != CAPALLOC_OK)
        return st;
    char lab[160], h1[17], h2[17];
    v->in_run = 1;
    v->run_faults = 0;
    v->run_hashed = 0;
    v->net_unknown = 0;
    v->run_id = jr->run_id;
    snprintf(v->action, sizeof v->action, "%s", jr->action);
    snprintf(v->run_date, sizeof v->run_date, "%s",
             jr->run_date ? jr->run_date : "");
    v->forced = jr->forced;
    snprintf(v->kind, sizeof v->kind, "%s", jr->kind ? jr->kind : "");
    v->reverses = jr->reverses;
    snprintf(v->created_at, sizeof v->created_at, "%s",
             jr->created_at ? jr->created_at : "");
    free(v->reference);
    v->reference = NULL;
    if (jr->reference != NULL && (v->reference = strdup(jr->reference)) == NULL)
        return nomem(v);
    v->n_rows = 0;
    v->net.micros = 0;
    v->n_touched = 0;
    if (v->x != NULL && v->x->head != NULL && jr->run_hash != NULL &&
        strcmp(jr->run_hash, v->x->head) == 0) {
        v->head_found = 1;
        v->head_run = v->r->head_run = jr->run_id;
    }
    if (jr->run_id <= 0) /* only a ledger without an anchor reads these */
        fail(v,
             "%s: run ids start at 1, this run was inserted by hand (it "
             "also takes its date from a real allocation)",
             run_label(v, lab, sizeof lab));
    unsigned char prev[SHA256_LEN];
    if (jr->prev_hash == NULL || jr->run_hash == NULL ||
        chain_from_hex(jr->prev_hash, prev) ||
        chain_from_hex(jr->run_hash, v->stored_hash)) {
        /* the next run is checked against the run before this one */
        memcpy(v->link, v->expect_prev, SHA256_LEN);
        v->run_faults = 1;
        return fail(v,
                    "%s carries no valid hash (prev_hash %s, run_hash %s): "
                    "it was inserted by hand or written outside capalloc",
                    run_label(v, lab, sizeof lab),
                    jr->prev_hash ? jr->prev_hash : "NULL",
                    jr->run_hash ? jr->run_hash : "NULL");
    }
    v->run_hashed = 1;
    if (memcmp(prev, v->expect_prev, SHA256_LEN) != 0) {
        short_hex(v->expect_prev, h1);
        short_hex(prev, h2);
        if (!v->have_prev)
            fail(v,
                 "%s, the first of the chain, does not link to %s "
                 "(expected prev_hash %s..., found %s...): a run before it "
                 "was deleted, or it was edited",
                 run_label(v, lab, sizeof lab),
                 v->r->anchored ? "the chain's anchor" : "the genesis value",
                 h1, h2);
        else
            fail(v,
                 "%s does not link to run %lld before it (expected "
                 "prev_hash %s..., found %s...): %s",
                 run_label(v, lab, sizeof lab), (long long)v->prev_run_id,
                 h1, h2,
                 jr->run_id != v->prev_run_id + 1
                     ? "a run between them was deleted (run ids jump)"
                     : "its prev_hash was edited");
        /* its own hash is checked from what it says it follows; the
         * balances it leaves differ too when a run before it went: one
         * fault for the run */
        memcpy(v->expect_prev, prev, SHA256_LEN);
        v->run_faults++;
        taint_all(v); /* which balances the gap moved: unknown */
    }
    memcpy(v->link, prev, SHA256_LEN);
    return CAPALLOC_OK;
}

/* A cash row's movement, replayed: the balance, and when the row is in
 * the current run, the run's net and the portfolios it touched. */
static capalloc_status apply_row(vctx *v, const capalloc_journal_row *t,
                                 int in_run, int faulty, const char *lab)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    if (strcmp(t->ticker, v->en->cash_ticker) != 0)
        return CAPALLOC_OK;
    pf *p = lookup(v, t->portfolio_id, 1);
    if (p == NULL)
        return nomem(v);
    capalloc_dec q = t->quantity, nc, nn = v->net;
    if (t->side == CAPALLOC_SELL)
        q.micros = -q.micros; /* t->quantity >= 0 below: no overflow */
    if (dec_is_neg(t->quantity) || dec_add(p->cash, q, &nc) ||
        (in_run && dec_add(v->net, q, &nn)))
        return fail(v,
                    "%s, log row %lld (portfolio '%s'): quantity %s is "
                    "negative or takes the balance out of range (not "
                    "replayed)",
                    lab, (long long)t->log_id, t->portfolio_id,
                    AMT(t->quantity, a));
    p->cash = nc;
    p->tainted |= faulty;
    p->last_run = t->run_id;
    p->last_log = t->log_id;
    p->moved = 1;
    if (!in_run)
        return CAPALLOC_OK;
    v->net = nn;
    if (p->touched_run != v->run_id) {
        p->touched_run = v->run_id;
        if (GROW(v->touched, v->n_touched, v->cap_touched))
            return nomem(v);
        v->touched[v->n_touched++] = p;
    }
    return CAPALLOC_OK;
}

static capalloc_status row_cb(void *ctx, const capalloc_journal_row *t)
{
    vctx *v = ctx;
    char lab[160], a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c[CAPALLOC_DEC_MAX_TEXT], h1[17], h2[17], gap[160];
    const char *side = t->side == CAPALLOC_BUY ? "BUY" : "SELL";
    if (!v->in_run || t->run_id != v->run_id) {
        capalloc_status st = finish_run(v); /* the run before it is done */
        if (st != CAPALLOC_OK)
            return st;
        snprintf(lab, sizeof lab, "run %lld", (long long)t->run_id);
        if (v->r->anchored && t->run_id <= v->r->anchor_after_run)
            fail(v,
                 "log row %lld (portfolio '%s', %s %s %s) belongs to run "
                 "%lld, before the chain's anchor, but was written after "
                 "the migration (its log id is above the anchor's): "
                 "inserted by hand",
                 (long long)t->log_id, t->portfolio_id, t->ticker, side,
                 AMT(t->quantity, a), (long long)t->run_id);
        else
            fail(v,
                 "log row %lld (portfolio '%s', %s %s %s) belongs to run "
                 "%lld, which is not in the ledger: inserted by hand, or its "
                 "run was deleted",
                 (long long)t->log_id, t->portfolio_id, t->ticker, side,
                 AMT(t->quantity, a), (long long)t->run_id);
        return apply_row(v, t, 0, 1, lab);
    }
    run_label(v, lab, sizeof lab);
    if (t->bad_column != NULL) {
        /* an amount that is not a decimal: edited by hand; the portfolio's
         * replayed balance is unknown from here on */
        v->run_faults++;
        fail(v,
             "%s, log row %lld (portfolio '%s', %s %s): "
             "trade_execution_logs.%s holds '%.40s', not an exact decimal: "
             "the row was edited by hand",
             lab, (long long)t->log_id, t->portfolio_id, t->ticker, side,
             t->bad_column, t->bad_text ? t->bad_text : "NULL");
        if (strcmp(t->ticker, v->en->cash_ticker) == 0) {
            pf *p = lookup(v, t->portfolio_id, 1);
            if (p == NULL)
                return nomem(v);
            p->tainted = p->moved = p->unknown = 1;
            v->net_unknown = 1;
            p->last_run = t->run_id;
            p->last_log = t->log_id;
        }
        unsigned char stored[SHA256_LEN];
        if (t->row_hash != NULL && chain_from_hex(t->row_hash, stored) == 0)
            memcpy(v->link, stored, SHA256_LEN);
        v->n_rows++;
        v->last_log = t->log_id;
        return CAPALLOC_OK;
    }
    if (t->row_hash == NULL) {
        /* not part of the chain: the rows after it link past it */
        v->run_faults++;
        fail(v,
             "%s, log row %lld (portfolio '%s', %s %s %s) carries no row "
             "hash: inserted by hand",
             lab, (long long)t->log_id, t->portfolio_id, t->ticker, side,
             AMT(t->quantity, a));
        return apply_row(v, t, 1, 1, lab);
    }
    unsigned char h[SHA256_LEN], stored[SHA256_LEN];
    chain_row_hash(v->link, v->n_rows, t->portfolio_id, t->ticker, t->side,
                   t->quantity, t->arrival_price, t->exec_price, h);
    int parsed = chain_from_hex(t->row_hash, stored) == 0;
    int faulty = !parsed || memcmp(h, stored, SHA256_LEN) != 0;
    if (faulty) {
        v->run_faults++;
        gap[0] = '\0';
        if (v->last_log != 0 && t->log_id != v->last_log + 1) {
            snprintf(gap, sizeof gap,
                     "; log ids jump from %lld to %lld (a row between them "
                     "deleted?)",
                     (long long)v->last_log, (long long)t->log_id);
            taint_all(v);
        }
        fail(v,
             "%s, log row %lld (portfolio '%s', %s %s %s at %s/%s) does not "
             "match its row hash (stored %s..., computed %s...): the row "
             "was edited, or one before it in the run deleted%s",
             lab, (long long)t->log_id, t->portfolio_id, t->ticker, side,
             AMT(t->quantity, a), AMT(t->arrival_price, b),
             AMT(t->exec_price, c),
             parsed ? short_hex(stored, h1) : "(not a hash)",
             short_hex(h, h2), gap);
    }
    /* the next row links to this one's stored hash, matched or not */
    memcpy(v->link, parsed ? stored : h, SHA256_LEN);
    v->n_rows++;
    v->last_log = t->log_id;
    return apply_row(v, t, 1, faulty, lab);
}

/* The books, against the replay. */
static capalloc_status book_cb(void *ctx, const char *id, capalloc_dec cash)
{
    vctx *v = ctx;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    pf *p = lookup(v, id, 0);
    capalloc_dec want = p ? p->cash : DEC_ZERO;
    if (p != NULL)
        p->in_book = 1;
    v->r->portfolios++;
    if (dec_is_neg(cash))
        fail(v, "portfolio '%s': cash_equity_book holds a negative balance "
                "%s: edited by hand",
             id, AMT(cash, a));
    if (!v->r->total_overflow &&
        dec_add(v->r->fund_total, cash, &v->r->fund_total))
        v->r->total_overflow = 1; /* a sum to show, not a fault */
    if (dec_cmp(want, cash) == 0 || (p != NULL && p->unknown))
        return CAPALLOC_OK;
    if (p == NULL || !p->moved)
        return fail(v,
                    "portfolio '%s': cash_equity_book holds %s, the journal "
                    "replays to %s (%s): the balance was edited by hand%s",
                    id, AMT(cash, a), AMT(want, b),
                    p == NULL ? "no run in the journal moved its cash"
                              : "as the chain's anchor left it",
                    p == NULL ? ", or the runs that moved it deleted" : "");
    return fail(v,
                "portfolio '%s': cash_equity_book holds %s, the journal "
                "replays to %s (last moved by run %lld, log row %lld): the "
                "balance was edited by hand, or that run deleted",
                id, AMT(cash, a), AMT(want, b), (long long)p->last_run,
                (long long)p->last_log);
}

static capalloc_status position_cb(void *ctx, const char *id,
                                   const char *ticker, capalloc_dec q)
{
    (void)ctx, (void)id, (void)ticker, (void)q;
    return CAPALLOC_OK;
}

static capalloc_status anchor_run_cb(void *ctx, const capalloc_chain_anchor *a)
{
    (void)ctx, (void)a;
    return CAPALLOC_OK;
}

static void vctx_free(vctx *v)
{
    for (size_t i = 0; i < v->cap; i++)
        if (v->slots[i] != NULL) {
            free(v->slots[i]->id);
            free(v->slots[i]);
        }
    free(v->slots);
    free(v->touched);
    free(v->bal);
    free(v->reference);
}

/* Stop on a fault or a storage failure: 0, or the exit code. */
static int verify_status(engine *en, vctx *v, capalloc_status st,
                         const capalloc_err *err, const char *what)
{
    if (v->oom) {
        eng_rollback(en);
        return eng_oom(v->e);
    }
    if (st == CAPALLOC_ERR_IO && strstr(err->msg, "not an exact decimal")) {
        /* a value edited by hand outside the journal's rows (a balance of
         * the books or of the anchor): a fault, but the replay cannot go
         * on without it */
        eng_rollback(en);
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        v->faults++;
        return cap_fail(v->e, CAP_EXIT_INTEGRITY,
                        "the ledger does not verify: %s, %s: edited by hand "
                        "(verify stops here)",
                        what, msg);
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, err, what, v->e);
    return 0;
}

int engine_verify(engine *en, verify_result *r, cap_error *e)
{
    return engine_verify_expect(en, NULL, r, e);
}

int engine_verify_expect(engine *en, const verify_expect *x,
                         verify_result *r, cap_error *e)
{
    memset(r, 0, sizeof *r);
    e->msg[0] = '\0';
    int rc = eng_begin(en, CAPALLOC_TXN_READ, e);
    if (rc != 0)
        return rc < 0 ? cap_fail(e, CAP_EXIT_BUSY, "the ledger is busy; "
                                 "try again") : rc;
    if (!chain_has_ops(en)) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_STORAGE,
                        "storage '%s' keeps no hash chain (it speaks ABI "
                        "%u.%u, the chain needs 1.3): nothing to verify",
                        en->storage->hdr->name,
                        (unsigned)SP(en)->header.abi_major,
                        (unsigned)SP(en)->header.abi_minor);
    }
    vctx v;
    memset(&v, 0, sizeof v);
    v.en = en;
    v.r = r;
    v.e = e;
    v.x = x;
    capalloc_err err = {{0}, {0}};

    /* the start: the anchor's balances, or nothing before the genesis */
    chain_balance *bal = NULL;
    size_t n_bal = 0;
    int found = 0;
    int64_t after = 0;
    capalloc_chain_anchor info;
    memset(&info, 0, sizeof info);
    capalloc_status st = chain_read_anchor(en, &found, &after, v.expect_prev,
                                           &bal, &n_bal, &info, &err);
    if ((rc = verify_status(en, &v, st, &err, "reading the chain's anchor")))
        return rc;
    if (found) {
        r->anchored = 1;
        r->anchor_after_run = after;
        if (info.runs_before_now != info.runs_before)
            fail(&v,
                 "the ledger holds %lld run%s up to run %lld, the chain's "
                 "anchor recorded %lld at the migration: a run before the "
                 "anchor was %s by hand",
                 (long long)info.runs_before_now,
                 info.runs_before_now == 1 ? "" : "s", (long long)after,
                 (long long)info.runs_before,
                 info.runs_before_now > info.runs_before ? "inserted"
                                                         : "deleted");
        for (size_t i = 0; i < n_bal; i++) {
            pf *p = lookup(&v, bal[i].portfolio_id, 1);
            if (p == NULL) {
                chain_anchor_free(bal, n_bal);
                vctx_free(&v);
                eng_rollback(en);
                return eng_oom(e);
            }
            p->cash = bal[i].cash;
            if (dec_is_neg(bal[i].cash)) {
                char a[CAPALLOC_DEC_MAX_TEXT];
                fail(&v,
                     "portfolio '%s': the chain's anchor holds a negative "
                     "balance %s: edited by hand",
                     bal[i].portfolio_id,
                     dec_format(bal[i].cash, en->cfg->minor_units, a,
                                sizeof a));
            }
        }
        chain_anchor_free(bal, n_bal);
    } else {
        chain_genesis(v.expect_prev);
        /* every run and row, run ids <= 0 included (faults: run ids start
         * at 1) */
        after = INT64_MIN;
    }

    /* the journal, run by run */
    capalloc_journal_sink js = {&v, anchor_run_cb, NULL, run_cb, row_cb};
    st = SP(en)->read_journal(en->storage->state, after, &js, &err);
    if (st == CAPALLOC_OK && !v.oom)
        st = finish_run(&v);
    if (st == CAPALLOC_OK && !v.oom && x != NULL) {
        const char *end = r->head[0] ? r->head : "none";
        if (x->head != NULL && !v.head_found)
            fail(&v,
                 "no run of the chain carries the head recorded elsewhere "
                 "(%.16s...): the runs from that one to the end were "
                 "deleted, or the chain rewritten (it ends at run %lld, "
                 "hash %.16s..., %lld run%s)",
                 x->head, (long long)r->last_run, end, (long long)r->runs,
                 r->runs == 1 ? "" : "s");
        if (x->runs >= 0 && r->runs < x->runs)
            fail(&v,
                 "the chain holds %lld run%s, %lld were recorded elsewhere: "
                 "%lld run%s at its end deleted (it ends at run %lld)",
                 (long long)r->runs, r->runs == 1 ? "" : "s",
                 (long long)x->runs, (long long)(x->runs - r->runs),
                 x->runs - r->runs == 1 ? "" : "s", (long long)r->last_run);
    }
    if ((rc = verify_status(en, &v, st, &err, "reading the journal"))) {
        vctx_free(&v);
        return rc;
    }

    /* the books */
    capalloc_ledger_sink ls = {&v, book_cb, position_cb};
    st = SP(en)->read_ledger(en->storage->state, &ls, &err);
    if ((rc = verify_status(en, &v, st, &err, "reading the books"))) {
        vctx_free(&v);
        return rc;
    }
    char a[CAPALLOC_DEC_MAX_TEXT];
    for (size_t i = 0; i < v.cap; i++) {
        pf *p = v.slots[i];
        if (p != NULL && !p->in_book && !dec_is_zero(p->cash))
            fail(&v,
                 "portfolio '%s': the journal replays to %s (last moved by "
                 "run %lld, log row %lld) but it has no cash_equity_book "
                 "row: deleted by hand",
                 p->id, dec_format(p->cash, en->cfg->minor_units, a, sizeof a),
                 (long long)p->last_run, (long long)p->last_log);
    }
    eng_rollback(en); /* a read: nothing to commit */
    r->faults = v.faults;
    vctx_free(&v);
    if (r->faults == 0)
        return 0;
    /* the faults named first, then how many */
    char head[160];
    snprintf(head, sizeof head,
             "the ledger does not verify: %lld fault%s%s\n  ",
             (long long)r->faults, r->faults == 1 ? "" : "s",
             r->faults > VERIFY_SHOWN ? " (the first 5 below)" : "");
    size_t hn = strlen(head), mn = strlen(e->msg);
    if (hn + mn >= sizeof e->msg)
        mn = sizeof e->msg - hn - 1;
    memmove(e->msg + hn, e->msg, mn);
    memcpy(e->msg, head, hn);
    e->msg[hn + mn] = '\0';
    e->code = CAP_EXIT_INTEGRITY;
    return CAP_EXIT_INTEGRITY;
}
