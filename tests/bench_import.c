/*
 * bench_import.c - positions import benchmark (NOT a test: `make
 * bench-import` runs it; check_positions and check_e2e check the results).
 *
 * For each size (default 10,000 and 100,000 rows over 100 strategies):
 * writes a positions file in a temporary folder, then times
 *   reader  positions_csv_load() alone, best of 3 (parse + checks);
 *   import  `capalloc positions import` on a fresh sqlite ledger, the real
 *           binary and plugins (read, check, one write transaction).
 *
 *   bench_import [-n 10000,100000] [-s STRATEGIES]
 *
 * Timing uses a double of seconds: it is a measurement, not money.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "positions_csv.h"

#ifndef CAPALLOC_BIN
#error "CAPALLOC_BIN must point at the built binary"
#endif

static char dir[256];

static void die(const char *what)
{
    fprintf(stderr, "bench_import: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void path_in(char *buf, size_t len, const char *name)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
        errno = ENAMETOOLONG;
        die(name);
    }
}

/* capalloc --config fund.yaml positions import pos.csv, in dir, quietly. */
static int run_import(void)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (chdir(dir) != 0 || null < 0)
            _exit(127);
        dup2(null, 1);
        execl(CAPALLOC_BIN, CAPALLOC_BIN, "--config", "fund.yaml", "positions",
              "import", "pos.csv", (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void bench(long rows, int strategies, const char **ids)
{
    char pos[300], db[300];
    path_in(pos, sizeof pos, "pos.csv");
    path_in(db, sizeof db, "fund.db");
    FILE *f = fopen(pos, "w");
    if (f == NULL)
        die(pos);
    fprintf(f, "portfolio_id,ticker,quantity\n");
    for (long i = 0; i < rows; i++)
        fprintf(f, "%ld,T%07ld,%ld.%02ld\n", i % strategies + 1, i, i, i % 100);
    if (fclose(f) != 0)
        die(pos);

    double best = 1e9;
    for (int k = 0; k < 3; k++) {
        positions_csv pc;
        cap_error e;
        double t0 = now();
        int rc = positions_csv_load(pos, ids, (size_t)strategies, "fund.yaml",
                                    &pc, &e);
        double t = now() - t0;
        if (rc != 0 || pc.n != (size_t)rows) {
            fprintf(stderr, "bench_import: reader failed: %s\n", e.msg);
            exit(1);
        }
        positions_csv_free(&pc);
        if (t < best)
            best = t;
    }

    unlink(db);
    double t0 = now();
    int rc = run_import();
    double t = now() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench_import: capalloc positions import exited %d\n",
                rc);
        exit(1);
    }
    printf("%8ld rows  reader %8.3f s  import (sqlite) %8.3f s\n", rows, best,
           t);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *sizes = "10000,100000";
    int strategies = 100, opt;
    while ((opt = getopt(argc, argv, "n:s:")) != -1) {
        if (opt == 'n')
            sizes = optarg;
        else if (opt == 's' && atoi(optarg) > 0)
            strategies = atoi(optarg);
        else {
            fprintf(stderr, "usage: bench_import [-n 10000,100000] "
                            "[-s STRATEGIES]\n");
            return 2;
        }
    }
    snprintf(dir, sizeof dir, "%s/capalloc-bench-import-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");

    /* The fund: strategies 1..S with equal fixed weights summing to <= 1. */
    char yaml[300];
    path_in(yaml, sizeof yaml, "fund.yaml");
    FILE *f = fopen(yaml, "w");
    if (f == NULL)
        die(yaml);
    fprintf(f, "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "storage: {plugin: sqlite, options: {path: fund.db}}\n"
               "prices: {plugin: file, options: {path: prices.csv}}\n"
               "policy: {plugin: fixed_weight, options: {weights: {");
    const char **ids = calloc((size_t)strategies, sizeof *ids);
    if (ids == NULL)
        die("calloc");
    for (int k = 0; k < strategies; k++) {
        char *id = malloc(16);
        if (id == NULL)
            die("malloc");
        snprintf(id, 16, "%d", k + 1);
        ids[k] = id;
        fprintf(f, "%s\"%s\": 0.001", k ? ", " : "", id);
    }
    fprintf(f, "}}}\n");
    if (fclose(f) != 0)
        die(yaml);

    printf("positions import, %d strategies (%s)\n", strategies, dir);
    for (const char *p = sizes; *p;) {
        long rows = strtol(p, (char **)&p, 10);
        if (rows > 0)
            bench(rows, strategies, ids);
        while (*p == ',')
            p++;
        if (*p != '\0' && (*p < '0' || *p > '9'))
            break;
    }

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_import: could not remove %s\n", dir);
    for (int k = 0; k < strategies; k++)
        free((char *)ids[k]);
    free(ids);
    return 0;
}
