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
                   capalloc_dec equity, alloc_report *r,
                   const capalloc_history *hist, cap_error *e)
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
    for (size_t i = 0; i < n; i++) {
        v[i].id = s[i].id;
        v[i].cash = s[i].cash;
        v[i].positions_value = s[i].positions_value;
        v[i].total = s[i].total;
    }
    capalloc_snapshot snap = {en->cfg->master_id, en->cfg->currency, run_date,
                              master_cash, equity, n, v, NULL,
                              r->context, hist, NULL, NULL, 0};
    int rc = policy_stack_run(ps, &snap, w, r->stages, e);
    free(v);
    for (size_t k = 0; rc == 0 && k < ps->n; k++)
        eng_progress(en, "policy stage %zu of %zu '%s': %s%s%s", k + 1, ps->n,
                     ps->st[k].p->hdr->name,
                     r->stages[k].why ? "fell back to " : "weights given",
                     r->stages[k].why ? r->stages[k].fallback : "",
                     r->stages[k].why ? " weights" : "");
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            s[i].weight = w[i];
    free(w);
    return rc;
}

/* Append len bytes to a growing buffer. */
static int put(unsigned char **buf, size_t *len, size_t *cap, const void *p,
               size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n)
            nc *= 2;
        unsigned char *nb = realloc(*buf, nc);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

int policy_inputs(capalloc_dec master_cash, capalloc_dec equity,
                  const alloc_strategy *s, size_t n,
                  const capalloc_history *h, unsigned char **buf, size_t *len)
{
    size_t cap = 0;
    int bad = 0;
    *buf = NULL;
    *len = 0;
    bad |= put(buf, len, &cap, &master_cash, sizeof master_cash);
    bad |= put(buf, len, &cap, &equity, sizeof equity);
    for (size_t i = 0; i < n && !bad; i++) {
        bad |= put(buf, len, &cap, s[i].id, strlen(s[i].id) + 1);
        bad |= put(buf, len, &cap, &s[i].cash, sizeof s[i].cash);
        bad |= put(buf, len, &cap, &s[i].positions_value,
                   sizeof s[i].positions_value);
        size_t np = h != NULL ? h[i].n : 0;
        bad |= put(buf, len, &cap, &np, sizeof np);
        for (size_t k = 0; k < np && !bad; k++) {
            const capalloc_history_point *p = &h[i].points[k];
            int64_t f[4] = {p->nav.micros, p->flow.micros, p->ret.micros,
                            p->has_return};
            bad |= put(buf, len, &cap, p->date, strlen(p->date) + 1);
            bad |= put(buf, len, &cap, f, sizeof f);
        }
    }
    if (bad) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}
