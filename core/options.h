/*
 * options.h - binds a plugin's YAML options to its declared option specs
 * (Fluent Bit's config_map), and builds the capalloc_host table handed to
 * plugins.
 */
#ifndef CAPALLOC_OPTIONS_H
#define CAPALLOC_OPTIONS_H

#include "capalloc_plugin.h"
#include "config.h"
#include "error.h"

/* Check `pc->options` (may be NULL) against `spec` (may be NULL: no
 * options allowed) and build the validated options. Refuses, with
 * CAP_EXIT_CONFIG and "FILE:LINE:COL: key 'storage.options.X': ...":
 * unknown keys, wrong types (string/path/int/decimal/bool/decimal map),
 * missing required options. PATH values (given or default) are made
 * absolute against cfg->dir. */
int options_bind(const capalloc_config *cfg, const plugin_cfg *pc,
                 const char *plugin_name, const capalloc_option_spec *spec,
                 capalloc_options **out, cap_error *e);
void options_free(capalloc_options *o);

/* Where an option key a plugin reported ("weights.3", "path", "") is in the
 * file, as "FILE:LINE:COL: key 'policy.options.weights.3'" into buf. */
void options_where(const capalloc_config *cfg, const plugin_cfg *pc,
                   const capalloc_options *o, const char *key, char *buf,
                   size_t len);

/* Fill a host table for one instance. `instance` is "storage", "prices" or
 * "policy"; plugin_name prefixes log lines. Strings are borrowed from cfg. */
void host_init(capalloc_host *h, const capalloc_config *cfg,
               const char *instance, const char *plugin_name);

/* The accessor functions (also used by tests). */
int opt_string(const capalloc_options *o, const char *name, const char **out);
int opt_int(const capalloc_options *o, const char *name, int64_t *out);
int opt_decimal(const capalloc_options *o, const char *name, capalloc_dec *out);
int opt_bool(const capalloc_options *o, const char *name, int *out);
size_t opt_map_count(const capalloc_options *o, const char *name);
int opt_map_entry(const capalloc_options *o, const char *name, size_t i,
                  const char **key, capalloc_dec *value);

/* Log verbosity for host->log (default: warnings and errors). */
void host_set_verbosity(capalloc_log_level max);

#endif
