/*
 * run.c - the daily allocation and the status view: one attempt reads the
 * ledger, values the fund, asks the policy, plans the transfers and (unless
 * dry) applies them, in one storage transaction; a conflict re-runs it from
 * a fresh read (prices already fetched are kept, so the price source is
 * still asked once per ticker).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

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
    int rc = eng_begin(en, dry_run ? CAPALLOC_TXN_READ : CAPALLOC_TXN_WRITE, e);
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

    ledger l = {0};
    rc = read_ledger(en, &l, e);
    if (rc != 0) {
        if (rc < 0)
            eng_rollback(en);
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
        eng_rollback(en);
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
        eng_rollback(en);
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
        eng_rollback(en);
        return eng_oom(e);
    }
    capalloc_write_batch wb = {"ALLOCATE", run_date, force && found,
                               cfg->currency,
                               b.trades, b.n_trades, b.cash, b.n_cash,
                               NULL, 0, NULL};
    rc = eng_write_commit(en, &wb, e);
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
        rc = eng_retries_exhausted(en, e);
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

