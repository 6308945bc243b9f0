/*
 * drawdown_ladder.c - "drawdown_ladder", an overlay: each strategy's
 * incoming weight is scaled by a factor chosen from ordered steps by the
 * drawdown of its flow-adjusted NAV index from its high-water mark.
 *
 *   policy:
 *     - plugin: risk_parity
 *     - plugin: drawdown_ladder
 *       options:
 *         steps:                            # drawdown >= 10%: half;
 *           - {drawdown: 0.10, scale: 0.5}  # >= 20%: nothing
 *           - {drawdown: 0.20, scale: 0}
 *         reentry:                          # optional
 *           drawdown: 0.05                  # back within 5% of the mark
 *           runs: 5                         # and/or 5 runs after the cut
 *           require: all                    # all (default) or any
 *         lookback: 252
 *
 * State is derived from the recorded history only (no state between
 * runs): over the strategy's latest `lookback` history points, oldest
 * first, the NAV index starts at 1 and is multiplied by (1 + r) at every
 * point with a return; the high-water mark is its running maximum and the
 * drawdown 1 - index / mark. The step is the deepest whose threshold is <=
 * the drawdown.
 *   - Without re-entry rules the scale follows the drawdown point by point.
 *   - With them, a cut (entering a deeper step) holds until the re-entry
 *     rule is met: the drawdown is back at or below reentry.drawdown,
 *     and/or reentry.runs points have passed since the cut (reentry.require:
 *     all = every rule given, any = one of them). On re-entry the scale is
 *     1 again and the high-water mark restarts at the current index (a
 *     fresh start: a strategy re-entered after N runs is not cut again at
 *     once by the old mark).
 * The level after the latest point applies to the run. Each weight is
 * incoming x scale, rounded down (exact decimals).
 *
 * Options (structured, checked by the core with file:line:key): steps
 * (list of records, required: drawdown in (0, 1] and scale in [0, 1],
 * drawdowns increasing and scales not increasing), reentry (record,
 * optional: drawdown in [0, first step), runs >= 1, require all|any,
 * default all), lookback (int 2..100000, default 252: the history points
 * asked for).
 * Failure modes: bad steps or re-entry options are refused at config load
 * (exit 3). As a first stage (no incoming weights) the run fails (exit 6).
 * A strategy without history is not cut (scale 1): nothing to measure.
 */
#include "pstats.h"

#define MAX_STEPS 16

typedef struct dl_state {
    const capalloc_host *host;
    size_t n_steps;
    double thr[MAX_STEPS];
    capalloc_dec scale[MAX_STEPS];
    int has_rdd, has_rruns, all;
    double rdd;
    int64_t rruns;
    int64_t lookback;
} dl_state;

static const capalloc_option_spec dl_options[] = {
    {"steps", CAPALLOC_OPT_RECORD_LIST, 1, NULL,
     "the ladder: - {drawdown: D, scale: S}, drawdowns increasing"},
    {"steps.drawdown", CAPALLOC_OPT_DECIMAL, 1, NULL,
     "from this drawdown on (0..1]"},
    {"steps.scale", CAPALLOC_OPT_DECIMAL, 1, NULL,
     "the weight is multiplied by this (0..1, not increasing)"},
    {"reentry", CAPALLOC_OPT_RECORD, 0, NULL,
     "when a cut ends: {drawdown: D, runs: N, require: all|any}"},
    {"reentry.drawdown", CAPALLOC_OPT_DECIMAL, 0, NULL,
     "re-enter when the drawdown is back at or below this"},
    {"reentry.runs", CAPALLOC_OPT_INT, 0, NULL,
     "re-enter this many history points after the cut"},
    {"reentry.require", CAPALLOC_OPT_STRING, 0, "all",
     "all: every re-entry rule given must hold; any: one of them"},
    {"lookback", CAPALLOC_OPT_INT, 0, "252",
     "history points the state is derived from (2..100000)"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status dl_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    char key[160];
    dl_state st;
    memset(&st, 0, sizeof st);
    st.host = host;
    if (!CAPALLOC_HAS_FIELD(host->struct_size, capalloc_host,
                            opt_list_count)) {
        host->set_error(err, NULL, "needs a capalloc of ABI 1.2 or later");
        return CAPALLOC_ERR_INVALID;
    }
    size_t n = host->opt_list_count(opts, "steps");
    if (n == 0 || n > MAX_STEPS) {
        host->set_error(err, "steps", "give 1 to %d steps", MAX_STEPS);
        return CAPALLOC_ERR_INVALID;
    }
    for (size_t k = 0; k < n; k++) {
        capalloc_dec sc = {0}, td = {0};
        snprintf(key, sizeof key, "steps[%zu].drawdown", k);
        host->opt_decimal(opts, key, &td);
        if (td.micros <= 0 || td.micros > CAPALLOC_DEC_ONE) {
            host->set_error(err, key, "a drawdown in (0, 1], e.g. 0.10");
            return CAPALLOC_ERR_INVALID;
        }
        if (k > 0 && ps_to_double(td) <= st.thr[k - 1]) {
            host->set_error(err, key, "steps must be ordered: drawdowns "
                                      "increasing");
            return CAPALLOC_ERR_INVALID;
        }
        snprintf(key, sizeof key, "steps[%zu].scale", k);
        host->opt_decimal(opts, key, &sc);
        if (sc.micros < 0 || sc.micros > CAPALLOC_DEC_ONE) {
            host->set_error(err, key, "the scale must be within 0..1");
            return CAPALLOC_ERR_INVALID;
        }
        if (k > 0 && sc.micros > st.scale[k - 1].micros) {
            host->set_error(err, key, "steps must be ordered: scales not "
                                      "increasing");
            return CAPALLOC_ERR_INVALID;
        }
        st.thr[k] = ps_to_double(td);
        st.scale[k] = sc;
    }
    st.n_steps = n;
    capalloc_dec rdd;
    if (host->opt_decimal(opts, "reentry.drawdown", &rdd)) {
        if (rdd.micros < 0 || ps_to_double(rdd) >= st.thr[0]) {
            host->set_error(err, "reentry.drawdown",
                            "must be >= 0 and below the first step's "
                            "drawdown");
            return CAPALLOC_ERR_INVALID;
        }
        st.has_rdd = 1;
        st.rdd = ps_to_double(rdd);
    }
    if (host->opt_int(opts, "reentry.runs", &st.rruns)) {
        if (st.rruns < 1) {
            host->set_error(err, "reentry.runs", "must be >= 1");
            return CAPALLOC_ERR_INVALID;
        }
        st.has_rruns = 1;
    }
    const char *mode = "all";
    host->opt_string(opts, "reentry.require", &mode);
    if (strcmp(mode, "all") != 0 && strcmp(mode, "any") != 0) {
        host->set_error(err, "reentry.require",
                        "expected all or any, not '%s'", mode);
        return CAPALLOC_ERR_INVALID;
    }
    if (host->opt_list_count(opts, "reentry") > 0 && !st.has_rdd &&
        !st.has_rruns) {
        host->set_error(err, "reentry", "give drawdown, runs or both");
        return CAPALLOC_ERR_INVALID;
    }
    st.all = strcmp(mode, "all") == 0;
    host->opt_int(opts, "lookback", &st.lookback);
    if (st.lookback < 2 || st.lookback > 100000) {
        host->set_error(err, "lookback", "give 2 to 100000 points");
        return CAPALLOC_ERR_INVALID;
    }
    dl_state *s = malloc(sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    *s = st;
    *state = s;
    return CAPALLOC_OK;
}

static void dl_destroy(void *state)
{
    free(state);
}

static capalloc_status dl_history(void *state, uint32_t *points,
                                  capalloc_err *err)
{
    (void)err;
    *points = (uint32_t)((dl_state *)state)->lookback;
    return CAPALLOC_OK;
}

/* The step (0: none, k: steps[k - 1]) for drawdown dd. */
static size_t step_of(const dl_state *s, double dd)
{
    size_t k = 0;
    while (k < s->n_steps && dd >= s->thr[k] - 1e-12)
        k++;
    return k;
}

/* The level after the strategy's history h; its drawdown into *dd_out
 * and the points since its cut into *since_out. */
static size_t dl_level(const dl_state *s, const capalloc_history *h,
                       double *dd_out, int64_t *since_out)
{
    double idx = 1, mark = 1;
    size_t level = 0;
    int64_t since = 0;
    int rules = s->has_rdd || s->has_rruns;
    size_t from = h->n > (size_t)s->lookback ? h->n - (size_t)s->lookback : 0;
    for (size_t p = from; p < h->n; p++) {
        if (!h->points[p].has_return)
            continue;
        idx *= 1 + ps_to_double(h->points[p].ret);
        if (idx > mark)
            mark = idx;
        double dd = 1 - idx / mark;
        *dd_out = dd;
        size_t k = step_of(s, dd);
        if (!rules) {
            level = k;
            continue;
        }
        if (k > level) {
            level = k;
            since = 0;
            continue;
        }
        if (level == 0)
            continue;
        since++;
        int by_dd = s->has_rdd && dd <= s->rdd + 1e-12;
        int by_runs = s->has_rruns && since >= s->rruns;
        int back = s->all ? (!s->has_rdd || by_dd) && (!s->has_rruns || by_runs)
                          : by_dd || by_runs;
        if (back) {
            level = 0;
            mark = idx;
        }
    }
    *since_out = since;
    return level;
}

static capalloc_status dl_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    dl_state *s = state;
    if (snap->incoming == NULL) {
        s->host->set_error(err, NULL,
                           "drawdown_ladder is an overlay: put a stage that "
                           "gives weights before it");
        return CAPALLOC_ERR_INVALID;
    }
    size_t used = 0;
    for (size_t i = 0; i < snap->n_portfolios; i++) {
        double dd = 0;
        int64_t since = 0;
        size_t level =
            snap->history ? dl_level(s, &snap->history[i], &dd, &since) : 0;
        /* the note: every strategy under a cut, e.g.
         * "B: drawdown 12.61%, step 0.20 -> scale 0 (cut 1 point ago)" */
        if (level > 0 && snap->note_size > used + 1) {
            char a[CAPALLOC_DEC_MAX_TEXT];
            int k = snprintf(snap->note + used, snap->note_size - used,
                             "%s%s: drawdown %.2f%%, step %.2f -> scale %s "
                             "(cut %lld point%s ago)",
                             used ? "; " : "", snap->portfolios[i].id,
                             dd * 100, s->thr[level - 1],
                             s->host->dec_format(s->scale[level - 1], 0, a,
                                                 sizeof a),
                             (long long)since, since == 1 ? "" : "s");
            if (k > 0)
                used += (size_t)k < snap->note_size - used
                            ? (size_t)k
                            : snap->note_size - used - 1;
        }
        weights[i] = snap->incoming[i];
        if (level > 0 &&
            s->host->dec_mul(snap->incoming[i], s->scale[level - 1],
                             CAPALLOC_ROUND_DOWN, &weights[i]) != CAPALLOC_OK) {
            s->host->set_error(err, NULL, "weight out of range");
            return CAPALLOC_ERR_INTERNAL;
        }
    }
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin drawdown_ladder_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "drawdown_ladder", "1.0.0",
                         "scales each strategy down by its drawdown, with "
                         "re-entry rules",
                         dl_options, dl_create, dl_destroy),
    dl_weights,
    NULL,
    dl_history,
};

CAPALLOC_PLUGIN_DEFINE(drawdown_ladder_plugin)
