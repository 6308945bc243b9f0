/* check_history.c - flow-adjusted returns (core/history.h) on hand-worked
 * examples: every expected value below was computed by hand from the
 * definition, and is compared as decimal text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "history.h"

static capalloc_dec D(const char *s)
{
    capalloc_dec d;
    ck_assert_msg(dec_parse(s, &d) == CAPALLOC_OK, "bad test decimal %s", s);
    return d;
}

static const char *T(capalloc_dec d, char *buf)
{
    return dec_format(d, 0, buf, CAPALLOC_DEC_MAX_TEXT);
}

static capalloc_valuation V(const char *id, const char *date, int64_t run,
                            const char *nav, const char *transfer)
{
    capalloc_valuation v;
    memset(&v, 0, sizeof v);
    v.run_id = run;
    v.date = date;
    v.portfolio_id = id;
    v.nav = D(nav);
    v.transfer = D(transfer);
    return v;
}

/* A strategy over five runs:
 *   d1  new: NAV 0, funded 30000                 -> first point: no return
 *   d2  NAV 30000 (nothing moved), funded 30000  -> 30000/30000 - 1 = 0
 *       (its cash doubled by a transfer: still 0 at d3)
 *   d3  NAV 60000, funded 10000 (now 70000)      -> 60000/60000 - 1 = 0
 *   d4  positions rose 10% while it was funded: NAV 77000
 *                                                -> 77000/70000 - 1 = 0.1
 *   d5  NAV 66000 after a loss, then all of it returned (-66000)
 *   d6  NAV 0                                    -> base 0: no return
 */
START_TEST(strategy_returns)
{
    capalloc_valuation v[] = {
        V("1", "2025-01-06", 1, "0", "30000"),
        V("1", "2025-01-07", 2, "30000", "30000"),
        V("1", "2025-01-08", 3, "60000", "10000"),
        V("1", "2025-01-09", 4, "77000", "0"),
        V("1", "2025-01-10", 5, "66000", "-66000"),
        V("1", "2025-01-13", 6, "0", "0"),
    };
    const char *want[] = {NULL, "0", "0", "0.1", "-0.142857", NULL};
    size_t n = sizeof v / sizeof v[0];
    capalloc_dec ret[8];
    int has[8];
    char b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_eq(history_returns(v, n, ret, has), CAPALLOC_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(has[i], want[i] != NULL);
        if (want[i])
            ck_assert_str_eq(T(ret[i], b), want[i]);
    }
    /* one point per date, same values */
    capalloc_history_point p[8];
    size_t np = 0;
    ck_assert_int_eq(history_points(v, n, p, &np), CAPALLOC_OK);
    ck_assert_uint_eq(np, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(p[i].date, v[i].date);
        ck_assert_int_eq(p[i].has_return, want[i] != NULL);
        if (want[i])
            ck_assert_str_eq(T(p[i].ret, b), want[i]);
        ck_assert_int_eq(p[i].nav.micros, v[i].nav.micros);
        ck_assert_int_eq(p[i].flow.micros, v[i].transfer.micros);
    }
}
END_TEST

/* Rounding: half-even to 6 places of the ratio. 1/3 -> 0.333333, so
 * r = -0.666667; 2/3 -> 0.666667 (r = -0.333333); 1.0000005 -> 1.000000
 * (a tie, to even), 1.0000015 -> 1.000002. */
START_TEST(rounding)
{
    struct {
        const char *prev_nav, *prev_transfer, *nav, *want;
    } c[] = {
        {"3", "0", "1", "-0.666667"},
        {"3", "0", "2", "-0.333333"},
        {"2000000", "0", "2000001", "0"},         /* 1.0000005 */
        {"2000000", "0", "2000003", "0.000002"},  /* 1.0000015 */
        {"100", "-100", "5", NULL},               /* nothing held */
        {"100", "-150", "5", NULL},               /* negative base */
    };
    char b[CAPALLOC_DEC_MAX_TEXT];
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        capalloc_valuation p = V("x", "2025-01-01", 1, c[i].prev_nav,
                                 c[i].prev_transfer);
        capalloc_valuation q = V("x", "2025-01-02", 2, c[i].nav, "0");
        capalloc_dec r;
        int has = -1;
        ck_assert_int_eq(history_step(&p, &q, &r, &has), CAPALLOC_OK);
        ck_assert_int_eq(has, c[i].want != NULL);
        if (c[i].want)
            ck_assert_str_eq(T(r, b), c[i].want);
    }
}
END_TEST

/* Two runs on one date (a forced re-run) chain: day 1 NAV 100 (+0);
 * day 2 run a: NAV 110 (ratio 1.1), transfer +90; run b: NAV 220 after the
 * price moved again (ratio 220/200 = 1.1): the date's point is
 * 1.1 x 1.1 - 1 = 0.21, NAV 220, flow 90. */
START_TEST(forced_rerun_chains)
{
    capalloc_valuation v[] = {
        V("1", "2025-01-06", 1, "100", "0"),
        V("1", "2025-01-07", 2, "110", "90"),
        V("1", "2025-01-07", 3, "220", "0"),
        V("1", "2025-01-08", 4, "242", "0"),
    };
    capalloc_history_point p[4];
    size_t np = 0;
    char b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_eq(history_points(v, 4, p, &np), CAPALLOC_OK);
    ck_assert_uint_eq(np, 3);
    ck_assert_int_eq(p[0].has_return, 0);
    ck_assert_str_eq(T(p[1].ret, b), "0.21");
    ck_assert_str_eq(T(p[1].nav, b), "220");
    ck_assert_str_eq(T(p[1].flow, b), "90");
    ck_assert_str_eq(T(p[2].ret, b), "0.1");
}
END_TEST

/* Sorting: by portfolio (bytewise), date, run; returns never cross from one
 * portfolio to the next. */
START_TEST(sorted_and_separate)
{
    capalloc_valuation v[] = {
        V("2", "2025-01-07", 2, "50", "0"),
        V("10", "2025-01-06", 1, "10", "0"),
        V("2", "2025-01-06", 1, "100", "0"),
        V("10", "2025-01-07", 2, "20", "0"),
    };
    history_sort(v, 4);
    ck_assert_str_eq(v[0].portfolio_id, "10");
    ck_assert_str_eq(v[1].date, "2025-01-07");
    ck_assert_str_eq(v[2].portfolio_id, "2");
    ck_assert_str_eq(v[2].date, "2025-01-06");
    capalloc_dec ret[4];
    int has[4];
    char b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_eq(history_returns(v, 4, ret, has), CAPALLOC_OK);
    ck_assert_int_eq(has[0], 0);
    ck_assert_str_eq(T(ret[1], b), "1");
    ck_assert_int_eq(has[2], 0);
    ck_assert_str_eq(T(ret[3], b), "-0.5");
}
END_TEST

/* The fund: ADD and WITHDRAW are flows. Run 1: E 100000 (all in the
 * master), master transfers out 100000. ADD 5000. Run 2: master cash
 * 5000, strategies worth 102000: E 107000, flow 5000,
 * r = 107000 / 105000 - 1 = 0.019048 (1.0190476...). WITHDRAW 2000, run 3:
 * master cash 3000 (it moved nothing at run 2), E 3000 + 102000 = 105000,
 * flow -2000, r = 105000 / 105000 - 1 = 0. */
START_TEST(fund_flows)
{
    fund_obs f[3];
    memset(f, 0, sizeof f);
    f[0] = (fund_obs){"2025-01-06", 1, D("100000"), D("100000"),
                      D("-100000"), {0}, {0}, 0};
    f[1] = (fund_obs){"2025-01-07", 3, D("107000"), D("5000"), D("0"),
                      {0}, {0}, 0};
    f[2] = (fund_obs){"2025-01-08", 5, D("105000"), D("3000"), D("0"),
                      {0}, {0}, 0};
    char b[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_int_eq(history_fund(f, 3), CAPALLOC_OK);
    ck_assert_int_eq(f[0].has_return, 0);
    ck_assert_str_eq(T(f[1].flow, b), "5000");
    ck_assert_str_eq(T(f[1].ret, b), "0.019048");
    ck_assert_str_eq(T(f[2].flow, b), "-2000");
    ck_assert_str_eq(T(f[2].ret, b), "0");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("returns");
    tcase_add_test(tc, strategy_returns);
    tcase_add_test(tc, rounding);
    tcase_add_test(tc, forced_rerun_chains);
    tcase_add_test(tc, sorted_and_separate);
    tcase_add_test(tc, fund_flows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
