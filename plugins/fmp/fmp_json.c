/*
 * fmp_json.c - reading FMP's answers exactly.
 *
 * jansson checks the body (valid JSON, no NUL, UTF-8) and gives the shape:
 * an array of quote objects is data, an object with "Error Message" is an
 * error whatever the HTTP status. But jansson turns every number into a
 * double or a long long, and a price must not pass through binary floating
 * point. So the price is read a second time from the body's own text: a
 * small scanner (below) walks the already-validated text to the "price"
 * member of each top-level element and hands the number's characters to
 * fmp_number_to_dec, which converts digits to an exact decimal with integer
 * arithmetic on the digit string (exponents included: 1.5e-05 is 0.000015).
 *
 * More than 6 decimal places (capalloc's precision) are rounded half-even
 * to 6, on the digits, and the quote is logged at debug level: FMP's equity
 * prices have at most 4 to 6 places; a sub-micro difference on a crypto or
 * penny price is below anything a transfer moves (cents), while refusing it
 * would block the fund's whole run.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fmp_int.h"

/* ------------------------------------------------------------------------ */
/* numbers                                                                   */
/* ------------------------------------------------------------------------ */

capalloc_status fmp_number_to_dec(const capalloc_host *h, const char *text,
                                  size_t len, capalloc_dec *out, int *rounded)
{
    /* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *p = text, *end = text + len;
    int neg = 0;
    *rounded = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    /* digits without the point; point = digits before the point */
    char dig[64];
    size_t nd = 0;
    long point;
    const char *ip = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == ip)
        return CAPALLOC_ERR_INVALID;
    size_t nint = (size_t)(p - ip);
    const char *fp = NULL;
    size_t nfrac = 0;
    if (p < end && *p == '.') {
        fp = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        nfrac = (size_t)(p - fp);
        if (nfrac == 0)
            return CAPALLOC_ERR_INVALID;
    }
    long exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        const char *ep = p;
        while (p < end && *p >= '0' && *p <= '9') {
            if (exp < 100000)
                exp = exp * 10 + (*p - '0');
            p++;
        }
        if (p == ep)
            return CAPALLOC_ERR_INVALID;
        if (eneg)
            exp = -exp;
    }
    if (p != end)
        return CAPALLOC_ERR_INVALID;
    /* significant digits only: leading zeros, of the integer part and of
     * the fraction (0.00012 is 12 with the point 3 places left), are not
     * kept, so 0e5, 0.0e25 and 0.00000000000000000001e21 are in range.
     * A long mantissa: integer digits beyond the buffer overflow anyway;
     * fraction digits beyond it only decide a tie (the sticky flag). */
    int sticky = 0; /* a non-zero digit dropped from the end */
    point = 0;
    for (size_t i = 0; i < nint; i++) {
        if (nd == 0 && ip[i] == '0')
            continue;
        if (nd < sizeof dig - 1)
            dig[nd++] = ip[i];
        else
            return CAPALLOC_ERR_OVERFLOW;
        point++;
    }
    for (size_t i = 0; i < nfrac; i++) {
        if (nd == 0 && fp[i] == '0') {
            point--;
            continue;
        }
        if (nd < sizeof dig - 1)
            dig[nd++] = fp[i];
        else if (fp[i] != '0')
            sticky = 1;
    }
    if (nd == 0) {
        /* zero, whatever its exponent */
        return h->dec_parse("0.000000", out);
    }
    point += exp;
    /* integer digits: dig[0..point) (zero when point <= 0);
     * fraction: dig[point..nd), with -point zeros before it when point < 0 */
    if (point > 19)
        return CAPALLOC_ERR_OVERFLOW; /* beyond capalloc's range */
    char ipart[32], fpart[8];
    size_t ni = 0;
    for (long i = 0; i < point; i++)
        ipart[ni++] = i < (long)nd ? dig[i] : '0';
    if (ni == 0)
        ipart[ni++] = '0';
    ipart[ni] = '\0';
    /* fraction digit k (0-based) is dig[point + k] when in range, else 0 */
#define FRAC(k) ((point + (long)(k)) >= 0 && (point + (long)(k)) < (long)nd \
                     ? dig[point + (long)(k)]                              \
                     : '0')
    for (int k = 0; k < 6; k++)
        fpart[k] = FRAC(k);
    fpart[6] = '\0';
    /* rounding: digit 7 and the rest */
    char r = FRAC(6);
    int rest = sticky;
    /* digits past the 7th decimal: only those of dig[] (never a loop over
     * the zeros of 1e-999999) */
    for (long k = -point > 7 ? -point : 7; point + k < (long)nd; k++)
        if (point + k >= 0 && dig[point + k] != '0')
            rest = 1;
    if (r != '0' || rest)
        *rounded = 1;
    int up = r > '5' || (r == '5' && (rest || ((fpart[5] - '0') & 1)));
#undef FRAC
    if (up) {
        /* add one micro, carrying through the fraction then the integer */
        int k = 5;
        while (k >= 0 && fpart[k] == '9')
            fpart[k--] = '0';
        if (k >= 0) {
            fpart[k]++;
        } else {
            long j = (long)ni - 1;
            while (j >= 0 && ipart[j] == '9')
                ipart[j--] = '0';
            if (j >= 0) {
                ipart[j]++;
            } else {
                memmove(ipart + 1, ipart, ni + 1);
                ipart[0] = '1';
                ni++;
            }
        }
    }
    char buf[48];
    size_t w = 0;
    if (neg)
        buf[w++] = '-';
    memcpy(buf + w, ipart, ni);
    w += ni;
    buf[w++] = '.';
    memcpy(buf + w, fpart, 7); /* with its NUL */
    return h->dec_parse(buf, out);
}

/* ------------------------------------------------------------------------ */
/* the raw-text scanner (on text jansson already accepted)                   */
/* ------------------------------------------------------------------------ */

static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': returns just past the closing quote. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* p at a value: returns just past it. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return end;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '[' || *p == '{') {
        long depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '[' || *p == '{')
                depth++;
            else if (*p == ']' || *p == '}') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return end;
    }
    /* number, true, false, null */
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' &&
           *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* For each top-level element i < n of the array text, the raw text of its
 * "price" member (the last one, as jansson keeps the last duplicate):
 * start[i], len[i]; start[i] NULL when none was seen. */
static void raw_prices(const char *text, size_t tlen, size_t n,
                       const char **start, size_t *len)
{
    const char *p = text, *end = text + tlen;
    for (size_t i = 0; i < n; i++)
        start[i] = NULL;
    p = ws(p, end);
    if (p >= end || *p != '[')
        return;
    p++;
    for (size_t i = 0; p < end; i++) {
        p = ws(p, end);
        if (p >= end || *p == ']')
            return;
        if (*p == '{') {
            p = ws(p + 1, end);
            while (p < end && *p != '}') {
                const char *k = p + 1;
                const char *ke = skip_string(p, end);
                int is_price = ke - k == 6 && memcmp(k, "price\"", 6) == 0;
                p = ws(ke, end);
                if (p < end && *p == ':')
                    p = ws(p + 1, end);
                const char *v = p;
                p = skip_value(p, end);
                if (is_price && i < n) {
                    start[i] = v;
                    len[i] = (size_t)(p - v);
                }
                p = ws(p, end);
                if (p < end && *p == ',')
                    p = ws(p + 1, end);
            }
            if (p < end)
                p++; /* '}' */
        } else {
            p = skip_value(p, end);
        }
        p = ws(p, end);
        if (p < end && *p == ',')
            p++;
    }
}

static double absd(double x)
{
    return x < 0 ? -x : x;
}

/* ------------------------------------------------------------------------ */
/* bodies                                                                    */
/* ------------------------------------------------------------------------ */

/* b->msg = a copy of src; -1: out of memory. */
static int set_msg(fmp_body *b, const char *src)
{
    free(b->msg);
    b->msg = strdup(src);
    return b->msg ? 0 : -1;
}

capalloc_status fmp_parse_body(const capalloc_host *h, const char *text,
                               size_t len, fmp_body *b)
{
    memset(b, 0, sizeof *b);
    json_error_t jerr;
    /* no duplicate keys: "price" and "pric\u0065" would be the same
     * member to jansson but not to the scanner */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char m[JSON_ERROR_TEXT_LENGTH + 64];
        b->kind = FMP_BODY_NOT_JSON;
        snprintf(m, sizeof m, "line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return set_msg(b, m) ? CAPALLOC_ERR_NOMEM : CAPALLOC_OK;
    }
    if (json_is_object(root)) {
        json_t *em = json_object_get(root, "Error Message");
        int bad;
        if (json_is_string(em)) {
            b->kind = FMP_BODY_ERROR;
            bad = set_msg(b, json_string_value(em));
        } else {
            b->kind = FMP_BODY_OTHER;
            bad = set_msg(b, "a JSON object without \"Error Message\", not an "
                             "array of quotes");
        }
        json_decref(root);
        return bad ? CAPALLOC_ERR_NOMEM : CAPALLOC_OK;
    }
    if (!json_is_array(root)) {
        b->kind = FMP_BODY_OTHER;
        json_decref(root);
        return set_msg(b, "not an array of quotes") ? CAPALLOC_ERR_NOMEM
                                                    : CAPALLOC_OK;
    }
    size_t n = json_array_size(root), bytes = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *sym = json_object_get(json_array_get(root, i), "symbol");
        if (json_is_string(sym))
            bytes += json_string_length(sym) + 1;
    }
    b->kind = FMP_BODY_DATA;
    b->items = calloc(n ? n : 1, sizeof *b->items);
    b->strings = malloc(bytes ? bytes : 1);
    const char **rs = calloc(n ? n : 1, sizeof *rs);
    size_t *rl = calloc(n ? n : 1, sizeof *rl);
    if (b->items == NULL || b->strings == NULL || rs == NULL || rl == NULL) {
        free(rs);
        free(rl);
        json_decref(root);
        fmp_body_free(b);
        return CAPALLOC_ERR_NOMEM;
    }
    raw_prices(text, len, n, rs, rl);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(root, i);
        fmp_item *it = &b->items[b->n_items];
        if (!json_is_object(o))
            continue;
        json_t *sym = json_object_get(o, "symbol");
        json_t *price = json_object_get(o, "price");
        json_t *ts = json_object_get(o, "timestamp");
        if (!json_is_string(sym))
            continue;
        size_t sl = json_string_length(sym);
        const char *sv = json_string_value(sym);
        if (memchr(sv, '\0', sl) != NULL)
            continue;
        memcpy(b->strings + used, sv, sl + 1);
        it->symbol = b->strings + used;
        used += sl + 1;
        if (json_is_integer(ts) && json_integer_value(ts) > 0)
            it->timestamp = (int64_t)json_integer_value(ts);
        /* jansson says it is a number; its text must say so too (the
         * scanner and jansson read the same bytes) */
        if (json_is_number(price) && rs[i] == NULL) {
            /* jansson has a price the scanner did not see (a key written
             * with escapes): not silently missing, an error */
            it->unreadable = 1;
        } else if (json_is_number(price)) {
            if (fmp_number_to_dec(h, rs[i], rl[i], &it->price, &it->rounded) ==
                CAPALLOC_OK) {
                it->has_price = 1;
                /* cross-check only (the price is the exact decimal): the
                 * scanned text and jansson's reading must agree, within the
                 * half micro of the rounding and the double's precision */
                double j = json_number_value(price);
                double d = (double)it->price.micros / 1e6;
                double m = absd(j) > absd(d) ? absd(j) : absd(d);
                if (!(absd(j - d) <= 5e-7 + 1e-9 * m)) {
                    it->has_price = 0;
                    it->unreadable = 1;
                }
            } else {
                it->bad_price = 1;
                snprintf(it->price_text, sizeof it->price_text, "%.*s",
                         (int)(rl[i] < 40 ? rl[i] : 40), rs[i]);
            }
        }
        b->n_items++;
    }
    free(rs);
    free(rl);
    json_decref(root);
    return CAPALLOC_OK;
}

void fmp_body_free(fmp_body *b)
{
    free(b->msg);
    b->msg = NULL;
    free(b->items);
    free(b->strings);
    b->items = NULL;
    b->strings = NULL;
    b->n_items = 0;
}
