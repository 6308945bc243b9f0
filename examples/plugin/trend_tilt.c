/*
 * trend_tilt.c - an example weighting policy that reads the fund's memory
 * (ABI 1.1): each strategy's weight is proportional to what one unit
 * invested in it over the last `lookback` returns became, so strategies
 * that did better get more. A strategy with no return yet counts as 1 (it
 * neither gained nor lost). `reserve` stays in the master.
 *
 *   policy:
 *     plugin: trend_tilt
 *     options: {lookback: 20, reserve: 0.10}
 *   portfolios: ["1", "2", "3"]      # the strategies, in the config
 *
 * What it shows a plugin author:
 *   - history_wanted() asks for lookback + 1 points (lookback returns);
 *   - snap->history[i] belongs to snap->portfolios[i]; its returns are
 *     flow-adjusted: the allocator's own transfers are not performance;
 *   - the 1.1 fields are read only when CAPALLOC_HOST_HAS_MINOR(host, 1):
 *     on an older core the policy falls back to equal weights;
 *   - exact arithmetic through the host (dec_mul / dec_div), rounded down,
 *     so the weights never sum above 1 - reserve and two runs on the same
 *     ledger give the same bytes. (A policy may use double for statistics;
 *     its weights must still leave as exact decimals, rounded down.)
 *
 * Build against an installed capalloc: make (see Makefile).
 */
#include <stdlib.h>

#include "capalloc_plugin.h"

typedef struct tilt {
    const capalloc_host *host;
    int64_t lookback;
    capalloc_dec reserve;
} tilt;

static const capalloc_option_spec tilt_options[] = {
    {"lookback", CAPALLOC_OPT_INT, 0, "20",
     "how many recent returns count (1 to 1000)"},
    {"reserve", CAPALLOC_OPT_DECIMAL, 0, "0.10",
     "share of total equity kept in the master (0 to 1)"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status tilt_create(const capalloc_host *host,
                                   const capalloc_options *opts, void **state,
                                   capalloc_err *err)
{
    tilt *t = calloc(1, sizeof *t);
    if (t == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    t->host = host;
    host->opt_int(opts, "lookback", &t->lookback);
    host->opt_decimal(opts, "reserve", &t->reserve);
    if (t->lookback < 1 || t->lookback > 1000) {
        host->set_error(err, "lookback", "lookback must be 1 to 1000");
        free(t);
        return CAPALLOC_ERR_INVALID;
    }
    if (t->reserve.micros < 0 || t->reserve.micros > CAPALLOC_DEC_ONE) {
        host->set_error(err, "reserve", "reserve must be between 0 and 1");
        free(t);
        return CAPALLOC_ERR_INVALID;
    }
    *state = t;
    return CAPALLOC_OK;
}

static void tilt_destroy(void *state)
{
    free(state);
}

static capalloc_status tilt_history_wanted(void *state, uint32_t *points,
                                           capalloc_err *err)
{
    (void)err;
    *points = (uint32_t)((tilt *)state)->lookback + 1;
    return CAPALLOC_OK;
}

/* What 1 became over h's returns: the product of (1 + r), each step
 * rounded half-even to 6 places; 1 without returns. */
static capalloc_status growth(const tilt *t, const capalloc_history *h,
                              capalloc_dec *g)
{
    const capalloc_host *host = t->host;
    capalloc_dec one = {CAPALLOC_DEC_ONE};
    *g = one;
    for (size_t k = 0; h != NULL && k < h->n; k++) {
        const capalloc_history_point *p = &h->points[k];
        capalloc_dec f;
        if (!p->has_return)
            continue;
        if (host->dec_add(one, p->ret, &f) ||
            host->dec_mul(*g, f, CAPALLOC_ROUND_HALF_EVEN, g))
            return CAPALLOC_ERR_OVERFLOW;
    }
    if (g->micros < 0)
        g->micros = 0;
    return CAPALLOC_OK;
}

static capalloc_status tilt_weights(void *state, const capalloc_snapshot *snap,
                                    capalloc_dec *weights, capalloc_err *err)
{
    const tilt *t = state;
    const capalloc_host *h = t->host;
    size_t n = snap->n_portfolios;
    if (n == 0)
        return CAPALLOC_OK;
    int has_history = CAPALLOC_HOST_HAS_MINOR(h, 1) && snap->history != NULL;
    capalloc_dec invest, sum = {0};
    if (h->dec_sub((capalloc_dec){CAPALLOC_DEC_ONE}, t->reserve, &invest))
        return CAPALLOC_ERR_OVERFLOW;
    for (size_t i = 0; i < n; i++) {
        weights[i] = (capalloc_dec){CAPALLOC_DEC_ONE};
        if (has_history && growth(t, &snap->history[i], &weights[i])) {
            h->set_error(err, NULL, "portfolio '%s': its growth overflows",
                         snap->portfolios[i].id);
            return CAPALLOC_ERR_OVERFLOW;
        }
        if (h->dec_add(sum, weights[i], &sum))
            return CAPALLOC_ERR_OVERFLOW;
    }
    for (size_t i = 0; i < n; i++) {
        capalloc_dec w;
        if (sum.micros == 0) {
            /* every strategy lost everything: nothing to tilt by */
            w.micros = 0;
        } else if (h->dec_mul(invest, weights[i], CAPALLOC_ROUND_DOWN, &w) ||
                   h->dec_div(w, sum, CAPALLOC_ROUND_DOWN, &w)) {
            return CAPALLOC_ERR_OVERFLOW;
        }
        weights[i] = w;
    }
    if (has_history && snap->context == CAPALLOC_CALL_RUN)
        h->log(h, CAPALLOC_LOG_DEBUG, "tilted %zu strategies by their last "
                                      "%lld returns",
               n, (long long)t->lookback);
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin trend_tilt_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "trend_tilt", "1.0.0",
                         "weights tilted by each strategy's recent "
                         "flow-adjusted returns",
                         tilt_options, tilt_create, tilt_destroy),
    .weights = tilt_weights,
    .history_wanted = tilt_history_wanted,
};

CAPALLOC_PLUGIN_DEFINE(trend_tilt_plugin)
