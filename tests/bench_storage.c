/*
 * bench_storage.c - storage benchmark (NOT a test: `make bench` runs it).
 *
 * Builds a synthetic fund in a temporary directory: S strategies, P
 * positions spread over T tickers (with prices), capital in the master,
 * the date's first allocation; then, per backend and size, prints:
 *   alloc_s / floor_s / ratio  a forced allocation by the real capalloc
 *           binary against the floor (bench_floor.c: the same job with
 *           the least database work), run alternately in pairs at prices
 *           that alternate from run to run: the medians of the times and
 *           of the pairs' ratios;
 *   trips   round trips (postgres) or statements (sqlite) of capalloc's
 *           transaction as the plugin logs them (-vv), and of the floor's;
 *   add_s   `capital add` (median of 5) and its trips;
 *   maxrss  the allocation's peak memory (getrusage ru_maxrss via wait4),
 *           and per position;
 *   moved   the fewest strategies a measured run of capalloc / of the
 *           floor moved cash for (the bench fails when one moved none:
 *           it would have measured less than the job).
 * Before the table, config load with 10,000 and 100,000 weights (in a
 * child: config_load and the policy started); after it, per backend,
 * capital add at the smallest size against the largest.
 *
 *   bench_storage [-b sqlite|postgres|both] [-s 10,100,1000,10000]
 *                 [-p POSITIONS-PER-STRATEGY] [-t TICKERS] [-r PAIRS] [-y]
 *
 * -y, a year of history (the run's record, ABI 1.1): after the first run,
 * 251 more days of allocation runs with their records (a valuation of the
 * master and of every strategy, a price of every ticker; NAVs alternate
 * from day to day) are inserted directly, in one transaction of bulk
 * INSERT ... SELECT statements (running 251 allocations through the
 * binary would take the bench hours, and the engine does not hand the
 * backend a record yet). Then the 252nd day is written through the
 * backend's write() with its whole record, read back (read_history of all
 * 252 days x every strategy, of the latest 61 days, read_run), and one more
 * real allocation runs through the binary. Each storage call runs in a
 * child process that loads the backend through the core's loader, so its
 * peak memory is its own. Printed per call: wall time of the call's
 * transaction, round trips (postgres) or statements (sqlite) as the plugin
 * logs them (-vv), rows, peak RSS; then the database's size.
 *
 * postgres uses the PG* environment (e.g. under `tests/pg-cluster run`);
 * each run's schema bench_<strategies>_<pid> is dropped afterwards (DROP
 * SCHEMA ... CASCADE), also when the run failed.
 * Defaults: both backends, 10/100/1000/10000 strategies (-y: 1000), 100
 * positions each (10,000 strategies: 1M positions), 5,000 tickers, 15
 * pairs (on a shared 2-core VM the median of 5 pairs' ratios moved by
 * 0.15 from one bench to the next).
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
#include <sys/stat.h>
#if TEST_WITH_LIBPQ
#include <libpq-fe.h>
#endif
#if CAPALLOC_HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "config.h"
#include "decimal.h"
#include "loader.h"
#include "options.h"

#if !defined(CAPALLOC_BIN) || !defined(BENCH_FLOOR_PG) || \
    !defined(BENCH_FLOOR_SQLITE)
#error "CAPALLOC_BIN and BENCH_FLOOR_* must point at the built programs"
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

/* What the last command's -vv log (dir/err) says: its last "transaction
 * committed: N <unit>" line (*trips, -1 when none) and, for an allocation,
 * its progress line "...; N transfers committed" (*moved: the strategies
 * it moved cash for, -1 when none). */
static void read_log(char *unit, size_t len, long *trips, long *moved)
{
    char path[300], line[1024];
    snprintf(path, sizeof path, "%s/err", dir);
    *trips = *moved = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "transaction committed: ");
        char u[32];
        long v;
        if (p && sscanf(p, "transaction committed: %ld %31s", &v, u) == 2) {
            *trips = v;
            snprintf(unit, len, "%s",
                     strcmp(u, "round") == 0 ? "round-trips" : u);
        }
        if (strstr(line, " committed") && (p = strrchr(line, ';')) &&
            sscanf(p, "; %ld transfer", &v) == 1)
            *moved = v;
    }
    fclose(f);
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

/* The prices file of run r: every price moves by r % 2 x 0.37, so each
 * measured run really moves cash (a forced run at unchanged prices would
 * find every strategy on target). */
static void write_prices(int tickers, int r)
{
    char path[300];
    snprintf(path, sizeof path, "%s/prices.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    fprintf(f, "ticker,price\n");
    for (int t = 0; t < tickers; t++)
        fprintf(f, "T%05d,%d.%02d\n", t, 10 + t % 490 + (r % 2),
                (t % 100 + (r % 2) * 37) % 100);
    if (fclose(f) != 0)
        die(path);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int reanchor(const char *backend, const char *schema);
static int ledger_exec(const char *backend, const char *sql);

/* The floor's run: its own program (tests/bench_floor_sqlite or _pg, each
 * linking only its own database library), exec'd like the capalloc binary,
 * so that it pays for its own start, library loading, connection and
 * prices file as capalloc does. Wall seconds, trips, the strategies whose
 * cash it moved. */
static int run_floor(const char *backend, const char *schema, int strategies,
                     double *wall, long *trips, long *moved)
{
    char ledger[300], prices[300], out[300], n[16];
    int pg = strcmp(backend, "postgres") == 0;
    snprintf(ledger, sizeof ledger, "%s/fund.db", dir);
    snprintf(prices, sizeof prices, "%s/prices.csv", dir);
    snprintf(out, sizeof out, "%s/floor", dir);
    snprintf(n, sizeof n, "%d", strategies);
    const char *bin = pg ? BENCH_FLOOR_PG : BENCH_FLOOR_SQLITE;
    const char *args[] = {bin, backend, pg ? schema : ledger, prices, n,
                          "2025-01-02", NULL};
    fflush(stdout);
    fflush(stderr);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0)
            _exit(127);
        dup2(fo, 1);
        execv(bin, (char *const *)args);
        _exit(126);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    *wall = now() - t0;
    FILE *f = fopen(out, "r");
    int ok = f && fscanf(f, "%ld %ld", trips, moved) == 2;
    if (f)
        fclose(f);
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int pairs = 15;
static int no_checkpoint; /* the postgres user may not CHECKPOINT */

/* Before each measured run, unmeasured: a checkpointed database. SQLite's
 * WAL auto-checkpoint (1,000 pages) otherwise fell on whichever run crossed
 * it, the floor's or capalloc's, and the pairs' ratios swung by 0.3 from
 * one bench to the next. CHECKPOINT needs a superuser or pg_checkpoint
 * (your own server): without it postgres is measured as it is, and said. */
static int checkpoint(const char *backend)
{
    if (strcmp(backend, "postgres") != 0)
        return ledger_exec(backend, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (!no_checkpoint && ledger_exec(backend, "CHECKPOINT") != 0) {
        fprintf(stderr, "bench_storage: postgres: measuring without a "
                        "CHECKPOINT before each run\n");
        no_checkpoint = 1;
    }
    return 0;
}

/* Per backend, for the size-independence summary: capital add at the
 * smallest and the largest size. */
typedef struct add_seen {
    int s_small, s_large;
    double small, large;
} add_seen;
static add_seen adds[2];

static int bench_in(const char *backend, int strategies, int per,
                    int tickers, const char *schema)
{
    write_fund(backend, strategies, per, tickers, schema);

    const char *add[] = {CAPALLOC_BIN, "capital", "add", "1000000000", NULL};
    const char *imp[] = {CAPALLOC_BIN, "positions", "import", "positions.csv",
                         NULL};
    const char *alloc[] = {CAPALLOC_BIN, "-vv", "allocate", "--date",
                           "2025-01-02", "--allow-past-date", NULL, NULL};
    int rc;
    /* setup, unmeasured: capital, positions, the date's first run (every
     * strategy's book opened) */
    if ((rc = run(add, NULL, NULL)) != 0 || (rc = run(imp, NULL, NULL)) != 0 ||
        (rc = run(alloc, NULL, NULL)) != 0) {
        fprintf(stderr, "bench_storage: %s setup failed (exit %d)\n", backend,
                rc);
        show_err();
        return 1;
    }
    alloc[6] = "--force";

    /* capalloc and the floor alternately, at alternating prices; the
     * pair's order alternates too */
    double ratio[64], cap[64], flo[64];
    long rss = 0, n = -1, fn = -1, cmoved = -1, fmoved = -1;
    char unit[32] = "?";
    for (int r = 0; r < pairs; r++) {
        for (int k = 0; k < 2; k++) {
            /* the prices change before every run, not once a pair: the
             * second run of a pair at the first one's prices would find
             * every strategy on target and move nothing */
            write_prices(tickers, 2 * r + k + 1);
            if (checkpoint(backend) != 0)
                return 1;
            if ((k == 0) == (r % 2 == 0)) {
                long rss1 = 0;
                if ((rc = run(alloc, &cap[r], &rss1)) != 0) {
                    fprintf(stderr, "bench_storage: %s allocate failed "
                                    "(exit %d)\n", backend, rc);
                    show_err();
                    return 1;
                }
                if (rss1 > rss)
                    rss = rss1;
                long m;
                read_log(unit, sizeof unit, &n, &m);
                if (cmoved < 0 || m < cmoved)
                    cmoved = m;
            } else {
                long m = 0;
                if (run_floor(backend, schema, strategies, &flo[r], &fn, &m)) {
                    fprintf(stderr, "bench_storage: %s floor failed\n",
                            backend);
                    return 1;
                }
                if (fmoved < 0 || m < fmoved)
                    fmoved = m;
            }
        }
        /* a run that moved nothing measured less than the job */
        if (cmoved <= 0 || fmoved <= 0) {
            fprintf(stderr, "bench_storage: %s: a measured run moved no "
                            "cash (capalloc %ld, floor %ld strategies)\n",
                    backend, cmoved, fmoved);
            return 1;
        }
        ratio[r] = cap[r] / flo[r];
    }
    double mr = median(ratio, pairs), mc = median(cap, pairs),
           mf = median(flo, pairs);

    /* the ledger the pairs left, capalloc's runs and the floor's in turn,
     * replays and chains: the floor did the same job */
    const char *verify[] = {CAPALLOC_BIN, "verify", NULL};
    if ((rc = run(verify, NULL, NULL)) != 0) {
        fprintf(stderr, "bench_storage: %s: capalloc verify failed after "
                        "the measured runs (exit %d)\n", backend, rc);
        show_err();
        return 1;
    }

    /* capital add: reads and locks the master's book only */
    const char *add2[] = {CAPALLOC_BIN, "-vv", "capital", "add", "1000", NULL};
    double at[5];
    for (int k = 0; k < 5; k++)
        if (checkpoint(backend) != 0 || (rc = run(add2, &at[k], NULL)) != 0) {
            show_err();
            return 1;
        }
    char aunit[32] = "?";
    long an, unused;
    read_log(aunit, sizeof aunit, &an, &unused);
    double ma = median(at, 5);
    add_seen *as = &adds[strcmp(backend, "postgres") == 0];
    if (as->s_small == 0 || strategies < as->s_small)
        as->s_small = strategies, as->small = ma;
    if (strategies > as->s_large)
        as->s_large = strategies, as->large = ma;

    long positions = (long)strategies * per;
    printf("%-8s %6d %8ld %8.3f %8.3f %6.2f %5ld %5ld %-11s %7.4f %4ld "
           "%9ld %7.1f %5ld/%ld\n",
           backend, strategies, positions, mc, mf, mr, n, fn, unit, ma, an,
           rss, (double)rss * 1024.0 / (double)positions, cmoved, fmoved);
    fflush(stdout);
    return 0;
}

/* ---- config load ------------------------------------------------------ */

/* config_load + the policy started (its options bound: the weights map
 * checked for duplicates and parsed, fixed_weight's create) for a config
 * of n weights; median of 3, in this process. */
static int config_bench_in(int n);

/* In a child: the bench's own memory stays small (a child's peak RSS, as
 * wait4 reports it, starts from its parent's at fork). */
static int config_bench(int n)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        int rc = config_bench_in(n);
        fflush(stdout);
        _exit(rc);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int config_bench_in(int n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/capalloc-bench-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp");
    char path[300];
    snprintf(path, sizeof path, "%s/capalloc.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    fprintf(f, "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "storage: {plugin: sqlite, options: {path: fund.db}}\n"
               "prices: {plugin: file, options: {path: prices.csv}}\n"
               "policy:\n  plugin: fixed_weight\n  options:\n    weights:\n");
    for (int s = 1; s <= n; s++)
        fprintf(f, "      s%d: 0.000001\n", s);
    if (fclose(f) != 0)
        die(path);
    setenv("CAPALLOC_PLUGIN_DIR",
           CAPALLOC_BUILDDIR "/policies/.libs:" CAPALLOC_BUILDDIR
                             "/plugins/.libs", 1);
    double t[3];
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        capalloc_config *cfg = NULL;
        loaded_plugin *pl = NULL;
        cap_error e = {0, ""};
        double t0 = now();
        if (config_load(path, &cfg, &e) != 0 ||
            plugin_start(cfg, &cfg->policy, "fixed_weight",
                         CAPALLOC_KIND_POLICY, "policy", &pl, &e) != 0) {
            fprintf(stderr, "bench_storage: config: %s\n", e.msg);
            rc = 1;
        }
        t[k] = now() - t0;
        plugin_close(pl);
        config_free(cfg);
    }
    if (rc == 0)
        printf("config load (%d weights, policy started): %.3f s\n", n,
               median(t, 3));
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_storage: could not remove %s\n", dir);
    return rc;
}

/* ---- -y: a year of history ------------------------------------------ */

#define YEAR_DAYS 251             /* inserted in bulk, before the 252nd */
#define YEAR_FIRST "2025-01-03"   /* the first bulk day (day 0: 2025-01-02) */
#define YEAR_LAST "2025-09-11"    /* the 252nd day, written by write() */
#define YEAR_AFTER "2025-09-12"   /* the binary's last run */

/* Run sql (one transaction) on the bench's ledger, behind the backend;
 * 0 or 1 with a message. */
static int ledger_exec(const char *backend, const char *sql)
{
#if CAPALLOC_HAVE_SQLITE
    if (strcmp(backend, "sqlite") == 0) {
        char path[300];
        snprintf(path, sizeof path, "%s/fund.db", dir);
        sqlite3 *db;
        char *msg = NULL;
        int rc = sqlite3_open(path, &db);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK)
            fprintf(stderr, "bench_storage: sqlite: %s\n",
                    msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : 1;
    }
#endif
#if TEST_WITH_LIBPQ
    if (strcmp(backend, "postgres") == 0) {
        PGconn *c = PQconnectdb("");
        int ok = PQstatus(c) == CONNECTION_OK;
        if (ok) {
            PGresult *r = PQexec(c, sql);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
                 PQresultStatus(r) == PGRES_TUPLES_OK;
            PQclear(r);
        }
        if (!ok)
            fprintf(stderr, "bench_storage: postgres: %s", PQerrorMessage(c));
        PQfinish(c);
        return ok ? 0 : 1;
    }
#endif
    fprintf(stderr, "bench_storage: built without %s\n", backend);
    return 1;
}

/* The runs year_bulk inserts carry no hash: capalloc refuses to chain
 * onto such a head (a run inserted by hand). After them, unmeasured, the
 * ledger is anchored again, as the migration to the chain anchors a
 * ledger that has runs: the next capalloc run then links to the anchor.
 * (The floor's runs are chained: they need none of this.) */
static int reanchor(const char *backend, const char *schema)
{
    char sql[2000];
    int pg = strcmp(backend, "postgres") == 0;
    snprintf(sql, sizeof sql,
             "BEGIN;%s%s%s"
             " DELETE FROM capalloc_chain_anchor_cash;"
             " DELETE FROM capalloc_chain_anchor;"
             " INSERT INTO capalloc_chain_anchor (anchor_id, after_run_id,"
             "  created_at, after_log_id, runs_before)"
             "  SELECT 1, max(run_id), %s,"
             "  (SELECT coalesce(max(log_id), 0) FROM trade_execution_logs),"
             "  count(*) FROM capalloc_runs;"
             " INSERT INTO capalloc_chain_anchor_cash (portfolio_id, cash)"
             "  SELECT portfolio_id, cash FROM cash_equity_book;"
             " COMMIT;",
             pg ? " SET LOCAL search_path = " : "", pg ? schema : "",
             pg ? ";" : "",
             pg ? "now()" : "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
    return ledger_exec(backend, sql);
}

/* 251 days of runs with their records, S strategies + the master, T
 * tickers. Amounts alternate with the run id's parity; nav = cash +
 * positions_value. */
static int year_bulk(const char *backend, int strategies, int tickers,
                     const char *schema)
{
    char sql[6000];
    if (strcmp(backend, "postgres") == 0)
        snprintf(sql, sizeof sql,
            "BEGIN; SET LOCAL search_path = %s;"
            " WITH d AS (SELECT DATE '" YEAR_FIRST "' + i AS day"
            "  FROM generate_series(0, %d) AS i),"
            " r AS (INSERT INTO capalloc_runs (action, run_date, forced,"
            "  created_at, capalloc_version, detail)"
            "  SELECT 'ALLOCATE', day, 0, now(), 'bench', '{}' FROM d"
            "  ORDER BY day RETURNING run_id, run_date),"
            " v AS (INSERT INTO capalloc_valuations (run_id, valuation_date,"
            "  portfolio_id, is_master, imported, cash, positions_value, nav,"
            "  weight, target, transfer, shortfall)"
            "  SELECT r.run_id, r.run_date, p::text, (p = 0)::int::smallint, 0,"
            "  1000 + p, 5000.5 + (r.run_id %% 2) * 100 + p,"
            "  6000.5 + (r.run_id %% 2) * 100 + 2 * p, 0.0009, 5000,"
            "  CASE r.run_id %% 2 WHEN 0 THEN 10 ELSE -10 END, 0"
            "  FROM r, generate_series(0, %d) AS p RETURNING 1),"
            " q AS (INSERT INTO capalloc_run_prices (run_id, ticker, price,"
            "  as_of, stale)"
            "  SELECT r.run_id, 'T' || lpad(t::text, 5, '0'),"
            "  10 + t %% 490 + ((t + r.run_id) %% 100) / 100.0,"
            "  extract(epoch FROM r.run_date)::bigint, 0"
            "  FROM r, generate_series(0, %d) AS t RETURNING 1)"
            " SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM q);"
            " COMMIT",
            schema, YEAR_DAYS - 1, strategies, tickers - 1);
    else
        snprintf(sql, sizeof sql,
            "BEGIN;"
            " INSERT INTO capalloc_runs (action, run_date, forced, created_at,"
            "  capalloc_version, detail)"
            "  WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d"
            "   WHERE i < %d)"
            "  SELECT 'ALLOCATE', date('" YEAR_FIRST "', '+' || i || ' days'),"
            "  0, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'), 'bench', '{}'"
            "  FROM d;"
            " INSERT INTO capalloc_valuations (run_id, valuation_date,"
            "  portfolio_id, is_master, imported, cash, positions_value, nav,"
            "  weight, target, transfer, shortfall)"
            "  WITH RECURSIVE p(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM p"
            "   WHERE k < %d)"
            "  SELECT r.run_id, r.run_date, CAST(k AS TEXT), k = 0, 0,"
            "  printf('%%d.00', 1000 + k),"
            "  printf('%%d.50', 5000 + (r.run_id %% 2) * 100 + k),"
            "  printf('%%d.50', 6000 + (r.run_id %% 2) * 100 + 2 * k),"
            "  '0.000900', '5000.00',"
            "  CASE r.run_id %% 2 WHEN 0 THEN '10.00' ELSE '-10.00' END, '0.00'"
            "  FROM capalloc_runs r, p WHERE r.capalloc_version = 'bench';"
            " INSERT INTO capalloc_run_prices (run_id, ticker, price, as_of,"
            "  stale)"
            "  WITH RECURSIVE t(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM t"
            "   WHERE k < %d)"
            "  SELECT r.run_id, printf('T%%05d', k),"
            "  printf('%%d.%%02d', 10 + k %% 490, (k + r.run_id) %% 100),"
            "  CAST(strftime('%%s', r.run_date) AS INTEGER), 0"
            "  FROM capalloc_runs r, t WHERE r.capalloc_version = 'bench';"
            " COMMIT;",
            YEAR_DAYS - 1, strategies, tickers - 1);
    return ledger_exec(backend, sql);
}

/* What a child measured, in dir/measure. */
typedef struct measured {
    double secs;
    long trips;
    char unit[32];
    long rows;
} measured;

static long rows_seen;

static capalloc_status count_val(void *ctx, const capalloc_valuation *v)
{
    (void)ctx;
    (void)v;
    rows_seen++;
    return CAPALLOC_OK;
}

static capalloc_status count_run(void *ctx, const capalloc_run_info *i,
                                 const char *a, int f, const char *v,
                                 const char *d)
{
    (void)ctx, (void)i, (void)a, (void)f, (void)v, (void)d;
    rows_seen++;
    return CAPALLOC_OK;
}

static capalloc_status count_price(void *ctx, const capalloc_price_row *p)
{
    (void)ctx;
    (void)p;
    rows_seen++;
    return CAPALLOC_OK;
}

/* The 252nd day's batch, as the engine will hand it over: a transfer in
 * and out per strategy, every book's cash, a valuation per portfolio and
 * a price per ticker. */
static int write_year_last(const capalloc_storage_plugin *sp, void *st,
                           int strategies, int tickers, capalloc_err *err)
{
    size_t ns = (size_t)strategies;
    capalloc_trade *t = calloc(2 * ns, sizeof *t);
    capalloc_cash_row *c = calloc(ns + 1, sizeof *c);
    capalloc_valuation *v = calloc(ns + 1, sizeof *v);
    capalloc_price_row *p = calloc((size_t)tickers, sizeof *p);
    char (*ids)[24] = calloc(ns + 1, sizeof *ids);
    char (*tk)[16] = calloc((size_t)tickers, sizeof *tk);
    if (!t || !c || !v || !p || !ids || !tk)
        die("calloc");
    capalloc_dec ten = {10 * CAPALLOC_DEC_ONE}, one = {CAPALLOC_DEC_ONE};
    for (size_t k = 0; k <= ns; k++) {
        snprintf(ids[k], sizeof ids[k], "%zu", k);
        c[k] = (capalloc_cash_row){ids[k], {INT64_C(1000) * CAPALLOC_DEC_ONE}};
        v[k] = (capalloc_valuation){
            0, NULL, ids[k], k == 0 ? CAPALLOC_VAL_MASTER : 0,
            {(int64_t)(1000 + k) * CAPALLOC_DEC_ONE},
            {(int64_t)(5000 + k) * CAPALLOC_DEC_ONE + CAPALLOC_DEC_ONE / 2},
            {(int64_t)(6000 + 2 * k) * CAPALLOC_DEC_ONE + CAPALLOC_DEC_ONE / 2},
            {900}, {5000 * CAPALLOC_DEC_ONE}, ten, {0}, NULL, 0, 0};
        if (k > 0) {
            t[2 * (k - 1)] = (capalloc_trade){"0", "USD_CASH", CAPALLOC_SELL,
                                              ten, one, one};
            t[2 * (k - 1) + 1] = (capalloc_trade){ids[k], "USD_CASH",
                                                  CAPALLOC_BUY, ten, one, one};
        }
    }
    for (int k = 0; k < tickers; k++) {
        snprintf(tk[k], sizeof tk[k], "T%05d", k);
        p[k] = (capalloc_price_row){tk[k],
                                    {(int64_t)(10 + k % 490) * CAPALLOC_DEC_ONE},
                                    1757548800, 0};
    }
    capalloc_run_record rec = {"bench", "{\"bench\":true}", v, ns + 1, p,
                               (size_t)tickers};
    capalloc_write_batch b = {"ALLOCATE", YEAR_LAST, 0, "USD", t, 2 * ns,
                              c, ns + 1, NULL, 0, &rec, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    capalloc_status rc = sp->write(st, &b, err);
    free(t), free(c), free(v), free(p), free(ids), free(tk);
    return rc;
}

enum { M_WRITE, M_HISTORY_ALL, M_HISTORY_61, M_READ_RUN };
static const char *const m_names[] = {"write(252nd day + record)",
                                      "read_history(252 days)",
                                      "read_history(last 61)", "read_run"};

/* In a child: load the backend through the core's loader, time one call's
 * transaction (begin to commit), write "secs trips unit rows" to
 * dir/measure. */
static void measure_child(int what, int strategies, int tickers)
{
    char path[300], errpath[300];
    snprintf(errpath, sizeof errpath, "%s/err", dir);
    if (!freopen(errpath, "w", stderr))
        _exit(3);
    setvbuf(stderr, NULL, _IONBF, 0); /* the child ends with _exit() */
    snprintf(path, sizeof path, "%s/capalloc.yaml", dir);
    capalloc_config *cfg = NULL;
    cap_error e = {0, ""};
    loaded_plugin *pl = NULL;
    host_set_verbosity(CAPALLOC_LOG_DEBUG);
    /* the build tree's plugins, as the uninstalled binary finds them */
    setenv("CAPALLOC_PLUGIN_DIR", CAPALLOC_BUILDDIR "/plugins/.libs", 1);
    if (chdir(dir) != 0 || config_load(path, &cfg, &e) != 0 ||
        plugin_start(cfg, &cfg->storage, "sqlite", CAPALLOC_KIND_STORAGE,
                     "storage", &pl, &e) != 0) {
        fprintf(stderr, "bench_storage: %s\n", e.msg);
        _exit(3);
    }
    const capalloc_storage_plugin *sp =
        (const capalloc_storage_plugin *)pl->hdr;
    void *st = pl->state;
    capalloc_err err;
    memset(&err, 0, sizeof err);
    capalloc_record_sink sink = {NULL, count_run, count_val, count_price};
    capalloc_history_query all = {NULL, NULL, NULL, 0, NULL, 0};
    capalloc_history_query last = {NULL, YEAR_AFTER, NULL, 61, NULL, 0};
    int found = 0;
    capalloc_run_info ri = {0, "", "", 0, "", 0, 0};
    if (what == M_READ_RUN) { /* the 252nd day's run, found untimed */
        if (sp->begin(st, CAPALLOC_TXN_READ, &err) != CAPALLOC_OK ||
            sp->find_run(st, YEAR_LAST, &ri, &found, &err) != CAPALLOC_OK ||
            sp->commit(st, &err) != CAPALLOC_OK || !found) {
            fprintf(stderr, "bench_storage: no run on %s: %s\n", YEAR_LAST,
                    err.msg);
            _exit(4);
        }
    }
    double t0 = now();
    capalloc_status rc =
        sp->begin(st, what == M_WRITE ? CAPALLOC_TXN_WRITE : CAPALLOC_TXN_READ,
                  &err);
    if (rc == CAPALLOC_OK) {
        switch (what) {
        case M_WRITE:
            rc = write_year_last(sp, st, strategies, tickers, &err);
            rows_seen = strategies + 1 + tickers;
            break;
        case M_HISTORY_ALL:
            rc = sp->read_history(st, &all, &sink, &err);
            break;
        case M_HISTORY_61:
            rc = sp->read_history(st, &last, &sink, &err);
            break;
        default:
            rc = sp->read_run(st, ri.run_id, &sink, &found, &err);
        }
    }
    if (rc == CAPALLOC_OK)
        rc = sp->commit(st, &err);
    double secs = now() - t0;
    if (rc != CAPALLOC_OK) {
        fprintf(stderr, "bench_storage: %s: %s\n", m_names[what], err.msg);
        _exit(4);
    }
    fflush(stderr);
    char unit[32] = "?";
    long n, unused;
    read_log(unit, sizeof unit, &n, &unused);
    plugin_close(pl);
    config_free(cfg);
    snprintf(path, sizeof path, "%s/measure", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        _exit(5);
    fprintf(f, "%.6f %ld %s %ld\n", secs, n, unit, rows_seen);
    fclose(f);
    _exit(0);
}

static int measure(int what, int strategies, int tickers, measured *m,
                   long *maxrss_kb)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        measure_child(what, strategies, tickers);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        die("wait4");
    *maxrss_kb = ru.ru_maxrss;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        show_err();
        return 1;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/measure", dir);
    FILE *f = fopen(path, "r");
    int ok = f && fscanf(f, "%lf %ld %31s %ld", &m->secs, &m->trips, m->unit,
                         &m->rows) == 4;
    if (f)
        fclose(f);
    return ok ? 0 : 1;
}

/* The ledger's size on disk, bytes: the file (and its WAL), or every
 * table of the schema with its indexes and TOAST. -1 if unknown. */
static long long ledger_size(const char *backend, const char *schema)
{
    if (strcmp(backend, "sqlite") == 0) {
        long long n = 0;
        const char *files[] = {"fund.db", "fund.db-wal"};
        for (int i = 0; i < 2; i++) {
            char path[300];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            if (stat(path, &sb) == 0)
                n += (long long)sb.st_size;
        }
        return n;
    }
#if TEST_WITH_LIBPQ
    PGconn *c = PQconnectdb("");
    long long n = -1;
    const char *v[1] = {schema};
    PGresult *r = PQexecParams(
        c,
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind = 'r'",
        1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
#else
    (void)schema;
    return -1;
#endif
}

static int year_in(const char *backend, int strategies, int per, int tickers,
                   const char *schema)
{
    write_fund(backend, strategies, per, tickers, schema);
    const char *add[] = {CAPALLOC_BIN, "capital", "add", "1000000000", NULL};
    const char *imp[] = {CAPALLOC_BIN, "positions", "import", "positions.csv",
                         NULL};
    const char *alloc[] = {CAPALLOC_BIN, "-vv", "allocate", "--date",
                           "2025-01-02", "--allow-past-date", NULL};
    int rc;
    if ((rc = run(add, NULL, NULL)) != 0 || (rc = run(imp, NULL, NULL)) != 0 ||
        (rc = run(alloc, NULL, NULL)) != 0) {
        fprintf(stderr, "bench_storage: %s year setup failed (exit %d)\n",
                backend, rc);
        show_err();
        return 1;
    }
    double t0 = now();
    if (year_bulk(backend, strategies, tickers, schema) != 0 ||
        reanchor(backend, schema) != 0)
        return 1;
    double bulk = now() - t0;
    printf("%-9s %d strategies x %d positions, %d tickers: %d days inserted "
           "in bulk in %.1f s\n"
           "  (round trips / statements: of the whole transaction, its BEGIN "
           "and COMMIT included)\n",
           backend, strategies, per, tickers, YEAR_DAYS, bulk);

    measured m;
    long rss;
    for (int what = M_WRITE; what <= M_READ_RUN; what++) {
        if (measure(what, strategies, tickers, &m, &rss) != 0) {
            fprintf(stderr, "bench_storage: %s %s failed\n", backend,
                    m_names[what]);
            return 1;
        }
        printf("  %-27s %9.3f s %6ld %-11s %8ld rows %9ld kB peak\n",
               m_names[what], m.secs, m.trips, m.unit, m.rows, rss);
    }
    /* the last real run through the binary, on the year-sized ledger */
    const char *add2[] = {CAPALLOC_BIN, "capital", "add", "12345.67", NULL};
    double wall = 0;
    alloc[4] = YEAR_AFTER;
    if ((rc = run(add2, NULL, NULL)) != 0 ||
        (rc = run(alloc, &wall, &rss)) != 0) {
        fprintf(stderr, "bench_storage: %s last allocate failed (exit %d)\n",
                backend, rc);
        show_err();
        return 1;
    }
    char unit[32] = "?";
    long n, unused;
    read_log(unit, sizeof unit, &n, &unused);
    printf("  %-27s %9.3f s %6ld %-11s %8s      %9ld kB peak\n",
           "capalloc allocate (binary)", wall, n, unit, "", rss);
    long long size = ledger_size(backend, schema);
    printf("  ledger size after the year: %.1f MB\n",
           size >= 0 ? (double)size / 1048576.0 : -1.0);
    fflush(stdout);
    return 0;
}

static int year(const char *backend, int strategies, int per, int tickers)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/capalloc-bench-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp");
    char schema[64];
    snprintf(schema, sizeof schema, "bench_year_%d_%ld", strategies,
             (long)getpid());
    int rc = year_in(backend, strategies, per, tickers, schema);
    if (strcmp(backend, "postgres") == 0 && drop_schema(schema) != 0)
        rc = 1;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_storage: could not remove %s\n", dir);
    return rc;
}

int main(int argc, char **argv)
{
    const char *backends = "both", *sizes = NULL;
    int per = 100, tickers = 5000, opt, year_mode = 0;
    while ((opt = getopt(argc, argv, "b:s:p:t:r:y")) != -1) {
        switch (opt) {
        case 'y': year_mode = 1; break;
        case 'r': pairs = atoi(optarg); break;
        case 'b': backends = optarg; break;
        case 's': sizes = optarg; break;
        case 'p': per = atoi(optarg); break;
        case 't': tickers = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_storage [-b sqlite|postgres|both] "
                            "[-s 10,100,1000,10000] [-p N] [-t N] [-r PAIRS] "
                            "[-y]\n");
            return 2;
        }
    }
    if (per < 1 || tickers < 1 || pairs < 1 || pairs > 64) {
        fprintf(stderr, "bench_storage: -p and -t must be >= 1, -r 1..64\n");
        return 2;
    }
    if (sizes == NULL)
        sizes = year_mode ? "1000" : "10,100,1000,10000";
    int failed = 0;
    if (!year_mode) {
        failed |= config_bench(10000);
        failed |= config_bench(100000);
        printf("\nallocation (median of %d pairs, capalloc and the floor "
               "alternately), capital add (median of 5); %d tickers\n",
               pairs, tickers);
        printf("%-8s %6s %8s %8s %8s %6s %5s %5s %-11s %7s %4s %9s %7s "
               "%s\n",
               "backend", "strats", "posns", "alloc_s", "floor_s", "ratio",
               "trips", "floor", "unit", "add_s", "trip", "maxrss_kb",
               "B/posn", "moved");
    }
    char *list = strdup(sizes);
    if (list == NULL)
        die("strdup");
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int s = atoi(tok);
        if (s < 1 || s > 900000) {
            fprintf(stderr, "bench_storage: bad size '%s'\n", tok);
            return 2;
        }
        int (*fn)(const char *, int, int, int) = year_mode ? year : bench;
        if (strcmp(backends, "postgres") != 0)
            failed |= fn("sqlite", s, per, tickers);
        if (strcmp(backends, "sqlite") != 0)
            failed |= fn("postgres", s, per, tickers);
    }
    free(list);
    for (int b = 0; b < 2 && !year_mode; b++)
        if (adds[b].s_small > 0 && adds[b].s_large > adds[b].s_small)
            printf("capital add, %s: %.4f s at %d strategies, %.4f s at %d: "
                   "%.2fx\n",
                   b ? "postgres" : "sqlite", adds[b].small, adds[b].s_small,
                   adds[b].large, adds[b].s_large,
                   adds[b].large / adds[b].small);
    return failed;
}
