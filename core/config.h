/*
 * config.h - the YAML configuration (libyaml), as a small tree that keeps
 * every node's line and column so that every error names file:line:col.
 *
 * Top-level keys (anything else is refused):
 *   master_portfolio_id  string, required
 *   currency             string, required (3 letters; minor units from a
 *                        built-in table, or minor_units)
 *   minor_units          int 0..6, optional (required for a currency not in
 *                        the table)
 *   portfolios           sequence of strategy ids, optional
 *   plugin_dir           path, optional (relative to the config's directory)
 *   storage / prices / policy
 *                        {plugin: NAME-or-PATH, options: {...}}; optional;
 *                        defaults: sqlite, file, and (only with
 *                        portfolio_weights) fixed_weight
 *                        policy may also be a list of stages (a policy
 *                        stack, config_policy.c)
 *   portfolio_weights    the design's short form: a mapping id -> weight,
 *                        meaning policy {plugin: fixed_weight, options:
 *                        {weights: ...}}; refused together with policy
 *   rebalance            the rebalance rules (config_rebalance.c,
 *                        rules.h); optional, every rule off by default
 *   approval             required approvers and max_age of a plan
 *                        (config_approval.c); optional, none required
 * Plugin options are checked against each plugin's declared options later,
 * by options_bind(), once the plugin is loaded.
 */
#ifndef CAPALLOC_CONFIG_H
#define CAPALLOC_CONFIG_H

#include <stddef.h>

#include "error.h"
#include "rules.h"

typedef enum cfg_kind { CFG_SCALAR, CFG_MAP, CFG_SEQ } cfg_kind;

typedef struct cfg_node cfg_node;
struct cfg_node {
    cfg_kind kind;
    int line, col;     /* 1-based, where the node starts */
    char *value;       /* CFG_SCALAR: the text as written (no float parsing) */
    int plain;         /* CFG_SCALAR: 1 when unquoted */
    size_t n;          /* CFG_MAP: pairs; CFG_SEQ: items */
    char **keys;       /* CFG_MAP: keys[i] (scalar keys only) */
    int *key_lines;    /* CFG_MAP: line of keys[i] */
    int *key_cols;     /* CFG_MAP: column of keys[i] */
    cfg_node **items;  /* CFG_MAP: value of keys[i]; CFG_SEQ: item i */
};

/* Value of key in a map node, or NULL. Index into *idx if idx not NULL. */
cfg_node *cfg_get(const cfg_node *map, const char *key, size_t *idx);

typedef struct plugin_cfg {
    char *plugin;          /* short name or path; NULL -> the default */
    const cfg_node *options; /* CFG_MAP or NULL when none given */
    char *key_path;        /* for messages: "storage", "policy", or
                              "portfolio_weights" for the short form */
    int line, col;         /* where the section is (0 when defaulted) */
    int short_form;        /* 1: options synthesized from portfolio_weights */
} plugin_cfg;

/* The `approval:` section (config_approval.c). */
#define APPROVAL_DEFAULT_MAX_AGE (24L * 3600)
typedef struct approval_cfg {
    int required;          /* approvers besides the preparer; 0: none */
    long max_age;          /* seconds a plan stays valid */
} approval_cfg;

typedef struct capalloc_config {
    char *path;            /* the file as given */
    char *dir;             /* its directory, absolute */
    char *master_id;
    char *currency;
    int minor_units;
    char *plugin_dir;      /* absolute, or NULL */
    char **portfolios;     /* top-level list (may be empty) */
    size_t n_portfolios;
    plugin_cfg storage, prices, policy;
    cfg_node *root;        /* owns every node */
    cfg_node *synth;       /* short form: the synthesized options map */
    /* policy as a list of stages (config_policy.c); 0 stages: `policy` is
     * one plugin (or the short form) and runs as the only stage. */
    struct policy_stage_cfg *stages;
    size_t n_stages;
    rebalance_rules rebalance; /* all off unless the section sets them */
    int deploy_on_add;     /* `capital: deploy_on_add` (config_capital.c) */
    approval_cfg approval;     /* config_approval.c; required 0 unless set */
    /* config_load_books: policy, portfolio_weights and portfolios were
     * not read (their keys are in root, with null values) */
    int strategies_deferred;
} capalloc_config;

/* One stage of a policy stack: `policy: [{plugin: X, options: {...},
 * timeout_ms: N, memory_mb: N, fallback: F}, ...]` (config_policy.c). */
typedef enum stage_fallback {
    STAGE_FALLBACK_DEFAULT = 0, /* incoming weights, or equal weights for
                                   the first stage */
    STAGE_FALLBACK_INCOMING = 1,
    STAGE_FALLBACK_EQUAL = 2,
    STAGE_FALLBACK_FAIL = 3
} stage_fallback;

typedef struct policy_stage_cfg {
    plugin_cfg pc;        /* key_path "policy[I]" */
    long timeout_ms;      /* 0: the default (POLICY_DEFAULT_TIMEOUT_MS) */
    long memory_mb;       /* 0: the default (POLICY_DEFAULT_MEMORY_MB) */
    stage_fallback fallback;
} policy_stage_cfg;

/* config_policy.c: `policy` given as a sequence of stages; on error
 * CAP_EXIT_CONFIG with FILE:LINE:COL key 'policy[I].K'. */
int config_policy_stack(capalloc_config *c, const cfg_node *seq, int line,
                        int col, cap_error *e);
void config_policy_free(capalloc_config *c);

/* Find the config file: explicit path, else $CAPALLOC_CONFIG, else
 * ./capalloc.yaml. Returns a malloc'd path, or NULL with e set
 * (CAP_EXIT_CONFIG) naming every place looked at. */
char *config_find(const char *explicit_path, cap_error *e);

/* Load and validate the top level. On error returns non-zero with
 * e->code = CAP_EXIT_CONFIG and e->msg "FILE:LINE:COL: key 'K': what". */
int config_load(const char *path, capalloc_config **out, cap_error *e);
/* config_load for the commands that never weight the fund (capital
 * movements): the sections that name the strategies (policy,
 * portfolio_weights, portfolios) are not parsed or checked when the file
 * can be cut safely (config_books_cut); every other node is as
 * config_load gives it, line and column included. */
int config_load_books(const char *path, capalloc_config **out, cap_error *e);
/* The cut config_load_books makes, in place: every byte of the values of
 * the top-level keys policy, portfolio_weights and portfolios but the
 * newlines is removed (*len shrinks; every other line is as it was, on
 * its line). Only in a file whose every line is blank, indented, a
 * comment or a top-level "key:" at column 0, with balanced brackets and
 * quotes on each line; otherwise 0 and buf unchanged. 1 when something
 * was cut. */
int config_books_cut(unsigned char *buf, size_t *len);
void config_free(capalloc_config *c);

/* Format "FILE:LINE:COL: " for a node into buf (for other modules). */
void config_where(const capalloc_config *c, int line, int col, char *buf,
                  size_t len);

/* A CAP_EXIT_CONFIG error "FILE:LINE:COL: key 'K': what" (for the
 * sections parsed in their own files). */
int config_fail(cap_error *e, const char *file, int line, int col,
                const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* config_rebalance.c: the `rebalance:` section n into *out. 0 or
 * CAP_EXIT_CONFIG with e naming the file, line and key. */
/* config_capital.c: the `capital:` section n. 0 or CAP_EXIT_CONFIG
 * naming FILE:LINE:COL and the key. */
int config_capital(const char *file, const cfg_node *n, int *deploy_on_add,
                   cap_error *e);

int config_rebalance(const char *file, const cfg_node *n, int minor_units,
                     rebalance_rules *out, cap_error *e);

/* config_approval.c: the `approval:` section n into *out. 0 or
 * CAP_EXIT_CONFIG with e naming the file, line and key. */
int config_approval(const char *file, const cfg_node *n, approval_cfg *out,
                    cap_error *e);

/* Minor units of a known ISO 4217 currency, or -1. */
int currency_minor_units(const char *code);

#endif
