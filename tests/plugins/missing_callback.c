/*
 * missing_callback.c - a weighting policy whose required 'weights'
 * callback is NULL. Everything else is valid.
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

static const capalloc_policy_plugin t_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "missing_callback", "1.0", NULL, NULL, t_create,
                         t_destroy),
    NULL, /* the fault: weights is required */
    NULL,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(t_plugin)
