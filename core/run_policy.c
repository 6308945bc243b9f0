/*
 * run_policy.c - the weighting policy's call: the snapshot (with each
 * strategy's history and the call's context) in, one weight per strategy
 * out, through the stages of the policy stack (policy_stack.c), each in
 * its own child process (policy_isolate.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"
#include "policy_stack.h"

/* Ask the stack for the weights of r's strategies, with their history
 * (ABI 1.1 fields: a policy built against the 1.0 header never reads
 * them). */
int policy_weights(engine *en, const char *run_date, capalloc_dec master_cash,
                   alloc_report *r, const capalloc_history *hist,
                   cap_error *e)
{
    alloc_strategy *s = r->strategies;
    size_t n = r->n;
    policy_stack *ps = en->stack;
    stage_results_free(r->stages, r->n_stages); /* from an earlier attempt */
    free(r->stages);
    r->n_stages = 0;
    r->stages = calloc(ps->n, sizeof *r->stages);
    capalloc_portfolio_view *v = calloc(n ? n : 1, sizeof *v);
    capalloc_dec *w = calloc(n ? n : 1, sizeof *w);
    if (v == NULL || w == NULL || r->stages == NULL) {
        free(v);
        free(w);
        return eng_oom(e);
    }
    r->n_stages = ps->n;
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
                              master_cash, equity, n, v, NULL,
                              r->context, hist, NULL, NULL, 0};
    int rc = policy_stack_run(ps, &snap, w, r->stages, e);
    free(v);
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            s[i].weight = w[i];
    free(w);
    return rc;
}
