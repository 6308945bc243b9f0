/*
 * target_vol.c - "target_vol", an overlay: scales the incoming weights
 * down so that the fund's predicted volatility meets a target; never above
 * the incoming weights (the rest stays in the master).
 *
 *   policy:
 *     - plugin: risk_parity
 *     - plugin: target_vol
 *       options: {target: 0.10, lookback: 60, annualization: 252}
 *
 * Predicted volatility: sigma = sqrt(annualization * w' S w), w the
 * incoming weights, S the Ledoit-Wolf shrunk covariance of the daily
 * flow-adjusted returns over the latest `lookback` common dates
 * (pstats.h). scale = min(1, target / sigma) (1 when sigma is 0); each
 * weight becomes incoming x scale, rounded down to 6 places.
 *
 * Options: target (decimal, required, > 0: annualized volatility, 0.10 =
 * 10%), lookback (int 2..10000, default 60), annualization (int, default
 * 252 days a year).
 * Failure modes: as a first stage (no incoming weights) the run fails
 * (CAPALLOC_ERR_INVALID, exit 6). Not enough history:
 * CAPALLOC_ERR_NO_DATA (the stage's fallback: by default the incoming
 * weights, unscaled).
 */
#include "pstats.h"

typedef struct tv_state {
    const capalloc_host *host;
    size_t lookback;
    double target;
    double ann;
} tv_state;

static const capalloc_option_spec tv_options[] = {
    {"target", CAPALLOC_OPT_DECIMAL, 1, NULL,
     "target annualized volatility of the fund, e.g. 0.10"},
    {"lookback", CAPALLOC_OPT_INT, 0, "60",
     "number of daily returns the covariance is estimated on (2..10000)"},
    {"annualization", CAPALLOC_OPT_INT, 0, "252",
     "periods a year the daily variance is scaled by (1..366)"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status tv_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    size_t lb;
    capalloc_status st = ps_lookback(host, opts, &lb, err);
    if (st != CAPALLOC_OK)
        return st;
    capalloc_dec target = {0};
    int64_t ann = 0;
    host->opt_decimal(opts, "target", &target);
    host->opt_int(opts, "annualization", &ann);
    if (target.micros <= 0) {
        host->set_error(err, "target", "target must be > 0 (e.g. 0.10)");
        return CAPALLOC_ERR_INVALID;
    }
    if (ann < 1 || ann > 366) {
        host->set_error(err, "annualization",
                        "annualization is %lld: give 1 to 366",
                        (long long)ann);
        return CAPALLOC_ERR_INVALID;
    }
    tv_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->lookback = lb;
    s->target = ps_to_double(target);
    s->ann = (double)ann;
    *state = s;
    return CAPALLOC_OK;
}

static void tv_destroy(void *state)
{
    free(state);
}

static capalloc_status tv_history(void *state, uint32_t *points,
                                  capalloc_err *err)
{
    (void)err;
    *points = (uint32_t)((tv_state *)state)->lookback + 1;
    return CAPALLOC_OK;
}

static capalloc_status tv_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    tv_state *s = state;
    size_t n = snap->n_portfolios, T = s->lookback;
    char why[256];
    if (snap->incoming == NULL) {
        s->host->set_error(err, NULL,
                           "target_vol is an overlay: put a stage that "
                           "gives weights before it");
        return CAPALLOC_ERR_INVALID;
    }
    if (n == 0)
        return CAPALLOC_OK;
    double *R = malloc(T * n * sizeof *R), *S = malloc(n * n * sizeof *S);
    if (R == NULL || S == NULL) {
        free(R);
        free(S);
        s->host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    if (ps_returns(snap, T, R, why, sizeof why) != 0 ||
        ps_ledoit_wolf(R, T, n, S) < 0) {
        free(R);
        free(S);
        s->host->set_error(err, NULL, "%s", why);
        return CAPALLOC_ERR_NO_DATA;
    }
    double var = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            var += ps_to_double(snap->incoming[i]) * S[i * n + j] *
                   ps_to_double(snap->incoming[j]);
    double sigma = sqrt(s->ann * var);
    double scale = sigma > s->target ? s->target / sigma : 1.0;
    for (size_t i = 0; i < n; i++) {
        int64_t in = snap->incoming[i].micros;
        int64_t w = (int64_t)floor((double)in * scale);
        weights[i].micros = w < in ? (w > 0 ? w : 0) : in;
    }
    free(R);
    free(S);
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin target_vol_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "target_vol", "1.0.0",
                         "scales incoming weights down to a target "
                         "volatility",
                         tv_options, tv_create, tv_destroy),
    tv_weights,
    NULL,
    tv_history,
};

CAPALLOC_PLUGIN_DEFINE(target_vol_plugin)
