/*
 * equal_weight.c - "equal_weight": every strategy portfolio of the run gets
 * 1/n of the fund, rounded down to 6 places (the remainder, at most n
 * millionths, stays in the master).
 *
 *   policy:
 *     - plugin: equal_weight
 *
 * Options: none. History: none. Failure modes: none (no strategy: nothing
 * to weigh). As a later stage it ignores the incoming weights.
 */
#include <stdlib.h>

#include "capalloc_plugin.h"

typedef struct ew_state {
    const capalloc_host *host;
} ew_state;

static capalloc_status ew_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    (void)opts;
    ew_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    *state = s;
    return CAPALLOC_OK;
}

static void ew_destroy(void *state)
{
    free(state);
}

static capalloc_status ew_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    (void)state;
    (void)err;
    for (size_t i = 0; i < snap->n_portfolios; i++)
        weights[i].micros = CAPALLOC_DEC_ONE / (int64_t)snap->n_portfolios;
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin equal_weight_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "equal_weight", "1.0.0",
                         "1/n of the fund to each strategy",
                         NULL, ew_create, ew_destroy),
    ew_weights,
    NULL,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(equal_weight_plugin)
