/*
 * bench_storage.c - storage benchmark (NOT a test: `make bench` runs it).
 *
 * Builds a synthetic fund in a temporary directory: S strategies, P
 * positions spread over T tickers (with prices), capital in the master;
 * then times one allocation run with the real capalloc binary on each
 * backend and prints, per run: wall time, round trips (postgres) or
 * statements (sqlite) of the run's transaction as the plugin logs them at
 * debug level (-vv), and the peak memory of the capalloc process
 * (getrusage ru_maxrss via wait4).
 *
 *   bench_storage [-b sqlite|postgres|both] [-s 10,100,1000]
 *                 [-p POSITIONS-PER-STRATEGY] [-t TICKERS]
 *
 * postgres uses the PG* environment (e.g. under `tests/pg-cluster run`);
 * each run's schema bench_<strategies>_<pid> is dropped afterwards (DROP
 * SCHEMA ... CASCADE), also when the run failed.
 * Defaults: both backends, 10/100/1000 strategies, 100 positions each
 * (1000 strategies: 100,000 positions), 5,000 tickers.
 * Timing uses a double of seconds: it is a measurement, not money.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if TEST_WITH_LIBPQ
#include <libpq-fe.h>
#endif

#ifndef CAPALLOC_BIN
#error "CAPALLOC_BIN must point at the built binary"
#endif

static char dir[256];

static void die(const char *what)
{
    fprintf(stderr, "bench_storage: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run capalloc with args in dir, stderr to dir/err; returns exit status,
 * wall seconds and the child's peak RSS (KiB). */
static int run(const char *const *args, double *wall, long *maxrss_kb)
{
    char errpath[300];
    snprintf(errpath, sizeof errpath, "%s/err", dir);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fo = open("/dev/null", O_WRONLY);
        if (fe < 0 || fo < 0 || chdir(dir) != 0)
            _exit(127);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(CAPALLOC_BIN, (char *const *)args);
        _exit(126);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        die("wait4");
    if (wall)
        *wall = now() - t0;
    if (maxrss_kb)
        *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void write_fund(const char *backend, int strategies, int per, int tickers,
                       const char *schema)
{
    char path[300];
    snprintf(path, sizeof path, "%s/prices.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    fprintf(f, "ticker,price\n");
    for (int t = 0; t < tickers; t++)
        fprintf(f, "T%05d,%d.%02d\n", t, 10 + t % 490, t % 100);
    fclose(f);

    snprintf(path, sizeof path, "%s/positions.csv", dir);
    if (!(f = fopen(path, "w")))
        die(path);
    fprintf(f, "portfolio_id,ticker,quantity\n");
    for (int s = 1; s <= strategies; s++)
        for (int k = 0; k < per; k++)
            fprintf(f, "%d,T%05d,%d.5\n", s, (s * 7919 + k * 13) % tickers,
                    1 + (s + k) % 50);
    fclose(f);

    snprintf(path, sizeof path, "%s/capalloc.yaml", dir);
    if (!(f = fopen(path, "w")))
        die(path);
    fprintf(f, "master_portfolio_id: \"0\"\ncurrency: USD\nstorage:\n");
    if (strcmp(backend, "postgres") == 0)
        fprintf(f, "  plugin: postgres\n  options: {schema: %s}\n", schema);
    else
        fprintf(f, "  plugin: sqlite\n  options: {path: fund.db}\n");
    fprintf(f, "prices: {plugin: file, options: {path: prices.csv}}\n"
               "policy:\n  plugin: fixed_weight\n  options:\n    weights:\n");
    /* equal weights, 0.9 in all: 0.9/S rounded down to 6 places */
    long w = 900000L / strategies;
    for (int s = 1; s <= strategies; s++)
        fprintf(f, "      %d: 0.%06ld\n", s, w);
    fclose(f);
}

/* The last "transaction committed: N <unit>" line of dir/err. */
static long trips(char *unit, size_t len)
{
    char path[300], line[1024];
    snprintf(path, sizeof path, "%s/err", dir);
    FILE *f = fopen(path, "r");
    long n = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "transaction committed: ");
        char u[32];
        long v;
        if (p && sscanf(p, "transaction committed: %ld %31s", &v, u) == 2) {
            n = v;
            snprintf(unit, len, "%s",
                     strcmp(u, "round") == 0 ? "round-trips" : u);
        }
    }
    fclose(f);
    return n;
}

static void show_err(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "tail -5 '%s/err' >&2", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "(no error output)\n");
}

/* DROP SCHEMA schema CASCADE (the PG* environment's database): a run,
 * failed or not, leaves nothing behind in the user's database. */
#if TEST_WITH_LIBPQ
static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* "drop cascades to ...": not news */
}
#endif

static int drop_schema(const char *schema)
{
#if TEST_WITH_LIBPQ
    PGconn *c = PQconnectdb("");
    int ok = 0;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, quiet, NULL);
        char *ident = PQescapeIdentifier(c, schema, strlen(schema));
        if (ident != NULL) {
            char sql[200];
            snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE",
                     ident);
            PQfreemem(ident);
            PGresult *r = PQexec(c, sql);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
    }
    if (!ok)
        fprintf(stderr, "bench_storage: could not drop schema %s: %s",
                schema, PQerrorMessage(c));
    PQfinish(c);
    return ok ? 0 : 1;
#else
    fprintf(stderr, "bench_storage: built without libpq: schema %s is "
                    "left in the database\n", schema);
    return 1;
#endif
}

static int bench_in(const char *backend, int strategies, int per,
                    int tickers, const char *schema);

static int bench(const char *backend, int strategies, int per, int tickers)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/capalloc-bench-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp");
    char schema[64];
    snprintf(schema, sizeof schema, "bench_%d_%ld", strategies, (long)getpid());
    int rc = bench_in(backend, strategies, per, tickers, schema);
    if (strcmp(backend, "postgres") == 0 && drop_schema(schema) != 0)
        rc = 1;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_storage: could not remove %s\n", dir);
    return rc;
}

static int bench_in(const char *backend, int strategies, int per,
                    int tickers, const char *schema)
{
    write_fund(backend, strategies, per, tickers, schema);

    const char *add[] = {CAPALLOC_BIN, "capital", "add", "1000000000", NULL};
    const char *imp[] = {CAPALLOC_BIN, "positions", "import", "positions.csv",
                         NULL};
    const char *alloc[] = {CAPALLOC_BIN, "-vv", "allocate", "--date",
                           "2025-01-02", "--allow-past-date", NULL};
    double wall = 0, wall2 = 0;
    long rss = 0, rss2 = 0;
    int rc;
    if ((rc = run(add, NULL, NULL)) != 0 || (rc = run(imp, NULL, NULL)) != 0) {
        fprintf(stderr, "bench_storage: %s setup failed (exit %d)\n", backend,
                rc);
        show_err();
        return 1;
    }
    if ((rc = run(alloc, &wall, &rss)) != 0) {
        fprintf(stderr, "bench_storage: %s allocate failed (exit %d)\n",
                backend, rc);
        show_err();
        return 1;
    }
    char unit[32] = "?";
    long n = trips(unit, sizeof unit);
    /* a second date after new capital: every book exists now, and every
     * strategy gets a transfer again */
    const char *add2[] = {CAPALLOC_BIN, "capital", "add", "12345.67", NULL};
    if ((rc = run(add2, NULL, NULL)) != 0) {
        show_err();
        return 1;
    }
    alloc[4] = "2025-01-03";
    if ((rc = run(alloc, &wall2, &rss2)) != 0) {
        show_err();
        return 1;
    }
    char unit2[32] = "?";
    long n2 = trips(unit2, sizeof unit2);
    printf("%-9s %6d %9d %7d %9.3f %9.3f %8ld %-11s %8ld %9ld\n", backend,
           strategies, strategies * per, tickers, wall, wall2, n, unit, n2,
           rss > rss2 ? rss : rss2);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *backends = "both", *sizes = "10,100,1000";
    int per = 100, tickers = 5000, opt;
    while ((opt = getopt(argc, argv, "b:s:p:t:")) != -1) {
        switch (opt) {
        case 'b': backends = optarg; break;
        case 's': sizes = optarg; break;
        case 'p': per = atoi(optarg); break;
        case 't': tickers = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_storage [-b sqlite|postgres|both] "
                            "[-s 10,100,1000] [-p N] [-t N]\n");
            return 2;
        }
    }
    if (per < 1 || tickers < 1) {
        fprintf(stderr, "bench_storage: -p and -t must be >= 1\n");
        return 2;
    }
    printf("%-9s %6s %9s %7s %9s %9s %8s %-11s %8s %9s\n", "backend",
           "strats", "positions", "tickers", "run1_s", "run2_s", "trips1",
           "unit", "trips2", "maxrss_kb");
    int failed = 0;
    char *list = strdup(sizes);
    if (list == NULL)
        die("strdup");
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int s = atoi(tok);
        if (s < 1 || s > 900000) {
            fprintf(stderr, "bench_storage: bad size '%s'\n", tok);
            return 2;
        }
        if (strcmp(backends, "postgres") != 0)
            failed |= bench("sqlite", s, per, tickers);
        if (strcmp(backends, "sqlite") != 0)
            failed |= bench("postgres", s, per, tickers);
    }
    free(list);
    return failed;
}
