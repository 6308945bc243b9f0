/*
 * check_chain.c - core/chain.c: the canonical byte form of runs, rows and
 * the anchor, against values computed by an independent implementation of
 * the form chain.h documents (Python's hashlib and struct, the program in
 * the comment below), and every field of a run changing its hash. A hash
 * stored in a ledger must never change: these values pin them.
 *
 *   def s(x): return struct.pack('>I', 0xffffffff) if x is None else \
 *                    struct.pack('>I', len(x.encode())) + x.encode()
 *   def i64(v): return struct.pack('>q', v)
 *   def tag(t): return s(t) + struct.pack('>I', 1)
 *   genesis = sha256(tag("capalloc/genesis"))
 *   row = sha256(tag("capalloc/row") + link + i64(index) + s(portfolio)
 *                + s(ticker) + s(side) + i64(q) + i64(arrival) + i64(exec))
 *   run = sha256(tag("capalloc/run") + prev + s(action) + s(date)
 *                + i64(forced) + s(created_at) + s(reference)
 *                + s(kind or "RUN") + i64(reverses)
 *                + i64(n_rows) + last_row + i64(n_bal)
 *                + b''.join(s(p) + i64(cash) for p, cash in balances))
 *   anchor = sha256(tag("capalloc/anchor") + i64(after_run) + i64(after_log)
 *                + i64(runs_before) + s(created_at) + i64(n)
 *                + b''.join(s(p) + i64(cash) for p, cash in balances))
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

static const char *hex(const unsigned char h[SHA256_LEN])
{
    static char out[SHA256_HEX_LEN + 1];
    sha256_hex(h, out);
    return out;
}

static const capalloc_dec ONE = {1000000};

/* The example: an allocation moving 2.5 from "0" to "s1". */
static void example(unsigned char rows[2][SHA256_LEN],
                    unsigned char run[SHA256_LEN], const chain_run *r,
                    const chain_balance *b)
{
    unsigned char g[SHA256_LEN];
    chain_genesis(g);
    capalloc_dec q = {2500000};
    chain_row_hash(g, 0, "0", "USD_CASH", CAPALLOC_SELL, q, ONE, ONE, rows[0]);
    chain_row_hash(rows[0], 1, "s1", "USD_CASH", CAPALLOC_BUY, q, ONE, ONE,
                   rows[1]);
    chain_run_hash(g, r, 2, rows[1], b, 2, run);
}

static const chain_run RUN = {"ALLOCATE", "2025-03-03", 1,
                              "2026-12-07T01:02:03.456Z", NULL, NULL, 0};
static const chain_balance BAL[2] = {{"0", {97500000}}, {"s1", {2500000}}};

START_TEST(against_an_independent_implementation)
{
    unsigned char g[SHA256_LEN], rows[2][SHA256_LEN], run[SHA256_LEN];
    chain_genesis(g);
    ck_assert_str_eq(hex(g), "21df8eacc01f662dcae33e708ef3d74a"
                             "ae86edd8017af204aa95e6518a6ca811");
    example(rows, run, &RUN, BAL);
    ck_assert_str_eq(hex(rows[0]), "0f4dc1af0d7e2b081b5cb53d0d043191"
                                   "72e782bbd6c277469bfd6ae8bd5f686f");
    ck_assert_str_eq(hex(rows[1]), "857d4c918fa746cfb0265c0df577ce7f"
                                   "f42abd0cbd7a356ce6ac8c951300c1c0");
    ck_assert_str_eq(hex(run), "e7498607d3b30c11510ce5d4eeaebc24"
                               "ce832e7b39eb29948baca2785b1f4d13");
    chain_balance a[2] = {{"1", {30000000000}}, {"0", {69999990000}}};
    chain_sort_balances(a, 2);
    ck_assert_str_eq(a[0].portfolio_id, "0");
    chain_anchor_hash(5, 12, 4, "2026-12-07T01:02:03.456Z", a, 2, run);
    ck_assert_str_eq(hex(run), "60d49e86d8aa593595af721d2976857c"
                               "848ddf3fe9cdb397fcd69b26eb23ed62");
}
END_TEST

START_TEST(every_field_counts)
{
    unsigned char rows[2][SHA256_LEN], base[SHA256_LEN], h[SHA256_LEN];
    example(rows, base, &RUN, BAL);
    chain_run r = RUN;
    r.action = "IMPORT";
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    r = RUN;
    r.run_date = "2025-03-04";
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    r = RUN;
    r.forced = 0;
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    r = RUN;
    r.created_at = "2026-12-07T01:02:03.457Z";
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    /* a reference "" is not no reference */
    r = RUN;
    r.reference = "";
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    /* the kind and the run it reverses (ABI 1.3); NULL and "" are RUN */
    r = RUN;
    r.kind = CAPALLOC_RUN_DEPLOY;
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    r = RUN;
    r.kind = CAPALLOC_RUN_REVERSE;
    r.reverses = 4;
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    unsigned char h3[SHA256_LEN];
    r.reverses = 5;
    example(rows, h3, &r, BAL);
    ck_assert(memcmp(h, h3, SHA256_LEN) != 0);
    r = RUN;
    r.kind = CAPALLOC_RUN_RUN;
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) == 0);
    r.kind = "";
    example(rows, h, &r, BAL);
    ck_assert(memcmp(h, base, SHA256_LEN) == 0);
    /* a balance */
    chain_balance b[2] = {BAL[0], BAL[1]};
    b[1].cash.micros++;
    example(rows, h, &RUN, b);
    ck_assert(memcmp(h, base, SHA256_LEN) != 0);
    /* a run without a date: NULL and "" are the same */
    unsigned char h2[SHA256_LEN];
    r = RUN;
    r.run_date = NULL;
    example(rows, h, &r, BAL);
    r.run_date = "";
    example(rows, h2, &r, BAL);
    ck_assert(memcmp(h, h2, SHA256_LEN) == 0);
    /* a row's fields and place */
    unsigned char g[SHA256_LEN], x[SHA256_LEN], y[SHA256_LEN];
    chain_genesis(g);
    capalloc_dec q = {2500000}, q2 = {2500001};
    chain_row_hash(g, 0, "0", "USD_CASH", CAPALLOC_SELL, q, ONE, ONE, x);
    chain_row_hash(g, 1, "0", "USD_CASH", CAPALLOC_SELL, q, ONE, ONE, y);
    ck_assert(memcmp(x, y, SHA256_LEN) != 0);
    chain_row_hash(g, 0, "0", "USD_CASH", CAPALLOC_BUY, q, ONE, ONE, y);
    ck_assert(memcmp(x, y, SHA256_LEN) != 0);
    chain_row_hash(g, 0, "0", "USD_CASH", CAPALLOC_SELL, q2, ONE, ONE, y);
    ck_assert(memcmp(x, y, SHA256_LEN) != 0);
    chain_row_hash(g, 0, "0", "USD_CASH", CAPALLOC_SELL, q, q, ONE, y);
    ck_assert(memcmp(x, y, SHA256_LEN) != 0);
    chain_row_hash(g, 0, "0", "USD_CASH", CAPALLOC_SELL, q, ONE, q, y);
    ck_assert(memcmp(x, y, SHA256_LEN) != 0);
    /* length prefixes: ("0U", "SD_CASH") is not ("0", "USD_CASH") */
    chain_row_hash(g, 0, "0U", "SD_CASH", CAPALLOC_SELL, q, ONE, ONE, y);
    ck_assert(memcmp(x, y, SHA256_LEN) != 0);
}
END_TEST

START_TEST(hex_round_trip)
{
    unsigned char g[SHA256_LEN], back[SHA256_LEN];
    chain_genesis(g);
    char h[SHA256_HEX_LEN + 1];
    sha256_hex(g, h);
    ck_assert_int_eq(chain_from_hex(h, back), 0);
    ck_assert(memcmp(g, back, SHA256_LEN) == 0);
    ck_assert_int_eq(chain_from_hex("ZZ", back), -1);
    ck_assert_int_eq(chain_from_hex(NULL, back), -1);
    h[10] = 'g';
    ck_assert_int_eq(chain_from_hex(h, back), -1);
    char up[SHA256_HEX_LEN + 1];
    sha256_hex(g, up);
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    /* upper case is not what capalloc writes: refused */
    ck_assert_int_eq(chain_from_hex(up, back), -1);
}
END_TEST

/* The anchor covers its run, its highest log id, its number of runs, its
 * time and balances. */
START_TEST(anchor_fields_count)
{
    chain_balance a[1] = {{"0", {1000000}}};
    const char *t = "2026-12-07T01:02:03.456Z";
    unsigned char base[SHA256_LEN], h[SHA256_LEN];
    chain_anchor_hash(5, 12, 4, t, a, 1, base);
    chain_anchor_hash(6, 12, 4, t, a, 1, h);
    ck_assert(memcmp(base, h, SHA256_LEN) != 0);
    chain_anchor_hash(5, 13, 4, t, a, 1, h);
    ck_assert(memcmp(base, h, SHA256_LEN) != 0);
    chain_anchor_hash(5, 12, 3, t, a, 1, h);
    ck_assert(memcmp(base, h, SHA256_LEN) != 0);
    chain_anchor_hash(5, 12, 4, "2026-12-07T01:02:03.457Z", a, 1, h);
    ck_assert(memcmp(base, h, SHA256_LEN) != 0);
    a[0].cash.micros++;
    chain_anchor_hash(5, 12, 4, t, a, 1, h);
    ck_assert(memcmp(base, h, SHA256_LEN) != 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("canonical form");
    tcase_add_test(tc, against_an_independent_implementation);
    tcase_add_test(tc, every_field_counts);
    tcase_add_test(tc, hex_round_trip);
    tcase_add_test(tc, anchor_fields_count);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
