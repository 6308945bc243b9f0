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
 * Lookups are a binary search in the sorted table. The parse step is in
 * file_csv.c (fuzzed on its own: tests/fuzz/fuzz_prices_csv.c).
 *
 *   YAML:  prices: {plugin: file, options: {path: prices.csv}}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capalloc_plugin.h"
#include "file_csv.h"

#define FILE_VERSION "1.0.0"

static const capalloc_option_spec file_options[] = {
    {"path", CAPALLOC_OPT_PATH, 0, "prices.csv",
     "CSV file of ticker,price (read on first use)"},
    {NULL, 0, 0, NULL, NULL}};

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

static capalloc_status load(file_src *f, capalloc_err *err)
{
    size_t len = 0;
    capalloc_status st = slurp(f, &f->text, &len, &f->as_of, err);
    if (st == CAPALLOC_OK)
        st = file_csv_parse(f->host, f->path, f->text, len, &f->prices, &f->n,
                            err);
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
