/*
 * check_fmp.c - the fmp price source against a fake FMP server
 * (tests/fake_fmp.py) on 127.0.0.1, through the real plugin and libcurl:
 *
 *   plugin   the fmp .so loaded by the core's loader from a YAML config,
 *            get_prices() called directly: modes, batching, exact prices,
 *            402 fallback, retries, timeouts, errors, last-known prices;
 *   binary   whole allocations with the capalloc binary: the ledger equals
 *            the one the file source gives for the same prices; in every
 *            fault the ledger is unchanged and the exit is 5; the key never
 *            appears in anything the runs print.
 *
 * Each test starts its own server (fork/exec python3 on port 0, reading
 * "PORT n" from its stdout) and stops it; a server that cannot start fails
 * the test. The server learns the expected key from the environment
 * (FAKE_FMP_KEY), and so does the plugin (FMP_TEST_KEY): the key is never
 * on a command line.
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "decimal.h"
#include "loader.h"
#include "options.h"
#include "fake_fmp_client.h"
#include "testutil.h"

#ifndef PYTHON3
#define PYTHON3 "python3"
#endif

#define KEY "tk-7f3a9c1e5b"   /* the test key: must never be printed */
#define KEY_ENV "FMP_TEST_KEY"

static pid_t server_pid = -1;
static int port;

/* ------------------------------------------------------------------------ */
/* files                                                                     */
/* ------------------------------------------------------------------------ */

#define ck_assert_no_key(text)                                             \
    do {                                                                   \
        const char *t_ = (text);                                           \
        ck_assert_msg(strstr(t_, KEY) == NULL && strstr(t_, "7f3a9c") == NULL && \
                      strstr(t_, "tk-7") == NULL,                          \
                      "the API key leaked into: %s", t_);                  \
    } while (0)

/* ------------------------------------------------------------------------ */
/* the fake server                                                           */
/* ------------------------------------------------------------------------ */

static const char PRICES[] =
    "ticker,price\n"
    "AAPL,268.47\n"
    "MSFT,497.1\n"
    "BRK-B,489.305\n"
    "INT,100\n"
    "BIG,123456789.123456\n"
    "TINY,0.0000125\n"
    "TINY2,0.0000135\n"
    "EXP,1.5e-05\n"
    "NINE,0.9999999\n"
    "CARRY,9.9999995\n"
    "EXPB,1E+2\n"
    "NEG,-1.5\n"
    "ZERO,0\n"
    "SUBMICRO,0.0000004\n"
    "ZEXP,0.00000000000000000001e21\n"
    "ZEXP2,0.0000000000000000000000000000000000000000000000000000000000000000000000000012345e76\n"
    "ZERO2,0.0e25\n"
    "ZERO3,0e5\n"
    "FAR,1e-999999\n"
    "HUGE,1e30\n"
    "A1,1.01\nA2,2.02\nA3,3.03\nA4,4.04\nA5,5.05\nA6,6.06\n"
    "A7,7.07\nA8,8.08\nA9,9.09\nA10,10.1\nA11,11.11\nA12,12.12\n";

static void start_server(void)
{
    tu_write_file("fake_prices.csv", "%s", PRICES);
    char prices[PATH_MAX], log[PATH_MAX], line[64];
    tu_path(prices, sizeof prices, "fake_prices.csv");
    tu_path(log, sizeof log, "fake_server.err");
    server_pid = fake_fmp_start((const char *const[]){"--prices", prices, NULL},
                                KEY, log, &port, line, sizeof line);
    if (server_pid < 0) {
        char err[4096];
        tu_slurp(log, err, sizeof err);
        ck_abort_msg("the fake FMP server did not start (%s %s/tests/fake_fmp.py):"
                     " stdout '%s', stderr: %s", PYTHON3, TEST_SRCDIR, line, err);
    }
    /* the key reached the server through its environment only */
    char cl_path[64], cl[4096];
    snprintf(cl_path, sizeof cl_path, "/proc/%ld/cmdline", (long)server_pid);
    FILE *clf = fopen(cl_path, "r");
    ck_assert_ptr_nonnull(clf);
    size_t cn = fread(cl, 1, sizeof cl - 1, clf);
    fclose(clf);
    for (size_t i = 0; i < cn; i++)
        cl[i] = cl[i] ? cl[i] : ' ';
    cl[cn] = '\0';
    ck_assert_has(cl, "fake_fmp.py");
    ck_assert_no_key(cl);
}

static void stop_server(void)
{
    fake_fmp_stop(server_pid);
    server_pid = -1;
}

/* GET or POST (body non-NULL) on the fake server's control paths. */
static json_t *ctl(const char *path, const char *body)
{
    char why[4096];
    json_t *j = fake_fmp_ctl(port, path, body, why, sizeof why);
    ck_assert_msg(j != NULL, "%s", why);
    return j;
}

static void control(const char *json)
{
    json_decref(ctl("/_control", json));
}

static long long stat_int(const char *field)
{
    json_t *j = ctl("/_stats", NULL);
    long long v = json_integer_value(json_object_get(j, field));
    json_decref(j);
    return v;
}

static long long status_count(const char *status)
{
    json_t *j = ctl("/_stats", NULL);
    long long v = json_integer_value(
        json_object_get(json_object_get(j, "by_status"), status));
    json_decref(j);
    return v;
}

/* How many requests had this path (key redacted, parameters sorted by
 * name, e.g. "/stable/quote?apikey=***&symbol=AAPL"). */
static int path_count(const char *path)
{
    json_t *j = ctl("/_stats", NULL);
    json_t *a = json_object_get(j, "paths");
    int n = 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        n += strcmp(json_string_value(json_array_get(a, i)), path) == 0;
    json_decref(j);
    return n;
}

/* ------------------------------------------------------------------------ */
/* fixture                                                                   */
/* ------------------------------------------------------------------------ */

static void setup(void)
{
    tu_mkdir("fmp");
    unsetenv("CAPALLOC_PLUGIN_DIR");
    setenv(KEY_ENV, KEY, 1);
    host_set_verbosity(CAPALLOC_LOG_DEBUG);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    start_server();
}

static void teardown(void)
{
    stop_server();
    curl_global_cleanup();
    host_set_verbosity(CAPALLOC_LOG_WARNING);
    tu_rmdir();
}

/* ------------------------------------------------------------------------ */
/* the plugin, through the loader                                            */
/* ------------------------------------------------------------------------ */

static capalloc_config *cfg;
static loaded_plugin *plug;
static char logbuf[262144]; /* the plugin's log lines of the last call */

/* Start the fmp plugin at base_url with these extra options (YAML flow
 * entries, after a comma). */
static int start_fmp_at(const char *base_url, const char *opts)
{
    tu_write_file("capalloc.yaml",
               "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "plugin_dir: %s/plugins/.libs\n"
               "prices:\n  plugin: fmp\n  options: {base_url: \"%s\", "
               "api_key_env: " KEY_ENV ", backoff_ms: 1%s%s}\n"
               "portfolio_weights: {\"1\": 0.5}\n",
               TEST_BUILDDIR, base_url, *opts ? ", " : "", opts);
    char path[PATH_MAX];
    tu_path(path, sizeof path, "capalloc.yaml");
    cap_error e = {0, ""};
    ck_assert_msg(config_load(path, &cfg, &e) == 0, "%s", e.msg);
    plug = NULL;
    int rc = plugin_start(cfg, &cfg->prices, "file", CAPALLOC_KIND_PRICES,
                          "prices", &plug, &e);
    if (rc != 0) {
        snprintf(logbuf, sizeof logbuf, "%s", e.msg);
        plugin_close(plug);
        plug = NULL;
        config_free(cfg);
        cfg = NULL;
    }
    return rc;
}

/* Start the fmp plugin on the fake server with these extra options. */
__attribute__((format(printf, 1, 2))) static int start_fmp(const char *fmt, ...)
{
    char opts[2048], url[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(opts, sizeof opts, fmt, ap);
    va_end(ap);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    return start_fmp_at(url, opts);
}

static void stop_fmp(void)
{
    plugin_close(plug);
    plug = NULL;
    config_free(cfg);
    cfg = NULL;
}

/* get_prices for tickers, stderr (the host's log) captured in logbuf. */
static capalloc_status price(const char *const *t, size_t n, capalloc_quote *q,
                             capalloc_err *err)
{
    memset(q, 0, n * sizeof *q);
    memset(err, 0, sizeof *err);
    char path[PATH_MAX];
    tu_path(path, sizeof path, "stderr.log");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    const capalloc_price_plugin *pp = (const capalloc_price_plugin *)plug->hdr;
    capalloc_status st = pp->get_prices(plug->state, t, n, q, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    tu_slurp(path, logbuf, sizeof logbuf);
    ck_assert_no_key(logbuf);
    ck_assert_no_key(err->msg);
    return st;
}

static int64_t micros(const char *text)
{
    capalloc_dec d;
    ck_assert_int_eq(dec_parse(text, &d), CAPALLOC_OK);
    return d.micros;
}

START_TEST(batch_prices_exact)
{
    ck_assert_int_eq(start_fmp("batch_size: 4"), 0);
    control("{\"reset\": true}");
    static const char *const t[] = {"AAPL", "MSFT", "BRK-B", "INT", "BIG",
                                    "TINY", "TINY2", "EXP", "NINE", "NOPE"};
    capalloc_quote q[10];
    capalloc_err err;
    ck_assert_int_eq(price(t, 10, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 1);
    ck_assert_int_eq(q[0].price.micros, micros("268.47"));
    ck_assert_int_eq(q[0].as_of, 1762549202);
    ck_assert_uint_eq(q[0].flags, 0);
    ck_assert_int_eq(q[1].price.micros, micros("497.1"));
    ck_assert_int_eq(q[2].price.micros, micros("489.305"));
    ck_assert_int_eq(q[3].price.micros, micros("100"));
    ck_assert_int_eq(q[4].price.micros, micros("123456789.123456"));
    /* 7 places, half-even on the digits: ...125 -> ...12, ...135 -> ...14 */
    ck_assert_int_eq(q[5].price.micros, 12);
    ck_assert_int_eq(q[6].price.micros, 14);
    ck_assert_int_eq(q[7].price.micros, 15); /* 1.5e-05 */
    ck_assert_int_eq(q[8].price.micros, micros("1")); /* 0.9999999 */
    ck_assert_int_eq(q[9].found, 0); /* absent from the answer */
    /* ceil(10 / 4) batch requests, nothing else */
    ck_assert_int_eq(stat_int("requests"), 3);
    ck_assert_int_eq(path_count("/stable/batch-quote?apikey=***&symbols=AAPL,MSFT,BRK-B,INT"), 1);
    ck_assert_int_eq(path_count("/stable/batch-quote?apikey=***&symbols=NINE,NOPE"), 1);
    ck_assert_has(logbuf, "apikey=***");
    ck_assert_has(logbuf, "10 tickers priced in 3 requests");
    /* more of the number grammar: a tie carried into the integer, an
     * exponent with a sign; a negative, a zero and a price that rounds to
     * zero are no usable prices: not found, with a warning naming them */
    static const char *const t2[] = {"CARRY", "EXPB", "NEG", "ZERO", "SUBMICRO"};
    ck_assert_int_eq(price(t2, 5, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].price.micros, micros("10"));
    ck_assert_int_eq(q[1].price.micros, micros("100"));
    ck_assert_int_eq(q[2].found, 0);
    ck_assert_int_eq(q[3].found, 0);
    ck_assert_int_eq(q[4].found, 0);
    ck_assert_has(logbuf, "FMP gave NEG a price of -1.5: not a usable price");
    ck_assert_has(logbuf, "FMP gave ZERO a price of 0");
    ck_assert_has(logbuf, "FMP gave SUBMICRO a price of 0");
    /* leading zeros do not count against the range: 0.0...01e21 is 10;
     * zero with any exponent is zero (no usable price), and so is 1e-999999 */
    static const char *const t4[] = {"ZEXP", "ZEXP2", "ZERO2", "ZERO3", "FAR"};
    ck_assert_int_eq(price(t4, 5, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 1);
    ck_assert_int_eq(q[0].price.micros, micros("10"));
    ck_assert_int_eq(q[1].found, 1);
    ck_assert_int_eq(q[1].price.micros, micros("12.345"));
    ck_assert_int_eq(q[2].found, 0);
    ck_assert_int_eq(q[3].found, 0);
    ck_assert_int_eq(q[4].found, 0);
    ck_assert_has(logbuf, "FMP gave ZERO2 a price of 0");
    ck_assert_has(logbuf, "FMP gave FAR a price of 0");
    /* a price out of capalloc's range is an error, not a missing price */
    static const char *const t3[] = {"AAPL", "HUGE"};
    ck_assert_int_eq(price(t3, 2, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "price of HUGE (1e30)");
    stop_fmp();
}
END_TEST

START_TEST(single_mode_concurrency_and_reuse)
{
    ck_assert_int_eq(start_fmp("mode: single, concurrency: 3"), 0);
    control("{\"reset\": true, \"latency_ms\": 200}");
    static const char *const t[] = {"A1", "A2", "A3", "A4", "A5", "A6",
                                    "A7", "A8", "A9", "A10", "A11", "A12"};
    capalloc_quote q[12];
    capalloc_err err;
    ck_assert_int_eq(price(t, 12, q, &err), CAPALLOC_OK);
    /* connections reused: 3 for the 12 quotes, +1 for this query (the
     * first control query since the reset) */
    ck_assert_int_le(stat_int("connections"), 4);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(q[i].found == 1, "%s", t[i]);
    ck_assert_int_eq(q[9].price.micros, micros("10.1"));
    ck_assert_int_eq(stat_int("requests"), 12);
    ck_assert_int_eq(path_count("/stable/quote?apikey=***&symbol=A7"), 1);
    /* never more than 3 at once; with 200 ms per answer, 3 at once */
    ck_assert_int_eq(stat_int("max_inflight"), 3);
    stop_fmp();
}
END_TEST

START_TEST(legacy_mode)
{
    ck_assert_int_eq(start_fmp("mode: legacy, batch_size: 2, concurrency: 1"), 0);
    control("{\"reset\": true}");
    static const char *const t[] = {"AAPL", "MSFT", "BRK-B"};
    capalloc_quote q[3];
    capalloc_err err;
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[2].price.micros, micros("489.305"));
    ck_assert_int_eq(path_count("/api/v3/quote/AAPL,MSFT?apikey=***"), 1);
    ck_assert_int_eq(path_count("/api/v3/quote/BRK-B?apikey=***"), 1);
    /* a key issued after 2025-08-31: 403, and what to change */
    control("{\"reset\": true, \"fail\": \"legacy403\"}");
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "HTTP 403");
    ck_assert_has(err.msg, "Legacy Endpoint");
    ck_assert_has(err.msg, "set the option mode to batch or single");
    /* never retried, and the first refusal stops the run */
    ck_assert_int_eq(status_count("403"), 1);
    ck_assert_int_eq(stat_int("requests"), 1);
    stop_fmp();
}
END_TEST

START_TEST(batch_refused_falls_back_per_symbol)
{
    ck_assert_int_eq(start_fmp("batch_size: 2, concurrency: 1"), 0);
    control("{\"reset\": true, \"refuse_batch\": true}");
    static const char *const t[] = {"AAPL", "MSFT", "BRK-B", "NOPE", "INT"};
    capalloc_quote q[5];
    capalloc_err err;
    ck_assert_int_eq(price(t, 5, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].price.micros, micros("268.47"));
    ck_assert_int_eq(q[4].price.micros, micros("100"));
    ck_assert_int_eq(q[3].found, 0);
    /* one batch refused (one at a time: the others were split before being
     * sent), then one request per symbol */
    ck_assert_int_eq(status_count("402"), 1);
    ck_assert_int_eq(status_count("200"), 5);
    for (int i = 0; i < 5; i++) {
        char p[128];
        snprintf(p, sizeof p, "/stable/quote?apikey=***&symbol=%s", t[i]);
        ck_assert_int_eq(path_count(p), 1);
    }
    ck_assert_has(logbuf, "refuses batch quotes");
    /* per-symbol refusals are named */
    control("{\"refuse_symbols\": [\"MSFT\", \"INT\"]}");
    ck_assert_int_eq(price(t, 5, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "refuses quotes for 2 symbols (HTTP 402): MSFT, INT");
    stop_fmp();
}
END_TEST

START_TEST(rate_limit_retried)
{
    ck_assert_int_eq(start_fmp("retries: 3"), 0);
    control("{\"reset\": true, \"fail\": \"429\", \"fail_count\": 2}");
    static const char *const t[] = {"AAPL", "MSFT"};
    capalloc_quote q[2];
    capalloc_err err;
    ck_assert_int_eq(price(t, 2, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[1].price.micros, micros("497.1"));
    ck_assert_int_eq(status_count("429"), 2);
    ck_assert_int_eq(stat_int("requests"), 3);
    ck_assert_has(logbuf, "HTTP 429");
    ck_assert_has(logbuf, "retry 2 of 3");
    /* more 429s than retries: an error after 1 + retries attempts */
    control("{\"reset\": true, \"fail\": \"429\", \"fail_count\": 10}");
    ck_assert_int_eq(price(t, 2, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "HTTP 429: Limit Reach");
    ck_assert_has(err.msg, "gave up after 4 attempts");
    ck_assert_int_eq(stat_int("requests"), 4);
    stop_fmp();
}
END_TEST

/* "Limit Reach" with status 200 is a rate limit too: retried, not data and
 * not a refusal. */
START_TEST(limit_reach_on_200_retried)
{
    ck_assert_int_eq(start_fmp("retries: 2"), 0);
    control("{\"reset\": true, \"fail\": \"limit200\", \"fail_count\": 2}");
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].price.micros, micros("268.47"));
    ck_assert_int_eq(stat_int("requests"), 3);
    ck_assert_has(logbuf, "HTTP 200: Limit Reach");
    ck_assert_has(logbuf, "retry 2 of 2");
    control("{\"reset\": true, \"fail\": \"limit200\", \"fail_count\": 10}");
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "Limit Reach");
    ck_assert_has(err.msg, "gave up after 3 attempts");
    ck_assert_int_eq(q[0].found, 0);
    stop_fmp();
}
END_TEST

START_TEST(server_error_retried_then_fails)
{
    ck_assert_int_eq(start_fmp("retries: 2"), 0);
    control("{\"reset\": true, \"fail\": \"500\", \"fail_count\": 1}");
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 1);
    control("{\"reset\": true, \"fail\": \"500\", \"fail_count\": 100}");
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "HTTP 500");
    ck_assert_has(err.msg, "gave up after 3 attempts");
    ck_assert_has(err.msg, "apikey=***");
    ck_assert_int_eq(stat_int("requests"), 3);
    stop_fmp();
}
END_TEST

/* A batch of 300 long symbols: the reason still leads the message, and the
 * URL shown names 3 symbols and how many more. */
START_TEST(long_batch_keeps_the_reason)
{
    ck_assert_int_eq(start_fmp("retries: 1, batch_size: 300"), 0);
    control("{\"reset\": true, \"fail\": \"500\", \"fail_count\": 100}");
    enum { N = 300 };
    static char names[N][16];
    const char *t[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "TICKER%04d", i); /* 10 chars */
        t[i] = names[i];
    }
    static capalloc_quote q[N];
    capalloc_err err;
    ck_assert_int_eq(price(t, N, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "HTTP 500");
    ck_assert_has(err.msg, "gave up after 2 attempts");
    ck_assert_has(err.msg, "symbols=TICKER0000,TICKER0001,TICKER0002,(+297 more)&apikey=***");
    ck_assert_msg(strstr(err.msg, "TICKER0003") == NULL, "%s", err.msg);
    ck_assert_has(logbuf, "HTTP 500");
    ck_assert_has(logbuf, "retry 1 of 1");
    /* the server was asked for all 300 */
    json_t *j = ctl("/_stats", NULL);
    const char *p0 = json_string_value(json_array_get(json_object_get(j, "paths"), 0));
    ck_assert_ptr_nonnull(p0);
    ck_assert_has(p0, "TICKER0299");
    json_decref(j);
    stop_fmp();
}
END_TEST

/* A garbled answer (libcurl: WEIRD_SERVER_REPLY, like HTTP/2 transport
 * errors) is retried like a dropped connection. */
START_TEST(garbled_answer_retried)
{
    ck_assert_int_eq(start_fmp("retries: 1"), 0);
    control("{\"reset\": true, \"fail\": \"weird\", \"fail_count\": 1}");
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].price.micros, micros("268.47"));
    ck_assert_int_eq(status_count("weird"), 1);
    ck_assert_int_eq(stat_int("requests"), 2);
    ck_assert_has(logbuf, "retry 1 of 1");
    control("{\"reset\": true, \"fail\": \"weird\", \"fail_count\": 10}");
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "gave up after 2 attempts");
    ck_assert_int_eq(stat_int("requests"), 2);
    stop_fmp();
}
END_TEST

START_TEST(timeout_retried_then_fails)
{
    ck_assert_int_eq(start_fmp("retries: 1, timeout_ms: 300"), 0);
    control("{\"reset\": true, \"fail\": \"hang\", \"hang_ms\": 3000}");
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "imed out");
    ck_assert_has(err.msg, "gave up after 2 attempts");
    ck_assert_int_eq(stat_int("requests"), 2);
    ck_assert_int_eq(q[0].found, 0);
    stop_fmp();
}
END_TEST

START_TEST(connection_refused_fails)
{
    /* a port nothing listens on: bound (so no one else can take it) but
     * never listen()ed on, until the test ends: connections are refused */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    int live = port;
    port = ntohs(a.sin_port);
    int rc = start_fmp("retries: 1");
    port = live;
    ck_assert_int_eq(rc, 0);
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "gave up after 2 attempts");
    ck_assert_has(logbuf, "retry 1 of 1");
    ck_assert_has(err.msg, "onnect");
    close(fd);
    stop_fmp();
}
END_TEST

START_TEST(bodies_that_are_not_quotes)
{
    ck_assert_int_eq(start_fmp("retries: 3"), 0);
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    control("{\"reset\": true, \"fail\": \"notjson\"}");
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "not JSON");
    ck_assert_has(err.msg, "<html>");
    ck_assert_int_eq(q[0].found, 0);
    /* an error object with status 200 is an error, not data */
    control("{\"reset\": true, \"fail\": \"error200\"}");
    ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "refused the API key from $" KEY_ENV);
    ck_assert_int_eq(q[0].found, 0);
    ck_assert_int_eq(stat_int("requests"), 1); /* not retried */
    stop_fmp();
}
END_TEST

/* A server that echoes the request (key included) in its answer: whatever
 * offset the key lands at, no part of it reaches a message or a log,
 * whichever cut (the excerpt of a body, the error text, the message) it
 * straddles. */
START_TEST(echoed_key_never_leaks)
{
    ck_assert_int_eq(start_fmp("retries: 0"), 0);
    static const char *const t[] = {"AAPL"};
    capalloc_quote q[1];
    capalloc_err err;
    const char *modes[] = {"echo404", "echo400"};
    for (int m = 0; m < 2; m++)
        for (int pad = 0; pad <= 1100; pad += 3) {
            char c[128];
            snprintf(c, sizeof c, "{\"reset\": true, \"fail\": \"%s\", "
                     "\"echo_pad\": %d}", modes[m], pad);
            control(c);
            /* price() asserts that no prefix of the key is in err.msg or
             * the log */
            ck_assert_int_eq(price(t, 1, q, &err), CAPALLOC_ERR_IO);
            ck_assert_has(err.msg, m ? "HTTP 400" : "HTTP 404");
            if (pad < 100)
                ck_assert_has(err.msg, "apikey=***");
        }
    stop_fmp();
}
END_TEST

/* A "price" jansson and the number's text would read differently: an error
 * naming the ticker, never one of the two readings. */
START_TEST(ambiguous_price_is_an_error)
{
    ck_assert_int_eq(start_fmp("retries: 0"), 0);
    static const char *const t[] = {"AAPL", "ODD"};
    capalloc_quote q[2];
    capalloc_err err;
    const char *raws[] = {
        /* a duplicate key, spelled with an escape */
        "{\\\"symbol\\\":\\\"ODD\\\",\\\"price\\\":1.5,\\\"pric\\\\u0065\\\":7}",
        /* only the escaped spelling */
        "{\\\"symbol\\\":\\\"ODD\\\",\\\"pric\\\\u0065\\\":7}",
        "{\\\"symbol\\\":\\\"ODD\\\",\\\"\\\\u0070rice\\\":7}",
    };
    for (int i = 0; i < 3; i++) {
        char c[512];
        snprintf(c, sizeof c, "{\"reset\": true, \"raw\": {\"ODD\": \"%s\"}}", raws[i]);
        control(c);
        ck_assert_int_eq(price(t, 2, q, &err), CAPALLOC_ERR_IO);
        if (i == 0)
            ck_assert_has(err.msg, "duplicate");
        else
            ck_assert_has(err.msg, "price of ODD cannot be read unambiguously");
    }
    /* the same symbol twice in one answer: two prices are an error naming
     * it; the same price twice is that price */
    control("{\"reset\": true, \"raw\": {\"ODD\": "
            "\"{\\\"symbol\\\":\\\"ODD\\\",\\\"price\\\":1.5},"
            "{\\\"symbol\\\":\\\"ODD\\\",\\\"price\\\":2}\"}}");
    ck_assert_int_eq(price(t, 2, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "two different prices for ODD in one answer (1.5 and 2)");
    control("{\"reset\": true, \"raw\": {\"ODD\": "
            "\"{\\\"symbol\\\":\\\"ODD\\\",\\\"price\\\":1.5},"
            "{\\\"symbol\\\":\\\"ODD\\\",\\\"price\\\":1.50}\"}}");
    ck_assert_int_eq(price(t, 2, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[1].price.micros, micros("1.5"));
    /* the plain spelling is read as always */
    control("{\"reset\": true, \"raw\": {\"ODD\": "
            "\"{\\\"symbol\\\":\\\"ODD\\\",\\\"price\\\":7.25}\"}}");
    ck_assert_int_eq(price(t, 2, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[1].price.micros, micros("7.25"));
    stop_fmp();
}
END_TEST

START_TEST(wrong_key_fails_at_once)
{
    setenv(KEY_ENV, "wrong-key-value", 1);
    ck_assert_int_eq(start_fmp("retries: 3, batch_size: 1, concurrency: 1"), 0);
    control("{\"reset\": true}");
    static const char *const t[] = {"AAPL", "MSFT", "INT"};
    capalloc_quote q[3];
    capalloc_err err;
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_ERR_IO);
    ck_assert_has(err.msg, "HTTP 401");
    ck_assert_has(err.msg, "Invalid API KEY");
    ck_assert_has(err.msg, "export " KEY_ENV "=");
    ck_assert_msg(strstr(err.msg, "wrong-key-value") == NULL, "%s", err.msg);
    ck_assert_msg(strstr(logbuf, "wrong-key-value") == NULL, "%s", logbuf);
    /* the first 401 stops the run: no retry, no next batch */
    ck_assert_int_eq(stat_int("requests"), 1);
    stop_fmp();
}
END_TEST

START_TEST(key_from_environment_only)
{
    /* unset: create() refuses, naming the variable (a config error) */
    unsetenv(KEY_ENV);
    ck_assert_int_ne(start_fmp("%s", ""), 0);
    ck_assert_has(logbuf, "api_key_env");
    ck_assert_has(logbuf, "environment variable " KEY_ENV " is not set");
    setenv(KEY_ENV, "", 1);
    ck_assert_int_ne(start_fmp("%s", ""), 0);
    ck_assert_has(logbuf, "not set or empty");
    /* a key written in the config is refused, and told where it goes;
     * the value is not repeated */
    setenv(KEY_ENV, KEY, 1);
    ck_assert_int_ne(start_fmp("api_key: s3cr3t-in-yaml"), 0);
    ck_assert_has(logbuf, "prices.options.api_key");
    ck_assert_has(logbuf, "environment variable");
    ck_assert_has(logbuf, "'api_key_env' (default FMP_API_KEY)");
    ck_assert_msg(strstr(logbuf, "s3cr3t-in-yaml") == NULL, "%s", logbuf);
    /* bad options name their key */
    ck_assert_int_ne(start_fmp("mode: bulk"), 0);
    ck_assert_has(logbuf, "prices.options.mode");
    ck_assert_int_ne(start_fmp("concurrency: 0"), 0);
    ck_assert_has(logbuf, "prices.options.concurrency");
    ck_assert_int_ne(start_fmp("last_known_max_age: 60"), 0);
    ck_assert_has(logbuf, "needs last_known_path");
}
END_TEST

/* ---- the key in transit: plain http only to loopback, never a proxy ---- */

static void unset_proxies(void)
{
    static const char *const v[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                    "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                    "no_proxy", "NO_PROXY"};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        unsetenv(v[i]);
}

START_TEST(plain_http_only_to_loopback)
{
    unset_proxies();
    /* not loopback: refused at create, a config error at base_url */
    static const char *const far[] = {
        "http://192.0.2.10:8080", "http://example.com", "http://128.0.0.1",
        "http://127.0.0.1.example.com", "http://[::2]:80", "http://localhost.example.com"};
    for (size_t i = 0; i < sizeof far / sizeof *far; i++) {
        ck_assert_int_eq(start_fmp_at(far[i], ""), CAP_EXIT_CONFIG);
        ck_assert_has(logbuf, "prices.options.base_url");
        ck_assert_has(logbuf, "is plain http to a host that is not loopback");
        ck_assert_has(logbuf, "allow_insecure_http: true");
    }
    /* ... unless allowed explicitly (create() connects to nothing) */
    ck_assert_int_eq(start_fmp_at("http://192.0.2.10:8080",
                                  "allow_insecure_http: true"), 0);
    stop_fmp();
    /* ... and even then not when a proxy would get the key in clear */
    static const char *const proxies[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++) {
        setenv(proxies[i], "http://127.0.0.1:9", 1);
        ck_assert_int_eq(start_fmp_at("http://192.0.2.10:8080",
                                      "allow_insecure_http: true"),
                         CAP_EXIT_CONFIG);
        ck_assert_has(logbuf, "prices.options.base_url");
        ck_assert_has(logbuf, "through the proxy in clear text");
        ck_assert_has(logbuf, proxies[i]);
        /* https through the same proxy is a tunnel: fine */
        ck_assert_int_eq(start_fmp_at("https://192.0.2.10", ""), 0);
        stop_fmp();
        unsetenv(proxies[i]);
    }
    /* loopback hosts need no option */
    static const char *const near[] = {
        "http://localhost:1", "http://LOCALHOST", "http://127.8.9.10:1/x/",
        "http://[::1]:1"};
    for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
        ck_assert_msg(start_fmp_at(near[i], "") == 0, "%s: %s", near[i], logbuf);
        stop_fmp();
    }
    /* a host hidden behind a user name, fragment or backslash */
    static const char *const tricks[] = {
        "http://127.0.0.1@example.com", "http://example.com#@127.0.0.1",
        "http://127.0.0.1\\\\@example.com", "https://user@example.com"};
    for (size_t i = 0; i < sizeof tricks / sizeof *tricks; i++) {
        ck_assert_int_eq(start_fmp_at(tricks[i], "allow_insecure_http: true"),
                         CAP_EXIT_CONFIG);
        ck_assert_has(logbuf, "prices.options.base_url");
        ck_assert_has(logbuf, "without a query, fragment or user name");
    }
}
END_TEST

/* A listening socket on loopback that never accepts: the "proxy". */
static int proxy_listener(int *proxy_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *proxy_port = ntohs(a.sin_port);
    return fd;
}

/* 1 when a connection waits on the listener (accepted and closed). A
 * completed connect() is in the accept queue before the client's call
 * returns: no waiting is needed to see it. */
static int proxy_was_contacted(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 1)
        return 0;
    int c = accept(fd, NULL, NULL);
    if (c >= 0)
        close(c);
    return 1;
}

START_TEST(plain_http_never_through_a_proxy)
{
    unset_proxies();
    control("{\"reset\": true}"); /* (the test's own client: no proxy yet) */
    int pport, lfd = proxy_listener(&pport);
    char proxy[64], url[128];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", pport);
    setenv("http_proxy", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);

    /* The control: plain libcurl does take this proxy for a loopback
     * http:// URL (so the check below can fail). CONNECT_ONLY: curl
     * connects to the proxy and sends nothing. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    ck_assert_msg(proxy_was_contacted(lfd),
                  "control: libcurl did not use http_proxy");
    ck_assert_int_eq(proxy_was_contacted(lfd), 0);

    /* The plugin: the prices come straight from the fake server, and the
     * proxy saw no connection at all (so not the key either). */
    ck_assert_int_eq(start_fmp("timeout_ms: 5000, retries: 0"), 0);
    static const char *const t[] = {"AAPL", "MSFT"};
    capalloc_quote q[2];
    capalloc_err err;
    ck_assert_msg(price(t, 2, q, &err) == CAPALLOC_OK, "%s", err.msg);
    ck_assert_int_eq(q[0].found, 1);
    ck_assert_int_eq(q[0].price.micros, micros("268.47"));
    ck_assert_int_eq(q[1].price.micros, micros("497.1"));
    ck_assert_msg(!proxy_was_contacted(lfd),
                  "the plugin connected to the proxy with a plain http URL");
    stop_fmp();
    unset_proxies();
    close(lfd);
    ck_assert_int_eq(stat_int("requests"), 1); /* the server saw it */
}
END_TEST

START_TEST(last_known_prices)
{
    ck_assert_int_eq(start_fmp("last_known_path: known.tsv, last_known_max_age: 3600"), 0);
    static const char *const t[] = {"AAPL", "MSFT", "NOPE"};
    capalloc_quote q[3];
    capalloc_err err;
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
    ck_assert_uint_eq(q[0].flags, 0);
    ck_assert_int_eq(q[2].found, 0); /* never priced: nothing to fall back on */
    /* FMP leaves AAPL out: its remembered price, flagged stale */
    control("{\"omit\": [\"AAPL\"]}");
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 1);
    ck_assert_int_eq(q[0].price.micros, micros("268.47"));
    ck_assert_uint_eq(q[0].flags, CAPALLOC_QUOTE_STALE);
    ck_assert_int_eq(q[0].as_of, 1762549202);
    ck_assert_uint_eq(q[1].flags, 0);
    ck_assert_int_eq(q[2].found, 0);
    ck_assert_has(logbuf, "no price for AAPL: using its last known price");
    /* a zero or negative price from FMP is no price: the remembered one
     * stands in, and the file keeps it */
    const char *bad[] = {"0", "-3.25", "0.0"};
    for (int i = 0; i < 3; i++) {
        char c[128], known[4096];
        snprintf(c, sizeof c, "{\"omit\": [], \"override\": {\"AAPL\": \"%s\"}}",
                 bad[i]);
        control(c);
        ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
        ck_assert_int_eq(q[0].found, 1);
        ck_assert_int_eq(q[0].price.micros, micros("268.47"));
        ck_assert_uint_eq(q[0].flags, CAPALLOC_QUOTE_STALE);
        ck_assert_has(logbuf, "FMP gave AAPL a price of");
        char kp[PATH_MAX];
        tu_path(kp, sizeof kp, "known.tsv");
        tu_slurp(kp, known, sizeof known);
        ck_assert_has(known, "AAPL\t268.47\t");
    }
    control("{\"override\": {}, \"omit\": [\"AAPL\"]}");
    stop_fmp();
    /* too old: fetched two hours ago, max age one hour */
    tu_write_file("known.tsv", "AAPL\t268.47\t1762549202\t%lld\n",
               (long long)time(NULL) - 7200);
    ck_assert_int_eq(start_fmp("last_known_path: known.tsv, last_known_max_age: 3600"), 0);
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 0);
    stop_fmp();
    /* a corrupt file: fetched times that are not in (0, now] are never
     * used (INT64_MIN once made now - fetched overflow and pass) */
    const char *corrupt[] = {"-9223372036854775808", "-9223372036854775807",
                             "0", "-1", "9223372036854775807"};
    for (int i = 0; i < 5; i++) {
        tu_write_file("known.tsv", "AAPL\t268.47\t1762549202\t%s\n", corrupt[i]);
        ck_assert_int_eq(start_fmp("last_known_path: known.tsv, "
                                   "last_known_max_age: 3600"), 0);
        ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
        ck_assert_msg(q[0].found == 0, "fetched %s was used", corrupt[i]);
        stop_fmp();
    }
    /* off by default: the file is kept up to date but never used */
    ck_assert_int_eq(start_fmp("last_known_path: known.tsv"), 0);
    control("{\"omit\": []}");
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
    control("{\"omit\": [\"AAPL\"]}");
    ck_assert_int_eq(price(t, 3, q, &err), CAPALLOC_OK);
    ck_assert_int_eq(q[0].found, 0);
    stop_fmp();
}
END_TEST

/* ------------------------------------------------------------------------ */
/* the binary: whole allocations                                             */
/* ------------------------------------------------------------------------ */

static char out[65536], errb[65536];

static int run_capalloc(const char *const *args)
{
    int rc = tu_run(args, out, sizeof out, errb, sizeof errb);
    /* whatever happened, the key is in nothing it printed */
    ck_assert_no_key(out);
    ck_assert_no_key(errb);
    for (size_t i = 0; args[i]; i++)
        ck_assert_no_key(args[i]);
    return rc;
}

#define RUN(...) \
    run_capalloc((const char *const[]){CAPALLOC_BIN, __VA_ARGS__, NULL})
#define EXPECT_EXIT(call, code)                                              \
    do {                                                                     \
        int rc_ = (call);                                                    \
        ck_assert_msg(rc_ == (code), "%s: exit %d, want %d; stderr:\n%s",     \
                      #call, rc_, (code), errb);                             \
    } while (0)

/* The ledger's rows (timestamps left out when !with_times). */
static char *ledger(const char *dbname, int with_times)
{
    char path[PATH_MAX];
    tu_path(path, sizeof path, dbname);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    const char *plain[] = {
        "SELECT portfolio_id, currency, cash FROM cash_equity_book ORDER BY 1",
        "SELECT portfolio_id, ticker, quantity FROM positions_book ORDER BY 1, 2",
        "SELECT t.log_id, r.action, r.run_date, t.portfolio_id, t.ticker, t.side, "
        "t.quantity, t.arrival_price, t.exec_price FROM trade_execution_logs t "
        "JOIN capalloc_runs r USING (run_id) ORDER BY t.log_id"};
    const char *timed[] = {
        "SELECT * FROM cash_equity_book ORDER BY 1",
        "SELECT * FROM positions_book ORDER BY 1, 2",
        "SELECT * FROM trade_execution_logs ORDER BY log_id",
        "SELECT * FROM capalloc_runs ORDER BY run_id"};
    const char **sqls = with_times ? timed : plain;
    int nsql = with_times ? 4 : 3;
    size_t cap = 1 << 20, used = 0;
    char *all = malloc(cap);
    ck_assert_ptr_nonnull(all);
    all[0] = '\0';
    for (int i = 0; i < nsql; i++) {
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *v = (const char *)sqlite3_column_text(st, c);
                used += (size_t)snprintf(all + used, cap - used, "%s%s",
                                         c ? "|" : "", v ? v : "NULL");
            }
            used += (size_t)snprintf(all + used, cap - used, "\n");
        }
        sqlite3_finalize(st);
        used += (size_t)snprintf(all + used, cap - used, "--\n");
    }
    sqlite3_close(db);
    return all;
}

static void write_fund(const char *name, const char *db, const char *prices_yaml)
{
    tu_write_file(name,
               "master_portfolio_id: \"0\"\ncurrency: USD\n"
               "storage: {plugin: sqlite, options: {path: ./%s}}\n"
               "prices: %s\n"
               "policy: {plugin: fixed_weight, options: {weights: "
               "{\"1\": 0.30, \"2\": 0.30, \"3\": 0.40}}}\n",
               db, prices_yaml);
}

static const char POSITIONS[] =
    "portfolio_id,ticker,quantity\n"
    "1,AAPL,10\n1,MSFT,3.5\n2,BRK-B,7\n2,TINY2,1000\n3,BIG,0.001\n3,AAPL,1\n";

START_TEST(same_ledger_as_file_prices)
{
    char fmp_yaml[512];
    snprintf(fmp_yaml, sizeof fmp_yaml,
             "{plugin: fmp, options: {base_url: \"http://127.0.0.1:%d\", "
             "api_key_env: " KEY_ENV ", batch_size: 2, backoff_ms: 1}}", port);
    write_fund("fmp.yaml", "fmp.db", fmp_yaml);
    snprintf(fmp_yaml, sizeof fmp_yaml,
             "{plugin: fmp, options: {base_url: \"http://127.0.0.1:%d\", "
             "api_key_env: " KEY_ENV ", mode: single, concurrency: 2, backoff_ms: 1}}",
             port);
    write_fund("single.yaml", "single.db", fmp_yaml);
    write_fund("file.yaml", "file.db", "{plugin: file, options: {path: ./file_prices.csv}}");
    /* the same prices, as the file source reads them (TINY2 rounded as
     * fmp documents it: 0.0000135 -> 0.000014) */
    tu_write_file("file_prices.csv", "AAPL,268.47\nMSFT,497.1\nBRK-B,489.305\n"
                                  "TINY2,0.000014\nBIG,123456789.123456\n");
    tu_write_file("pos.csv", "%s", POSITIONS);
    const char *cfgs[] = {"fmp.yaml", "single.yaml", "file.yaml"};
    for (int i = 0; i < 3; i++) {
        EXPECT_EXIT(RUN("--config", cfgs[i], "positions", "import", "pos.csv"), 0);
        EXPECT_EXIT(RUN("--config", cfgs[i], "capital", "add", "250000"), 0);
        EXPECT_EXIT(RUN("--config", cfgs[i], "allocate", "--date", "2026-11-20", "--allow-past-date"), 0);
        EXPECT_EXIT(RUN("--config", cfgs[i], "capital", "add", "1234.56"), 0);
        EXPECT_EXIT(RUN("--config", cfgs[i], "allocate", "--date", "2026-11-21", "--allow-past-date"), 0);
    }
    control("{\"reset\": true}");
    EXPECT_EXIT(RUN("--config", "fmp.yaml", "--json", "status"), 0);
    ck_assert_has(out, "\"stale_prices\":[]");
    /* 5 distinct tickers, batches of 2: 3 requests */
    ck_assert_int_eq(stat_int("requests"), 3);
    char *a = ledger("fmp.db", 0), *b = ledger("file.db", 0);
    char *c = ledger("single.db", 0);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(c, b);
    free(c);
    /* and it did move money */
    ck_assert_has(a, "ALLOCATE|2026-11-21|");
    free(a);
    free(b);
    /* each ledger replays and chains */
    EXPECT_EXIT(RUN("--config", "fmp.yaml", "verify"), 0);
    EXPECT_EXIT(RUN("--config", "single.yaml", "verify"), 0);
    EXPECT_EXIT(RUN("--config", "file.yaml", "verify"), 0);
}
END_TEST

START_TEST(faults_change_nothing)
{
    char fmp_yaml[512];
    snprintf(fmp_yaml, sizeof fmp_yaml,
             "{plugin: fmp, options: {base_url: \"http://127.0.0.1:%d\", "
             "api_key_env: " KEY_ENV ", batch_size: 2, retries: 1, "
             "backoff_ms: 1, timeout_ms: 300}}", port);
    write_fund("fund.yaml", "fund.db", fmp_yaml);
    tu_write_file("pos.csv", "%s", POSITIONS);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100000"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-11-02", "--allow-past-date"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "500"), 0);
    char *before = ledger("fund.db", 1);
    struct {
        const char *control;
        const char *key_value; /* FMP_TEST_KEY for the run */
        const char *needle;
    } t[] = {
        {"{\"reset\": true, \"omit\": [\"BRK-B\"]}", KEY,
         "no price for 1 held ticker from price source 'fmp': BRK-B held by portfolio '2'"},
        {"{\"reset\": true, \"fail\": \"500\", \"fail_count\": 100}", KEY, "HTTP 500"},
        {"{\"reset\": true, \"fail\": \"429\", \"fail_count\": 100}", KEY, "HTTP 429"},
        {"{\"reset\": true, \"fail\": \"hang\", \"hang_ms\": 3000}", KEY, "imed out"},
        {"{\"reset\": true, \"fail\": \"notjson\"}", KEY, "not JSON"},
        {"{\"reset\": true, \"fail\": \"error200\"}", KEY, "refused the API key"},
        {"{\"reset\": true, \"refuse_batch\": true, \"refuse_symbols\": [\"BIG\"]}",
         KEY, "refuses quotes for 1 symbol (HTTP 402): BIG"},
        {"{\"reset\": true}", KEY "-but-wrong", "HTTP 401"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        control(t[i].control);
        setenv(KEY_ENV, t[i].key_value, 1);
        int rc = RUN("-v", "-v", "--config", "fund.yaml", "allocate", "--date",
                     "2026-11-03", "--allow-past-date");
        setenv(KEY_ENV, KEY, 1);
        ck_assert_msg(rc == 5, "case %zu: exit %d, want 5: %s", i, rc, errb);
        ck_assert_msg(strstr(errb, t[i].needle) != NULL, "case %zu: '%s' not in %s",
                      i, t[i].needle, errb);
        ck_assert_msg(strstr(errb, "nothing was written") != NULL, "case %zu: %s", i, errb);
        /* -v -v logged the requests, redacted */
        ck_assert_msg(strstr(errb, "apikey=***") != NULL, "case %zu: %s", i, errb);
        char *after = ledger("fund.db", 1);
        ck_assert_msg(strcmp(before, after) == 0, "case %zu changed the ledger", i);
        free(after);
    }
    free(before);
    /* and the same fund runs once FMP answers */
    control("{\"reset\": true}");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-11-03", "--allow-past-date"), 0);
    ck_assert_has(out, "transfers committed");
    /* after every fault and the run that followed, the ledger replays
     * and chains */
    EXPECT_EXIT(RUN("--config", "fund.yaml", "verify"), 0);
}
END_TEST

/* Moving capital or importing positions never needs the price feed or its
 * key; the commands that value the fund refuse without the key (exit 3,
 * naming the variable), before the ledger is touched. */
START_TEST(key_needed_only_to_value)
{
    char fmp_yaml[512];
    snprintf(fmp_yaml, sizeof fmp_yaml,
             "{plugin: fmp, options: {base_url: \"http://127.0.0.1:%d\", "
             "api_key_env: " KEY_ENV ", backoff_ms: 1}}", port);
    write_fund("fund.yaml", "fund.db", fmp_yaml);
    tu_write_file("pos.csv", "%s", POSITIONS);
    unsetenv(KEY_ENV);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "1000"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    char *before = ledger("fund.db", 1);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-11-05", "--allow-past-date"), 3);
    ck_assert_has(errb, KEY_ENV);
    ck_assert_has(errb, "fund.yaml:4");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "status"), 3);
    char *after = ledger("fund.db", 1);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    ck_assert_int_eq(stat_int("requests"), 0);
    setenv(KEY_ENV, KEY, 1);
}
END_TEST

START_TEST(stale_prices_named_in_output)
{
    char fmp_yaml[512];
    snprintf(fmp_yaml, sizeof fmp_yaml,
             "{plugin: fmp, options: {base_url: \"http://127.0.0.1:%d\", "
             "api_key_env: " KEY_ENV ", backoff_ms: 1, last_known_path: ./known.tsv, "
             "last_known_max_age: 86400}}", port);
    write_fund("fund.yaml", "fund.db", fmp_yaml);
    tu_write_file("pos.csv", "%s", POSITIONS);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "positions", "import", "pos.csv"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "capital", "add", "100000"), 0);
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-11-02", "--allow-past-date"), 0);
    ck_assert_msg(strstr(out, "stale price") == NULL, "%s", out);
    control("{\"reset\": true, \"omit\": [\"MSFT\"]}");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "allocate", "--date", "2026-11-03", "--allow-past-date"), 0);
    ck_assert_has(out, "stale price: MSFT valued at its last known price 497.1");
    EXPECT_EXIT(RUN("--config", "fund.yaml", "--json", "status"), 0);
    ck_assert_has(out, "\"stale_prices\":[\"MSFT\"]");
    ck_assert_has(out, "{\"ticker\":\"MSFT\",\"price\":\"497.1\",\"as_of\":1762549202,\"stale\":true}");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fmp");
    TCase *tp = tcase_create("plugin");
    tcase_add_checked_fixture(tp, setup, teardown);
    tcase_set_timeout(tp, 120);
    tcase_add_test(tp, batch_prices_exact);
    tcase_add_test(tp, single_mode_concurrency_and_reuse);
    tcase_add_test(tp, legacy_mode);
    tcase_add_test(tp, batch_refused_falls_back_per_symbol);
    tcase_add_test(tp, rate_limit_retried);
    tcase_add_test(tp, limit_reach_on_200_retried);
    tcase_add_test(tp, server_error_retried_then_fails);
    tcase_add_test(tp, long_batch_keeps_the_reason);
    tcase_add_test(tp, garbled_answer_retried);
    tcase_add_test(tp, timeout_retried_then_fails);
    tcase_add_test(tp, connection_refused_fails);
    tcase_add_test(tp, bodies_that_are_not_quotes);
    tcase_add_test(tp, echoed_key_never_leaks);
    tcase_add_test(tp, ambiguous_price_is_an_error);
    tcase_add_test(tp, wrong_key_fails_at_once);
    tcase_add_test(tp, key_from_environment_only);
    tcase_add_test(tp, last_known_prices);
    tcase_add_test(tp, plain_http_only_to_loopback);
    tcase_add_test(tp, plain_http_never_through_a_proxy);
    suite_add_tcase(s, tp);
    TCase *tb = tcase_create("binary");
    tcase_add_checked_fixture(tb, setup, teardown);
    tcase_set_timeout(tb, 300);
    tcase_add_test(tb, same_ledger_as_file_prices);
    tcase_add_test(tb, faults_change_nothing);
    tcase_add_test(tb, key_needed_only_to_value);
    tcase_add_test(tb, stale_prices_named_in_output);
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
