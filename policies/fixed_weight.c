/*
 * fixed_weight.c - "fixed_weight", the design's weighting policy: every
 * strategy portfolio has a constant target weight, a share of the fund's
 * total equity.
 *
 *   policy:
 *     plugin: fixed_weight
 *     options:
 *       weights: {1: 0.30, 2: 0.30, 3: 0.40}
 *
 * (the top-level `portfolio_weights` short form means the same). Weights are
 * exact decimals, >= 0, summing to at most 1: what is left stays in the
 * master as a reserve. The master portfolio cannot be given a weight.
 * create() checks all of this and names the offending key, so the core can
 * point at the file and line. The portfolios named here are reported through
 * portfolios() (in file order), so the core opens their books; a strategy
 * portfolio the core knows from elsewhere that has no weight here gets 0
 * (with a warning: its capital goes back to the master).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

#define FW_VERSION "1.0.0"

static const capalloc_option_spec fw_options[] = {
    {"weights", CAPALLOC_OPT_DECIMAL_MAP, 1, NULL,
     "portfolio id -> target weight (>= 0, summing to at most 1; the rest "
     "stays in the master)"},
    {NULL, 0, 0, NULL, NULL}};

typedef struct fw_entry {
    const char *id; /* borrowed from fixed_weight.ids */
    capalloc_dec weight;
} fw_entry;

typedef struct fixed_weight {
    const capalloc_host *host;
    size_t n;
    char **ids;       /* file order, owned; handed out by portfolios() */
    fw_entry *sorted; /* by id, for lookups */
} fixed_weight;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const fw_entry *)a)->id, ((const fw_entry *)b)->id);
}

static void fw_free(fixed_weight *fw)
{
    if (fw == NULL)
        return;
    for (size_t i = 0; fw->ids != NULL && i < fw->n; i++)
        free(fw->ids[i]);
    free(fw->ids);
    free(fw->sorted);
    free(fw);
}

static capalloc_status fw_fail(fixed_weight *fw, capalloc_status st)
{
    fw_free(fw);
    return st;
}

static capalloc_status fw_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    char key[sizeof err->key], a[CAPALLOC_DEC_MAX_TEXT];
    capalloc_dec zero = {0}, one = {CAPALLOC_DEC_ONE}, sum = {0};

    *state = NULL;
    size_t n = host->opt_map_count(opts, "weights");
    if (n == 0) {
        host->set_error(err, "weights",
                        "weights is empty: give each strategy portfolio its "
                        "weight");
        return CAPALLOC_ERR_INVALID;
    }
    fixed_weight *fw = calloc(1, sizeof *fw);
    if (fw == NULL || (fw->ids = calloc(n, sizeof *fw->ids)) == NULL ||
        (fw->sorted = calloc(n, sizeof *fw->sorted)) == NULL) {
        host->set_error(err, NULL, "out of memory");
        return fw_fail(fw, CAPALLOC_ERR_NOMEM);
    }
    fw->host = host;

    for (size_t i = 0; i < n; i++) {
        const char *id = NULL;
        capalloc_dec w;
        if (!host->opt_map_entry(opts, "weights", i, &id, &w) || id == NULL) {
            host->set_error(err, "weights", "cannot read weights entry %zu",
                            i + 1);
            return fw_fail(fw, CAPALLOC_ERR_INTERNAL);
        }
        snprintf(key, sizeof key, "weights.%s", id);
        if (*id == '\0') {
            host->set_error(err, "weights", "a weight for an empty "
                                            "portfolio id");
            return fw_fail(fw, CAPALLOC_ERR_INVALID);
        }
        if (host->master_id != NULL && strcmp(id, host->master_id) == 0) {
            host->set_error(err, key,
                            "portfolio '%s' is the master portfolio: it holds "
                            "what the weights leave over and cannot be given "
                            "a weight",
                            id);
            return fw_fail(fw, CAPALLOC_ERR_INVALID);
        }
        if (host->dec_cmp(w, zero) < 0) {
            host->set_error(err, key,
                            "weight of portfolio '%s' is %s: weights must not "
                            "be negative",
                            id, host->dec_format(w, 0, a, sizeof a));
            return fw_fail(fw, CAPALLOC_ERR_INVALID);
        }
        if (host->dec_add(sum, w, &sum) != CAPALLOC_OK) {
            host->set_error(err, "weights", "the weights' sum is out of range");
            return fw_fail(fw, CAPALLOC_ERR_INVALID);
        }
        if ((fw->ids[i] = strdup(id)) == NULL) {
            host->set_error(err, NULL, "out of memory");
            return fw_fail(fw, CAPALLOC_ERR_NOMEM);
        }
        fw->n = i + 1;
        fw->sorted[i] = (fw_entry){fw->ids[i], w};
    }
    if (host->dec_cmp(sum, one) > 0) {
        host->set_error(err, "weights",
                        "weights sum to %s, more than 1 (100%% of total "
                        "equity)",
                        host->dec_format(sum, 0, a, sizeof a));
        return fw_fail(fw, CAPALLOC_ERR_INVALID);
    }
    if (n > 1)
        qsort(fw->sorted, n, sizeof *fw->sorted, cmp_entry);
    for (size_t i = 1; i < n; i++)
        if (strcmp(fw->sorted[i - 1].id, fw->sorted[i].id) == 0) {
            /* The core refuses duplicate keys first; never trust it blindly. */
            snprintf(key, sizeof key, "weights.%s", fw->sorted[i].id);
            host->set_error(err, key, "portfolio '%s' is given a weight twice",
                            fw->sorted[i].id);
            return fw_fail(fw, CAPALLOC_ERR_INVALID);
        }
    host->log(host, CAPALLOC_LOG_DEBUG,
              "%zu weights, summing to %s (the rest stays in the master)", n,
              host->dec_format(sum, 0, a, sizeof a));
    *state = fw;
    return CAPALLOC_OK;
}

static void fw_destroy(void *state)
{
    fw_free(state);
}

static capalloc_status fw_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    fixed_weight *fw = state;
    (void)err;
    for (size_t i = 0; i < snap->n_portfolios; i++) {
        const char *id = snap->portfolios[i].id;
        fw_entry k = {id, {0}};
        const fw_entry *e =
            id != NULL ? bsearch(&k, fw->sorted, fw->n, sizeof *fw->sorted,
                                 cmp_entry)
                       : NULL;
        if (e != NULL) {
            weights[i] = e->weight;
        } else {
            weights[i].micros = 0;
            fw->host->log(fw->host, CAPALLOC_LOG_WARNING,
                          "portfolio '%s' has no weight under 'weights': its "
                          "target is 0, its capital goes back to the master",
                          id ? id : "(null)");
        }
    }
    return CAPALLOC_OK;
}

static capalloc_status fw_portfolios(void *state, const char *const **ids,
                                     size_t *n, capalloc_err *err)
{
    fixed_weight *fw = state;
    (void)err;
    *ids = (const char *const *)fw->ids;
    *n = fw->n;
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin fixed_weight_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "fixed_weight", FW_VERSION,
                         "constant target weights per strategy portfolio",
                         fw_options, fw_create, fw_destroy),
    fw_weights,
    fw_portfolios,
    NULL, /* history_wanted: fixed weights need no history */
};

CAPALLOC_PLUGIN_DEFINE(fixed_weight_plugin)
