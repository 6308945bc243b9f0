/*
 * abi_fault.c - a valid weighting policy but for ONE fault in how it
 * presents itself to the loader, chosen at build time: Makefile.am builds
 * this file once per fault, each into its own module named after it.
 *
 *   FAULT_OLD_ABI       built for ABI 0 (abi_major 0)
 *   FAULT_FUTURE_ABI    built for a future ABI 2 (abi_major 2)
 *   FAULT_SHORT_STRUCT  struct_size stops before the required 'weights'
 *   FAULT_BAD_MAGIC     magic is not CAPALLOC_PLUGIN_MAGIC
 *   FAULT_NO_ENTRY      a good descriptor, but no capalloc_plugin_entry
 *                       symbol to reach it
 *
 * The loader must refuse each before any plugin code but the entry runs.
 */
#include <stdlib.h>

#include "capalloc_plugin.h"

#define MAGIC CAPALLOC_PLUGIN_MAGIC
#define SIZE ((uint32_t)sizeof(capalloc_policy_plugin))
#define MAJOR CAPALLOC_ABI_MAJOR

#if defined(FAULT_OLD_ABI)
#define NAME "old_abi"
#undef MAJOR
#define MAJOR 0
#elif defined(FAULT_FUTURE_ABI)
#define NAME "future_abi"
#undef MAJOR
#define MAJOR 2
#elif defined(FAULT_SHORT_STRUCT)
#define NAME "short_struct"
#undef SIZE
#define SIZE ((uint32_t)sizeof(capalloc_plugin_header))
#elif defined(FAULT_BAD_MAGIC)
#define NAME "bad_magic"
#undef MAGIC
#define MAGIC 0xdeadbeefu
#elif defined(FAULT_NO_ENTRY)
#define NAME "no_entry"
#else
#error "define one FAULT_* (see the comment above)"
#endif

static capalloc_status t_create(const capalloc_host *host,
                                const capalloc_options *opts, void **state,
                                capalloc_err *err)
{
    (void)host;
    (void)opts;
    (void)err;
    *state = calloc(1, 1);
    return *state ? CAPALLOC_OK : CAPALLOC_ERR_NOMEM;
}

static void t_destroy(void *state)
{
    free(state);
}

static capalloc_status t_weights(void *state, const capalloc_snapshot *snap,
                                 capalloc_dec *weights, capalloc_err *err)
{
    (void)state;
    (void)snap;
    (void)weights;
    (void)err;
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin t_plugin = {
    {/* magic */ MAGIC,
     /* struct_size */ SIZE,
     /* abi_major */ MAJOR, /* abi_minor */ 0,
     /* kind */ CAPALLOC_KIND_POLICY,
     NAME, "1.0", NULL, NULL, t_create, t_destroy},
    t_weights,
    NULL,
    NULL,
};

#if defined(FAULT_NO_ENTRY)
/* A near miss of CAPALLOC_ENTRY_SYMBOL, and hidden anyway. */
__attribute__((visibility("hidden"))) const capalloc_plugin_header *
capalloc_plugin_entry_point(void);
__attribute__((visibility("hidden"))) const capalloc_plugin_header *
capalloc_plugin_entry_point(void)
{
    return &t_plugin.header;
}
#else
CAPALLOC_PLUGIN_DEFINE(t_plugin)
#endif
