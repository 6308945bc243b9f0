/*
 * loader.h - finds, opens and checks plugins.
 *
 * A plugin is named in YAML either by path (contains '/', or ends in
 * ".so") or by short name, looked up as NAME.so in, in order:
 *   1. the config's plugin_dir,
 *   2. $CAPALLOC_PLUGIN_DIR (a ':'-separated list),
 *   3. the build tree's plugin folders when the running binary is the one in
 *      the build tree (uninstalled),
 *   4. the installed plugin directory, $(pkglibdir).
 * It is opened with dlopen(RTLD_NOW | RTLD_LOCAL), its one entry symbol
 * called, and the ABI block checked (magic, struct_size, abi_major, kind)
 * before any other plugin code runs; then the required callbacks of its
 * kind are checked for NULL. Every refusal names the plugin, its file and
 * the field at fault, with CAP_EXIT_PLUGIN.
 */
#ifndef CAPALLOC_LOADER_H
#define CAPALLOC_LOADER_H

#include "capalloc_plugin.h"
#include "config.h"
#include "error.h"

typedef struct loaded_plugin {
    void *dl;
    char *path;                       /* the file opened */
    const capalloc_plugin_header *hdr;
    capalloc_kind kind;
    capalloc_host host;               /* this instance's host table */
    capalloc_options *opts;
    void *state;                      /* from create(); NULL until started */
    const capalloc_config *cfg;       /* borrowed, for error locations */
    const plugin_cfg *pc;             /* borrowed */
} loaded_plugin;

const char *kind_name(capalloc_kind k); /* "storage backend", ... */

/* Resolve name to a file (see above) into a malloc'd path, or NULL with e
 * set (CAP_EXIT_CONFIG: "unknown plugin 'x' (looked in: ...)"). */
char *plugin_resolve(const char *name, const char *plugin_dir, cap_error *e);

/* Open and check a plugin file; want_kind 0 accepts any kind. */
int plugin_open(const char *path, capalloc_kind want_kind,
                loaded_plugin **out, cap_error *e);

/* Resolve + open + bind options for section pc of cfg (pc->plugin NULL
 * means default_name): everything the config can get wrong is found here,
 * and no plugin code but its entry symbol has run. */
int plugin_prepare(const capalloc_config *cfg, const plugin_cfg *pc,
                   const char *default_name, capalloc_kind want_kind,
                   const char *instance, loaded_plugin **out, cap_error *e);

/* create() the instance of a prepared plugin. On failure p stays prepared
 * (the caller closes it) and e says why: CAP_EXIT_CONFIG with the file:line
 * of the option the plugin named when it said CAPALLOC_ERR_INVALID; for a
 * storage backend CAP_EXIT_STORAGE (IO) or CAP_EXIT_BUSY (BUSY); otherwise
 * CAP_EXIT_PLUGIN. */
int plugin_create(loaded_plugin *p, cap_error *e);

/* plugin_prepare() then plugin_create(). */
int plugin_start(const capalloc_config *cfg, const plugin_cfg *pc,
                 const char *default_name, capalloc_kind want_kind,
                 const char *instance, loaded_plugin **out, cap_error *e);

/* destroy() the instance (if started), free options, dlclose. NULL ok. */
void plugin_close(loaded_plugin *p);

/* Format a plugin's error (err from a callback) into e with code. */
int plugin_fail(const loaded_plugin *p, const capalloc_err *err, cap_exit code,
                const char *what, cap_error *e);

#endif
