/*
 * run.c - the daily allocation and the status view: one attempt reads the
 * ledger, values the fund, asks the policy, plans the transfers and (unless
 * dry) applies them; a conflict re-runs it from a fresh read (prices
 * already fetched are kept, so the price source is still asked once per
 * ticker). A real run makes its plan in a read transaction and applies
 * it under the write lock only when the ledger is still in the state the
 * plan was made from (plan.h, run_phase).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"
#include "plan.h"
#include "plan_file.h"
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

/* A real run makes its plan in a read transaction (PHASE_PLAN): the
 * prices fetched, the policy stack and the rebalance rules run, the
 * transfers and the run's record computed, bound to the ledger state they
 * were made from (plan.h); then plan_apply() takes the write lock only to
 * check that state and write. A dry run and the status view do it all in
 * one read transaction (PHASE_ONCE) and write nothing. */
typedef enum run_phase { PHASE_ONCE, PHASE_PLAN } run_phase;

/* What PHASE_PLAN keeps for the apply: nothing is valued twice. */
typedef struct planned {
    batch_buf b;
    record_buf rb;
    int found;        /* the date had a run (a forced repeat) */
    int to_file;      /* --plan-out: the state with its positions' digest */
    plan_state st;
} planned;

static void planned_clear(planned *p)
{
    batch_free(&p->b);
    record_buf_free(&p->rb);
    plan_state_free(&p->st);
    memset(p, 0, sizeof *p);
}

/* One attempt of a plan (in a read transaction, rolled back at the end).
 * Returns 0 done, -1 retry, or an exit code. */
static int allocate_once(engine *en, const char *run_date, int force,
                         int dry_run, int check_run, run_phase phase,
                         planned *pl, alloc_report *r, price_cache *pc,
                         cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    int rc = eng_begin(en, CAPALLOC_TXN_READ, e);
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

    /* read: balances, positions and the strategies' recorded history */
    ledger l = {0};
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
    warn_unknown_books(en, &l, r->strategies, r->n);
    run_history rh;
    rc = read_run_history(en, run_date, r->strategies, r->n, &rh, e);
    if (rc != 0) {
        ledger_free(&l);
        return rc;
    }
    r->history_points = rh.n_points;
    if (phase == PHASE_PLAN) {
        /* the state the plan is made from, checked under the write lock */
        plan_state_free(&pl->st);
        pl->found = found;
        if (plan_state_make(&l, found ? r->previous.run_id : 0, r->reds,
                            r->n_reds, &rh.vs,
                            pl->to_file || !plan_stamp_kept(en),
                            &pl->st) != 0) {
            run_history_free(&rh);
            ledger_free(&l);
            eng_rollback(en);
            return eng_oom(e);
        }
        pl->st.history_points = en->memory ? en->history_points : 0;
        plan_state_finish(&pl->st);
        if ((rc = plan_state_stamp(en, &pl->st, e)) != 0) {
            run_history_free(&rh);
            ledger_free(&l);
            return rc;
        }
    }

    /* value, policy, plan */
    r->context = !dry_run     ? CAPALLOC_CALL_RUN
                 : check_run ? CAPALLOC_CALL_DRY_RUN
                             : CAPALLOC_CALL_STATUS;
    alloc_master m = {master_cash, DEC_ZERO};
    capalloc_dec equity = DEC_ZERO;
    rc = value_fund(en, &l, r->strategies, r->n, &m.positions_value, pc, e);
    if (rc == 0)
        eng_progress(en, "valued %zu strategies and %zu positions: %zu "
                         "tickers priced by '%s' (%zu request%s)",
                     r->n, l.n_pos, pc->n_used, en->prices->hdr->name,
                     pc->requests, pc->requests == 1 ? "" : "s");
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        r->strategies[i].nav_accepted = nav_accepted(en, r->strategies[i].id);
    if (rc == 0 && check_run &&
        (rc = guard_large_moves(en, run_date, &l, r, pc, e)) != 0) {
        run_history_free(&rh);
        ledger_free(&l);
        return rc;
    }
    if (rc == 0)
        rc = alloc_equity(m, r->strategies, r->n, cfg->minor_units, &equity,
                          e);
    if (rc == 0)
        rc = policy_weights(en, run_date, master_cash, equity, r, rh.h, e);
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
    if (phase == PHASE_ONCE) {
        rc = plan_record(en, r, NULL, e);
        eng_rollback(en);
        return rc;
    }
    batch_free(&pl->b);
    record_buf_free(&pl->rb);
    rc = plan_record(en, r, &pl->rb, e);
    if (rc == 0 && plan_transfers(en, r, master_new, &pl->b) != 0)
        rc = eng_oom(e);
    eng_rollback(en);
    return rc;
}

/* plan_out: write the plan there (as the preparer prepared_by) instead of
 * applying it. */
static int plan(engine *en, const char *run_date, int force, int dry_run,
                int check_run, const char *plan_out,
                const char *prepared_by, alloc_report *r, cap_error *e)
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
    planned pl;
    memset(&pl, 0, sizeof pl);
    pl.to_file = plan_out != NULL;
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        r->attempts = attempt;
        rc = allocate_once(en, run_date, force, dry_run, check_run,
                           dry_run ? PHASE_ONCE : PHASE_PLAN, &pl, r, &pc,
                           e);
        if (rc == 0 && plan_out != NULL && !r->already_ran) {
            rc = plan_file_write(en, r, &pl.b, &pl.rb, force && pl.found,
                                 &pl.st, plan_out, prepared_by, e);
        } else if (rc == 0 && !dry_run && !r->already_ran) {
            plan_write w = {run_date, force && pl.found,
                            pl.b.trades, pl.b.n_trades,
                            pl.b.cash, pl.b.n_cash,
                            en->memory ? &pl.rb.rec : NULL, r};
            /* stale (another writer changed the ledger since the plan
             * was made): plan again */
            rc = plan_apply(en, &w, &pl.st, r->strategies, r->n, 0, e);
        }
        if (rc == -2) {
            /* A concurrent allocator recorded this date between our check
             * and our write: look again, which reports it as already run. */
            rc = -1;
        }
    }
    planned_clear(&pl);
    if (rc < 0)
        rc = eng_retries_exhausted(en, e);
    price_cache_to_report(&pc, r); /* the prices used; the rest freed */
    return rc;
}

int engine_allocate(engine *en, const char *run_date, int force, int dry_run,
                    alloc_report *r, cap_error *e)
{
    memset(r, 0, sizeof *r);
    if (!dry_run && en->cfg->approval.required > 0)
        return cap_fail(e, CAP_EXIT_PLAN,
                        "%s requires %d approver%s for every transfer "
                        "(approval.required): allocate writes nothing; make "
                        "a plan with allocate --plan-out FILE, have it "
                        "approved with capalloc approve FILE, then capalloc "
                        "apply FILE",
                        en->cfg->path, en->cfg->approval.required,
                        en->cfg->approval.required == 1 ? "" : "s");
    return plan(en, run_date, force, dry_run, 1, NULL, NULL, r, e);
}

int engine_plan_out(engine *en, const char *run_date, int force,
                    const char *path, const char *prepared_by,
                    alloc_report *r, cap_error *e)
{
    return plan(en, run_date, force, 0, 1, path, prepared_by, r, e);
}

int engine_status(engine *en, const char *run_date, alloc_report *r,
                  cap_error *e)
{
    return plan(en, run_date, 0, 1, 0, NULL, NULL, r, e);
}

