/*
 * loser_cut.c - an example OVERLAY for a policy stack that reads the
 * fund's history (ABI 1.1): it takes the weights of the stage before it
 * (snap->incoming) and multiplies the weight of every strategy whose
 * compounded return over its last `lookback` returns is below `threshold`
 * by `scale`, saying so in the stage's note.
 *
 *   policy:
 *     - plugin: inverse_vol
 *       options: {lookback: 60}
 *     - plugin: loser_cut
 *       options: {lookback: 20, threshold: -0.05, scale: 0.5}
 *
 * What it shows a plugin author:
 *   - an overlay refuses to be the first stage (snap->incoming is NULL);
 *   - history_wanted() asks for lookback + 1 points;
 *   - not enough history is a decision, not a crash: it returns
 *     CAPALLOC_ERR_NO_DATA with the reason, and the core applies the
 *     stage's `fallback` (by default the incoming weights) and records why;
 *   - snap->note (ABI 1.2): one line the core keeps in the run's record and
 *     `capalloc explain` shows;
 *   - statistics in double, weights as exact decimals through the host
 *     (dec_mul, rounded down): never above the incoming weights;
 *   - no state between runs, no files, no clock.
 *
 * Build against an installed capalloc: make (see Makefile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

typedef struct cut {
    const capalloc_host *host;
    int64_t lookback;
    double threshold;
    capalloc_dec scale;
} cut;

static const capalloc_option_spec cut_options[] = {
    {"lookback", CAPALLOC_OPT_INT, 0, "20",
     "how many recent returns count (1 to 1000)"},
    {"threshold", CAPALLOC_OPT_DECIMAL, 0, "-0.05",
     "a compounded return below this is a loser"},
    {"scale", CAPALLOC_OPT_DECIMAL, 0, "0.5",
     "what a loser's weight is multiplied by (0 to 1)"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status cut_create(const capalloc_host *host,
                                  const capalloc_options *opts, void **state,
                                  capalloc_err *err)
{
    capalloc_dec thr = {0};
    cut *c = calloc(1, sizeof *c);
    if (c == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    c->host = host;
    host->opt_int(opts, "lookback", &c->lookback);
    host->opt_decimal(opts, "threshold", &thr);
    host->opt_decimal(opts, "scale", &c->scale);
    c->threshold = (double)thr.micros / CAPALLOC_DEC_ONE;
    if (c->lookback < 1 || c->lookback > 1000) {
        host->set_error(err, "lookback", "lookback must be 1 to 1000");
        free(c);
        return CAPALLOC_ERR_INVALID; /* exit 3, at the key's file:line */
    }
    if (c->scale.micros < 0 || c->scale.micros > CAPALLOC_DEC_ONE) {
        host->set_error(err, "scale", "scale must be 0 to 1");
        free(c);
        return CAPALLOC_ERR_INVALID;
    }
    *state = c;
    return CAPALLOC_OK;
}

static void cut_destroy(void *state)
{
    free(state);
}

static capalloc_status cut_history_wanted(void *state, uint32_t *points,
                                          capalloc_err *err)
{
    (void)err;
    *points = (uint32_t)((cut *)state)->lookback + 1;
    return CAPALLOC_OK;
}

static capalloc_status cut_weights(void *state, const capalloc_snapshot *snap,
                                   capalloc_dec *weights, capalloc_err *err)
{
    cut *c = state;
    const capalloc_host *h = c->host;
    /* The stack and the history are ABI 1.1, the note 1.2. */
    if (!CAPALLOC_HOST_HAS_MINOR(h, 1) || snap->incoming == NULL) {
        h->set_error(err, NULL, "loser_cut is an overlay: put a stage that "
                                "gives weights before it");
        return CAPALLOC_ERR_INVALID;
    }
    size_t used = 0;
    for (size_t i = 0; i < snap->n_portfolios; i++) {
        const capalloc_history *hist = &snap->history[i];
        double growth = 1;
        int64_t seen = 0;
        for (size_t p = hist->n; p > 0 && seen < c->lookback; p--)
            if (hist->points[p - 1].has_return) {
                growth *= 1 + (double)hist->points[p - 1].ret.micros /
                                  CAPALLOC_DEC_ONE;
                seen++;
            }
        if (seen < c->lookback) {
            h->set_error(err, NULL, "strategy '%s' has %lld returns, %lld "
                                    "needed",
                         snap->portfolios[i].id, (long long)seen,
                         (long long)c->lookback);
            /* the stage's fallback applies (ABI 1.2; an older core knows
             * only failures) */
            return CAPALLOC_HOST_HAS_MINOR(h, 2) ? CAPALLOC_ERR_NO_DATA
                                                 : CAPALLOC_ERR_INVALID;
        }
        weights[i] = snap->incoming[i];
        if (growth - 1 < c->threshold) {
            capalloc_status st = h->dec_mul(snap->incoming[i], c->scale,
                                            CAPALLOC_ROUND_DOWN, &weights[i]);
            if (st != CAPALLOC_OK) {
                h->set_error(err, NULL, "weight out of range");
                return st;
            }
            if (CAPALLOC_HOST_HAS_MINOR(h, 2) && snap->note != NULL &&
                snap->note_size > used + 1) {
                int k = snprintf(snap->note + used, snap->note_size - used,
                                 "%s%s cut: %.2f%% over %lld returns",
                                 used ? "; " : "", snap->portfolios[i].id,
                                 (growth - 1) * 100, (long long)seen);
                if (k > 0)
                    used = (size_t)k < snap->note_size - used
                               ? used + (size_t)k
                               : snap->note_size - 1;
            }
        }
    }
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin loser_cut_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "loser_cut", "1.0.0",
                         "overlay: cuts the weight of recent losers",
                         cut_options, cut_create, cut_destroy),
    cut_weights,
    NULL, /* portfolios: an overlay names none */
    cut_history_wanted,
};

CAPALLOC_PLUGIN_DEFINE(loser_cut_plugin)
