/*
 * short_struct.c - declares a struct_size that stops before the required
 * 'weights' callback.
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
     /* struct_size */ (uint32_t)sizeof(capalloc_plugin_header),
     /* abi_major */ CAPALLOC_ABI_MAJOR, /* abi_minor */ CAPALLOC_ABI_MINOR,
     /* kind */ CAPALLOC_KIND_POLICY,
     "short_struct", "1.0", NULL, NULL, t_create, t_destroy},
    t_weights,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(t_plugin)
