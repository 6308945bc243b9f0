/*
 * inverse_vol.c - "inverse_vol": weights proportional to 1 / volatility,
 * the volatility being the sample standard deviation (n - 1) of each
 * strategy's flow-adjusted daily returns over the latest `lookback` dates
 * on which every strategy has a return (bt's WeighInvVol).
 *
 *   policy:
 *     - plugin: inverse_vol
 *       options: {lookback: 60}
 *
 * Options: lookback (int, 2..10000, default 60): returns used; the policy
 * asks for lookback + 1 history points.
 * Not enough history (fewer common returns than lookback) or a strategy
 * with zero volatility: CAPALLOC_ERR_NO_DATA, the stage's fallback applies
 * (first stage: equal weights by default). Weights sum to 1 before
 * rounding each down to 6 places.
 */
#include "pstats.h"

typedef struct iv_state {
    const capalloc_host *host;
    size_t lookback;
} iv_state;

static const capalloc_option_spec iv_options[] = {
    {"lookback", CAPALLOC_OPT_INT, 0, "60",
     "number of daily returns the volatility is measured on (2..10000)"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status iv_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    size_t lb;
    capalloc_status st = ps_lookback(host, opts, &lb, err);
    if (st != CAPALLOC_OK)
        return st;
    iv_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->lookback = lb;
    *state = s;
    return CAPALLOC_OK;
}

static void iv_destroy(void *state)
{
    free(state);
}

static capalloc_status iv_history(void *state, uint32_t *points,
                                  capalloc_err *err)
{
    (void)err;
    *points = (uint32_t)((iv_state *)state)->lookback + 1;
    return CAPALLOC_OK;
}

static capalloc_status iv_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    iv_state *s = state;
    size_t n = snap->n_portfolios, T = s->lookback;
    char why[256];
    if (n == 0)
        return CAPALLOC_OK;
    double *R = malloc(T * n * sizeof *R), *inv = malloc(n * sizeof *inv);
    if (R == NULL || inv == NULL) {
        free(R);
        free(inv);
        s->host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    if (ps_returns(snap, T, R, why, sizeof why) != 0) {
        free(R);
        free(inv);
        s->host->set_error(err, NULL, "%s", why);
        return CAPALLOC_ERR_NO_DATA;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double sd = ps_std(R, T, n, i);
        if (!(sd > 0)) {
            free(R);
            free(inv);
            s->host->set_error(err, NULL,
                               "strategy '%s' has zero volatility over the "
                               "lookback",
                               snap->portfolios[i].id);
            return CAPALLOC_ERR_NO_DATA;
        }
        inv[i] = 1.0 / sd;
        sum += inv[i];
    }
    for (size_t i = 0; i < n; i++)
        weights[i] = ps_to_dec(inv[i] / sum);
    free(R);
    free(inv);
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin inverse_vol_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "inverse_vol", "1.0.0",
                         "weights proportional to 1/volatility",
                         iv_options, iv_create, iv_destroy),
    iv_weights,
    NULL,
    iv_history,
};

CAPALLOC_PLUGIN_DEFINE(inverse_vol_plugin)
