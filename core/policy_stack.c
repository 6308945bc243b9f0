/*
 * policy_stack.c - opening the stages of the weighting policy and running
 * them in order (see policy_stack.h). A stage that says it has not enough
 * history (CAPALLOC_ERR_NO_DATA) is a decision: the core applies the
 * stage's fallback and records why.
 */
#include "policy_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

/* The core reads at most this many dates back, whatever a stage asks. */
#define MAX_HISTORY_POINTS 100000u

static int stage_history(policy_stage *s, cap_error *e)
{
    const capalloc_policy_plugin *pp =
        (const capalloc_policy_plugin *)s->p->hdr;
    s->history_points = 0;
    if (!CAPALLOC_HAS_FIELD(pp->header.struct_size, capalloc_policy_plugin,
                            history_wanted) ||
        pp->history_wanted == NULL)
        return 0;
    capalloc_err err = {{0}, {0}};
    uint32_t points = 0;
    capalloc_status st = pp->history_wanted(s->p->state, &points, &err);
    if (st != CAPALLOC_OK)
        return plugin_fail(s->p, &err, CAP_EXIT_PLUGIN,
                           "asking how much history it needs", e);
    s->history_points = points > MAX_HISTORY_POINTS ? MAX_HISTORY_POINTS
                                                    : points;
    return 0;
}

int policy_stack_open(const capalloc_config *cfg, policy_stack **out,
                      cap_error *e)
{
    *out = NULL;
    policy_stack *ps = calloc(1, sizeof *ps);
    size_t n = cfg->n_stages ? cfg->n_stages : 1;
    if (ps == NULL || (ps->st = calloc(n, sizeof *ps->st)) == NULL) {
        free(ps);
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    }
    ps->isolate = 1;
    for (size_t i = 0; i < n; i++) {
        policy_stage *s = &ps->st[i];
        const policy_stage_cfg *sc = cfg->n_stages ? &cfg->stages[i] : NULL;
        int rc = sc ? plugin_start(cfg, &sc->pc, sc->pc.plugin,
                                   CAPALLOC_KIND_POLICY, "policy", &s->p, e)
                    : plugin_start(cfg, &cfg->policy, "fixed_weight",
                                   CAPALLOC_KIND_POLICY, "policy", &s->p, e);
        if (rc == 0)
            ps->n = i + 1;
        if (rc == 0)
            rc = stage_history(s, e);
        if (rc != 0) {
            policy_stack_close(ps);
            return rc;
        }
        s->timeout_ms = sc && sc->timeout_ms ? sc->timeout_ms
                                             : POLICY_DEFAULT_TIMEOUT_MS;
        s->memory_mb = sc && sc->memory_mb ? sc->memory_mb
                                           : POLICY_DEFAULT_MEMORY_MB;
        s->fallback = sc ? sc->fallback : STAGE_FALLBACK_DEFAULT;
        if (s->fallback == STAGE_FALLBACK_DEFAULT)
            s->fallback = i == 0 ? STAGE_FALLBACK_EQUAL
                                 : STAGE_FALLBACK_INCOMING;
        if (s->history_points > ps->history_points)
            ps->history_points = s->history_points;
    }
    *out = ps;
    return 0;
}

void policy_stack_close(policy_stack *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->n; i++)
        plugin_close(ps->st[i].p);
    free(ps->st);
    free(ps);
}

void stage_results_free(stage_result *res, size_t n)
{
    for (size_t i = 0; res != NULL && i < n; i++) {
        free(res[i].weights);
        free(res[i].why);
        free(res[i].note);
        memset(&res[i], 0, sizeof res[i]);
    }
}

/* "policy stage 2 of 4 ('caps', policy[1])" into buf. */
static void stage_name(const policy_stack *ps, size_t i, char *buf,
                       size_t len)
{
    snprintf(buf, len, "policy stage %zu of %zu ('%s')", i + 1, ps->n,
             ps->st[i].p->hdr->name);
}

/* Equal weights, each 1/n rounded down to 6 places (the rest stays in
 * the master). */
static void equal_weights(capalloc_dec *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i].micros = CAPALLOC_DEC_ONE / (int64_t)n;
}

/* The weights a stage returned: each >= 0, summing to at most 1. */
static int check_weights(const policy_stack *ps, size_t i,
                         const capalloc_snapshot *snap, const capalloc_dec *w,
                         cap_error *e)
{
    char name[256], a[CAPALLOC_DEC_MAX_TEXT];
    capalloc_dec sum = DEC_ZERO;
    stage_name(ps, i, name, sizeof name);
    for (size_t k = 0; k < snap->n_portfolios; k++) {
        if (dec_is_neg(w[k]))
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "%s gave portfolio '%s' the negative weight %s",
                            name, snap->portfolios[k].id,
                            dec_format(w[k], 0, a, sizeof a));
        if (dec_add(sum, w[k], &sum))
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "%s returned weights whose sum is out of range",
                            name);
    }
    if (dec_cmp(sum, dec_from_int(1)) > 0)
        return cap_fail(e, CAP_EXIT_PLUGIN,
                        "%s returned weights summing to %s, more than 1",
                        name, dec_format(sum, 0, a, sizeof a));
    return 0;
}

int policy_stack_run(policy_stack *ps, const capalloc_snapshot *snap,
                     capalloc_dec *out, stage_result *res, cap_error *e)
{
    size_t n = snap->n_portfolios;
    char name[256];
    for (size_t i = 0; i < ps->n; i++) {
        policy_stage *s = &ps->st[i];
        stage_name(ps, i, name, sizeof name);
        capalloc_snapshot si = *snap;
        si.options = s->p->opts;
        si.incoming = i > 0 ? res[i - 1].weights : NULL;
        res[i].weights = calloc(n ? n : 1, sizeof *res[i].weights);
        res[i].note = calloc(1, POLICY_NOTE_SIZE);
        si.note = res[i].note;
        si.note_size = POLICY_NOTE_SIZE;
        if (res[i].weights == NULL || res[i].note == NULL)
            return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
        capalloc_err err = {{0}, {0}};
        capalloc_status st;
        if (ps->isolate) {
            int rc = isolate_weights(s, i, &si, res[i].weights, &st, &err, e);
            if (rc != 0)
                return rc;
        } else {
            const capalloc_policy_plugin *pp =
                (const capalloc_policy_plugin *)s->p->hdr;
            st = pp->weights(s->p->state, &si, res[i].weights, &err);
        }
        if (st == CAPALLOC_ERR_NO_DATA) {
            err.msg[sizeof err.msg - 1] = '\0';
            res[i].why = strdup(err.msg[0] ? err.msg : "not enough history");
            if (res[i].why == NULL)
                return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
            if (s->fallback == STAGE_FALLBACK_FAIL)
                return cap_fail(e, CAP_EXIT_PLUGIN,
                                "%s: plugin '%s': %s (its fallback is 'fail': "
                                "nothing was written)",
                                name, s->p->hdr->name, res[i].why);
            if (s->fallback == STAGE_FALLBACK_INCOMING && si.incoming) {
                memcpy(res[i].weights, si.incoming,
                       n * sizeof *res[i].weights);
                res[i].fallback = "incoming";
            } else {
                equal_weights(res[i].weights, n);
                res[i].fallback = "equal";
            }
        } else if (st != CAPALLOC_OK) {
            res[i].note[0] = '\0';
            char what[300];
            snprintf(what, sizeof what, "%s: computing target weights", name);
            return plugin_fail(s->p, &err, CAP_EXIT_PLUGIN, what, e);
        }
        res[i].note[POLICY_NOTE_SIZE - 1] = '\0';
        int rc = check_weights(ps, i, snap, res[i].weights, e);
        if (rc != 0)
            return rc;
    }
    if (n > 0)
        memcpy(out, res[ps->n - 1].weights, n * sizeof *out);
    return 0;
}
