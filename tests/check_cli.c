/*
 * check_cli.c - the command line's conventions (getopt options, `--`,
 * `help CMD`, usage errors, the past-date guard, the table, -v progress)
 * and --metrics-file, whose output is parsed line by line by the rules of
 * the Prometheus text format, run by run of the real binary.
 */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#ifndef CAPALLOC_BIN
#error "CAPALLOC_BIN must point at the built binary"
#endif

static char out[65536], err[65536];

static void setup(void)
{
    tu_mkdir("cli");
}

#define RUN(...)                                                             \
    tu_run((const char *const[]){CAPALLOC_BIN, __VA_ARGS__, NULL}, out,       \
           sizeof out, err, sizeof err)

static void teardown(void)
{
    /* every ledger a test leaves replays and chains (capalloc verify) */
    char yaml[PATH_MAX], db[PATH_MAX];
    tu_path(yaml, sizeof yaml, "fund.yaml");
    tu_path(db, sizeof db, "fund.db");
    if (access(yaml, R_OK) == 0 && access(db, R_OK) == 0) {
        int rc = RUN("-c", "fund.yaml", "verify");
        ck_assert_msg(rc == 0, "the test's ledger does not verify (exit "
                               "%d):\n%s%s", rc, out, err);
    }
    tu_rmdir();
}

#define EXPECT_EXIT(call, code)                                              \
    do {                                                                     \
        int rc_ = (call);                                                    \
        ck_assert_msg(rc_ == (code), "%s: exit %d, want %d; stderr:\n%s",     \
                      #call, rc_, (code), err);                              \
    } while (0)

static const char FUND[] =
    "master_portfolio_id: \"0\"\n"
    "currency: USD\n"
    "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
    "prices: {plugin: file, options: {path: ./prices.csv}}\n"
    "policy: {plugin: fixed_weight, options: {weights: {\"1\": 0.30, \"2\": 0.30, \"3\": 0.40}}}\n";

static int exists(const char *name)
{
    char path[PATH_MAX];
    struct stat sb;
    tu_path(path, sizeof path, name);
    return stat(path, &sb) == 0;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ---- conventions -------------------------------------------------------- */

START_TEST(short_options_and_double_dash)
{
    tu_write_file("fund.yaml", "%s", FUND);
    /* -c, -n; options after the operands; -- ends the options */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100", "-n"), 0);
    ck_assert_has(out, "dry run: would ADD 100.00 USD");
    EXPECT_EXIT(RUN("capital", "-c", "fund.yaml", "--", "add", "100"), 0);
    ck_assert_has(out, "ADD 100.00 USD");
    /* after --, "-n" is an operand, not the dry-run option */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "--", "add", "5", "-n"), 2);
    ck_assert_has(err, "unexpected argument '-n'");
    /* -j and a clustered -jn */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "7", "-jn"), 0);
    ck_assert_has(out, "\"dry_run\":true");
    ck_assert_has(out, "\"amount\":\"7.00\"");
    /* --opt=value */
    EXPECT_EXIT(RUN("--config=fund.yaml", "-j", "status"), 0);
    ck_assert_has(out, "\"total_equity\":\"100.00\"");
    EXPECT_EXIT(RUN("-V"), 0);
    ck_assert_has(out, "capalloc ");
    /* -vv is two -v */
    EXPECT_EXIT(RUN("-vv", "-c", "fund.yaml", "status"), 0);
}
END_TEST

START_TEST(help_command_equals_command_help)
{
    const char *cmds[] = {"capital", "allocate", "status", "positions", "plugins"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        static char a[sizeof out];
        EXPECT_EXIT(RUN(cmds[i], "--help"), 0);
        snprintf(a, sizeof a, "%s", out);
        EXPECT_EXIT(RUN("help", cmds[i]), 0);
        ck_assert_str_eq(out, a);
        EXPECT_EXIT(RUN(cmds[i], "-h"), 0);
        ck_assert_str_eq(out, a);
        ck_assert_msg(strstr(out, "Commands:") == NULL,
                      "help %s printed the main help", cmds[i]);
    }
    EXPECT_EXIT(RUN("help"), 0);
    ck_assert_has(out, "Commands:");
    EXPECT_EXIT(RUN("help", "nosuch"), 2);
    ck_assert_has(err, "unknown command 'nosuch'");
}
END_TEST

START_TEST(exit_codes_listed_once)
{
    EXPECT_EXIT(RUN("--help"), 0);
    for (int code = 0; code <= 8; code++) {
        char line[8];
        snprintf(line, sizeof line, "\n  %d  ", code);
        ck_assert_msg(count(out, line) == 1, "exit code %d listed %d times:\n%s",
                      code, count(out, line), out);
    }
}
END_TEST

START_TEST(usage_error_is_short)
{
    tu_write_file("fund.yaml", "%s", FUND);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--frobnicate"), 2);
    ck_assert_has(err, "capalloc: error: unknown option '--frobnicate'");
    ck_assert_has(err, "Usage: capalloc allocate");
    ck_assert_has(err, "Try 'capalloc allocate --help'.");
    ck_assert_msg(strstr(err, "Exit codes") == NULL && strstr(err, "Options:") == NULL,
                  "a usage error printed the whole help:\n%s", err);
    ck_assert_str_eq(out, "");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date"), 2);
    ck_assert_has(err, "option --date needs a value");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "-x", "add", "5"), 2);
    ck_assert_has(err, "unknown option '-x'");
    ck_assert_has(err, "Try 'capalloc capital --help'.");
    EXPECT_EXIT(RUN("frobnicate"), 2);
    ck_assert_has(err, "Try 'capalloc --help'.");
    /* the design's names say their own name */
    EXPECT_EXIT(tu_run((const char *const[]){TEST_BUILDDIR "/core/daily_allocator",
                                             "--nope", NULL},
                       out, sizeof out, err, sizeof err),
                2);
    ck_assert_has(err, "Try 'daily_allocator --help'.");
    ck_assert(!exists("fund.db"));
}
END_TEST

/* ---- dates -------------------------------------------------------------- */

START_TEST(past_date_refused_unless_allowed)
{
    tu_write_file("fund.yaml", "%s", FUND);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2020-01-02"), 2);
    ck_assert_has(err, "--date 2020-01-02 is in the past");
    ck_assert_has(err, "--allow-past-date");
    ck_assert(!exists("fund.db")); /* refused before the ledger is opened */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n", "-d", "2020-01-02"), 2);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "10"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--date", "2020-01-02",
                    "--allow-past-date"),
                0);
    ck_assert_has(out, "allocation 2020-01-02: 3 transfers committed");
    /* today and a future date need no flag */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n", "-d", "2999-12-31"), 0);
}
END_TEST

START_TEST(status_says_what_its_date_means)
{
    tu_write_file("fund.yaml", "%s", FUND);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "10"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "status"), 0);
    ck_assert_has(out, "current balances at current prices");
    ck_assert(strstr(out, "targets as an allocation dated") == NULL);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "status", "--date", "2021-03-04"), 0);
    ck_assert_has(out, "current balances at current prices");
    ck_assert_has(out, "targets as an allocation dated 2021-03-04");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "-j", "status", "--date", "2021-03-04"), 0);
    ck_assert_has(out, "\"run_date\":\"2021-03-04\"");
    ck_assert_has(out, "\"valued_at\":\"");
}
END_TEST

/* ---- output ------------------------------------------------------------- */

START_TEST(table_at_minor_unit_json_exact)
{
    tu_write_file("fund.yaml", "%s", FUND);
    tu_write_file("prices.csv", "X,3.333333\n");
    tu_write_file("pos.csv", "1,X,1000\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "1000.5"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "status"), 0);
    /* 1000 x 3.333333 = 3333.333: two places in the table */
    ck_assert_has(out, " 3333.33 ");
    ck_assert_msg(strstr(out, "3333.333") == NULL && strstr(out, "4333.833") == NULL,
                  "the table shows more than the minor unit:\n%s", out);
    ck_assert_has(out, "total equity 4333.83 USD");
    ck_assert_has(out, "  0 (reserve) ");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "-j", "status"), 0);
    ck_assert_has(out, "\"positions_value\":\"3333.333\"");
    ck_assert_has(out, "\"total_equity\":\"4333.833\"");
}
END_TEST

START_TEST(verbose_progress_has_timestamps)
{
    tu_write_file("fund.yaml", "%s", FUND);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100"), 0);
    ck_assert_str_eq(err, ""); /* quiet without -v */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-v"), 0);
    /* the run's own steps: prices, each policy stage, the write */
    ck_assert_has(err, "Z capalloc: valued ");
    ck_assert_has(err, "tickers priced by 'file' (0 requests)"); /* none held */
    ck_assert_has(err, "Z capalloc: policy stage 1 of 1 'fixed_weight': "
                       "weights given");
    ck_assert_has(err, "Z capalloc: writing ");
    ck_assert_has(err, "Z capalloc: committed");
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                             "\\.[0-9]{3}Z capalloc: allocate [0-9-]{10}: ",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int lines = 0;
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "capalloc: allocate") == NULL)
            continue;
        ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "bad line: %s", line);
        lines++;
    }
    regfree(&re);
    ck_assert_msg(lines >= 3, "%d progress lines", lines);
}
END_TEST

/* ---- metrics ------------------------------------------------------------ */

/* One sample of the metrics file. */
typedef struct sample {
    char name[128];
    char labels[512]; /* as written between the braces, "" when none */
    char value[64];
} sample;

static sample samples[256];
static size_t n_samples;

/* Parse tu_dir/name by the text format's grammar: "# HELP name text",
 * "# TYPE name gauge" (once per name, before its samples) and samples
 * "name{label="value",...} number". Any other line fails the test. */
static void parse_metrics(const char *name)
{
    static char text[65536];
    static char typed[64][128];
    size_t n_typed = 0;
    char path[PATH_MAX];
    tu_path(path, sizeof path, name);
    tu_slurp(path, text, sizeof text);
    ck_assert_msg(text[0] != '\0', "%s is empty or missing", name);
    ck_assert_msg(text[strlen(text) - 1] == '\n', "%s: no final newline", name);
    n_samples = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char *sp = strchr(line + 7, ' ');
            ck_assert_msg(sp && strcmp(sp, " gauge") == 0, "bad TYPE: %s", line);
            *sp = '\0';
            for (size_t i = 0; i < n_typed; i++)
                ck_assert_msg(strcmp(typed[i], line + 7) != 0, "TYPE twice: %s",
                              line + 7);
            ck_assert(n_typed < 64);
            snprintf(typed[n_typed++], sizeof typed[0], "%s", line + 7);
            continue;
        }
        ck_assert_msg(line[0] != '#', "bad comment: %s", line);
        ck_assert(n_samples < 256);
        sample *s = &samples[n_samples++];
        const char *p = line;
        size_t k = 0;
        ck_assert_msg((*p >= 'a' && *p <= 'z') || *p == '_', "bad name: %s", line);
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
            s->name[k++] = *p++;
        s->name[k] = '\0';
        /* its TYPE came before it */
        int found = 0;
        for (size_t i = 0; i < n_typed; i++)
            found |= strcmp(typed[i], s->name) == 0;
        ck_assert_msg(found, "sample before its TYPE: %s", line);
        k = 0;
        s->labels[0] = '\0';
        if (*p == '{') {
            const char *start = ++p;
            for (;;) {
                /* label name, =, quoted value with \\ \" \n escapes */
                ck_assert_msg((*p >= 'a' && *p <= 'z') || *p == '_', "bad label: %s",
                              line);
                while ((*p >= 'a' && *p <= 'z') || *p == '_')
                    p++;
                ck_assert_msg(p[0] == '=' && p[1] == '"', "bad label: %s", line);
                p += 2;
                while (*p != '"') {
                    ck_assert_msg(*p != '\0', "unterminated value: %s", line);
                    if (*p == '\\') {
                        ck_assert_msg(p[1] == '\\' || p[1] == '"' || p[1] == 'n',
                                      "bad escape: %s", line);
                        p++;
                    }
                    p++;
                }
                p++;
                if (*p == ',') {
                    p++;
                    continue;
                }
                ck_assert_msg(*p == '}', "bad label set: %s", line);
                break;
            }
            k = (size_t)(p - start);
            ck_assert(k < sizeof s->labels);
            memcpy(s->labels, start, k);
            s->labels[k] = '\0';
            p++;
        }
        ck_assert_msg(*p == ' ', "no value: %s", line);
        p++;
        /* a plain decimal: what capalloc writes (never NaN, exponents) */
        regex_t re;
        ck_assert_int_eq(regcomp(&re, "^-?[0-9]+(\\.[0-9]+)?$",
                                 REG_EXTENDED | REG_NOSUB), 0);
        int ok = regexec(&re, p, 0, NULL, 0) == 0;
        regfree(&re);
        ck_assert_msg(ok, "bad value: %s", line);
        snprintf(s->value, sizeof s->value, "%s", p);
    }
}

/* The value of name{labels}, or NULL. */
static const char *metric(const char *name, const char *labels)
{
    for (size_t i = 0; i < n_samples; i++)
        if (strcmp(samples[i].name, name) == 0 &&
            strcmp(samples[i].labels, labels) == 0)
            return samples[i].value;
    return NULL;
}

#define EXPECT_METRIC(name, labels, want)                                    \
    do {                                                                     \
        const char *v_ = metric(name, labels);                               \
        ck_assert_msg(v_ != NULL, "no %s{%s}", name, labels);                \
        ck_assert_msg(strcmp(v_, want) == 0, "%s{%s} = %s, want %s", name,    \
                      labels, v_, want);                                     \
    } while (0)

/* Files in tu_dir whose name starts with prefix. */
static int files_starting(const char *prefix)
{
    DIR *d = opendir(tu_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

START_TEST(metrics_of_a_run)
{
    tu_write_file("fund.yaml", "%s", FUND);
    tu_write_file("prices.csv", "X,2.5\n");
    tu_write_file("pos.csv", "1,X,100\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "99750"), 0);
    /* CLOCK_REALTIME, as the program reads it: time() may be served by
     * the coarse clock, a tick behind (a run ending just past a second
     * then looked later than "after") */
    struct timespec t0, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    time_t before = t0.tv_sec;
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--metrics-file", "capalloc.prom",
                    "--date", "2999-01-01"),
                0);
    clock_gettime(CLOCK_REALTIME, &t1);
    time_t after = t1.tv_sec;
    parse_metrics("capalloc.prom");
    EXPECT_METRIC("capalloc_last_run_exit_code", "kind=\"ok\"", "0");
    EXPECT_METRIC("capalloc_last_run_success", "", "1");
    EXPECT_METRIC("capalloc_last_run_info",
                  "run_date=\"2999-01-01\",status=\"committed\",currency=\"USD\"",
                  "1");
    /* equity 99750 + 250 = 100000: 1 holds 250 in X and gets 29750 */
    EXPECT_METRIC("capalloc_last_run_transfers", "", "3");
    EXPECT_METRIC("capalloc_last_run_transferred_amount", "currency=\"USD\"", "99750");
    EXPECT_METRIC("capalloc_total_equity", "currency=\"USD\"", "100000");
    EXPECT_METRIC("capalloc_master_reserve", "portfolio=\"0\",currency=\"USD\"", "0");
    EXPECT_METRIC("capalloc_last_run_stale_prices", "", "0");
    EXPECT_METRIC("capalloc_portfolio_nav", "portfolio=\"1\",currency=\"USD\"", "30000");
    EXPECT_METRIC("capalloc_portfolio_nav", "portfolio=\"2\",currency=\"USD\"", "30000");
    EXPECT_METRIC("capalloc_portfolio_nav", "portfolio=\"3\",currency=\"USD\"", "40000");
    EXPECT_METRIC("capalloc_portfolio_weight", "portfolio=\"3\"", "0.4");
    /* the end of the run, in Unix seconds */
    const char *ts = metric("capalloc_last_run_timestamp_seconds", "");
    ck_assert_ptr_nonnull(ts);
    long long sec = atoll(ts);
    ck_assert_msg(sec >= (long long)before && sec <= (long long)after,
                  "timestamp %s outside [%lld, %lld]", ts, (long long)before,
                  (long long)after);
    ck_assert_ptr_nonnull(metric("capalloc_last_run_duration_seconds", ""));
    /* readable by a collector running as another user */
    char path[PATH_MAX];
    struct stat sb;
    tu_path(path, sizeof path, "capalloc.prom");
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
}
END_TEST

START_TEST(metrics_of_a_failed_run)
{
    tu_write_file("fund.yaml", "%s", FUND);
    tu_write_file("prices.csv", "X,2.5\n");
    tu_write_file("pos.csv", "1,NOPRICE,1\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--metrics-file", "m.prom"), 5);
    parse_metrics("m.prom");
    EXPECT_METRIC("capalloc_last_run_exit_code", "kind=\"missing_price\"", "5");
    EXPECT_METRIC("capalloc_last_run_success", "", "0");
    /* nothing was valued: no equity, no NAV */
    ck_assert_ptr_null(metric("capalloc_total_equity", "currency=\"USD\""));
    ck_assert_ptr_null(metric("capalloc_last_run_transfers", ""));
    /* a usage error after the path was read is recorded too, without a
     * currency (the configuration was not read) */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "--metrics-file", "m.prom",
                    "--date", "2020-01-01"),
                2);
    parse_metrics("m.prom");
    EXPECT_METRIC("capalloc_last_run_exit_code", "kind=\"usage\"", "2");
    EXPECT_METRIC("capalloc_last_run_info",
                  "run_date=\"2020-01-01\",status=\"failed\",currency=\"\"", "1");
    /* a configuration error */
    EXPECT_EXIT(RUN("-c", "nope.yaml", "allocate", "--metrics-file", "m.prom"), 3);
    parse_metrics("m.prom");
    EXPECT_METRIC("capalloc_last_run_exit_code", "kind=\"config\"", "3");
}
END_TEST

/* Atomic by construction: the file is replaced by a rename, never
 * rewritten in place. A reader that opened the old file (here: a hard
 * link to it) still sees it whole; the name points at a new inode; no
 * temporary file is left; and a file that cannot be written leaves the
 * old one as it was. */
START_TEST(metrics_replaced_atomically)
{
    tu_write_file("fund.yaml", "%s", FUND);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "capital", "add", "100"), 0);
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n", "--metrics-file", "m.prom"),
                0);
    char path[PATH_MAX], link_path[PATH_MAX];
    static char old[65536], held[65536], now[65536];
    tu_path(path, sizeof path, "m.prom");
    tu_path(link_path, sizeof link_path, "held.prom");
    tu_slurp(path, old, sizeof old);
    ck_assert_int_eq(link(path, link_path), 0);
    struct stat s1, s2;
    ck_assert_int_eq(stat(path, &s1), 0);

    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n", "--metrics-file", "m.prom",
                    "--date", "2020-01-01"),
                2);
    ck_assert_int_eq(stat(path, &s2), 0);
    ck_assert_msg(s1.st_ino != s2.st_ino, "m.prom was rewritten in place");
    tu_slurp(link_path, held, sizeof held);
    ck_assert_str_eq(held, old); /* the old file, untouched and whole */
    tu_slurp(path, now, sizeof now);
    ck_assert_has(now, "kind=\"usage\"");
    ck_assert_int_eq(files_starting("m.prom."), 0);

    /* a directory that does not exist: a warning; the run's exit code and
     * the old file stay */
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n", "--metrics-file",
                    "nodir/m.prom"),
                0);
    ck_assert_has(err, "capalloc: warning: metrics not written");
    ck_assert_has(err, "nodir/m.prom");
    /* the target is a directory: rename fails, the temporary file goes */
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "d.prom");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    tu_write_file("d.prom/x", "keep\n");
    EXPECT_EXIT(RUN("-c", "fund.yaml", "allocate", "-n", "--metrics-file", "d.prom"),
                0);
    ck_assert_has(err, "metrics not written");
    ck_assert_int_eq(files_starting("d.prom."), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("binary");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, short_options_and_double_dash);
    tcase_add_test(tc, help_command_equals_command_help);
    tcase_add_test(tc, exit_codes_listed_once);
    tcase_add_test(tc, usage_error_is_short);
    tcase_add_test(tc, past_date_refused_unless_allowed);
    tcase_add_test(tc, status_says_what_its_date_means);
    tcase_add_test(tc, table_at_minor_unit_json_exact);
    tcase_add_test(tc, verbose_progress_has_timestamps);
    tcase_add_test(tc, metrics_of_a_run);
    tcase_add_test(tc, metrics_of_a_failed_run);
    tcase_add_test(tc, metrics_replaced_atomically);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
