/*
 * equal_weight.c - an example weighting policy built out of the tree.
 *
 * Keeps `reserve` (a fraction of total equity, default 0) in the master
 * portfolio and splits the rest equally across the fund's strategy
 * portfolios, rounding each weight down so that the weights never sum to
 * more than 1 - reserve.
 *
 * It includes only the installed public header and links nothing of
 * capalloc: all arithmetic goes through the host's dec_* functions, all
 * state lives in the instance, and the only exported symbol is the one
 * CAPALLOC_PLUGIN_DEFINE() writes.
 *
 *   YAML:   policy: {plugin: ./equal_weight.so, options: {reserve: "0.10"}}
 */
#include <stdio.h>
#include <stdlib.h>

#include <capalloc_plugin.h>

typedef struct equal_weight {
    const capalloc_host *host;
    capalloc_dec reserve;  /* kept in the master, 0 <= reserve <= 1 */
    capalloc_dec investable; /* 1 - reserve */
} equal_weight;

static const capalloc_option_spec ew_options[] = {
    {"reserve", CAPALLOC_OPT_DECIMAL, 0, "0",
     "fraction of total equity kept in the master (0 to 1)"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status ew_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    capalloc_dec zero, one, reserve;
    capalloc_status st;
    equal_weight *ew;

    *state = NULL;
    if ((st = host->dec_parse("0", &zero)) != CAPALLOC_OK ||
        (st = host->dec_parse("1", &one)) != CAPALLOC_OK) {
        host->set_error(err, NULL, "cannot parse a constant");
        return st;
    }
    if (!host->opt_decimal(opts, "reserve", &reserve))
        reserve = zero;
    if (host->dec_cmp(reserve, zero) < 0 || host->dec_cmp(reserve, one) > 0) {
        char buf[CAPALLOC_DEC_MAX_TEXT];
        host->set_error(err, "reserve", "reserve %s is not between 0 and 1",
                        host->dec_format(reserve, 0, buf, sizeof buf));
        return CAPALLOC_ERR_INVALID;
    }

    ew = calloc(1, sizeof *ew);
    if (ew == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    ew->host = host;
    ew->reserve = reserve;
    if ((st = host->dec_sub(one, reserve, &ew->investable)) != CAPALLOC_OK) {
        host->set_error(err, "reserve", "1 - reserve overflows");
        free(ew);
        return st;
    }
    *state = ew;
    return CAPALLOC_OK;
}

static void ew_destroy(void *state)
{
    free(state);
}

static capalloc_status ew_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    equal_weight *ew = state;
    const capalloc_host *h = ew->host;
    char count[32];
    capalloc_dec n, each;
    capalloc_status st;
    size_t i;

    if (snap->n_portfolios == 0)
        return CAPALLOC_OK; /* nothing to weight: all stays in the master */

    snprintf(count, sizeof count, "%zu", snap->n_portfolios);
    if ((st = h->dec_parse(count, &n)) != CAPALLOC_OK) {
        h->set_error(err, NULL, "too many portfolios (%zu)", snap->n_portfolios);
        return st;
    }
    st = h->dec_div(ew->investable, n, CAPALLOC_ROUND_DOWN, &each);
    if (st != CAPALLOC_OK) {
        h->set_error(err, NULL, "cannot divide the investable share by %zu",
                     snap->n_portfolios);
        return st;
    }
    for (i = 0; i < snap->n_portfolios; i++)
        weights[i] = each;

    {
        char b1[CAPALLOC_DEC_MAX_TEXT], b2[CAPALLOC_DEC_MAX_TEXT];
        h->log(h, CAPALLOC_LOG_DEBUG, "%zu portfolios at %s each, reserve %s",
               snap->n_portfolios, h->dec_format(each, 0, b1, sizeof b1),
               h->dec_format(ew->reserve, 0, b2, sizeof b2));
    }
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin equal_weight_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "equal_weight", "1.0.0",
                         "equal weights over the strategies, minus a reserve",
                         ew_options, ew_create, ew_destroy),
    /* Designated: fields a later ABI appends stay zero (NULL) and no
     * -Wmissing-field-initializers warning appears when they do. */
    .weights = ew_weights,
    .portfolios = NULL, /* the YAML's top-level list opens the books */
};

CAPALLOC_PLUGIN_DEFINE(equal_weight_plugin)
