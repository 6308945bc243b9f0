/*
 * alloc.h - the allocation arithmetic, a pure function of the valuation
 * (no I/O), so every rule is table-tested on its own.
 *
 * Given the master's cash M and positions value P (not cash: it cannot be
 * transferred, but it is the fund's equity), and, for each strategy i, its
 * cash c_i, its positions value p_i (total, its NAV, v_i = c_i + p_i) and
 * its weight w_i:
 *
 *   E        = M + P + sum(v_i)                             total equity
 *   target_i = E x w_i, rounded DOWN to the currency's minor unit
 *   adj_i    = target_i - v_i                               exact
 *
 * Money rules (each has a test in tests/check_alloc.c):
 *   1. Rounding never creates money: targets and transfers are rounded
 *      down (toward zero) to the minor unit; every residue stays in the
 *      master.
 *   2. An overweight strategy (adj_i < 0) returns min(-adj_i, c_i) rounded
 *      down: only cash it holds. The rest of its excess, sitting in
 *      positions, is reported as its shortfall; no balance goes negative.
 *   3. Returns are credited to the master first. If the master (with the
 *      returns) cannot fund every underweight strategy in full, every
 *      funding is scaled pro rata: fund_i = floor(want_i x available /
 *      sum(want)) to the minor unit, so the sum never exceeds what is
 *      available; what a strategy did not get is its shortfall.
 *   4. Weights must each be >= 0 and sum to at most 1 (the rest is the
 *      master's reserve).
 *   5. Transfers only move cash between the master and one strategy:
 *      the sum of all cash is unchanged (checked). Only the master's cash
 *      M (with the returns) funds strategies, never its positions P.
 *   6. A strategy whose NAV is negative, or zero while it holds positions,
 *      is never funded automatically: the run is refused (CAP_EXIT_PRICE,
 *      naming it) unless the operator accepted that NAV (nav_accepted). A
 *      strategy with nothing (no positions, NAV 0) is a new one: funded.
 *
 * Ledger data that cannot be valued is refused with CAP_EXIT_PRICE naming
 * the portfolio (a value or total equity beyond the range of capalloc_dec),
 * negative cash with CAP_EXIT_STORAGE; never CAP_EXIT_INTERNAL, which is
 * kept for the checks of rule 5 (a bug).
 */
#ifndef CAPALLOC_ALLOC_H
#define CAPALLOC_ALLOC_H

#include <stddef.h>

#include "capalloc_plugin.h"
#include "error.h"

/* The master portfolio: its cash and the value of its positions. */
typedef struct alloc_master {
    capalloc_dec cash;
    capalloc_dec positions_value;
} alloc_master;

typedef struct alloc_strategy {
    /* inputs */
    const char *id;
    capalloc_dec cash;
    capalloc_dec positions_value;
    capalloc_dec weight;
    int holds_positions; /* 1: at least one non-zero position (rule 6) */
    int nav_accepted;    /* 1: the operator accepts a NAV <= 0 (rule 6) */
    /* outputs */
    capalloc_dec total;      /* cash + positions_value */
    capalloc_dec target;     /* E x weight, rounded down to the minor unit */
    capalloc_dec adjustment; /* target - total, exact */
    capalloc_dec transfer;   /* > 0: master pays the strategy;
                                < 0: the strategy pays the master */
    capalloc_dec shortfall;  /* |part of adjustment not moved|, >= 0, in
                                minor units (positions, or scaled funding) */
    capalloc_dec cash_after;
} alloc_strategy;

typedef struct alloc_totals {
    capalloc_dec total_equity;
    capalloc_dec master_positions; /* the master's positions value, in E */
    capalloc_dec master_before;
    capalloc_dec master_after;
    capalloc_dec returned;   /* sum paid by strategies to the master */
    capalloc_dec funded;     /* sum paid by the master to strategies */
    capalloc_dec wanted;     /* sum the underweight strategies asked for */
    int scaled;              /* 1 when fundings were scaled down (rule 3) */
    size_t n_transfers;
} alloc_totals;

/* 1 when s's NAV (s->total, valued) needs the operator's acceptance:
 * negative, or zero while it holds positions (rule 6). */
int alloc_nav_needs_accept(const alloc_strategy *s);

/* Value the fund: every s[i].total and the total equity E, with the
 * checks on the ledger's data (negative cash, an overflow, rule 6); the
 * weights are not read. Returns 0, or a CAP_EXIT_* with e set. */
int alloc_equity(alloc_master m, alloc_strategy *s, size_t n, int minor_units,
                 capalloc_dec *equity, cap_error *e);

/* Compute every output field (alloc_equity first). Returns 0, or a
 * CAP_EXIT_* with e set (alloc_equity's, a negative weight, weights
 * above 1). */
int alloc_compute(alloc_master m, alloc_strategy *s, size_t n,
                  int minor_units, alloc_totals *t, cap_error *e);

#endif
