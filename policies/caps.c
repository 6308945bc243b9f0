/*
 * caps.c - "caps", an overlay: minimum and maximum weights, global or per
 * strategy.
 *
 *   policy:
 *     - plugin: inverse_vol
 *     - plugin: caps
 *       options:
 *         max: 0.40               # every strategy at most 40%
 *         min: 0.05               # every strategy at least 5%
 *         max_per: {C: 0.20}      # C at most 20% (overrides max)
 *         min_per: {A: 0.10}      # A at least 10% (overrides min)
 *
 * Algorithm (bt's LimitWeights, with minimums): weights above their cap are
 * set to it and the excess is spread pro rata (to their weights) over the
 * strategies still under their cap, repeatedly until none is above; when
 * no strategy can take more, the excess stays in the master. Then
 * strategies under their minimum are raised to it, the amount taken pro
 * rata from what the others hold above their own minimum. The incoming sum
 * is never exceeded. Each weight is rounded down to 6 places.
 *
 * Failure modes: refused at config load (exit 3, naming the key): a cap
 * outside 0..1, a minimum above its maximum, per-strategy minimums summing
 * above 1. At run time (exit 6): the minimums of the run's strategies
 * exceed the incoming sum (nothing to take them from); as a first stage
 * (no incoming weights).
 */
#include "pstats.h"

typedef struct caps_state {
    const capalloc_host *host;
    double min, max;
} caps_state;

static const capalloc_option_spec caps_options[] = {
    {"max", CAPALLOC_OPT_DECIMAL, 0, "1", "largest weight of any strategy"},
    {"min", CAPALLOC_OPT_DECIMAL, 0, "0", "smallest weight of any strategy"},
    {"max_per", CAPALLOC_OPT_DECIMAL_MAP, 0, NULL,
     "strategy -> its own largest weight (overrides max)"},
    {"min_per", CAPALLOC_OPT_DECIMAL_MAP, 0, NULL,
     "strategy -> its own smallest weight (overrides min)"},
    {NULL, 0, 0, NULL, NULL}};

/* The value of id in map name, or dflt. */
static double per(const capalloc_host *h, const capalloc_options *o,
                  const char *name, const char *id, double dflt)
{
    size_t n = h->opt_map_count(o, name);
    for (size_t k = 0; k < n; k++) {
        const char *key;
        capalloc_dec d;
        h->opt_map_entry(o, name, k, &key, &d);
        if (strcmp(key, id) == 0)
            return ps_to_double(d);
    }
    return dflt;
}

static capalloc_status caps_create(const capalloc_host *host,
                                   const capalloc_options *opts, void **state,
                                   capalloc_err *err)
{
    capalloc_dec mn = {0}, mx = {0}, one = {CAPALLOC_DEC_ONE}, sum = {0};
    char key[160], a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    host->opt_decimal(opts, "min", &mn);
    host->opt_decimal(opts, "max", &mx);
    if (mx.micros < 0 || host->dec_cmp(mx, one) > 0) {
        host->set_error(err, "max", "max must be within 0..1");
        return CAPALLOC_ERR_INVALID;
    }
    if (mn.micros < 0 || host->dec_cmp(mn, mx) > 0) {
        host->set_error(err, "min", "min %s must be within 0..max (%s)",
                        host->dec_format(mn, 0, a, sizeof a),
                        host->dec_format(mx, 0, b, sizeof b));
        return CAPALLOC_ERR_INVALID;
    }
    static const char *const maps[] = {"max_per", "min_per"};
    for (int m = 0; m < 2; m++) {
        size_t n = host->opt_map_count(opts, maps[m]);
        for (size_t k = 0; k < n; k++) {
            const char *id;
            capalloc_dec d;
            host->opt_map_entry(opts, maps[m], k, &id, &d);
            snprintf(key, sizeof key, "%s.%s", maps[m], id);
            if (d.micros < 0 || host->dec_cmp(d, one) > 0) {
                host->set_error(err, key, "must be within 0..1");
                return CAPALLOC_ERR_INVALID;
            }
            /* the other bound of this strategy */
            capalloc_dec lo = m == 1 ? d : mn, hi = m == 0 ? d : mx;
            size_t n2 = host->opt_map_count(opts, maps[1 - m]);
            for (size_t j = 0; j < n2; j++) {
                const char *id2;
                capalloc_dec d2;
                host->opt_map_entry(opts, maps[1 - m], j, &id2, &d2);
                if (strcmp(id, id2) == 0) {
                    if (m == 0)
                        lo = d2;
                    else
                        hi = d2;
                }
            }
            if (host->dec_cmp(lo, hi) > 0) {
                host->set_error(err, key,
                                "infeasible: strategy '%s' has minimum %s "
                                "above its maximum %s",
                                id, host->dec_format(lo, 0, a, sizeof a),
                                host->dec_format(hi, 0, b, sizeof b));
                return CAPALLOC_ERR_INVALID;
            }
            if (m == 1 && (host->dec_add(sum, d, &sum) != CAPALLOC_OK ||
                           host->dec_cmp(sum, one) > 0)) {
                host->set_error(err, "min_per",
                                "infeasible: the minimums sum to more than "
                                "1");
                return CAPALLOC_ERR_INVALID;
            }
        }
    }
    caps_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->min = ps_to_double(mn);
    s->max = ps_to_double(mx);
    *state = s;
    return CAPALLOC_OK;
}

static void caps_destroy(void *state)
{
    free(state);
}

static capalloc_status caps_weights(void *state, const capalloc_snapshot *snap,
                                    capalloc_dec *weights, capalloc_err *err)
{
    caps_state *s = state;
    size_t n = snap->n_portfolios;
    const capalloc_host *h = s->host;
    if (snap->incoming == NULL) {
        h->set_error(err, NULL, "caps is an overlay: put a stage that gives "
                                "weights before it");
        return CAPALLOC_ERR_INVALID;
    }
    if (n == 0)
        return CAPALLOC_OK;
    double *w = malloc(n * sizeof *w), *lo = malloc(n * sizeof *lo),
           *hi = malloc(n * sizeof *hi);
    if (w == NULL || lo == NULL || hi == NULL) {
        free(w);
        free(lo);
        free(hi);
        h->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    double total = 0, need = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = snap->portfolios[i].id;
        w[i] = ps_to_double(snap->incoming[i]);
        lo[i] = per(h, snap->options, "min_per", id, s->min);
        hi[i] = per(h, snap->options, "max_per", id, s->max);
        total += w[i];
        need += lo[i];
    }
    if (need > total + 1e-12) {
        h->set_error(err, "min",
                     "infeasible for this run: the minimums of its %zu "
                     "strategies sum to %.6f, more than the incoming "
                     "weights' %.6f",
                     n, need, total);
        free(w);
        free(lo);
        free(hi);
        return CAPALLOC_ERR_INVALID;
    }
    /* maximums: cap, spread the excess over those under their cap */
    for (size_t round = 0; round <= n; round++) {
        double excess = 0, base = 0;
        for (size_t i = 0; i < n; i++)
            if (w[i] > hi[i]) {
                excess += w[i] - hi[i];
                w[i] = hi[i];
            }
        if (excess <= 0)
            break;
        for (size_t i = 0; i < n; i++)
            if (w[i] < hi[i])
                base += w[i];
        if (base <= 0)
            break; /* nobody can take it: it stays in the master */
        for (size_t i = 0; i < n; i++)
            if (w[i] < hi[i])
                w[i] += excess * w[i] / base;
    }
    /* minimums: raise, taking pro rata from what others hold above theirs */
    double raise = 0, spare = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < lo[i]) {
            raise += lo[i] - w[i];
        } else {
            spare += w[i] - lo[i];
        }
    }
    if (raise > 0) {
        double f = spare > 0 ? raise / spare : 0;
        if (f > 1)
            f = 1;
        for (size_t i = 0; i < n; i++)
            w[i] = w[i] < lo[i] ? lo[i] : w[i] - f * (w[i] - lo[i]);
    }
    /* exact guards: no weight above its cap, the sum never above the
     * incoming sum (float noise taken from the largest weight) */
    int64_t in_sum = 0, out_sum = 0;
    size_t big = 0;
    for (size_t i = 0; i < n; i++) {
        weights[i] = ps_to_dec(w[i]);
        int64_t cap = ps_to_dec(hi[i]).micros;
        if (weights[i].micros > cap)
            weights[i].micros = cap;
        in_sum += snap->incoming[i].micros;
        out_sum += weights[i].micros;
        if (weights[i].micros > weights[big].micros)
            big = i;
    }
    if (out_sum > in_sum)
        weights[big].micros -= out_sum - in_sum;
    free(w);
    free(lo);
    free(hi);
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin caps_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "caps", "1.0.0",
                         "minimum and maximum weights, excess spread pro rata",
                         caps_options, caps_create, caps_destroy),
    caps_weights,
    NULL,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(caps_plugin)
