/*
 * file_csv.c - the parse step of the "file" price source (see file_csv.h
 * for the format), apart from the plugin so that it can be fuzzed and
 * tested on a buffer. Nothing here is exported: the plugin's one symbol is
 * capalloc_plugin_entry, and this file is built with -fvisibility=hidden.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file_csv.h"

/* What parse() reads into; the helpers below were written against the
 * plugin's state and use the same field names. */
typedef struct csv_ctx {
    const capalloc_host *host;
    const char *path;
    price_entry *prices;
    size_t n;
} csv_ctx;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int cmp_entry(const void *a, const void *b)
{
    const price_entry *x = a, *y = b;
    int c = strcmp(x->ticker, y->ticker);
    if (c != 0)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* Split a data line (trimmed, not blank, not a comment) into its two
 * trimmed fields. */
static capalloc_status split_line(csv_ctx *f, char *s, size_t line,
                                  char **ticker, char **text, capalloc_err *err)
{
    char *comma = strchr(s, ',');
    if (comma == NULL || strchr(comma + 1, ',') != NULL) {
        f->host->set_error(err, NULL,
                           "%s:%zu: expected 'ticker,price', found %s",
                           f->path, line,
                           comma == NULL
                               ? "one field"
                               : "more than two fields (no thousands "
                                 "separators in prices)");
        return CAPALLOC_ERR_INVALID;
    }
    *comma = '\0';
    *ticker = trim(s);
    *text = trim(comma + 1);
    return CAPALLOC_OK;
}

/* Check one row's fields into *e. */
static capalloc_status parse_row(csv_ctx *f, const char *ticker,
                                 const char *text, size_t line, price_entry *e,
                                 capalloc_err *err)
{
    const capalloc_host *h = f->host;
    if (*ticker == '\0') {
        h->set_error(err, NULL, "%s:%zu: empty ticker", f->path, line);
        return CAPALLOC_ERR_INVALID;
    }
    if (strchr(ticker, '"') != NULL || strchr(text, '"') != NULL) {
        h->set_error(err, NULL,
                     "%s:%zu: quoted fields are not supported: write "
                     "ticker,price without quotes",
                     f->path, line);
        return CAPALLOC_ERR_INVALID;
    }
    if (*text == '\0') {
        h->set_error(err, NULL, "%s:%zu: no price for %s", f->path, line,
                     ticker);
        return CAPALLOC_ERR_INVALID;
    }
    capalloc_dec price;
    capalloc_status st = h->dec_parse(text, &price);
    if (st != CAPALLOC_OK) {
        h->set_error(err, NULL,
                     "%s:%zu: price of %.64s ('%.40s%s') is not an exact "
                     "decimal%s",
                     f->path, line, ticker, text, strlen(text) > 40 ? "..." : "",
                     st == CAPALLOC_ERR_OVERFLOW
                         ? " in range"
                         : " (digits with at most 6 decimal places, no "
                           "exponent)");
        return CAPALLOC_ERR_INVALID;
    }
    if (price.micros <= 0) {
        h->set_error(err, NULL, "%s:%zu: price of %.64s ('%.40s%s') must be "
                     "positive",
                     f->path, line, ticker, text, strlen(text) > 40 ? "..." : "");
        return CAPALLOC_ERR_INVALID;
    }
    e->ticker = ticker;
    e->price = price;
    e->line = line;
    return CAPALLOC_OK;
}

static capalloc_status parse(csv_ctx *f, char *text, size_t len,
                             capalloc_err *err)
{
    const capalloc_host *h = f->host;
    if (memchr(text, '\0', len) != NULL) {
        size_t line = 1;
        for (const char *p = text; *p; p++)
            line += *p == '\n';
        h->set_error(err, NULL, "%s:%zu: a NUL byte: not a text file",
                     f->path, line);
        return CAPALLOC_ERR_INVALID;
    }
    /* Upper bound on data lines: one per '\n', plus the last. */
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == '\n';
    f->prices = calloc(cap, sizeof *f->prices);
    if (f->prices == NULL) {
        h->set_error(err, NULL, "out of memory reading price file %s",
                     f->path);
        return CAPALLOC_ERR_NOMEM;
    }
    char *p = text;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 byte order mark, as spreadsheets write it */
    int seen_data = 0;
    for (size_t line = 1; p != NULL; line++) {
        char *nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *s = trim(p);
        p = nl != NULL ? nl + 1 : NULL;
        if (*s == '\0' || *s == '#')
            continue;
        char *ticker, *price;
        capalloc_status st = split_line(f, s, line, &ticker, &price, err);
        if (st != CAPALLOC_OK)
            return st;
        /* The optional header, on the first data line, in any case. */
        if (!seen_data++ && strcasecmp(ticker, "ticker") == 0 &&
            strcasecmp(price, "price") == 0)
            continue;
        st = parse_row(f, ticker, price, line, &f->prices[f->n], err);
        if (st != CAPALLOC_OK)
            return st;
        f->n++;
    }

    if (f->n > 1)
        qsort(f->prices, f->n, sizeof *f->prices, cmp_entry);
    /* Report the duplicate that comes first in the file. */
    const price_entry *dup = NULL, *first = NULL;
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->prices[i - 1].ticker, f->prices[i].ticker) == 0 &&
            (dup == NULL || f->prices[i].line < dup->line)) {
            dup = &f->prices[i];
            first = &f->prices[i - 1];
        }
    if (dup != NULL) {
        h->set_error(err, NULL, "%s:%zu: ticker %s given twice (first on "
                     "line %zu)",
                     f->path, dup->line, dup->ticker, first->line);
        return CAPALLOC_ERR_INVALID;
    }
    return CAPALLOC_OK;
}

capalloc_status file_csv_parse(const capalloc_host *h, const char *path,
                               char *text, size_t len, price_entry **prices,
                               size_t *n, capalloc_err *err)
{
    csv_ctx c = {h, path, NULL, 0};
    capalloc_status st = parse(&c, text, len, err);
    if (st != CAPALLOC_OK) {
        free(c.prices);
        c.prices = NULL;
        c.n = 0;
    }
    *prices = c.prices;
    *n = c.n;
    return st;
}
