/*
 * decimal.c - checked fixed-point decimals (6 places in an int64).
 * Products and quotients are computed exactly in 128-bit integers and then
 * rounded once, by the caller's rule.
 */
#include "decimal.h"

#include <stdio.h>
#include <string.h>

typedef __int128 i128;

static const int64_t POW10[] = {
    1, 10, 100, 1000, 10000, 100000, 1000000,
};

capalloc_dec dec_from_int(int64_t units)
{
    capalloc_dec d = {units * CAPALLOC_DEC_ONE};
    return d;
}

capalloc_status dec_parse_places_general(const char *s, int max_places,
                                         capalloc_dec *out)
{
    /* a negative limit would index the powers of ten below their table */
    if (s == NULL || max_places < 0)
        return CAPALLOC_ERR_INVALID;
    int neg = 0;
    const char *p = s;
    if (*p == '+' || *p == '-') {
        neg = (*p == '-');
        p++;
    }
    i128 v = 0;
    int digits = 0, places = 0, seen_dot = 0;
    for (; *p; p++) {
        if (*p == '.') {
            if (seen_dot)
                return CAPALLOC_ERR_INVALID;
            seen_dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            return CAPALLOC_ERR_INVALID;
        if (seen_dot) {
            if (places == CAPALLOC_DEC_PLACES) {
                /* trailing zeros beyond 6 places are harmless */
                if (*p != '0')
                    return CAPALLOC_ERR_INVALID;
                continue;
            }
            places++;
        }
        digits++;
        v = v * 10 + (*p - '0');
        if (v > (i128)INT64_MAX * 10)
            return CAPALLOC_ERR_OVERFLOW;
    }
    if (digits == 0)
        return CAPALLOC_ERR_INVALID;
    if (seen_dot && p[-1] == '.')
        return CAPALLOC_ERR_INVALID; /* "1." */
    if (s[0] == '.' || ((s[0] == '+' || s[0] == '-') && s[1] == '.'))
        return CAPALLOC_ERR_INVALID; /* ".5" */
    /* significant places beyond max_places? */
    i128 scaled = v * POW10[CAPALLOC_DEC_PLACES - places];
    if (max_places < CAPALLOC_DEC_PLACES &&
        scaled % POW10[CAPALLOC_DEC_PLACES - max_places] != 0)
        return CAPALLOC_ERR_INVALID;
    if (neg)
        scaled = -scaled;
    if (scaled > INT64_MAX || scaled < -(i128)INT64_MAX)
        return CAPALLOC_ERR_OVERFLOW;
    out->micros = (int64_t)scaled;
    return CAPALLOC_OK;
}

/*
 * The shape nearly every caller sees (a quantity or price such as "17.5"):
 * [+-]digits[.digits] with at most 18 digits, at most max_places (and 6)
 * decimals and a value that fits, computed in one pass in 64 bits. Returns
 * 1 with *out set, or 0 for anything else, which the general parser then
 * decides: the fast path only ever accepts, so every refusal and status
 * stays the general parser's.
 */
static int parse_common(const char *s, int max_places, capalloc_dec *out)
{
    const char *p = s;
    int neg = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    /* unsigned: a run of more than 18 digits wraps harmlessly, as such a
     * text goes to the general parser */
    uint64_t v = 0;
    unsigned d;
    const char *ip = p;
    while ((d = (unsigned)(*p - '0')) < 10) {
        v = v * 10 + d;
        p++;
    }
    int whole = (int)(p - ip), places = 0;
    if (*p == '.') {
        const char *fp = ++p;
        while ((d = (unsigned)(*p - '0')) < 10) {
            v = v * 10 + d;
            p++;
        }
        places = (int)(p - fp);
        if (places == 0) /* "1." */
            return 0;
    }
    /* whole == 0: "", "-", ".5". At most 18 digits keep v exact. Places
     * over max_places or over 6 may still be trailing zeros, which the
     * general parser accepts: rare enough to leave to it. */
    if (*p != '\0' || whole == 0 || whole + places > 18 ||
        places > max_places || places > CAPALLOC_DEC_PLACES)
        return 0;
    uint64_t unit = (uint64_t)POW10[CAPALLOC_DEC_PLACES - places], micros;
    if (__builtin_mul_overflow(v, unit, &micros) || micros > INT64_MAX)
        return 0;
    out->micros = neg ? -(int64_t)micros : (int64_t)micros;
    return 1;
}

capalloc_status dec_parse_places(const char *s, int max_places,
                                 capalloc_dec *out)
{
    if (s != NULL && parse_common(s, max_places, out))
        return CAPALLOC_OK;
    return dec_parse_places_general(s, max_places, out);
}

capalloc_status dec_parse(const char *s, capalloc_dec *out)
{
    return dec_parse_places(s, CAPALLOC_DEC_PLACES, out);
}

int dec_places(capalloc_dec a)
{
    int64_t frac = a.micros % CAPALLOC_DEC_ONE;
    if (frac < 0)
        frac = -frac;
    int places = CAPALLOC_DEC_PLACES;
    while (places > 0 && frac % 10 == 0) {
        frac /= 10;
        places--;
    }
    return places;
}

char *dec_format(capalloc_dec d, int min_places, char *buf, size_t len)
{
    if (min_places < 0)
        min_places = 0;
    if (min_places > CAPALLOC_DEC_PLACES)
        min_places = CAPALLOC_DEC_PLACES;
    int places = dec_places(d);
    if (places < min_places)
        places = min_places;
    uint64_t mag = d.micros < 0 ? (uint64_t)0 - (uint64_t)d.micros
                                : (uint64_t)d.micros;
    uint64_t whole = mag / CAPALLOC_DEC_ONE;
    uint64_t frac = mag % CAPALLOC_DEC_ONE;
    frac /= (uint64_t)POW10[CAPALLOC_DEC_PLACES - places];
    /* written backwards into t, digit by digit: no snprintf() (it was
     * most of the cost of writing a run's record) */
    char t[CAPALLOC_DEC_MAX_TEXT + 8];
    char *p = t + sizeof t;
    *--p = '\0';
    for (int i = 0; i < places; i++) {
        *--p = (char)('0' + frac % 10);
        frac /= 10;
    }
    if (places > 0)
        *--p = '.';
    do {
        *--p = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole > 0);
    if (d.micros < 0)
        *--p = '-';
    if (len > 0) {
        size_t n = (size_t)(t + sizeof t - 1 - p);
        if (n > len - 1)
            n = len - 1; /* truncated as snprintf() would */
        memcpy(buf, p, n);
        buf[n] = '\0';
    }
    return buf;
}

static capalloc_status fit(i128 v, capalloc_dec *out)
{
    if (v > INT64_MAX || v < -(i128)INT64_MAX)
        return CAPALLOC_ERR_OVERFLOW;
    out->micros = (int64_t)v;
    return CAPALLOC_OK;
}

capalloc_status dec_add(capalloc_dec a, capalloc_dec b, capalloc_dec *out)
{
    return fit((i128)a.micros + b.micros, out);
}

capalloc_status dec_sub(capalloc_dec a, capalloc_dec b, capalloc_dec *out)
{
    return fit((i128)a.micros - b.micros, out);
}

/* n / d rounded by rule r; d > 0. */
static i128 div_round(i128 n, i128 d, capalloc_round r)
{
    i128 q = n / d, rem = n % d; /* truncates toward zero */
    if (r == CAPALLOC_ROUND_HALF_EVEN && rem != 0) {
        i128 arem = rem < 0 ? -rem : rem;
        i128 twice = arem * 2;
        if (twice > d || (twice == d && (q % 2 != 0)))
            q += (n < 0) ? -1 : 1;
    }
    return q;
}

/* div_round() in 64 bits, for a dividend that fits them. */
static int64_t div_round64(int64_t n, int64_t d, capalloc_round r)
{
    int64_t q = n / d, rem = n % d;
    if (r == CAPALLOC_ROUND_HALF_EVEN && rem != 0) {
        int64_t twice = (rem < 0 ? -rem : rem) * 2; /* < 2d: fits */
        if (twice > d || (twice == d && (q % 2 != 0)))
            q += (n < 0) ? -1 : 1;
    }
    return q;
}

capalloc_status dec_mul(capalloc_dec a, capalloc_dec b, capalloc_round r,
                        capalloc_dec *out)
{
    /* A position's quantity x its price nearly always fits in 64 bits
     * (below 9.2e18 micro-units squared): the same rounding without the
     * 128-bit division, which was most of a valuation's cost per position.
     * The quotient of such a product by 10^6 always fits. */
    int64_t p64;
    if (!__builtin_mul_overflow(a.micros, b.micros, &p64)) {
        out->micros = div_round64(p64, CAPALLOC_DEC_ONE, r);
        return CAPALLOC_OK;
    }
    i128 p = (i128)a.micros * b.micros; /* |p| < 2^126: cannot overflow */
    return fit(div_round(p, CAPALLOC_DEC_ONE, r), out);
}

capalloc_status dec_div(capalloc_dec a, capalloc_dec b, capalloc_round r,
                        capalloc_dec *out)
{
    if (b.micros == 0)
        return CAPALLOC_ERR_INVALID;
    i128 n = (i128)a.micros * CAPALLOC_DEC_ONE;
    i128 d = b.micros;
    if (d < 0) {
        n = -n;
        d = -d;
    }
    return fit(div_round(n, d, r), out);
}

capalloc_status dec_quantize(capalloc_dec a, int places, capalloc_round r,
                             capalloc_dec *out)
{
    if (places < 0 || places > CAPALLOC_DEC_PLACES)
        return CAPALLOC_ERR_INVALID;
    int64_t unit = POW10[CAPALLOC_DEC_PLACES - places];
    /* the quotient in 64 bits (no 128-bit division: every amount a table
     * or a report shows comes here); its product may pass the int64 edge
     * by half a unit, which fit() refuses */
    return fit((i128)div_round64(a.micros, unit, r) * unit, out);
}

int dec_cmp(capalloc_dec a, capalloc_dec b)
{
    return (a.micros > b.micros) - (a.micros < b.micros);
}
