/*
 * run_rules.c - the run's rebalance-rules step, between the policy and the
 * plan (rules.h has the rules, config_rebalance.c the section):
 *
 *   policy -> rules_weights (cash buffer) -> alloc_compute -> rules_apply
 *          -> plan
 *
 * With every rule off (the default) and no redemption queued, neither
 * runs and the run is the design's. Queued redemptions alone run
 * rules_apply with the rules off (targets on equity less the queue). What each rule did to each strategy goes into the report
 * (r->effects), the run's explanation ("rebalance" in the detail JSON,
 * shown by `capalloc explain`) and the plan's output.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decimal.h"
#include "engine_int.h"

int run_rules_weights(engine *en, alloc_report *r, cap_error *e)
{
    const rebalance_rules *rr = &en->cfg->rebalance;
    r->rules_on = rules_active(rr);
    if (!r->rules_on && r->queued.micros <= 0)
        return 0;
    if (r->effects == NULL &&
        (r->effects = calloc(r->n ? r->n : 1, sizeof *r->effects)) == NULL)
        return eng_oom(e);
    return rules_weights(rr, r->strategies, r->n, r->effects, e);
}

int run_rules_apply(engine *en, alloc_report *r, capalloc_dec master_cash,
                    cap_error *e)
{
    if (!r->rules_on && r->queued.micros <= 0)
        return 0;
    /* without rules, queued redemptions alone: the rules all off */
    rebalance_rules off;
    memset(&off, 0, sizeof off);
    return rules_apply(r->rules_on ? &en->cfg->rebalance : &off, master_cash,
                       r->queued, r->strategies, r->n, en->cfg->minor_units,
                       &r->totals, r->effects, &r->rules, e);
}

static json_t *jd(capalloc_dec d, int places)
{
    char b[CAPALLOC_DEC_MAX_TEXT];
    return json_string(dec_format(d, places, b, sizeof b));
}

static json_t *jlimit(const rule_limit *l, capalloc_dec amount, int mu)
{
    if (!l->set)
        return json_null();
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    if (l->fraction)
        json_object_set_new(j, "fraction", jd(l->v, 0));
    json_object_set_new(j, "amount", jd(amount, mu));
    return j;
}

json_t *run_rules_json(const engine *en, const alloc_report *r)
{
    if (!r->rules_on)
        return NULL;
    const rebalance_rules *rr = &en->cfg->rebalance;
    const rules_summary *sum = &r->rules;
    int mu = en->cfg->minor_units;
    json_t *root = json_object(), *rules = json_object(),
           *strats = json_object();
    int bad = root == NULL || rules == NULL || strats == NULL;
    if (!bad && rr->band != BAND_NONE) {
        json_t *band = json_object();
        bad = band == NULL ||
              json_object_set_new(band, rr->band == BAND_ABSOLUTE
                                            ? "absolute"
                                            : "relative",
                                  jd(rr->band_width, 0)) ||
              json_object_set_new(band, "scope",
                                  json_string(rr->scope == BAND_FUND
                                                  ? "fund"
                                                  : "strategy")) ||
              json_object_set_new(band, "any_outside",
                                  json_boolean(sum->any_outside)) ||
              json_object_set_new(rules, "drift_band", band);
    }
    bad = bad ||
          json_object_set_new(rules, "min_transfer",
                              jlimit(&rr->min_transfer, sum->min_transfer,
                                     mu)) ||
          json_object_set_new(rules, "max_transfer",
                              jlimit(&rr->max_transfer, sum->max_transfer,
                                     mu)) ||
          json_object_set_new(rules, "max_turnover",
                              jlimit(&rr->max_turnover, sum->max_turnover,
                                     mu)) ||
          json_object_set_new(rules, "cash_buffer", jd(rr->cash_buffer, 0)) ||
          json_object_set_new(rules, "buffer_amount", jd(sum->buffer, mu));
    for (size_t i = 0; !bad && i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        const rule_effect *fx = &r->effects[i];
        json_t *o = json_object(), *fl = json_array();
        bad = o == NULL || fl == NULL;
        for (unsigned f = 1; !bad && f <= RULE_FUNDS; f <<= 1)
            if (fx->flags & f)
                bad = json_array_append_new(fl,
                                            json_string(rules_flag_name(f)));
        if (bad) {
            json_decref(o);
            json_decref(fl);
            break;
        }
        bad = json_object_set_new(o, "policy_weight",
                                  jd(fx->policy_weight, 0)) ||
              json_object_set_new(o, "weight", jd(s->weight, 0)) ||
              json_object_set_new(o, "current_weight",
                                  jd(fx->drift_weight, 0)) ||
              json_object_set_new(o, "outside_band",
                                  json_boolean(fx->outside)) ||
              json_object_set_new(o, "planned", jd(fx->planned, mu)) ||
              json_object_set_new(o, "transfer", jd(s->transfer, mu)) ||
              json_object_set_new(o, "rules", fl) ||
              json_object_set_new(strats, s->id, o);
    }
    bad = bad ||
          json_object_set_new(root, "rules", rules) ||
          json_object_set_new(root, "turnover_planned",
                              jd(sum->turnover_planned, mu)) ||
          json_object_set_new(root, "turnover", jd(sum->turnover, mu)) ||
          json_object_set_new(root, "strategies", strats);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

json_t *run_redemptions_json(const engine *en, const alloc_report *r)
{
    int mu = en->cfg->minor_units;
    json_t *root = json_object(), *pays = json_array();
    int bad = root == NULL || pays == NULL;
    for (size_t i = 0; !bad && i < r->n_reds; i++) {
        json_t *o = json_object();
        bad = o == NULL ||
              json_object_set_new(o, "id", json_integer(r->reds[i].id)) ||
              json_object_set_new(o, "owed", jd(r->reds[i].owed, mu)) ||
              json_object_set_new(o, "paid", jd(r->reds[i].pay, mu)) ||
              json_array_append_new(pays, o);
    }
    capalloc_dec master_after;
    dec_sub(r->totals.master_after, r->paid_out, &master_after);
    bad = bad ||
          json_object_set_new(root, "queued", jd(r->queued, mu)) ||
          json_object_set_new(root, "paid", jd(r->paid_out, mu)) ||
          json_object_set_new(root, "master_after_payout",
                              jd(master_after, mu)) ||
          json_object_set_new(root, "payments", pays);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}
