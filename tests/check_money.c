/* check_money.c - exact decimals: parsing, formatting, arithmetic,
 * rounding and overflow (core/decimal.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

static capalloc_dec D(const char *s)
{
    capalloc_dec d;
    ck_assert_msg(dec_parse(s, &d) == CAPALLOC_OK, "parse %s", s);
    return d;
}

static const char *F(capalloc_dec d, int places)
{
    static char buf[4][CAPALLOC_DEC_MAX_TEXT];
    static int k;
    k = (k + 1) % 4;
    return dec_format(d, places, buf[k], sizeof buf[k]);
}

START_TEST(parse_valid)
{
    static const struct { const char *in; int64_t micros; } t[] = {
        {"0", 0}, {"1", 1000000}, {"0.30", 300000}, {"100000", 100000000000},
        {"-2.5", -2500000}, {"+7", 7000000}, {"489.305", 489305000},
        {"0.000001", 1}, {"1.0000000", 1000000}, /* zeros past 6 places */
        {"9223372036854.775807", INT64_MAX},
        {"-9223372036854.775807", -INT64_MAX},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        capalloc_dec d;
        ck_assert_int_eq(dec_parse(t[i].in, &d), CAPALLOC_OK);
        ck_assert_int_eq(d.micros, t[i].micros);
    }
}
END_TEST

START_TEST(parse_invalid)
{
    static const char *bad[] = {"", "-", ".", "1.", ".5", "1e5", "1,000",
                                "0x10", " 1", "1 ", "1.2.3", "abc", "--1",
                                "0.0000001", "NaN", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        capalloc_dec d = {42};
        ck_assert_msg(dec_parse(bad[i], &d) != CAPALLOC_OK, "accepted '%s'",
                      bad[i]);
        ck_assert_int_eq(d.micros, 42); /* untouched */
    }
    capalloc_dec d;
    ck_assert_int_eq(dec_parse("9223372036854.775808", &d), CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(dec_parse("99999999999999999999999", &d),
                     CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(dec_parse(NULL, &d), CAPALLOC_ERR_INVALID);
}
END_TEST

START_TEST(parse_places)
{
    capalloc_dec d;
    ck_assert_int_eq(dec_parse_places("1234.56", 2, &d), CAPALLOC_OK);
    ck_assert_int_eq(dec_parse_places("1234.560", 2, &d), CAPALLOC_OK);
    ck_assert_int_eq(dec_parse_places("1234.567", 2, &d), CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(dec_parse_places("5.5", 0, &d), CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(dec_parse_places("5", -1, &d), CAPALLOC_ERR_INVALID);
}
END_TEST

/* dec_parse_places tries a fast path first; on every text and every
 * max_places it must give the general parser's status, value, and leave
 * *out alone on a refusal, exactly as dec_parse_places_general does. */
static int same_as_general(const char *s, int max_places)
{
    capalloc_dec a = {42}, b = {42};
    capalloc_status sa = dec_parse_places(s, max_places, &a);
    capalloc_status sb = dec_parse_places_general(s, max_places, &b);
    ck_assert_msg(sa == sb && a.micros == b.micros,
                  "'%s' at %d places: %d/%lld, general %d/%lld", s, max_places,
                  (int)sa, (long long)a.micros, (int)sb, (long long)b.micros);
    return sa == CAPALLOC_OK;
}

/* The places the callers ask for (minor units 0..6) and one beyond, which
 * the general parser treats as 6. */
static int same_at_every_places(const char *s)
{
    int ok = 0;
    for (int mp = 0; mp <= CAPALLOC_DEC_PLACES + 1; mp++)
        ok += same_as_general(s, mp);
    return ok;
}

/* xorshift64: the same strings on every libc */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

START_TEST(parse_fast_path_boundaries)
{
    static const char *t[] = {
        "0", "-0", "+0", "1", "+1", "-1", "17.5", "123.45", "0.000001",
        "-0.000001", "00012.3400", "1.0", "1.00", "1.000", "1.0000",
        "1.00000", "1.000000", "1.0000000", "1.0000001", "1.1234567",
        "1.123456", "1.1234560", "1.12345600000000000000",
        /* 18 and 19 digits, with and without places */
        "999999999999999999", "1000000000000000000", "999999999999.999999",
        "9999999999999.99999", "99999999999999999.9", "0.00000000000000000",
        "000000000000000001", "0000000000000000001", "00000000000000000001",
        "0000000000000000000000000000000000000000000001.5",
        "000000000000.000001", "0000000000000.000001",
        /* the int64 edge, in micros */
        "9223372036854", "9223372036855", "-9223372036855",
        "9223372036854.775807", "-9223372036854.775807",
        "9223372036854.775808", "-9223372036854.775808",
        "9223372036854.7758070", "9223372036854.7758071",
        "922337203685.4775807", "92233720368547.75807",
        "99999999999999999999999", "99999999999999999999999x",
        /* not the grammar */
        "", "-", "+", ".", "-.", "+.", ".5", "-.5", "5.", "-5.", "1..2",
        "1.2.3", "1e3", "1E3", "1e-3", " 1", "1 ", " ", "--1", "+-1", "-+1",
        "1-", "1+", "0x10", "1,5", "1.5 ", "1.000000 ", "1.0000000.",
        "1.000000.", "1.-5", "abc", "NaN", "inf",
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        same_at_every_places(t[i]);
    char zeros[200];
    memset(zeros, '0', sizeof zeros - 1);
    zeros[sizeof zeros - 1] = '\0';
    ck_assert_int_eq(same_at_every_places(zeros), CAPALLOC_DEC_PLACES + 2);
    zeros[100] = '.';
    ck_assert_int_eq(same_at_every_places(zeros), CAPALLOC_DEC_PLACES + 2);
    zeros[100] = '1';
    same_at_every_places(zeros);
    /* the fast path's own values, in case both paths went wrong together */
    capalloc_dec d;
    ck_assert_int_eq(dec_parse("00012.3400", &d), CAPALLOC_OK);
    ck_assert_int_eq(d.micros, 12340000);
    ck_assert_int_eq(dec_parse("-999999999999.999999", &d), CAPALLOC_OK);
    ck_assert_int_eq(d.micros, -999999999999999999);
    ck_assert_int_eq(dec_parse("-0", &d), CAPALLOC_OK);
    ck_assert_int_eq(d.micros, 0);
}
END_TEST

START_TEST(parse_fast_path_random)
{
    uint64_t x = 0x9e3779b97f4a7c15u; /* fixed: a failure can be replayed */
    static const char any[] = "0123456789.-+e ";
    char s[40]; /* up to 1 + 21 + 1 + 9 characters and the NUL */
    int accepted = 0;
    /* any text over the grammar's alphabet and its neighbours */
    for (int i = 0; i < 200000; i++) {
        int len = (int)(next_rand(&x) % 26);
        for (int k = 0; k < len; k++)
            s[k] = any[next_rand(&x) % (sizeof any - 1)];
        s[len] = '\0';
        accepted += same_as_general(s, (int)(next_rand(&x) % 8));
    }
    /* texts shaped like numbers, most of them accepted: [+-]d*[.d*] with
     * up to 21 whole digits and 9 places, to cross every limit */
    for (int i = 0; i < 200000; i++) {
        int len = 0;
        uint64_t r = next_rand(&x);
        if (r % 4 == 0)
            s[len++] = (r / 4) % 2 ? '-' : '+';
        int whole = (int)(next_rand(&x) % 22);
        for (int k = 0; k < whole; k++)
            s[len++] = (char)('0' + next_rand(&x) % 10);
        if (next_rand(&x) % 3 != 0) {
            s[len++] = '.';
            int places = (int)(next_rand(&x) % 10);
            for (int k = 0; k < places; k++) /* zeros often: the 7th+ place */
                s[len++] = next_rand(&x) % 3 == 0 ? '0'
                                : (char)('0' + next_rand(&x) % 10);
        }
        s[len] = '\0';
        accepted += same_as_general(s, (int)(next_rand(&x) % 8));
    }
    ck_assert_msg(accepted > 50000, "only %d accepted: the fast path is "
                  "hardly exercised", accepted);
}
END_TEST

START_TEST(format)
{
    ck_assert_str_eq(F(D("30000"), 2), "30000.00");
    ck_assert_str_eq(F(D("0.3"), 0), "0.3");
    ck_assert_str_eq(F(D("1"), 0), "1");
    ck_assert_str_eq(F(D("-0.5"), 2), "-0.50");
    ck_assert_str_eq(F(D("0.000001"), 2), "0.000001"); /* never rounds */
    ck_assert_str_eq(F(D("-9223372036854.775807"), 0), "-9223372036854.775807");
    ck_assert_str_eq(F(D("12.5"), 9), "12.500000"); /* clamped to 6 */
    /* round trip */
    const char *vals[] = {"0.01", "123456789.123456", "-42.000001", "0"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(F(D(vals[i]), 0), vals[i]);
}
END_TEST

START_TEST(arithmetic_exact)
{
    capalloc_dec r;
    ck_assert_int_eq(dec_mul(D("100000"), D("0.30"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 2), "30000.00");
    ck_assert_int_eq(dec_mul(D("100000"), D("0.40"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 2), "40000.00");
    /* 0.1 + 0.2 == 0.3 exactly, unlike binary floating point */
    ck_assert_int_eq(dec_add(D("0.1"), D("0.2"), &r), 0);
    ck_assert_int_eq(dec_cmp(r, D("0.3")), 0);
    ck_assert_int_eq(dec_sub(D("1"), D("0.999999"), &r), 0);
    ck_assert_str_eq(F(r, 0), "0.000001");
    ck_assert_int_eq(dec_mul(D("3"), D("489.305"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 2), "1467.915");
}
END_TEST

/* dec_mul against the rounding done here in 128 bits, for products on
 * both sides of the 64-bit edge where dec_mul changes arithmetic: same
 * status, same value, both rules. */
static int64_t ref_mul(int64_t a, int64_t b, capalloc_round r, int *fits)
{
    __int128 p = (__int128)a * b, q = p / 1000000, rem = p % 1000000;
    if (r == CAPALLOC_ROUND_HALF_EVEN && rem != 0) {
        __int128 twice = (rem < 0 ? -rem : rem) * 2;
        if (twice > 1000000 || (twice == 1000000 && q % 2 != 0))
            q += p < 0 ? -1 : 1;
    }
    *fits = q >= INT64_MIN && q <= INT64_MAX;
    return (int64_t)q;
}

START_TEST(mul_matches_128_bit_rounding)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    int wide = 0;
    for (int i = 0; i < 400000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* magnitudes from 1 to 63 bits, so that some products fit in 64
         * bits, some only in 128, some not even after the division */
        int64_t a = (int64_t)(x >> (1 + x % 63));
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t b = (int64_t)(x >> (1 + x % 63));
        if (x & 64)
            a = -a;
        if (x & 128)
            b = -b;
        if ((x & 0x700) == 0) /* ties: an odd multiple of half a micro */
            b = 500000 * (int64_t)(2 * (x >> 40 & 1023) + 1);
        capalloc_round r = (x & 0x800) ? CAPALLOC_ROUND_HALF_EVEN
                                       : CAPALLOC_ROUND_DOWN;
        int fits;
        int64_t want = ref_mul(a, b, r, &fits);
        __int128 p = (__int128)a * b;
        wide += p > INT64_MAX || p < INT64_MIN;
        capalloc_dec got = {12345};
        capalloc_status st =
            dec_mul((capalloc_dec){a}, (capalloc_dec){b}, r, &got);
        ck_assert_msg(fits ? st == CAPALLOC_OK && got.micros == want
                           : st != CAPALLOC_OK,
                      "%lld x %lld (rule %d): status %d value %lld, want "
                      "%lld (fits %d)",
                      (long long)a, (long long)b, (int)r, (int)st,
                      (long long)got.micros, (long long)want, fits);
    }
    ck_assert_int_gt(wide, 10000); /* the 128-bit path was exercised too */
}
END_TEST

/* dec_quantize against rounding to 10^-places done here in 128 bits, over
 * the whole int64 range, the edges included (where the rounded value no
 * longer fits and the status must say so). */
START_TEST(quantize_matches_128_bit_rounding)
{
    static const int64_t unit[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    uint64_t x = 0x2545f4914f6cdd1du;
    for (int i = 0; i < 400000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t a = i < 4 ? (i % 2 ? INT64_MAX : INT64_MIN + 1 + i / 2)
                          : (int64_t)(x >> (x % 64));
        if ((x & 64) && a != INT64_MIN)
            a = -a;
        int places = (int)(x >> 8 & 7) % 7;
        capalloc_round r = (x & 0x800) ? CAPALLOC_ROUND_HALF_EVEN
                                       : CAPALLOC_ROUND_DOWN;
        __int128 u = unit[places], q = (__int128)a / u, rem = (__int128)a % u;
        if (r == CAPALLOC_ROUND_HALF_EVEN && rem != 0) {
            __int128 twice = (rem < 0 ? -rem : rem) * 2;
            if (twice > u || (twice == u && q % 2 != 0))
                q += a < 0 ? -1 : 1;
        }
        __int128 want = q * u;
        int fits = want >= INT64_MIN && want <= INT64_MAX;
        capalloc_dec got = {12345};
        capalloc_status st = dec_quantize((capalloc_dec){a}, places, r, &got);
        ck_assert_msg(fits ? st == CAPALLOC_OK && got.micros == (int64_t)want
                           : st != CAPALLOC_OK,
                      "%lld at %d places (rule %d): status %d value %lld",
                      (long long)a, places, (int)r, (int)st,
                      (long long)got.micros);
    }
}
END_TEST

START_TEST(rounding)
{
    capalloc_dec r;
    /* 0.0000005 -> half even */
    ck_assert_int_eq(dec_mul(D("0.000001"), D("0.5"), CAPALLOC_ROUND_HALF_EVEN, &r), 0);
    ck_assert_int_eq(r.micros, 0);
    ck_assert_int_eq(dec_mul(D("0.000003"), D("0.5"), CAPALLOC_ROUND_HALF_EVEN, &r), 0);
    ck_assert_int_eq(r.micros, 2); /* 1.5 micro -> 2 */
    ck_assert_int_eq(dec_mul(D("-0.000003"), D("0.5"), CAPALLOC_ROUND_HALF_EVEN, &r), 0);
    ck_assert_int_eq(r.micros, -2);
    ck_assert_int_eq(dec_mul(D("0.000003"), D("0.5"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_int_eq(r.micros, 1);
    ck_assert_int_eq(dec_div(D("1"), D("3"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 0), "0.333333");
    ck_assert_int_eq(dec_div(D("2"), D("3"), CAPALLOC_ROUND_HALF_EVEN, &r), 0);
    ck_assert_str_eq(F(r, 0), "0.666667");
    ck_assert_int_eq(dec_div(D("-2"), D("3"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 0), "-0.666666");
    ck_assert_int_eq(dec_div(D("1"), D("0"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(dec_quantize(D("1234.5678"), 2, CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 2), "1234.56");
    ck_assert_int_eq(dec_quantize(D("1234.565"), 2, CAPALLOC_ROUND_HALF_EVEN, &r), 0);
    ck_assert_str_eq(F(r, 2), "1234.56");
    ck_assert_int_eq(dec_quantize(D("1234.575"), 2, CAPALLOC_ROUND_HALF_EVEN, &r), 0);
    ck_assert_str_eq(F(r, 2), "1234.58");
    ck_assert_int_eq(dec_quantize(D("-1.239"), 2, CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 2), "-1.23");
    ck_assert_int_eq(dec_quantize(D("7.9"), 0, CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 0), "7");
}
END_TEST

START_TEST(overflow_detected)
{
    capalloc_dec max = {INT64_MAX}, r = {99};
    ck_assert_int_eq(dec_add(max, D("0.000001"), &r), CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(r.micros, 99);
    ck_assert_int_eq(dec_sub(D("-9223372036854.775807"), D("1"), &r),
                     CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(dec_mul(max, D("2"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(dec_mul(max, max, CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(dec_div(max, D("0.5"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(r.micros, 99);
    /* large but in range */
    ck_assert_int_eq(dec_mul(D("1000000000"), D("9000"), CAPALLOC_ROUND_DOWN, &r), 0);
    ck_assert_str_eq(F(r, 2), "9000000000000.00");
}
END_TEST

START_TEST(places_and_cmp)
{
    ck_assert_int_eq(dec_places(D("1")), 0);
    ck_assert_int_eq(dec_places(D("1.5")), 1);
    ck_assert_int_eq(dec_places(D("-1.000001")), 6);
    ck_assert_int_eq(dec_cmp(D("1"), D("2")), -1);
    ck_assert_int_eq(dec_cmp(D("2"), D("1")), 1);
    ck_assert_int_eq(dec_cmp(D("-1"), D("-1.0")), 0);
    ck_assert_int_eq(dec_from_int(5).micros, 5000000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("money");
    TCase *tc = tcase_create("decimal");
    tcase_add_test(tc, parse_valid);
    tcase_add_test(tc, parse_invalid);
    tcase_add_test(tc, parse_places);
    tcase_add_test(tc, parse_fast_path_boundaries);
    tcase_add_test(tc, parse_fast_path_random);
    tcase_add_test(tc, format);
    tcase_add_test(tc, arithmetic_exact);
    tcase_add_test(tc, rounding);
    tcase_add_test(tc, mul_matches_128_bit_rounding);
    tcase_add_test(tc, quantize_matches_128_bit_rounding);
    tcase_add_test(tc, overflow_detected);
    tcase_add_test(tc, places_and_cmp);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
