/*
 * fuzz_decimal.c - libFuzzer harness for core/decimal.c.
 *
 * The input is one or two texts separated by a newline. Each is given to
 * dec_parse and checked against an independent reading of the same text
 * on its digit string: dec_parse must accept exactly the texts of the
 * documented grammar ([+-]digits[.digits], at most 6 significant decimal
 * places, |value| <= INT64_MAX micros) and its value, formatted, must be
 * the canonical text (no '+', no leading or trailing zeros) that parses
 * back to the same value at every min_places. With two values, add, sub,
 * mul, div and quantize are checked against 128-bit integer arithmetic,
 * for both rounding rules. Any disagreement aborts (a crash to libFuzzer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

typedef __int128 i128;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_decimal: check failed: %s (line %d)\n",    \
                    #cond, __LINE__);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* The oracle: is s in the grammar, and what canonical text and value does
 * it have? Returns 1 (valid and in range, canon/micros filled) or 0. */
static int expect(const char *s, char *canon, size_t len, int64_t *micros)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    const char *ip = p;
    while (*p >= '0' && *p <= '9')
        p++;
    size_t nint = (size_t)(p - ip);
    const char *fp = p;
    size_t nfrac = 0;
    if (*p == '.') {
        fp = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        nfrac = (size_t)(p - fp);
        if (nfrac == 0)
            return 0;
    }
    if (*p != '\0' || nint == 0)
        return 0;
    while (nint > 1 && *ip == '0')
        ip++, nint--; /* leading zeros */
    while (nfrac > 0 && fp[nfrac - 1] == '0')
        nfrac--;      /* trailing zeros */
    if (nfrac > 6)
        return 0;
    if (nint > 14)
        return 0; /* > 10^14 units: beyond INT64_MAX micros */
    i128 v = 0;
    for (size_t i = 0; i < nint; i++)
        v = v * 10 + (ip[i] - '0');
    for (size_t i = 0; i < 6; i++)
        v = v * 10 + (i < nfrac ? fp[i] - '0' : 0);
    if (v > INT64_MAX)
        return 0;
    *micros = (int64_t)(neg ? -v : v);
    snprintf(canon, len, "%s%.*s%s%.*s", neg && v != 0 ? "-" : "", (int)nint,
             ip, nfrac ? "." : "", (int)nfrac, fp);
    return 1;
}

static int parse_checked(const char *s, capalloc_dec *d)
{
    char canon[64], text[CAPALLOC_DEC_MAX_TEXT];
    int64_t micros = 0;
    int ok = expect(s, canon, sizeof canon, &micros);
    capalloc_status st = dec_parse(s, d);
    CHECK((st == CAPALLOC_OK) == ok);
    if (!ok)
        return 0;
    CHECK(d->micros == micros);
    CHECK(strcmp(dec_format(*d, 0, text, sizeof text), canon) == 0);
    for (int places = 0; places <= 6; places++) {
        capalloc_dec back;
        dec_format(*d, places, text, sizeof text);
        CHECK(dec_parse(text, &back) == CAPALLOC_OK);
        CHECK(back.micros == d->micros);
        CHECK(dec_places(*d) <= 6);
    }
    return 1;
}

/* q = n / dv rounded by r, as decimal.c documents it. */
static i128 divround(i128 n, i128 dv, capalloc_round r)
{
    i128 q = n / dv, rem = n % dv;
    if (r == CAPALLOC_ROUND_HALF_EVEN && rem != 0) {
        i128 a2 = (rem < 0 ? -rem : rem) * 2, ad = dv < 0 ? -dv : dv;
        if (a2 > ad || (a2 == ad && (q & 1)))
            q += ((n < 0) != (dv < 0)) ? -1 : 1;
    }
    return q;
}

/* A result must be OK and equal to want when want is in range, and
 * OVERFLOW when it is not. */
static void check_result(capalloc_status st, capalloc_dec got, i128 want)
{
    if (want > INT64_MAX || want < -(i128)INT64_MAX) {
        CHECK(st == CAPALLOC_ERR_OVERFLOW);
        return;
    }
    CHECK(st == CAPALLOC_OK);
    CHECK(got.micros == (int64_t)want);
}

static void arithmetic(capalloc_dec a, capalloc_dec b)
{
    capalloc_dec out = {0};
    check_result(dec_add(a, b, &out), out, (i128)a.micros + b.micros);
    out.micros = 0;
    check_result(dec_sub(a, b, &out), out, (i128)a.micros - b.micros);
    int c = dec_cmp(a, b);
    CHECK(c == (a.micros > b.micros) - (a.micros < b.micros));
    for (int r = CAPALLOC_ROUND_DOWN; r <= CAPALLOC_ROUND_HALF_EVEN; r++) {
        out.micros = 0;
        check_result(dec_mul(a, b, (capalloc_round)r, &out), out,
                     divround((i128)a.micros * b.micros, 1000000,
                              (capalloc_round)r));
        out.micros = 0;
        if (b.micros == 0)
            CHECK(dec_div(a, b, (capalloc_round)r, &out) ==
                  CAPALLOC_ERR_INVALID);
        else
            check_result(dec_div(a, b, (capalloc_round)r, &out), out,
                         divround((i128)a.micros * 1000000, b.micros,
                                  (capalloc_round)r));
        for (int places = 0; places <= 6; places++) {
            i128 unit = 1;
            for (int k = places; k < 6; k++)
                unit *= 10;
            out.micros = 0;
            check_result(dec_quantize(a, places, (capalloc_round)r, &out), out,
                         divround(a.micros, unit, (capalloc_round)r) * unit);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0; /* the grammar is linear: longer inputs add nothing */
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *second = strchr(s, '\n');
    if (second != NULL)
        *second++ = '\0';
    capalloc_dec a, b;
    int ok_a = parse_checked(s, &a);
    if (second != NULL && parse_checked(second, &b) && ok_a)
        arithmetic(a, b);
    free(s);
    return 0;
}
