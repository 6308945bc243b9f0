/*
 * bad_fields.c - one test plugin, many faults. Its entry point reads
 * $CAPALLOC_TEST_FAULT and answers a descriptor with exactly that fault, so
 * the loader tests can reach every refusal after the ABI block without a
 * shared object per field:
 *
 *   (unset)            a valid weighting policy
 *   null               the entry returns NULL
 *   kind               kind 9 (no such kind)
 *   name, empty_name, version, create, destroy
 *                      that header field is NULL (or "")
 *   storage            a valid storage backend
 *   storage:<cb>       a storage backend without callback <cb>
 *   prices:get_prices  a price source without get_prices
 *   policy_v0          a policy whose struct_size ends after 'weights'
 *                      (no optional 'portfolios'): valid
 *   newer              a policy built for ABI 1.7 with a larger
 *                      descriptor: valid, the extra fields are ignored
 *   option_type, option_default, option_dup
 *                      an option spec with an unknown type, an invalid
 *                      default, a name declared twice
 *   null_state         create() succeeds without a state
 *
 * The descriptors are static (plugin data, not per-instance state): the
 * entry fills them in before it answers. It is written by hand rather than
 * with CAPALLOC_PLUGIN_DEFINE() because it picks the descriptor.
 */
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

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

static capalloc_status t_create_null(const capalloc_host *host,
                                     const capalloc_options *opts,
                                     void **state, capalloc_err *err)
{
    (void)host;
    (void)opts;
    (void)err;
    *state = NULL;
    return CAPALLOC_OK;
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

static capalloc_status t_prices(void *state, const char *const *tickers,
                                size_t n, capalloc_quote *quotes,
                                capalloc_err *err)
{
    (void)state;
    (void)tickers;
    (void)n;
    (void)quotes;
    (void)err;
    return CAPALLOC_OK;
}

static capalloc_status t_begin(void *state, capalloc_txn_mode mode,
                               capalloc_err *err)
{
    (void)state;
    (void)mode;
    (void)err;
    return CAPALLOC_OK;
}

static capalloc_status t_end(void *state, capalloc_err *err)
{
    (void)state;
    (void)err;
    return CAPALLOC_OK;
}

static capalloc_status t_read(void *state, const capalloc_ledger_sink *sink,
                              capalloc_err *err)
{
    (void)state;
    (void)sink;
    (void)err;
    return CAPALLOC_OK;
}

static capalloc_status t_find(void *state, const char *run_date,
                              capalloc_run_info *info, int *found,
                              capalloc_err *err)
{
    (void)state;
    (void)run_date;
    (void)info;
    (void)err;
    *found = 0;
    return CAPALLOC_OK;
}

static capalloc_status t_write(void *state, const capalloc_write_batch *batch,
                               capalloc_err *err)
{
    (void)state;
    (void)batch;
    (void)err;
    return CAPALLOC_OK;
}

static const capalloc_option_spec bad_type[] = {
    {"x", (capalloc_opt_type)42, 0, NULL, NULL}, {NULL, 0, 0, NULL, NULL}};
static const capalloc_option_spec bad_default[] = {
    {"n", CAPALLOC_OPT_INT, 0, "12abc", NULL}, {NULL, 0, 0, NULL, NULL}};
static const capalloc_option_spec dup_name[] = {
    {"x", CAPALLOC_OPT_STRING, 0, NULL, NULL},
    {"x", CAPALLOC_OPT_INT, 0, NULL, NULL},
    {NULL, 0, 0, NULL, NULL}};

static const capalloc_policy_plugin policy_ok = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "bad_fields", "1.0", NULL, NULL, t_create, t_destroy),
    t_weights,
    NULL,
    NULL,
};
static const capalloc_price_plugin prices_ok = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_PRICES, capalloc_price_plugin,
                         "bad_fields", "1.0", NULL, NULL, t_create, t_destroy),
    t_prices,
};
static const capalloc_storage_plugin storage_ok = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_STORAGE, capalloc_storage_plugin,
                         "bad_fields", "1.0", NULL, NULL, t_create, t_destroy),
    t_begin, t_end, t_end, t_read, t_find, t_write, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
};

static capalloc_policy_plugin policy;
static capalloc_price_plugin prices;
static capalloc_storage_plugin storage;
static struct {
    capalloc_policy_plugin v1;
    void *added_in_1_7[4];
} newer;

CAPALLOC_EXPORT const capalloc_plugin_header *capalloc_plugin_entry(void);
CAPALLOC_EXPORT const capalloc_plugin_header *capalloc_plugin_entry(void)
{
    const char *f = getenv("CAPALLOC_TEST_FAULT");
    if (f == NULL)
        f = "";
    policy = policy_ok;
    prices = prices_ok;
    storage = storage_ok;
    capalloc_plugin_header *h = &policy.header;

    if (strcmp(f, "null") == 0)
        return NULL;
    else if (strcmp(f, "kind") == 0)
        h->kind = 9;
    else if (strcmp(f, "name") == 0)
        h->name = NULL;
    else if (strcmp(f, "empty_name") == 0)
        h->name = "";
    else if (strcmp(f, "version") == 0)
        h->version = NULL;
    else if (strcmp(f, "create") == 0)
        h->create = NULL;
    else if (strcmp(f, "destroy") == 0)
        h->destroy = NULL;
    else if (strcmp(f, "null_state") == 0)
        h->create = t_create_null;
    else if (strcmp(f, "option_type") == 0)
        h->options = bad_type;
    else if (strcmp(f, "option_default") == 0)
        h->options = bad_default;
    else if (strcmp(f, "option_dup") == 0)
        h->options = dup_name;
    else if (strcmp(f, "policy_v0") == 0)
        h->struct_size = (uint32_t)(offsetof(capalloc_policy_plugin, weights) +
                                    sizeof policy.weights);
    else if (strcmp(f, "newer") == 0) {
        newer.v1 = policy_ok;
        newer.v1.header.abi_minor = 7;
        newer.v1.header.struct_size = (uint32_t)sizeof newer;
        h = &newer.v1.header;
    } else if (strcmp(f, "prices:get_prices") == 0) {
        prices.get_prices = NULL;
        h = &prices.header;
    } else if (strncmp(f, "storage", 7) == 0) {
        const char *cb = f[7] == ':' ? f + 8 : "";
        if (strcmp(cb, "begin") == 0)
            storage.begin = NULL;
        else if (strcmp(cb, "commit") == 0)
            storage.commit = NULL;
        else if (strcmp(cb, "rollback") == 0)
            storage.rollback = NULL;
        else if (strcmp(cb, "read_ledger") == 0)
            storage.read_ledger = NULL;
        else if (strcmp(cb, "find_run") == 0)
            storage.find_run = NULL;
        else if (strcmp(cb, "write") == 0)
            storage.write = NULL;
        h = &storage.header;
    }
    return h;
}
