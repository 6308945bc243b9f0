/*
 * options_nested.c - structured plugin options (ABI 1.2): a RECORD (a
 * mapping of declared fields, e.g. `reentry: {drawdown: 0.02, runs: 5}`)
 * and a RECORD_LIST (a sequence of them, e.g. ladder steps), their fields
 * declared as "OPTION.FIELD" entries of the plugin's option array.
 *
 * options_bind() hands the spec and the YAML mapping here first. When the
 * spec has structured options, they are checked here (kind of node,
 * unknown field, duplicate field, missing required field: each with its
 * FILE:LINE:COL and key 'SECTION.options.steps[2].scale') and flattened:
 * every field of every record becomes a scalar option named by its path
 * ("steps[2].scale", "reentry.runs", with the field's type and default)
 * whose YAML node is the field's value, and every structured option a
 * count named "steps[]" (an INT). options.c then binds the flat spec with
 * the flat mapping as it binds any scalar option, so types are checked and
 * values stored by the same code, and the plugin reads a field with the
 * ordinary accessors by its path.
 */
#include "options_nested.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_record(capalloc_opt_type t)
{
    return t == CAPALLOC_OPT_RECORD || t == CAPALLOC_OPT_RECORD_LIST;
}

static int is_scalar_type(capalloc_opt_type t)
{
    return t == CAPALLOC_OPT_STRING || t == CAPALLOC_OPT_PATH ||
           t == CAPALLOC_OPT_INT || t == CAPALLOC_OPT_DECIMAL ||
           t == CAPALLOC_OPT_BOOL;
}

__attribute__((format(printf, 7, 8))) static int
nfail(const capalloc_config *cfg, const plugin_cfg *pc, int line, int col,
      const char *key, cap_error *e, const char *fmt, ...)
{
    char where[1100], what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (line <= 0) {
        line = pc->line > 0 ? pc->line : 1;
        col = pc->line > 0 && pc->col > 0 ? pc->col : 1;
    }
    config_where(cfg, line, col > 0 ? col : 1, where, sizeof where);
    return cap_fail(e, CAP_EXIT_CONFIG, "%skey '%s.options.%s': %s", where,
                    pc->key_path ? pc->key_path : "plugin", key, what);
}

static int oom(cap_error *e)
{
    return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
}

/* The spec entry called name (length len), or NULL. */
static const capalloc_option_spec *
spec_named(const capalloc_option_spec *spec, const char *name, size_t len)
{
    for (const capalloc_option_spec *s = spec; s && s->name; s++)
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

/* The plugin's declaration of its structured options must make sense: a
 * bad one is the plugin's bug (CAP_EXIT_PLUGIN). */
static int check_nested_spec(const char *plugin, const capalloc_option_spec *spec,
                             int *any, cap_error *e)
{
    *any = 0;
    for (const capalloc_option_spec *s = spec; s && s->name; s++) {
        if (strchr(s->name, '[') != NULL || strchr(s->name, ']') != NULL)
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "plugin '%s' declares an option with an invalid "
                            "name '%s' (field 'options')",
                            plugin, s->name);
        const char *dot = strchr(s->name, '.');
        if (is_record(s->type)) {
            *any = 1;
            if (dot != NULL || s->default_value != NULL)
                return cap_fail(e, CAP_EXIT_PLUGIN,
                                "plugin '%s' declares the structured option "
                                "'%s' with a dot in its name or a default "
                                "(field 'options')",
                                plugin, s->name);
            continue;
        }
        if (dot == NULL)
            continue;
        *any = 1;
        const capalloc_option_spec *parent =
            spec_named(spec, s->name, (size_t)(dot - s->name));
        if (parent == NULL || !is_record(parent->type) || dot[1] == '\0' ||
            strchr(dot + 1, '.') != NULL || !is_scalar_type(s->type))
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "plugin '%s' declares the field '%s', which "
                            "needs a record or record list option before "
                            "the dot and a scalar type (field 'options')",
                            plugin, s->name);
    }
    return 0;
}

/* Growing the flat spec and map. */
static int add_spec(nested_flat *nf, const char *name, capalloc_opt_type t,
                    const char *dflt, const char *help)
{
    char *nm = strdup(name), *dv = dflt ? strdup(dflt) : NULL;
    capalloc_option_spec *ns =
        realloc(nf->spec, (nf->n_spec + 2) * sizeof *ns);
    char **nn = realloc(nf->owned, (nf->n_owned + 2) * sizeof *nn);
    if (ns != NULL)
        nf->spec = ns;
    if (nn != NULL)
        nf->owned = nn;
    if (nm == NULL || (dflt && dv == NULL) || ns == NULL || nn == NULL) {
        free(nm);
        free(dv);
        return -1;
    }
    nf->owned[nf->n_owned++] = nm;
    if (dv != NULL)
        nf->owned[nf->n_owned++] = dv;
    nf->spec[nf->n_spec++] = (capalloc_option_spec){nm, t, 0, dv, help};
    nf->spec[nf->n_spec] = (capalloc_option_spec){NULL, 0, 0, NULL, NULL};
    return 0;
}

static int add_key(nested_flat *nf, const char *key, const cfg_node *val,
                   int line, int col)
{
    cfg_node *m = nf->map;
    size_t k = m->n;
    char *kc = strdup(key);
    char **keys = realloc(m->keys, (k + 1) * sizeof *keys);
    if (keys != NULL)
        m->keys = keys;
    int *kl = realloc(m->key_lines, (k + 1) * sizeof *kl);
    if (kl != NULL)
        m->key_lines = kl;
    int *kcl = realloc(m->key_cols, (k + 1) * sizeof *kcl);
    if (kcl != NULL)
        m->key_cols = kcl;
    cfg_node **items = realloc(m->items, (k + 1) * sizeof *items);
    if (items != NULL)
        m->items = items;
    if (kc == NULL || keys == NULL || kl == NULL || kcl == NULL ||
        items == NULL) {
        free(kc);
        return -1;
    }
    m->keys[k] = kc;
    m->key_lines[k] = line;
    m->key_cols[k] = col;
    m->items[k] = (cfg_node *)val; /* borrowed from the YAML tree */
    m->n = k + 1;
    return 0;
}

/* "drawdown, scale" into buf: the fields of parent. */
static void field_list(const capalloc_option_spec *spec, const char *parent,
                       char *buf, size_t len)
{
    size_t used = 0, pl = strlen(parent);
    buf[0] = '\0';
    for (const capalloc_option_spec *s = spec; s && s->name; s++)
        if (strncmp(s->name, parent, pl) == 0 && s->name[pl] == '.') {
            int w = snprintf(buf + used, len - used, "%s%s",
                             used ? ", " : "", s->name + pl + 1);
            if (w < 0 || (size_t)w >= len - used)
                break;
            used += (size_t)w;
        }
}

/* One record (a mapping) of option s, at path prefix ("steps[2]" or
 * "reentry"): its fields into the flat map and spec. */
static int one_record(const capalloc_config *cfg, const plugin_cfg *pc,
                      const capalloc_option_spec *spec,
                      const capalloc_option_spec *s, const cfg_node *rec,
                      const char *prefix, int line, int col, nested_flat *nf,
                      cap_error *e)
{
    char key[512], known[512];
    size_t pl = strlen(s->name);
    if (rec->kind != CFG_MAP)
        return nfail(cfg, pc, rec->line, rec->col, prefix, e,
                     "expected a mapping of fields, found %s",
                     rec->kind == CFG_SEQ ? "a sequence" : "a scalar");
    for (size_t k = 0; k < rec->n; k++) {
        int kl = rec->key_lines ? rec->key_lines[k] : rec->line;
        int kc = rec->key_cols ? rec->key_cols[k] : rec->col;
        snprintf(key, sizeof key, "%s.%s", prefix, rec->keys[k]);
        char full[512];
        snprintf(full, sizeof full, "%s.%s", s->name, rec->keys[k]);
        const capalloc_option_spec *f = spec_named(spec, full, strlen(full));
        if (f == NULL) {
            field_list(spec, s->name, known, sizeof known);
            return nfail(cfg, pc, kl, kc, key, e,
                         "unknown field (known: %s)", known);
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(rec->keys[j], rec->keys[k]) == 0)
                return nfail(cfg, pc, kl, kc, key, e,
                             "duplicate key (first at line %d)",
                             rec->key_lines ? rec->key_lines[j] : rec->line);
        if (add_key(nf, key, rec->items[k], kl, kc) != 0)
            return oom(e);
    }
    for (const capalloc_option_spec *f = spec; f && f->name; f++) {
        if (strncmp(f->name, s->name, pl) != 0 || f->name[pl] != '.')
            continue;
        const char *field = f->name + pl + 1;
        int given = cfg_get(rec, field, NULL) != NULL;
        snprintf(key, sizeof key, "%s.%s", prefix, field);
        if (!given && f->required && f->default_value == NULL)
            return nfail(cfg, pc, line, col, key, e,
                         "missing required field");
        if (add_spec(nf, key, f->type, f->default_value, f->help) != 0)
            return oom(e);
    }
    return 0;
}

int nested_flatten(const capalloc_config *cfg, const plugin_cfg *pc,
                   const char *plugin, const capalloc_option_spec *spec,
                   const cfg_node *map, nested_flat *nf, cap_error *e)
{
    int any = 0;
    memset(nf, 0, sizeof *nf);
    int rc = check_nested_spec(plugin, spec, &any, e);
    if (rc != 0 || !any)
        return rc;
    if (map != NULL && map->kind != CFG_MAP)
        return 0; /* options_bind refuses it */
    nf->active = 1;
    nf->map = calloc(1, sizeof *nf->map);
    if (nf->map == NULL || add_spec(nf, "", 0, NULL, NULL) != 0) {
        nested_flat_free(nf);
        return oom(e);
    }
    nf->n_spec = 0; /* the placeholder only made the array */
    nf->spec[0] = (capalloc_option_spec){NULL, 0, 0, NULL, NULL};
    nf->map->kind = CFG_MAP;
    nf->map->line = map ? map->line : 0;
    nf->map->col = map ? map->col : 0;

    /* the plain options: as declared */
    for (const capalloc_option_spec *s = spec; s->name; s++)
        if (!is_record(s->type) && strchr(s->name, '.') == NULL) {
            nf->spec = realloc(nf->spec, (nf->n_spec + 2) * sizeof *nf->spec);
            if (nf->spec == NULL) {
                nested_flat_free(nf);
                return oom(e);
            }
            nf->spec[nf->n_spec++] = *s;
            nf->spec[nf->n_spec] = (capalloc_option_spec){NULL, 0, 0, NULL,
                                                          NULL};
        }
    /* the keys written: plain ones as they are, structured ones
     * flattened; an undeclared one is left for options_bind to refuse,
     * and so is a dotted key (never an option name) */
    for (size_t k = 0; map != NULL && k < map->n; k++) {
        const cfg_node *val = map->items[k];
        int kl = map->key_lines ? map->key_lines[k] : val->line;
        int kc = map->key_cols ? map->key_cols[k] : val->col;
        const capalloc_option_spec *s =
            strchr(map->keys[k], '.') ? NULL
                                      : spec_named(spec, map->keys[k],
                                                   strlen(map->keys[k]));
        if (s == NULL || !is_record(s->type)) {
            if (add_key(nf, map->keys[k], val, kl, kc) != 0) {
                nested_flat_free(nf);
                return oom(e);
            }
            continue;
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(map->keys[j], map->keys[k]) == 0) {
                nested_flat_free(nf);
                return nfail(cfg, pc, kl, kc, map->keys[k], e,
                             "duplicate key (first at line %d)",
                             map->key_lines ? map->key_lines[j] : map->line);
            }
        size_t count = 0;
        char prefix[300];
        if (s->type == CAPALLOC_OPT_RECORD) {
            rc = one_record(cfg, pc, spec, s, val, s->name, kl, kc, nf, e);
            count = 1;
        } else if (val->kind != CFG_SEQ) {
            rc = nfail(cfg, pc, kl, kc, s->name, e,
                       "expected a list of records (- {field: value, ...}), "
                       "found %s",
                       val->kind == CFG_MAP ? "a mapping" : "a scalar");
        } else {
            for (size_t i = 0; rc == 0 && i < val->n; i++) {
                snprintf(prefix, sizeof prefix, "%s[%zu]", s->name, i);
                const cfg_node *rec = val->items[i];
                rc = one_record(cfg, pc, spec, s, rec, prefix, rec->line,
                                rec->col, nf, e);
            }
            count = val->n;
        }
        if (rc != 0) {
            nested_flat_free(nf);
            return rc;
        }
        char cnt[32], name[300];
        snprintf(cnt, sizeof cnt, "%zu", count);
        snprintf(name, sizeof name, "%s[]", s->name);
        if (add_spec(nf, name, CAPALLOC_OPT_INT, cnt, s->help) != 0) {
            nested_flat_free(nf);
            return oom(e);
        }
    }
    /* structured options not written: a count of 0, or missing */
    for (const capalloc_option_spec *s = spec; s->name; s++) {
        if (!is_record(s->type) ||
            (map != NULL && cfg_get(map, s->name, NULL) != NULL))
            continue;
        if (s->required) {
            nested_flat_free(nf);
            return nfail(cfg, pc, 0, 0, s->name, e,
                         "missing required option");
        }
        char name[300];
        snprintf(name, sizeof name, "%s[]", s->name);
        if (add_spec(nf, name, CAPALLOC_OPT_INT, "0", s->help) != 0) {
            nested_flat_free(nf);
            return oom(e);
        }
    }
    return 0;
}

void nested_flat_free(nested_flat *nf)
{
    if (nf->map != NULL) {
        for (size_t k = 0; k < nf->map->n; k++)
            free(nf->map->keys[k]);
        free(nf->map->keys);
        free(nf->map->key_lines);
        free(nf->map->key_cols);
        free(nf->map->items);
        free(nf->map);
    }
    for (size_t i = 0; i < nf->n_owned; i++)
        free(nf->owned[i]);
    free(nf->owned);
    free(nf->spec);
    memset(nf, 0, sizeof *nf);
}

int nested_where(const cfg_node *map, const char *key, int *line, int *col)
{
    /* "steps[2].scale", "steps[2]" */
    const char *br = strchr(key, '[');
    if (map == NULL || map->kind != CFG_MAP || br == NULL)
        return -1;
    char name[256];
    size_t nl = (size_t)(br - key);
    if (nl >= sizeof name)
        return -1;
    memcpy(name, key, nl);
    name[nl] = '\0';
    char *end;
    unsigned long i = strtoul(br + 1, &end, 10);
    const cfg_node *seq = cfg_get(map, name, NULL);
    if (seq == NULL || seq->kind != CFG_SEQ || *end != ']' || i >= seq->n)
        return -1;
    const cfg_node *rec = seq->items[i];
    *line = rec->line;
    *col = rec->col;
    size_t idx;
    if (end[1] == '.' && rec->kind == CFG_MAP &&
        cfg_get(rec, end + 2, &idx) != NULL && rec->key_lines != NULL) {
        *line = rec->key_lines[idx];
        *col = rec->key_cols[idx];
    }
    return 0;
}

size_t opt_list_count(const capalloc_options *o, const char *name)
{
    char key[300];
    int64_t n = 0;
    snprintf(key, sizeof key, "%s[]", name ? name : "");
    return opt_int(o, key, &n) && n > 0 ? (size_t)n : 0;
}
