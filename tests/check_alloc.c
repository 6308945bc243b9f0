/* check_alloc.c - the allocation rules of core/alloc.h, table-driven. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "decimal.h"

#define MAXS 6

typedef struct strat_case {
    const char *cash, *pos, *weight;           /* inputs */
    const char *target, *transfer, *shortfall; /* expected */
    int holds, accepted; /* holds_positions, nav_accepted (rule 6) */
} strat_case;

typedef struct alloc_case {
    const char *name;
    const char *master;
    int minor;
    strat_case s[MAXS];
    const char *master_after;
    int scaled;
    int exit_code; /* 0, or the expected failure */
    const char *master_pos; /* the master's positions value; NULL: 0 */
    const char *equity;     /* expected total equity; NULL: not checked */
    const char *msg_has;    /* in the failure's message; NULL: any */
} alloc_case;

static capalloc_dec D(const char *s)
{
    capalloc_dec d;
    ck_assert_msg(dec_parse(s, &d) == CAPALLOC_OK, "bad test decimal %s", s);
    return d;
}

static const alloc_case CASES[] = {
    {"design: 100000 over 0.3/0.3/0.4 from an empty fund", "100000", 2,
     {{"0", "0", "0.30", "30000", "30000", "0", 0, 0},
      {"0", "0", "0.30", "30000", "30000", "0", 0, 0},
      {"0", "0", "0.40", "40000", "40000", "0", 0, 0}},
     "0", 0, 0, 0, 0, 0},
    {"already balanced: no transfers", "0", 2,
     {{"30000", "0", "0.3", "30000", "0", "0", 0, 0},
      {"30000", "0", "0.3", "30000", "0", "0", 0, 0},
      {"40000", "0", "0.4", "40000", "0", "0", 0, 0}},
     "0", 0, 0, 0, 0, 0},
    {"reserve: weights below 1 leave the rest in the master", "1000", 2,
     {{"0", "0", "0.5", "500", "500", "0", 0, 0}, {"0", "0", "0.25", "250", "250", "0", 0, 0}},
     "250", 0, 0, 0, 0, 0},
    {"rounding down to cents, residue stays in the master", "100", 2,
     {{"0", "0", "0.333333", "33.33", "33.33", "0", 0, 0},
      {"0", "0", "0.333333", "33.33", "33.33", "0", 0, 0},
      {"0", "0", "0.333333", "33.33", "33.33", "0", 0, 0}},
     "0.01", 0, 0, 0, 0, 0},
    {"overweight in cash returns its excess", "0", 2,
     {{"700", "0", "0.3", "300", "-400", "0", 0, 0}, {"300", "0", "0.7", "700", "400", "0", 0, 0}},
     "0", 0, 0, 0, 0, 0},
    {"overweight in positions returns only the cash it holds", "0", 2,
     /* equity 1000: s1 holds 100 cash + 800 positions, target 500 */
     {{"100", "800", "0.5", "500", "-100", "300", 0, 0},
      {"100", "0", "0.5", "500", "100", "300", 0, 0}},
     "0", 1, 0, 0, 0, 0},
    {"master short: fundings scaled pro rata, never negative", "100", 2,
     /* equity 100+0+0+200(pos)=300: targets 90,90,120; s3 over by 80 in
        positions (no cash); wanted 90+90=180 > 100 available -> 50/50 */
     {{"0", "0", "0.3", "90", "50", "40", 0, 0},
      {"0", "0", "0.3", "90", "50", "40", 0, 0},
      {"0", "200", "0.4", "120", "0", "80", 0, 0}},
     "0", 1, 0, 0, 0, 0},
    {"scaled fundings round down, remainder stays in master", "100", 2,
     /* equity 100 + 0 + 0 + 200 = 300, targets 100/100 ; available 100 over
        wanted 100+... see assertions */
     {{"0", "0", "0.333333", "99.99", "33.33", "66.66", 0, 0},
      {"0", "0", "0.666666", "199.99", "66.66", "133.33", 0, 0},
      {"0", "200", "0", "0", "0", "200", 0, 0}},
     "0.01", 1, 0, 0, 0, 0},
    {"JPY has no minor unit", "1000", 0,
     {{"0", "0", "0.3333", "333", "333", "0", 0, 0}, {"0", "0", "0.6666", "666", "666", "0", 0, 0}},
     "1", 0, 0, 0, 0, 0},
    {"sub-cent position value: transfer rounds toward zero", "10", 2,
     {{"0", "0.005", "1", "10.00", "9.99", "0", 0, 0}},
     "0.01", 0, 0, 0, 0, 0},
    {"negative weight refused", "100", 2,
     {{"0", "0", "-0.1", 0, 0, 0, 0, 0}}, 0, 0, CAP_EXIT_PLUGIN, 0, 0, 0},
    {"weights above 1 refused", "100", 2,
     {{"0", "0", "0.6", 0, 0, 0, 0, 0}, {"0", "0", "0.400001", 0, 0, 0, 0, 0}}, 0, 0,
     CAP_EXIT_PLUGIN, 0, 0, 0},
    {"negative cash in the ledger refused", "100", 2,
     {{"-1", "0", "0.5", 0, 0, 0, 0, 0}}, 0, 0, CAP_EXIT_STORAGE, 0, 0, 0},
    {"negative master cash refused", "-5", 2,
     {{"0", "0", "0.5", 0, 0, 0, 0, 0}}, 0, 0, CAP_EXIT_STORAGE, 0, 0, 0},
    /* ledger data beyond range: a valuation failure naming the
       portfolio, never "internal" */
    {"overflow is an error, never a wrap", "9000000000000", 2,
     {{"9000000000000", "0", "0.5", 0, 0, 0, 0, 0}}, 0, 0, CAP_EXIT_PRICE, 0, 0,
     "total equity is beyond +/-9,223,372,036,854.775807 with portfolio '1'"},
    {"a strategy's cash + positions beyond range", "0", 2,
     {{"9000000000000", "9000000000000", "0.5", 0, 0, 0, 1, 0}}, 0, 0,
     CAP_EXIT_PRICE, 0, 0, "portfolio '1': its cash"},
    {"the master's cash + positions beyond range", "9000000000000", 2,
     {{"0", "0", "0.5", 0, 0, 0, 0, 0}}, 0, 0, CAP_EXIT_PRICE, "9000000000000", 0,
     "the master portfolio's cash"},
    {"negative master positions refused", "100", 2,
     {{"0", "0", "0.5", 0, 0, 0, 0, 0}}, 0, 0, CAP_EXIT_PRICE, "-1", 0,
     "negative value"},

    /* the master's positions: equity, not cash */
    {"master positions count in total equity", "1000", 2,
     /* E = 1000 + 500 = 1500: targets 450, 450; the master keeps 100 cash
        and its 500 of positions (the 0.4 reserve is 600) */
     {{"0", "0", "0.3", "450", "450", "0", 0, 0}, {"0", "0", "0.3", "450", "450", "0", 0, 0}},
     "100", 0, 0, "500", "1500", 0},
    {"master positions are not cash: fundings scaled", "100", 2,
     /* E = 100 + 900 = 1000: target 500, but only 100 of cash to give */
     {{"0", "0", "0.5", "500", "100", "400", 0, 0}},
     "0", 1, 0, "900", "1000", 0},
    {"master positions and an overweight strategy", "0", 2,
     /* E = 0 + 300 + 700 = 1000: s1 returns 200, s2 gets it */
     {{"700", "0", "0.5", "500", "-200", "0", 0, 0}, {"0", "0", "0.2", "200", "200", "0", 0, 0}},
     "0", 0, 0, "300", "1000", 0},

    /* rule 6: NAV <= 0 is never funded automatically */
    {"new strategy (no positions, NAV 0) is funded", "100", 2,
     {{"0", "0", "0.5", "50", "50", "0", 0, 0}}, "50", 0, 0, 0, 0, 0},
    {"emptied book (cash 0, no positions) is funded", "100", 2,
     {{"0.00", "0", "0.5", "50", "50", "0", 0, 0}}, "50", 0, 0, 0, 0, 0},
    {"NAV 0 while holding positions refused", "100", 2,
     {{"0", "0", "0.5", 0, 0, 0, 1, 0}}, 0, 0, CAP_EXIT_PRICE, 0, 0,
     "portfolio '1' has a NAV of 0.00"},
    {"NAV 0 while holding positions, accepted: funded", "100", 2,
     {{"0", "0", "0.5", "50", "50", "0", 1, 1}}, "50", 0, 0, 0, 0, 0},
    {"negative NAV refused, whoever else is fine", "100", 2,
     {{"10", "0", "0.25", 0, 0, 0, 0, 0}, {"5", "-10", "0.25", 0, 0, 0, 1, 0}}, 0,
     0, CAP_EXIT_PRICE, 0, 0, "portfolio '2' has a NAV of -5.00"},
    {"negative NAV accepted: funded up to its target", "100", 2,
     /* E = 100 - 5 = 95: target 47.50, adjustment 52.50 */
     {{"5", "-10", "0.5", "47.50", "52.50", "0", 1, 1}}, "47.50", 0, 0, 0,
     "95", 0},
};

static size_t count(const alloc_case *c)
{
    size_t n = 0;
    while (n < MAXS && c->s[n].cash != NULL)
        n++;
    return n;
}

START_TEST(table)
{
    const alloc_case *c = &CASES[_i];
    size_t n = count(c);
    alloc_strategy s[MAXS];
    char ids[MAXS][24];
    memset(s, 0, sizeof s);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%zu", i + 1);
        s[i].id = ids[i];
        s[i].cash = D(c->s[i].cash);
        s[i].positions_value = D(c->s[i].pos);
        s[i].weight = D(c->s[i].weight);
        s[i].holds_positions = c->s[i].holds;
        s[i].nav_accepted = c->s[i].accepted;
    }
    alloc_totals t;
    cap_error e = {0, ""};
    alloc_master m = {D(c->master), D(c->master_pos ? c->master_pos : "0")};
    int rc = alloc_compute(m, s, n, c->minor, &t, &e);
    ck_assert_msg(rc == c->exit_code, "%s: rc %d (%s)", c->name, rc, e.msg);
    if (rc != 0) {
        ck_assert_msg(strlen(e.msg) > 0, "%s: no message", c->name);
        if (c->msg_has != NULL)
            ck_assert_msg(strstr(e.msg, c->msg_has) != NULL,
                          "%s: '%s' not in '%s'", c->name, c->msg_has, e.msg);
        return;
    }
    char a[32], b[32];
    if (c->equity != NULL)
        ck_assert_msg(dec_cmp(t.total_equity, D(c->equity)) == 0,
                      "%s: total equity %s != %s", c->name,
                      dec_format(t.total_equity, 2, a, 32), c->equity);
    ck_assert(dec_cmp(t.master_positions, m.positions_value) == 0);
    capalloc_dec before = D(c->master), after = t.master_after;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(dec_cmp(s[i].target, D(c->s[i].target)) == 0,
                      "%s: target[%zu] %s != %s", c->name, i,
                      dec_format(s[i].target, 2, a, 32), c->s[i].target);
        ck_assert_msg(dec_cmp(s[i].transfer, D(c->s[i].transfer)) == 0,
                      "%s: transfer[%zu] %s != %s", c->name, i,
                      dec_format(s[i].transfer, 2, a, 32), c->s[i].transfer);
        ck_assert_msg(dec_cmp(s[i].shortfall, D(c->s[i].shortfall)) == 0,
                      "%s: shortfall[%zu] %s != %s", c->name, i,
                      dec_format(s[i].shortfall, 2, a, 32), c->s[i].shortfall);
        /* invariants for every case */
        ck_assert(!dec_is_neg(s[i].cash_after));
        ck_assert(!dec_is_neg(s[i].shortfall));
        capalloc_dec q;
        dec_quantize(s[i].transfer, c->minor, CAPALLOC_ROUND_DOWN, &q);
        ck_assert_msg(dec_cmp(q, s[i].transfer) == 0, "%s: sub-minor transfer",
                      c->name);
        dec_add(before, s[i].cash, &before);
        dec_add(after, s[i].cash_after, &after);
    }
    ck_assert_msg(dec_cmp(t.master_after, D(c->master_after)) == 0,
                  "%s: master after %s != %s", c->name,
                  dec_format(t.master_after, 2, b, 32), c->master_after);
    ck_assert(!dec_is_neg(t.master_after));
    ck_assert_int_eq(t.scaled, c->scaled);
    /* cash is conserved */
    ck_assert_msg(dec_cmp(before, after) == 0, "%s: cash not conserved",
                  c->name);
}
END_TEST

/* A brute-force sweep: conservation and non-negativity hold for many
 * random funds (deterministic seed). */
START_TEST(sweep_invariants)
{
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % MAXS);
        alloc_strategy s[MAXS];
        memset(s, 0, sizeof s);
        int64_t wleft = CAPALLOC_DEC_ONE;
        alloc_master m = {{(int64_t)(rand_r(&seed) % 100000000) * 10000},
                          {(int64_t)(rand_r(&seed) % 1000000000)}};
        capalloc_dec before = m.cash, after, equity;
        dec_add(m.cash, m.positions_value, &equity);
        for (size_t i = 0; i < n; i++) {
            s[i].id = "x";
            s[i].cash.micros = (int64_t)(rand_r(&seed) % 100000000) * 10000;
            s[i].positions_value.micros = (int64_t)(rand_r(&seed) % 1000000000);
            s[i].holds_positions = s[i].positions_value.micros != 0;
            int64_t w = wleft ? (int64_t)(rand_r(&seed) % (wleft + 1)) : 0;
            s[i].weight.micros = w;
            wleft -= w;
            dec_add(before, s[i].cash, &before);
            dec_add(equity, s[i].cash, &equity);
            dec_add(equity, s[i].positions_value, &equity);
        }
        alloc_totals t;
        cap_error e;
        ck_assert_msg(alloc_compute(m, s, n, 2, &t, &e) == 0, "%s", e.msg);
        after = t.master_after;
        ck_assert_int_eq(t.total_equity.micros, equity.micros);
        ck_assert(!dec_is_neg(t.master_after));
        for (size_t i = 0; i < n; i++) {
            ck_assert(!dec_is_neg(s[i].cash_after));
            /* never pushes past the target */
            if (s[i].transfer.micros > 0)
                ck_assert(dec_cmp(s[i].transfer, s[i].adjustment) <= 0);
            dec_add(after, s[i].cash_after, &after);
        }
        ck_assert_int_eq(before.micros, after.micros);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, table, 0, (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_test(tc, sweep_invariants);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
