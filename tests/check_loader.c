/*
 * check_loader.c - the plugin contract, from both sides: the loader and
 * options binder (core/loader.h, core/options.h) against tiny plugins that
 * are wrong on purpose (tests/plugins/), and one test for every entry of
 * the capalloc_host table a plugin is handed.
 *
 * Test plugins are looked for in TEST_PLUGIN_DIR; configurations are
 * written to a fresh temporary folder per test and read with config_load().
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <check.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "decimal.h"
#include "loader.h"
#include "options.h"

#ifndef TEST_PLUGIN_DIR
#error "build with -DTEST_PLUGIN_DIR=\"<builddir>/tests/plugins/.libs\""
#endif
#ifndef TEST_SRCDIR
#error "build with -DTEST_SRCDIR=\"<srcdir>\""
#endif

#define PLUGIN(x) TEST_PLUGIN_DIR "/" x ".so"

/* YAML every config starts with: lines 1 and 2. */
#define HEAD "master_portfolio_id: \"0\"\ncurrency: USD\n"

#define ck_assert_has(hay, needle)                                         \
    do {                                                                   \
        const char *hay_ = (hay), *needle_ = (needle);                     \
        ck_assert_msg(strstr(hay_, needle_) != NULL,                       \
                      "expected \"%s\" in \"%s\"", needle_, hay_);         \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Fixture: a temporary folder, a clean environment                          */
/* ------------------------------------------------------------------------ */

static char tmp[64];

static void setup(void)
{
    strcpy(tmp, "/tmp/check_loader.XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    unsetenv("CAPALLOC_PLUGIN_DIR");
    unsetenv("CAPALLOC_TEST_FAULT");
    host_set_verbosity(CAPALLOC_LOG_WARNING);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    unsetenv("CAPALLOC_PLUGIN_DIR");
    unsetenv("CAPALLOC_TEST_FAULT");
    host_set_verbosity(CAPALLOC_LOG_WARNING);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* tmp/name, in a static buffer per call site's needs */
static const char *in_tmp(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", tmp, name);
    return buf;
}

/* Write the YAML (printf format) to tmp/capalloc.yaml and load it. */
__attribute__((format(printf, 1, 2))) static capalloc_config *
load(const char *fmt, ...)
{
    char path[256], yaml[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof yaml, fmt, ap);
    va_end(ap);
    write_file(in_tmp("capalloc.yaml", path, sizeof path), yaml);
    capalloc_config *c = NULL;
    cap_error e = {0, ""};
    int rc = config_load(path, &c, &e);
    ck_assert_msg(rc == 0, "config_load: %s", e.msg);
    return c;
}

/* Assert e->msg is exactly "<cfg path>:<line>:<col>: <rest>". */
static void expect_at(const cap_error *e, const capalloc_config *c, int line,
                      int col, const char *rest)
{
    char want[2048];
    snprintf(want, sizeof want, "%s:%d:%d: %s", c->path, line, col, rest);
    ck_assert_str_eq(e->msg, want);
}

/* ------------------------------------------------------------------------ */
/* Opening: the good plugins                                                 */
/* ------------------------------------------------------------------------ */

START_TEST(open_good_policy)
{
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_open(PLUGIN("good_policy"), CAPALLOC_KIND_POLICY,
                                 &p, &e), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->kind, CAPALLOC_KIND_POLICY);
    ck_assert_str_eq(p->hdr->name, "good_policy");
    ck_assert_str_eq(p->path, PLUGIN("good_policy"));
    ck_assert_ptr_null(p->state);
    ck_assert_ptr_null(p->opts);
    /* RTLD_LOCAL: the entry symbol did not leak into the global scope */
    ck_assert_ptr_null(dlsym(RTLD_DEFAULT, CAPALLOC_ENTRY_SYMBOL));
    /* its optional callback is present and readable */
    ck_assert(CAPALLOC_HAS_FIELD(p->hdr->struct_size, capalloc_policy_plugin,
                                 portfolios));
    ck_assert_ptr_nonnull(((const capalloc_policy_plugin *)p->hdr)->portfolios);
    plugin_close(p);
}
END_TEST

START_TEST(open_any_kind)
{
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_open(PLUGIN("good_prices"), 0, &p, &e), 0);
    ck_assert_int_eq(p->kind, CAPALLOC_KIND_PRICES);
    plugin_close(p);
    plugin_close(NULL); /* allowed */
}
END_TEST

START_TEST(open_valid_variants)
{
    /* a storage backend with every callback; a policy from before the
     * optional 'portfolios'; a policy from a newer minor ABI */
    static const struct {
        const char *fault;
        capalloc_kind kind;
        int has_portfolios;
    } ok[] = {{"storage", CAPALLOC_KIND_STORAGE, 0},
              {"policy_v0", CAPALLOC_KIND_POLICY, 0},
              {"newer", CAPALLOC_KIND_POLICY, 1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        loaded_plugin *p = NULL;
        cap_error e = {0, ""};
        setenv("CAPALLOC_TEST_FAULT", ok[i].fault, 1);
        ck_assert_msg(plugin_open(PLUGIN("bad_fields"), ok[i].kind, &p, &e) == 0,
                      "%s: %s", ok[i].fault, e.msg);
        if (ok[i].kind == CAPALLOC_KIND_POLICY)
            ck_assert_int_eq(CAPALLOC_HAS_FIELD(p->hdr->struct_size,
                                                capalloc_policy_plugin,
                                                portfolios),
                             ok[i].has_portfolios);
        plugin_close(p);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Opening: every refusal                                                    */
/* ------------------------------------------------------------------------ */

typedef struct refusal {
    const char *file;         /* path of the plugin */
    const char *fault;        /* $CAPALLOC_TEST_FAULT for bad_fields, or NULL */
    capalloc_kind want;
    const char *needles[4];   /* each must be in the message */
} refusal;

static const refusal REFUSALS[] = {
    {TEST_SRCDIR "/tests/plugins/not_a_plugin.so", NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'not_a_plugin' (" TEST_SRCDIR "/tests/plugins/not_a_plugin.so)",
      "could not be loaded"}},
    {TEST_PLUGIN_DIR "/no_such_file.so", NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'no_such_file'", "could not be loaded"}},
    {PLUGIN("missing_symbol"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'missing_symbol' (" PLUGIN("missing_symbol") ")",
      "undefined symbol", "capalloc_core_log"}},
    {PLUGIN("no_entry"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'no_entry' (" PLUGIN("no_entry") ")",
      "exports no capalloc_plugin_entry: not a capalloc plugin"}},
    {PLUGIN("bad_fields"), "null", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "capalloc_plugin_entry() returned NULL"}},
    {PLUGIN("bad_magic"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'bad_magic' (" PLUGIN("bad_magic") ")", "magic 0xdeadbeef",
      "expected 0x43415031"}},
    {PLUGIN("old_abi"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'old_abi' (" PLUGIN("old_abi") ")", "was built for ABI 0",
      "this capalloc speaks ABI 1", "abi_major"}},
    {PLUGIN("future_abi"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'future_abi' (" PLUGIN("future_abi") ") was built for ABI 2, "
      "this capalloc speaks ABI 1",
      "'abi_major'"}},
    {PLUGIN("bad_fields"), "kind", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "unknown kind 9", "'kind'"}},
    {PLUGIN("wrong_kind"), NULL, CAPALLOC_KIND_STORAGE,
     {"plugin 'wrong_kind' (" PLUGIN("wrong_kind") ") is a price source, "
      "but a storage backend is needed",
      "'kind'"}},
    {PLUGIN("good_policy"), NULL, CAPALLOC_KIND_PRICES,
     {"plugin 'good_policy'", "is a weighting policy, but a price source"}},
    {PLUGIN("short_struct"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'short_struct' (" PLUGIN("short_struct") ")", "struct_size",
      "ABI 1.0 weighting policy descriptor"}},
    {PLUGIN("bad_fields"), "name", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "lacks required field 'name'"}},
    {PLUGIN("bad_fields"), "empty_name", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "lacks required field 'name'"}},
    {PLUGIN("bad_fields"), "version", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "lacks required field 'version'"}},
    {PLUGIN("bad_fields"), "create", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "lacks required callback 'create'"}},
    {PLUGIN("bad_fields"), "destroy", CAPALLOC_KIND_POLICY,
     {"plugin 'bad_fields'", "lacks required callback 'destroy'"}},
    {PLUGIN("missing_callback"), NULL, CAPALLOC_KIND_POLICY,
     {"plugin 'missing_callback' (" PLUGIN("missing_callback") ") lacks "
      "required callback 'weights' of a weighting policy"}},
    {PLUGIN("bad_fields"), "prices:get_prices", CAPALLOC_KIND_PRICES,
     {"lacks required callback 'get_prices' of a price source"}},
    {PLUGIN("bad_fields"), "storage:begin", CAPALLOC_KIND_STORAGE,
     {"lacks required callback 'begin' of a storage backend"}},
    {PLUGIN("bad_fields"), "storage:commit", CAPALLOC_KIND_STORAGE,
     {"lacks required callback 'commit' of a storage backend"}},
    {PLUGIN("bad_fields"), "storage:rollback", CAPALLOC_KIND_STORAGE,
     {"lacks required callback 'rollback' of a storage backend"}},
    {PLUGIN("bad_fields"), "storage:read_ledger", CAPALLOC_KIND_STORAGE,
     {"lacks required callback 'read_ledger' of a storage backend"}},
    {PLUGIN("bad_fields"), "storage:find_run", CAPALLOC_KIND_STORAGE,
     {"lacks required callback 'find_run' of a storage backend"}},
    {PLUGIN("bad_fields"), "storage:write", CAPALLOC_KIND_STORAGE,
     {"lacks required callback 'write' of a storage backend"}},
};

START_TEST(open_refused)
{
    const refusal *r = &REFUSALS[_i];
    loaded_plugin *p = (loaded_plugin *)&p; /* must be reset to NULL */
    cap_error e = {0, ""};
    if (r->fault)
        setenv("CAPALLOC_TEST_FAULT", r->fault, 1);
    int rc = plugin_open(r->file, r->want, &p, &e);
    ck_assert_msg(rc == CAP_EXIT_PLUGIN, "%s %s: rc %d (%s)", r->file,
                  r->fault ? r->fault : "", rc, e.msg);
    ck_assert_int_eq(e.code, CAP_EXIT_PLUGIN);
    ck_assert_ptr_null(p);
    for (int k = 0; k < 4 && r->needles[k]; k++)
        ck_assert_has(e.msg, r->needles[k]);
}
END_TEST

START_TEST(kind_names)
{
    ck_assert_str_eq(kind_name(CAPALLOC_KIND_POLICY), "weighting policy");
    ck_assert_str_eq(kind_name(CAPALLOC_KIND_PRICES), "price source");
    ck_assert_str_eq(kind_name(CAPALLOC_KIND_STORAGE), "storage backend");
    ck_assert_str_eq(kind_name((capalloc_kind)0), "unknown kind");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Resolving names                                                           */
/* ------------------------------------------------------------------------ */

/* tmp/<dir>/<name>.so, an empty file (resolving only checks it exists) */
static void touch_plugin(const char *dir, const char *name)
{
    char d[256], f[320];
    in_tmp(dir, d, sizeof d);
    mkdir(d, 0755);
    snprintf(f, sizeof f, "%s/%s.so", d, name);
    write_file(f, "");
}

START_TEST(resolve_plugin_dir)
{
    cap_error e = {0, ""};
    char *path = plugin_resolve("good_policy", TEST_PLUGIN_DIR, &e);
    ck_assert_ptr_nonnull(path);
    ck_assert_str_eq(path, PLUGIN("good_policy"));
    free(path);
    /* a trailing '/' on the folder is fine */
    path = plugin_resolve("good_policy", TEST_PLUGIN_DIR "/", &e);
    ck_assert_str_eq(path, PLUGIN("good_policy"));
    free(path);
}
END_TEST

START_TEST(resolve_env_list)
{
    cap_error e = {0, ""};
    /* empty parts and missing folders are skipped */
    setenv("CAPALLOC_PLUGIN_DIR", "::/nonexistent:" TEST_PLUGIN_DIR ":", 1);
    char *path = plugin_resolve("good_prices", NULL, &e);
    ck_assert_msg(path != NULL, "%s", e.msg);
    ck_assert_str_eq(path, PLUGIN("good_prices"));
    free(path);
}
END_TEST

START_TEST(resolve_order)
{
    char a[256], b[256], want[320];
    cap_error e = {0, ""};
    touch_plugin("a", "twin");
    touch_plugin("b", "twin");
    in_tmp("a", a, sizeof a);
    in_tmp("b", b, sizeof b);

    /* 1. plugin_dir before $CAPALLOC_PLUGIN_DIR */
    setenv("CAPALLOC_PLUGIN_DIR", b, 1);
    char *path = plugin_resolve("twin", a, &e);
    snprintf(want, sizeof want, "%s/twin.so", a);
    ck_assert_str_eq(path, want);
    free(path);

    /* 2. then the list, in its order */
    char list[600];
    snprintf(list, sizeof list, "%s:%s", b, a);
    setenv("CAPALLOC_PLUGIN_DIR", list, 1);
    path = plugin_resolve("twin", NULL, &e);
    snprintf(want, sizeof want, "%s/twin.so", b);
    ck_assert_str_eq(path, want);
    free(path);

    /* a plugin_dir without it falls through to the list */
    touch_plugin("c", "other");
    char c[256];
    path = plugin_resolve("twin", in_tmp("c", c, sizeof c), &e);
    ck_assert_str_eq(path, want);
    free(path);
}
END_TEST

START_TEST(resolve_unknown)
{
    char a[256];
    cap_error e = {0, ""};
    in_tmp("a", a, sizeof a);
    setenv("CAPALLOC_PLUGIN_DIR", "/nonexistent/x:/nonexistent/y", 1);
    char *path = plugin_resolve("nosuch", a, &e);
    ck_assert_ptr_null(path);
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    char want[1024];
    snprintf(want, sizeof want,
             "unknown plugin 'nosuch' (looked in: %s, /nonexistent/x, "
             "/nonexistent/y, ",
             a);
    ck_assert_has(e.msg, want);
}
END_TEST

START_TEST(resolve_bad_names)
{
    static const char *const bad[] = {"Good_Policy", "good-policy", "a b",
                                      "..", "x.dll"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cap_error e = {0, ""};
        ck_assert_ptr_null(plugin_resolve(bad[i], TEST_PLUGIN_DIR, &e));
        ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
        ck_assert_has(e.msg, "invalid plugin name");
        ck_assert_has(e.msg, bad[i]);
    }
    cap_error e = {0, ""};
    ck_assert_ptr_null(plugin_resolve("", TEST_PLUGIN_DIR, &e));
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
}
END_TEST

START_TEST(resolve_paths)
{
    cap_error e = {0, ""};
    /* a name with '/' is a path, never searched */
    char *path = plugin_resolve(PLUGIN("good_policy"), "/nonexistent", &e);
    ck_assert_str_eq(path, PLUGIN("good_policy"));
    free(path);
    ck_assert_ptr_null(plugin_resolve("/nonexistent/x.so", NULL, &e));
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    ck_assert_has(e.msg, "'/nonexistent/x.so' does not exist");
    /* so is a name ending in .so */
    e.code = 0;
    ck_assert_ptr_null(plugin_resolve("nosuch_plugin.so", TEST_PLUGIN_DIR, &e));
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    ck_assert_has(e.msg, "'nosuch_plugin.so' does not exist");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Starting instances                                                        */
/* ------------------------------------------------------------------------ */

#define GOOD_POLICY_YAML                                                    \
    HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n" /* 3 */                        \
         "policy:\n"                         /* 4 */                        \
         "  plugin: good_policy\n"           /* 5 */                        \
         "  options:\n"                      /* 6 */                        \
         "    weights:\n"                    /* 7 */                        \
         "      a: 0.25\n"                   /* 8 */                        \
         "      b: \"0.5\"\n"                /* 9 */

static capalloc_dec D(const char *s)
{
    capalloc_dec d;
    ck_assert_msg(dec_parse(s, &d) == CAPALLOC_OK, "bad test decimal %s", s);
    return d;
}

/* Call the policy's weights() for portfolios ids[], into w[]. */
static void run_weights(const loaded_plugin *p, const char *const *ids,
                        size_t n, capalloc_dec *w)
{
    capalloc_portfolio_view views[8];
    capalloc_snapshot snap;
    capalloc_err err;
    memset(views, 0, sizeof views);
    memset(&snap, 0, sizeof snap);
    memset(&err, 0, sizeof err);
    for (size_t i = 0; i < n; i++)
        views[i].id = ids[i];
    snap.master_id = "0";
    snap.currency = "USD";
    snap.run_date = "2024-01-02";
    snap.n_portfolios = n;
    snap.portfolios = views;
    snap.options = p->opts;
    memset(w, 0, n * sizeof *w);
    const capalloc_policy_plugin *pp = (const capalloc_policy_plugin *)p->hdr;
    ck_assert_int_eq(pp->weights(p->state, &snap, w, &err), CAPALLOC_OK);
}

START_TEST(start_good_policy)
{
    capalloc_config *c = load(GOOD_POLICY_YAML);
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_msg(plugin_start(c, &c->policy, "fixed_weight",
                               CAPALLOC_KIND_POLICY, "policy", &p, &e) == 0,
                  "%s", e.msg);
    ck_assert_ptr_nonnull(p->state);
    ck_assert_ptr_nonnull(p->opts);
    ck_assert_ptr_eq(p->cfg, c);
    ck_assert_ptr_eq(p->pc, &c->policy);
    ck_assert_str_eq(p->host.instance, "policy");
    ck_assert_str_eq(p->host.master_id, "0");

    static const char *const ids[] = {"b", "zz", "a"};
    capalloc_dec w[3];
    run_weights(p, ids, 3, w);
    ck_assert_int_eq(w[0].micros, D("0.5").micros);
    ck_assert_int_eq(w[1].micros, 0);
    ck_assert_int_eq(w[2].micros, D("0.25").micros);

    /* the optional callback, read as the engine reads it */
    const capalloc_policy_plugin *pp = (const capalloc_policy_plugin *)p->hdr;
    ck_assert(CAPALLOC_HAS_FIELD(p->hdr->struct_size, capalloc_policy_plugin,
                                 portfolios));
    const char *const *pids = NULL;
    size_t pn = 0;
    capalloc_err err;
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(pp->portfolios(p->state, &pids, &pn, &err), CAPALLOC_OK);
    ck_assert_uint_eq(pn, 2);
    ck_assert_str_eq(pids[0], "a");
    ck_assert_str_eq(pids[1], "b");
    plugin_close(p);
    config_free(c);
}
END_TEST

START_TEST(two_instances_separate_state)
{
    capalloc_config *c = load(GOOD_POLICY_YAML);
    loaded_plugin *p1 = NULL, *p2 = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p1, &e), 0);
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p2, &e), 0);
    ck_assert_ptr_ne(p1->state, p2->state);
    ck_assert_ptr_ne(p1->opts, p2->opts);

    static const char *const ids[] = {"calls"};
    capalloc_dec w;
    run_weights(p1, ids, 1, &w);
    run_weights(p1, ids, 1, &w);
    run_weights(p1, ids, 1, &w);
    ck_assert_int_eq(w.micros, 3 * CAPALLOC_DEC_ONE);
    run_weights(p2, ids, 1, &w);
    ck_assert_int_eq(w.micros, 1 * CAPALLOC_DEC_ONE); /* not 4 */
    /* closing one leaves the other working */
    plugin_close(p1);
    run_weights(p2, ids, 1, &w);
    ck_assert_int_eq(w.micros, 2 * CAPALLOC_DEC_ONE);
    plugin_close(p2);
    config_free(c);
}
END_TEST

START_TEST(start_good_prices)
{
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "prices:\n"
                                   "  plugin: good_prices\n"
                                   "  options:\n"
                                   "    tickers: AAA,BBB\n"
                                   "    price: 12.25\n"
                                   "    as_of: 1700000000\n"
                                   "    stale: true\n");
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_msg(plugin_start(c, &c->prices, "file", CAPALLOC_KIND_PRICES,
                               "prices", &p, &e) == 0,
                  "%s", e.msg);
    static const char *const t[] = {"AAA", "CCC", "BBB", "AA"};
    capalloc_quote q[4];
    capalloc_err err;
    memset(q, 0, sizeof q);
    memset(&err, 0, sizeof err);
    const capalloc_price_plugin *pp = (const capalloc_price_plugin *)p->hdr;
    ck_assert_int_eq(pp->get_prices(p->state, t, 4, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 1);
    ck_assert_int_eq(q[0].price.micros, D("12.25").micros);
    ck_assert_int_eq(q[0].as_of, 1700000000);
    ck_assert_uint_eq(q[0].flags, CAPALLOC_QUOTE_STALE);
    ck_assert_int_eq(q[1].found, 0);
    ck_assert_int_eq(q[2].found, 1);
    ck_assert_int_eq(q[3].found, 0);
    plugin_close(p);
    config_free(c);
}
END_TEST

START_TEST(start_by_relative_path)
{
    char link[256];
    ck_assert_int_eq(symlink(PLUGIN("good_policy"),
                             in_tmp("my_policy.so", link, sizeof link)), 0);
    /* no plugin_dir: the path is relative to the config's folder */
    capalloc_config *c = load(HEAD "policy:\n"
                                   "  plugin: ./my_policy.so\n"
                                   "  options:\n"
                                   "    weights: {a: 1}\n");
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_msg(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                               "policy", &p, &e) == 0,
                  "%s", e.msg);
    ck_assert_has(p->path, "my_policy.so");
    ck_assert_str_eq(p->hdr->name, "good_policy");
    plugin_close(p);
    config_free(c);
}
END_TEST

START_TEST(start_from_env)
{
    setenv("CAPALLOC_PLUGIN_DIR", TEST_PLUGIN_DIR, 1);
    capalloc_config *c = load(HEAD "policy:\n"
                                   "  plugin: good_policy\n"
                                   "  options: {weights: {a: 1}}\n");
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_msg(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                               "policy", &p, &e) == 0,
                  "%s", e.msg);
    ck_assert_str_eq(p->path, PLUGIN("good_policy"));
    plugin_close(p);
    config_free(c);
}
END_TEST

START_TEST(start_unknown_name)
{
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "storage:\n"          /* 4 */
                                   "  plugin: nosuch\n");
    loaded_plugin *p = (loaded_plugin *)&p;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->storage, "sqlite",
                                  CAPALLOC_KIND_STORAGE, "storage", &p, &e),
                     CAP_EXIT_CONFIG);
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    ck_assert_ptr_null(p);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:4:1: key 'storage.plugin': unknown plugin 'nosuch' "
             "(looked in: " TEST_PLUGIN_DIR ", ",
             c->path);
    ck_assert_msg(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    config_free(c);

    /* a defaulted section is reported at 1:1, and says it was the default */
    c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n");
    ck_assert_int_eq(plugin_start(c, &c->storage, "nosuch_default",
                                  CAPALLOC_KIND_STORAGE, "storage", &p, &e),
                     CAP_EXIT_CONFIG);
    snprintf(want, sizeof want,
             "%s:1:1: key 'storage.plugin': unknown plugin 'nosuch_default'",
             c->path);
    ck_assert_msg(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    ck_assert_has(e.msg, "(the default when none is named)");
    config_free(c);
}
END_TEST

START_TEST(start_wrong_kind)
{
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "storage:\n"          /* 4 */
                                   "  plugin: wrong_kind\n");
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->storage, "sqlite",
                                  CAPALLOC_KIND_STORAGE, "storage", &p, &e),
                     CAP_EXIT_PLUGIN);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:4:1: key 'storage.plugin': plugin 'wrong_kind' (%s) is a "
             "price source, but 'storage' needs a storage backend (field "
             "'kind')",
             c->path, PLUGIN("wrong_kind"));
    ck_assert_str_eq(e.msg, want);
    config_free(c);
}
END_TEST

START_TEST(start_refused_file)
{
    /* a load refusal through plugin_start keeps its code and gains the
     * section's location */
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "policy: {plugin: future_abi}\n");
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p, &e),
                     CAP_EXIT_PLUGIN);
    char want[512];
    snprintf(want, sizeof want, "%s:4:1: key 'policy.plugin': plugin "
             "'future_abi' (", c->path);
    ck_assert_msg(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    ck_assert_has(e.msg, "was built for ABI 2, this capalloc speaks ABI 1");
    config_free(c);
}
END_TEST

START_TEST(start_bad_option)
{
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "policy:\n"               /* 4 */
                                   "  plugin: good_policy\n" /* 5 */
                                   "  options:\n"            /* 6 */
                                   "    weights: {a: 1}\n"   /* 7 */
                                   "    lable: x\n");        /* 8 */
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p, &e),
                     CAP_EXIT_CONFIG);
    ck_assert_ptr_null(p);
    expect_at(&e, c, 8, 5,
              "key 'policy.options.lable': unknown option for plugin "
              "'good_policy' (known: weights, label, fail_key, fail_status)");
    config_free(c);
}
END_TEST

START_TEST(start_create_fails)
{
    /* INVALID names an option: CAP_EXIT_CONFIG at that option's entry */
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "policy:\n"                   /* 4 */
                                   "  plugin: good_policy\n"     /* 5 */
                                   "  options:\n"                /* 6 */
                                   "    weights:\n"              /* 7 */
                                   "      a: 0.5\n"              /* 8 */
                                   "      b: 0.5\n"              /* 9 */
                                   "    fail_key: weights.b\n"); /* 10 */
    loaded_plugin *p = (loaded_plugin *)&p;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p, &e),
                     CAP_EXIT_CONFIG);
    ck_assert_ptr_null(p);
    expect_at(&e, c, 9, 7,
              "key 'policy.options.weights.b': plugin 'good_policy': asked "
              "to fail on 'weights.b'");
    config_free(c);

    /* a run-time status (here IO) with no key: CAP_EXIT_PLUGIN, and no
     * config location, since the config is not at fault */
    c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                  "policy:\n"                 /* 4 */
                  "  plugin: good_policy\n"
                  "  options:\n"
                  "    weights: {a: 1}\n"
                  "    fail_key: \"\"\n"
                  "    fail_status: 5\n");
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p, &e),
                     CAP_EXIT_PLUGIN);
    ck_assert_str_eq(e.msg, "starting the weighting policy: plugin "
                            "'good_policy': asked to fail on ''");
    config_free(c);

    /* the plugin's own validation names a map entry */
    c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                  "policy:\n"                 /* 4 */
                  "  plugin: good_policy\n"   /* 5 */
                  "  options:\n"              /* 6 */
                  "    weights:\n"            /* 7 */
                  "      a: 0.5\n"            /* 8 */
                  "      b: -0.5\n");         /* 9 */
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 9, 7,
              "key 'policy.options.weights.b': plugin 'good_policy': weight "
              "of 'b' is negative");
    config_free(c);
}
END_TEST

START_TEST(start_bad_spec_or_state)
{
    static const struct {
        const char *fault, *needle;
    } cases[] = {
        {"option_type", "declares option 'x' with unknown type 42"},
        {"option_default", "declares option 'n' (integer) with an invalid "
                           "default '12abc'"},
        {"option_dup", "declares option 'x' twice"},
        {"null_state", "create() succeeded but returned no state"},
    };
    capalloc_config *c = load(HEAD "plugin_dir: " TEST_PLUGIN_DIR "\n"
                                   "policy: {plugin: bad_fields}\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loaded_plugin *p = NULL;
        cap_error e = {0, ""};
        setenv("CAPALLOC_TEST_FAULT", cases[i].fault, 1);
        ck_assert_int_eq(plugin_start(c, &c->policy, NULL,
                                      CAPALLOC_KIND_POLICY, "policy", &p, &e),
                         CAP_EXIT_PLUGIN);
        ck_assert_ptr_null(p);
        ck_assert_has(e.msg, "plugin 'bad_fields'");
        ck_assert_has(e.msg, cases[i].needle);
    }
    config_free(c);
}
END_TEST

START_TEST(fail_format)
{
    capalloc_config *c = load(GOOD_POLICY_YAML);
    loaded_plugin *p = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(plugin_start(c, &c->policy, NULL, CAPALLOC_KIND_POLICY,
                                  "policy", &p, &e), 0);
    capalloc_err err;
    memset(&err, 0, sizeof err);
    p->host.set_error(&err, NULL, "the market is closed");
    ck_assert_int_eq(plugin_fail(p, &err, CAP_EXIT_PRICE, "pricing", &e),
                     CAP_EXIT_PRICE);
    ck_assert_int_eq(e.code, CAP_EXIT_PRICE);
    ck_assert_str_eq(e.msg, "pricing: plugin 'good_policy': the market is closed");
    /* an empty or unterminated message is still shown safely */
    memset(&err, 'x', sizeof err);
    plugin_fail(p, &err, CAP_EXIT_PLUGIN, "weights", &e);
    ck_assert_uint_lt(strlen(e.msg), sizeof e.msg);
    memset(&err, 0, sizeof err);
    plugin_fail(p, &err, CAP_EXIT_PLUGIN, "weights", &e);
    ck_assert_str_eq(e.msg, "weights: plugin 'good_policy': failed without a "
                            "message");
    plugin_close(p);
    config_free(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* options_bind                                                              */
/* ------------------------------------------------------------------------ */

static const capalloc_option_spec SQLITE_SPEC[] = {
    {"path", CAPALLOC_OPT_PATH, 1, NULL, "database file"},
    {"busy_timeout_ms", CAPALLOC_OPT_INT, 0, "5000", "lock wait"},
    {NULL, 0, 0, NULL, NULL}};

static const capalloc_option_spec ALL_SPEC[] = {
    {"name", CAPALLOC_OPT_STRING, 0, NULL, NULL},
    {"file", CAPALLOC_OPT_PATH, 0, NULL, NULL},
    {"abs", CAPALLOC_OPT_PATH, 0, NULL, NULL},
    {"count", CAPALLOC_OPT_INT, 0, NULL, NULL},
    {"rate", CAPALLOC_OPT_DECIMAL, 0, NULL, NULL},
    {"flag", CAPALLOC_OPT_BOOL, 0, NULL, NULL},
    {"weights", CAPALLOC_OPT_DECIMAL_MAP, 0, NULL, NULL},
    {"d_name", CAPALLOC_OPT_STRING, 0, "hi", NULL},
    {"d_file", CAPALLOC_OPT_PATH, 0, "data/p.csv", NULL},
    {"d_abs", CAPALLOC_OPT_PATH, 0, "/etc/p.csv", NULL},
    {"d_count", CAPALLOC_OPT_INT, 0, "-7", NULL},
    {"d_rate", CAPALLOC_OPT_DECIMAL, 0, "1.5", NULL},
    {"d_flag", CAPALLOC_OPT_BOOL, 0, "true", NULL},
    {"none", CAPALLOC_OPT_STRING, 0, NULL, NULL},
    {"no_map", CAPALLOC_OPT_DECIMAL_MAP, 0, NULL, NULL},
    {NULL, 0, 0, NULL, NULL}};

#define ALL_YAML                                    \
    HEAD "storage:\n"                               \
         "  plugin: sqlite\n"                       \
         "  options:\n"                             \
         "    name: hello world\n"                  \
         "    file: fund.db\n"                      \
         "    abs: /var/lib/fund.db\n"              \
         "    count: -9223372036854775808\n"        \
         "    rate: \"0.125\"\n"                    \
         "    flag: false\n"                        \
         "    weights:\n"                           \
         "      z: 1\n"                             \
         "      a: 0.000001\n"                      \
         "      m: -2.5\n"

START_TEST(bind_all_types)
{
    capalloc_config *c = load(ALL_YAML);
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    ck_assert_msg(options_bind(c, &c->storage, "sqlite", ALL_SPEC, &o, &e) == 0,
                  "%s", e.msg);
    const char *s;
    int64_t i;
    capalloc_dec d;
    int b = -1;
    char want[512];

    ck_assert_int_eq(opt_string(o, "name", &s), 1);
    ck_assert_str_eq(s, "hello world");
    ck_assert_int_eq(opt_string(o, "file", &s), 1);
    snprintf(want, sizeof want, "%s/fund.db", c->dir);
    ck_assert_str_eq(s, want);
    ck_assert_int_eq(opt_string(o, "abs", &s), 1);
    ck_assert_str_eq(s, "/var/lib/fund.db");
    ck_assert_int_eq(opt_int(o, "count", &i), 1);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(opt_decimal(o, "rate", &d), 1);
    ck_assert_int_eq(d.micros, 125000);
    ck_assert_int_eq(opt_bool(o, "flag", &b), 1);
    ck_assert_int_eq(b, 0);

    /* the map, in file order */
    const char *k;
    ck_assert_uint_eq(opt_map_count(o, "weights"), 3);
    ck_assert_int_eq(opt_map_entry(o, "weights", 0, &k, &d), 1);
    ck_assert_str_eq(k, "z");
    ck_assert_int_eq(d.micros, CAPALLOC_DEC_ONE);
    ck_assert_int_eq(opt_map_entry(o, "weights", 1, &k, &d), 1);
    ck_assert_str_eq(k, "a");
    ck_assert_int_eq(d.micros, 1);
    ck_assert_int_eq(opt_map_entry(o, "weights", 2, &k, &d), 1);
    ck_assert_str_eq(k, "m");
    ck_assert_int_eq(d.micros, -2500000);
    ck_assert_int_eq(opt_map_entry(o, "weights", 3, &k, &d), 0);

    /* defaults, PATH ones resolved too */
    ck_assert_int_eq(opt_string(o, "d_name", &s), 1);
    ck_assert_str_eq(s, "hi");
    ck_assert_int_eq(opt_string(o, "d_file", &s), 1);
    snprintf(want, sizeof want, "%s/data/p.csv", c->dir);
    ck_assert_str_eq(s, want);
    ck_assert_int_eq(opt_string(o, "d_abs", &s), 1);
    ck_assert_str_eq(s, "/etc/p.csv");
    ck_assert_int_eq(opt_int(o, "d_count", &i), 1);
    ck_assert(i == -7);
    ck_assert_int_eq(opt_decimal(o, "d_rate", &d), 1);
    ck_assert_int_eq(d.micros, 1500000);
    ck_assert_int_eq(opt_bool(o, "d_flag", &b), 1);
    ck_assert_int_eq(b, 1);

    /* no value: 0, and the out-parameter is left alone */
    s = "untouched";
    ck_assert_int_eq(opt_string(o, "none", &s), 0);
    ck_assert_str_eq(s, "untouched");
    ck_assert_uint_eq(opt_map_count(o, "no_map"), 0);
    ck_assert_int_eq(opt_map_entry(o, "no_map", 0, &k, &d), 0);
    /* undeclared names, wrong accessors, NULLs: 0 */
    ck_assert_int_eq(opt_string(o, "undeclared", &s), 0);
    ck_assert_int_eq(opt_int(o, "rate", &i), 0);
    ck_assert_int_eq(opt_decimal(o, "count", &d), 0);
    ck_assert_int_eq(opt_bool(o, "name", &b), 0);
    ck_assert_int_eq(opt_string(o, "count", &s), 0);
    ck_assert_uint_eq(opt_map_count(o, "rate"), 0);
    ck_assert_int_eq(opt_string(NULL, "name", &s), 0);
    ck_assert_int_eq(opt_string(o, NULL, &s), 0);
    ck_assert_int_eq(opt_int(o, "count", NULL), 1);
    options_free(o);
    options_free(NULL);
    config_free(c);
}
END_TEST

START_TEST(bind_unknown_key)
{
    capalloc_config *c = load(HEAD "storage:\n"          /* 3 */
                                   "  plugin: sqlite\n"  /* 4 */
                                   "  options:\n"        /* 5 */
                                   "    path: fund.db\n" /* 6 */
                                   "    pathh: x.db\n"); /* 7 */
    capalloc_options *o = (capalloc_options *)&o;
    cap_error e = {0, ""};
    ck_assert_int_eq(options_bind(c, &c->storage, "sqlite", SQLITE_SPEC, &o, &e),
                     CAP_EXIT_CONFIG);
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    ck_assert_ptr_null(o);
    expect_at(&e, c, 7, 5,
              "key 'storage.options.pathh': unknown option for plugin "
              "'sqlite' (known: path, busy_timeout_ms)");
    config_free(c);
}
END_TEST

START_TEST(bind_no_options)
{
    capalloc_config *c = load(HEAD "storage:\n"           /* 3 */
                                   "  plugin: x\n"        /* 4 */
                                   "  options:\n"         /* 5 */
                                   "    verbose: true\n"); /* 6 */
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(options_bind(c, &c->storage, "x", NULL, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 6, 5,
              "key 'storage.options.verbose': plugin 'x' takes no options");
    /* no options given, none taken: fine, and nothing to read */
    ck_assert_int_eq(options_bind(c, &c->prices, "file", NULL, &o, &e), 0);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(opt_string(o, "path", NULL), 0);
    options_free(o);
    /* an empty spec array is the same as none */
    static const capalloc_option_spec empty[] = {{NULL, 0, 0, NULL, NULL}};
    ck_assert_int_eq(options_bind(c, &c->storage, "x", empty, &o, &e),
                     CAP_EXIT_CONFIG);
    ck_assert_has(e.msg, "plugin 'x' takes no options");
    config_free(c);
}
END_TEST

typedef struct type_case {
    capalloc_opt_type type;
    const char *yaml;  /* the value, on line 6 after "    opt: " */
    const char *msg;   /* NULL: accepted */
} type_case;

static const type_case TYPES[] = {
    {CAPALLOC_OPT_STRING, "{a: 1}", "expected a scalar, found a mapping"},
    {CAPALLOC_OPT_STRING, "[1, 2]", "expected a scalar, found a sequence"},
    {CAPALLOC_OPT_STRING, "\"\"", NULL},
    {CAPALLOC_OPT_STRING, "12", NULL},
    {CAPALLOC_OPT_PATH, "{a: 1}", "expected a scalar, found a mapping"},
    {CAPALLOC_OPT_PATH, "\"\"", "expected a path, found an empty value"},
    {CAPALLOC_OPT_PATH, "a/b.csv", NULL},
    {CAPALLOC_OPT_INT, "12x",
     "'12x' is not an integer (digits, optional leading '-')"},
    {CAPALLOC_OPT_INT, "1.5",
     "'1.5' is not an integer (digits, optional leading '-')"},
    {CAPALLOC_OPT_INT, "+3", "'+3' is not an integer (digits, optional "
                             "leading '-')"},
    {CAPALLOC_OPT_INT, "\"-\"", "'-' is not an integer (digits, optional "
                                "leading '-')"},
    {CAPALLOC_OPT_INT, "9223372036854775808",
     "'9223372036854775808' is out of range for an integer"},
    {CAPALLOC_OPT_INT, "[1]", "expected a scalar, found a sequence"},
    {CAPALLOC_OPT_INT, "9223372036854775807", NULL},
    {CAPALLOC_OPT_INT, "-0", NULL},
    {CAPALLOC_OPT_DECIMAL, "abc",
     "'abc' is not an exact decimal (digits, optional '.', at most 6 decimal "
     "places)"},
    {CAPALLOC_OPT_DECIMAL, "0.1234567",
     "'0.1234567' is not an exact decimal (digits, optional '.', at most 6 "
     "decimal places)"},
    {CAPALLOC_OPT_DECIMAL, "1e5",
     "'1e5' is not an exact decimal (digits, optional '.', at most 6 decimal "
     "places)"},
    {CAPALLOC_OPT_DECIMAL, "99999999999999",
     "'99999999999999' is out of range for an exact decimal (at most "
     "9223372036854.775807)"},
    {CAPALLOC_OPT_DECIMAL, "{a: 1}", "expected a scalar, found a mapping"},
    {CAPALLOC_OPT_DECIMAL, "-0.000001", NULL},
    {CAPALLOC_OPT_BOOL, "yes", "'yes' is not a boolean (true or false)"},
    {CAPALLOC_OPT_BOOL, "True", "'True' is not a boolean (true or false)"},
    {CAPALLOC_OPT_BOOL, "1", "'1' is not a boolean (true or false)"},
    {CAPALLOC_OPT_BOOL, "[true]", "expected a scalar, found a sequence"},
    {CAPALLOC_OPT_BOOL, "true", NULL},
    {CAPALLOC_OPT_DECIMAL_MAP, "0.5", "expected a mapping, found a scalar"},
    {CAPALLOC_OPT_DECIMAL_MAP, "[0.5]", "expected a mapping, found a sequence"},
    {CAPALLOC_OPT_DECIMAL_MAP, "{}", NULL},
};

START_TEST(bind_types)
{
    const type_case *t = &TYPES[_i];
    const capalloc_option_spec spec[] = {{"opt", t->type, 0, NULL, NULL},
                                         {NULL, 0, 0, NULL, NULL}};
    capalloc_config *c = load(HEAD "storage:\n"  /* 3 */
                                   "  plugin: sqlite\n"
                                   "  options:\n"
                                   "    opt: %s\n", /* 6 */
                              t->yaml);
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    int rc = options_bind(c, &c->storage, "sqlite", spec, &o, &e);
    if (t->msg == NULL) {
        ck_assert_msg(rc == 0, "type %d '%s': %s", t->type, t->yaml, e.msg);
        options_free(o);
    } else {
        ck_assert_msg(rc == CAP_EXIT_CONFIG, "type %d '%s' accepted", t->type,
                      t->yaml);
        ck_assert_ptr_null(o);
        char rest[512];
        snprintf(rest, sizeof rest, "key 'storage.options.opt': %s", t->msg);
        expect_at(&e, c, 6, 5, rest);
    }
    config_free(c);
}
END_TEST

START_TEST(bind_missing_required)
{
    capalloc_config *c = load(HEAD "plugin_dir: /x\n"            /* 3 */
                                   "storage:\n"                  /* 4 */
                                   "  plugin: sqlite\n"
                                   "  options:\n"
                                   "    busy_timeout_ms: 10\n");
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(options_bind(c, &c->storage, "sqlite", SQLITE_SPEC, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 4, 1, "key 'storage.options.path': missing required option");
    /* a section that is not in the file at all: 1:1 */
    ck_assert_int_eq(options_bind(c, &c->prices, "file", SQLITE_SPEC, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 1, 1, "key 'prices.options.path': missing required option");
    config_free(c);
}
END_TEST

START_TEST(bind_map_bad_entry)
{
    static const capalloc_option_spec spec[] = {
        {"weights", CAPALLOC_OPT_DECIMAL_MAP, 1, NULL, NULL},
        {NULL, 0, 0, NULL, NULL}};
    capalloc_config *c = load(HEAD "policy:\n"            /* 3 */
                                   "  plugin: fixed_weight\n"
                                   "  options:\n"
                                   "    weights:\n"       /* 6 */
                                   "      1: 0.3\n"       /* 7 */
                                   "      2: abc\n"       /* 8 */
                                   "      3: 0.4\n");
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(options_bind(c, &c->policy, "fixed_weight", spec, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 8, 7,
              "key 'policy.options.weights.2': 'abc' is not an exact decimal "
              "(digits, optional '.', at most 6 decimal places)");
    config_free(c);

    c = load(HEAD "policy:\n"
                  "  plugin: fixed_weight\n"
                  "  options:\n"
                  "    weights:\n"         /* 6 */
                  "      1: 0.3\n"         /* 7 */
                  "      x: {y: 1}\n");    /* 8 */
    ck_assert_int_eq(options_bind(c, &c->policy, "fixed_weight", spec, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 8, 7,
              "key 'policy.options.weights.x': expected a scalar, found a "
              "mapping");
    config_free(c);
}
END_TEST

START_TEST(bind_short_form)
{
    static const capalloc_option_spec spec[] = {
        {"weights", CAPALLOC_OPT_DECIMAL_MAP, 1, NULL, NULL},
        {NULL, 0, 0, NULL, NULL}};
    capalloc_config *c = load(HEAD "portfolio_weights:\n" /* 3 */
                                   "  1: 0.30\n"          /* 4 */
                                   "  2: 0.3x\n"          /* 5 */
                                   "  3: 0.40\n");
    ck_assert_int_eq(c->policy.short_form, 1);
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(options_bind(c, &c->policy, "fixed_weight", spec, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 5, 3,
              "key 'portfolio_weights.2': '0.3x' is not an exact decimal "
              "(digits, optional '.', at most 6 decimal places)");
    config_free(c);

    c = load(HEAD "portfolio_weights: {1: 0.3, 2: 0.7}\n");
    ck_assert_int_eq(options_bind(c, &c->policy, "fixed_weight", spec, &o, &e),
                     0);
    ck_assert_uint_eq(opt_map_count(o, "weights"), 2);
    char buf[512], want[512];
    options_where(c, &c->policy, o, "weights", buf, sizeof buf);
    snprintf(want, sizeof want, "%s:3:1: key 'portfolio_weights'", c->path);
    ck_assert_str_eq(buf, want);
    options_where(c, &c->policy, o, "weights.2", buf, sizeof buf);
    snprintf(want, sizeof want, "%s:3:29: key 'portfolio_weights.2'", c->path);
    ck_assert_str_eq(buf, want);
    options_free(o);

    /* an option the short form cannot give is reported under its key */
    static const capalloc_option_spec two[] = {
        {"weights", CAPALLOC_OPT_DECIMAL_MAP, 1, NULL, NULL},
        {"reserve", CAPALLOC_OPT_DECIMAL, 1, NULL, NULL},
        {NULL, 0, 0, NULL, NULL}};
    ck_assert_int_eq(options_bind(c, &c->policy, "fixed_weight", two, &o, &e),
                     CAP_EXIT_CONFIG);
    expect_at(&e, c, 3, 1,
              "key 'portfolio_weights.options.reserve': missing required "
              "option");
    config_free(c);
}
END_TEST

START_TEST(bind_options_not_a_map)
{
    /* config.c only hands over a mapping, but a caller may not */
    capalloc_config *c = load(HEAD "storage:\n"
                                   "  plugin: sqlite\n"
                                   "  options:\n"
                                   "    path: [1]\n"); /* 6 */
    plugin_cfg pc = c->storage;
    pc.options = c->storage.options->items[0]; /* the sequence */
    capalloc_options *o = NULL;
    cap_error e = {0, ""};
    ck_assert_int_eq(options_bind(c, &pc, "sqlite", SQLITE_SPEC, &o, &e),
                     CAP_EXIT_CONFIG);
    ck_assert_has(e.msg, "key 'storage.options': expected a mapping, found a "
                         "sequence");
    config_free(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* options_where                                                             */
/* ------------------------------------------------------------------------ */

START_TEST(where_keys)
{
    capalloc_config *c = load(HEAD "policy:\n"               /* 3 */
                                   "  plugin: good_policy\n" /* 4 */
                                   "  options:\n"            /* 5 */
                                   "    label: x\n"          /* 6 */
                                   "    weights:\n"          /* 7 */
                                   "      \"1\": 0.3\n"      /* 8 */
                                   "      \"3\": 0.4\n"      /* 9 */
                                   "      a.b: 0.1\n");      /* 10 */
    static const struct {
        const char *key;
        int line, col;
        const char *shown;
    } cases[] = {
        {"weights.3", 9, 7, "policy.options.weights.3"},
        {"weights.a.b", 10, 7, "policy.options.weights.a.b"},
        {"weights", 7, 5, "policy.options.weights"},
        {"label", 6, 5, "policy.options.label"},
        {"weights.99", 7, 5, "policy.options.weights.99"},
        {"label.x", 6, 5, "policy.options.label.x"},
        {"fail_status", 3, 1, "policy.options.fail_status"},
        {"nosuch", 3, 1, "policy.options.nosuch"},
        {"", 3, 1, "policy"},
        {NULL, 3, 1, "policy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512], want[512];
        options_where(c, &c->policy, NULL, cases[i].key, buf, sizeof buf);
        snprintf(want, sizeof want, "%s:%d:%d: key '%s'", c->path,
                 cases[i].line, cases[i].col, cases[i].shown);
        ck_assert_str_eq(buf, want);
    }
    /* a small buffer is cut, and terminated */
    char small[8];
    options_where(c, &c->policy, NULL, "weights.3", small, sizeof small);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    /* a defaulted section: 1:1 */
    char buf[512], want[512];
    options_where(c, &c->storage, NULL, "path", buf, sizeof buf);
    snprintf(want, sizeof want, "%s:1:1: key 'storage.options.path'", c->path);
    ck_assert_str_eq(buf, want);
    config_free(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The host table: one test per entry                                        */
/* ------------------------------------------------------------------------ */

/* A host and bound options as plugin_start would make them. */
typedef struct host_fixture {
    capalloc_config *c;
    capalloc_options *o;
    capalloc_host h;
} host_fixture;

static void host_up(host_fixture *f)
{
    f->c = load(ALL_YAML);
    cap_error e = {0, ""};
    ck_assert_msg(options_bind(f->c, &f->c->storage, "sqlite", ALL_SPEC, &f->o,
                               &e) == 0,
                  "%s", e.msg);
    host_init(&f->h, f->c, "storage", "sqlite");
}

static void host_down(host_fixture *f)
{
    options_free(f->o);
    config_free(f->c);
}

START_TEST(host_table)
{
    host_fixture f;
    host_up(&f);
    const capalloc_host *h = &f.h;
    ck_assert_uint_eq(h->struct_size, sizeof(capalloc_host));
    ck_assert_uint_eq(h->abi_major, CAPALLOC_ABI_MAJOR);
    ck_assert_uint_eq(h->abi_minor, CAPALLOC_ABI_MINOR);
    ck_assert_str_eq(h->master_id, "0");
    ck_assert_str_eq(h->currency, "USD");
    ck_assert_int_eq(h->minor_units, 2);
    ck_assert_str_eq(h->instance, "storage");
    /* every entry is filled in (Redis #11025) */
    ck_assert(h->log && h->set_error && h->opt_string && h->opt_int &&
              h->opt_decimal && h->opt_bool && h->opt_map_count &&
              h->opt_map_entry && h->dec_parse && h->dec_format &&
              h->dec_add && h->dec_sub && h->dec_mul && h->dec_div &&
              h->dec_cmp);
    /* and the table ends where the ABI 1.0 header says */
    ck_assert(CAPALLOC_HAS_FIELD(h->struct_size, capalloc_host, core_private));
    host_down(&f);
}
END_TEST

/* Run h->log and return what reached stderr (static buffer). */
static const char *logged(const capalloc_host *h, capalloc_log_level lv,
                          const char *text)
{
    static char out[4096];
    char path[256];
    fflush(stderr);
    int saved = dup(2);
    int fd = open(in_tmp("stderr.txt", path, sizeof path),
                  O_CREAT | O_TRUNC | O_RDWR, 0600);
    ck_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    h->log(h, lv, "%s", text);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

START_TEST(host_log)
{
    host_fixture f;
    host_up(&f);
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_WARNING, "disk is slow"),
                     "capalloc: [storage sqlite] warning: disk is slow\n");
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_ERROR, "gone"),
                     "capalloc: [storage sqlite] error: gone\n");
    /* below the verbosity: nothing */
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_INFO, "opened"), "");
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_DEBUG, "sql"), "");
    host_set_verbosity(CAPALLOC_LOG_DEBUG);
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_INFO, "opened"),
                     "capalloc: [storage sqlite] info: opened\n");
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_DEBUG, "sql"),
                     "capalloc: [storage sqlite] debug: sql\n");
    /* one line, whatever the plugin wrote */
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_ERROR, "two\nlines\n"),
                     "capalloc: [storage sqlite] error: two lines\n");
    host_set_verbosity(CAPALLOC_LOG_ERROR);
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_WARNING, "quiet"), "");
    host_set_verbosity(CAPALLOC_LOG_WARNING);
    /* a host that lost its plugin name still logs */
    f.h.core_private = NULL;
    ck_assert_str_eq(logged(&f.h, CAPALLOC_LOG_WARNING, "x"),
                     "capalloc: [storage ?] warning: x\n");
    host_down(&f);
}
END_TEST

START_TEST(host_set_error)
{
    host_fixture f;
    host_up(&f);
    capalloc_err err;
    memset(&err, 'x', sizeof err);
    f.h.set_error(&err, "path", "cannot open %s: %d", "fund.db", 13);
    ck_assert_str_eq(err.key, "path");
    ck_assert_str_eq(err.msg, "cannot open fund.db: 13");
    f.h.set_error(&err, NULL, "no key");
    ck_assert_str_eq(err.key, "");
    ck_assert_str_eq(err.msg, "no key");
    f.h.set_error(NULL, "k", "ignored"); /* no crash */

    /* truncation: always terminated, never past the arrays */
    char long_key[300], long_msg[3000];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    memset(long_msg, 'm', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    f.h.set_error(&err, long_key, "%s", long_msg);
    ck_assert_uint_eq(strlen(err.key), sizeof err.key - 1);
    ck_assert_uint_eq(strlen(err.msg), sizeof err.msg - 1);
    /* ... and never in the middle of a UTF-8 character */
    char euros[1200] = "";
    for (int i = 0; i < 350; i++)
        strcat(euros, "\xe2\x82\xac"); /* U+20AC, 3 bytes */
    f.h.set_error(&err, NULL, "%s", euros);
    ck_assert_uint_eq(strlen(err.msg) % 3, 0);
    ck_assert_uint_eq(strlen(err.msg), 1023 / 3 * 3);

    /* one line */
    f.h.set_error(&err, "a", "line one\nline two\n");
    ck_assert_str_eq(err.msg, "line one line two");
    /* wrapping its own earlier message is safe */
    f.h.set_error(&err, err.key, "outer: %s", err.msg);
    ck_assert_str_eq(err.key, "a");
    ck_assert_str_eq(err.msg, "outer: line one line two");
    host_down(&f);
}
END_TEST

START_TEST(host_opt_string)
{
    host_fixture f;
    host_up(&f);
    const char *s = NULL;
    ck_assert_int_eq(f.h.opt_string(f.o, "name", &s), 1);
    ck_assert_str_eq(s, "hello world");
    ck_assert_int_eq(f.h.opt_string(f.o, "d_name", &s), 1); /* default */
    ck_assert_str_eq(s, "hi");
    ck_assert_int_eq(f.h.opt_string(f.o, "file", &s), 1);   /* a PATH */
    ck_assert_str_eq(s + strlen(s) - 8, "/fund.db");
    ck_assert_int_eq(f.h.opt_string(f.o, "none", &s), 0);
    ck_assert_int_eq(f.h.opt_string(f.o, "nosuch", &s), 0);
    host_down(&f);
}
END_TEST

START_TEST(host_opt_int)
{
    host_fixture f;
    host_up(&f);
    int64_t i = 0;
    ck_assert_int_eq(f.h.opt_int(f.o, "count", &i), 1);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(f.h.opt_int(f.o, "d_count", &i), 1);
    ck_assert(i == -7);
    ck_assert_int_eq(f.h.opt_int(f.o, "name", &i), 0);
    ck_assert(i == -7);
    host_down(&f);
}
END_TEST

START_TEST(host_opt_decimal)
{
    host_fixture f;
    host_up(&f);
    capalloc_dec d = {0};
    ck_assert_int_eq(f.h.opt_decimal(f.o, "rate", &d), 1);
    ck_assert_int_eq(d.micros, 125000);
    ck_assert_int_eq(f.h.opt_decimal(f.o, "d_rate", &d), 1);
    ck_assert_int_eq(d.micros, 1500000);
    ck_assert_int_eq(f.h.opt_decimal(f.o, "weights", &d), 0);
    host_down(&f);
}
END_TEST

START_TEST(host_opt_bool)
{
    host_fixture f;
    host_up(&f);
    int b = -1;
    ck_assert_int_eq(f.h.opt_bool(f.o, "flag", &b), 1);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(f.h.opt_bool(f.o, "d_flag", &b), 1);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(f.h.opt_bool(f.o, "count", &b), 0);
    host_down(&f);
}
END_TEST

START_TEST(host_opt_map_count)
{
    host_fixture f;
    host_up(&f);
    ck_assert_uint_eq(f.h.opt_map_count(f.o, "weights"), 3);
    ck_assert_uint_eq(f.h.opt_map_count(f.o, "no_map"), 0);
    ck_assert_uint_eq(f.h.opt_map_count(f.o, "name"), 0);
    ck_assert_uint_eq(f.h.opt_map_count(NULL, "weights"), 0);
    host_down(&f);
}
END_TEST

START_TEST(host_opt_map_entry)
{
    host_fixture f;
    host_up(&f);
    const char *k = NULL;
    capalloc_dec d = {0};
    ck_assert_int_eq(f.h.opt_map_entry(f.o, "weights", 2, &k, &d), 1);
    ck_assert_str_eq(k, "m");
    ck_assert_int_eq(d.micros, -2500000);
    ck_assert_int_eq(f.h.opt_map_entry(f.o, "weights", 0, NULL, &d), 1);
    ck_assert_int_eq(d.micros, CAPALLOC_DEC_ONE);
    ck_assert_int_eq(f.h.opt_map_entry(f.o, "weights", 3, &k, &d), 0);
    ck_assert_int_eq(f.h.opt_map_entry(f.o, "rate", 0, &k, &d), 0);
    host_down(&f);
}
END_TEST

START_TEST(host_dec_parse)
{
    host_fixture f;
    host_up(&f);
    capalloc_dec d = {42};
    ck_assert_int_eq(f.h.dec_parse("12.345678", &d), CAPALLOC_OK);
    ck_assert_int_eq(d.micros, 12345678);
    ck_assert_int_eq(f.h.dec_parse("-0.5", &d), CAPALLOC_OK);
    ck_assert_int_eq(d.micros, -500000);
    d.micros = 42;
    ck_assert_int_eq(f.h.dec_parse("1.1234567", &d), CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(f.h.dec_parse("abc", &d), CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(f.h.dec_parse(NULL, &d), CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(f.h.dec_parse("1", NULL), CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(f.h.dec_parse("99999999999999", &d), CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(d.micros, 42); /* untouched */
    host_down(&f);
}
END_TEST

START_TEST(host_dec_format)
{
    host_fixture f;
    host_up(&f);
    char buf[CAPALLOC_DEC_MAX_TEXT];
    ck_assert_ptr_eq(f.h.dec_format(D("1.5"), 2, buf, sizeof buf), buf);
    ck_assert_str_eq(buf, "1.50");
    ck_assert_str_eq(f.h.dec_format(D("-0.000001"), 0, buf, sizeof buf),
                     "-0.000001");
    ck_assert_str_eq(f.h.dec_format(D("3"), 0, buf, sizeof buf), "3");
    ck_assert_str_eq(f.h.dec_format(D("3.25"), 1, buf, sizeof buf), "3.25");
    capalloc_dec min = {-INT64_MAX};
    ck_assert_str_eq(f.h.dec_format(min, 6, buf, sizeof buf),
                     "-9223372036854.775807");
    host_down(&f);
}
END_TEST

START_TEST(host_dec_add)
{
    host_fixture f;
    host_up(&f);
    capalloc_dec r = {42}, max = {INT64_MAX};
    ck_assert_int_eq(f.h.dec_add(D("1.5"), D("2.25"), &r), CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 3750000);
    r.micros = 42;
    ck_assert_int_eq(f.h.dec_add(max, D("0.000001"), &r), CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(r.micros, 42);
    host_down(&f);
}
END_TEST

START_TEST(host_dec_sub)
{
    host_fixture f;
    host_up(&f);
    capalloc_dec r = {42}, min = {-INT64_MAX};
    ck_assert_int_eq(f.h.dec_sub(D("1.5"), D("2.25"), &r), CAPALLOC_OK);
    ck_assert_int_eq(r.micros, -750000);
    r.micros = 42;
    ck_assert_int_eq(f.h.dec_sub(min, D("0.000001"), &r), CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(r.micros, 42);
    host_down(&f);
}
END_TEST

START_TEST(host_dec_mul)
{
    host_fixture f;
    host_up(&f);
    capalloc_dec r = {42};
    ck_assert_int_eq(f.h.dec_mul(D("2.5"), D("4"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 10 * CAPALLOC_DEC_ONE);
    /* 0.000003 * 0.5 = 0.0000015 */
    ck_assert_int_eq(f.h.dec_mul(D("0.000003"), D("0.5"), CAPALLOC_ROUND_DOWN,
                                 &r), CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 1);
    ck_assert_int_eq(f.h.dec_mul(D("0.000003"), D("0.5"),
                                 CAPALLOC_ROUND_HALF_EVEN, &r), CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 2);
    r.micros = 42;
    ck_assert_int_eq(f.h.dec_mul(D("9000000000000"), D("2"), CAPALLOC_ROUND_DOWN,
                                 &r), CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(f.h.dec_mul(D("1"), D("2"), (capalloc_round)7, &r),
                     CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(r.micros, 42);
    host_down(&f);
}
END_TEST

START_TEST(host_dec_div)
{
    host_fixture f;
    host_up(&f);
    capalloc_dec r = {42};
    ck_assert_int_eq(f.h.dec_div(D("1"), D("3"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 333333);
    ck_assert_int_eq(f.h.dec_div(D("2"), D("3"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 666666);
    ck_assert_int_eq(f.h.dec_div(D("2"), D("3"), CAPALLOC_ROUND_HALF_EVEN, &r),
                     CAPALLOC_OK);
    ck_assert_int_eq(r.micros, 666667);
    r.micros = 42;
    ck_assert_int_eq(f.h.dec_div(D("1"), D("0"), CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(f.h.dec_div(D("9000000000000"), D("0.5"),
                                 CAPALLOC_ROUND_DOWN, &r),
                     CAPALLOC_ERR_OVERFLOW);
    ck_assert_int_eq(f.h.dec_div(D("1"), D("2"), (capalloc_round)-1, &r),
                     CAPALLOC_ERR_INVALID);
    ck_assert_int_eq(r.micros, 42);
    host_down(&f);
}
END_TEST

START_TEST(host_dec_cmp)
{
    host_fixture f;
    host_up(&f);
    ck_assert_int_eq(f.h.dec_cmp(D("1"), D("2")), -1);
    ck_assert_int_eq(f.h.dec_cmp(D("2.000000"), D("2")), 0);
    ck_assert_int_eq(f.h.dec_cmp(D("-1"), D("-2")), 1);
    host_down(&f);
}
END_TEST

/* ------------------------------------------------------------------------ */

static TCase *tc(Suite *s, const char *name)
{
    TCase *t = tcase_create(name);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    suite_add_tcase(s, t);
    return t;
}

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *t;

    t = tc(s, "open");
    tcase_add_test(t, open_good_policy);
    tcase_add_test(t, open_any_kind);
    tcase_add_test(t, open_valid_variants);
    tcase_add_loop_test(t, open_refused, 0,
                        (int)(sizeof REFUSALS / sizeof REFUSALS[0]));
    tcase_add_test(t, kind_names);

    t = tc(s, "resolve");
    tcase_add_test(t, resolve_plugin_dir);
    tcase_add_test(t, resolve_env_list);
    tcase_add_test(t, resolve_order);
    tcase_add_test(t, resolve_unknown);
    tcase_add_test(t, resolve_bad_names);
    tcase_add_test(t, resolve_paths);

    t = tc(s, "start");
    tcase_add_test(t, start_good_policy);
    tcase_add_test(t, two_instances_separate_state);
    tcase_add_test(t, start_good_prices);
    tcase_add_test(t, start_by_relative_path);
    tcase_add_test(t, start_from_env);
    tcase_add_test(t, start_unknown_name);
    tcase_add_test(t, start_wrong_kind);
    tcase_add_test(t, start_refused_file);
    tcase_add_test(t, start_bad_option);
    tcase_add_test(t, start_create_fails);
    tcase_add_test(t, start_bad_spec_or_state);
    tcase_add_test(t, fail_format);

    t = tc(s, "options");
    tcase_add_test(t, bind_all_types);
    tcase_add_test(t, bind_unknown_key);
    tcase_add_test(t, bind_no_options);
    tcase_add_loop_test(t, bind_types, 0, (int)(sizeof TYPES / sizeof TYPES[0]));
    tcase_add_test(t, bind_missing_required);
    tcase_add_test(t, bind_map_bad_entry);
    tcase_add_test(t, bind_short_form);
    tcase_add_test(t, bind_options_not_a_map);
    tcase_add_test(t, where_keys);

    t = tc(s, "host");
    tcase_add_test(t, host_table);
    tcase_add_test(t, host_log);
    tcase_add_test(t, host_set_error);
    tcase_add_test(t, host_opt_string);
    tcase_add_test(t, host_opt_int);
    tcase_add_test(t, host_opt_decimal);
    tcase_add_test(t, host_opt_bool);
    tcase_add_test(t, host_opt_map_count);
    tcase_add_test(t, host_opt_map_entry);
    tcase_add_test(t, host_dec_parse);
    tcase_add_test(t, host_dec_format);
    tcase_add_test(t, host_dec_add);
    tcase_add_test(t, host_dec_sub);
    tcase_add_test(t, host_dec_mul);
    tcase_add_test(t, host_dec_div);
    tcase_add_test(t, host_dec_cmp);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
