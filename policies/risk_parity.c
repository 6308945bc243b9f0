/*
 * risk_parity.c - "risk_parity": equal risk contribution (ERC), or risk
 * contributions proportional to given budgets, on the Ledoit-Wolf shrunk
 * covariance of the strategies' flow-adjusted daily returns (pstats.h).
 *
 *   policy:
 *     - plugin: risk_parity
 *       options:
 *         lookback: 60
 *         budgets: {A: 0.5, B: 0.25, C: 0.25}   # optional
 *
 * Weights w solve w_i (S w)_i / (w' S w) = b_i with sum w = 1 (S the
 * shrunk covariance, b the budgets normalized to sum 1). The solver is the
 * cyclical coordinate descent of Griveau-Billion, Richard and Roncalli
 * (2013) on  min 1/2 x'Sx - sum b_i ln x_i,  w = x / sum x. It stops when
 * every risk share is within `tolerance` (default 1e-10) of its budget;
 * after `max_iterations` sweeps (default 10000) without that, the run
 * FAILS (CAPALLOC_ERR_INTERNAL, exit 6) naming the residual: never a
 * silent half-solution.
 *
 * Options: lookback (int 2..10000, default 60; asks lookback + 1 points),
 * budgets (decimal map, optional: every strategy of the run must have a
 * budget > 0, else the run fails naming it), max_iterations (int, default
 * 10000), tolerance (decimal, default 0.000001 - compared as 1e-4 of it,
 * i.e. 1e-10 by default).
 * Not enough history (fewer common returns than lookback) or a covariance
 * with a zero variance: CAPALLOC_ERR_NO_DATA (the stage's fallback).
 */
#include "pstats.h"

typedef struct rp_state {
    const capalloc_host *host;
    size_t lookback;
    int64_t max_iter;
    double tol;
} rp_state;

static const capalloc_option_spec rp_options[] = {
    {"lookback", CAPALLOC_OPT_INT, 0, "60",
     "number of daily returns the covariance is estimated on (2..10000)"},
    {"budgets", CAPALLOC_OPT_DECIMAL_MAP, 0, NULL,
     "strategy -> risk budget (> 0; normalized to sum 1); default: equal"},
    {"max_iterations", CAPALLOC_OPT_INT, 0, "10000",
     "solver sweeps before the run fails as not converged (1..1000000)"},
    {"tolerance", CAPALLOC_OPT_DECIMAL, 0, "0.000001",
     "convergence bound; the solver stops when every risk share is within "
     "tolerance x 1e-4 of its budget"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status rp_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    size_t lb;
    capalloc_status st = ps_lookback(host, opts, &lb, err);
    if (st != CAPALLOC_OK)
        return st;
    int64_t it = 0;
    capalloc_dec tol = {0};
    host->opt_int(opts, "max_iterations", &it);
    host->opt_decimal(opts, "tolerance", &tol);
    if (it < 1 || it > 1000000) {
        host->set_error(err, "max_iterations",
                        "max_iterations is %lld: give 1 to 1000000",
                        (long long)it);
        return CAPALLOC_ERR_INVALID;
    }
    if (tol.micros <= 0) {
        host->set_error(err, "tolerance", "tolerance must be > 0");
        return CAPALLOC_ERR_INVALID;
    }
    size_t nb = host->opt_map_count(opts, "budgets");
    for (size_t i = 0; i < nb; i++) {
        const char *id;
        capalloc_dec b;
        char key[160];
        host->opt_map_entry(opts, "budgets", i, &id, &b);
        snprintf(key, sizeof key, "budgets.%s", id);
        if (b.micros <= 0) {
            host->set_error(err, key, "the budget of '%s' must be > 0", id);
            return CAPALLOC_ERR_INVALID;
        }
    }
    rp_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->lookback = lb;
    s->max_iter = it;
    s->tol = ps_to_double(tol) * 1e-4;
    *state = s;
    return CAPALLOC_OK;
}

static void rp_destroy(void *state)
{
    free(state);
}

static capalloc_status rp_history(void *state, uint32_t *points,
                                  capalloc_err *err)
{
    (void)err;
    *points = (uint32_t)((rp_state *)state)->lookback + 1;
    return CAPALLOC_OK;
}

/* The budgets of the run's strategies, normalized; -1 naming a missing
 * one in err. */
static int rp_budgets(rp_state *s, const capalloc_snapshot *snap, double *b,
                      capalloc_err *err)
{
    size_t n = snap->n_portfolios;
    size_t nb = s->host->opt_map_count(snap->options, "budgets");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        b[i] = nb ? 0 : 1.0 / (double)n;
        for (size_t k = 0; k < nb; k++) {
            const char *id;
            capalloc_dec d;
            s->host->opt_map_entry(snap->options, "budgets", k, &id, &d);
            if (strcmp(id, snap->portfolios[i].id) == 0)
                b[i] = ps_to_double(d);
        }
        if (!(b[i] > 0)) {
            s->host->set_error(err, "budgets",
                               "strategy '%s' has no risk budget: give every "
                               "strategy one, or none",
                               snap->portfolios[i].id);
            return -1;
        }
        sum += b[i];
    }
    for (size_t i = 0; i < n; i++)
        b[i] /= sum;
    return 0;
}

static capalloc_status rp_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    rp_state *s = state;
    size_t n = snap->n_portfolios, T = s->lookback;
    char why[256];
    if (n == 0)
        return CAPALLOC_OK;
    double *R = malloc(T * n * sizeof *R), *S = malloc(n * n * sizeof *S),
           *b = malloc(n * sizeof *b), *x = malloc(n * sizeof *x),
           *Sx = malloc(n * sizeof *Sx);
    capalloc_status st = CAPALLOC_OK;
    if (R == NULL || S == NULL || b == NULL || x == NULL || Sx == NULL) {
        s->host->set_error(err, NULL, "out of memory");
        st = CAPALLOC_ERR_NOMEM;
        goto out;
    }
    if (rp_budgets(s, snap, b, err) != 0) {
        st = CAPALLOC_ERR_INVALID;
        goto out;
    }
    if (ps_returns(snap, T, R, why, sizeof why) != 0) {
        s->host->set_error(err, NULL, "%s", why);
        st = CAPALLOC_ERR_NO_DATA;
        goto out;
    }
    if (ps_ledoit_wolf(R, T, n, S) < 0) {
        s->host->set_error(err, NULL, "out of memory");
        st = CAPALLOC_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!(S[i * n + i] > 0)) {
            s->host->set_error(err, NULL,
                               "strategy '%s' has zero variance over the "
                               "lookback",
                               snap->portfolios[i].id);
            st = CAPALLOC_ERR_NO_DATA;
            goto out;
        }
    /* start: inverse volatility */
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0 / sqrt(S[i * n + i]);
    double resid = INFINITY;
    int64_t it;
    for (it = 0; it < s->max_iter; it++) {
        for (size_t i = 0; i < n; i++) {
            double c = 0;
            for (size_t j = 0; j < n; j++)
                if (j != i)
                    c += S[i * n + j] * x[j];
            double a = S[i * n + i];
            x[i] = (-c + sqrt(c * c + 4 * a * b[i])) / (2 * a);
        }
        double var = 0;
        for (size_t i = 0; i < n; i++) {
            Sx[i] = 0;
            for (size_t j = 0; j < n; j++)
                Sx[i] += S[i * n + j] * x[j];
            var += x[i] * Sx[i];
        }
        resid = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs(x[i] * Sx[i] / var - b[i]);
            if (d > resid)
                resid = d;
        }
        if (resid <= s->tol)
            break;
    }
    if (!(resid <= s->tol)) {
        s->host->set_error(err, "max_iterations",
                           "the risk parity solver did not converge in %lld "
                           "iterations (largest risk-share error %.3g, bound "
                           "%.3g)",
                           (long long)s->max_iter, resid, s->tol);
        st = CAPALLOC_ERR_INTERNAL;
        goto out;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    for (size_t i = 0; i < n; i++)
        weights[i] = ps_to_dec(x[i] / sum);
out:
    free(R);
    free(S);
    free(b);
    free(x);
    free(Sx);
    return st;
}

static const capalloc_policy_plugin risk_parity_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "risk_parity", "1.0.0",
                         "equal (or budgeted) risk contributions on a "
                         "Ledoit-Wolf covariance",
                         rp_options, rp_create, rp_destroy),
    rp_weights,
    NULL,
    rp_history,
};

CAPALLOC_PLUGIN_DEFINE(risk_parity_plugin)
