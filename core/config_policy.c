/*
 * config_policy.c - `policy` as a stack of stages:
 *
 *   policy:
 *     - plugin: risk_parity
 *       options: {lookback: 60}
 *     - plugin: caps
 *       options: {max: 0.40}
 *       timeout_ms: 2000      # the stage's time limit (default 10000)
 *       memory_mb: 512        # its address-space limit (default 1024)
 *       fallback: incoming    # not enough history: incoming | equal | fail
 *
 * Each stage is checked like a `policy: {plugin, options}` section; its
 * options are bound later against the plugin's declared options, with
 * messages naming "policy[I].options.K". Everything here is refused with
 * FILE:LINE:COL key 'policy[I].K' (CAP_EXIT_CONFIG).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_STAGES 32

__attribute__((format(printf, 6, 7))) static int
stage_fail(const capalloc_config *c, int line, int col, const char *key,
           cap_error *e, const char *fmt, ...)
{
    char where[1100], what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    config_where(c, line > 0 ? line : 1, col > 0 ? col : 1, where,
                 sizeof where);
    return cap_fail(e, CAP_EXIT_CONFIG, "%skey '%s': %s", where, key, what);
}

/* A positive integer no larger than max, as written (no float, no sign). */
static int parse_limit(const char *s, long max, long *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int one_stage(capalloc_config *c, const cfg_node *n, size_t i,
                     policy_stage_cfg *st, cap_error *e)
{
    char key[64], sub[96];
    snprintf(key, sizeof key, "policy[%zu]", i);
    if (n->kind != CFG_MAP)
        return stage_fail(c, n->line, n->col, key, e,
                          "expected a mapping {plugin: NAME, options: "
                          "{...}}, found %s",
                          n->kind == CFG_SEQ ? "a sequence" : "a scalar");
    const cfg_node *plugin = NULL;
    for (size_t k = 0; k < n->n; k++) {
        const char *name = n->keys[k];
        const cfg_node *it = n->items[k];
        snprintf(sub, sizeof sub, "%s.%s", key, name);
        int kl = n->key_lines[k], kc = n->key_cols[k];
        if (strcmp(name, "plugin") == 0) {
            if (it->kind != CFG_SCALAR || it->value[0] == '\0')
                return stage_fail(c, kl, kc, sub, e,
                                  "expected the plugin's short name or the "
                                  "path of its .so");
            for (const unsigned char *s = (const unsigned char *)it->value;
                 *s; s++)
                if (*s < 0x20 || *s == 0x7f)
                    return stage_fail(c, kl, kc, sub, e,
                                      "control characters are not allowed "
                                      "in a plugin name");
            plugin = it;
        } else if (strcmp(name, "options") == 0) {
            if (it->kind != CFG_MAP)
                return stage_fail(c, kl, kc, sub, e,
                                  "expected a mapping of the plugin's "
                                  "options");
            st->pc.options = it;
        } else if (strcmp(name, "timeout_ms") == 0) {
            if (it->kind != CFG_SCALAR ||
                parse_limit(it->value, 3600000, &st->timeout_ms) != 0)
                return stage_fail(c, kl, kc, sub, e,
                                  "expected a whole number of milliseconds, "
                                  "1 to 3600000");
        } else if (strcmp(name, "memory_mb") == 0) {
            if (it->kind != CFG_SCALAR ||
                parse_limit(it->value, 1048576, &st->memory_mb) != 0)
                return stage_fail(c, kl, kc, sub, e,
                                  "expected a whole number of megabytes, 1 "
                                  "to 1048576");
        } else if (strcmp(name, "fallback") == 0) {
            const char *v = it->kind == CFG_SCALAR ? it->value : "";
            if (strcmp(v, "incoming") == 0)
                st->fallback = STAGE_FALLBACK_INCOMING;
            else if (strcmp(v, "equal") == 0)
                st->fallback = STAGE_FALLBACK_EQUAL;
            else if (strcmp(v, "fail") == 0)
                st->fallback = STAGE_FALLBACK_FAIL;
            else
                return stage_fail(c, kl, kc, sub, e,
                                  "expected incoming, equal or fail");
            if (i == 0 && st->fallback == STAGE_FALLBACK_INCOMING)
                return stage_fail(c, kl, kc, sub, e,
                                  "the first stage has no incoming weights: "
                                  "use equal or fail");
        } else {
            return stage_fail(c, kl, kc, sub, e,
                              "unknown key (known: plugin, options, "
                              "timeout_ms, memory_mb, fallback)");
        }
    }
    if (plugin == NULL) {
        snprintf(sub, sizeof sub, "%s.plugin", key);
        return stage_fail(c, n->line, n->col, sub, e,
                          "missing required key (the plugin's short name, "
                          "e.g. 'equal_weight', or the path of its .so)");
    }
    st->pc.plugin = strdup(plugin->value);
    st->pc.key_path = strdup(key);
    if (st->pc.plugin == NULL || st->pc.key_path == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    st->pc.line = n->line;
    st->pc.col = n->col;
    return 0;
}

int config_policy_stack(capalloc_config *c, const cfg_node *seq, int line,
                        int col, cap_error *e)
{
    if (seq->n == 0)
        return stage_fail(c, line, col, "policy", e,
                          "an empty list of stages: name at least one "
                          "policy plugin");
    if (seq->n > MAX_STAGES)
        return stage_fail(c, line, col, "policy", e,
                          "%zu stages, at most %d are allowed", seq->n,
                          MAX_STAGES);
    config_policy_free(c);
    c->stages = calloc(seq->n, sizeof *c->stages);
    if (c->stages == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    c->n_stages = seq->n;
    for (size_t i = 0; i < seq->n; i++) {
        int rc = one_stage(c, seq->items[i], i, &c->stages[i], e);
        if (rc != 0)
            return rc;
    }
    /* `policy` itself points at the first stage for what names "the"
     * policy (messages, `capalloc plugins`). */
    c->policy.line = line;
    c->policy.col = col;
    return 0;
}

void config_policy_free(capalloc_config *c)
{
    for (size_t i = 0; i < c->n_stages; i++) {
        free(c->stages[i].pc.plugin);
        free(c->stages[i].pc.key_path);
    }
    free(c->stages);
    c->stages = NULL;
    c->n_stages = 0;
}
