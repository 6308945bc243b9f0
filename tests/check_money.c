/* check_money.c - exact decimals: parsing, formatting, arithmetic,
 * rounding and overflow (core/decimal.c). */
#include <check.h>
#include <stdlib.h>

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
    tcase_add_test(tc, format);
    tcase_add_test(tc, arithmetic_exact);
    tcase_add_test(tc, rounding);
    tcase_add_test(tc, overflow_detected);
    tcase_add_test(tc, places_and_cmp);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
