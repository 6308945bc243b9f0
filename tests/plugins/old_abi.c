/*
 * old_abi.c - built for ABI 0 (abi_major 0): refused before any of its
 * code runs.
 * Everything but the one fault is a valid weighting policy.
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
    {/* magic */ CAPALLOC_PLUGIN_MAGIC,
     /* struct_size */ (uint32_t)sizeof(capalloc_policy_plugin),
     /* abi_major */ 0, /* abi_minor */ 0,
     /* kind */ CAPALLOC_KIND_POLICY,
     "old_abi", "1.0", NULL, NULL, t_create, t_destroy},
    t_weights,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(t_plugin)
