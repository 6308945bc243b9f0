/*
 * rules.h - the rebalance rules (the config's `rebalance:` section), pure
 * functions over alloc_strategy[] like alloc.h: no I/O, table-tested in
 * tests/check_rules.c.
 *
 * They sit between the policy and the transfers, in two steps:
 *
 *   rules_weights  (before alloc_compute) the cash buffer: when the
 *                  policy's weights leave the master less than
 *                  cash_buffer of total equity, every weight is scaled by
 *                  (1 - cash_buffer) / sum(weights), rounded down, so the
 *                  targets leave the buffer in the master.
 *   rules_apply    (after alloc_compute) edits the planned transfers, in
 *                  this order:
 *     1. drift band: a strategy's weight is total / equity; it is outside
 *        the band when |weight - target weight| > band (absolute) or
 *        |weight / target weight - 1| > band (relative; a target weight of
 *        0 is outside whenever the strategy holds anything). Scope
 *        strategy: a strategy inside makes no transfer. Scope fund: when
 *        any strategy is outside, all rebalance; else none does.
 *     2. maximum transfer: |transfer| above max_transfer is cut to it.
 *     3. maximum turnover: when the sum of |transfers| is above
 *        max_turnover, every transfer is scaled by max_turnover / sum,
 *        rounded down to the minor unit.
 *     4. minimum transfer, returns: a return smaller than min_transfer is
 *        skipped (its cash stays in the strategy).
 *     5. funding: the master pays fundings from its cash plus the returns,
 *        less the buffer (floor(equity x cash_buffer)); when that is short,
 *        every funding is scaled pro rata, rounded down (alloc.h rule 3;
 *        RULE_FUNDS when that pays less than the plan without the rules).
 *     6. minimum transfer, fundings: a funding smaller than min_transfer
 *        is skipped (its cash stays in the master).
 *   Amounts (min_transfer, max_transfer, max_turnover) are an amount or a
 *   fraction of total equity, rounded down to the minor unit.
 *
 * Queued redemptions (flows.c): with an amount Q queued, the targets are
 * computed on total equity minus Q (targets floor((equity - Q) x weight)),
 * the limits and the buffer on equity - Q too, the drift band is not
 * applied (the redemption's cash must be raised), and the master funds
 * strategies only from its cash above buffer + Q. What the master holds
 * after the run pays the redemptions (flows.c).
 *
 * The cut or skipped part of a move is the strategy's shortfall: later
 * runs finish it. The rules only remove or shrink transfers, never add
 * one, so alloc.h's invariants hold; rules_apply checks them again (no
 * negative balance, cash conserved) rather than assuming it.
 */
#ifndef CAPALLOC_RULES_H
#define CAPALLOC_RULES_H

#include <stddef.h>

#include "alloc.h"

typedef enum band_kind {
    BAND_NONE = 0,
    BAND_ABSOLUTE,
    BAND_RELATIVE
} band_kind;

typedef enum band_scope { BAND_STRATEGY = 0, BAND_FUND } band_scope;

/* An amount (fraction = 0) or a fraction of total equity (fraction = 1);
 * set = 0: no limit. */
typedef struct rule_limit {
    int set;
    int fraction;
    capalloc_dec v;
} rule_limit;

typedef struct rebalance_rules {
    band_kind band;
    band_scope scope;
    capalloc_dec band_width;  /* > 0 when band != BAND_NONE */
    rule_limit min_transfer;
    rule_limit max_transfer;  /* per strategy per run */
    rule_limit max_turnover;  /* sum of |transfers| per run */
    capalloc_dec cash_buffer; /* fraction of total equity, 0: none */
    capalloc_dec max_nav_move; /* not a transfer rule: the large-move guard
                                  of run_guard.c, 0: off */
} rebalance_rules;

/* What the rules did to one strategy (rule_effect.flags). */
#define RULE_BUFFER 0x01u    /* weight scaled down for the cash buffer */
#define RULE_IN_BAND 0x02u   /* inside the drift band: no transfer */
#define RULE_MAX_CUT 0x04u   /* cut to max_transfer */
#define RULE_TURNOVER 0x08u  /* cut by max_turnover */
#define RULE_BELOW_MIN 0x10u /* below min_transfer: skipped */
#define RULE_FUNDS 0x20u     /* funding cut: the master's cash above the
                                buffer could not pay it all */

typedef struct rule_effect {
    capalloc_dec policy_weight; /* the policy's weight, before the buffer */
    capalloc_dec drift_weight;  /* total / equity, 6 places, half-even */
    int outside;                /* outside the drift band */
    capalloc_dec planned;       /* alloc_compute's transfer, before the rules */
    unsigned flags;             /* RULE_* */
} rule_effect;

typedef struct rules_summary {
    capalloc_dec buffer;        /* floor(equity x cash_buffer) */
    capalloc_dec min_transfer;  /* the limits as amounts (0: none) */
    capalloc_dec max_transfer;
    capalloc_dec max_turnover;
    capalloc_dec turnover_planned; /* sum |planned| */
    capalloc_dec turnover;      /* sum |transfer| */
    int any_outside;            /* some strategy is outside the band */
} rules_summary;

/* 1 when any rule is configured (all off: the design's behaviour). */
int rules_active(const rebalance_rules *r);

/* Before alloc_compute: fx[i].policy_weight, and the buffer's scaling of
 * s[i].weight. 0 or an exit code. */
int rules_weights(const rebalance_rules *r, alloc_strategy *s, size_t n,
                  rule_effect *fx, cap_error *e);

/* After alloc_compute (s and t as it left them): the rules above, with
 * queued (>= 0) redemptions to raise; every target (when queued > 0),
 * transfer, shortfall, cash_after and t recomputed and checked. 0 or an
 * exit code. */
int rules_apply(const rebalance_rules *r, capalloc_dec master_cash,
                capalloc_dec queued, alloc_strategy *s, size_t n,
                int minor_units, alloc_totals *t, rule_effect *fx,
                rules_summary *sum, cap_error *e);

/* The names of the flags, comma-separated ("in_band,below_min"), for
 * messages and the run's explanation; "" for none. */
const char *rules_flag_name(unsigned flag);

#endif
