/*
 * fmp.c - "fmp", a price source on Financial Modeling Prep's quote API
 * (libcurl + jansson).
 *
 *   export FMP_API_KEY=...        # the key is never written in the YAML
 *   prices:
 *     plugin: fmp
 *     options: {mode: batch, batch_size: 100, concurrency: 4}
 *
 * Options (all optional):
 *   base_url            https://financialmodelingprep.com
 *   mode                batch (/stable/batch-quote?symbols=A,B), single
 *                       (/stable/quote?symbol=A, one request per symbol) or
 *                       legacy (/api/v3/quote/A,B: keys from before
 *                       2025-09 only)
 *   batch_size          symbols per batch request (default 100)
 *   concurrency         requests in flight at once (default 4)
 *   connect_timeout_ms  5000; timeout_ms (whole request) 30000
 *   retries             extra attempts after a 429, 5xx, timeout, garbled
 *                       answer (incl. HTTP/2 transport errors) or
 *                       connection error (default 3)
 *   backoff_ms          the first retry's delay, doubled each time, plus up
 *                       to 50% random jitter (default 500)
 *   api_key_env         the NAME of the environment variable holding the key
 *                       (default FMP_API_KEY). There is no api_key option: a
 *                       key in a config file ends up in backups and version
 *                       control. An unset or empty variable fails create()
 *                       with CAPALLOC_ERR_INVALID naming the variable.
 *   last_known_path     a file where every fetched price is remembered
 *   last_known_max_age  seconds (default 0: off). When FMP answers but
 *                       leaves a ticker out, and last_known_path has a price
 *                       for it fetched less than this many seconds ago, that
 *                       price is used, flagged CAPALLOC_QUOTE_STALE (the
 *                       run's output lists such tickers). Only for a ticker
 *                       FMP left out: a feed that fails (errors, 402, bad
 *                       key) still fails the run.
 *   allow_insecure_http false: allow an http:// base_url to a host that is
 *                       not loopback (see "The key in transit" below)
 *
 * The key is never shown: URLs in logs and messages read apikey=***, and
 * every message the plugin produces is scrubbed of the key's text.
 *
 * The key in transit. FMP takes the key in the URL's query, so whoever
 * sees the request sees the key. The rule:
 *   - https:// base_url: always allowed. Through a proxy from the
 *     environment (https_proxy, ALL_PROXY) the request goes in a CONNECT
 *     tunnel: the proxy sees the host name, never the URL.
 *   - http:// base_url to a loopback host (127.0.0.0/8, localhost, [::1]):
 *     allowed (tests, a local relay); the request never leaves the machine.
 *   - http:// base_url to any other host: refused at create()
 *     (CAPALLOC_ERR_INVALID at base_url: exit 3) unless the option
 *     allow_insecure_http is true, which says the key may cross that
 *     network in clear text. Even then it is refused when the environment
 *     names a proxy curl would use for it (http_proxy, all_proxy,
 *     ALL_PROXY): the key would be handed to the proxy in clear text.
 *   - Whatever the host, an http:// request never uses a proxy
 *     (CURLOPT_NOPROXY "*"): a proxy variable set after create(), or one
 *     set for loopback, is ignored rather than given the key.
 * A base_url with a user name ('@'), a query ('?'), a fragment ('#') or a
 * backslash is refused: the host must be the one it appears to be. The
 * host is read with curl's own URL parser.
 *
 * Prices are exact: see fmp_json.c (the number's own text, never a double;
 * more than 6 decimals are rounded half-even on the digits).
 *
 * The last-known file: one line per ticker, tab-separated
 * "ticker price as_of fetched_at" (Unix seconds), rewritten atomically
 * (temporary file + rename) after each successful fetch.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fmp_int.h"

#define FMP_VERSION "1.0.0"

static const capalloc_option_spec fmp_options[] = {
    {"base_url", CAPALLOC_OPT_STRING, 0, "https://financialmodelingprep.com",
     "FMP's address (tests point it at a local server)"},
    {"mode", CAPALLOC_OPT_STRING, 0, "batch", "batch, single or legacy"},
    {"batch_size", CAPALLOC_OPT_INT, 0, "100", "symbols per batch request"},
    {"concurrency", CAPALLOC_OPT_INT, 0, "4", "requests in flight at once"},
    {"connect_timeout_ms", CAPALLOC_OPT_INT, 0, "5000", "connect timeout"},
    {"timeout_ms", CAPALLOC_OPT_INT, 0, "30000", "whole-request timeout"},
    {"retries", CAPALLOC_OPT_INT, 0, "3",
     "extra attempts on 429, 5xx, timeouts and connection errors"},
    {"backoff_ms", CAPALLOC_OPT_INT, 0, "500",
     "first retry delay (doubles each retry, plus jitter)"},
    {"api_key_env", CAPALLOC_OPT_STRING, 0, "FMP_API_KEY",
     "name of the environment variable holding the API key"},
    {"last_known_path", CAPALLOC_OPT_PATH, 0, NULL,
     "file remembering the last fetched price of each ticker"},
    {"last_known_max_age", CAPALLOC_OPT_INT, 0, "0",
     "seconds a remembered price may stand in for a missing one (0: off)"},
    {"allow_insecure_http", CAPALLOC_OPT_BOOL, 0, "false",
     "allow an http:// base_url that is not loopback: the API key then "
     "crosses the network in clear text"},
    {NULL, 0, 0, NULL, NULL}};

/* ------------------------------------------------------------------------ */
/* never showing the key                                                     */
/* ------------------------------------------------------------------------ */

/* A growing string (NULL after an allocation failure). */
typedef struct scrub_buf {
    char *p;
    size_t len, cap;
} scrub_buf;

static void sc_add(scrub_buf *b, const char *s, size_t n)
{
    if (b->p == NULL)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static int starts_with(const char *p, const char *end, const char *w, int icase)
{
    size_t n = strlen(w);
    if (n == 0 || (size_t)(end - p) < n)
        return 0;
    return icase ? strncasecmp(p, w, n) == 0 : memcmp(p, w, n) == 0;
}

static int value_end(char c)
{
    return c == '&' || c == '"' || c == '\'' || c == ' ' || c == '\t' ||
           c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *fmp_scrub(const fmp_state *s, const char *src, size_t len)
{
    scrub_buf b = {malloc(len + 16), 0, len + 16};
    if (b.p == NULL)
        return NULL;
    b.p[0] = '\0';
    const char *p = src, *end = src + len;
    const char *key = s ? s->key : NULL, *kesc = s ? s->key_esc : NULL;
    while (p < end && b.p != NULL) {
        if (starts_with(p, end, "apikey=", 1)) {
            /* whatever the server says the key was: apikey=[^&\s"']* */
            sc_add(&b, p, 7);
            sc_add(&b, "***", 3);
            p += 7;
            while (p < end && !value_end(*p))
                p++;
        } else if (key != NULL && starts_with(p, end, key, 0)) {
            sc_add(&b, "***", 3);
            p += strlen(key);
        } else if (kesc != NULL && starts_with(p, end, kesc, 0)) {
            sc_add(&b, "***", 3);
            p += strlen(kesc);
        } else {
            sc_add(&b, p, 1);
            p++;
        }
    }
    return b.p;
}

/* The whole text of fmt (malloc'd), scrubbed of the key; NULL: no memory. */
static char *scrubbed(const fmp_state *s, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    char *full = malloc((size_t)n + 1);
    if (full == NULL)
        return NULL;
    vsnprintf(full, (size_t)n + 1, fmt, ap);
    char *clean = fmp_scrub(s, full, (size_t)n);
    memset(full, 0, (size_t)n);
    free(full);
    return clean;
}

/* The text is built whole and scrubbed first; only then may the host cut
 * it: a key straddling a cut would leave its prefix behind. */
void fmp_verror(const fmp_state *s, capalloc_err *err, const char *key,
                const char *fmt, va_list ap)
{
    char *clean = scrubbed(s, fmt, ap);
    s->host->set_error(err, key, "%s",
                       clean ? clean : "out of memory (an FMP error message)");
    free(clean);
}

void fmp_error(const fmp_state *s, capalloc_err *err, const char *key,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fmp_verror(s, err, key, fmt, ap);
    va_end(ap);
}

void fmp_log(const fmp_state *s, capalloc_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *clean = scrubbed(s, fmt, ap);
    va_end(ap);
    s->host->log(s->host, level, "%s",
                 clean ? clean : "out of memory (an FMP log line)");
    free(clean);
}

/* ------------------------------------------------------------------------ */
/* last-known prices                                                         */
/* ------------------------------------------------------------------------ */

typedef struct known {
    char *ticker;
    capalloc_dec price;
    int64_t as_of;
    int64_t fetched;
} known;

static int cmp_known(const void *a, const void *b)
{
    return strcmp(((const known *)a)->ticker, ((const known *)b)->ticker);
}

static void known_free(known *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i].ticker);
    free(k);
}

/* Read the file (a missing file is an empty one). Lines that do not parse
 * are skipped with a warning: the file is a cache, not a source of truth. */
static capalloc_status known_read(fmp_state *s, known **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(s->cache_path, "r");
    if (f == NULL)
        return errno == ENOENT ? CAPALLOC_OK : CAPALLOC_ERR_IO;
    char line[512];
    size_t cap = 0, lineno = 0;
    known *k = NULL;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        char t[256], p[64];
        long long a, fe;
        capalloc_dec d;
        if (sscanf(line, "%255[^\t]\t%63[^\t]\t%lld\t%lld", t, p, &a, &fe) != 4 ||
            s->host->dec_parse(p, &d) != CAPALLOC_OK) {
            fmp_log(s, CAPALLOC_LOG_WARNING, "%s:%zu: not a last-known price, "
                    "ignored", s->cache_path, lineno);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            known *nk = realloc(k, cap * sizeof *nk);
            if (nk == NULL) {
                fclose(f);
                known_free(k, *n);
                return CAPALLOC_ERR_NOMEM;
            }
            k = nk;
        }
        if ((k[*n].ticker = strdup(t)) == NULL) {
            fclose(f);
            known_free(k, *n);
            return CAPALLOC_ERR_NOMEM;
        }
        k[*n].price = d;
        k[*n].as_of = a;
        k[*n].fetched = fe;
        (*n)++;
    }
    fclose(f);
    if (*n > 1)
        qsort(k, *n, sizeof *k, cmp_known);
    *out = k;
    return CAPALLOC_OK;
}

static known *known_find(known *k, size_t n, const char *t)
{
    known key = {(char *)t, {0}, 0, 0};
    return n ? bsearch(&key, k, n, sizeof *k, cmp_known) : NULL;
}

/* Merge the fresh quotes into the file. A failure to write is a warning:
 * the run itself was priced. */
static void known_update(fmp_state *s, const char *const *tickers, size_t n,
                         const capalloc_quote *q)
{
    known *k = NULL;
    size_t nk = 0;
    if (known_read(s, &k, &nk) != CAPALLOC_OK) {
        fmp_log(s, CAPALLOC_LOG_WARNING, "cannot read %s: %s", s->cache_path,
                strerror(errno));
        return;
    }
    int64_t now = (int64_t)time(NULL);
    size_t nn = nk;
    known *all = realloc(k, (nk + n + 1) * sizeof *all);
    if (all == NULL) {
        known_free(k, nk);
        return;
    }
    k = all;
    for (size_t i = 0; i < n; i++) {
        if (!q[i].found || (q[i].flags & CAPALLOC_QUOTE_STALE) ||
            q[i].price.micros <= 0)
            continue; /* only usable, fresh prices are remembered */
        known *hit = known_find(k, nk, tickers[i]);
        if (hit == NULL) {
            char *t = strdup(tickers[i]);
            if (t == NULL)
                continue;
            hit = &k[nn++];
            hit->ticker = t;
        }
        hit->price = q[i].price;
        hit->as_of = q[i].as_of;
        hit->fetched = now;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", s->cache_path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    for (size_t i = 0; ok && i < nn; i++) {
        char p[CAPALLOC_DEC_MAX_TEXT];
        ok = fprintf(f, "%s\t%s\t%lld\t%lld\n", k[i].ticker,
                     s->host->dec_format(k[i].price, 0, p, sizeof p),
                     (long long)k[i].as_of, (long long)k[i].fetched) > 0;
    }
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, s->cache_path) != 0) {
        fmp_log(s, CAPALLOC_LOG_WARNING, "cannot write %s: %s", s->cache_path,
                strerror(errno));
        unlink(tmp);
    }
    known_free(k, nn);
}

/* Tickers FMP left out: use a remembered price younger than max_age. */
static void known_fill(fmp_state *s, const char *const *tickers, size_t n,
                       capalloc_quote *q)
{
    known *k = NULL;
    size_t nk = 0;
    if (known_read(s, &k, &nk) != CAPALLOC_OK) {
        fmp_log(s, CAPALLOC_LOG_WARNING, "cannot read %s: %s", s->cache_path,
                strerror(errno));
        return;
    }
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        if (q[i].found)
            continue;
        const known *hit = known_find(k, nk, tickers[i]);
        /* fetched comes from a file: never subtract it before it is known
         * to lie in (0, now] (now - INT64_MIN overflows); now - max_age
         * cannot overflow (max_age <= 100 years) */
        if (hit == NULL || hit->fetched <= 0 || hit->fetched > now ||
            hit->fetched < now - s->max_age || hit->price.micros <= 0)
            continue;
        q[i].found = 1;
        q[i].price = hit->price;
        q[i].as_of = hit->as_of;
        q[i].flags = CAPALLOC_QUOTE_STALE;
        fmp_log(s, CAPALLOC_LOG_WARNING,
                "FMP has no price for %s: using its last known price, "
                "fetched %lld s ago",
                tickers[i], (long long)(now - hit->fetched));
    }
    known_free(k, nk);
}

/* ------------------------------------------------------------------------ */
/* the key in transit (see the header comment)                              */
/* ------------------------------------------------------------------------ */

/* 1: host (as curl's URL parser gives it) is 127.0.0.0/8, localhost or
 * [::1]. */
static int host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    char h6[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    struct in6_addr a6;
    if (n > 2 && n < sizeof h6 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(h6, host + 1, n - 2);
        h6[n - 2] = '\0';
        return inet_pton(AF_INET6, h6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return 0;
}

/* The proxy variable curl would use for an http:// URL, or NULL. */
static const char *http_proxy_env(void)
{
    static const char *const names[] = {"http_proxy", "all_proxy",
                                        "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && *v != '\0')
            return names[i];
    }
    return NULL;
}

/* s->base_url is http://: allowed to loopback; elsewhere only with
 * allow_insecure_http and no proxy in the environment. */
static capalloc_status check_plain_http(fmp_state *s, int insecure,
                                        capalloc_err *err)
{
    const capalloc_host *h = s->host;
    CURLU *u = curl_url();
    char *hostname = NULL;
    if (u == NULL) {
        h->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    if (curl_url_set(u, CURLUPART_URL, s->base_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        h->set_error(err, "base_url", "base_url '%s' is not a valid URL",
                     s->base_url);
        return CAPALLOC_ERR_INVALID;
    }
    int loopback = host_is_loopback(hostname);
    curl_free(hostname);
    curl_url_cleanup(u);
    if (loopback)
        return CAPALLOC_OK;
    if (!insecure) {
        h->set_error(err, "base_url",
                     "base_url '%s' is plain http to a host that is not "
                     "loopback: the API key would cross the network in clear "
                     "text; use https://, or set allow_insecure_http: true "
                     "to accept that",
                     s->base_url);
        return CAPALLOC_ERR_INVALID;
    }
    const char *proxy = http_proxy_env();
    if (proxy != NULL) {
        h->set_error(err, "base_url",
                     "base_url '%s' is plain http and the environment sets a "
                     "proxy (%s): the API key would go through the proxy in "
                     "clear text; use https:// (the proxy then only tunnels "
                     "it) or unset %s",
                     s->base_url, proxy, proxy);
        return CAPALLOC_ERR_INVALID;
    }
    h->log(h, CAPALLOC_LOG_WARNING,
           "base_url %s is plain http (allow_insecure_http): the API key "
           "crosses the network in clear text",
           s->base_url);
    return CAPALLOC_OK;
}

/* ------------------------------------------------------------------------ */
/* the callbacks                                                             */
/* ------------------------------------------------------------------------ */

static capalloc_status fmp_get_prices(void *state, const char *const *tickers,
                                      size_t n, capalloc_quote *quotes,
                                      capalloc_err *err)
{
    fmp_state *s = state;
    s->last_requests = 0;
    if (n == 0)
        return CAPALLOC_OK;
    for (size_t i = 0; i < n; i++)
        if (tickers[i] == NULL || tickers[i][0] == '\0') {
            fmp_error(s, err, NULL, "an empty ticker cannot be priced");
            return CAPALLOC_ERR_INVALID;
        }
    capalloc_status st = fmp_fetch(s, tickers, n, quotes, err);
    if (st != CAPALLOC_OK)
        return st;
    if (s->cache_path != NULL)
        known_update(s, tickers, n, quotes);
    if (s->cache_path != NULL && s->max_age > 0)
        known_fill(s, tickers, n, quotes);
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        found += quotes[i].found != 0;
    fmp_log(s, CAPALLOC_LOG_INFO, "%zu of %zu tickers priced in %zu request%s",
            found, n, s->last_requests, s->last_requests == 1 ? "" : "s");
    return CAPALLOC_OK;
}

static void fmp_destroy(void *state)
{
    fmp_state *s = state;
    if (s == NULL)
        return;
    if (s->key != NULL) {
        memset(s->key, 0, strlen(s->key));
        free(s->key);
    }
    if (s->key_esc != NULL) {
        memset(s->key_esc, 0, strlen(s->key_esc));
        curl_free(s->key_esc);
    }
    free(s->key_env);
    free(s->base_url);
    free(s->cache_path);
    if (s->curl_ready)
        curl_global_cleanup();
    free(s);
}

/* An INT option within [lo, hi], else CAPALLOC_ERR_INVALID at its key. */
static int int_opt(const capalloc_host *h, const capalloc_options *o,
                   const char *name, int64_t lo, int64_t hi, int64_t *out,
                   capalloc_err *err)
{
    h->opt_int(o, name, out);
    if (*out < lo || *out > hi) {
        h->set_error(err, name, "%s must be between %lld and %lld, got %lld",
                     name, (long long)lo, (long long)hi, (long long)*out);
        return -1;
    }
    return 0;
}

static capalloc_status fmp_create(const capalloc_host *host,
                                  const capalloc_options *opts, void **state,
                                  capalloc_err *err)
{
    *state = NULL;
    fmp_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    capalloc_status st = CAPALLOC_ERR_INVALID;
    const char *v = NULL;

    host->opt_string(opts, "mode", &v);
    if (v != NULL && strcmp(v, "batch") == 0)
        s->mode = FMP_MODE_BATCH;
    else if (v != NULL && strcmp(v, "single") == 0)
        s->mode = FMP_MODE_SINGLE;
    else if (v != NULL && strcmp(v, "legacy") == 0)
        s->mode = FMP_MODE_LEGACY;
    else {
        host->set_error(err, "mode", "mode must be batch, single or legacy, "
                        "got '%s'", v ? v : "");
        goto fail;
    }
    if (int_opt(host, opts, "batch_size", 1, 1000, &s->batch_size, err) ||
        int_opt(host, opts, "concurrency", 1, 64, &s->concurrency, err) ||
        int_opt(host, opts, "connect_timeout_ms", 1, 600000,
                &s->connect_timeout_ms, err) ||
        int_opt(host, opts, "timeout_ms", 1, 3600000, &s->timeout_ms, err) ||
        int_opt(host, opts, "retries", 0, 20, &s->retries, err) ||
        int_opt(host, opts, "backoff_ms", 0, 600000, &s->backoff_ms, err) ||
        int_opt(host, opts, "last_known_max_age", 0, INT64_C(3153600000),
                &s->max_age, err))
        goto fail;

    v = NULL;
    host->opt_string(opts, "base_url", &v);
    if (v == NULL || (strncmp(v, "https://", 8) != 0 &&
                      strncmp(v, "http://", 7) != 0) ||
        strpbrk(v, "?#@\\") != NULL) {
        host->set_error(err, "base_url",
                        "base_url must be an http:// or https:// address "
                        "without a query, fragment or user name, got '%s'",
                        v ? v : "");
        goto fail;
    }
    st = CAPALLOC_ERR_NOMEM;
    if ((s->base_url = strdup(v)) == NULL)
        goto oom;
    size_t bl = strlen(s->base_url);
    while (bl > 0 && s->base_url[bl - 1] == '/')
        s->base_url[--bl] = '\0';
    if (strncmp(s->base_url, "http://", 7) == 0) {
        int insecure = 0;
        host->opt_bool(opts, "allow_insecure_http", &insecure);
        s->plain_http = 1;
        capalloc_status hst = check_plain_http(s, insecure, err);
        if (hst != CAPALLOC_OK) {
            st = hst;
            goto fail;
        }
    }

    v = NULL;
    if (host->opt_string(opts, "last_known_path", &v) && v != NULL && *v &&
        (s->cache_path = strdup(v)) == NULL)
        goto oom;
    if (s->max_age > 0 && s->cache_path == NULL) {
        st = CAPALLOC_ERR_INVALID;
        host->set_error(err, "last_known_max_age",
                        "last_known_max_age needs last_known_path (the file "
                        "that remembers prices)");
        goto fail;
    }

    v = NULL;
    host->opt_string(opts, "api_key_env", &v);
    if (v == NULL || *v == '\0') {
        st = CAPALLOC_ERR_INVALID;
        host->set_error(err, "api_key_env",
                        "api_key_env must name an environment variable");
        goto fail;
    }
    if ((s->key_env = strdup(v)) == NULL)
        goto oom;
    const char *key = getenv(s->key_env);
    if (key == NULL || *key == '\0') {
        st = CAPALLOC_ERR_INVALID;
        host->set_error(err, "api_key_env",
                        "the environment variable %s is not set or empty: "
                        "export %s=<your FMP API key> (the key is never "
                        "written in the config)",
                        s->key_env, s->key_env);
        goto fail;
    }
    if ((s->key = strdup(key)) == NULL)
        goto oom;

    /* libcurl >= 7.84 makes curl_global_init thread-safe; it is reference
     * counted, matched by curl_global_cleanup in destroy(). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        st = CAPALLOC_ERR_IO;
        host->set_error(err, NULL, "cannot initialise libcurl");
        goto fail;
    }
    s->curl_ready = 1;
    if ((s->key_esc = curl_easy_escape(NULL, s->key, 0)) == NULL)
        goto oom;
    s->rng = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)s;
    *state = s;
    return CAPALLOC_OK;
oom:
    host->set_error(err, NULL, "out of memory");
fail:
    fmp_destroy(s);
    return st;
}

static const capalloc_price_plugin fmp_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_PRICES, capalloc_price_plugin, "fmp",
                         FMP_VERSION,
                         "prices from Financial Modeling Prep's quote API",
                         fmp_options, fmp_create, fmp_destroy),
    fmp_get_prices,
};

CAPALLOC_PLUGIN_DEFINE(fmp_plugin)
