/*
 * no_entry.c - a shared object that is not a capalloc plugin: it has a
 * perfectly good descriptor, but no capalloc_plugin_entry symbol to reach
 * it (the function has another name and is not exported).
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

static capalloc_status t_weights(void *state, const capalloc_snapshot *snap,
                                 capalloc_dec *weights, capalloc_err *err)
{
    (void)state;
    (void)snap;
    (void)weights;
    (void)err;
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin t_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "no_entry", "1.0", NULL, NULL, t_create, t_destroy),
    t_weights,
    NULL,
};

/* The fault: a near miss of CAPALLOC_ENTRY_SYMBOL, and hidden anyway. */
__attribute__((visibility("hidden"))) const capalloc_plugin_header *
capalloc_plugin_entry_point(void);
__attribute__((visibility("hidden"))) const capalloc_plugin_header *
capalloc_plugin_entry_point(void)
{
    return &t_plugin.header;
}
