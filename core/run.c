/*
 * run.c - the daily allocation and the status view: one attempt reads the
 * ledger, values the fund, asks the policy, plans the transfers and (unless
 * dry) applies them; a conflict re-runs it from a fresh read (prices
 * already fetched are kept, so the price source is still asked once per
 * ticker). A real run asks the policy in a read transaction and applies
 * its weights under the write lock only when the fund read again is the
 * one the policy saw (see run_phase).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"
#include "policy_stack.h"

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
    free(r->detail_json);
    stage_results_free(r->stages, r->n_stages);
    free(r->stages);
    free(r->effects);
    free(r->reds);
    free(r->accepted);
    memset(r, 0, sizeof *r);
}

static int nav_accepted(const engine *en, const char *id)
{
    for (size_t k = 0; k < en->n_accept_nav; k++)
        if (strcmp(en->accept_nav[k], id) == 0)
            return 1;
    return 0;
}

/* A real run asks the policy stack in a read transaction first (PHASE_
 * POLICY), so that policies - up to their time limits - never run while
 * the ledger's write lock is held; then, under the lock (PHASE_APPLY), it
 * reads the ledger again and applies those weights when the policy's
 * inputs are byte for byte the same, or starts over when another writer
 * changed them in between. A dry run and the status view do it all in
 * one read transaction (PHASE_ONCE). */
typedef enum run_phase { PHASE_ONCE, PHASE_POLICY, PHASE_APPLY } run_phase;

typedef struct policy_memo {
    unsigned char *inputs; /* policy_inputs() of PHASE_POLICY */
    size_t len;
    capalloc_dec *w;       /* the weights it gave, r->n of them */
    fresh_read fresh;      /* its stamp and read (run_fresh.c); not
                              touched by memo_clear */
} policy_memo;

static void memo_clear(policy_memo *m)
{
    free(m->inputs);
    free(m->w);
    m->inputs = NULL;
    m->len = 0;
    m->w = NULL;
}

/* PHASE_APPLY on the read PHASE_POLICY kept (run_fresh.c): its weights. */
static int memo_weights(const policy_memo *m, alloc_report *r)
{
    if (m->w == NULL)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        r->strategies[i].weight = m->w[i];
    return 1;
}

/* PHASE_POLICY: keep the inputs and weights. PHASE_APPLY: 1 when the
 * inputs are those the policy saw (the weights are then set), 0 when not,
 * -1 out of memory. */
static int memo_use(run_phase phase, policy_memo *m, capalloc_dec master_cash,
                    capalloc_dec equity, alloc_report *r,
                    const capalloc_history *h)
{
    unsigned char *in;
    size_t len;
    if (policy_inputs(master_cash, equity, r->strategies, r->n, h, &in,
                      &len) != 0)
        return -1;
    if (phase == PHASE_POLICY) {
        memo_clear(m);
        m->inputs = in;
        m->len = len;
        m->w = calloc(r->n ? r->n : 1, sizeof *m->w);
        if (m->w == NULL)
            return -1;
        for (size_t i = 0; i < r->n; i++)
            m->w[i] = r->strategies[i].weight;
        return 1;
    }
    int same = m->inputs != NULL && m->len == len &&
               memcmp(m->inputs, in, len) == 0;
    free(in);
    if (same)
        for (size_t i = 0; i < r->n; i++)
            r->strategies[i].weight = m->w[i];
    return same;
}

/* One attempt of a plan (and, unless dry, its write). Returns 0 done,
 * -1 retry, -2 lost the race for the date, or an exit code. */
static int allocate_once(engine *en, const char *run_date, int force,
                         int dry_run, int check_run, run_phase phase,
                         policy_memo *memo, alloc_report *r,
                         price_cache *pc, cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    int rc = eng_begin(en,
                       dry_run || phase == PHASE_POLICY ? CAPALLOC_TXN_READ
                                                        : CAPALLOC_TXN_WRITE,
                       e);
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
            eng_rollback(en);
            return -1;
        }
        if (st != CAPALLOC_OK)
            return eng_storage_fail(en, st, &err, "looking up earlier runs", e);
        if (found && !force) {
            eng_rollback(en);
            r->already_ran = 1;
            return 0;
        }
    }

    /* the ledger's change stamp (run_fresh.c): under the write lock, the
     * policy's read is used again when nobody wrote since */
    ledger l = {0};
    int reuse = 0;
    if (phase == PHASE_POLICY)
        rc = fresh_stamp(en, &memo->fresh, e);
    else if (phase == PHASE_APPLY)
        rc = fresh_check(en, &memo->fresh, &l, &reuse, e);
    if (rc != 0)
        return rc;

    /* read: balances, positions and the strategies' recorded history */
    if (!reuse)
        rc = read_ledger(en, &l, e);
    if (rc != 0) {
        if (rc < 0)
            eng_rollback(en);
        return rc;
    }
    const cash_row *mr = find_cash(&l, cfg->master_id);
    capalloc_dec master_cash = mr ? mr->cash : DEC_ZERO;
    if ((rc = flows_read_open(en, r, e)) != 0) {
        ledger_free(&l);
        return rc;
    }
    run_history rh = {0};
    if (!reuse) {
        warn_unknown_books(en, &l, r->strategies, r->n);
        rc = read_run_history(en, run_date, r->strategies, r->n, &rh, e);
        if (rc != 0) {
            ledger_free(&l);
            return rc;
        }
        r->history_points = rh.n_points;
    }

    /* value, policy, plan */
    r->context = !dry_run     ? CAPALLOC_CALL_RUN
                 : check_run ? CAPALLOC_CALL_DRY_RUN
                             : CAPALLOC_CALL_STATUS;
    alloc_master m = {master_cash, DEC_ZERO};
    capalloc_dec equity = DEC_ZERO;
    if (reuse) /* the strategies hold the policy's read's valuation */
        m.positions_value = memo->fresh.master_positions;
    else
        rc = value_fund(en, &l, r->strategies, r->n, &m.positions_value, pc,
                        e);
    if (rc == 0 && !reuse)
        eng_progress(en, "valued %zu strategies and %zu positions: %zu "
                         "tickers priced by '%s' (%zu request%s)",
                     r->n, l.n_pos, pc->n_used, en->prices->hdr->name,
                     pc->requests, pc->requests == 1 ? "" : "s");
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        r->strategies[i].nav_accepted = nav_accepted(en, r->strategies[i].id);
    /* the guard runs in every phase: before a slow policy, and again under
     * the write lock on what is then applied */
    if (rc == 0 && check_run &&
        (rc = guard_large_moves(en, run_date, &l, r, pc, e)) != 0) {
        run_history_free(&rh);
        ledger_free(&l);
        return rc;
    }
    if (rc == 0)
        rc = alloc_equity(m, r->strategies, r->n, cfg->minor_units, &equity,
                          e);
    if (rc == 0 && phase == PHASE_APPLY) {
        int same = reuse ? memo_weights(memo, r)
                         : memo_use(phase, memo, master_cash, equity, r, rh.h);
        if (same <= 0) {
            /* another writer changed the fund since the policy ran */
            run_history_free(&rh);
            ledger_free(&l);
            eng_rollback(en);
            return same < 0 ? eng_oom(e) : -1;
        }
    } else if (rc == 0) {
        rc = policy_weights(en, run_date, master_cash, equity, r, rh.h, e);
    }
    if (rc == 0 && phase == PHASE_POLICY) {
        rc = memo_use(phase, memo, master_cash, equity, r, rh.h) < 0
                 ? eng_oom(e)
                 : 0;
        run_history_free(&rh);
        fresh_note(&memo->fresh, &l, m.positions_value);
        eng_rollback(en);
        return rc;
    }
    run_history_free(&rh);
    if (rc == 0)
        rc = run_rules_weights(en, r, e);
    if (rc == 0)
        rc = alloc_compute(m, r->strategies, r->n, cfg->minor_units,
                           &r->totals, e);
    if (rc == 0)
        rc = run_rules_apply(en, r, master_cash, e);
    if (rc == 0)
        flows_plan_payout(r);
    if (rc != 0) {
        ledger_free(&l);
        eng_rollback(en);
        return rc;
    }

    /* Books to open: strategies (and the master) with no cash row, in the
     * strategies' order. */
    r->n_new_books = 0;
    for (size_t i = 0; i < r->n; i++)
        if (find_cash(&l, r->strategies[i].id) == NULL)
            r->new_books[r->n_new_books++] = (char *)r->strategies[i].id;
    int master_new = (mr == NULL);
    ledger_free(&l);

    r->prices = pc->p; /* the prices used, for the record (plan() keeps them) */
    r->n_prices = pc->n_used;
    record_buf rb;
    rc = plan_record(en, r, dry_run ? NULL : &rb, e);
    if (rc != 0 || dry_run) {
        eng_rollback(en);
        return rc;
    }
    batch_buf b = {0};
    if (plan_transfers(en, r, master_new, &b) != 0) {
        batch_free(&b);
        record_buf_free(&rb);
        eng_rollback(en);
        return eng_oom(e);
    }

    /* apply: one batch, one commit */
    capalloc_write_batch wb = {"ALLOCATE", run_date, force && found,
                               cfg->currency,
                               b.trades, b.n_trades, b.cash, b.n_cash,
                               NULL, 0, en->memory ? &rb.rec : NULL, NULL};
    eng_progress(en, "writing %zu transfer rows, %zu balances and the "
                     "run's record",
                 b.n_trades, b.n_cash);
    rc = r->paid_out.micros > 0 ? flows_write_with_payout(en, &wb, r, e)
                                : eng_write_commit(en, &wb, e);
    if (rc == 0)
        eng_progress(en, "committed");
    batch_free(&b);
    record_buf_free(&rb);
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
        return eng_oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        r->strategies[i].id = strdup(ids[i]);
        if (r->strategies[i].id == NULL) {
            r->n = i;
            free(ids);
            alloc_report_free(r);
            return eng_oom(e);
        }
    }
    r->n = n;
    free(ids);
    /* --accept-nav names strategies: a typo must not pass unnoticed */
    for (size_t k = 0; k < en->n_accept_nav; k++) {
        size_t i = 0;
        while (i < n && strcmp(r->strategies[i].id, en->accept_nav[k]) != 0)
            i++;
        if (i == n) {
            alloc_report_free(r);
            return cap_fail(e, CAP_EXIT_USAGE,
                            "--accept-nav: '%s' is not a strategy "
                            "portfolio of %s",
                            en->accept_nav[k], en->cfg->path);
        }
    }

    price_cache pc = {0};
    policy_memo memo = {0};
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        r->attempts = attempt;
        if (dry_run) {
            rc = allocate_once(en, run_date, force, dry_run, check_run,
                               PHASE_ONCE, NULL, r, &pc, e);
        } else {
            rc = allocate_once(en, run_date, force, dry_run, check_run,
                               PHASE_POLICY, &memo, r, &pc, e);
            if (rc == 0 && !r->already_ran)
                rc = allocate_once(en, run_date, force, dry_run, check_run,
                                   PHASE_APPLY, &memo, r, &pc, e);
        }
        if (rc == -2) {
            /* A concurrent allocator recorded this date between our check
             * and our write: look again, which reports it as already run. */
            rc = -1;
        }
    }
    memo_clear(&memo);
    fresh_clear(&memo.fresh);
    if (rc < 0)
        rc = eng_retries_exhausted(en, e);
    /* the report keeps the prices used; the others go */
    for (size_t i = pc.n_used; i < pc.n; i++)
        free(pc.p[i].ticker);
    price_cache_free_absent(&pc);
    r->prices = pc.p;
    r->n_prices = pc.n_used;
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

