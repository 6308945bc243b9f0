/*
 * wrong_kind.c - a valid price source (no options, knows no ticker), for
 * the tests that load it where a storage backend is wanted.
 */
#include <stdlib.h>

#include "capalloc_plugin.h"

static capalloc_status t_create(const capalloc_host *host,
                                const capalloc_options *opts, void **state,
                                capalloc_err *err)
{
    (void)host;
    (void)opts;
    (void)err;
    *state = calloc(1, 1);
    return *state ? CAPALLOC_OK : CAPALLOC_ERR_NOMEM;
}

static void t_destroy(void *state)
{
    free(state);
}

static capalloc_status t_get(void *state, const char *const *tickers, size_t n,
                             capalloc_quote *quotes, capalloc_err *err)
{
    (void)state;
    (void)tickers;
    (void)n;
    (void)quotes;
    (void)err;
    return CAPALLOC_OK;
}

static const capalloc_price_plugin t_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_PRICES, capalloc_price_plugin,
                         "wrong_kind", "1.0", "a price source", NULL, t_create,
                         t_destroy),
    t_get,
};

CAPALLOC_PLUGIN_DEFINE(t_plugin)
