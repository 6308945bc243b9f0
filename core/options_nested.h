/*
 * options_nested.h - structured plugin options (RECORD, RECORD_LIST),
 * flattened into scalar options by path before options_bind() binds them
 * (options_nested.c). Private to core/.
 */
#ifndef CAPALLOC_OPTIONS_NESTED_H
#define CAPALLOC_OPTIONS_NESTED_H

#include "options.h"

typedef struct nested_flat {
    int active;                 /* 0: the spec has no structured option */
    capalloc_option_spec *spec; /* the flat spec, NULL-terminated */
    size_t n_spec;
    cfg_node *map;              /* the flat mapping (values borrowed) */
    char **owned;               /* names and defaults of the flat spec */
    size_t n_owned;
} nested_flat;

/* Check the structured options of spec (the plugin's declaration:
 * CAP_EXIT_PLUGIN) and of map (the YAML: CAP_EXIT_CONFIG with
 * FILE:LINE:COL key), and flatten both into nf (nf->active 0: nothing to
 * do). Free with nested_flat_free. */
int nested_flatten(const capalloc_config *cfg, const plugin_cfg *pc,
                   const char *plugin, const capalloc_option_spec *spec,
                   const cfg_node *map, nested_flat *nf, cap_error *e);
void nested_flat_free(nested_flat *nf);

/* Where "steps[2].scale" (or "steps[2]") is in the options map: 0, or -1
 * when the key is not such a path. */
int nested_where(const cfg_node *map, const char *key, int *line, int *col);

/* host->opt_list_count */
size_t opt_list_count(const capalloc_options *o, const char *name);

#endif
