/*
 * missing_symbol.c - a policy that calls a function of the core directly,
 * the mistake collectd #2067 describes: capalloc_core_log() exists nowhere
 * (the core exports nothing to plugins), so dlopen(RTLD_NOW) must refuse
 * the file with "undefined symbol". Built without -no-undefined / -z defs
 * on purpose.
 */
#include <stdlib.h>

#include "capalloc_plugin.h"

/* The fault: not part of the API, and defined nowhere. */
extern void capalloc_core_log(const char *msg);

static capalloc_status t_create(const capalloc_host *host,
                                const capalloc_options *opts, void **state,
                                capalloc_err *err)
{
    (void)host;
    (void)opts;
    (void)err;
    capalloc_core_log("creating");
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
                         "missing_symbol", "1.0", NULL, NULL, t_create,
                         t_destroy),
    t_weights,
    NULL,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(t_plugin)
