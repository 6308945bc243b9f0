/*
 * bad_policy.c - a policy that is wrong on purpose, for the isolation
 * tests (tests/policies.sh): option `mode` says how its weights() fails.
 *   crash   dereferences NULL (SIGSEGV)
 *   hang    loops forever
 *   hog     allocates and touches memory until it cannot, never checking
 *           for NULL
 *   nomem   allocates until malloc fails, then says CAPALLOC_ERR_NOMEM
 *   nodata  says CAPALLOC_ERR_NO_DATA ("not enough history, on purpose")
 *   over    returns weights summing above 1
 *   writer  the first time (no file `marker` yet: it creates it) runs
 *           `command` - another capalloc writing the same ledger - and
 *           fails unless it succeeded; then equal weights. It shows that
 *           the policy runs before the run takes the ledger's write lock,
 *           and that the run notices the change (tests/stack-lib.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

typedef struct bp_state {
    const capalloc_host *host;
    char mode[16];
    const char *command; /* borrowed from the options */
    const char *marker;
} bp_state;

static const capalloc_option_spec bp_options[] = {
    {"mode", CAPALLOC_OPT_STRING, 1, NULL,
     "crash, hang, hog, nomem, nodata, over or writer"},
    {"command", CAPALLOC_OPT_STRING, 0, NULL, "writer: the command to run"},
    {"marker", CAPALLOC_OPT_PATH, 0, NULL, "writer: run it once"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status bp_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    const char *mode = "";
    host->opt_string(opts, "mode", &mode);
    bp_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    strncpy(s->mode, mode, sizeof s->mode - 1);
    host->opt_string(opts, "command", &s->command);
    host->opt_string(opts, "marker", &s->marker);
    *state = s;
    return CAPALLOC_OK;
}

static void bp_destroy(void *state)
{
    free(state);
}

static capalloc_status bp_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    bp_state *s = state;
    if (strcmp(s->mode, "crash") == 0) {
        volatile int *p = NULL;
        *p = 1;
    } else if (strcmp(s->mode, "hang") == 0) {
        for (volatile unsigned long i = 0;; i++)
            ;
    } else if (strcmp(s->mode, "hog") == 0) {
        for (;;) {
            char *p = malloc(1 << 20);
            memset(p, 1, 1 << 20);
        }
    } else if (strcmp(s->mode, "nomem") == 0) {
        while (malloc(1 << 20) != NULL)
            ;
        s->host->set_error(err, NULL, "malloc failed");
        return CAPALLOC_ERR_NOMEM;
    } else if (strcmp(s->mode, "nodata") == 0) {
        s->host->set_error(err, NULL, "not enough history, on purpose");
        return CAPALLOC_ERR_NO_DATA;
    } else if (strcmp(s->mode, "writer") == 0) {
        FILE *m = fopen(s->marker, "r");
        if (m != NULL) {
            fclose(m);
        } else {
            m = fopen(s->marker, "w");
            if (m != NULL)
                fclose(m);
            int rc = system(s->command);
            if (rc != 0) {
                s->host->set_error(err, NULL, "'%s' failed (%d)", s->command,
                                   rc);
                return CAPALLOC_ERR_IO;
            }
        }
        for (size_t i = 0; i < snap->n_portfolios; i++)
            weights[i].micros = CAPALLOC_DEC_ONE / (int64_t)snap->n_portfolios;
    } else if (strcmp(s->mode, "over") == 0) {
        for (size_t i = 0; i < snap->n_portfolios; i++)
            weights[i].micros = CAPALLOC_DEC_ONE;
    }
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin bad_policy_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "bad_policy", "0.0.1", "wrong on purpose",
                         bp_options, bp_create, bp_destroy),
    bp_weights,
    NULL,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(bad_policy_plugin)
