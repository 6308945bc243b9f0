/*
 * loader.c - finds, opens and checks plugins (see loader.h).
 *
 * The order of the checks matters: nothing in the descriptor beyond the ABI
 * block (magic, struct_size, abi_major, abi_minor, kind) is read until that
 * block has been accepted, so until then a plugin is named after its file
 * ("x" for /path/x.so), never after its own name field.
 *
 * Optional descriptor fields (today only the policy's `portfolios`) are
 * not checked here: the engine reads one only when the plugin's
 * struct_size covers it (CAPALLOC_HAS_FIELD) and it is not NULL.
 */
#include "loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

#ifndef CAPALLOC_BUILDDIR
#define CAPALLOC_BUILDDIR "" /* not built by the makefile: no build tree */
#endif
#ifndef CAPALLOC_PKGLIBDIR
#define CAPALLOC_PKGLIBDIR "/usr/local/lib/capalloc"
#endif

const char *kind_name(capalloc_kind k)
{
    switch (k) {
    case CAPALLOC_KIND_POLICY:
        return "weighting policy";
    case CAPALLOC_KIND_PRICES:
        return "price source";
    case CAPALLOC_KIND_STORAGE:
        return "storage backend";
    }
    return "unknown kind";
}

/* "a price source", "an unknown kind" */
static const char *article(capalloc_kind k)
{
    return kind_name(k)[0] == 'u' ? "an" : "a";
}

/* ------------------------------------------------------------------------ */
/* Finding the file                                                          */
/* ------------------------------------------------------------------------ */

static int is_path(const char *name)
{
    size_t n = strlen(name);
    return strchr(name, '/') != NULL ||
           (n >= 3 && strcmp(name + n - 3, ".so") == 0);
}

static int is_short_name(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s != NULL) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

/* Whether the running program is the one in the build tree (core/, or
 * core/.libs/ when libtool put a wrapper script in core/). */
static int running_uninstalled(void)
{
    char exe[PATH_MAX], want[PATH_MAX];
    if (CAPALLOC_BUILDDIR[0] == '\0' || realpath("/proc/self/exe", exe) == NULL)
        return 0;
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    if (realpath(CAPALLOC_BUILDDIR "/core", want) != NULL &&
        strcmp(exe, want) == 0)
        return 1;
    if (realpath(CAPALLOC_BUILDDIR "/core/.libs", want) != NULL &&
        strcmp(exe, want) == 0)
        return 1;
    return 0;
}

typedef struct searched {
    char buf[1536];
    size_t used;
} searched;

static void note_dir(searched *s, const char *dir)
{
    int w = snprintf(s->buf + s->used, sizeof s->buf - s->used, "%s%s",
                     s->used ? ", " : "", dir);
    if (w > 0)
        s->used += (size_t)w < sizeof s->buf - s->used
                       ? (size_t)w
                       : sizeof s->buf - s->used - 1;
}

/* Look for dir/name.so; 1 found (*out set), 0 not there, -1 out of memory. */
static int try_dir(const char *dir, size_t dlen, const char *name, searched *s,
                   char **out)
{
    char *d = strndup(dir, dlen);
    if (d == NULL)
        return -1;
    char *p = join3(d, d[0] && d[dlen - 1] == '/' ? "" : "/", name);
    char *file = p ? join3(p, ".so", "") : NULL;
    free(p);
    if (file == NULL) {
        free(d);
        return -1;
    }
    note_dir(s, d);
    free(d);
    if (access(file, F_OK) == 0) {
        *out = file;
        return 1;
    }
    free(file);
    return 0;
}

char *plugin_resolve(const char *name, const char *plugin_dir, cap_error *e)
{
    searched s = {{0}, 0};
    char *found = NULL;
    int r;

    if (name == NULL || *name == '\0') {
        cap_fail(e, CAP_EXIT_CONFIG, "empty plugin name");
        return NULL;
    }
    if (is_path(name)) {
        if (access(name, F_OK) != 0) {
            cap_fail(e, CAP_EXIT_CONFIG, "plugin file '%s' does not exist",
                     name);
            return NULL;
        }
        if ((found = strdup(name)) == NULL)
            cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
        return found;
    }
    if (!is_short_name(name)) {
        cap_fail(e, CAP_EXIT_CONFIG,
                 "invalid plugin name '%s' (a short name is made of a-z, 0-9 "
                 "and '_'; a path contains '/' or ends in .so)",
                 name);
        return NULL;
    }

    /* 1. the config's plugin_dir */
    if (plugin_dir != NULL && *plugin_dir != '\0' &&
        (r = try_dir(plugin_dir, strlen(plugin_dir), name, &s, &found)) != 0)
        goto done;
    /* 2. $CAPALLOC_PLUGIN_DIR, a ':'-separated list (empty parts skipped) */
    const char *env = getenv("CAPALLOC_PLUGIN_DIR");
    for (const char *p = env; p && *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && (r = try_dir(p, len, name, &s, &found)) != 0)
            goto done;
        p = end ? end + 1 : p + len;
    }
    /* 3. the build tree, when this binary is the uninstalled one */
    if (running_uninstalled()) {
        static const char *const sub[] = {CAPALLOC_BUILDDIR "/plugins/.libs",
                                          CAPALLOC_BUILDDIR "/policies/.libs"};
        for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
            if ((r = try_dir(sub[i], strlen(sub[i]), name, &s, &found)) != 0)
                goto done;
    }
    /* 4. the installed plugins */
    r = try_dir(CAPALLOC_PKGLIBDIR, strlen(CAPALLOC_PKGLIBDIR), name, &s, &found);
done:
    if (r < 0) {
        cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
        return NULL;
    }
    if (r == 0)
        cap_fail(e, CAP_EXIT_CONFIG, "unknown plugin '%s' (looked in: %s)",
                 name, s.buf);
    return found;
}

/* ------------------------------------------------------------------------ */
/* Opening and checking                                                      */
/* ------------------------------------------------------------------------ */

/* The size of an ABI 1.0 descriptor of kind k, up to its last required
 * field (optional trailing fields do not count). 0 for an unknown kind. */
static size_t min_size(capalloc_kind k)
{
    switch (k) {
    case CAPALLOC_KIND_POLICY:
        return offsetof(capalloc_policy_plugin, weights) +
               sizeof(((capalloc_policy_plugin *)0)->weights);
    case CAPALLOC_KIND_PRICES:
        return offsetof(capalloc_price_plugin, get_prices) +
               sizeof(((capalloc_price_plugin *)0)->get_prices);
    case CAPALLOC_KIND_STORAGE:
        return offsetof(capalloc_storage_plugin, write) +
               sizeof(((capalloc_storage_plugin *)0)->write);
    }
    return 0;
}

/* The first required callback of the kind that is NULL, or NULL. */
static const char *missing_callback(const capalloc_plugin_header *h)
{
    switch ((capalloc_kind)h->kind) {
    case CAPALLOC_KIND_POLICY: {
        const capalloc_policy_plugin *p = (const capalloc_policy_plugin *)h;
        return p->weights == NULL ? "weights" : NULL;
    }
    case CAPALLOC_KIND_PRICES: {
        const capalloc_price_plugin *p = (const capalloc_price_plugin *)h;
        return p->get_prices == NULL ? "get_prices" : NULL;
    }
    case CAPALLOC_KIND_STORAGE: {
        const capalloc_storage_plugin *p = (const capalloc_storage_plugin *)h;
        if (p->begin == NULL)
            return "begin";
        if (p->commit == NULL)
            return "commit";
        if (p->rollback == NULL)
            return "rollback";
        if (p->read_ledger == NULL)
            return "read_ledger";
        if (p->find_run == NULL)
            return "find_run";
        if (p->write == NULL)
            return "write";
        return NULL;
    }
    }
    return NULL;
}

/* "x" for "/some/dir/x.so" */
static void file_stem(const char *path, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 3 && strcmp(b + n - 3, ".so") == 0)
        n -= 3;
    if (n >= len)
        n = len - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
}

/* instance: the section that wants the plugin ("storage"), or NULL. */
static int open_checked(const char *path, capalloc_kind want_kind,
                        const char *instance, loaded_plugin **out, cap_error *e)
{
    char x[256];
    loaded_plugin *p;
    int rc;

    *out = NULL;
    file_stem(path, x, sizeof x);
    if ((p = calloc(1, sizeof *p)) == NULL || (p->path = strdup(path)) == NULL) {
        free(p);
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    }

    dlerror();
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        const char *why = dlerror();
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) could not be loaded: %s", x, path,
                      why ? why : "unknown dlopen error");
        goto fail;
    }
    dlerror();
    void *sym = dlsym(p->dl, CAPALLOC_ENTRY_SYMBOL);
    if (sym == NULL) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) exports no " CAPALLOC_ENTRY_SYMBOL
                      ": not a capalloc plugin",
                      x, path);
        goto fail;
    }
    capalloc_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer */
    const capalloc_plugin_header *h = entry();
    if (h == NULL) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s): " CAPALLOC_ENTRY_SYMBOL
                      "() returned NULL",
                      x, path);
        goto fail;
    }

    /* The ABI block. */
    if (h->magic != CAPALLOC_PLUGIN_MAGIC) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) has magic 0x%08x, expected 0x%08x: "
                      "not a capalloc plugin descriptor",
                      x, path, (unsigned)h->magic, CAPALLOC_PLUGIN_MAGIC);
        goto fail;
    }
    if (h->abi_major != CAPALLOC_ABI_MAJOR) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) was built for ABI %u, this capalloc "
                      "speaks ABI %d (field 'abi_major'): rebuild it against "
                      "this capalloc's capalloc_plugin.h",
                      x, path, (unsigned)h->abi_major, CAPALLOC_ABI_MAJOR);
        goto fail;
    }
    capalloc_kind k = (capalloc_kind)h->kind;
    if (min_size(k) == 0) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) declares unknown kind %u (field "
                      "'kind'; known: 1 weighting policy, 2 price source, "
                      "3 storage backend)",
                      x, path, (unsigned)h->kind);
        goto fail;
    }
    if (want_kind != 0 && k != want_kind) {
        if (instance != NULL)
            rc = cap_fail(e, CAP_EXIT_PLUGIN,
                          "plugin '%s' (%s) is %s %s, but '%s' needs %s %s "
                          "(field 'kind')",
                          x, path, article(k), kind_name(k), instance,
                          article(want_kind), kind_name(want_kind));
        else
            rc = cap_fail(e, CAP_EXIT_PLUGIN,
                          "plugin '%s' (%s) is %s %s, but %s %s is needed "
                          "here (field 'kind')",
                          x, path, article(k), kind_name(k),
                          article(want_kind), kind_name(want_kind));
        goto fail;
    }
    if (h->struct_size < min_size(k)) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) declares struct_size %u, smaller "
                      "than the %zu bytes of an ABI %d.0 %s descriptor "
                      "(field 'struct_size')",
                      x, path, (unsigned)h->struct_size, min_size(k),
                      CAPALLOC_ABI_MAJOR, kind_name(k));
        goto fail;
    }

    /* The ABI block is accepted: the rest of the descriptor can be read. */
    const char *field = h->name == NULL || *h->name == '\0' ? "name"
                        : h->version == NULL                 ? "version"
                                                             : NULL;
    if (field != NULL) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) lacks required field '%s'", x, path,
                      field);
        goto fail;
    }
    const char *cb = h->create == NULL    ? "create"
                     : h->destroy == NULL ? "destroy"
                                          : missing_callback(h);
    if (cb != NULL) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "plugin '%s' (%s) lacks required callback '%s' of %s %s",
                      x, path, cb, article(k), kind_name(k));
        goto fail;
    }

    p->hdr = h;
    p->kind = k;
    *out = p;
    return 0;
fail:
    plugin_close(p);
    return rc;
}

int plugin_open(const char *path, capalloc_kind want_kind, loaded_plugin **out,
                cap_error *e)
{
    return open_checked(path, want_kind, NULL, out, e);
}

/* ------------------------------------------------------------------------ */
/* Instances                                                                 */
/* ------------------------------------------------------------------------ */

static const char *status_name(capalloc_status st)
{
    switch (st) {
    case CAPALLOC_OK:
        return "ok";
    case CAPALLOC_ERR_INVALID:
        return "invalid";
    case CAPALLOC_ERR_NOT_FOUND:
        return "not found";
    case CAPALLOC_ERR_BUSY:
        return "busy";
    case CAPALLOC_ERR_RETRY:
        return "retry";
    case CAPALLOC_ERR_IO:
        return "i/o error";
    case CAPALLOC_ERR_NOMEM:
        return "out of memory";
    case CAPALLOC_ERR_OVERFLOW:
        return "overflow";
    case CAPALLOC_ERR_INTERNAL:
        return "internal error";
    case CAPALLOC_ERR_NO_DATA:
        return "not enough data";
    case CAPALLOC_ERR_EXISTS:
        return "exists";
    }
    return "unknown status";
}

int plugin_fail(const loaded_plugin *p, const capalloc_err *err, cap_exit code,
                const char *what, cap_error *e)
{
    const char *name = p && p->hdr && p->hdr->name ? p->hdr->name : "?";
    char msg[sizeof err->msg];

    /* The plugin filled err; do not trust it to have terminated it. */
    msg[0] = '\0';
    if (err != NULL) {
        memcpy(msg, err->msg, sizeof msg);
        msg[sizeof msg - 1] = '\0';
    }
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "failed without a message");
    return cap_fail(e, code, "%s: plugin '%s': %s", what ? what : "capalloc",
                    name, msg);
}

/* "FILE:LINE:COL: key 'storage.plugin'" for the section's plugin key. */
static void plugin_key_where(const capalloc_config *cfg, const plugin_cfg *pc,
                             char *buf, size_t len)
{
    char where[1024];
    int line = pc->line > 0 ? pc->line : 1;
    int col = pc->line > 0 && pc->col > 0 ? pc->col : 1;
    config_where(cfg, line, col, where, sizeof where);
    if (pc->short_form)
        snprintf(buf, len, "%skey '%s'", where,
                 pc->key_path ? pc->key_path : "portfolio_weights");
    else
        snprintf(buf, len, "%skey '%s.plugin'", where,
                 pc->key_path ? pc->key_path : "plugin");
}

int plugin_prepare(const capalloc_config *cfg, const plugin_cfg *pc,
                   const char *default_name, capalloc_kind want_kind,
                   const char *instance, loaded_plugin **out, cap_error *e)
{
    const char *name = pc->plugin ? pc->plugin : default_name;
    char where[1280];
    cap_error sub;
    loaded_plugin *p = NULL;
    char *path = NULL;
    int rc;

    *out = NULL;
    plugin_key_where(cfg, pc, where, sizeof where);
    if (name == NULL)
        name = "";
    /* A path is relative to the config file's folder. */
    if (is_path(name) && name[0] != '/' && cfg->dir != NULL) {
        char *joined = join3(cfg->dir, "/", name);
        if (joined == NULL)
            return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
        path = plugin_resolve(joined, cfg->plugin_dir, &sub);
        free(joined);
    } else {
        path = plugin_resolve(name, cfg->plugin_dir, &sub);
    }
    if (path == NULL)
        return cap_fail(e, sub.code, "%s: %s%s", where, sub.msg,
                        pc->plugin ? "" : " (the default when none is named)");

    rc = open_checked(path, want_kind, instance, &p, &sub);
    free(path);
    if (rc != 0)
        return cap_fail(e, sub.code, "%s: %s", where, sub.msg);

    p->cfg = cfg;
    p->pc = pc;
    if ((rc = options_bind(cfg, pc, p->hdr->name, p->hdr->options, &p->opts,
                           e)) != 0)
        goto fail;
    host_init(&p->host, cfg, instance, p->hdr->name);
    *out = p;
    return 0;
fail:
    plugin_close(p);
    return rc;
}

/* The exit code of a failed create(): a mistake in the options is the
 * config's; a storage backend that cannot open or lock its ledger is a
 * storage failure (or busy), as it would be later in a run. */
static cap_exit create_code(capalloc_kind kind, capalloc_status st)
{
    switch (st) {
    case CAPALLOC_ERR_INVALID:
        return CAP_EXIT_CONFIG;
    case CAPALLOC_ERR_NOMEM:
        return CAP_EXIT_INTERNAL;
    case CAPALLOC_ERR_BUSY:
        return kind == CAPALLOC_KIND_STORAGE ? CAP_EXIT_BUSY : CAP_EXIT_PLUGIN;
    case CAPALLOC_ERR_IO:
    case CAPALLOC_ERR_RETRY:
        return kind == CAPALLOC_KIND_STORAGE ? CAP_EXIT_STORAGE
                                             : CAP_EXIT_PLUGIN;
    default:
        return CAP_EXIT_PLUGIN;
    }
}

int plugin_create(loaded_plugin *p, cap_error *e)
{
    const capalloc_config *cfg = p->cfg;
    const plugin_cfg *pc = p->pc;
    char where[1280];

    plugin_key_where(cfg, pc, where, sizeof where);
    capalloc_err err;
    void *state = NULL;
    memset(&err, 0, sizeof err);
    capalloc_status st = p->hdr->create(&p->host, p->opts, &state, &err);
    if (st != CAPALLOC_OK) {
        char loc[1280], key[sizeof err.key];
        memcpy(key, err.key, sizeof key);
        key[sizeof key - 1] = '\0';
        if (err.msg[0] == '\0' || err.msg[sizeof err.msg - 1] != '\0') {
            err.msg[sizeof err.msg - 1] = '\0';
            if (err.msg[0] == '\0')
                snprintf(err.msg, sizeof err.msg,
                         "create() failed (%s) without a message",
                         status_name(st));
        }
        /* A config location only for what the config can be blamed for:
         * bad options, or a failure the plugin tied to an option (a path). */
        if (st == CAPALLOC_ERR_INVALID || key[0] != '\0')
            options_where(cfg, pc, p->opts, key, loc, sizeof loc);
        else
            snprintf(loc, sizeof loc, "starting the %s", kind_name(p->kind));
        /* a failed create() holds nothing: never destroy() it */
        return plugin_fail(p, &err, create_code(p->kind, st), loc, e);
    }
    if (state == NULL) {
        /* NULL means "not started" to plugin_close; a plugin without state
         * still returns something it can free in destroy(). */
        p->hdr->destroy(NULL);
        return cap_fail(e, CAP_EXIT_PLUGIN,
                        "%s: plugin '%s' (%s): create() succeeded but "
                        "returned no state",
                        where, p->hdr->name, p->path);
    }
    p->state = state;
    return 0;
}

int plugin_start(const capalloc_config *cfg, const plugin_cfg *pc,
                 const char *default_name, capalloc_kind want_kind,
                 const char *instance, loaded_plugin **out, cap_error *e)
{
    loaded_plugin *p = NULL;
    *out = NULL;
    int rc = plugin_prepare(cfg, pc, default_name, want_kind, instance, &p, e);
    if (rc != 0)
        return rc;
    if ((rc = plugin_create(p, e)) != 0) {
        plugin_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void plugin_close(loaded_plugin *p)
{
    if (p == NULL)
        return;
    if (p->state != NULL && p->hdr != NULL)
        p->hdr->destroy(p->state);
    options_free(p->opts);
    if (p->dl != NULL)
        dlclose(p->dl);
    free(p->path);
    free(p);
}
