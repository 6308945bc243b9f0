/*
 * check_rules.c - the rebalance rules of core/rules.h, table-driven: every
 * rule alone and in combination (band + minimum + maximum + turnover +
 * buffer), each case's transfers, flags and master, and the invariants
 * after every case (no negative balance, cash conserved, residues in the
 * master, the limits respected). A sweep then checks the invariants and
 * the limits over many random funds and rule sets.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "decimal.h"
#include "rules.h"

#define MAXS 6

typedef struct strat_case {
    const char *cash, *pos, *weight; /* inputs */
    const char *transfer;            /* expected after the rules */
    const char *flags;               /* letters: B buffer, I in band,
                                        X max transfer, T turnover,
                                        M min transfer, F funds */
} strat_case;

typedef struct rules_case {
    const char *name;
    /* the rules, words: abs=W rel=W fund min=A max=A turn=A buf=F
     * (A: an amount, or N% of total equity) */
    const char *rules;
    const char *master;
    strat_case s[MAXS];
    const char *master_after;
} rules_case;

static capalloc_dec D(const char *s)
{
    capalloc_dec d;
    ck_assert_msg(dec_parse(s, &d) == CAPALLOC_OK, "bad test decimal %s", s);
    return d;
}

static rule_limit L(const char *v)
{
    rule_limit l = {1, 0, DEC_ZERO};
    size_t n = strlen(v);
    if (n > 0 && v[n - 1] == '%') {
        char b[32];
        snprintf(b, sizeof b, "%.*s", (int)(n - 1), v);
        ck_assert_int_eq(dec_div(D(b), D("100"), CAPALLOC_ROUND_DOWN, &l.v),
                         0);
        l.fraction = 1;
    } else {
        l.v = D(v);
    }
    return l;
}

static rebalance_rules parse_rules(const char *text)
{
    rebalance_rules r;
    memset(&r, 0, sizeof r);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save, *w = strtok_r(buf, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
        if (strncmp(w, "abs=", 4) == 0) {
            r.band = BAND_ABSOLUTE;
            r.band_width = D(w + 4);
        } else if (strncmp(w, "rel=", 4) == 0) {
            r.band = BAND_RELATIVE;
            r.band_width = D(w + 4);
        } else if (strcmp(w, "fund") == 0) {
            r.scope = BAND_FUND;
        } else if (strncmp(w, "min=", 4) == 0) {
            r.min_transfer = L(w + 4);
        } else if (strncmp(w, "max=", 4) == 0) {
            r.max_transfer = L(w + 4);
        } else if (strncmp(w, "turn=", 5) == 0) {
            r.max_turnover = L(w + 5);
        } else if (strncmp(w, "buf=", 4) == 0) {
            r.cash_buffer = D(w + 4);
        } else {
            ck_abort_msg("bad rule word %s", w);
        }
    }
    return r;
}

static unsigned flags_of(const char *letters)
{
    unsigned f = 0;
    for (const char *p = letters; *p; p++)
        f |= *p == 'B' ? RULE_BUFFER
             : *p == 'I' ? RULE_IN_BAND
             : *p == 'X' ? RULE_MAX_CUT
             : *p == 'T' ? RULE_TURNOVER
             : *p == 'M' ? RULE_BELOW_MIN
             : *p == 'F' ? RULE_FUNDS
                         : 0x80000000u;
    return f;
}

/* Fund A: equity 100000, targets 30000/30000/40000: s1 returns 1000,
 * s2 and s3 want 500 each. Current weights 0.31, 0.295, 0.395. */
#define FUND_A(t1, f1, t2, f2, t3, f3)                                       \
    {{"31000", "0", "0.30", t1, f1},                                         \
     {"29500", "0", "0.30", t2, f2},                                         \
     {"39500", "0", "0.40", t3, f3}}

/* Fund C: master 2000, equity 100000, weights 0.30/0.25/0.20/0.25; with
 * a 1% buffer the weights become 0.297/0.2475/0.198/0.2475, targets
 * 29700/24750/19800/24750: s1-s3 return 300/250/200 (current weights
 * 0.30/0.25/0.20, inside a 0.005 band), s4 (0.23, outside) wants 1750. */
#define FUND_C(t1, f1, t2, f2, t3, f3, t4, f4)                               \
    {{"30000", "0", "0.30", t1, f1},                                         \
     {"25000", "0", "0.25", t2, f2},                                         \
     {"20000", "0", "0.20", t3, f3},                                         \
     {"23000", "0", "0.25", t4, f4}}

static const rules_case CASES[] = {
    /* each rule alone */
    {"no rules: alloc_compute's plan unchanged", "", "0",
     FUND_A("-1000", "", "500", "", "500", ""), "0"},
    {"absolute band, per strategy: only s1 (0.31) is outside 0.005",
     "abs=0.005", "0", FUND_A("-1000", "", "0", "I", "0", "I"), "1000"},
    {"absolute band, whole fund: s1 outside, so all rebalance",
     "abs=0.005 fund", "0", FUND_A("-1000", "", "500", "", "500", ""), "0"},
    {"absolute band, whole fund: none outside 0.02, none moves",
     "abs=0.02 fund", "0", FUND_A("0", "I", "0", "I", "0", "I"), "0"},
    {"relative band: 3.3% and -1.7% and -1.25% against 2%", "rel=0.02", "0",
     FUND_A("-1000", "", "0", "I", "0", "I"), "1000"},
    {"relative band: exactly on the band is inside", "rel=0.0125", "0",
     FUND_A("-1000", "", "500", "", "0", "I"), "500"},
    {"relative band: a zero target weight is outside when it holds any",
     "rel=0.5", "0",
     {{"100", "0", "0", "-100", ""}, {"900", "0", "1", "0", "I"}}, "100"},
    {"minimum amount: fundings of 500 below 600 stay in the master",
     "min=600", "0", FUND_A("-1000", "", "0", "M", "0", "M"), "1000"},
    {"minimum fraction: 1% of equity is 1000, a 1000 return is not below",
     "min=1%", "0", FUND_A("-1000", "", "0", "M", "0", "M"), "1000"},
    {"minimum: a small return is skipped, its cash stays in the strategy",
     "min=1500", "0", FUND_A("0", "M", "0", "F", "0", "F"), "0"},
    {"maximum transfer: cut to 400, fundings then scaled to the 400 back",
     "max=400", "0", FUND_A("-400", "X", "200", "XF", "200", "XF"), "0"},
    {"maximum turnover amount: 2000 planned, 1000 allowed, halved",
     "turn=1000", "0", FUND_A("-500", "T", "250", "T", "250", "T"), "0"},
    {"maximum turnover fraction: 1.5% of equity", "turn=1.5%", "0",
     FUND_A("-750", "T", "375", "T", "375", "T"), "0"},
    {"cash buffer: weights scaled to 0.95, 5000 returned to the master",
     "buf=0.05", "0", FUND_A("-2500", "B", "-1000", "B", "-1500", "B"),
     "5000"},
    {"cash buffer: the master funds only above its buffer", "buf=0.1",
     "20000",
     {{"0", "50000", "0.5", "0", "B"}, {"30000", "0", "0.5", "10000", "BF"}},
     "10000"},
    {"cash buffer: weights already leaving it are kept", "buf=0.1", "100000",
     {{"0", "0", "0.45", "45000", ""}, {"0", "0", "0.45", "45000", ""}},
     "10000"},
    {"cash buffer: never reached from positions, no funding below it",
     "buf=0.2", "0",
     {{"0", "60000", "0.5", "0", "B"}, {"40000", "0", "0.5", "0", "B"}},
     "0"},
    /* combinations: band + maximum + minimum + buffer (+ turnover) */
    {"band + max + min + buffer, per strategy", "abs=0.005 max=800 min=300 "
     "buf=0.01", "2000",
     FUND_C("0", "BI", "0", "BI", "0", "BI", "800", "BX"), "1200"},
    {"band + max + turnover + min + buffer", "abs=0.005 max=800 turn=500 "
     "min=300 buf=0.01", "2000",
     FUND_C("0", "BI", "0", "BI", "0", "BI", "500", "BXT"), "1500"},
    {"band + max + turnover + min + buffer: cut below the minimum, skipped",
     "abs=0.005 max=800 turn=500 min=600 buf=0.01", "2000",
     FUND_C("0", "BI", "0", "BI", "0", "BI", "0", "BXTM"), "2000"},
    {"whole-fund band + max + min + buffer: small returns skipped",
     "abs=0.005 fund max=800 min=300 buf=0.01", "2000",
     FUND_C("-300", "B", "0", "BM", "0", "BM", "800", "BX"), "1500"},
    {"relative band + fractions: min 0.5%, max 1%, turnover 1.2%, buffer",
     "rel=0.05 min=0.5% max=1% turn=1.2% buf=0.01", "2000",
     /* outside 5%: only s4 (0.23 vs 0.2475, -7.1%); 1750 -> max 1000 ->
        turnover 1000 fits 1200 -> min 500 fine; 2000 - 1000 buffer = 1000
        available: paid */
     FUND_C("0", "BI", "0", "BI", "0", "BI", "1000", "BX"), "1000"},
};

static size_t count(const rules_case *c)
{
    size_t n = 0;
    while (n < MAXS && c->s[n].cash != NULL)
        n++;
    return n;
}

/* The invariants every plan keeps, whatever the rules. */
static void check_invariants(const char *name, const rebalance_rules *r,
                             capalloc_dec master, const alloc_strategy *s,
                             size_t n, const alloc_totals *t,
                             const rule_effect *fx, const rules_summary *sum)
{
    int64_t before = master.micros, after = t->master_after.micros;
    int64_t funded = 0, turnover = 0;
    ck_assert_msg(!dec_is_neg(t->master_after), "%s: master negative", name);
    for (size_t i = 0; i < n; i++) {
        before += s[i].cash.micros;
        after += s[i].cash_after.micros;
        ck_assert_msg(!dec_is_neg(s[i].cash_after), "%s: %zu negative", name,
                      i);
        ck_assert_msg(!dec_is_neg(s[i].shortfall), "%s: shortfall", name);
        ck_assert_int_eq(s[i].cash_after.micros,
                         s[i].cash.micros + s[i].transfer.micros);
        /* cents only: residues stay in the master */
        ck_assert_int_eq(s[i].transfer.micros % 10000, 0);
        /* the rules only shrink or drop a move, never reverse it */
        ck_assert_msg(s[i].transfer.micros == 0 ||
                          ((s[i].transfer.micros > 0) ==
                               (s[i].adjustment.micros > 0) &&
                           llabs(s[i].transfer.micros) <=
                               llabs(s[i].adjustment.micros)),
                      "%s: %zu moved against or past its target", name, i);
        /* a strategy no rule touched moves at least the plan's amount */
        if (fx[i].flags == 0)
            ck_assert_msg(llabs(s[i].transfer.micros) >=
                              llabs(fx[i].planned.micros),
                          "%s: %zu moved less without a rule", name, i);
        if (r->max_transfer.set)
            ck_assert(llabs(s[i].transfer.micros) <=
                      sum->max_transfer.micros);
        if (r->min_transfer.set && s[i].transfer.micros != 0)
            ck_assert(llabs(s[i].transfer.micros) >=
                      sum->min_transfer.micros);
        if (s[i].transfer.micros > 0)
            funded += s[i].transfer.micros;
        turnover += llabs(s[i].transfer.micros);
    }
    ck_assert_msg(before == after, "%s: cash not conserved", name);
    if (r->max_turnover.set)
        ck_assert(turnover <= sum->max_turnover.micros);
    if (funded > 0)
        ck_assert_msg(t->master_after.micros >= sum->buffer.micros,
                      "%s: funded below the buffer", name);
}

START_TEST(table)
{
    const rules_case *c = &CASES[_i];
    size_t n = count(c);
    alloc_strategy s[MAXS];
    rule_effect fx[MAXS];
    char ids[MAXS][24];
    memset(s, 0, sizeof s);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%zu", i + 1);
        s[i].id = ids[i];
        s[i].cash = D(c->s[i].cash);
        s[i].positions_value = D(c->s[i].pos);
        s[i].weight = D(c->s[i].weight);
    }
    rebalance_rules r = parse_rules(c->rules);
    ck_assert_int_eq(rules_active(&r), c->rules[0] != '\0');
    alloc_totals t;
    rules_summary sum;
    cap_error e = {0, ""};
    capalloc_dec master = D(c->master);
    ck_assert_int_eq(rules_weights(&r, s, n, fx, &e), 0);
    ck_assert_msg(alloc_compute((alloc_master){master, DEC_ZERO}, s, n, 2, &t, &e) == 0, "%s: %s",
                  c->name, e.msg);
    ck_assert_msg(rules_apply(&r, master, DEC_ZERO, s, n, 2, &t, fx, &sum,
                              &e) == 0,
                  "%s: %s", c->name, e.msg);
    char a[32], b[32];
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(dec_cmp(s[i].transfer, D(c->s[i].transfer)) == 0,
                      "%s: transfer[%zu] %s != %s", c->name, i + 1,
                      dec_format(s[i].transfer, 2, a, 32), c->s[i].transfer);
        ck_assert_msg(fx[i].flags == flags_of(c->s[i].flags),
                      "%s: flags[%zu] 0x%x != %s", c->name, i + 1,
                      fx[i].flags, c->s[i].flags);
    }
    ck_assert_msg(dec_cmp(t.master_after, D(c->master_after)) == 0,
                  "%s: master after %s != %s", c->name,
                  dec_format(t.master_after, 2, b, 32), c->master_after);
    check_invariants(c->name, &r, master, s, n, &t, fx, &sum);
}
END_TEST

/* Queued redemptions (flows.c): targets on equity less the queue, the
 * band not applied, fundings only above buffer + queue; the master after
 * the run holds what the redemptions are paid from. */
typedef struct queued_case {
    const char *name, *rules, *master, *queued;
    strat_case s[MAXS];
    const char *master_after;
} queued_case;

static const queued_case QCASES[] = {
    {"50000 queued, fully allocated 100000 in cash: raised in full", "", "0",
     "50000", FUND_A("-16000", "", "-14500", "", "-19500", ""), "50000"},
    {"50000 queued, s1's excess in positions: only the cash comes back", "",
     "0", "50000",
     {{"0", "30000", "0.3", "0", ""},
      {"30000", "0", "0.3", "-15000", ""},
      {"40000", "0", "0.4", "-20000", ""}},
     "35000"},
    {"the band does not hold back a redemption's cash", "abs=0.5 fund", "0",
     "50000",
     {{"30000", "0", "0.3", "-15000", ""},
      {"30000", "0", "0.3", "-15000", ""},
      {"40000", "0", "0.4", "-20000", ""}},
     "50000"},
    {"buffer on the fund after the redemption, raised with it", "buf=0.1",
     "0", "50000",
     {{"30000", "0", "0.3", "-16500", "B"},
      {"30000", "0", "0.3", "-16500", "B"},
      {"40000", "0", "0.4", "-22000", "B"}},
     "55000"},
    {"the master funds no strategy from the queue's cash", "", "60000",
     "50000",
     /* equity 100000 - 50000: targets 5000/5000 and s2 under by 5000;
        available 60000 - 50000 = 10000 covers it */
     {{"40000", "0", "0.1", "-35000", ""}, {"0", "0", "0.1", "5000", ""}},
     "90000"},
    {"queue above the master and every return: fundings get nothing", "",
     "10000", "50000",
     {{"0", "45000", "0.5", "0", ""}, {"0", "0", "0.4", "0", "F"}},
     "10000"},
};

START_TEST(queued_table)
{
    const queued_case *c = &QCASES[_i];
    size_t n = 0;
    while (n < MAXS && c->s[n].cash != NULL)
        n++;
    alloc_strategy s[MAXS];
    rule_effect fx[MAXS];
    char ids[MAXS][24];
    memset(s, 0, sizeof s);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%zu", i + 1);
        s[i].id = ids[i];
        s[i].cash = D(c->s[i].cash);
        s[i].positions_value = D(c->s[i].pos);
        s[i].weight = D(c->s[i].weight);
    }
    rebalance_rules r = parse_rules(c->rules);
    alloc_totals t;
    rules_summary sum;
    cap_error e = {0, ""};
    capalloc_dec master = D(c->master);
    ck_assert_int_eq(rules_weights(&r, s, n, fx, &e), 0);
    ck_assert_int_eq(alloc_compute((alloc_master){master, DEC_ZERO}, s, n, 2, &t, &e), 0);
    ck_assert_msg(rules_apply(&r, master, D(c->queued), s, n, 2, &t, fx, &sum,
                              &e) == 0,
                  "%s: %s", c->name, e.msg);
    char a[32];
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(dec_cmp(s[i].transfer, D(c->s[i].transfer)) == 0,
                      "%s: transfer[%zu] %s != %s", c->name, i + 1,
                      dec_format(s[i].transfer, 2, a, 32), c->s[i].transfer);
        ck_assert_msg(fx[i].flags == flags_of(c->s[i].flags),
                      "%s: flags[%zu] 0x%x != %s", c->name, i + 1,
                      fx[i].flags, c->s[i].flags);
    }
    ck_assert_msg(dec_cmp(t.master_after, D(c->master_after)) == 0,
                  "%s: master after %s != %s", c->name,
                  dec_format(t.master_after, 2, a, 32), c->master_after);
    /* the invariants, and no funding out of the queue's cash */
    r.band = BAND_NONE;
    check_invariants(c->name, &r, master, s, n, &t, fx, &sum);
    if (t.funded.micros > 0)
        ck_assert(t.master_after.micros >=
                  sum.buffer.micros + D(c->queued).micros);
}
END_TEST

/* With every rule off, rules_apply leaves alloc_compute's plan as it was
 * (the design's behaviour), over many random funds; with random rule sets
 * the invariants and limits hold. Deterministic seed. */
START_TEST(sweep)
{
    unsigned seed = 4242;
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % MAXS);
        alloc_strategy s[MAXS], s0[MAXS];
        rule_effect fx[MAXS];
        memset(s, 0, sizeof s);
        int64_t wleft = CAPALLOC_DEC_ONE;
        capalloc_dec master = {(int64_t)(rand_r(&seed) % 10000000) * 10000};
        for (size_t i = 0; i < n; i++) {
            s[i].id = "x";
            s[i].cash.micros = (int64_t)(rand_r(&seed) % 10000000) * 10000;
            s[i].positions_value.micros =
                (int64_t)(rand_r(&seed) % 100000000) * 100;
            int64_t w = wleft ? (int64_t)(rand_r(&seed) % (wleft + 1)) : 0;
            s[i].weight.micros = w;
            wleft -= w;
        }
        rebalance_rules r;
        memset(&r, 0, sizeof r);
        int on = round % 2;
        if (on) {
            unsigned k = (unsigned)rand_r(&seed);
            if (k & 1) {
                r.band = k & 2 ? BAND_RELATIVE : BAND_ABSOLUTE;
                r.scope = k & 4 ? BAND_FUND : BAND_STRATEGY;
                r.band_width.micros = 1000 + rand_r(&seed) % 100000;
            }
            if (k & 8)
                r.min_transfer = (rule_limit){1, (int)(k & 16),
                                              {(k & 16) ? 1000 + rand_r(&seed) % 20000
                                                        : (int64_t)(rand_r(&seed) % 100000) * 10000}};
            if (k & 32)
                r.max_transfer = (rule_limit){1, (int)(k & 64),
                                              {(k & 64) ? 1000 + rand_r(&seed) % 100000
                                                        : (int64_t)(rand_r(&seed) % 1000000) * 10000}};
            if (k & 128)
                r.max_turnover = (rule_limit){1, (int)(k & 256),
                                              {(k & 256) ? 1000 + rand_r(&seed) % 200000
                                                         : (int64_t)(rand_r(&seed) % 2000000) * 10000}};
            if (k & 512)
                r.cash_buffer.micros = rand_r(&seed) % 300000;
        }
        alloc_totals t, t0;
        rules_summary sum;
        cap_error e;
        ck_assert_int_eq(rules_weights(&r, s, n, fx, &e), 0);
        ck_assert_int_eq(alloc_compute((alloc_master){master, DEC_ZERO}, s, n, 2, &t, &e), 0);
        memcpy(s0, s, sizeof s);
        t0 = t;
        ck_assert_msg(rules_apply(&r, master, DEC_ZERO, s, n, 2, &t, fx,
                                  &sum, &e) == 0,
                      "round %d: %s", round, e.msg);
        check_invariants("sweep", &r, master, s, n, &t, fx, &sum);
        if (!rules_active(&r)) {
            ck_assert_int_eq(t.master_after.micros, t0.master_after.micros);
            ck_assert_int_eq(t.scaled, t0.scaled);
            ck_assert_int_eq(t.n_transfers, t0.n_transfers);
            for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(s[i].transfer.micros, s0[i].transfer.micros);
                ck_assert_int_eq(s[i].shortfall.micros,
                                 s0[i].shortfall.micros);
                ck_assert_int_eq(fx[i].flags, 0);
            }
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("rebalance");
    tcase_add_loop_test(tc, table, 0, (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_loop_test(tc, queued_table, 0,
                        (int)(sizeof QCASES / sizeof QCASES[0]));
    tcase_add_test(tc, sweep);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
