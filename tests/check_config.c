/*
 * check_config.c - tests of core/config.c: loading the YAML (and the
 * design's JSON) configuration, every refusal with its file:line:col and
 * key, and where the config file is looked for.
 *
 * Each test gets a fresh directory (mkdtemp under $TMPDIR or /tmp), writes
 * its config files there and removes them afterwards. It also restores the
 * working directory and $CAPALLOC_CONFIG, so the suite runs the same with
 * CK_FORK=no (under valgrind).
 */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Per-test state (the test program's only globals). */
static char tmpdir[1024];
static char oldcwd[PATH_MAX];
static char *oldenv;

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/check_config.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_ptr_nonnull(getcwd(oldcwd, sizeof oldcwd));
    const char *env = getenv("CAPALLOC_CONFIG");
    oldenv = env != NULL ? strdup(env) : NULL;
    unsetenv("CAPALLOC_CONFIG");
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (unlink(p) != 0)
            rm_tree(p);
    }
    closedir(d);
    rmdir(dir);
}

static void teardown(void)
{
    if (chdir(oldcwd) != 0)
        perror("chdir");
    if (oldenv != NULL)
        setenv("CAPALLOC_CONFIG", oldenv, 1);
    else
        unsetenv("CAPALLOC_CONFIG");
    free(oldenv);
    oldenv = NULL;
    rm_tree(tmpdir);
}

/* Write name (relative to tmpdir) with text; returns its full path in a
 * buffer the caller provides. */
static const char *write_file_n(const char *name, const char *text, size_t n,
                                char *path, size_t len)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *write_file(const char *name, const char *text, char *path,
                              size_t len)
{
    return write_file_n(name, text, strlen(text), path, len);
}

/* Load text as fund.yaml; it must succeed. */
static capalloc_config *load_ok(const char *text)
{
    char path[PATH_MAX];
    write_file("fund.yaml", text, path, sizeof path);
    capalloc_config *c = NULL;
    cap_error e;
    memset(&e, 0, sizeof e);
    int rc = config_load(path, &c, &e);
    ck_assert_msg(rc == 0, "config_load failed: %s", e.msg);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Load n bytes as fund.yaml; it must fail with CAP_EXIT_CONFIG, leave *out
 * untouched, and the message must contain every string of want[]. */
static void load_err_n(const char *text, size_t n, const char *const *want)
{
    char path[PATH_MAX];
    write_file_n("fund.yaml", text, n, path, sizeof path);
    capalloc_config *sentinel = (capalloc_config *)&sentinel;
    capalloc_config *c = sentinel;
    cap_error e;
    memset(&e, 0, sizeof e);
    int rc = config_load(path, &c, &e);
    ck_assert_msg(rc == CAP_EXIT_CONFIG, "expected a refusal, rc=%d (%s)", rc,
                  e.msg);
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    ck_assert_msg(c == sentinel, "*out was changed on error");
    ck_assert_msg(strchr(e.msg, '\n') == NULL, "message not one line: %s",
                  e.msg);
    /* The message starts with the path as given. */
    ck_assert_msg(strncmp(e.msg, path, strlen(path)) == 0,
                  "message does not start with the file path: %s", e.msg);
    for (; *want != NULL; want++)
        ck_assert_msg(strstr(e.msg, *want) != NULL,
                      "expected \"%s\" in message: %s", *want, e.msg);
}

#define LOAD_ERR(text, ...)                                                  \
    do {                                                                     \
        static const char *const want_[] = {__VA_ARGS__, NULL};              \
        load_err_n((text), strlen(text), want_);                             \
    } while (0)

#define HAS(s, sub)                                                          \
    ck_assert_msg(strstr((s), (sub)) != NULL, "expected \"%s\" in: %s",     \
                  (sub), (s))

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

static const char DESIGN_JSON[] =
    "{\"master_portfolio_id\": \"0\", \"currency\": \"USD\", "
    "\"portfolio_weights\": {\"1\": 0.30, \"2\": 0.30, \"3\": 0.40}}";

START_TEST(test_design_json)
{
    capalloc_config *c = load_ok(DESIGN_JSON);
    ck_assert_str_eq(c->master_id, "0");
    ck_assert_str_eq(c->currency, "USD");
    ck_assert_int_eq(c->minor_units, 2);
    ck_assert_ptr_null(c->plugin_dir);
    ck_assert_uint_eq(c->n_portfolios, 0);

    /* The short form means policy fixed_weight {weights: <the map>}. */
    ck_assert_ptr_nonnull(c->policy.plugin);
    ck_assert_str_eq(c->policy.plugin, "fixed_weight");
    ck_assert_int_eq(c->policy.short_form, 1);
    ck_assert_str_eq(c->policy.key_path, "portfolio_weights");
    ck_assert_int_eq(c->policy.line, 1);
    ck_assert_int_eq(c->policy.col,
                     (int)(strstr(DESIGN_JSON, "\"portfolio_weights\"") -
                           DESIGN_JSON) + 1);
    ck_assert_ptr_nonnull(c->synth);
    ck_assert_ptr_eq(c->policy.options, c->synth);
    ck_assert_int_eq(c->synth->kind, CFG_MAP);
    ck_assert_uint_eq(c->synth->n, 1);

    size_t idx = 99;
    const cfg_node *w = cfg_get(c->policy.options, "weights", &idx);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(idx, 0);
    ck_assert_ptr_eq(w, cfg_get(c->root, "portfolio_weights", NULL));
    ck_assert_int_eq(w->kind, CFG_MAP);
    ck_assert_uint_eq(w->n, 3);
    static const char *const keys[] = {"1", "2", "3"};
    static const char *const vals[] = {"0.30", "0.30", "0.40"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(w->keys[i], keys[i]);
        ck_assert_int_eq(w->items[i]->kind, CFG_SCALAR);
        ck_assert_str_eq(w->items[i]->value, vals[i]);
        ck_assert_int_eq(w->items[i]->plain, 1);
        ck_assert_int_eq(w->key_lines[i], 1);
    }

    /* The master id was quoted, so not plain; kept as text "0". */
    const cfg_node *m = cfg_get(c->root, "master_portfolio_id", NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->plain, 0);
    ck_assert_str_eq(m->value, "0");

    /* Storage and prices default. */
    ck_assert_ptr_null(c->storage.plugin);
    ck_assert_ptr_null(c->storage.options);
    ck_assert_str_eq(c->storage.key_path, "storage");
    ck_assert_int_eq(c->storage.line, 0);
    ck_assert_ptr_null(c->prices.plugin);
    ck_assert_str_eq(c->prices.key_path, "prices");
    config_free(c);
}
END_TEST

START_TEST(test_design_json_multiline)
{
    capalloc_config *c = load_ok("{\n"
                                 "  \"master_portfolio_id\": \"0\",\n"
                                 "  \"currency\": \"USD\",\n"
                                 "  \"portfolio_weights\": {\n"
                                 "    \"1\": 0.30,\n"
                                 "    \"2\": 0.30,\n"
                                 "    \"3\": 0.40\n"
                                 "  }\n"
                                 "}\n");
    ck_assert_int_eq(c->policy.line, 4);
    ck_assert_int_eq(c->policy.col, 3);
    const cfg_node *w = cfg_get(c->synth, "weights", NULL);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->line, 4);
    ck_assert_int_eq(w->col, 24);
    ck_assert_int_eq(w->key_lines[2], 7);
    ck_assert_int_eq(w->key_cols[2], 5);
    ck_assert_int_eq(w->items[2]->line, 7);
    ck_assert_int_eq(w->items[2]->col, 10);
    ck_assert_str_eq(w->items[2]->value, "0.40");
    config_free(c);
}
END_TEST

static const char FULL_YAML[] =
    "# a full configuration\n"               /* 1 */
    "master_portfolio_id: 0\n"               /* 2 */
    "currency: EUR\n"                        /* 3 */
    "portfolios: [A, \"B\", '7']\n"          /* 4 */
    "plugin_dir: plugins\n"                  /* 5 */
    "storage:\n"                             /* 6 */
    "  plugin: sqlite\n"                     /* 7 */
    "  options:\n"                           /* 8 */
    "    path: ledger.db\n"                  /* 9 */
    "    busy_timeout_ms: 5000\n"            /* 10 */
    "prices:\n"                              /* 11 */
    "  plugin: file\n"                       /* 12 */
    "  options: {path: prices.csv}\n"        /* 13 */
    "policy:\n"                              /* 14 */
    "  plugin: fixed_weight\n"               /* 15 */
    "  options:\n"                           /* 16 */
    "    weights:\n"                         /* 17 */
    "      A: 0.25\n"                        /* 18 */
    "      B: \"0.50\"\n"                    /* 19 */
    "      '7': 0.100000\n";                 /* 20 */

START_TEST(test_full_form)
{
    capalloc_config *c = load_ok(FULL_YAML);
    ck_assert_str_eq(c->master_id, "0");
    ck_assert_str_eq(c->currency, "EUR");
    ck_assert_int_eq(c->minor_units, 2);
    ck_assert_ptr_null(c->synth);

    ck_assert_uint_eq(c->n_portfolios, 3);
    ck_assert_str_eq(c->portfolios[0], "A");
    ck_assert_str_eq(c->portfolios[1], "B");
    ck_assert_str_eq(c->portfolios[2], "7");

    /* plugin_dir is absolute, against the config's directory. */
    char *real = realpath(tmpdir, NULL);
    ck_assert_ptr_nonnull(real);
    ck_assert_str_eq(c->dir, real);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "%s/plugins", real);
    ck_assert_str_eq(c->plugin_dir, want);
    free(real);

    /* storage */
    ck_assert_str_eq(c->storage.plugin, "sqlite");
    ck_assert_str_eq(c->storage.key_path, "storage");
    ck_assert_int_eq(c->storage.line, 6);
    ck_assert_int_eq(c->storage.col, 1);
    ck_assert_int_eq(c->storage.short_form, 0);
    ck_assert_ptr_nonnull(c->storage.options);
    ck_assert_int_eq(c->storage.options->kind, CFG_MAP);
    ck_assert_int_eq(c->storage.options->line, 9);
    size_t idx = 99;
    const cfg_node *p = cfg_get(c->storage.options, "path", &idx);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(idx, 0);
    ck_assert_str_eq(p->value, "ledger.db");
    ck_assert_int_eq(p->line, 9);
    ck_assert_int_eq(p->col, 11);
    ck_assert_int_eq(c->storage.options->key_lines[1], 10);
    ck_assert_int_eq(c->storage.options->key_cols[1], 5);
    const cfg_node *bt = cfg_get(c->storage.options, "busy_timeout_ms", &idx);
    ck_assert_uint_eq(idx, 1);
    ck_assert_str_eq(bt->value, "5000");

    /* prices (flow style options) */
    ck_assert_str_eq(c->prices.plugin, "file");
    ck_assert_int_eq(c->prices.line, 11);
    ck_assert_ptr_nonnull(c->prices.options);
    ck_assert_int_eq(c->prices.options->line, 13);
    ck_assert_int_eq(c->prices.options->col, 12);
    ck_assert_str_eq(cfg_get(c->prices.options, "path", NULL)->value,
                     "prices.csv");

    /* policy with a weights map: text kept exactly, quoting recorded. */
    ck_assert_str_eq(c->policy.plugin, "fixed_weight");
    ck_assert_str_eq(c->policy.key_path, "policy");
    ck_assert_int_eq(c->policy.line, 14);
    ck_assert_int_eq(c->policy.short_form, 0);
    const cfg_node *w = cfg_get(c->policy.options, "weights", NULL);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->kind, CFG_MAP);
    ck_assert_int_eq(w->line, 18);
    ck_assert_int_eq(w->col, 7);
    ck_assert_uint_eq(w->n, 3);
    ck_assert_str_eq(w->keys[0], "A");
    ck_assert_str_eq(w->items[0]->value, "0.25");
    ck_assert_int_eq(w->items[0]->plain, 1);
    ck_assert_str_eq(w->keys[1], "B");
    ck_assert_str_eq(w->items[1]->value, "0.50");
    ck_assert_int_eq(w->items[1]->plain, 0);
    ck_assert_int_eq(w->items[1]->line, 19);
    ck_assert_int_eq(w->items[1]->col, 10);
    ck_assert_str_eq(w->keys[2], "7");
    ck_assert_str_eq(w->items[2]->value, "0.100000");
    ck_assert_int_eq(w->key_lines[2], 20);
    ck_assert_int_eq(w->key_cols[2], 7);

    /* The master id was plain 0: kept as text. */
    const cfg_node *m = cfg_get(c->root, "master_portfolio_id", &idx);
    ck_assert_uint_eq(idx, 0);
    ck_assert_int_eq(m->plain, 1);
    ck_assert_int_eq(m->line, 2);
    ck_assert_int_eq(m->col, 22);
    ck_assert_int_eq(c->root->key_lines[0], 2);
    ck_assert_int_eq(c->root->key_cols[0], 1);
    config_free(c);
}
END_TEST

START_TEST(test_defaults)
{
    capalloc_config *c = load_ok("master_portfolio_id: M\ncurrency: JPY\n");
    ck_assert_str_eq(c->master_id, "M");
    ck_assert_int_eq(c->minor_units, 0);
    ck_assert_ptr_null(c->plugin_dir);
    ck_assert_uint_eq(c->n_portfolios, 0);
    ck_assert_ptr_null(c->synth);
    const plugin_cfg *pcs[] = {&c->storage, &c->prices, &c->policy};
    const char *names[] = {"storage", "prices", "policy"};
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_null(pcs[i]->plugin);
        ck_assert_ptr_null(pcs[i]->options);
        ck_assert_str_eq(pcs[i]->key_path, names[i]);
        ck_assert_int_eq(pcs[i]->line, 0);
        ck_assert_int_eq(pcs[i]->col, 0);
        ck_assert_int_eq(pcs[i]->short_form, 0);
    }
    config_free(c);

    /* A section without options; an empty options map. */
    c = load_ok("master_portfolio_id: M\ncurrency: KWD\n"
                "storage: {plugin: /opt/x/my.so}\n"
                "prices: {plugin: file, options: {}}\n");
    ck_assert_int_eq(c->minor_units, 3);
    ck_assert_str_eq(c->storage.plugin, "/opt/x/my.so");
    ck_assert_ptr_null(c->storage.options);
    ck_assert_ptr_nonnull(c->prices.options);
    ck_assert_uint_eq(c->prices.options->n, 0);
    config_free(c);
}
END_TEST

START_TEST(test_minor_units_and_paths)
{
    /* A currency outside the table is fine with minor_units. */
    capalloc_config *c = load_ok("master_portfolio_id: M\ncurrency: XAU\n"
                                 "minor_units: 6\nplugin_dir: /usr/lib/x\n"
                                 "portfolios: []\n");
    ck_assert_str_eq(c->currency, "XAU");
    ck_assert_int_eq(c->minor_units, 6);
    ck_assert_str_eq(c->plugin_dir, "/usr/lib/x");
    ck_assert_uint_eq(c->n_portfolios, 0);
    config_free(c);

    /* minor_units may repeat the table, never change it: a known
     * currency always rounds the ISO 4217 way. */
    c = load_ok("master_portfolio_id: M\ncurrency: USD\nminor_units: '2'\n");
    ck_assert_int_eq(c->minor_units, 2);
    config_free(c);
    LOAD_ERR("master_portfolio_id: M\ncurrency: USD\nminor_units: 3\n",
             ":3:14: ", "key 'minor_units'", "USD has 2 minor units");

    /* The path is kept as given; dir is absolute. */
    char path[PATH_MAX];
    write_file("fund.yaml", "master_portfolio_id: M\ncurrency: USD\n"
               "plugin_dir: ../p\n", path, sizeof path);
    ck_assert_int_eq(chdir(tmpdir), 0);
    cap_error e;
    memset(&e, 0, sizeof e);
    c = NULL;
    ck_assert_int_eq(config_load("fund.yaml", &c, &e), 0);
    ck_assert_str_eq(c->path, "fund.yaml");
    char *real = realpath(tmpdir, NULL);
    ck_assert_str_eq(c->dir, real);
    ck_assert_int_eq(c->dir[0], '/');
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "%s/../p", real);
    ck_assert_str_eq(c->plugin_dir, want);
    free(real);

    char where[256];
    config_where(c, 7, 3, where, sizeof where);
    ck_assert_str_eq(where, "fund.yaml:7:3: ");
    config_where(c, 0, 0, where, sizeof where);
    ck_assert_str_eq(where, "fund.yaml: ");
    config_where(c, 12, 5, where, 6); /* truncates, stays terminated */
    ck_assert_str_eq(where, "fund.");
    config_free(c);
}
END_TEST

START_TEST(test_str_tag_and_block_scalars)
{
    capalloc_config *c = load_ok("master_portfolio_id: !!str 0\n"
                                 "currency: USD\n"
                                 "policy:\n"
                                 "  plugin: >-\n"
                                 "    fixed_weight\n"
                                 "  options: {note: \"a\\tb\", x: ''}\n");
    const cfg_node *m = cfg_get(c->root, "master_portfolio_id", NULL);
    ck_assert_str_eq(m->value, "0");
    ck_assert_int_eq(m->plain, 0);
    ck_assert_str_eq(c->policy.plugin, "fixed_weight");
    ck_assert_str_eq(cfg_get(c->policy.options, "note", NULL)->value, "a\tb");
    ck_assert_str_eq(cfg_get(c->policy.options, "x", NULL)->value, "");
    config_free(c);
}
END_TEST

START_TEST(test_cfg_get)
{
    capalloc_config *c = load_ok(FULL_YAML);
    size_t idx = 42;
    ck_assert_ptr_null(cfg_get(c->root, "nope", &idx));
    ck_assert_uint_eq(idx, 42);
    ck_assert_ptr_null(cfg_get(NULL, "currency", &idx));
    ck_assert_ptr_null(cfg_get(c->root, NULL, &idx));
    const cfg_node *pf = cfg_get(c->root, "portfolios", &idx);
    ck_assert_uint_eq(idx, 2);
    ck_assert_int_eq(pf->kind, CFG_SEQ);
    ck_assert_uint_eq(pf->n, 3);
    ck_assert_ptr_null(cfg_get(pf, "A", NULL)); /* not a map */
    ck_assert_ptr_null(cfg_get(pf->items[0], "A", NULL));
    ck_assert_str_eq(cfg_get(c->root, "currency", NULL)->value, "EUR");
    config_free(c);
    config_free(NULL);
}
END_TEST

START_TEST(test_currency_table)
{
    static const char *const two[] = {"USD", "EUR", "GBP", "CHF", "CAD",
                                      "AUD", "NZD", "SEK", "NOK", "DKK",
                                      "HKD", "SGD", "CNY", "INR", "BRL",
                                      "MXN", "ZAR"};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        ck_assert_int_eq(currency_minor_units(two[i]), 2);
    static const char *const zero[] = {"JPY", "KRW", "ISK", "CLP"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(currency_minor_units(zero[i]), 0);
    static const char *const three[] = {"KWD", "BHD", "JOD", "OMR", "TND"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(currency_minor_units(three[i]), 3);
    ck_assert_int_eq(currency_minor_units("usd"), -1);
    ck_assert_int_eq(currency_minor_units("XAU"), -1);
    ck_assert_int_eq(currency_minor_units(""), -1);
    ck_assert_int_eq(currency_minor_units(NULL), -1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Refusals                                                                 */
/* ------------------------------------------------------------------------ */

START_TEST(test_unknown_top_key)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\ncolour: blue\n",
             "fund.yaml:3:1: key 'colour': unknown key (known: "
             "master_portfolio_id, currency,",
             "portfolio_weights, rebalance, capital, approval)");
}
END_TEST

/* The approval section (config_approval.c): none required by default,
 * max_age 24h; bad values named by file, line and key. */
START_TEST(test_approval_section)
{
    capalloc_config *c = load_ok("master_portfolio_id: 0\ncurrency: USD\n");
    ck_assert_int_eq(c->approval.required, 0);
    ck_assert_int_eq(c->approval.max_age, 24L * 3600);
    config_free(c);
    c = load_ok("master_portfolio_id: 0\ncurrency: USD\napproval:\n");
    ck_assert_int_eq(c->approval.required, 0);
    ck_assert_int_eq(c->approval.max_age, 24L * 3600);
    config_free(c);
    c = load_ok("master_portfolio_id: 0\ncurrency: USD\napproval:\n"
                "  required: 2\n  max_age: 90m\n");
    ck_assert_int_eq(c->approval.required, 2);
    ck_assert_int_eq(c->approval.max_age, 90L * 60);
    config_free(c);
    c = load_ok("master_portfolio_id: 0\ncurrency: USD\n"
                "approval: {max_age: 2d}\n");
    ck_assert_int_eq(c->approval.max_age, 2L * 86400);
    config_free(c);

    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\napproval:\n"
             "  requird: 1\n",
             "fund.yaml:4:3: key 'approval.requird': unknown key (known: "
             "required, max_age)");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\napproval:\n"
             "  required: -1\n",
             "fund.yaml:4:13: key 'approval.required': expected a number "
             "of approvers",
             "(found '-1')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\napproval:\n"
             "  required: two\n",
             "key 'approval.required'", "(found 'two')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\napproval:\n"
             "  max_age: 24x\n",
             "fund.yaml:4:12: key 'approval.max_age': expected a positive "
             "duration",
             "(found '24x')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\napproval:\n"
             "  max_age: 0h\n",
             "key 'approval.max_age'", "(found '0h')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\napproval: 1\n",
             "key 'approval': expected a mapping");
}
END_TEST

/* The rebalance section (config_rebalance.c): every rule off by default,
 * each one parsed, every bad value named by file, line, key and value. */
START_TEST(test_rebalance_section)
{
    static const char HEAD[] = "master_portfolio_id: 0\ncurrency: USD\n";
    capalloc_config *c = load_ok(HEAD);
    ck_assert(!rules_active(&c->rebalance));
    config_free(c);
    c = load_ok("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n");
    ck_assert(!rules_active(&c->rebalance));
    config_free(c);

    c = load_ok("rebalance:\n"
                "  drift_band: {relative: 0.25, scope: fund}\n"
                "  min_transfer: 1000.50\n"
                "  max_transfer: 1.5%\n"
                "  max_turnover: \"10%\"\n"
                "  cash_buffer: 0.02\n"
                "master_portfolio_id: 0\ncurrency: USD\n");
    const rebalance_rules *r = &c->rebalance;
    ck_assert(rules_active(r));
    ck_assert_int_eq(r->band, BAND_RELATIVE);
    ck_assert_int_eq(r->scope, BAND_FUND);
    ck_assert_int_eq(r->band_width.micros, 250000);
    ck_assert(r->min_transfer.set && !r->min_transfer.fraction);
    ck_assert_int_eq(r->min_transfer.v.micros, 1000500000);
    ck_assert(r->max_transfer.set && r->max_transfer.fraction);
    ck_assert_int_eq(r->max_transfer.v.micros, 15000);
    ck_assert(r->max_turnover.set && r->max_turnover.fraction);
    ck_assert_int_eq(r->max_turnover.v.micros, 100000);
    ck_assert_int_eq(r->cash_buffer.micros, 20000);
    config_free(c);
    c = load_ok("master_portfolio_id: 0\ncurrency: USD\n"
                "rebalance: {drift_band: {absolute: 0.05}}\n");
    ck_assert_int_eq(c->rebalance.band, BAND_ABSOLUTE);
    ck_assert_int_eq(c->rebalance.scope, BAND_STRATEGY);
    config_free(c);

    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  min_transfr: 5\n",
             "fund.yaml:4:3: key 'rebalance.min_transfr': unknown key "
             "(known: drift_band,");
    /* the amount is checked against the currency, declared after it */
    LOAD_ERR("rebalance:\n  min_transfer: 10.005\n"
             "master_portfolio_id: 0\ncurrency: USD\n",
             "fund.yaml:2:17: key 'rebalance.min_transfer': expected a "
             "positive amount with at most 2 decimal places",
             "(found '10.005')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: JPY\nrebalance:\n"
             "  max_transfer: -3\n",
             "fund.yaml:4:17: key 'rebalance.max_transfer'", "(found '-3')",
             "at most 0 decimal places");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  max_turnover: 120%\n",
             "key 'rebalance.max_turnover': expected a percentage",
             "(found '120%')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  cash_buffer: 1\n",
             "fund.yaml:4:16: key 'rebalance.cash_buffer': expected a "
             "fraction above 0 and below 1");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  drift_band: {absolute: 0.1, relative: 0.2}\n",
             "key 'rebalance.drift_band.relative': give one of absolute "
             "and relative");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  drift_band: {scope: all}\n",
             "key 'rebalance.drift_band.scope': expected strategy or fund",
             "(found 'all')");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  drift_band: {scope: fund}\n",
             "fund.yaml:4:15: key 'rebalance.drift_band': missing absolute "
             "or relative");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  drift_band: 0.1\n",
             "key 'rebalance.drift_band': expected a mapping");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  min_transfer: 500\n  max_transfer: 100\n",
             "fund.yaml:4:3: key 'rebalance.min_transfer': is above "
             "max_transfer");
    c = load_ok("master_portfolio_id: 0\ncurrency: USD\n"
                "rebalance: {max_nav_move: 0.25}\n");
    ck_assert_int_eq(c->rebalance.max_nav_move.micros, 250000);
    ck_assert(!rules_active(&c->rebalance)); /* a guard, not a rule */
    config_free(c);
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance:\n"
             "  max_nav_move: 0\n",
             "fund.yaml:4:17: key 'rebalance.max_nav_move': expected a "
             "fraction above 0");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nrebalance: [1]\n",
             "fund.yaml:3:12: key 'rebalance': expected a mapping");
}
END_TEST

START_TEST(test_unknown_section_key)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "storage:\n  plugin: sqlite\n  colour: blue\n",
             "fund.yaml:5:3: key 'storage.colour': unknown key (known: "
             "plugin, options)");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "prices: {plugin: file, option: {}}\n",
             "fund.yaml:3:", "key 'prices.option': unknown key");
}
END_TEST

START_TEST(test_duplicate_top_key)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nminor_units: 2\n"
             "currency: EUR\n",
             "fund.yaml:4:1: key 'currency': duplicate key (first at line 2)");
    /* The same key quoted differently is the same key. */
    LOAD_ERR("{\"currency\": \"USD\",\n currency: EUR}\n",
             "fund.yaml:2:2: key 'currency': duplicate key (first at line 1)");
}
END_TEST

START_TEST(test_duplicate_nested_key)
{
    LOAD_ERR("master_portfolio_id: 0\n"      /* 1 */
             "currency: USD\n"               /* 2 */
             "policy:\n"                     /* 3 */
             "  options:\n"                  /* 4 */
             "    weights:\n"                /* 5 */
             "      2: 0.5\n"                /* 6 */
             "      2: 0.5\n"                /* 7 */
             "  plugin: fixed_weight\n",     /* 8 */
             "fund.yaml:7:7: key 'policy.options.weights.2': duplicate key "
             "(first at line 6)");
    /* In the design's JSON short form. */
    LOAD_ERR("{\"master_portfolio_id\": \"0\", \"currency\": \"USD\",\n"
             " \"portfolio_weights\": {\"1\": 0.30,\n"
             "   \"2\": 0.30,\n"
             "   \"1\": 0.40}}\n",
             "fund.yaml:4:4: key 'portfolio_weights.1': duplicate key "
             "(first at line 2)");
    /* Inside a sequence item. */
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "storage:\n  plugin: x\n  options:\n    list:\n"
             "      - {a: 1, a: 2}\n",
             "fund.yaml:7:", "key 'storage.options.list[0].a': duplicate key "
             "(first at line 7)");
}
END_TEST

START_TEST(test_duplicate_many_keys)
{
    /* A big map (the duplicate check is hashed): the duplicate at the end
     * names the first occurrence. */
    size_t cap = 64 * 1024, n = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    n += (size_t)snprintf(text + n, cap - n,
                          "master_portfolio_id: 0\ncurrency: USD\n"
                          "portfolio_weights:\n");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(text + n, cap - n, "  p%d: 0.0001\n", i);
    n += (size_t)snprintf(text + n, cap - n, "  p1234: 0.0001\n");
    ck_assert_uint_lt(n, cap);
    static const char *const want[] = {
        "fund.yaml:3004:3: key 'portfolio_weights.p1234': duplicate key "
        "(first at line 1238)",
        NULL};
    load_err_n(text, n, want);
    free(text);
}
END_TEST

START_TEST(test_wrong_types)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nstorage: sqlite\n",
             "fund.yaml:3:10: key 'storage': expected a mapping, found a "
             "scalar");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "portfolios:\n  A: 1\n  B: 2\n",
             "fund.yaml:4:3: key 'portfolios': expected a sequence, found a "
             "mapping");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nstorage:\n",
             "fund.yaml:3:", "key 'storage': expected a mapping, found an "
             "empty value");
    LOAD_ERR("master_portfolio_id: [0]\ncurrency: USD\n",
             "fund.yaml:1:22: key 'master_portfolio_id': expected a scalar, "
             "found a sequence");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "policy: {plugin: fixed_weight, options: [1]}\n",
             "fund.yaml:3:41: key 'policy.options': expected a mapping, "
             "found a sequence");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "policy: {plugin: {a: b}}\n",
             "fund.yaml:3:", "key 'policy.plugin': expected a scalar, found a "
             "mapping");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nportfolio_weights: 1\n",
             "fund.yaml:3:20: key 'portfolio_weights': expected a mapping, "
             "found a scalar");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nplugin_dir: {a: 1}\n",
             "fund.yaml:3:", "key 'plugin_dir': expected a scalar");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nportfolios: [A, [B]]\n",
             "fund.yaml:3:17: key 'portfolios[1]': expected a scalar, found "
             "a sequence");
    LOAD_ERR("- master_portfolio_id: 0\n- currency: USD\n",
             "fund.yaml:1:1: ", "must be a mapping", "found a sequence");
    LOAD_ERR("just text\n", "fund.yaml:1:1: ", "must be a mapping");
}
END_TEST

START_TEST(test_missing_section_plugin)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nstorage: {plugin: ''}\n",
             "fund.yaml:3:19: key 'storage.plugin': ", "must not be empty");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nstorage: {plugin: }\n",
             "fund.yaml:3:", "key 'storage.plugin': ", "empty");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nplugin_dir: \"\"\n",
             "fund.yaml:3:13: key 'plugin_dir': must not be empty");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "prices:\n  options: {path: p.csv}\n",
             "fund.yaml:3:1: key 'prices.plugin': missing required key");
}
END_TEST

START_TEST(test_missing_master)
{
    LOAD_ERR("# fund\ncurrency: USD\n",
             "fund.yaml:1:1: key 'master_portfolio_id': missing required key");
}
END_TEST

START_TEST(test_missing_currency)
{
    LOAD_ERR("master_portfolio_id: 0\nportfolios: [A]\n",
             "fund.yaml:1:1: key 'currency': missing required key");
}
END_TEST

START_TEST(test_bad_master)
{
    LOAD_ERR("master_portfolio_id: \"a b\"\ncurrency: USD\n",
             "fund.yaml:1:22: key 'master_portfolio_id': 'a b' is not a valid "
             "portfolio id");
    LOAD_ERR("master_portfolio_id: \"\"\ncurrency: USD\n",
             "fund.yaml:1:22: key 'master_portfolio_id': ", "empty");
    LOAD_ERR("master_portfolio_id:\ncurrency: USD\n",
             "fund.yaml:1:", "key 'master_portfolio_id': ", "empty");
    LOAD_ERR("master_portfolio_id: ~\ncurrency: USD\n",
             "fund.yaml:1:22: key 'master_portfolio_id': ", "empty");
    LOAD_ERR("master_portfolio_id: \"a\\tb\"\ncurrency: USD\n",
             "fund.yaml:1:22: key 'master_portfolio_id': ");
}
END_TEST

START_TEST(test_bad_currency)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: usd\n",
             "fund.yaml:2:11: key 'currency': 'usd' is not a currency code");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USDT\n",
             "fund.yaml:2:11: key 'currency': 'USDT'");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: 840\n",
             "fund.yaml:2:11: key 'currency': '840'");
}
END_TEST

START_TEST(test_unknown_currency)
{
    LOAD_ERR("master_portfolio_id: 0\nportfolios: [A]\ncurrency: XAU\n",
             "fund.yaml:3:11: key 'currency': currency 'XAU' is not in the "
             "built-in table", "minor_units");
}
END_TEST

START_TEST(test_bad_minor_units)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: XAU\nminor_units: 7\n",
             "fund.yaml:3:14: key 'minor_units': expected a whole number from "
             "0 to 6, found '7'");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nminor_units: 2.0\n",
             "fund.yaml:3:14: key 'minor_units'");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nminor_units: -1\n",
             "fund.yaml:3:14: key 'minor_units'");
}
END_TEST

START_TEST(test_syntax_error)
{
    LOAD_ERR("master_portfolio_id: 0\n"
             "currency: USD\n"
             "storage:\n"
             "  plugin: sqlite\n"
             " options: {}\n",
             "fund.yaml:5:2: YAML syntax error: did not find expected key",
             "(while parsing a block mapping at line 1, column 1)");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: [USD\nfoo: bar\n",
             "fund.yaml:3:", "YAML syntax error: ", "flow sequence");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: \"USD\n",
             "fund.yaml:3:1: YAML syntax error: ", "quoted scalar at line 2");
    LOAD_ERR("{\"master_portfolio_id\": \"0\", \"currency\": \"USD\",}\n"
             "}\n",
             "fund.yaml:2:1: YAML syntax error: ");
    /* Invalid UTF-8: line and column still given. */
    LOAD_ERR("master_portfolio_id: 0\ncurrency: US\xff" "D\n",
             "fund.yaml:2:13: YAML syntax error: invalid leading UTF-8 octet");
    /* A NUL byte in the file. */
    static const char nul[] = "master_portfolio_id: 0\ncurrency: U\0SD\n";
    static const char *const want[] = {"fund.yaml:2:", "YAML syntax error",
                                       NULL};
    load_err_n(nul, sizeof nul - 1, want);
}
END_TEST

START_TEST(test_weights_with_policy)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "policy: {plugin: fixed_weight}\n"
             "portfolio_weights: {\"1\": 1}\n",
             "fund.yaml:4:1: key 'portfolio_weights': cannot be used together "
             "with 'policy'");
    /* Either order. */
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "portfolio_weights: {\"1\": 1}\n"
             "policy: {plugin: fixed_weight}\n",
             "fund.yaml:3:1: key 'portfolio_weights': cannot be used together "
             "with 'policy' (line 4)");
}
END_TEST

START_TEST(test_master_in_portfolios)
{
    LOAD_ERR("portfolios:\n  - A\n  - \"0\"\nmaster_portfolio_id: 0\n"
             "currency: USD\n",
             "fund.yaml:3:5: key 'portfolios[1]': '0' is the master "
             "portfolio");
}
END_TEST

START_TEST(test_portfolio_duplicates)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "portfolios:\n  - A\n  - B\n  - 'A'\n",
             "fund.yaml:6:5: key 'portfolios[2]': portfolio 'A' is listed "
             "twice (first at line 4)");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\nportfolios: [A, 'b c']\n",
             "fund.yaml:3:17: key 'portfolios[1]': 'b c' is not a valid "
             "portfolio id");
}
END_TEST

START_TEST(test_empty)
{
    LOAD_ERR("", "fund.yaml:1:1: ", "empty");
    LOAD_ERR("\n# only a comment\n\n", "fund.yaml:1:1: ", "empty");
    LOAD_ERR("---\n", "fund.yaml:1:1: ", "document is empty");
    LOAD_ERR("--- ~\n", "fund.yaml:1:1: ", "document is empty");
}
END_TEST

START_TEST(test_yaml_features_refused)
{
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n---\na: 1\n",
             "fund.yaml:3:1: more than one YAML document");
    LOAD_ERR("master_portfolio_id: &m 0\ncurrency: USD\nportfolios: [*m]\n",
             "fund.yaml:1:22: key 'master_portfolio_id': YAML anchors (&m)");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "policy:\n  plugin: x\n  options:\n    ? [a, b]\n    : 1\n",
             "fund.yaml:6:7: key 'policy.options': a mapping key must be a "
             "scalar, found a sequence");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n"
             "policy: {plugin: x, options: {{a: 1}: 2}}\n",
             "fund.yaml:3:31: key 'policy.options': a mapping key must be a "
             "scalar, found a mapping");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: !!int 3\n",
             "fund.yaml:2:11: key 'currency': YAML tag '!!int' is not "
             "supported");
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n\"\": 1\n",
             "fund.yaml:3:1: ", "key must not be empty");
    LOAD_ERR("master_portfolio_id: \"a\\0b\"\ncurrency: USD\n",
             "fund.yaml:1:22: key 'master_portfolio_id': a NUL character");
    /* A key with a newline is shown on one line. */
    LOAD_ERR("master_portfolio_id: 0\ncurrency: USD\n\"a\\nb\": 1\n",
             "fund.yaml:3:1: key 'a?b': unknown key");
}
END_TEST

START_TEST(test_deep_nesting)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "master_portfolio_id: 0\ncurrency: USD\nx: ");
    for (int i = 0; i < 200; i++)
        text[n++] = '[';
    for (int i = 0; i < 200; i++)
        text[n++] = ']';
    text[n++] = '\n';
    text[n] = '\0';
    LOAD_ERR(text, "fund.yaml:3:", "nested deeper than");
}
END_TEST

START_TEST(test_unreadable)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
    capalloc_config *c = NULL;
    cap_error e;
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(config_load(path, &c, &e), CAP_EXIT_CONFIG);
    ck_assert_ptr_null(c);
    HAS(e.msg, path);
    HAS(e.msg, "No such file");

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(config_load(tmpdir, &c, &e), CAP_EXIT_CONFIG);
    ck_assert_ptr_null(c);
    HAS(e.msg, "is a directory");

    ck_assert_int_eq(config_load(NULL, &c, &e), CAP_EXIT_CONFIG);
    ck_assert_ptr_null(c);
    /* A NULL error pointer is allowed. */
    ck_assert_int_eq(config_load(path, &c, NULL), CAP_EXIT_CONFIG);
    ck_assert_ptr_null(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* config_find                                                              */
/* ------------------------------------------------------------------------ */

START_TEST(test_find_order)
{
    char exp[PATH_MAX], env[PATH_MAX], cwdf[PATH_MAX];
    write_file("explicit.yaml", "a: 1\n", exp, sizeof exp);
    write_file("env.yaml", "a: 1\n", env, sizeof env);
    write_file("capalloc.yaml", "a: 1\n", cwdf, sizeof cwdf);
    ck_assert_int_eq(chdir(tmpdir), 0);
    setenv("CAPALLOC_CONFIG", env, 1);
    cap_error e;
    memset(&e, 0, sizeof e);

    char *p = config_find(exp, &e);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, exp);
    free(p);

    p = config_find(NULL, &e);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, env);
    free(p);

    setenv("CAPALLOC_CONFIG", "", 1); /* empty counts as unset */
    p = config_find(NULL, &e);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, "./capalloc.yaml");
    free(p);

    unsetenv("CAPALLOC_CONFIG");
    p = config_find(NULL, &e);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, "./capalloc.yaml");
    free(p);
}
END_TEST

START_TEST(test_find_errors)
{
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/nope.yaml", tmpdir);
    ck_assert_int_eq(chdir(tmpdir), 0);
    cap_error e;

    /* An explicit path must exist, even when the others would. */
    char cwdf[PATH_MAX];
    write_file("capalloc.yaml", "a: 1\n", cwdf, sizeof cwdf);
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(config_find(missing, &e));
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    HAS(e.msg, missing);
    HAS(e.msg, "--config");
    HAS(e.msg, "No such file");

    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(config_find(tmpdir, &e));
    HAS(e.msg, "Is a directory");

    /* $CAPALLOC_CONFIG naming a missing file is an error, not a fallback. */
    setenv("CAPALLOC_CONFIG", missing, 1);
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(config_find(NULL, &e));
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    HAS(e.msg, missing);
    HAS(e.msg, "CAPALLOC_CONFIG");
    unsetenv("CAPALLOC_CONFIG");

    /* Nothing anywhere: every place named, and how to fix it. */
    ck_assert_int_eq(unlink(cwdf), 0);
    memset(&e, 0, sizeof e);
    ck_assert_ptr_null(config_find(NULL, &e));
    ck_assert_int_eq(e.code, CAP_EXIT_CONFIG);
    HAS(e.msg, "no configuration file found");
    HAS(e.msg, "--config");
    HAS(e.msg, "$CAPALLOC_CONFIG");
    HAS(e.msg, "./capalloc.yaml");
    HAS(e.msg, "--config FILE");
    char *real = realpath(tmpdir, NULL);
    HAS(e.msg, real);
    free(real);

    /* NULL error pointer is fine. */
    ck_assert_ptr_null(config_find(NULL, NULL));
}
END_TEST

START_TEST(test_find_then_load)
{
    char path[PATH_MAX];
    write_file("capalloc.yaml", DESIGN_JSON, path, sizeof path);
    ck_assert_int_eq(chdir(tmpdir), 0);
    cap_error e;
    memset(&e, 0, sizeof e);
    char *p = config_find(NULL, &e);
    ck_assert_ptr_nonnull(p);
    capalloc_config *c = NULL;
    ck_assert_int_eq(config_load(p, &c, &e), 0);
    ck_assert_str_eq(c->path, "./capalloc.yaml");
    char *real = realpath(tmpdir, NULL);
    ck_assert_str_eq(c->dir, real);
    free(real);
    config_free(c);
    free(p);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* config_load_books: the strategies' sections not read                     */
/* ------------------------------------------------------------------------ */

/* a and b the same tree: kinds, text, quoting, keys, lines and columns. */
static void same_tree(const cfg_node *a, const cfg_node *b, const char *at)
{
    ck_assert_msg(a != NULL && b != NULL, "%s: a node is missing", at);
    ck_assert_msg(a->kind == b->kind && a->line == b->line &&
                      a->col == b->col && a->n == b->n && a->plain == b->plain,
                  "%s: kind %d/%d line %d/%d col %d/%d n %zu/%zu plain %d/%d",
                  at, a->kind, b->kind, a->line, b->line, a->col, b->col,
                  a->n, b->n, a->plain, b->plain);
    ck_assert_msg((a->value == NULL) == (b->value == NULL) &&
                      (a->value == NULL || strcmp(a->value, b->value) == 0),
                  "%s: '%s' / '%s'", at, a->value ? a->value : "(null)",
                  b->value ? b->value : "(null)");
    for (size_t i = 0; i < a->n; i++) {
        char sub[256];
        if (a->kind == CFG_MAP) {
            ck_assert_str_eq(a->keys[i], b->keys[i]);
            ck_assert_int_eq(a->key_lines[i], b->key_lines[i]);
            ck_assert_int_eq(a->key_cols[i], b->key_cols[i]);
            snprintf(sub, sizeof sub, "%s.%s", at, a->keys[i]);
        } else {
            snprintf(sub, sizeof sub, "%s[%zu]", at, i);
        }
        same_tree(a->items[i], b->items[i], sub);
    }
}

static int deferred_key(const char *k)
{
    return strcmp(k, "policy") == 0 || strcmp(k, "portfolio_weights") == 0 ||
           strcmp(k, "portfolios") == 0;
}

/* text loaded both ways: config_load_books cuts it (want_cut) or not;
 * every node outside the strategies' sections is the same, line and
 * column included (all of them when nothing was cut). */
static void books_vs_full(const char *text, int want_cut)
{
    capalloc_config *full = load_ok(text);
    char path[PATH_MAX];
    write_file("fund.yaml", text, path, sizeof path);
    capalloc_config *books = NULL;
    cap_error e;
    memset(&e, 0, sizeof e);
    int rc = config_load_books(path, &books, &e);
    ck_assert_msg(rc == 0, "config_load_books failed: %s\n%s", e.msg, text);
    ck_assert_int_eq(books->strategies_deferred, want_cut);
    const cfg_node *a = full->root, *b = books->root;
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_str_eq(a->keys[i], b->keys[i]);
        ck_assert_int_eq(a->key_lines[i], b->key_lines[i]);
        ck_assert_int_eq(a->key_cols[i], b->key_cols[i]);
        if (want_cut && deferred_key(a->keys[i])) {
            /* a null scalar: nothing after the key */
            ck_assert_int_eq(b->items[i]->kind, CFG_SCALAR);
            ck_assert_msg(b->items[i]->value == NULL ||
                              b->items[i]->value[0] == '\0',
                          "%s: '%s'", a->keys[i], b->items[i]->value);
            continue;
        }
        same_tree(a->items[i], b->items[i], a->keys[i]);
    }
    ck_assert_str_eq(full->master_id, books->master_id);
    ck_assert_str_eq(full->currency, books->currency);
    ck_assert_int_eq(full->minor_units, books->minor_units);
    ck_assert_int_eq(full->storage.line, books->storage.line);
    ck_assert_int_eq(full->prices.line, books->prices.line);
    if (!want_cut)
        same_tree(a, b, "(root)");
    config_free(full);
    config_free(books);
}

START_TEST(test_books_same_tree)
{
    /* cut: the full form (quotes balanced on every line) */
    books_vs_full(FULL_YAML, 1);
    /* the policy first, sections after it; a stack; no final newline */
    books_vs_full("policy:\n"
                  "  - plugin: fixed_weight\n"
                  "    options:\n"
                  "      weights: {A: 0.5, \"B\": 0.25}\n"
                  "  - plugin: caps\n"
                  "    options: {max: 0.4}\n"
                  "# the books\n"
                  "master_portfolio_id: \"0\"\n"
                  "\n"
                  "currency: JPY\n"
                  "storage:\n"
                  "  plugin: sqlite\n"
                  "  options: {path: 'x.db'}\n"
                  "rebalance:\n"
                  "  min_transfer: 100",
                  1);
    /* the short form on one line, portfolios as a block list */
    books_vs_full("master_portfolio_id: M\ncurrency: USD\n"
                  "portfolios:\n  - A\n  - B\n"
                  "portfolio_weights: {A: 0.5, B: 0.5}\n"
                  "prices: {plugin: file, options: {path: p.csv}}\n",
                  1);
    /* a block scalar in a cut section, a comment at column 0 inside it */
    books_vs_full("master_portfolio_id: M\ncurrency: USD\n"
                  "policy:\n  plugin: fixed_weight\n"
                  "# weights follow\n"
                  "  options:\n    weights:\n      A: 1\n"
                  "storage:\n  plugin: sqlite\n",
                  1);
    /* not cut - the whole file read as config_load reads it: */
    /* a flow mapping over two lines */
    books_vs_full("master_portfolio_id: M\ncurrency: USD\n"
                  "storage: {plugin: sqlite,\n  options: {path: x.db}}\n"
                  "policy: {plugin: fixed_weight, options: {weights: {A: 1}}}\n",
                  0);
    /* a quote in a comment */
    books_vs_full("master_portfolio_id: M # the master's id\ncurrency: USD\n"
                  "policy:\n  plugin: fixed_weight\n"
                  "  options: {weights: {A: 1}}\n",
                  0);
    /* CRLF line ends */
    books_vs_full("master_portfolio_id: M\r\ncurrency: USD\r\n"
                  "policy:\r\n  plugin: fixed_weight\r\n"
                  "  options: {weights: {A: 1}}\r\n",
                  0);
    /* a document marker, a tab */
    books_vs_full("---\nmaster_portfolio_id: M\ncurrency: USD\n"
                  "policy: {plugin: fixed_weight, options: {weights: {A: 1}}}\n",
                  0);
    books_vs_full("master_portfolio_id: M\ncurrency:\tUSD\n"
                  "policy: {plugin: fixed_weight, options: {weights: {A: 1}}}\n",
                  0);
    /* nothing to cut */
    books_vs_full("master_portfolio_id: M\ncurrency: USD\n", 0);
}
END_TEST

/* A mistake outside the cut sections is met the same way, same message;
 * one inside them is left to the commands that read them. */
START_TEST(test_books_errors)
{
    static const char *const bad[] = {
        "master_portfolio_id: M\ncurrency: USD\n"
        "policy:\n  plugin: fixed_weight\n  options: {weights: {A: 1}}\n"
        "storage:\n  plugin: sqlite\n  plugin: sqlite\n",
        "master_portfolio_id: M\ncurrency: USD\n"
        "policy:\n  plugin: fixed_weight\n"
        "prices:\n  plugin: file\n  colour: red\n",
        "master_portfolio_id: M\n"
        "policy:\n  plugin: fixed_weight\n",
        "master_portfolio_id: M\ncurrency: USD\n"
        "portfolios: [A]\npolicy:\n  plugin: x\npolicy:\n  plugin: y\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[PATH_MAX];
        write_file("fund.yaml", bad[i], path, sizeof path);
        capalloc_config *c = NULL;
        cap_error e1, e2;
        memset(&e1, 0, sizeof e1);
        memset(&e2, 0, sizeof e2);
        ck_assert_int_eq(config_load(path, &c, &e1), CAP_EXIT_CONFIG);
        ck_assert_int_eq(config_load_books(path, &c, &e2), CAP_EXIT_CONFIG);
        ck_assert_str_eq(e1.msg, e2.msg);
    }
    /* inside the strategies' sections: the full read refuses, the books
     * read does not */
    static const char *const inside[] = {
        "master_portfolio_id: M\ncurrency: USD\n"
        "policy:\n  plugin: fixed_weight\n  colour: red\n",
        "master_portfolio_id: M\ncurrency: USD\n"
        "portfolio_weights:\n  A: 1\n"
        "policy:\n  plugin: fixed_weight\n",
        "master_portfolio_id: M\ncurrency: USD\nportfolios: [M]\n",
    };
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        char path[PATH_MAX];
        write_file("fund.yaml", inside[i], path, sizeof path);
        capalloc_config *c = NULL;
        cap_error e;
        memset(&e, 0, sizeof e);
        ck_assert_int_eq(config_load(path, &c, &e), CAP_EXIT_CONFIG);
        ck_assert_int_eq(config_load_books(path, &c, &e), 0);
        ck_assert_int_eq(c->strategies_deferred, 1);
        config_free(c);
    }
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");

    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_design_json);
    tcase_add_test(tc, test_design_json_multiline);
    tcase_add_test(tc, test_full_form);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_minor_units_and_paths);
    tcase_add_test(tc, test_str_tag_and_block_scalars);
    tcase_add_test(tc, test_cfg_get);
    tcase_add_test(tc, test_currency_table);
    tcase_add_test(tc, test_books_same_tree);
    tcase_add_test(tc, test_books_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("refuse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unknown_top_key);
    tcase_add_test(tc, test_unknown_section_key);
    tcase_add_test(tc, test_duplicate_top_key);
    tcase_add_test(tc, test_duplicate_nested_key);
    tcase_add_test(tc, test_duplicate_many_keys);
    tcase_add_test(tc, test_wrong_types);
    tcase_add_test(tc, test_missing_section_plugin);
    tcase_add_test(tc, test_missing_master);
    tcase_add_test(tc, test_missing_currency);
    tcase_add_test(tc, test_bad_master);
    tcase_add_test(tc, test_bad_currency);
    tcase_add_test(tc, test_unknown_currency);
    tcase_add_test(tc, test_bad_minor_units);
    tcase_add_test(tc, test_syntax_error);
    tcase_add_test(tc, test_weights_with_policy);
    tcase_add_test(tc, test_master_in_portfolios);
    tcase_add_test(tc, test_portfolio_duplicates);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_yaml_features_refused);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_unreadable);
    suite_add_tcase(s, tc);

    tc = tcase_create("find");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_find_order);
    tcase_add_test(tc, test_find_errors);
    tcase_add_test(tc, test_find_then_load);
    tcase_add_test(tc, test_rebalance_section);
    tcase_add_test(tc, test_approval_section);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
