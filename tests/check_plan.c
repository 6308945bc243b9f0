/*
 * check_plan.c - a plan's ledger state (core/plan.c): the fingerprint
 * depends on every balance, position, the date's run, the history and the
 * open redemptions, and on nothing else (not the order the backend
 * returned the rows in); plan_state_diff names what changed; a state
 * rebuilt from its fields (as a plan file is read) has the same
 * fingerprint.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "plan.h"

static capalloc_dec D(const char *s)
{
    capalloc_dec d;
    ck_assert_int_eq(dec_parse(s, &d), CAPALLOC_OK);
    return d;
}

/* The rows of a small fund; cash sorted by id as read_ledger leaves them. */
static cash_row CASH[] = {{"0", {0}}, {"1", {0}}, {"2", {0}}};
static pos_row POS[] = {{"1", "AAA", {0}}, {"1", "BBB", {0}}, {"3", "CCC", {0}}};

static ledger fund(void)
{
    CASH[0].cash = D("1000.00");
    CASH[1].cash = D("10");
    CASH[2].cash = D("0");
    POS[0].qty = D("100");
    POS[1].qty = D("2.5");
    POS[2].qty = D("7");
    ledger l = {CASH, 3, 3, POS, 3, 3, NULL};
    return l;
}

static void state_of(const ledger *l, int64_t date_run, plan_state *st)
{
    red_pay reds[] = {{7, {5000000}, {0}}};
    capalloc_valuation v[] = {{41, "2026-01-02", "1", 0, {0}, {0}, {1}, {0},
                               {0}, {0}, {0}, NULL, 0, 0}};
    val_set vs = {v, 1, 1};
    ck_assert_int_eq(plan_state_make(l, date_run, reds, 1, &vs, 1, st), 0);
}

START_TEST(fingerprint_covers_the_state)
{
    ledger l = fund();
    plan_state a, b;
    state_of(&l, 0, &a);
    ck_assert_int_eq(strlen(a.fingerprint), SHA256_HEX_LEN);
    /* books: 0 and 2 (cash only), 1 (cash and positions), 3 (positions) */
    ck_assert_uint_eq(a.n, 4);
    ck_assert_str_eq(a.books[3].id, "3");
    ck_assert(!a.books[3].has_cash && a.books[3].pos[0] != '\0');
    ck_assert(a.books[0].has_cash && a.books[0].pos[0] == '\0');
    ck_assert_int_eq(a.last_run, 41);

    /* the same rows in another order: the same fingerprint */
    pos_row swapped[] = {POS[2], POS[1], POS[0]};
    ledger l2 = l;
    l2.pos = swapped;
    state_of(&l2, 0, &b);
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    plan_state_free(&b);

    /* a balance, a quantity, the date's run: each changes it */
    CASH[1].cash = D("10.01");
    state_of(&l, 0, &b);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    char msg[512];
    plan_state_diff(&a, &b, 2, msg, sizeof msg);
    ck_assert_str_eq(msg, "balance of '1' 10.00 -> 10.01");
    plan_state_free(&b);
    CASH[1].cash = D("10");

    POS[2].qty = D("7.000001");
    state_of(&l, 0, &b);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    plan_state_diff(&a, &b, 2, msg, sizeof msg);
    ck_assert_str_eq(msg, "positions of '3'");
    plan_state_free(&b);
    POS[2].qty = D("7");

    state_of(&l, 99, &b);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    plan_state_diff(&a, &b, 2, msg, sizeof msg);
    ck_assert_ptr_nonnull(strstr(msg, "a new run id 99"));
    plan_state_free(&b);

    /* a new book */
    ledger l3 = l;
    l3.n_cash = 2;
    state_of(&l3, 0, &b);
    plan_state_diff(&b, &a, 2, msg, sizeof msg);
    ck_assert_str_eq(msg, "balance of '2' (no book) -> 0.00");
    plan_state_free(&b);

    /* unchanged: the same again */
    state_of(&l, 0, &b);
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    plan_state_free(&b);
    plan_state_free(&a);
}
END_TEST

START_TEST(rebuilt_state_same_fingerprint)
{
    ledger l = fund();
    plan_state a, b;
    state_of(&l, 3, &a);
    /* rebuilt field by field, as plan_file.c reads it */
    memset(&b, 0, sizeof b);
    b.books = calloc(a.n, sizeof *b.books);
    ck_assert_ptr_nonnull(b.books);
    for (size_t i = 0; i < a.n; i++) {
        b.books[i] = a.books[i];
        b.books[i].id = strdup(a.books[i].id);
    }
    b.n = b.cap = a.n;
    b.date_run = a.date_run;
    b.last_run = a.last_run;
    memcpy(b.reds, a.reds, sizeof b.reds);
    memcpy(b.history, a.history, sizeof b.history);
    plan_state_finish(&b);
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    /* the history's depth (apply re-reads the history that deep) is in
     * the fingerprint when not 0 */
    b.history_points = 60;
    plan_state_finish(&b);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    b.history_points = 0;
    plan_state_finish(&b);
    ck_assert_str_eq(a.fingerprint, b.fingerprint);
    /* and any field edited: another fingerprint */
    b.last_run++;
    plan_state_finish(&b);
    ck_assert_str_ne(a.fingerprint, b.fingerprint);
    plan_state_free(&b);
    plan_state_free(&a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, fingerprint_covers_the_state);
    tcase_add_test(tc, rebuilt_state_same_fingerprint);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
