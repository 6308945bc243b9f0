/*
 * good_policy.c - a valid weighting policy for the loader tests.
 *
 * Options:
 *   weights      decimal map, required: portfolio id -> weight
 *   label        string, default "gp"
 *   fail_key     string: when given, create() fails with that err->key
 *   fail_status  int, default 1 (CAPALLOC_ERR_INVALID): the status it
 *                fails with
 *
 * weights() checks that the snapshot carries its options, then answers each
 * portfolio's configured weight (0 for an id it does not know), except for the id "calls", which gets the number of times this
 * instance's weights() has been called, counting this one, in whole units:
 * the tests use it to show that two instances keep separate state.
 * portfolios() lists the ids of the weights map.
 */
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

typedef struct gp_state {
    const capalloc_host *host;
    size_t n;
    const char **ids;     /* borrowed from the options: valid until destroy */
    capalloc_dec *weights;
    int64_t calls;
} gp_state;

static const capalloc_option_spec gp_options[] = {
    {"weights", CAPALLOC_OPT_DECIMAL_MAP, 1, NULL, "id -> weight"},
    {"label", CAPALLOC_OPT_STRING, 0, "gp", "a label"},
    {"fail_key", CAPALLOC_OPT_STRING, 0, NULL, "fail create() naming this key"},
    {"fail_status", CAPALLOC_OPT_INT, 0, "1", "status create() fails with"},
    {NULL, 0, 0, NULL, NULL}};

static void gp_destroy(void *state)
{
    gp_state *s = state;
    if (s == NULL)
        return;
    free(s->ids);
    free(s->weights);
    free(s);
}

static capalloc_status gp_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    const char *fail_key;
    *state = NULL;
    if (host->opt_string(opts, "fail_key", &fail_key)) {
        int64_t st = 1;
        host->opt_int(opts, "fail_status", &st);
        host->set_error(err, fail_key, "asked to fail on '%s'", fail_key);
        return (capalloc_status)st;
    }
    gp_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    s->n = host->opt_map_count(opts, "weights");
    s->ids = calloc(s->n + 1, sizeof *s->ids);
    s->weights = calloc(s->n + 1, sizeof *s->weights);
    if (s->ids == NULL || s->weights == NULL) {
        gp_destroy(s);
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    capalloc_dec zero;
    host->dec_parse("0", &zero);
    for (size_t i = 0; i < s->n; i++) {
        host->opt_map_entry(opts, "weights", i, &s->ids[i], &s->weights[i]);
        if (host->dec_cmp(s->weights[i], zero) < 0) {
            char key[128];
            size_t kl = strlen(s->ids[i]);
            if (kl > 100)
                kl = 100;
            memcpy(key, "weights.", 8);
            memcpy(key + 8, s->ids[i], kl);
            key[8 + kl] = '\0';
            host->set_error(err, key, "weight of '%s' is negative", s->ids[i]);
            gp_destroy(s);
            return CAPALLOC_ERR_INVALID;
        }
    }
    host->log(host, CAPALLOC_LOG_DEBUG, "%zu weights", s->n);
    *state = s;
    return CAPALLOC_OK;
}

static capalloc_status gp_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    gp_state *s = state;
    const char *label;
    /* the snapshot carries this instance's options (the engine's job) */
    if (snap->options == NULL ||
        !s->host->opt_string(snap->options, "label", &label)) {
        s->host->set_error(err, NULL, "the snapshot carries no options");
        return CAPALLOC_ERR_INVALID;
    }
    s->calls++;
    for (size_t i = 0; i < snap->n_portfolios; i++) {
        const char *id = snap->portfolios[i].id;
        if (strcmp(id, "calls") == 0) {
            weights[i].micros = s->calls * CAPALLOC_DEC_ONE;
            continue;
        }
        for (size_t k = 0; k < s->n; k++)
            if (strcmp(s->ids[k], id) == 0)
                weights[i] = s->weights[k];
    }
    return CAPALLOC_OK;
}

static capalloc_status gp_portfolios(void *state, const char *const **ids,
                                     size_t *n, capalloc_err *err)
{
    gp_state *s = state;
    (void)err;
    *ids = s->ids;
    *n = s->n;
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin gp_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "good_policy", "1.0", "a valid test policy",
                         gp_options, gp_create, gp_destroy),
    gp_weights,
    gp_portfolios,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(gp_plugin)
