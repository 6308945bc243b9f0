/*
 * bench_verify.c - `capalloc verify` benchmark (NOT a test: `make
 * bench-verify` runs it; tests/verify-lib.sh checks what verify finds).
 *
 * Per backend: a fresh ledger, an ADD, then D days of allocation runs on
 * S strategies, each moving cash between the master and every strategy
 * (2 x S trade rows a day, alternately out of and back into the master),
 * written through the engine's own write path (chain_write: chain_head
 * under the write lock, the hashes, write(), commit), exactly the rows and
 * hashes an allocation writes; then the real binary's `capalloc verify`
 * on that ledger, timed (best of 3) with its peak memory (wait4). Prints
 * the rows, the time, rows/s and the peak RSS; the memory must not grow
 * with the rows (-d 30 against -d 365 shows it).
 *
 *   bench_verify [-b sqlite|postgres|both] [-s STRATEGIES] [-d DAYS]
 *
 * Defaults: both backends, 1,000 strategies, 365 days (730,000 rows).
 * postgres uses the PG* environment (`tests/pg-cluster run`); its schema
 * bench_verify_<pid> is dropped afterwards.
 * Timing uses a double of seconds: it is a measurement, not money.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "engine_int.h"

#ifndef CAPALLOC_BIN
#error "CAPALLOC_BIN must point at the built binary"
#endif

static char dir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_verify: %s: %s\n", what, msg);
    exit(2);
}

static void write_config(const char *path, const char *backend,
                         const char *schema)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die(path, strerror(errno));
    fprintf(f, "master_portfolio_id: \"0\"\ncurrency: USD\nstorage:\n");
    if (strcmp(backend, "sqlite") == 0)
        fprintf(f, "  plugin: sqlite\n  options:\n    path: %s/ledger.db\n",
                dir);
    else
        fprintf(f, "  plugin: postgres\n  options:\n    schema: %s\n", schema);
    fprintf(f, "prices:\n  plugin: file\n  options:\n    path: %s/prices.csv\n"
               "policy:\n  plugin: fixed_weight\n  options:\n    weights:\n"
               "      \"s0000\": 0.5\n",
            dir);
    fclose(f);
}

/* The ledger: an ADD, then days x (2 x n) rows. */
static void fill(const char *cfg, int n, int days)
{
    engine *en;
    cap_error e = {0, ""};
    if (engine_open(cfg, &en, &e))
        die("engine_open", e.msg);
    capital_result cr;
    if (engine_capital(en, CAP_ADD, dec_from_int(100000000), NULL, 0, &cr,
                       &e))
        die("capital add", e.msg);
    char (*ids)[16] = calloc((size_t)n, sizeof *ids);
    capalloc_trade *t = calloc(2 * (size_t)n, sizeof *t);
    capalloc_cash_row *c = calloc((size_t)n + 1, sizeof *c);
    if (ids == NULL || t == NULL || c == NULL)
        die("calloc", "out of memory");
    for (int i = 0; i < n; i++)
        snprintf(ids[i], sizeof ids[i], "s%04d", i);
    capalloc_dec master = dec_from_int(100000000);
    double t0 = now_s();
    for (int d = 0; d < days; d++) {
        int out = d % 2 == 0; /* out of the master, then back */
        capalloc_dec sum = {0};
        for (int i = 0; i < n; i++) {
            capalloc_dec q = {(int64_t)(100 + i % 7) * CAPALLOC_DEC_ONE +
                              (int64_t)(i % 100) * 10000};
            t[2 * i] = (capalloc_trade){out ? "0" : ids[i], en->cash_ticker,
                                        CAPALLOC_SELL, q, dec_from_int(1),
                                        dec_from_int(1)};
            t[2 * i + 1] = (capalloc_trade){out ? ids[i] : "0",
                                            en->cash_ticker, CAPALLOC_BUY, q,
                                            dec_from_int(1), dec_from_int(1)};
            c[i + 1] = (capalloc_cash_row){ids[i], out ? q : (capalloc_dec){0}};
            dec_add(sum, q, &sum);
        }
        if (out)
            dec_sub(master, sum, &master);
        else
            dec_add(master, sum, &master);
        c[0] = (capalloc_cash_row){"0", master};
        char date[16];
        time_t day = (time_t)(1735689600 + (int64_t)d * 86400); /* 2025-01-01 */
        struct tm tm;
        gmtime_r(&day, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        capalloc_write_batch wb = {"ALLOCATE", date, 0, "USD", t,
                                   2 * (size_t)n, c, (size_t)n + 1, NULL, 0,
                                   NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
        int rc = eng_begin(en, CAPALLOC_TXN_WRITE, &e);
        if (rc == 0)
            rc = eng_write_commit(en, &wb, &e);
        if (rc != 0)
            die(date, rc < 0 ? "conflict" : e.msg);
    }
    printf("  filled %d days x %d rows in %.1f s\n", days, 2 * n,
           now_s() - t0);
    free(ids);
    free(t);
    free(c);
    engine_close(en);
}

/* `capalloc verify` as a child: wall seconds, peak RSS in KiB. */
static int run_verify(const char *cfg, double *secs, long *rss_kib)
{
    char out[300];
    snprintf(out, sizeof out, "%s/verify.out", dir);
    fflush(stdout);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        if (freopen(out, "w", stdout) == NULL)
            _exit(126);
        execl(CAPALLOC_BIN, CAPALLOC_BIN, "--config", cfg, "verify",
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        die("wait4", strerror(errno));
    *secs = now_s() - t0;
    *rss_kib = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void bench(const char *backend, int n, int days)
{
    char cfg[300], schema[64];
    snprintf(schema, sizeof schema, "bench_verify_%ld", (long)getpid());
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", dir, backend);
    write_config(cfg, backend, schema);
    printf("%s: %d strategies, %d days\n", backend, n, days);
    fflush(stdout);
    fill(cfg, n, days);
    double best = 0;
    long rss = 0;
    for (int k = 0; k < 3; k++) {
        double s;
        long r;
        int rc = run_verify(cfg, &s, &r);
        if (rc != 0) {
            fprintf(stderr, "bench_verify: capalloc verify exited %d\n", rc);
            exit(1);
        }
        if (k == 0 || s < best)
            best = s;
        if (r > rss)
            rss = r;
    }
    long rows = 2L * n * days + 1;
    printf("  verify: %ld rows, %d runs in %.2f s (best of 3): %.0f rows/s, "
           "peak RSS %.1f MiB\n",
           rows, days + 1, best, (double)rows / best, (double)rss / 1024.0);
    char line[400];
    snprintf(line, sizeof line, "%s/verify.out", dir);
    FILE *f = fopen(line, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        printf("    %s", line);
    if (f != NULL)
        fclose(f);
    if (strcmp(backend, "postgres") == 0) {
        char cmd[200];
        snprintf(cmd, sizeof cmd,
                 "psql -X -q -c 'SET client_min_messages = warning'"
                 " -c 'DROP SCHEMA %s CASCADE' >/dev/null",
                 schema);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_verify: dropping schema %s failed\n",
                    schema);
    }
}

int main(int argc, char **argv)
{
    const char *which = "both";
    int n = 1000, days = 365, o;
    while ((o = getopt(argc, argv, "b:s:d:")) != -1) {
        switch (o) {
        case 'b': which = optarg; break;
        case 's': n = atoi(optarg); break;
        case 'd': days = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_verify [-b sqlite|postgres|both] "
                            "[-s STRATEGIES] [-d DAYS]\n");
            return 2;
        }
    }
    if (n < 1 || n > 9999 || days < 1 || days > 3000) {
        fprintf(stderr, "bench_verify: 1 <= -s <= 9999, 1 <= -d <= 3000\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s/capalloc-bench-verify.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", strerror(errno));
    setenv("CAPALLOC_PLUGIN_DIR",
           TEST_BUILDDIR "/plugins/.libs:" TEST_BUILDDIR "/policies/.libs", 1);
    char prices[300];
    snprintf(prices, sizeof prices, "%s/prices.csv", dir);
    FILE *f = fopen(prices, "w");
    if (f == NULL)
        die(prices, strerror(errno));
    fputs("ticker,price\nAAA,1\n", f);
    fclose(f);
    if (strcmp(which, "both") == 0 || strcmp(which, "sqlite") == 0)
        bench("sqlite", n, days);
    if (strcmp(which, "both") == 0 || strcmp(which, "postgres") == 0)
        bench("postgres", n, days);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_verify: could not remove %s\n", dir);
    return 0;
}
