/*
 * bench_fmp.c - a benchmark (not a test: nothing here is timed against a
 * limit) of the fmp price source: a fund of 1,000 portfolios holding 5,000
 * distinct tickers is valued (capalloc --json allocate --dry-run) with
 * prices from tests/fake_fmp.py, which adds a latency to every request, in
 * batch mode and in one-request-per-symbol mode.
 *
 *   make bench-fmp                      # builds and runs it
 *   tests/bench_fmp [latency_ms] [batch_size] [concurrency]   (20 100 8)
 *
 * Prints, per mode: requests the server saw, the run's wall time, the
 * capalloc process's peak resident memory, and the most requests the
 * server had in flight at once. Checks the two properties that do not
 * depend on timing: batch mode sends ceil(tickers / batch_size) requests;
 * single mode sends one per ticker and never has more than `concurrency`
 * in flight (exit 1 otherwise).
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_fmp_client.h"

#ifndef PYTHON3
#define PYTHON3 "python3"
#endif

#define N_PORTFOLIOS 1000
#define N_TICKERS 5000
#define KEY "bench-key-0000"

static char dir[PATH_MAX];
static int port;
static pid_t server;

static void die(const char *what)
{
    fprintf(stderr, "bench_fmp: %s\n", what);
    if (server > 0)
        kill(server, SIGTERM);
    exit(2);
}

static FILE *create(const char *name)
{
    char p[PATH_MAX + 64];
    int w = snprintf(p, sizeof p, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof p)
        die("path too long");
    FILE *f = fopen(p, "w");
    if (f == NULL)
        die("cannot write in the temporary folder");
    return f;
}

static void start_server(void)
{
    char line[64];
    server = fake_fmp_start((const char *const[]){"--generate", NULL}, KEY,
                            NULL, &port, line, sizeof line);
    if (server < 0)
        die("the fake FMP server did not start");
}

static json_t *ctl(const char *path, const char *body)
{
    char why[4096];
    json_t *j = fake_fmp_ctl(port, path, body, why, sizeof why);
    if (j == NULL)
        die(why);
    return j;
}

/* Run capalloc with args in dir; wall time and peak RSS of the child. */
static int run(const char *const *args, double *secs, long *maxrss_kb)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn < 0 || chdir(dir) != 0)
            _exit(127);
        dup2(dn, 1);
        execv(CAPALLOC_BIN, (char *const *)args);
        _exit(126);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        die("wait4");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (secs)
        *secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (maxrss_kb)
        *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void write_config(const char *mode, long batch, long conc)
{
    FILE *f = create("fund.yaml");
    fprintf(f, "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "storage: {plugin: sqlite, options: {path: ./fund.db}}\n"
               "prices: {plugin: fmp, options: {base_url: \"http://127.0.0.1:%d\", "
               "mode: %s, batch_size: %ld, concurrency: %ld, api_key_env: BENCH_FMP_KEY}}\n"
               "policy:\n  plugin: fixed_weight\n  options:\n    weights:\n",
            port, mode, batch, conc);
    for (int p = 1; p <= N_PORTFOLIOS; p++)
        fprintf(f, "      \"%d\": 0.001\n", p);
    fclose(f);
}

int main(int argc, char **argv)
{
    long latency = argc > 1 ? atol(argv[1]) : 20;
    long batch = argc > 2 ? atol(argv[2]) : 100;
    long conc = argc > 3 ? atol(argv[3]) : 8;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/capalloc-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    start_server();
    setenv("BENCH_FMP_KEY", KEY, 1);

    /* 5,000 tickers, each held by two of the 1,000 portfolios */
    FILE *f = create("pos.csv");
    fprintf(f, "portfolio_id,ticker,quantity\n");
    for (int i = 0; i < N_TICKERS; i++) {
        fprintf(f, "%d,T%05d,%d\n", i % N_PORTFOLIOS + 1, i, 1 + i % 97);
        fprintf(f, "%d,T%05d,0.5\n", (i * 7 + 3) % N_PORTFOLIOS + 1, i);
    }
    fclose(f);
    write_config("batch", batch, conc);
    const char *imp[] = {CAPALLOC_BIN, "--config", "fund.yaml", "positions",
                         "import", "pos.csv", NULL};
    const char *add[] = {CAPALLOC_BIN, "--config", "fund.yaml", "capital",
                         "add", "10000000", NULL};
    if (run(imp, NULL, NULL) != 0 || run(add, NULL, NULL) != 0)
        die("setting up the fund failed");

    printf("fmp benchmark: %d portfolios, %d distinct tickers (%d positions), "
           "%ld ms latency per request, batch_size %ld, concurrency %ld\n",
           N_PORTFOLIOS, N_TICKERS, 2 * N_TICKERS, latency, batch, conc);
    printf("%-8s %10s %10s %14s %13s\n", "mode", "requests", "wall s",
           "peak RSS (MB)", "max in flight");
    int bad = 0;
    const char *modes[] = {"batch", "single"};
    for (int m = 0; m < 2; m++) {
        write_config(modes[m], batch, conc);
        char c[128];
        snprintf(c, sizeof c, "{\"reset\": true, \"latency_ms\": %ld}", latency);
        json_decref(ctl("/_control", c));
        const char *alloc[] = {CAPALLOC_BIN, "--config", "fund.yaml", "--json",
                               "allocate", "--dry-run", NULL};
        double secs;
        long rss;
        int rc = run(alloc, &secs, &rss);
        json_t *s = ctl("/_stats", NULL);
        long long req = json_integer_value(json_object_get(s, "requests"));
        long long mif = json_integer_value(json_object_get(s, "max_inflight"));
        json_decref(s);
        printf("%-8s %10lld %10.2f %14.1f %13lld%s\n", modes[m], req, secs,
               rss / 1024.0, mif, rc ? "  (capalloc FAILED)" : "");
        long long want = m == 0 ? (N_TICKERS + batch - 1) / batch : N_TICKERS;
        if (rc != 0 || req != want || mif > conc) {
            fprintf(stderr, "bench_fmp: %s mode: exit %d, %lld requests (want "
                    "%lld), %lld in flight (limit %ld)\n",
                    modes[m], rc, req, want, mif, conc);
            bad = 1;
        }
    }
    fake_fmp_stop(server);
    curl_global_cleanup();
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return bad;
}
