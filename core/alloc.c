/*
 * alloc.c - the allocation arithmetic (rules in alloc.h).
 */
#include "alloc.h"

#include <string.h>

#include "decimal.h"

typedef __int128 i128;

/* Ledger data beyond the range of capalloc_dec: exit 5, naming what. */
#define RANGE "beyond +/-9,223,372,036,854.775807"

/* Past alloc_equity every amount is bounded by total equity (targets,
 * returns and fundings are parts of it), so an overflow there is a bug. */
static int overflow(cap_error *e, const char *what)
{
    return cap_fail(e, CAP_EXIT_INTERNAL,
                    "arithmetic overflow while computing %s: amounts are "
                    RANGE,
                    what);
}

static capalloc_dec min_dec(capalloc_dec a, capalloc_dec b)
{
    return dec_cmp(a, b) <= 0 ? a : b;
}

int alloc_nav_needs_accept(const alloc_strategy *s)
{
    return dec_is_neg(s->total) ||
           (dec_is_zero(s->total) && s->holds_positions);
}

int alloc_equity(alloc_master m, alloc_strategy *s, size_t n, int minor_units,
                 capalloc_dec *equity, cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c[CAPALLOC_DEC_MAX_TEXT];
    if (dec_is_neg(m.cash))
        return cap_fail(e, CAP_EXIT_STORAGE,
                        "the master portfolio's cash is negative (%s): the "
                        "ledger is inconsistent",
                        dec_format(m.cash, minor_units, a, sizeof a));
    if (dec_is_neg(m.positions_value))
        return cap_fail(e, CAP_EXIT_PRICE,
                        "the master portfolio's positions are worth %s: a "
                        "negative value",
                        dec_format(m.positions_value, minor_units, a,
                                   sizeof a));
    capalloc_dec eq;
    if (dec_add(m.cash, m.positions_value, &eq))
        return cap_fail(e, CAP_EXIT_PRICE,
                        "the master portfolio's cash %s plus its positions "
                        "%s is " RANGE,
                        dec_format(m.cash, minor_units, a, sizeof a),
                        dec_format(m.positions_value, minor_units, b,
                                   sizeof b));
    for (size_t i = 0; i < n; i++) {
        if (dec_is_neg(s[i].cash))
            return cap_fail(e, CAP_EXIT_STORAGE,
                            "portfolio '%s' has negative cash (%s): the "
                            "ledger is inconsistent",
                            s[i].id,
                            dec_format(s[i].cash, minor_units, a, sizeof a));
        if (dec_add(s[i].cash, s[i].positions_value, &s[i].total))
            return cap_fail(e, CAP_EXIT_PRICE,
                            "portfolio '%s': its cash %s plus its positions "
                            "%s is " RANGE,
                            s[i].id,
                            dec_format(s[i].cash, minor_units, a, sizeof a),
                            dec_format(s[i].positions_value, minor_units, b,
                                       sizeof b));
        if (dec_add(eq, s[i].total, &eq))
            return cap_fail(e, CAP_EXIT_PRICE,
                            "total equity is " RANGE " with portfolio '%s' "
                            "(worth %s)",
                            s[i].id,
                            dec_format(s[i].total, minor_units, a, sizeof a));
        if (!s[i].nav_accepted && alloc_nav_needs_accept(&s[i]))
            return cap_fail(e, CAP_EXIT_PRICE,
                            "portfolio '%s' has a NAV of %s (cash %s, "
                            "positions %s)%s: it is not funded "
                            "automatically; correct its books, or accept "
                            "this NAV explicitly (--accept-nav %s)",
                            s[i].id,
                            dec_format(s[i].total, minor_units, a, sizeof a),
                            dec_format(s[i].cash, minor_units, b, sizeof b),
                            dec_format(s[i].positions_value, minor_units,
                                       c, sizeof c),
                            dec_is_zero(s[i].total)
                                ? " while it holds positions"
                                : "",
                            s[i].id);
    }
    *equity = eq;
    return 0;
}

int alloc_compute(alloc_master m, alloc_strategy *s, size_t n,
                  int minor_units, alloc_totals *t, cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    memset(t, 0, sizeof *t);
    capalloc_dec master_cash = m.cash;
    t->master_before = master_cash;
    t->master_positions = m.positions_value;

    /* Valuation (and the ledger's checks), then the weights. */
    capalloc_dec equity, wsum = DEC_ZERO;
    int rc = alloc_equity(m, s, n, minor_units, &equity, e);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (dec_is_neg(s[i].weight))
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "the policy gave portfolio '%s' a negative "
                            "weight (%s)",
                            s[i].id, dec_format(s[i].weight, 0, a, sizeof a));
        if (dec_add(wsum, s[i].weight, &wsum))
            return overflow(e, "the weights");
    }
    if (dec_cmp(wsum, dec_from_int(1)) > 0)
        return cap_fail(e, CAP_EXIT_PLUGIN,
                        "the policy's weights sum to %s, above 1",
                        dec_format(wsum, 0, a, sizeof a));
    t->total_equity = equity;

    /* Targets, adjustments, returns (rules 1 and 2). */
    capalloc_dec returned = DEC_ZERO, wanted = DEC_ZERO;
    for (size_t i = 0; i < n; i++) {
        capalloc_dec target;
        if (dec_mul(equity, s[i].weight, CAPALLOC_ROUND_DOWN, &target) ||
            dec_quantize(target, minor_units, CAPALLOC_ROUND_DOWN, &target))
            return overflow(e, "a target");
        s[i].target = target;
        if (dec_sub(target, s[i].total, &s[i].adjustment))
            /* only with an accepted negative NAV: ledger data */
            return cap_fail(e, CAP_EXIT_PRICE,
                            "portfolio '%s': its target %s minus its NAV %s "
                            "is " RANGE,
                            s[i].id,
                            dec_format(target, minor_units, a, sizeof a),
                            dec_format(s[i].total, minor_units, b, sizeof b));
        s[i].transfer = DEC_ZERO;
        s[i].shortfall = DEC_ZERO;

        capalloc_dec mag = s[i].adjustment;
        if (dec_is_neg(mag))
            mag.micros = -mag.micros;
        if (dec_quantize(mag, minor_units, CAPALLOC_ROUND_DOWN, &mag))
            return overflow(e, "an adjustment");

        if (dec_is_neg(s[i].adjustment)) {
            capalloc_dec cash_avail, ret;
            if (dec_quantize(s[i].cash, minor_units, CAPALLOC_ROUND_DOWN,
                             &cash_avail))
                return overflow(e, "a return");
            ret = min_dec(mag, cash_avail);
            s[i].transfer.micros = -ret.micros;
            if (dec_sub(mag, ret, &s[i].shortfall) ||
                dec_add(returned, ret, &returned))
                return overflow(e, "the returns");
        } else if (!dec_is_zero(mag)) {
            /* want: remembered in transfer for now, settled below */
            s[i].transfer = mag;
            if (dec_add(wanted, mag, &wanted))
                return overflow(e, "the fundings");
        }
    }

    /* Fundings (rule 3). */
    capalloc_dec available;
    if (dec_add(master_cash, returned, &available))
        return overflow(e, "the master's cash");
    t->returned = returned;
    t->wanted = wanted;
    t->scaled = dec_cmp(wanted, available) > 0;
    capalloc_dec funded = DEC_ZERO;
    for (size_t i = 0; i < n; i++) {
        if (dec_cmp(s[i].transfer, DEC_ZERO) <= 0)
            continue;
        capalloc_dec want = s[i].transfer, fund = want;
        if (t->scaled) {
            /* floor(want x available / wanted), exact in 128 bits */
            i128 q = (i128)want.micros * available.micros / wanted.micros;
            fund.micros = (int64_t)q; /* q <= want: fits */
            if (dec_quantize(fund, minor_units, CAPALLOC_ROUND_DOWN, &fund))
                return overflow(e, "a scaled funding");
        }
        s[i].transfer = fund;
        if (dec_sub(want, fund, &s[i].shortfall) ||
            dec_add(funded, fund, &funded))
            return overflow(e, "the fundings");
    }
    t->funded = funded;
    if (dec_sub(available, funded, &t->master_after))
        return overflow(e, "the master's cash");

    /* Rule 5 and the no-negative-balance rule, checked, not assumed. */
    i128 before = master_cash.micros, after = t->master_after.micros;
    for (size_t i = 0; i < n; i++) {
        if (dec_add(s[i].cash, s[i].transfer, &s[i].cash_after))
            return overflow(e, "a balance");
        before += s[i].cash.micros;
        after += s[i].cash_after.micros;
        if (dec_is_neg(s[i].cash_after))
            return cap_fail(e, CAP_EXIT_INTERNAL,
                            "bug: portfolio '%s' would end with negative "
                            "cash %s",
                            s[i].id,
                            dec_format(s[i].cash_after, minor_units, a,
                                       sizeof a));
        if (!dec_is_zero(s[i].transfer))
            t->n_transfers++;
    }
    if (dec_is_neg(t->master_after))
        return cap_fail(e, CAP_EXIT_INTERNAL,
                        "bug: the master would end with negative cash %s",
                        dec_format(t->master_after, minor_units, a, sizeof a));
    if (before != after)
        return cap_fail(e, CAP_EXIT_INTERNAL,
                        "bug: total cash would change from %s to %s",
                        dec_format((capalloc_dec){(int64_t)before},
                                   minor_units, a, sizeof a),
                        dec_format((capalloc_dec){(int64_t)after},
                                   minor_units, b, sizeof b));
    return 0;
}
