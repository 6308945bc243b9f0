/*
 * policy_stack.h - the weighting policy as a stack of stages
 * (config_policy.c reads it): each stage gets the snapshot with the
 * strategies' history and the weights of the stage before it
 * (snapshot->incoming, NULL for the first) and returns weights; the last
 * stage's weights are the run's. Each stage runs isolated in a child
 * process (policy_isolate.c).
 */
#ifndef CAPALLOC_POLICY_STACK_H
#define CAPALLOC_POLICY_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "capalloc_plugin.h"
#include "config.h"
#include "error.h"
#include "loader.h"

/* A stage's limits when the configuration gives none. */
#define POLICY_DEFAULT_TIMEOUT_MS 10000L
#define POLICY_DEFAULT_MEMORY_MB 1024L

typedef struct policy_stage {
    loaded_plugin *p;
    long timeout_ms;
    long memory_mb;
    stage_fallback fallback;  /* never STAGE_FALLBACK_DEFAULT once open */
    uint32_t history_points;  /* what the stage asked for */
} policy_stage;

typedef struct policy_stack {
    policy_stage *st;
    size_t n;
    uint32_t history_points;  /* the most any stage asked for */
    int isolate;              /* 1 (always, but for in-process tests) */
} policy_stack;

/* What one stage did, for the run's record. */
typedef struct stage_result {
    capalloc_dec *weights;    /* n_portfolios, owned */
    char *why;                /* NULL: the stage decided; else, owned, why
                                 it fell back (its CAPALLOC_ERR_NO_DATA
                                 message) */
    const char *fallback;     /* "incoming" or "equal" when why != NULL */
    char *note;               /* the stage's note (snapshot->note), owned;
                                 "" when it left none */
} stage_result;

/* The size of the note buffer a stage gets. */
#define POLICY_NOTE_SIZE 1024

/* Open every stage of cfg (the single `policy` section, or the short
 * form, when cfg->n_stages is 0): load, bind options, create, ask each for
 * its history. Everything the configuration gets wrong is reported here,
 * before any run. */
int policy_stack_open(const capalloc_config *cfg, policy_stack **out,
                      cap_error *e);
void policy_stack_close(policy_stack *ps);

/* Run the stages on snap (its options and incoming are set per stage).
 * res has ps->n entries (zeroed by the caller), filled for the stages that
 * ran; out gets the last stage's weights. 0, or an exit code with e set:
 * CAP_EXIT_PLUGIN for a stage that failed, crashed, hung or exceeded its
 * memory (naming the plugin and the stage). */
int policy_stack_run(policy_stack *ps, const capalloc_snapshot *snap,
                     capalloc_dec *out, stage_result *res, cap_error *e);
void stage_results_free(stage_result *res, size_t n);

/* policy_isolate.c: call stage s's weights() in a forked child with the
 * stage's time and memory limits, the weights coming back over a pipe.
 * Returns 0 with *st the plugin's own status (err filled when not OK), or
 * CAP_EXIT_PLUGIN with e set when the child crashed, hung, ran out of
 * memory or could not be started. Nothing in the parent changes. */
int isolate_weights(const policy_stage *s, size_t index,
                    const capalloc_snapshot *snap, capalloc_dec *w,
                    capalloc_status *st, capalloc_err *err, cap_error *e);

/* policy_isolate.c: 1 when stages run under their memory limit (0 in a sanitizer build,
 * whose shadow memory an address-space limit cannot hold). */
int isolate_memory_limited(void);

#endif
