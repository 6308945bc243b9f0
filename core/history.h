/*
 * history.h - the fund's memory as numbers: flow-adjusted (time-weighted)
 * returns from recorded valuations. Pure functions (no I/O), tested on
 * hand-worked examples in tests/check_history.c.
 *
 * The definition (also in capalloc_plugin.h and the README): between two
 * consecutive valuations t-1 and t of a strategy,
 *
 *     r_t = NAV_t / (NAV_{t-1} + transfer_{t-1}) - 1
 *
 * with NAV before the run's transfers and transfer_{t-1} the cash the run
 * at t-1 moved into the strategy (negative: out). A denominator <= 0 (the
 * strategy held nothing after the previous run) and a strategy's first
 * valuation give no return. The ratio is rounded half-even to 6 places;
 * several runs on one date chain: 1 + r = product of the runs' ratios,
 * each product rounded half-even to 6 places.
 *
 * The fund's return treats ADD and WITHDRAW as flows: the fund's NAV at a
 * run is its total equity (the master's cash and positions plus every
 * strategy's NAV, before transfers, which net to zero), and the capital
 * that came in between two runs is what changed the master's cash other
 * than the run's own transfer:
 *     flow = master_cash_t - (master_cash_{t-1} + master_transfer_{t-1})
 *     r_t  = E_t / (E_{t-1} + flow) - 1
 */
#ifndef CAPALLOC_HISTORY_H
#define CAPALLOC_HISTORY_H

#include <stddef.h>

#include "capalloc_plugin.h"

/* 1 when s is exactly YYYY-MM-DD in ASCII digits and a real day from 1970
 * on: a date is a key of the record, so one day has one spelling. */
int date_valid(const char *s);

/* Sort recorded valuations by portfolio_id (bytewise), date, run_id: the
 * order every function below expects. */
void history_sort(capalloc_valuation *v, size_t n);

/* The return of cur relative to prev (the previous valuation of the same
 * portfolio): *has = 0 when there is none. Returns CAPALLOC_OK or
 * CAPALLOC_ERR_OVERFLOW. */
capalloc_status history_step(const capalloc_valuation *prev,
                             const capalloc_valuation *cur, capalloc_dec *ret,
                             int *has);

/* Per-observation returns for v[0..n) (sorted): ret[i], has[i] for v[i]
 * (the first valuation of each portfolio has none). */
capalloc_status history_returns(const capalloc_valuation *v, size_t n,
                                capalloc_dec *ret, int *has);

/* One strategy's points, one per date (chained as above), from its sorted
 * valuations v[0..n) (all of one portfolio). points must hold n entries;
 * *n_points gets how many were filled. Dates are borrowed from v. */
capalloc_status history_points(const capalloc_valuation *v, size_t n,
                               capalloc_history_point *points,
                               size_t *n_points);

/* The fund at one run: total equity E (before transfers), the master's
 * cash before the run and the master's transfer in it. */
typedef struct fund_obs {
    const char *date;
    int64_t run_id;
    capalloc_dec equity;
    capalloc_dec master_cash;
    capalloc_dec master_transfer;
    /* out */
    capalloc_dec flow;   /* capital in (< 0: out) since the previous run */
    capalloc_dec ret;
    int has_return;
} fund_obs;

/* Fill flow, ret and has_return of f[0..n), in run order. */
capalloc_status history_fund(fund_obs *f, size_t n);

#endif
