/*
 * file.c - "file", a price source that reads a CSV file of ticker,price, for
 * offline use and tests.
 *
 *   # prices of 2025-11-21 close
 *   ticker,price
 *   AAPL,268.47
 *   BRK-B,489.305
 *
 * An optional header line `ticker,price` (the first line that is not blank
 * or a comment); blank lines and lines starting with '#' are ignored;
 * whitespace around lines and fields is trimmed; CRLF line ends and a UTF-8
 * byte order mark are accepted. Refused, naming the file and line: a line
 * that is not two fields, a ticker that is empty or quoted (quoted CSV is
 * not supported), a price that is not an exact decimal (at most 6 places,
 * no exponent) or is not positive, a ticker given twice.
 *
 * The file is read lazily, on the first get_prices() asking for at least
 * one ticker (a fund with no positions needs no price file), and once per
 * instance: later calls answer from memory, also when the first read
 * failed (they report the same error), so one run never mixes two
 * versions of the file. Every quote's as_of is the file's mtime.
 * Lookups are a binary search in the sorted table.
 *
 *   YAML:  prices: {plugin: file, options: {path: prices.csv}}
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "capalloc_plugin.h"

#define FILE_VERSION "1.0.0"

static const capalloc_option_spec file_options[] = {
    {"path", CAPALLOC_OPT_PATH, 0, "prices.csv",
     "CSV file of ticker,price (read on first use)"},
    {NULL, 0, 0, NULL, NULL}};

typedef struct price_entry {
    const char *ticker; /* points into file_src.text */
    capalloc_dec price;
    size_t line;
} price_entry;

typedef struct file_src {
    const capalloc_host *host;
    char *path;
    int loaded;              /* 1 once the file was read (or failed) */
    capalloc_status load_st; /* the outcome of that read */
    capalloc_err load_err;   /* its message, when it failed */
    char *text;              /* the file's contents, split in place */
    price_entry *prices;     /* sorted by ticker */
    size_t n;
    int64_t as_of;           /* the file's mtime */
} file_src;

/* ------------------------------------------------------------------------ */
/* reading the file                                                          */
/* ------------------------------------------------------------------------ */

/* Read the whole file into a NUL-terminated buffer; *len is its size. */
static capalloc_status slurp(file_src *f, char **out, size_t *len,
                             int64_t *mtime, capalloc_err *err)
{
    const capalloc_host *h = f->host;
    FILE *fp = fopen(f->path, "rb");
    if (fp == NULL) {
        h->set_error(err, "path", "cannot open price file %s: %s", f->path,
                     strerror(errno));
        return CAPALLOC_ERR_IO;
    }
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) {
        h->set_error(err, "path", "cannot stat price file %s: %s", f->path,
                     strerror(errno));
        fclose(fp);
        return CAPALLOC_ERR_IO;
    }
    size_t cap = sb.st_size > 0 ? (size_t)sb.st_size + 2 : 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n - 1, fp);
        if (n < cap - 1)
            break; /* EOF or error */
        char *nb = realloc(buf, cap * 2);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf == NULL) {
        fclose(fp);
        h->set_error(err, NULL, "out of memory reading price file %s", f->path);
        return CAPALLOC_ERR_NOMEM;
    }
    if (ferror(fp)) {
        int e = errno;
        free(buf);
        fclose(fp);
        h->set_error(err, "path", "cannot read price file %s: %s", f->path,
                     strerror(e ? e : EIO));
        return CAPALLOC_ERR_IO;
    }
    fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    *mtime = (int64_t)sb.st_mtime;
    return CAPALLOC_OK;
}

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
static capalloc_status split_line(file_src *f, char *s, size_t line,
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
static capalloc_status parse_row(file_src *f, const char *ticker,
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

static capalloc_status parse(file_src *f, char *text, size_t len,
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

static capalloc_status load(file_src *f, capalloc_err *err)
{
    size_t len = 0;
    capalloc_status st = slurp(f, &f->text, &len, &f->as_of, err);
    if (st == CAPALLOC_OK)
        st = parse(f, f->text, len, err);
    if (st != CAPALLOC_OK) {
        free(f->prices);
        f->prices = NULL;
        f->n = 0;
        free(f->text);
        f->text = NULL;
        return st;
    }
    if (f->n == 0)
        f->host->log(f->host, CAPALLOC_LOG_WARNING,
                     "price file %s holds no prices", f->path);
    else
        f->host->log(f->host, CAPALLOC_LOG_DEBUG, "read %zu prices from %s",
                     f->n, f->path);
    return CAPALLOC_OK;
}

/* ------------------------------------------------------------------------ */
/* the callbacks                                                             */
/* ------------------------------------------------------------------------ */

static capalloc_status file_get_prices(void *state, const char *const *tickers,
                                       size_t n, capalloc_quote *quotes,
                                       capalloc_err *err)
{
    file_src *f = state;
    if (n == 0)
        return CAPALLOC_OK; /* nothing to price: the file is not needed */
    if (!f->loaded) {
        f->loaded = 1;
        f->load_st = load(f, &f->load_err);
    }
    if (f->load_st != CAPALLOC_OK) {
        *err = f->load_err;
        return f->load_st;
    }
    for (size_t i = 0; i < n; i++) {
        if (tickers[i] == NULL)
            continue;
        /* Binary search on the ticker alone (bsearch() would need a key
         * with a line number to match cmp_entry). */
        size_t lo = 0, hi = f->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(tickers[i], f->prices[mid].ticker);
            if (c == 0) {
                quotes[i].found = 1;
                quotes[i].price = f->prices[mid].price;
                quotes[i].as_of = f->as_of;
                quotes[i].flags = 0;
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    return CAPALLOC_OK;
}

static capalloc_status file_create(const capalloc_host *host,
                                   const capalloc_options *opts, void **state,
                                   capalloc_err *err)
{
    const char *path = NULL;
    *state = NULL;
    if (!host->opt_string(opts, "path", &path) || path == NULL ||
        *path == '\0') {
        host->set_error(err, "path", "no price file given (option 'path')");
        return CAPALLOC_ERR_INVALID;
    }
    file_src *f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        free(f);
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    f->host = host;
    *state = f;
    return CAPALLOC_OK;
}

static void file_destroy(void *state)
{
    file_src *f = state;
    if (f == NULL)
        return;
    free(f->prices);
    free(f->text);
    free(f->path);
    free(f);
}

static const capalloc_price_plugin file_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_PRICES, capalloc_price_plugin, "file",
                         FILE_VERSION, "prices from a CSV file of ticker,price",
                         file_options, file_create, file_destroy),
    file_get_prices,
};

CAPALLOC_PLUGIN_DEFINE(file_plugin)
