/*
 * run_policy.c - the weighting policy's call: the snapshot (with each
 * strategy's history and the call's context) in, one weight per strategy
 * out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

/* Ask the policy for the weights of s[0..n), with their history (ABI 1.1
 * fields: a policy built against the 1.0 header never reads them). */
int policy_weights(engine *en, const char *run_date, capalloc_dec master_cash,
                   capalloc_dec equity, alloc_strategy *s, size_t n,
                   const capalloc_history *hist, capalloc_call_context ctx,
                   cap_error *e)
{
    capalloc_portfolio_view *v = calloc(n ? n : 1, sizeof *v);
    capalloc_dec *w = calloc(n ? n : 1, sizeof *w);
    if (v == NULL || w == NULL) {
        free(v);
        free(w);
        return eng_oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        v[i].id = s[i].id;
        v[i].cash = s[i].cash;
        v[i].positions_value = s[i].positions_value;
        v[i].total = s[i].total;
    }
    capalloc_snapshot snap = {en->cfg->master_id, en->cfg->currency, run_date,
                              master_cash, equity, n, v, en->policy->opts,
                              ctx, hist, NULL};
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

