/*
 * rules.c - the rebalance rules (see rules.h).
 */
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#include "decimal.h"

typedef __int128 i128;

#define MICROS 1000000

static int overflow(cap_error *e, const char *what)
{
    return cap_fail(e, CAP_EXIT_INTERNAL,
                    "arithmetic overflow while applying the rebalance rules "
                    "(%s)",
                    what);
}

static i128 abs128(i128 v)
{
    return v < 0 ? -v : v;
}

int rules_active(const rebalance_rules *r)
{
    return r != NULL &&
           (r->band != BAND_NONE || r->min_transfer.set ||
            r->max_transfer.set || r->max_turnover.set ||
            r->cash_buffer.micros > 0);
}

const char *rules_flag_name(unsigned flag)
{
    switch (flag) {
    case RULE_BUFFER:
        return "cash_buffer";
    case RULE_IN_BAND:
        return "in_band";
    case RULE_MAX_CUT:
        return "max_transfer";
    case RULE_TURNOVER:
        return "max_turnover";
    case RULE_BELOW_MIN:
        return "min_transfer";
    case RULE_FUNDS:
        return "funds";
    default:
        return "";
    }
}

int rules_weights(const rebalance_rules *r, alloc_strategy *s, size_t n,
                  rule_effect *fx, cap_error *e)
{
    capalloc_dec wsum = DEC_ZERO;
    for (size_t i = 0; i < n; i++) {
        memset(&fx[i], 0, sizeof fx[i]);
        fx[i].policy_weight = s[i].weight;
        if (dec_add(wsum, s[i].weight, &wsum))
            return overflow(e, "the weights");
    }
    if (r->cash_buffer.micros <= 0)
        return 0;
    capalloc_dec cap;
    if (dec_sub(dec_from_int(1), r->cash_buffer, &cap) || dec_is_neg(cap))
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "rebalance: cash_buffer must be below 1");
    if (dec_cmp(wsum, cap) <= 0)
        return 0;
    /* Negative weights are alloc_compute's to refuse, with its message. */
    for (size_t i = 0; i < n; i++) {
        if (dec_is_neg(s[i].weight) || dec_is_zero(s[i].weight))
            continue;
        i128 q = (i128)s[i].weight.micros * cap.micros / wsum.micros;
        capalloc_dec w = {(int64_t)q};
        if (dec_cmp(w, s[i].weight) != 0) {
            s[i].weight = w;
            fx[i].flags |= RULE_BUFFER;
        }
    }
    return 0;
}

/* The limit as an amount on equity; 0 when not set. */
static int limit_amount(const rule_limit *l, capalloc_dec equity,
                        int minor_units, capalloc_dec *out)
{
    *out = DEC_ZERO;
    if (!l->set)
        return 0;
    if (!l->fraction)
        return dec_quantize(l->v, minor_units, CAPALLOC_ROUND_DOWN, out) ? -1
                                                                         : 0;
    if (dec_mul(equity, l->v, CAPALLOC_ROUND_DOWN, out) ||
        dec_quantize(*out, minor_units, CAPALLOC_ROUND_DOWN, out))
        return -1;
    return 0;
}

/* Whether strategy s is outside the band around weight w of equity. */
static int outside_band(const rebalance_rules *r, const alloc_strategy *s,
                        capalloc_dec equity)
{
    i128 diff = abs128((i128)s->total.micros * MICROS -
                       (i128)equity.micros * s->weight.micros);
    if (r->band == BAND_ABSOLUTE)
        return diff > (i128)r->band_width.micros * equity.micros;
    if (s->weight.micros == 0)
        return s->total.micros != 0;
    return diff * MICROS >
           (i128)r->band_width.micros * equity.micros * s->weight.micros;
}

/* Steps 1-4 of rules.h on the desired moves d[]. */
static void edit_moves(const rebalance_rules *r, const alloc_strategy *s,
                       size_t n, capalloc_dec equity, int minor_units,
                       capalloc_dec *d, rule_effect *fx, rules_summary *sum)
{
    /* 1. drift band */
    if (r->band != BAND_NONE && equity.micros > 0) {
        for (size_t i = 0; i < n; i++) {
            fx[i].outside = outside_band(r, &s[i], equity);
            sum->any_outside |= fx[i].outside;
        }
        for (size_t i = 0; i < n; i++) {
            int keep = r->scope == BAND_FUND ? sum->any_outside
                                             : fx[i].outside;
            if (!keep && !dec_is_zero(d[i])) {
                d[i] = DEC_ZERO;
                fx[i].flags |= RULE_IN_BAND;
            }
        }
    }
    /* 2. maximum transfer per strategy */
    if (r->max_transfer.set)
        for (size_t i = 0; i < n; i++) {
            int64_t m = sum->max_transfer.micros;
            if (d[i].micros > m || d[i].micros < -m) {
                d[i].micros = d[i].micros < 0 ? -m : m;
                fx[i].flags |= RULE_MAX_CUT;
            }
        }
    /* 3. maximum turnover */
    if (r->max_turnover.set) {
        i128 total = 0;
        for (size_t i = 0; i < n; i++)
            total += abs128(d[i].micros);
        if (total > sum->max_turnover.micros) {
            for (size_t i = 0; i < n; i++) {
                if (dec_is_zero(d[i]))
                    continue;
                i128 q = abs128(d[i].micros) * sum->max_turnover.micros /
                         total;
                capalloc_dec c = {(int64_t)q};
                dec_quantize(c, minor_units, CAPALLOC_ROUND_DOWN, &c);
                if (d[i].micros < 0)
                    c.micros = -c.micros;
                if (c.micros != d[i].micros) {
                    d[i] = c;
                    fx[i].flags |= RULE_TURNOVER;
                }
            }
        }
    }
    /* 4. minimum transfer, returns */
    if (r->min_transfer.set)
        for (size_t i = 0; i < n; i++)
            if (d[i].micros < 0 && -d[i].micros < sum->min_transfer.micros) {
                d[i] = DEC_ZERO;
                fx[i].flags |= RULE_BELOW_MIN;
            }
}

/* Targets and adjustments on equity (the total less the queued
 * redemptions). */
static int retarget(alloc_strategy *s, size_t n, capalloc_dec equity,
                    int minor_units)
{
    for (size_t i = 0; i < n; i++)
        if (dec_mul(equity, s[i].weight, CAPALLOC_ROUND_DOWN, &s[i].target) ||
            dec_quantize(s[i].target, minor_units, CAPALLOC_ROUND_DOWN,
                         &s[i].target) ||
            dec_sub(s[i].target, s[i].total, &s[i].adjustment))
            return -1;
    return 0;
}

int rules_apply(const rebalance_rules *rules, capalloc_dec master_cash,
                capalloc_dec queued, alloc_strategy *s, size_t n,
                int minor_units, alloc_totals *t, rule_effect *fx,
                rules_summary *sum, cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    memset(sum, 0, sizeof *sum);
    capalloc_dec equity = t->total_equity;
    rebalance_rules rq = *rules;
    const rebalance_rules *r = &rq;
    if (queued.micros > 0) {
        /* the fund after the redemptions; their cash is raised whatever
         * the band says */
        if (dec_sub(equity, queued, &equity) || dec_is_neg(equity))
            equity = DEC_ZERO;
        rq.band = BAND_NONE;
        if (retarget(s, n, equity, minor_units))
            return overflow(e, "the targets less the redemptions");
    }
    if (limit_amount(&r->min_transfer, equity, minor_units,
                     &sum->min_transfer) ||
        limit_amount(&r->max_transfer, equity, minor_units,
                     &sum->max_transfer) ||
        limit_amount(&r->max_turnover, equity, minor_units,
                     &sum->max_turnover))
        return overflow(e, "a limit");
    if (dec_mul(equity, r->cash_buffer, CAPALLOC_ROUND_DOWN, &sum->buffer) ||
        dec_quantize(sum->buffer, minor_units, CAPALLOC_ROUND_DOWN,
                     &sum->buffer))
        return overflow(e, "the cash buffer");

    /* The moves alloc_compute wanted, before its funding scale (rules 1-2
     * of alloc.h): fundings floor(adjustment), returns from cash only. */
    capalloc_dec stack[64], *heap = NULL, *d = stack;
    if (n > sizeof stack / sizeof stack[0] &&
        (d = heap = calloc(n, sizeof *heap)) == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    i128 planned = 0;
    for (size_t i = 0; i < n; i++) {
        capalloc_dec mag = s[i].adjustment, cash;
        if (dec_is_neg(mag))
            mag.micros = -mag.micros;
        dec_quantize(mag, minor_units, CAPALLOC_ROUND_DOWN, &mag);
        dec_quantize(s[i].cash, minor_units, CAPALLOC_ROUND_DOWN, &cash);
        if (dec_is_neg(s[i].adjustment))
            d[i].micros = -(dec_cmp(mag, cash) <= 0 ? mag : cash).micros;
        else
            d[i] = mag;
        /* the plan before the rules: alloc_compute's, or with a queue the
         * moves toward the targets less the queue */
        fx[i].planned = queued.micros > 0 ? d[i] : s[i].transfer;
        planned += abs128(fx[i].planned.micros);
        if (equity.micros > 0 &&
            dec_div(s[i].total, equity, CAPALLOC_ROUND_HALF_EVEN,
                    &fx[i].drift_weight))
            fx[i].drift_weight = DEC_ZERO;
    }
    sum->turnover_planned.micros = (int64_t)planned;

    edit_moves(r, s, n, equity, minor_units, d, fx, sum);

    /* 5. funding from the master's cash and the returns, above the buffer */
    i128 returned = 0, wanted = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i].micros < 0)
            returned -= d[i].micros;
        else
            wanted += d[i].micros;
    }
    i128 available = (i128)master_cash.micros + returned -
                     sum->buffer.micros - queued.micros;
    if (available < 0)
        available = 0;
    t->scaled = wanted > available;
    if (t->scaled)
        for (size_t i = 0; i < n; i++) {
            if (d[i].micros <= 0)
                continue;
            capalloc_dec f = {(int64_t)((i128)d[i].micros * available /
                                        wanted)};
            dec_quantize(f, minor_units, CAPALLOC_ROUND_DOWN, &f);
            /* flagged when cut below the plan without the rules (whose
             * own pro-rata funding, alloc.h rule 3, is no rule's doing) */
            if (f.micros < fx[i].planned.micros)
                fx[i].flags |= RULE_FUNDS;
            d[i] = f;
        }
    /* 6. minimum transfer, fundings */
    if (r->min_transfer.set)
        for (size_t i = 0; i < n; i++)
            if (d[i].micros > 0 && d[i].micros < sum->min_transfer.micros) {
                d[i] = DEC_ZERO;
                fx[i].flags |= RULE_BELOW_MIN;
            }

    /* Settle: the plan as alloc_compute reports it, checked again. */
    i128 before = master_cash.micros, after, funded = 0, turnover = 0;
    returned = 0;
    t->n_transfers = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].transfer = d[i];
        capalloc_dec mag = s[i].adjustment;
        if (dec_is_neg(mag))
            mag.micros = -mag.micros;
        dec_quantize(mag, minor_units, CAPALLOC_ROUND_DOWN, &mag);
        s[i].shortfall.micros = mag.micros - (int64_t)abs128(d[i].micros);
        if (d[i].micros < 0)
            returned -= d[i].micros;
        else
            funded += d[i].micros;
        turnover += abs128(d[i].micros);
        if (!dec_is_zero(d[i]))
            t->n_transfers++;
        if (dec_add(s[i].cash, d[i], &s[i].cash_after)) {
            free(heap);
            return overflow(e, "a balance");
        }
        before += s[i].cash.micros;
    }
    free(heap);
    t->returned.micros = (int64_t)returned;
    t->funded.micros = (int64_t)funded;
    t->wanted.micros = (int64_t)wanted;
    sum->turnover.micros = (int64_t)turnover;
    after = (i128)master_cash.micros + returned - funded;
    if (after > INT64_MAX)
        return overflow(e, "the master's cash");
    t->master_after.micros = (int64_t)after;
    for (size_t i = 0; i < n; i++) {
        after += s[i].cash_after.micros;
        if (dec_is_neg(s[i].cash_after) || dec_is_neg(s[i].shortfall))
            return cap_fail(e, CAP_EXIT_INTERNAL,
                            "bug: the rebalance rules would leave portfolio "
                            "'%s' with cash %s, shortfall %s",
                            s[i].id,
                            dec_format(s[i].cash_after, minor_units, a,
                                       sizeof a),
                            dec_format(s[i].shortfall, minor_units, b,
                                       sizeof b));
    }
    if (dec_is_neg(t->master_after))
        return cap_fail(e, CAP_EXIT_INTERNAL,
                        "bug: the rebalance rules would leave the master "
                        "with negative cash %s",
                        dec_format(t->master_after, minor_units, a, sizeof a));
    if (before != after)
        return cap_fail(e, CAP_EXIT_INTERNAL,
                        "bug: the rebalance rules would change total cash "
                        "from %s to %s",
                        dec_format((capalloc_dec){(int64_t)before},
                                   minor_units, a, sizeof a),
                        dec_format((capalloc_dec){(int64_t)after},
                                   minor_units, b, sizeof b));
    return 0;
}
