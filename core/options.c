/*
 * options.c - binds a plugin's YAML options to its declared specs, the
 * opt_* accessors, and the capalloc_host table handed to plugins.
 *
 * Ownership: a capalloc_options owns copies of everything it holds (option
 * names, texts, map keys), so it stays valid whatever happens to the YAML
 * tree or to the plugin's descriptor; options_free() releases all of it.
 *
 * The host table's core_private points at the plugin's name string, which
 * the caller owns (plugin_start passes the descriptor's name, valid as long
 * as the shared object is open). It is only read by host_log().
 *
 * The only global state is the log verbosity (host_set_verbosity).
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "options_nested.h"

typedef struct opt_value {
    char *name;
    capalloc_opt_type type;
    int has;              /* 1: a value (given or default) */
    char *text;           /* STRING (as written), PATH (resolved) */
    int64_t i;            /* INT */
    capalloc_dec d;       /* DECIMAL */
    int b;                /* BOOL */
    size_t n;             /* DECIMAL_MAP: entries, in file order */
    char **keys;
    capalloc_dec *vals;
} opt_value;

struct capalloc_options {
    size_t n;
    opt_value *v;
};

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

/* The key as the user sees it: "<section>.options.<key>", or, for the
 * design's short form, "portfolio_weights[.<entry>]" for the weights
 * option. key may be "weights.3" (option "weights", entry "3"). */
static void display_key(const plugin_cfg *pc, const char *key, char *buf,
                        size_t len)
{
    const char *section = pc->key_path ? pc->key_path : "plugin";
    if (key == NULL || *key == '\0') {
        snprintf(buf, len, "%s", section);
        return;
    }
    if (pc->short_form) {
        size_t wl = strlen("weights");
        if (strncmp(key, "weights", wl) == 0 &&
            (key[wl] == '\0' || key[wl] == '.')) {
            snprintf(buf, len, "portfolio_weights%s", key + wl);
            return;
        }
    }
    snprintf(buf, len, "%s.options.%s", section, key);
}

/* The section's own position: pc->line/col, or 1:1 when defaulted. */
static void section_pos(const plugin_cfg *pc, int *line, int *col)
{
    *line = pc->line > 0 ? pc->line : 1;
    *col = pc->line > 0 && pc->col > 0 ? pc->col : 1;
}

__attribute__((format(printf, 7, 8))) static int
fail_at(const capalloc_config *cfg, const plugin_cfg *pc, int line, int col,
        const char *key, cap_error *e, const char *fmt, ...)
{
    char where[1024], shown[512], what[1024];
    va_list ap;

    if (line <= 0)
        section_pos(pc, &line, &col);
    config_where(cfg, line, col > 0 ? col : 1, where, sizeof where);
    display_key(pc, key, shown, sizeof shown);
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* config_where ends in ": " */
    return cap_fail(e, CAP_EXIT_CONFIG, "%skey '%s': %s", where, shown, what);
}

static const char *node_kind(const cfg_node *n)
{
    switch (n->kind) {
    case CFG_SCALAR:
        return "a scalar";
    case CFG_MAP:
        return "a mapping";
    case CFG_SEQ:
        return "a sequence";
    }
    return "an unknown node";
}

static const char *type_name(capalloc_opt_type t)
{
    switch (t) {
    case CAPALLOC_OPT_STRING:
        return "string";
    case CAPALLOC_OPT_PATH:
        return "path";
    case CAPALLOC_OPT_INT:
        return "integer";
    case CAPALLOC_OPT_DECIMAL:
        return "decimal";
    case CAPALLOC_OPT_BOOL:
        return "boolean";
    case CAPALLOC_OPT_DECIMAL_MAP:
        return "decimal map";
    case CAPALLOC_OPT_RECORD:
        return "record";
    case CAPALLOC_OPT_RECORD_LIST:
        return "list of records";
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Parsing scalars                                                           */
/* ------------------------------------------------------------------------ */

/* Optional '-', then one or more digits, within int64. 0, or ERANGE, or
 * EINVAL. */
static int parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '\0')
        return EINVAL;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return EINVAL;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return ERANGE;
    *out = (int64_t)v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0)
        *out = 0;
    else
        return EINVAL;
    return 0;
}

static const char DEC_HELP[] =
    "is not an exact decimal (digits, optional '.', at most 6 decimal places)";
static const char DEC_RANGE[] =
    "is out of range for an exact decimal (at most 9223372036854.775807)";

static char *join_path(const char *dir, const char *rel)
{
    if (rel[0] == '/' || dir == NULL || *dir == '\0')
        return strdup(rel);
    size_t dl = strlen(dir), rl = strlen(rel);
    char *s = malloc(dl + rl + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, dir, dl);
    size_t k = dl;
    if (k == 0 || s[k - 1] != '/')
        s[k++] = '/';
    memcpy(s + k, rel, rl + 1);
    return s;
}

/* Store text as the value of a scalar option of v->type. Returns 0, or
 * EINVAL / ERANGE (bad value), or ENOMEM. */
static int set_scalar(opt_value *v, const char *text, const capalloc_config *cfg)
{
    switch (v->type) {
    case CAPALLOC_OPT_STRING:
        if ((v->text = strdup(text)) == NULL)
            return ENOMEM;
        break;
    case CAPALLOC_OPT_PATH:
        if (*text == '\0')
            return EINVAL;
        if ((v->text = join_path(cfg ? cfg->dir : NULL, text)) == NULL)
            return ENOMEM;
        break;
    case CAPALLOC_OPT_INT: {
        int rc = parse_int(text, &v->i);
        if (rc)
            return rc;
        break;
    }
    case CAPALLOC_OPT_DECIMAL: {
        capalloc_status st = dec_parse(text, &v->d);
        if (st == CAPALLOC_ERR_OVERFLOW)
            return ERANGE;
        if (st != CAPALLOC_OK)
            return EINVAL;
        break;
    }
    case CAPALLOC_OPT_BOOL:
        if (parse_bool(text, &v->b))
            return EINVAL;
        break;
    case CAPALLOC_OPT_DECIMAL_MAP:
    case CAPALLOC_OPT_RECORD: /* flattened before (options_nested.c) */
    case CAPALLOC_OPT_RECORD_LIST:
        return EINVAL;
    }
    v->has = 1;
    return 0;
}

/* What to say about a refused scalar. */
static void bad_scalar_msg(capalloc_opt_type t, const char *text, int rc,
                           char *buf, size_t len)
{
    switch (t) {
    case CAPALLOC_OPT_PATH:
        snprintf(buf, len, "expected a path, found an empty value");
        break;
    case CAPALLOC_OPT_INT:
        if (rc == ERANGE)
            snprintf(buf, len, "'%s' is out of range for an integer", text);
        else
            snprintf(buf, len,
                     "'%s' is not an integer (digits, optional leading '-')",
                     text);
        break;
    case CAPALLOC_OPT_DECIMAL:
    case CAPALLOC_OPT_DECIMAL_MAP:
        snprintf(buf, len, "'%s' %s", text, rc == ERANGE ? DEC_RANGE : DEC_HELP);
        break;
    case CAPALLOC_OPT_BOOL:
        snprintf(buf, len, "'%s' is not a boolean (true or false)", text);
        break;
    case CAPALLOC_OPT_STRING:
    case CAPALLOC_OPT_RECORD:
    case CAPALLOC_OPT_RECORD_LIST:
        snprintf(buf, len, "'%s' is not a valid string", text);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* options_bind                                                              */
/* ------------------------------------------------------------------------ */

void options_free(capalloc_options *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++) {
        opt_value *v = &o->v[i];
        free(v->name);
        free(v->text);
        for (size_t k = 0; k < v->n; k++)
            free(v->keys[k]);
        free(v->keys);
        free(v->vals);
    }
    free(o->v);
    free(o);
}

static int oom(cap_error *e)
{
    return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
}

/* The plugin's own declaration must make sense before we judge the YAML by
 * it: a bad spec is the plugin's bug (CAP_EXIT_PLUGIN), not the user's. */
static int check_spec(const char *plugin_name, const capalloc_option_spec *spec,
                      int paths, size_t *count, cap_error *e)
{
    size_t n = 0;
    for (const capalloc_option_spec *s = spec; s && s->name; s++, n++) {
        if (*s->name == '\0' || (!paths && strchr(s->name, '.') != NULL))
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "plugin '%s' declares an option with an invalid "
                            "name '%s' (field 'options')",
                            plugin_name, s->name);
        if (type_name(s->type) == NULL)
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "plugin '%s' declares option '%s' with unknown "
                            "type %d (field 'options')",
                            plugin_name, s->name, (int)s->type);
        for (const capalloc_option_spec *t = spec; t != s; t++)
            if (strcmp(t->name, s->name) == 0)
                return cap_fail(e, CAP_EXIT_PLUGIN,
                                "plugin '%s' declares option '%s' twice "
                                "(field 'options')",
                                plugin_name, s->name);
        if (s->default_value != NULL && s->type == CAPALLOC_OPT_DECIMAL_MAP)
            return cap_fail(e, CAP_EXIT_PLUGIN,
                            "plugin '%s' declares a default for option '%s', "
                            "a decimal map (maps have no default)",
                            plugin_name, s->name);
        if (s->default_value != NULL) {
            opt_value probe = {NULL, s->type, 0, NULL, 0, {0}, 0, 0, NULL, NULL};
            int rc = set_scalar(&probe, s->default_value, NULL);
            free(probe.text);
            if (rc == ENOMEM)
                return oom(e);
            if (rc)
                return cap_fail(e, CAP_EXIT_PLUGIN,
                                "plugin '%s' declares option '%s' (%s) with "
                                "an invalid default '%s'",
                                plugin_name, s->name, type_name(s->type),
                                s->default_value);
        }
    }
    *count = n;
    return 0;
}

typedef struct key_at {
    const char *key;
    size_t at;
} key_at;

static int cmp_key_at(const void *a, const void *b)
{
    const key_at *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/* The first repeated key of map node (the smallest k whose key an earlier
 * entry j has): *dup = k, *first = j; *dup = node->n when none. Sorted by
 * (key, position): n log n, so 80,000 weights load in well under a second.
 * 0, or -1 when out of memory. */
static int first_duplicate(const cfg_node *node, size_t *dup, size_t *first)
{
    *dup = node->n;
    if (node->n < 2)
        return 0;
    key_at *s = malloc(node->n * sizeof *s);
    if (s == NULL)
        return -1;
    for (size_t k = 0; k < node->n; k++)
        s[k] = (key_at){node->keys[k], k};
    qsort(s, node->n, sizeof *s, cmp_key_at);
    for (size_t i = 1; i < node->n; i++)
        if (strcmp(s[i - 1].key, s[i].key) == 0 && s[i].at < *dup) {
            /* s[i - 1] is an earlier entry with this key; the group's
             * lowest position is the first occurrence */
            size_t g = i - 1;
            while (g > 0 && strcmp(s[g - 1].key, s[i].key) == 0)
                g--;
            *dup = s[i].at;
            *first = s[g].at;
        }
    free(s);
    return 0;
}

static int bind_map(const capalloc_config *cfg, const plugin_cfg *pc,
                    opt_value *v, const cfg_node *node, cap_error *e)
{
    char key[512];
    v->has = 1;
    if (node->n == 0)
        return 0;
    v->keys = calloc(node->n, sizeof *v->keys);
    v->vals = calloc(node->n, sizeof *v->vals);
    size_t dup = node->n, first = 0;
    if (v->keys == NULL || v->vals == NULL ||
        first_duplicate(node, &dup, &first) != 0)
        return oom(e);
    for (size_t k = 0; k < node->n; k++) {
        const cfg_node *val = node->items[k];
        capalloc_status st = CAPALLOC_OK;
        if (k != dup && val->kind == CFG_SCALAR &&
            (st = dec_parse(val->value, &v->vals[k])) == CAPALLOC_OK) {
            /* the common case: no message, so no key path formatted */
            if ((v->keys[k] = strdup(node->keys[k])) == NULL)
                return oom(e);
            v->n = k + 1;
            continue;
        }
        int line = node->key_lines ? node->key_lines[k] : node->line;
        int col = node->key_cols ? node->key_cols[k] : node->col;
        snprintf(key, sizeof key, "%s.%s", v->name, node->keys[k]);
        if (k == dup)
            return fail_at(cfg, pc, line, col, key, e,
                           "duplicate key (first at line %d)",
                           node->key_lines ? node->key_lines[first]
                                           : node->line);
        if (val->kind != CFG_SCALAR)
            return fail_at(cfg, pc, line, col, key, e,
                           "expected a scalar, found %s", node_kind(val));
        return fail_at(cfg, pc, line, col, key, e, "'%s' %s", val->value,
                       st == CAPALLOC_ERR_OVERFLOW ? DEC_RANGE : DEC_HELP);
    }
    return 0;
}

/* "path, busy_timeout_ms" */
static void known_list(const capalloc_option_spec *spec, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const capalloc_option_spec *s = spec; s && s->name; s++) {
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         s->name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

/* options_bind() on a spec and mapping; paths: they are the flattened
 * ones of options_nested.c, declared: the plugin's own spec (for the list
 * of known options). */
static int bind_flat(const capalloc_config *cfg, const plugin_cfg *pc,
                     const char *plugin_name, const capalloc_option_spec *spec,
                     const cfg_node *map, int paths,
                     const capalloc_option_spec *declared,
                     capalloc_options **out, cap_error *e)
{
    capalloc_options *o = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (plugin_name == NULL)
        plugin_name = "?";
    if ((rc = check_spec(plugin_name, spec, paths, &n, e)) != 0)
        return rc;
    if (map != NULL && map->kind != CFG_MAP) {
        char where[1024];
        config_where(cfg, map->line, map->col, where, sizeof where);
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "%skey '%s.options': expected a mapping, found %s",
                        where, pc->key_path ? pc->key_path : "plugin",
                        node_kind(map));
    }

    /* Every key the user wrote must be declared. */
    for (size_t k = 0; map && k < map->n; k++) {
        int line = map->key_lines ? map->key_lines[k] : map->line;
        int col = map->key_cols ? map->key_cols[k] : map->col;
        const capalloc_option_spec *s = spec;
        while (s && s->name && strcmp(s->name, map->keys[k]) != 0)
            s++;
        if (s == NULL || s->name == NULL) {
            if (n == 0)
                return fail_at(cfg, pc, line, col, map->keys[k], e,
                               "plugin '%s' takes no options", plugin_name);
            char known[512];
            known_list(declared, known, sizeof known);
            /* A secret written in the config where the plugin takes the
             * name of an environment variable (api_key -> api_key_env):
             * say so, without repeating the value. */
            char env_name[160];
            snprintf(env_name, sizeof env_name, "%s_env", map->keys[k]);
            const capalloc_option_spec *env = spec;
            while (env && env->name && strcmp(env->name, env_name) != 0)
                env++;
            if (env && env->name)
                return fail_at(cfg, pc, line, col, map->keys[k], e,
                               "plugin '%s' does not take '%s' in the "
                               "config: put it in an environment variable "
                               "and name that variable with the option "
                               "'%s' (default %s); remove the value from "
                               "this file",
                               plugin_name, map->keys[k], env->name,
                               env->default_value ? env->default_value
                                                  : "none");
            return fail_at(cfg, pc, line, col, map->keys[k], e,
                           "unknown option for plugin '%s' (known: %s)",
                           plugin_name, known);
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(map->keys[j], map->keys[k]) == 0)
                return fail_at(cfg, pc, line, col, map->keys[k], e,
                               "duplicate key (first at line %d)",
                               map->key_lines ? map->key_lines[j] : map->line);
    }

    o = calloc(1, sizeof *o);
    if (o == NULL || (n > 0 && (o->v = calloc(n, sizeof *o->v)) == NULL)) {
        free(o);
        return oom(e);
    }
    o->n = n;
    for (size_t i = 0; i < n; i++) {
        const capalloc_option_spec *s = &spec[i];
        opt_value *v = &o->v[i];
        size_t k = 0;
        const cfg_node *val = NULL;

        v->type = s->type;
        if ((v->name = strdup(s->name)) == NULL) {
            rc = oom(e);
            goto fail;
        }
        for (k = 0; map && k < map->n; k++)
            if (strcmp(map->keys[k], s->name) == 0) {
                val = map->items[k];
                break;
            }

        if (val == NULL) {
            if (s->default_value != NULL) {
                rc = set_scalar(v, s->default_value, cfg);
                if (rc) { /* check_spec accepted it: only ENOMEM is left */
                    rc = oom(e);
                    goto fail;
                }
            } else if (s->required) {
                rc = fail_at(cfg, pc, 0, 0, s->name, e,
                             "missing required option");
                goto fail;
            }
            continue;
        }

        int line = map->key_lines ? map->key_lines[k] : val->line;
        int col = map->key_cols ? map->key_cols[k] : val->col;
        if (s->type == CAPALLOC_OPT_DECIMAL_MAP) {
            if (val->kind != CFG_MAP) {
                rc = fail_at(cfg, pc, line, col, s->name, e,
                             "expected a mapping, found %s", node_kind(val));
                goto fail;
            }
            if ((rc = bind_map(cfg, pc, v, val, e)) != 0)
                goto fail;
            continue;
        }
        if (val->kind != CFG_SCALAR) {
            rc = fail_at(cfg, pc, line, col, s->name, e,
                         "expected a scalar, found %s", node_kind(val));
            goto fail;
        }
        rc = set_scalar(v, val->value, cfg);
        if (rc == ENOMEM) {
            rc = oom(e);
            goto fail;
        }
        if (rc) {
            char what[768];
            bad_scalar_msg(s->type, val->value, rc, what, sizeof what);
            rc = fail_at(cfg, pc, line, col, s->name, e, "%s", what);
            goto fail;
        }
    }
    *out = o;
    return 0;
fail:
    options_free(o);
    return rc;
}

int options_bind(const capalloc_config *cfg, const plugin_cfg *pc,
                 const char *plugin_name, const capalloc_option_spec *spec,
                 capalloc_options **out, cap_error *e)
{
    /* structured options (RECORD, RECORD_LIST) are checked and flattened
     * into scalar options named by their path first */
    nested_flat nf;
    *out = NULL;
    int rc = nested_flatten(cfg, pc, plugin_name ? plugin_name : "?", spec,
                            pc->options, &nf, e);
    if (rc != 0)
        return rc;
    rc = bind_flat(cfg, pc, plugin_name, nf.active ? nf.spec : spec,
                   nf.active ? nf.map : pc->options, nf.active, spec, out, e);
    nested_flat_free(&nf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* options_where                                                             */
/* ------------------------------------------------------------------------ */

/* Locations come from the YAML tree (pc->options), which lives as long as
 * cfg; o is not needed for them and may be NULL. */
void options_where(const capalloc_config *cfg, const plugin_cfg *pc,
                   const capalloc_options *o, const char *key, char *buf,
                   size_t len)
{
    const cfg_node *map = pc->options;
    int line = 0, col = 0;
    char name[256], where[1024], shown[512];

    (void)o;
    if (key == NULL)
        key = "";
    /* "weights.3": option "weights", entry "3" (the entry may hold dots) */
    const char *dot = strchr(key, '.');
    size_t nl = dot ? (size_t)(dot - key) : strlen(key);
    if (nl >= sizeof name)
        nl = sizeof name - 1;
    memcpy(name, key, nl);
    name[nl] = '\0';

    for (size_t k = 0; *name && map && map->kind == CFG_MAP && k < map->n; k++) {
        if (strcmp(map->keys[k], name) != 0)
            continue;
        line = map->key_lines ? map->key_lines[k] : map->items[k]->line;
        col = map->key_cols ? map->key_cols[k] : map->items[k]->col;
        const cfg_node *val = map->items[k];
        if (dot && val->kind == CFG_MAP) {
            for (size_t j = 0; j < val->n; j++)
                if (strcmp(val->keys[j], dot + 1) == 0) {
                    line = val->key_lines ? val->key_lines[j] : val->items[j]->line;
                    col = val->key_cols ? val->key_cols[j] : val->items[j]->col;
                    break;
                }
        }
        break;
    }
    if (line <= 0)
        nested_where(pc->options, key, &line, &col); /* "steps[2].scale" */
    if (line <= 0)
        section_pos(pc, &line, &col);
    config_where(cfg, line, col > 0 ? col : 1, where, sizeof where);
    display_key(pc, key, shown, sizeof shown);
    snprintf(buf, len, "%skey '%s'", where, shown);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

/* The option called name, if it has a value of type t. A plugin asking
 * for an option it did not declare, or with the wrong accessor, gets 0. */
static const opt_value *find(const capalloc_options *o, const char *name,
                             capalloc_opt_type t)
{
    if (o == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i].name, name) == 0)
            return o->v[i].has && o->v[i].type == t ? &o->v[i] : NULL;
    return NULL;
}

int opt_string(const capalloc_options *o, const char *name, const char **out)
{
    const opt_value *v = find(o, name, CAPALLOC_OPT_STRING);
    if (v == NULL)
        v = find(o, name, CAPALLOC_OPT_PATH);
    if (v == NULL)
        return 0;
    if (out)
        *out = v->text;
    return 1;
}

int opt_int(const capalloc_options *o, const char *name, int64_t *out)
{
    const opt_value *v = find(o, name, CAPALLOC_OPT_INT);
    if (v == NULL)
        return 0;
    if (out)
        *out = v->i;
    return 1;
}

int opt_decimal(const capalloc_options *o, const char *name, capalloc_dec *out)
{
    const opt_value *v = find(o, name, CAPALLOC_OPT_DECIMAL);
    if (v == NULL)
        return 0;
    if (out)
        *out = v->d;
    return 1;
}

int opt_bool(const capalloc_options *o, const char *name, int *out)
{
    const opt_value *v = find(o, name, CAPALLOC_OPT_BOOL);
    if (v == NULL)
        return 0;
    if (out)
        *out = v->b;
    return 1;
}

size_t opt_map_count(const capalloc_options *o, const char *name)
{
    const opt_value *v = find(o, name, CAPALLOC_OPT_DECIMAL_MAP);
    return v ? v->n : 0;
}

int opt_map_entry(const capalloc_options *o, const char *name, size_t i,
                  const char **key, capalloc_dec *value)
{
    const opt_value *v = find(o, name, CAPALLOC_OPT_DECIMAL_MAP);
    if (v == NULL || i >= v->n)
        return 0;
    if (key)
        *key = v->keys[i];
    if (value)
        *value = v->vals[i];
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The host table                                                            */
/* ------------------------------------------------------------------------ */

static capalloc_log_level verbosity = CAPALLOC_LOG_WARNING;

void host_set_verbosity(capalloc_log_level max)
{
    verbosity = max;
}

static const char *level_name(capalloc_log_level l)
{
    switch (l) {
    case CAPALLOC_LOG_ERROR:
        return "error";
    case CAPALLOC_LOG_WARNING:
        return "warning";
    case CAPALLOC_LOG_INFO:
        return "info";
    case CAPALLOC_LOG_DEBUG:
        return "debug";
    }
    return "log";
}

/* One line: newlines and other control characters become spaces, and a
 * cut never leaves half a UTF-8 sequence. */
static void one_line(char *s, int truncated)
{
    size_t n = strlen(s);
    if (truncated) {
        size_t k = n;
        while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
            k--;
        /* k-1 is the last lead byte (or ASCII); drop it if incomplete */
        if (k > 0 && ((unsigned char)s[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)s[k - 1];
            size_t need = (lead & 0xE0) == 0xC0   ? 2
                          : (lead & 0xF0) == 0xE0 ? 3
                          : (lead & 0xF8) == 0xF0 ? 4
                                                  : 1;
            if (n - (k - 1) < need)
                n = k - 1;
        }
        s[n] = '\0';
    }
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
}

__attribute__((format(printf, 3, 4))) static void
host_log(const capalloc_host *h, capalloc_log_level level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (level > verbosity || fmt == NULL)
        return;
    va_start(ap, fmt);
    int w = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    one_line(msg, (size_t)w >= sizeof msg);
    const char *instance = h && h->instance ? h->instance : "?";
    const char *plugin = h && h->core_private ? (const char *)h->core_private : "?";
    fprintf(stderr, "capalloc: [%s %s] %s: %s\n", instance, plugin,
            level_name(level), msg);
}

__attribute__((format(printf, 3, 4))) static void
host_set_error(capalloc_err *err, const char *key, const char *fmt, ...)
{
    /* Format into locals first: the arguments may point into *err itself
     * (a plugin wrapping its own earlier message). */
    char k[sizeof err->key] = {0}, m[sizeof err->msg] = {0}; /* whole
                                 buffers are copied: no uninitialised tail */
    va_list ap;

    if (err == NULL)
        return;
    int kw = snprintf(k, sizeof k, "%s", key ? key : "");
    one_line(k, kw >= 0 && (size_t)kw >= sizeof k);
    m[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        int mw = vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        if (mw < 0)
            m[0] = '\0';
        one_line(m, mw >= 0 && (size_t)mw >= sizeof m);
    }
    memcpy(err->key, k, sizeof k);
    memcpy(err->msg, m, sizeof m);
}

static capalloc_status host_dec_parse(const char *text, capalloc_dec *out)
{
    if (out == NULL)
        return CAPALLOC_ERR_INVALID;
    return dec_parse(text, out);
}

static char *host_dec_format(capalloc_dec d, int min_places, char *buf,
                             size_t len)
{
    if (buf == NULL || len == 0)
        return buf;
    return dec_format(d, min_places, buf, len);
}

static capalloc_status host_dec_add(capalloc_dec a, capalloc_dec b,
                                    capalloc_dec *out)
{
    return out ? dec_add(a, b, out) : CAPALLOC_ERR_INVALID;
}

static capalloc_status host_dec_sub(capalloc_dec a, capalloc_dec b,
                                    capalloc_dec *out)
{
    return out ? dec_sub(a, b, out) : CAPALLOC_ERR_INVALID;
}

static int valid_round(capalloc_round r)
{
    return r == CAPALLOC_ROUND_DOWN || r == CAPALLOC_ROUND_HALF_EVEN;
}

static capalloc_status host_dec_mul(capalloc_dec a, capalloc_dec b,
                                    capalloc_round r, capalloc_dec *out)
{
    if (out == NULL || !valid_round(r))
        return CAPALLOC_ERR_INVALID;
    return dec_mul(a, b, r, out);
}

static capalloc_status host_dec_div(capalloc_dec a, capalloc_dec b,
                                    capalloc_round r, capalloc_dec *out)
{
    if (out == NULL || !valid_round(r))
        return CAPALLOC_ERR_INVALID;
    return dec_div(a, b, r, out);
}

static int host_dec_cmp(capalloc_dec a, capalloc_dec b)
{
    return dec_cmp(a, b);
}

void host_init(capalloc_host *h, const capalloc_config *cfg,
               const char *instance, const char *plugin_name)
{
    memset(h, 0, sizeof *h);
    h->struct_size = (uint32_t)sizeof *h;
    h->abi_major = CAPALLOC_ABI_MAJOR;
    h->abi_minor = CAPALLOC_ABI_MINOR;
    h->master_id = cfg ? cfg->master_id : NULL;
    h->currency = cfg ? cfg->currency : NULL;
    h->minor_units = cfg ? cfg->minor_units : 0;
    h->instance = instance;
    h->log = host_log;
    h->set_error = host_set_error;
    h->opt_string = opt_string;
    h->opt_int = opt_int;
    h->opt_decimal = opt_decimal;
    h->opt_bool = opt_bool;
    h->opt_map_count = opt_map_count;
    h->opt_map_entry = opt_map_entry;
    h->opt_list_count = opt_list_count;
    h->dec_parse = host_dec_parse;
    h->dec_format = host_dec_format;
    h->dec_add = host_dec_add;
    h->dec_sub = host_dec_sub;
    h->dec_mul = host_dec_mul;
    h->dec_div = host_dec_div;
    h->dec_cmp = host_dec_cmp;
    /* borrowed: the caller keeps plugin_name alive as long as h */
    h->core_private = (void *)(uintptr_t)plugin_name;
}
