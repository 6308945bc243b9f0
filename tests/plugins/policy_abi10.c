/*
 * policy_abi10.c - a policy built against the ABI 1.0 header, kept in
 * tests/abi-1.0/ exactly as capalloc 1.0 shipped it: the proof that a
 * plugin built before the fund's memory (ABI 1.1) still loads and runs
 * unchanged. Equal weights of 0.3 for every strategy in the snapshot (a
 * reserve of 1 - 0.3 n stays in the master).
 */
#include <stdlib.h>

#include "capalloc_plugin.h"

#if CAPALLOC_ABI_MAJOR != 1 || CAPALLOC_ABI_MINOR != 0
#error "policy_abi10 must be built against the ABI 1.0 header (tests/abi-1.0)"
#endif

typedef struct st {
    const capalloc_host *host;
} st;

static capalloc_status t_create(const capalloc_host *host,
                                const capalloc_options *opts, void **state,
                                capalloc_err *err)
{
    (void)opts;
    st *s = malloc(sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    *state = s;
    return CAPALLOC_OK;
}

static void t_destroy(void *state)
{
    free(state);
}

static capalloc_status t_weights(void *state, const capalloc_snapshot *snap,
                                 capalloc_dec *weights, capalloc_err *err)
{
    const st *s = state;
    if (snap->n_portfolios * 3 > 10) {
        s->host->set_error(err, NULL, "at most 3 strategies");
        return CAPALLOC_ERR_INVALID;
    }
    for (size_t i = 0; i < snap->n_portfolios; i++)
        weights[i].micros = 300000; /* 0.3 */
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin abi10_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "policy_abi10", "1.0", "built against ABI 1.0",
                         NULL, t_create, t_destroy),
    t_weights,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(abi10_plugin)
