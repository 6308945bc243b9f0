/*
 * config.c - the YAML configuration: libyaml events -> a cfg_node tree that
 * keeps every node's line and column, then a check of the top level.
 *
 * Parsing refuses, before anything is validated: YAML syntax errors, more
 * than one document, an empty file or document, anchors, aliases and tags
 * other than the core ones (!!str, !!map, !!seq), keys that are not
 * scalars, empty keys, NUL characters, nesting deeper than CFG_MAX_DEPTH and
 * duplicate keys in any mapping at any depth. Scalars are kept as the text
 * written: nothing is ever converted to a number here.
 *
 * Every refusal is "FILE:LINE:COL: key 'a.b.c': what" (key omitted when the
 * problem is about no key) with CAP_EXIT_CONFIG; out of memory is
 * CAP_EXIT_INTERNAL. Nothing is returned on failure and nothing leaks.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define CFG_MAX_DEPTH 64
#define CFG_MAX_BYTES (16u * 1024u * 1024u) /* far more than any config */
#define CFG_DEFAULT_FILE "./capalloc.yaml"
#define CFG_ENV "CAPALLOC_CONFIG"

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

/* Messages are one line: control characters a key or value brought in
 * (a quoted "\n" in a key, say) are shown as '?'. */
static void sanitize(cap_error *e)
{
    if (e == NULL)
        return;
    for (char *p = e->msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
}

static int loc_fail(cap_error *e, cap_exit code, const char *file, int line,
                    int col, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int loc_fail(cap_error *e, cap_exit code, const char *file, int line,
                    int col, const char *key, const char *fmt, ...)
{
    char what[1024];
    char where[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(where, sizeof where, "%s:%d:%d", file, line, col > 0 ? col : 1);
    else
        snprintf(where, sizeof where, "%s", file);
    if (key != NULL && key[0] != '\0')
        cap_fail(e, code, "%s: key '%s': %s", where, key, what);
    else
        cap_fail(e, code, "%s: %s", where, what);
    sanitize(e);
    return (int)code;
}

int config_fail(cap_error *e, const char *file, int line, int col,
                const char *key, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return loc_fail(e, CAP_EXIT_CONFIG, file, line, col, key, "%s", what);
}

static int oom(cap_error *e, const char *file)
{
    return cap_fail(e, CAP_EXIT_INTERNAL, "%s: out of memory reading the configuration",
                    file != NULL ? file : "config");
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static char *str_dup_n(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r != NULL) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static char *str_dup(const char *s)
{
    return str_dup_n(s, strlen(s));
}

/* "parent.key", or "key" at the top. */
static char *path_key(const char *parent, const char *key)
{
    size_t pl = strlen(parent), kl = strlen(key);
    char *r = malloc(pl + kl + 2);
    if (r == NULL)
        return NULL;
    if (pl == 0) {
        memcpy(r, key, kl + 1);
    } else {
        memcpy(r, parent, pl);
        r[pl] = '.';
        memcpy(r + pl + 1, key, kl + 1);
    }
    return r;
}

/* "parent[i]" (0-based, as jq writes it). */
static char *path_index(const char *parent, size_t i)
{
    size_t pl = strlen(parent);
    char *r = malloc(pl + 24);
    if (r != NULL)
        snprintf(r, pl + 24, "%s[%zu]", parent, i);
    return r;
}

/* A set of strings (by index into an array the caller owns), to find
 * duplicates in linear time: open addressing, slots hold index + 1. */
typedef struct strset {
    size_t *slots;
    size_t cap, used;
} strset;

static uint64_t str_hash(const char *s)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Add strs[idx]. Returns 0 when added, 1 when equal to strs[*first]
 * (already in the set), -1 when out of memory. */
static int strset_add(strset *s, const char *const *strs, size_t idx,
                      size_t *first)
{
    if ((s->used + 1) * 2 > s->cap) {
        size_t ncap = s->cap != 0 ? s->cap * 2 : 16;
        size_t *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i] == 0)
                continue;
            size_t j = (size_t)str_hash(strs[s->slots[i] - 1]) & (ncap - 1);
            while (ns[j] != 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    size_t j = (size_t)str_hash(strs[idx]) & (s->cap - 1);
    while (s->slots[j] != 0) {
        if (strcmp(strs[s->slots[j] - 1], strs[idx]) == 0) {
            *first = s->slots[j] - 1;
            return 1;
        }
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = idx + 1;
    s->used++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                    */
/* ------------------------------------------------------------------------ */

static void node_free(cfg_node *n)
{
    if (n == NULL)
        return;
    free(n->value);
    if (n->kind == CFG_MAP && n->keys != NULL)
        for (size_t i = 0; i < n->n; i++)
            free(n->keys[i]);
    if (n->items != NULL)
        for (size_t i = 0; i < n->n; i++)
            node_free(n->items[i]);
    free(n->keys);
    free(n->key_lines);
    free(n->key_cols);
    free(n->items);
    free(n);
}

static cfg_node *node_new(cfg_kind kind, yaml_mark_t mark)
{
    cfg_node *n = calloc(1, sizeof *n);
    if (n != NULL) {
        n->kind = kind;
        n->line = (int)mark.line + 1;
        n->col = (int)mark.column + 1;
    }
    return n;
}

/* Room for one more entry (map: all four arrays; seq: items). */
static int node_reserve(cfg_node *n, size_t *cap)
{
    if (n->n < *cap)
        return 0;
    size_t nc = *cap != 0 ? *cap * 2 : 4;
    cfg_node **items = realloc(n->items, nc * sizeof *items);
    if (items == NULL)
        return -1;
    n->items = items;
    if (n->kind == CFG_MAP) {
        char **keys = realloc(n->keys, nc * sizeof *keys);
        if (keys == NULL)
            return -1;
        n->keys = keys;
        int *kl = realloc(n->key_lines, nc * sizeof *kl);
        if (kl == NULL)
            return -1;
        n->key_lines = kl;
        int *kc = realloc(n->key_cols, nc * sizeof *kc);
        if (kc == NULL)
            return -1;
        n->key_cols = kc;
    }
    *cap = nc;
    return 0;
}

cfg_node *cfg_get(const cfg_node *map, const char *key, size_t *idx)
{
    if (map == NULL || key == NULL || map->kind != CFG_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            if (idx != NULL)
                *idx = i;
            return map->items[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* YAML -> tree                                                             */
/* ------------------------------------------------------------------------ */

typedef struct yparse {
    yaml_parser_t parser;
    const char *file;
    const unsigned char *buf;
    size_t len;
    cap_error *e;
} yparse;

/* 1-based line and column of a byte offset (columns count characters). */
static void offset_to_mark(const yparse *p, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > p->len)
        off = p->len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = p->buf[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int syntax_fail(yparse *p)
{
    const yaml_parser_t *y = &p->parser;
    const char *problem = y->problem != NULL ? y->problem : "unknown error";
    int line, col;

    if (y->error == YAML_MEMORY_ERROR)
        return oom(p->e, p->file);
    if (y->error == YAML_READER_ERROR) {
        offset_to_mark(p, y->problem_offset, &line, &col);
        if (y->problem_value != -1)
            return loc_fail(p->e, CAP_EXIT_CONFIG, p->file, line, col, NULL,
                            "YAML syntax error: %s (byte #x%X at offset %zu)",
                            problem, (unsigned)y->problem_value,
                            y->problem_offset);
        return loc_fail(p->e, CAP_EXIT_CONFIG, p->file, line, col, NULL,
                        "YAML syntax error: %s", problem);
    }
    line = (int)y->problem_mark.line + 1;
    col = (int)y->problem_mark.column + 1;
    if (y->context != NULL)
        return loc_fail(p->e, CAP_EXIT_CONFIG, p->file, line, col, NULL,
                        "YAML syntax error: %s (%s at line %d, column %d)",
                        problem, y->context, (int)y->context_mark.line + 1,
                        (int)y->context_mark.column + 1);
    return loc_fail(p->e, CAP_EXIT_CONFIG, p->file, line, col, NULL,
                    "YAML syntax error: %s", problem);
}

static int next_event(yparse *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->parser, ev))
        return syntax_fail(p);
    return 0;
}

static int node_fail(yparse *p, yaml_mark_t m, const char *path,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int node_fail(yparse *p, yaml_mark_t m, const char *path,
                     const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return loc_fail(p->e, CAP_EXIT_CONFIG, p->file, (int)m.line + 1,
                    (int)m.column + 1, path, "%s", what);
}

#define TAG_PREFIX "tag:yaml.org,2002:"

/* Anchors and aliases are refused (a config is small: write it out); tags
 * other than the core string/mapping/sequence ones are refused because the
 * tree keeps text, never typed values. Sets *is_str for !!str. */
static int check_props(yparse *p, yaml_mark_t m, const char *path,
                       const yaml_char_t *anchor, const yaml_char_t *tag,
                       const char *allowed, int *is_str)
{
    if (anchor != NULL)
        return node_fail(p, m, path,
                         "YAML anchors (&%s) and aliases are not supported: "
                         "write the value out in full",
                         (const char *)anchor);
    if (tag == NULL)
        return 0;
    const char *t = (const char *)tag;
    size_t pl = strlen(TAG_PREFIX);
    if (strncmp(t, TAG_PREFIX, pl) == 0 && strcmp(t + pl, allowed) == 0) {
        if (is_str != NULL)
            *is_str = 1;
        return 0;
    }
    if (strncmp(t, TAG_PREFIX, pl) == 0)
        return node_fail(p, m, path,
                         "YAML tag '!!%s' is not supported (every value is "
                         "read as text; remove the tag)",
                         t + pl);
    return node_fail(p, m, path,
                     "YAML tag '%s' is not supported (every value is read "
                     "as text; remove the tag)",
                     t);
}

static int is_null_text(const char *v)
{
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *event_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a sequence";
    case YAML_ALIAS_EVENT:
        return "an alias";
    default:
        return "a scalar";
    }
}

static int parse_node(yparse *p, yaml_event_t *ev, const char *path,
                      int depth, cfg_node **out);

static int parse_scalar(yparse *p, yaml_event_t *ev, const char *path,
                        cfg_node **out)
{
    int is_str = 0;
    int rc = check_props(p, ev->start_mark, path, ev->data.scalar.anchor,
                         ev->data.scalar.tag, "str", &is_str);
    if (rc != 0)
        return rc;
    const char *v = (const char *)ev->data.scalar.value;
    size_t vl = ev->data.scalar.length;
    if (memchr(v, '\0', vl) != NULL)
        return node_fail(p, ev->start_mark, path,
                         "a NUL character is not allowed in a value");
    cfg_node *n = node_new(CFG_SCALAR, ev->start_mark);
    if (n == NULL || (n->value = str_dup_n(v, vl)) == NULL) {
        node_free(n);
        return oom(p->e, p->file);
    }
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !is_str;
    *out = n;
    return 0;
}

static int parse_seq(yparse *p, yaml_event_t *ev, const char *path, int depth,
                     cfg_node **out)
{
    int rc = check_props(p, ev->start_mark, path,
                         ev->data.sequence_start.anchor,
                         ev->data.sequence_start.tag, "seq", NULL);
    if (rc != 0)
        return rc;
    cfg_node *n = node_new(CFG_SEQ, ev->start_mark);
    if (n == NULL)
        return oom(p->e, p->file);
    size_t cap = 0;
    for (;;) {
        yaml_event_t item;
        if ((rc = next_event(p, &item)) != 0)
            break;
        if (item.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&item);
            *out = n;
            return 0;
        }
        char *ipath = path_index(path, n->n);
        cfg_node *child = NULL;
        if (ipath == NULL || node_reserve(n, &cap) != 0)
            rc = oom(p->e, p->file);
        else
            rc = parse_node(p, &item, ipath, depth + 1, &child);
        free(ipath);
        yaml_event_delete(&item);
        if (rc != 0)
            break;
        n->items[n->n++] = child;
    }
    node_free(n);
    return rc;
}

static int parse_map(yparse *p, yaml_event_t *ev, const char *path, int depth,
                     cfg_node **out)
{
    int rc = check_props(p, ev->start_mark, path,
                         ev->data.mapping_start.anchor,
                         ev->data.mapping_start.tag, "map", NULL);
    if (rc != 0)
        return rc;
    cfg_node *n = node_new(CFG_MAP, ev->start_mark);
    if (n == NULL)
        return oom(p->e, p->file);
    size_t cap = 0;
    strset seen = {0};
    for (;;) {
        yaml_event_t kev;
        if ((rc = next_event(p, &kev)) != 0)
            break;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            free(seen.slots);
            *out = n;
            return 0;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            rc = node_fail(p, kev.start_mark, path,
                           "a mapping key must be a scalar, found %s",
                           event_kind(&kev));
            yaml_event_delete(&kev);
            break;
        }
        cfg_node *key = NULL;
        rc = parse_scalar(p, &kev, path, &key);
        yaml_event_delete(&kev);
        if (rc != 0)
            break;
        if (key->plain && is_null_text(key->value)) {
            rc = loc_fail(p->e, CAP_EXIT_CONFIG, p->file, key->line, key->col,
                          path, "a mapping key must not be empty (null)");
            node_free(key);
            break;
        }
        if (key->value[0] == '\0') {
            rc = loc_fail(p->e, CAP_EXIT_CONFIG, p->file, key->line, key->col,
                          path, "a mapping key must not be empty");
            node_free(key);
            break;
        }
        char *kpath = path_key(path, key->value);
        if (kpath == NULL || node_reserve(n, &cap) != 0) {
            free(kpath);
            node_free(key);
            rc = oom(p->e, p->file);
            break;
        }
        /* Take the key into the map now: from here on n owns it. */
        size_t i = n->n;
        n->keys[i] = key->value;
        n->key_lines[i] = key->line;
        n->key_cols[i] = key->col;
        n->items[i] = NULL;
        key->value = NULL;
        node_free(key);
        n->n++;

        size_t first = 0;
        int dup = strset_add(&seen, (const char *const *)n->keys, i, &first);
        if (dup != 0) {
            if (dup < 0)
                rc = oom(p->e, p->file);
            else
                rc = loc_fail(p->e, CAP_EXIT_CONFIG, p->file, n->key_lines[i],
                              n->key_cols[i], kpath,
                              "duplicate key (first at line %d)",
                              n->key_lines[first]);
            free(kpath);
            break;
        }

        yaml_event_t vev;
        if ((rc = next_event(p, &vev)) != 0) {
            free(kpath);
            break;
        }
        rc = parse_node(p, &vev, kpath, depth + 1, &n->items[i]);
        yaml_event_delete(&vev);
        free(kpath);
        if (rc != 0)
            break;
    }
    free(seen.slots);
    node_free(n);
    return rc;
}

/* Build the node that starts with ev (not consumed: the caller deletes ev). */
static int parse_node(yparse *p, yaml_event_t *ev, const char *path,
                      int depth, cfg_node **out)
{
    if (depth > CFG_MAX_DEPTH)
        return node_fail(p, ev->start_mark, path,
                         "nested deeper than %d levels", CFG_MAX_DEPTH);
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return parse_scalar(p, ev, path, out);
    case YAML_SEQUENCE_START_EVENT:
        return parse_seq(p, ev, path, depth, out);
    case YAML_MAPPING_START_EVENT:
        return parse_map(p, ev, path, depth, out);
    case YAML_ALIAS_EVENT:
        return node_fail(p, ev->start_mark, path,
                         "YAML aliases (*%s) and anchors are not supported: "
                         "write the value out in full",
                         (const char *)ev->data.alias.anchor);
    default:
        return node_fail(p, ev->start_mark, path,
                         "unexpected YAML event %d (internal error)",
                         (int)ev->type);
    }
}

/* The whole stream: exactly one document whose root is a non-empty node. */
static int parse_stream(yparse *p, cfg_node **root)
{
    yaml_event_t ev;
    int rc;

    if ((rc = next_event(p, &ev)) != 0)
        return rc;
    yaml_event_delete(&ev); /* STREAM-START */
    if ((rc = next_event(p, &ev)) != 0)
        return rc;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return loc_fail(p->e, CAP_EXIT_CONFIG, p->file, 1, 1, NULL,
                        "the configuration file is empty (it needs at least "
                        "master_portfolio_id and currency)");
    }
    yaml_mark_t doc_mark = ev.start_mark;
    yaml_event_delete(&ev); /* DOCUMENT-START */

    if ((rc = next_event(p, &ev)) != 0)
        return rc;
    if (ev.type == YAML_SCALAR_EVENT &&
        ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        ev.data.scalar.tag == NULL &&
        is_null_text((const char *)ev.data.scalar.value)) {
        rc = node_fail(p, doc_mark, NULL,
                       "the configuration document is empty (it needs at "
                       "least master_portfolio_id and currency)");
        yaml_event_delete(&ev);
        return rc;
    }
    cfg_node *n = NULL;
    rc = parse_node(p, &ev, "", 0, &n);
    yaml_event_delete(&ev);
    if (rc != 0)
        return rc;

    if ((rc = next_event(p, &ev)) != 0) { /* DOCUMENT-END */
        node_free(n);
        return rc;
    }
    yaml_event_delete(&ev);
    if ((rc = next_event(p, &ev)) != 0) {
        node_free(n);
        return rc;
    }
    if (ev.type != YAML_STREAM_END_EVENT) {
        rc = node_fail(p, ev.start_mark, NULL,
                       "more than one YAML document ('---'): a configuration "
                       "is exactly one document");
        yaml_event_delete(&ev);
        node_free(n);
        return rc;
    }
    yaml_event_delete(&ev);
    *root = n;
    return 0;
}

static int parse_buffer(const char *file, const unsigned char *buf, size_t len,
                        cfg_node **root, cap_error *e)
{
    yparse p;
    memset(&p, 0, sizeof p);
    p.file = file;
    p.buf = buf;
    p.len = len;
    p.e = e;
    if (!yaml_parser_initialize(&p.parser))
        return oom(e, file);
    yaml_parser_set_input_string(&p.parser, buf, len);
    int rc = parse_stream(&p, root);
    yaml_parser_delete(&p.parser);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading the file                                                         */
/* ------------------------------------------------------------------------ */

static int read_file(const char *path, unsigned char **out, size_t *outlen,
                     cap_error *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "%s: cannot open the configuration file: %s", path,
                        strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "%s: is a directory, not a configuration file", path);
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return oom(e, path);
    }
    for (;;) {
        if (len == cap) {
            if (cap >= CFG_MAX_BYTES) {
                free(buf);
                fclose(f);
                return cap_fail(e, CAP_EXIT_CONFIG,
                                "%s: the configuration file is larger than "
                                "%u bytes",
                                path, CFG_MAX_BYTES);
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return oom(e, path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                int err = errno;
                free(buf);
                fclose(f);
                return cap_fail(e, CAP_EXIT_CONFIG,
                                "%s: cannot read the configuration file: %s",
                                path, strerror(err));
            }
            break;
        }
    }
    fclose(f);
    *out = buf;
    *outlen = len;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Currencies                                                               */
/* ------------------------------------------------------------------------ */

int currency_minor_units(const char *code)
{
    static const struct {
        char code[4];
        int units;
    } table[] = {
        {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"CHF", 2}, {"CAD", 2},
        {"AUD", 2}, {"NZD", 2}, {"SEK", 2}, {"NOK", 2}, {"DKK", 2},
        {"HKD", 2}, {"SGD", 2}, {"CNY", 2}, {"INR", 2}, {"BRL", 2},
        {"MXN", 2}, {"ZAR", 2}, {"PLN", 2}, {"CZK", 2}, {"HUF", 2},
        {"ILS", 2}, {"TRY", 2}, {"TWD", 2}, {"THB", 2}, {"MYR", 2},
        {"PHP", 2}, {"IDR", 2}, {"SAR", 2}, {"AED", 2}, {"RON", 2},
        {"JPY", 0}, {"KRW", 0}, {"ISK", 0}, {"CLP", 0}, {"VND", 0},
        {"KWD", 3}, {"BHD", 3}, {"JOD", 3}, {"OMR", 3}, {"TND", 3},
    };
    if (code == NULL)
        return -1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].code, code) == 0)
            return table[i].units;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The top level                                                            */
/* ------------------------------------------------------------------------ */

enum top_key {
    K_MASTER,
    K_CURRENCY,
    K_MINOR,
    K_PORTFOLIOS,
    K_PLUGIN_DIR,
    K_STORAGE,
    K_PRICES,
    K_POLICY,
    K_WEIGHTS,
    K_REBALANCE,
    K_CAPITAL,
    K_APPROVAL,
    K_COUNT
};

static const char *const TOP_KEYS[K_COUNT] = {
    "master_portfolio_id", "currency", "minor_units", "portfolios",
    "plugin_dir", "storage", "prices", "policy", "portfolio_weights",
    "rebalance", "capital", "approval",
};

#define TOP_KNOWN                                                           \
    "master_portfolio_id, currency, minor_units, portfolios, plugin_dir, "  \
    "storage, prices, policy, portfolio_weights, rebalance, capital, "      \
    "approval"

typedef struct vctx {
    const char *file;
    cap_error *e;
    capalloc_config *c;
    const cfg_node *root;
    size_t at[K_COUNT]; /* index in root of each top-level key, or SIZE_MAX */
} vctx;

static int v_fail(vctx *v, int line, int col, const char *key, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

static int v_fail(vctx *v, int line, int col, const char *key, const char *fmt,
                  ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return loc_fail(v->e, CAP_EXIT_CONFIG, v->file, line, col, key, "%s", what);
}

static int is_null(const cfg_node *n)
{
    return n->kind == CFG_SCALAR && n->plain && is_null_text(n->value);
}

static const char *kind_desc(const cfg_node *n)
{
    switch (n->kind) {
    case CFG_MAP:
        return "a mapping";
    case CFG_SEQ:
        return "a sequence";
    default:
        return is_null(n) ? "an empty value" : "a scalar";
    }
}

static int want_kind(vctx *v, const cfg_node *n, const char *key, cfg_kind k)
{
    static const char *const want[] = {"a scalar", "a mapping", "a sequence"};
    if (n->kind == k && !(k == CFG_SCALAR && is_null(n)))
        return 0;
    if (k == CFG_SCALAR && is_null(n))
        return v_fail(v, n->line, n->col, key,
                      "expected a value, found an empty value (null)");
    return v_fail(v, n->line, n->col, key, "expected %s, found %s",
                  want[k], kind_desc(n));
}

/* A portfolio id: non-empty, no whitespace or control characters. */
static int check_id(vctx *v, const cfg_node *n, const char *key)
{
    int rc = want_kind(v, n, key, CFG_SCALAR);
    if (rc != 0)
        return rc;
    if (n->value[0] == '\0')
        return v_fail(v, n->line, n->col, key,
                      "a portfolio id must not be empty");
    for (const unsigned char *s = (const unsigned char *)n->value; *s; s++)
        if (*s <= 0x20 || *s == 0x7f)
            return v_fail(v, n->line, n->col, key,
                          "'%.80s' is not a valid portfolio id (spaces and "
                          "control characters are not allowed)",
                          n->value);
    return 0;
}

static int set_str(vctx *v, char **dst, const char *s)
{
    char *d = str_dup(s);
    if (d == NULL)
        return oom(v->e, v->file);
    free(*dst);
    *dst = d;
    return 0;
}

static int v_master(vctx *v, const cfg_node *n)
{
    int rc = check_id(v, n, TOP_KEYS[K_MASTER]);
    return rc != 0 ? rc : set_str(v, &v->c->master_id, n->value);
}

static int v_currency(vctx *v, const cfg_node *n)
{
    const char *key = TOP_KEYS[K_CURRENCY];
    int rc = want_kind(v, n, key, CFG_SCALAR);
    if (rc != 0)
        return rc;
    const char *s = n->value;
    int ok = strlen(s) == 3;
    for (int i = 0; ok && i < 3; i++)
        ok = s[i] >= 'A' && s[i] <= 'Z';
    if (!ok)
        return v_fail(v, n->line, n->col, key,
                      "'%.80s' is not a currency code (3 uppercase letters, "
                      "ISO 4217, e.g. USD)",
                      s);
    return set_str(v, &v->c->currency, s);
}

static int v_minor(vctx *v, const cfg_node *n)
{
    const char *key = TOP_KEYS[K_MINOR];
    int rc = want_kind(v, n, key, CFG_SCALAR);
    if (rc != 0)
        return rc;
    const char *s = n->value;
    if (!(s[0] >= '0' && s[0] <= '6' && s[1] == '\0'))
        return v_fail(v, n->line, n->col, key,
                      "expected a whole number from 0 to 6, found '%.80s'", s);
    v->c->minor_units = s[0] - '0';
    return 0;
}

static int v_portfolios(vctx *v, const cfg_node *n)
{
    const char *key = TOP_KEYS[K_PORTFOLIOS];
    int rc = want_kind(v, n, key, CFG_SEQ);
    if (rc != 0)
        return rc;
    capalloc_config *c = v->c;
    if (n->n == 0)
        return 0;
    const char **ids = calloc(n->n, sizeof *ids);
    char **out = calloc(n->n, sizeof *out);
    strset seen = {0};
    if (ids == NULL || out == NULL) {
        rc = oom(v->e, v->file);
        goto done;
    }
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *it = n->items[i];
        char ikey[64];
        snprintf(ikey, sizeof ikey, "%s[%zu]", key, i);
        if ((rc = check_id(v, it, ikey)) != 0)
            goto done;
        ids[i] = it->value;
        size_t first = 0;
        int dup = strset_add(&seen, ids, i, &first);
        if (dup < 0) {
            rc = oom(v->e, v->file);
            goto done;
        }
        if (dup > 0) {
            rc = v_fail(v, it->line, it->col, ikey,
                        "portfolio '%.80s' is listed twice (first at line %d)",
                        it->value, n->items[first]->line);
            goto done;
        }
    }
    for (size_t i = 0; i < n->n; i++) {
        if ((out[i] = str_dup(ids[i])) == NULL) {
            rc = oom(v->e, v->file);
            goto done;
        }
    }
    c->portfolios = out;
    c->n_portfolios = n->n;
    out = NULL;
done:
    if (out != NULL)
        for (size_t i = 0; i < n->n; i++)
            free(out[i]);
    free(out);
    free(ids);
    free(seen.slots);
    return rc;
}

static int v_plugin_dir(vctx *v, const cfg_node *n)
{
    const char *key = TOP_KEYS[K_PLUGIN_DIR];
    int rc = want_kind(v, n, key, CFG_SCALAR);
    if (rc != 0)
        return rc;
    const char *s = n->value;
    if (s[0] == '\0')
        return v_fail(v, n->line, n->col, key, "must not be empty");
    char *abs;
    if (s[0] == '/') {
        abs = str_dup(s);
    } else {
        size_t dl = strlen(v->c->dir), sl = strlen(s);
        abs = malloc(dl + sl + 2);
        if (abs != NULL) {
            memcpy(abs, v->c->dir, dl);
            abs[dl] = '/';
            memcpy(abs + dl + 1, s, sl + 1);
        }
    }
    if (abs == NULL)
        return oom(v->e, v->file);
    free(v->c->plugin_dir);
    v->c->plugin_dir = abs;
    return 0;
}

/* storage / prices / policy: {plugin: NAME, options: {...}}. */
static int v_section(vctx *v, size_t ri, plugin_cfg *pc)
{
    const char *name = v->root->keys[ri];
    const cfg_node *n = v->root->items[ri];
    char sub[64];

    if (n->kind != CFG_MAP) {
        if (n->kind == CFG_SCALAR && !is_null(n))
            return v_fail(v, n->line, n->col, name,
                          "expected a mapping, found a scalar ('%.80s'); "
                          "write '%s: {plugin: %.80s}'",
                          n->value, name, n->value);
        return v_fail(v, n->line, n->col, name,
                      "expected a mapping, found %s; write '%s: {plugin: "
                      "NAME, options: {...}}'",
                      kind_desc(n), name);
    }
    const cfg_node *plugin = NULL, *options = NULL;
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i];
        const cfg_node *it = n->items[i];
        snprintf(sub, sizeof sub, "%s.%s", name, k);
        if (strcmp(k, "plugin") == 0) {
            int rc = want_kind(v, it, sub, CFG_SCALAR);
            if (rc != 0)
                return rc;
            if (it->value[0] == '\0')
                return v_fail(v, it->line, it->col, sub,
                              "the plugin name must not be empty");
            for (const unsigned char *s = (const unsigned char *)it->value;
                 *s; s++)
                if (*s < 0x20 || *s == 0x7f)
                    return v_fail(v, it->line, it->col, sub,
                                  "control characters are not allowed in a "
                                  "plugin name");
            plugin = it;
        } else if (strcmp(k, "options") == 0) {
            int rc = want_kind(v, it, sub, CFG_MAP);
            if (rc != 0)
                return rc;
            options = it;
        } else {
            return loc_fail(v->e, CAP_EXIT_CONFIG, v->file, n->key_lines[i],
                            n->key_cols[i], NULL,
                            "key '%s.%s': unknown key (known: plugin, options)",
                            name, k);
        }
    }
    if (plugin == NULL) {
        snprintf(sub, sizeof sub, "%s.plugin", name);
        return v_fail(v, v->root->key_lines[ri], v->root->key_cols[ri], sub,
                      "missing required key (the plugin's short name, e.g. "
                      "'%s', or the path of its .so)",
                      ri == v->at[K_STORAGE]  ? "sqlite"
                      : ri == v->at[K_PRICES] ? "file"
                                              : "fixed_weight");
    }
    int rc = set_str(v, &pc->plugin, plugin->value);
    if (rc != 0)
        return rc;
    pc->options = options;
    pc->line = v->root->key_lines[ri];
    pc->col = v->root->key_cols[ri];
    pc->short_form = 0;
    return 0;
}

/* portfolio_weights: {ID: WEIGHT, ...} -> policy {plugin: fixed_weight,
 * options: {weights: <that node>}}. The synthesized map borrows the node. */
static int v_short_form(vctx *v, size_t ri)
{
    const char *key = TOP_KEYS[K_WEIGHTS];
    const cfg_node *n = v->root->items[ri];
    capalloc_config *c = v->c;
    int rc = want_kind(v, n, key, CFG_MAP);
    if (rc != 0)
        return rc;
    if (v->at[K_POLICY] != SIZE_MAX)
        return v_fail(v, v->root->key_lines[ri], v->root->key_cols[ri], key,
                      "cannot be used together with 'policy' (line %d): "
                      "move the weights to policy.options.weights, or drop "
                      "'policy'",
                      v->root->key_lines[v->at[K_POLICY]]);

    cfg_node *s = calloc(1, sizeof *s);
    if (s == NULL)
        return oom(v->e, v->file);
    s->kind = CFG_MAP;
    s->line = n->line;
    s->col = n->col;
    s->n = 1;
    s->keys = malloc(sizeof *s->keys);
    s->key_lines = malloc(sizeof *s->key_lines);
    s->key_cols = malloc(sizeof *s->key_cols);
    s->items = malloc(sizeof *s->items);
    char *wk = str_dup("weights");
    char *plugin = str_dup("fixed_weight");
    char *kp = str_dup(key);
    if (s->keys == NULL || s->key_lines == NULL || s->key_cols == NULL ||
        s->items == NULL || wk == NULL || plugin == NULL || kp == NULL) {
        free(s->keys);
        free(s->key_lines);
        free(s->key_cols);
        free(s->items);
        free(s);
        free(wk);
        free(plugin);
        free(kp);
        return oom(v->e, v->file);
    }
    s->keys[0] = wk;
    s->key_lines[0] = v->root->key_lines[ri];
    s->key_cols[0] = v->root->key_cols[ri];
    s->items[0] = (cfg_node *)n; /* borrowed: the root owns it */
    c->synth = s;
    free(c->policy.plugin);
    c->policy.plugin = plugin;
    free(c->policy.key_path);
    c->policy.key_path = kp;
    c->policy.options = s;
    c->policy.line = v->root->key_lines[ri];
    c->policy.col = v->root->key_cols[ri];
    c->policy.short_form = 1;
    return 0;
}

static int validate(vctx *v)
{
    const cfg_node *root = v->root;
    capalloc_config *c = v->c;
    int rc;

    if (root->kind != CFG_MAP)
        return v_fail(v, root->line, root->col, NULL,
                      "the configuration must be a mapping of keys to values "
                      "(master_portfolio_id: ..., currency: ...), found %s",
                      kind_desc(root));

    for (int k = 0; k < K_COUNT; k++)
        v->at[k] = SIZE_MAX;
    /* 1. Unknown keys, in file order. */
    for (size_t i = 0; i < root->n; i++) {
        int k;
        for (k = 0; k < K_COUNT; k++)
            if (strcmp(root->keys[i], TOP_KEYS[k]) == 0)
                break;
        if (k == K_COUNT)
            return v_fail(v, root->key_lines[i], root->key_cols[i],
                          root->keys[i], "unknown key (known: %s)", TOP_KNOWN);
        v->at[k] = i;
    }

    /* 2. Each key's own value, in file order. */
    static const char *const section_names[] = {"storage", "prices", "policy"};
    plugin_cfg *sections[] = {&c->storage, &c->prices, &c->policy};
    for (int s = 0; s < 3; s++) {
        if ((rc = set_str(v, &sections[s]->key_path, section_names[s])) != 0)
            return rc;
    }
    c->minor_units = -1;
    c->approval.max_age = APPROVAL_DEFAULT_MAX_AGE;
    for (size_t i = 0; i < root->n; i++) {
        const cfg_node *n = root->items[i];
        int k;
        for (k = 0; k < K_COUNT; k++)
            if (v->at[k] == i)
                break;
        switch (k) {
        case K_MASTER:
            rc = v_master(v, n);
            break;
        case K_CURRENCY:
            rc = v_currency(v, n);
            break;
        case K_MINOR:
            rc = v_minor(v, n);
            break;
        case K_PORTFOLIOS:
            rc = c->strategies_deferred ? 0 : v_portfolios(v, n);
            break;
        case K_PLUGIN_DIR:
            rc = v_plugin_dir(v, n);
            break;
        case K_STORAGE:
            rc = v_section(v, i, &c->storage);
            break;
        case K_PRICES:
            rc = v_section(v, i, &c->prices);
            break;
        case K_POLICY:
            rc = c->strategies_deferred ? 0
                 : n->kind == CFG_SEQ
                     ? config_policy_stack(c, n, root->key_lines[i],
                                           root->key_cols[i], v->e)
                     : v_section(v, i, &c->policy);
            break;
        case K_WEIGHTS:
            rc = c->strategies_deferred ? 0 : v_short_form(v, i);
            break;
        case K_REBALANCE:
            rc = 0; /* amounts need minor_units: below */
            break;
        case K_CAPITAL:
            rc = config_capital(v->file, root->items[i], &c->deploy_on_add,
                                v->e);
            break;
        case K_APPROVAL:
            rc = config_approval(v->file, n, &c->approval, v->e);
            break;
        default:
            rc = v_fail(v, root->key_lines[i], root->key_cols[i],
                        root->keys[i], "internal error: unclassified key");
            break;
        }
        if (rc != 0)
            return rc;
    }

    /* 3. What needs more than one key. */
    if (v->at[K_MASTER] == SIZE_MAX)
        return v_fail(v, 1, 1, TOP_KEYS[K_MASTER],
                      "missing required key (the id of the master "
                      "portfolio, e.g. master_portfolio_id: \"0\")");
    if (v->at[K_CURRENCY] == SIZE_MAX)
        return v_fail(v, 1, 1, TOP_KEYS[K_CURRENCY],
                      "missing required key (the fund's ISO 4217 currency, "
                      "e.g. currency: USD)");
    if (c->minor_units < 0) {
        c->minor_units = currency_minor_units(c->currency);
        if (c->minor_units < 0) {
            const cfg_node *n = root->items[v->at[K_CURRENCY]];
            return v_fail(v, n->line, n->col, TOP_KEYS[K_CURRENCY],
                          "currency '%s' is not in the built-in table: add "
                          "'minor_units: N' (0..6, its number of decimal "
                          "places)",
                          c->currency);
        }
    } else {
        /* minor_units is for currencies the table lacks: it never changes
         * how a known currency rounds. */
        int known = currency_minor_units(c->currency);
        if (known >= 0 && known != c->minor_units) {
            const cfg_node *n = root->items[v->at[K_MINOR]];
            return v_fail(v, n->line, n->col, TOP_KEYS[K_MINOR],
                          "%s has %d minor unit%s (ISO 4217), not %d: drop "
                          "minor_units (it is for currencies not in the "
                          "built-in table)",
                          c->currency, known, known == 1 ? "" : "s",
                          c->minor_units);
        }
    }
    if (v->at[K_REBALANCE] != SIZE_MAX &&
        (rc = config_rebalance(v->file, root->items[v->at[K_REBALANCE]],
                               c->minor_units, &c->rebalance, v->e)) != 0)
        return rc;
    if (v->at[K_PORTFOLIOS] != SIZE_MAX) {
        const cfg_node *n = root->items[v->at[K_PORTFOLIOS]];
        for (size_t i = 0; i < c->n_portfolios; i++) {
            if (strcmp(c->portfolios[i], c->master_id) == 0) {
                char ikey[64];
                snprintf(ikey, sizeof ikey, "%s[%zu]", TOP_KEYS[K_PORTFOLIOS],
                         i);
                return v_fail(v, n->items[i]->line, n->items[i]->col, ikey,
                              "'%.80s' is the master portfolio "
                              "(master_portfolio_id, line %d): list only "
                              "strategy portfolios here",
                              c->master_id,
                              root->key_lines[v->at[K_MASTER]]);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Public functions                                                         */
/* ------------------------------------------------------------------------ */

void config_free(capalloc_config *c)
{
    if (c == NULL)
        return;
    free(c->path);
    free(c->dir);
    free(c->master_id);
    free(c->currency);
    free(c->plugin_dir);
    for (size_t i = 0; i < c->n_portfolios; i++)
        free(c->portfolios[i]);
    free(c->portfolios);
    plugin_cfg *sections[] = {&c->storage, &c->prices, &c->policy};
    for (int s = 0; s < 3; s++) {
        free(sections[s]->plugin);
        free(sections[s]->key_path);
    }
    if (c->synth != NULL) {
        /* Owns itself, its arrays and its key; items[0] belongs to root. */
        for (size_t i = 0; i < c->synth->n; i++)
            free(c->synth->keys[i]);
        free(c->synth->keys);
        free(c->synth->key_lines);
        free(c->synth->key_cols);
        free(c->synth->items);
        free(c->synth);
    }
    config_policy_free(c);
    node_free(c->root);
    free(c);
}

/* The absolute directory of path (realpath of its directory part). */
static char *abs_dir(const char *path, cap_error *e)
{
    const char *slash = strrchr(path, '/');
    char *d;
    if (slash == NULL)
        d = str_dup(".");
    else if (slash == path)
        d = str_dup("/");
    else
        d = str_dup_n(path, (size_t)(slash - path));
    if (d == NULL) {
        oom(e, path);
        return NULL;
    }
    char *r = realpath(d, NULL);
    if (r == NULL)
        cap_fail(e, errno == ENOMEM ? CAP_EXIT_INTERNAL : CAP_EXIT_CONFIG,
                 "%s: cannot resolve the directory '%s': %s", path, d,
                 strerror(errno));
    free(d);
    return r;
}

/* ------------------------------------------------------------------------ */
/* The commands that do not need the strategies                             */
/* ------------------------------------------------------------------------ */

/* With 10,000 strategies the policy's weights are 10,000 lines of YAML:
 * reading them was most of a `capital add`. config_books_cut blanks those
 * sections before libyaml sees the text, keeping every newline, so every
 * other node keeps its line and column (check_config compares the trees);
 * it cuts only a plain block mapping at the top level whose lines cannot
 * hide a key inside a flow collection or a quoted scalar, and leaves any
 * other file whole. */
static int is_deferred_key(const unsigned char *k, size_t n)
{
    return (n == 6 && memcmp(k, "policy", 6) == 0) ||
           (n == 17 && memcmp(k, "portfolio_weights", 17) == 0) ||
           (n == 10 && memcmp(k, "portfolios", 10) == 0);
}

/* A line's brackets and quotes balance (no flow collection or quoted
 * scalar can go on past it). Conservative: a quote in a comment counts. */
static int line_balanced(const unsigned char *l, size_t n)
{
    static const unsigned char special[256] = {
        ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1, ['"'] = 1,
        ['\''] = 1, ['\t'] = 1, ['\r'] = 1, ['\0'] = 1};
    long brace = 0, bracket = 0, dq = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        if (!special[l[i]])
            continue;
        switch (l[i]) {
        case '{': brace++; break;
        case '}': brace--; break;
        case '[': bracket++; break;
        case ']': bracket--; break;
        case '"': dq++; break;
        case '\'': sq++; break;
        case '\t': case '\r': case '\0': return 0;
        default: break;
        }
    }
    return brace == 0 && bracket == 0 && dq % 2 == 0 && sq % 2 == 0;
}

int config_books_cut(unsigned char *buf, size_t *lenp)
{
    size_t len = *lenp;
    /* pass 1: is the file a plain block mapping we can cut? */
    size_t cut_from = SIZE_MAX, w = 0;
    int any = 0;
    for (int pass = 0; pass < 2; pass++) {
        cut_from = SIZE_MAX;
        for (size_t ls = 0; ls < len;) {
            const unsigned char *nl = memchr(buf + ls, '\n', len - ls);
            size_t le = nl ? (size_t)(nl - buf) : len;
            unsigned char c = buf[ls];
            int top = le > ls && c != ' ' && c != '#';
            if (pass == 0) {
                if (!line_balanced(buf + ls, le - ls))
                    return 0;
                if (top) {
                    size_t k = ls;
                    while (k < le && (buf[k] == '_' ||
                                      (buf[k] >= 'a' && buf[k] <= 'z') ||
                                      (buf[k] >= 'A' && buf[k] <= 'Z') ||
                                      (k > ls && buf[k] >= '0' &&
                                       buf[k] <= '9')))
                        k++;
                    if (k == ls || k == le || buf[k] != ':' ||
                        (k + 1 < le && buf[k + 1] != ' '))
                        return 0; /* not "key:" at column 0 */
                    if (is_deferred_key(buf + ls, k - ls))
                        any = 1;
                }
            } else {
                /* copied down to w, but the cut bytes: the newlines stay */
                size_t from = ls;
                if (top) {
                    size_t k = ls;
                    while (buf[k] != ':')
                        k++;
                    cut_from = is_deferred_key(buf + ls, k - ls) ? k + 1
                                                                 : SIZE_MAX;
                } else if (cut_from != SIZE_MAX) {
                    cut_from = ls;
                }
                size_t to = cut_from != SIZE_MAX && cut_from < le ? cut_from
                                                                  : le;
                memmove(buf + w, buf + from, to - from);
                w += to - from;
                if (le < len)
                    buf[w++] = '\n';
            }
            ls = le + 1;
        }
        if (!any)
            return 0;
    }
    *lenp = w;
    return 1;
}

static int load(const char *path, int books, capalloc_config **out,
                cap_error *e);

int config_load(const char *path, capalloc_config **out, cap_error *e)
{
    return load(path, 0, out, e);
}

int config_load_books(const char *path, capalloc_config **out, cap_error *e)
{
    return load(path, 1, out, e);
}

static int load(const char *path, int books, capalloc_config **out,
                cap_error *e)
{
    if (path == NULL || path[0] == '\0')
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "no configuration file given (empty path)");
    if (out == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL,
                        "config_load: out is NULL (internal error)");

    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len, e);
    if (rc != 0)
        return rc;
    int deferred = books && config_books_cut(buf, &len);
    cfg_node *root = NULL;
    rc = parse_buffer(path, buf, len, &root, e);
    free(buf);
    if (rc != 0)
        return rc;

    capalloc_config *c = calloc(1, sizeof *c);
    if (c == NULL) {
        node_free(root);
        return oom(e, path);
    }
    c->root = root;
    c->strategies_deferred = deferred;
    if ((c->path = str_dup(path)) == NULL) {
        config_free(c);
        return oom(e, path);
    }
    if ((c->dir = abs_dir(path, e)) == NULL) {
        config_free(c);
        return e != NULL && e->code != CAP_EXIT_OK ? (int)e->code
                                                   : (int)CAP_EXIT_CONFIG;
    }
    vctx v;
    memset(&v, 0, sizeof v);
    v.file = path;
    v.e = e;
    v.c = c;
    v.root = root;
    rc = validate(&v);
    if (rc != 0) {
        config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void config_where(const capalloc_config *c, int line, int col, char *buf,
                  size_t len)
{
    if (buf == NULL || len == 0)
        return;
    const char *p = c != NULL && c->path != NULL ? c->path : "config";
    if (line > 0)
        snprintf(buf, len, "%s:%d:%d: ", p, line, col > 0 ? col : 1);
    else
        snprintf(buf, len, "%s: ", p);
}

/* ------------------------------------------------------------------------ */
/* Finding the file                                                         */
/* ------------------------------------------------------------------------ */

/* 0 when path is a readable non-directory; else an errno value. */
static int check_readable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (access(path, R_OK) != 0)
        return errno;
    return 0;
}

static char *found(const char *path, cap_error *e)
{
    char *r = str_dup(path);
    if (r == NULL)
        oom(e, path);
    return r;
}

char *config_find(const char *explicit_path, cap_error *e)
{
    int err;

    if (explicit_path != NULL) {
        if (explicit_path[0] == '\0') {
            cap_fail(e, CAP_EXIT_CONFIG,
                     "--config: empty file name; give the path of the "
                     "configuration file");
            return NULL;
        }
        if ((err = check_readable(explicit_path)) == 0)
            return found(explicit_path, e);
        cap_fail(e, CAP_EXIT_CONFIG,
                 "configuration file '%s' (given with --config): %s",
                 explicit_path, strerror(err));
        sanitize(e);
        return NULL;
    }

    const char *env = getenv(CFG_ENV);
    if (env != NULL && env[0] != '\0') {
        if ((err = check_readable(env)) == 0)
            return found(env, e);
        cap_fail(e, CAP_EXIT_CONFIG,
                 "configuration file '%s' (from $" CFG_ENV "): %s; fix or "
                 "unset " CFG_ENV ", or pass --config FILE",
                 env, strerror(err));
        sanitize(e);
        return NULL;
    }

    if ((err = check_readable(CFG_DEFAULT_FILE)) == 0)
        return found(CFG_DEFAULT_FILE, e);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        snprintf(cwd, sizeof cwd, "the current directory");
    if (err != ENOENT) {
        cap_fail(e, CAP_EXIT_CONFIG, "configuration file " CFG_DEFAULT_FILE
                 " (in %s): %s", cwd, strerror(err));
    } else {
        cap_fail(e, CAP_EXIT_CONFIG,
                 "no configuration file found; looked at: --config (not "
                 "given), $" CFG_ENV " (not set), " CFG_DEFAULT_FILE
                 " (in %s: %s). Pass --config FILE, or set " CFG_ENV
                 "=FILE, or create capalloc.yaml in the current directory",
                 cwd, strerror(err));
    }
    sanitize(e);
    return NULL;
}
