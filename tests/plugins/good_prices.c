/*
 * good_prices.c - a valid price source for the loader tests.
 *
 * Options:
 *   tickers   string, required: the tickers it knows, comma-separated
 *   price     decimal, default "10.5": the price of every known ticker
 *   as_of     int, default 0
 *   stale     bool, default false: flag every quote CAPALLOC_QUOTE_STALE
 *   dir       path, default "data": unused, shows PATH defaults resolved
 */
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

typedef struct prices_state {
    const capalloc_host *host;
    char *tickers; /* ",A,B," for a simple search */
    capalloc_dec price;
    int64_t as_of;
    int stale;
} prices_state;

static const capalloc_option_spec pr_options[] = {
    {"tickers", CAPALLOC_OPT_STRING, 1, NULL, "known tickers, comma-separated"},
    {"price", CAPALLOC_OPT_DECIMAL, 0, "10.5", "the price of each"},
    {"as_of", CAPALLOC_OPT_INT, 0, "0", "Unix seconds"},
    {"stale", CAPALLOC_OPT_BOOL, 0, "false", "flag quotes stale"},
    {"dir", CAPALLOC_OPT_PATH, 0, "data", "unused"},
    {NULL, 0, 0, NULL, NULL}};

static void pr_destroy(void *state)
{
    prices_state *s = state;
    if (s != NULL)
        free(s->tickers);
    free(s);
}

static capalloc_status pr_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    const char *t = NULL;
    *state = NULL;
    prices_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    host->opt_string(opts, "tickers", &t);
    host->opt_decimal(opts, "price", &s->price);
    host->opt_int(opts, "as_of", &s->as_of);
    host->opt_bool(opts, "stale", &s->stale);
    size_t n = strlen(t);
    if ((s->tickers = malloc(n + 3)) == NULL) {
        pr_destroy(s);
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->tickers[0] = ',';
    memcpy(s->tickers + 1, t, n);
    s->tickers[n + 1] = ',';
    s->tickers[n + 2] = '\0';
    *state = s;
    return CAPALLOC_OK;
}

static capalloc_status pr_get(void *state, const char *const *tickers, size_t n,
                              capalloc_quote *quotes, capalloc_err *err)
{
    prices_state *s = state;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        size_t tl = strlen(tickers[i]);
        if (tl == 0)
            continue;
        for (const char *p = strstr(s->tickers + 1, tickers[i]); p;
             p = strstr(p + 1, tickers[i]))
            if (p[-1] == ',' && p[tl] == ',') {
                quotes[i].found = 1;
                quotes[i].price = s->price;
                quotes[i].as_of = s->as_of;
                quotes[i].flags = s->stale ? CAPALLOC_QUOTE_STALE : 0;
                break;
            }
    }
    return CAPALLOC_OK;
}

static const capalloc_price_plugin pr_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_PRICES, capalloc_price_plugin,
                         "good_prices", "1.0", "a valid test price source",
                         pr_options, pr_create, pr_destroy),
    pr_get,
};

CAPALLOC_PLUGIN_DEFINE(pr_plugin)
