/*
 * fmp_http.c - the requests of one get_prices() call, on curl's multi
 * interface.
 *
 * The n tickers become requests: in batch mode ceil(n / batch_size) batch
 * quotes, in single mode one quote per symbol, in legacy mode batches on
 * /api/v3/quote/A,B. At most `concurrency` requests are in flight, each on
 * one of `concurrency` easy handles that are reused (with the multi
 * handle's connection cache, and CURLMOPT_MAX_TOTAL_CONNECTIONS at the same
 * limit, connections are reused too).
 *
 * Each answer is classified (see finish()):
 *   - an object with "Error Message" is an error whatever the status;
 *   - 401 (or the invalid-key message) and 403 fail at once, saying what
 *     to fix;
 *   - 402 on a batch: the plan refuses batch quotes; that batch and every
 *     batch not yet sent fall back to one request per symbol; 402 on one
 *     symbol: the plan refuses it; every such symbol is named in the error;
 *   - 429 (or "Limit Reach" on a 200), 5xx, timeouts and connection errors
 *     are retried up to `retries` times after backoff_ms x 2^k plus up to
 *     50% jitter; other statuses and bodies that are not JSON fail;
 *   - a symbol absent from the array stays found = 0.
 * The first failure stops every other transfer: the run is all or nothing.
 *
 * The key: the URL given to CURLOPT_URL carries it; every URL shown in a
 * log or message is the redacted one (apikey=***), and every message is
 * scrubbed of the key's text anyway (curl's error buffer included).
 * Redirects are not followed (a redirect would carry the key elsewhere),
 * and a plain http:// request never goes through a proxy (fmp.c says when
 * plain http is allowed at all).
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fmp_int.h"

#define MAX_BODY (64u * 1024u * 1024u) /* bytes per answer */
#define MAX_BACKOFF_MS 30000

typedef enum req_kind { REQ_BATCH = 0, REQ_SINGLE = 1 } req_kind;

typedef struct req {
    req_kind kind;
    size_t *idx;          /* indices into the tickers */
    size_t n;
    int attempts;         /* sent so far */
    int64_t not_before;   /* monotonic ms */
    char *url;            /* with the key: only for CURLOPT_URL */
    char *shown;          /* apikey=***: for every message */
    char *body;
    size_t len, cap;
    int too_big;
    int inflight;         /* 1 while on an easy handle */
} req;

typedef struct slot {
    CURL *easy;
    req *r;               /* NULL: free */
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct ord {
    const char *t;
    size_t i;
} ord;

typedef struct run {
    fmp_state *s;
    const char *const *tickers;
    size_t n;
    capalloc_quote *quotes;
    ord *order;           /* the tickers, sorted, with their index */
    req **q;              /* every request, in order; NULL once done */
    size_t nq, capq, head;
    size_t pending;       /* queued, not in flight, not done */
    int batch_refused;    /* a batch got 402: later batches go per symbol */
    char *refused;        /* symbols the plan refuses, ", "-joined */
    size_t refused_len, n_refused;
    size_t requests;
    size_t rounded;
    capalloc_status st;   /* first failure */
    capalloc_err *err;
} run;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void req_free(req *r)
{
    if (r == NULL)
        return;
    free(r->idx);
    if (r->url != NULL) {
        /* the key was in it */
        memset(r->url, 0, strlen(r->url));
        free(r->url);
    }
    free(r->shown);
    free(r->body);
    free(r);
}

/* Fail the run with a scrubbed message (only the first failure counts).
 * The whole text is scrubbed before anything cuts it. */
__attribute__((format(printf, 3, 4))) static void
fail(run *R, capalloc_status st, const char *fmt, ...)
{
    if (R->st != CAPALLOC_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    R->st = st;
    fmp_verror(R->s, R->err, NULL, fmt, ap);
    va_end(ap);
}

/* ---- building requests --------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Append the URL-escaped symbol. */
static void sb_sym(sbuf *b, CURL *any, const char *t)
{
    char *e = curl_easy_escape(any, t, 0);
    if (e == NULL) {
        b->oom = 1;
        return;
    }
    sb_str(b, e);
    curl_free(e);
}

/* The symbols of r, ','-joined, into b: all of them (max 0), or the first
 * max and "(+N more)". */
static void sb_syms(sbuf *b, const run *R, const req *r, CURL *any, size_t max)
{
    for (size_t i = 0; i < r->n; i++) {
        if (max > 0 && i == max) {
            char more[48];
            snprintf(more, sizeof more, ",(+%zu more)", r->n - max);
            sb_str(b, more);
            break;
        }
        if (i)
            sb_str(b, ",");
        sb_sym(b, any, R->tickers[r->idx[i]]);
    }
}

/* r's URL with the key (url) or, for messages and logs, with apikey=***
 * and at most SHOWN_SYMBOLS symbols (a batch URL listing hundreds of them
 * would push the reason out of a message). */
#define SHOWN_SYMBOLS 3
static char *make_url(const run *R, const req *r, CURL *any, int shown)
{
    const fmp_state *s = R->s;
    size_t max = shown ? SHOWN_SYMBOLS : 0;
    sbuf u = {0};
    sb_str(&u, s->base_url);
    if (s->mode == FMP_MODE_LEGACY) {
        sb_str(&u, "/api/v3/quote/");
        sb_syms(&u, R, r, any, max);
        sb_str(&u, "?");
    } else if (r->kind == REQ_SINGLE) {
        sb_str(&u, "/stable/quote?symbol=");
        sb_sym(&u, any, R->tickers[r->idx[0]]);
        sb_str(&u, "&");
    } else {
        sb_str(&u, "/stable/batch-quote?symbols=");
        sb_syms(&u, R, r, any, max);
        sb_str(&u, "&");
    }
    sb_str(&u, "apikey=");
    sb_str(&u, shown ? "***" : s->key_esc);
    if (u.oom) {
        if (u.p != NULL)
            memset(u.p, 0, u.len);
        free(u.p);
        return NULL;
    }
    return u.p;
}

/* Build r->url and r->shown for r's symbols. */
static int build_urls(run *R, req *r, CURL *any)
{
    r->shown = make_url(R, r, any, 1);
    r->url = make_url(R, r, any, 0);
    return r->shown != NULL && r->url != NULL ? 0 : -1;
}

static int enqueue(run *R, req *r)
{
    if (R->nq == R->capq) {
        size_t cap = R->capq ? R->capq * 2 : 64;
        req **nq = realloc(R->q, cap * sizeof *nq);
        if (nq == NULL)
            return -1;
        R->q = nq;
        R->capq = cap;
    }
    R->q[R->nq++] = r;
    R->pending++;
    return 0;
}

static req *new_req(run *R, req_kind kind, const size_t *idx, size_t n,
                    CURL *any)
{
    req *r = calloc(1, sizeof *r);
    if (r == NULL || (r->idx = malloc(n * sizeof *r->idx)) == NULL) {
        free(r);
        return NULL;
    }
    memcpy(r->idx, idx, n * sizeof *idx);
    r->n = n;
    r->kind = kind;
    if (build_urls(R, r, any) != 0) {
        req_free(r);
        return NULL;
    }
    return r;
}

/* One request per symbol of idx[0..n). */
static int enqueue_singles(run *R, const size_t *idx, size_t n, CURL *any)
{
    for (size_t i = 0; i < n; i++) {
        req *r = new_req(R, REQ_SINGLE, &idx[i], 1, any);
        if (r == NULL || enqueue(R, r) != 0) {
            req_free(r);
            return -1;
        }
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------- */

static int cmp_ord(const void *a, const void *b)
{
    return strcmp(((const ord *)a)->t, ((const ord *)b)->t);
}

static long find_ticker(const run *R, const char *sym)
{
    size_t lo = 0, hi = R->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sym, R->order[mid].t);
        if (c == 0)
            return (long)R->order[mid].i;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static void add_refused(run *R, const char *t)
{
    size_t tl = strlen(t);
    char *np = realloc(R->refused, R->refused_len + tl + 3);
    if (np == NULL) {
        fail(R, CAPALLOC_ERR_NOMEM, "out of memory");
        return;
    }
    R->refused = np;
    if (R->refused_len) {
        memcpy(R->refused + R->refused_len, ", ", 2);
        R->refused_len += 2;
    }
    memcpy(R->refused + R->refused_len, t, tl + 1);
    R->refused_len += tl;
    R->n_refused++;
}

/* Queue r again after a backoff, or fail when its retries are spent. */
static void retry_or_fail(run *R, req *r, size_t qi, const char *why)
{
    fmp_state *s = R->s;
    if (r->attempts > s->retries) {
        fail(R, CAPALLOC_ERR_IO, "FMP: %s (gave up after %d attempt%s): GET %s",
             why, r->attempts, r->attempts > 1 ? "s" : "", r->shown);
        return;
    }
    int64_t delay = s->backoff_ms;
    for (int k = 1; k < r->attempts && delay < MAX_BACKOFF_MS; k++)
        delay *= 2;
    if (delay > MAX_BACKOFF_MS)
        delay = MAX_BACKOFF_MS;
    int64_t jitter = delay > 1 ? (int64_t)(rand_r(&s->rng) % (delay / 2 + 1)) : 0;
    r->not_before = now_ms() + delay + jitter;
    r->len = 0;
    r->too_big = 0;
    fmp_log(s, CAPALLOC_LOG_WARNING, "%s; retry %d of %lld in %lld ms: GET %s",
            why, r->attempts, (long long)s->retries, (long long)(delay + jitter),
            r->shown);
    R->q[qi] = r;
    R->pending++;
}

/* Short, one-line text of a body for a message: the whole body is scrubbed
 * of the key (and of any apikey=...) first, then cut. */
static void body_excerpt(const run *R, const req *r, char *out, size_t len)
{
    char *clean = fmp_scrub(R->s, r->body ? r->body : "", r->len);
    if (clean == NULL) {
        snprintf(out, len, "(no memory to show the answer)");
        return;
    }
    size_t cl = strlen(clean); /* a NUL in the body ends the excerpt */
    size_t n = cl < len - 4 ? cl : len - 4;
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        out[w++] = (clean[i] >= 0x20 && clean[i] < 0x7f) ? clean[i] : ' ';
    if (n < cl)
        out[w++] = '.', out[w++] = '.', out[w++] = '.';
    out[w] = '\0';
    free(clean);
}

typedef struct seen_price {
    int set;
    capalloc_dec price;
} seen_price;

static void apply(run *R, const fmp_body *b)
{
    /* the first price of each asked symbol in this answer: the same symbol
     * twice with two prices is an answer that cannot be used */
    seen_price *seen = calloc(R->n ? R->n : 1, sizeof *seen);
    if (seen == NULL) {
        fail(R, CAPALLOC_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < b->n_items && R->st == CAPALLOC_OK; i++) {
        const fmp_item *it = &b->items[i];
        long k = it->symbol ? find_ticker(R, it->symbol) : -1;
        if (k >= 0 && it->has_price) {
            if (seen[k].set && seen[k].price.micros != it->price.micros) {
                char p1[CAPALLOC_DEC_MAX_TEXT], p2[CAPALLOC_DEC_MAX_TEXT];
                fail(R, CAPALLOC_ERR_IO,
                     "FMP gave two different prices for %s in one answer "
                     "(%s and %s): the answer is not used",
                     it->symbol,
                     R->s->host->dec_format(seen[k].price, 0, p1, sizeof p1),
                     R->s->host->dec_format(it->price, 0, p2, sizeof p2));
                break;
            }
            seen[k].set = 1;
            seen[k].price = it->price;
        }
        if (k >= 0 && it->bad_price) {
            fail(R, CAPALLOC_ERR_IO,
                 "FMP: the price of %s (%s) is not a decimal capalloc can "
                 "hold (at most 13 integer digits)",
                 it->symbol, it->price_text);
            break;
        }
        if (k >= 0 && it->unreadable) {
            fail(R, CAPALLOC_ERR_IO,
                 "FMP: the answer's price of %s cannot be read unambiguously "
                 "(its \"price\" key is escaped, or the number's text and "
                 "its value disagree): the answer is not used",
                 it->symbol);
            break;
        }
        if (k < 0 || !it->has_price || R->quotes[k].found)
            continue; /* not asked for, no price, or already priced */
        if (it->price.micros <= 0) {
            /* zero or negative (or rounded to zero): not a price anything
             * can be valued at; as if FMP had none (and never remembered) */
            char p[CAPALLOC_DEC_MAX_TEXT];
            fmp_log(R->s, CAPALLOC_LOG_WARNING,
                    "FMP gave %s a price of %s: not a usable price, treated as "
                    "no price",
                    it->symbol, R->s->host->dec_format(it->price, 0, p, sizeof p));
            continue;
        }
        R->quotes[k].found = 1;
        R->quotes[k].price = it->price;
        R->quotes[k].as_of = it->timestamp ? it->timestamp : (int64_t)time(NULL);
        R->quotes[k].flags = 0;
        if (it->rounded) {
            R->rounded++;
            fmp_log(R->s, CAPALLOC_LOG_DEBUG,
                    "price of %s has more than 6 decimals: rounded half-even",
                    it->symbol);
        }
    }
    free(seen);
}

/* A transfer of request q[qi] ended. */
static void finish(run *R, size_t qi, CURLcode cc, long http, const char *cerr,
                   CURL *any)
{
    req *r = R->q[qi];
    fmp_state *s = R->s;
    R->q[qi] = NULL; /* owned here until re-queued or freed */
    r->inflight = 0;
    if (cc != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 64];
        snprintf(why, sizeof why, "%s", cerr && *cerr ? cerr : curl_easy_strerror(cc));
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:            /* transport errors of HTTP/2 ... */
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY: /* ... and a garbled answer */
            retry_or_fail(R, r, qi, why);
            if (R->q[qi] == r)
                return;
            break;
        case CURLE_WRITE_ERROR:
            if (r->too_big) {
                fail(R, CAPALLOC_ERR_IO, "FMP: answer larger than %u bytes: GET %s",
                     MAX_BODY, r->shown);
                break;
            }
            /* fall through */
        default:
            fail(R, CAPALLOC_ERR_IO, "FMP: %s: GET %s", why, r->shown);
        }
        req_free(r);
        return;
    }
    fmp_body b;
    if (fmp_parse_body(s->host, r->body ? r->body : "", r->len, &b) != CAPALLOC_OK) {
        fail(R, CAPALLOC_ERR_NOMEM, "out of memory reading FMP's answer");
        req_free(r);
        return;
    }
    const char *em = b.kind == FMP_BODY_ERROR ? b.msg : NULL;
    char ex[200] = "";
    if (http != 200 || b.kind != FMP_BODY_DATA)
        body_excerpt(R, r, ex, sizeof ex);
    if (http == 401 || (em && strncasecmp(em, "Invalid API KEY", 15) == 0)) {
        fail(R, CAPALLOC_ERR_IO,
             "FMP refused the API key from $%s (HTTP %ld: %s): check the "
             "key (export %s=...)",
             s->key_env, http, em ? em : ex, s->key_env);
    } else if (http == 403) {
        if (s->mode == FMP_MODE_LEGACY)
            fail(R, CAPALLOC_ERR_IO,
                 "FMP refused the legacy endpoint (HTTP 403: %s): keys issued "
                 "after 2025-08-31 cannot use /api/v3; set the option mode "
                 "to batch or single",
                 em ? em : ex);
        else
            fail(R, CAPALLOC_ERR_IO,
                 "FMP refused access (HTTP 403: %s): check the key's "
                 "subscription",
                 em ? em : ex);
    } else if (http == 402) {
        if (r->kind == REQ_BATCH && r->n > 0) {
            if (!R->batch_refused)
                fmp_log(s, CAPALLOC_LOG_INFO,
                        "GET %s: HTTP 402, the plan refuses batch quotes (%s); "
                        "asking one symbol per request",
                        r->shown, em ? em : ex);
            R->batch_refused = 1;
            if (enqueue_singles(R, r->idx, r->n, any) != 0)
                fail(R, CAPALLOC_ERR_NOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < r->n; i++)
                add_refused(R, R->tickers[r->idx[i]]);
            fmp_log(s, CAPALLOC_LOG_DEBUG, "GET %s: HTTP 402: %s", r->shown,
                    em ? em : ex);
        }
    } else if (http == 429 || http >= 500 ||
               (em && strncasecmp(em, "Limit Reach", 11) == 0)) {
        /* whole: em is cut only after fmp_error/fmp_log scrubbed it */
        size_t wl = 32 + (em ? strlen(em) : 0);
        char *why = malloc(wl);
        if (why != NULL)
            snprintf(why, wl, "HTTP %ld%s%s", http, em ? ": " : "", em ? em : "");
        fmp_body_free(&b);
        retry_or_fail(R, r, qi, why ? why : "HTTP error");
        free(why);
        if (R->q[qi] != r)
            req_free(r);
        return;
    } else if (em) {
        fail(R, CAPALLOC_ERR_IO, "FMP: HTTP %ld, error: %s: GET %s", http, em,
             r->shown);
    } else if (http != 200) {
        fail(R, CAPALLOC_ERR_IO, "FMP: unexpected HTTP %ld: %s: GET %s", http,
             ex, r->shown);
    } else if (b.kind == FMP_BODY_NOT_JSON) {
        fail(R, CAPALLOC_ERR_IO, "FMP: the answer is not JSON (%s): %s: GET %s",
             b.msg, ex, r->shown);
    } else if (b.kind != FMP_BODY_DATA) {
        fail(R, CAPALLOC_ERR_IO, "FMP: the answer is %s: %s: GET %s", b.msg,
             ex, r->shown);
    } else {
        fmp_log(s, CAPALLOC_LOG_DEBUG, "GET %s: HTTP 200, %zu quotes", r->shown,
                b.n_items);
        apply(R, &b);
    }
    fmp_body_free(&b);
    req_free(r);
}

/* ---- the transfer loop --------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    req *r = userp;
    size_t n = size * nmemb;
    if (r->len + n > MAX_BODY) {
        r->too_big = 1;
        return 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (r->len + n + 1 > cap)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (nb == NULL)
            return 0;
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static int setup_easy(run *R, slot *sl, req *r, size_t qi)
{
    fmp_state *s = R->s;
    CURL *e = sl->easy;
    curl_easy_reset(e);
    sl->errbuf[0] = '\0';
    r->len = 0;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)(uintptr_t)qi) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                            (long)s->connect_timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "capalloc-fmp/1.0") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
    /* plain http carries the key in clear: never hand it to a proxy
     * (NOPROXY "*" exempts every host from http_proxy / ALL_PROXY; see
     * fmp.c) */
    if (s->plain_http)
        bad |= curl_easy_setopt(e, CURLOPT_NOPROXY, "*") != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
                            (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
    return bad ? -1 : 0;
}

capalloc_status fmp_fetch(fmp_state *s, const char *const *tickers, size_t n,
                          capalloc_quote *quotes, capalloc_err *err)
{
    run R;
    memset(&R, 0, sizeof R);
    R.s = s;
    R.tickers = tickers;
    R.n = n;
    R.quotes = quotes;
    R.err = err;
    size_t conc = (size_t)s->concurrency;
    slot *slots = calloc(conc, sizeof *slots);
    CURLM *m = curl_multi_init();
    R.order = malloc(n * sizeof *R.order);
    size_t *grp = malloc(n * sizeof *grp);
    if (slots == NULL || m == NULL || R.order == NULL || grp == NULL) {
        fail(&R, CAPALLOC_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < conc; i++)
        if ((slots[i].easy = curl_easy_init()) == NULL) {
            fail(&R, CAPALLOC_ERR_NOMEM, "cannot start libcurl (curl_easy_init)");
            goto out;
        }
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
    for (size_t i = 0; i < n; i++)
        R.order[i] = (ord){tickers[i], i};
    if (n > 1)
        qsort(R.order, n, sizeof *R.order, cmp_ord);

    /* The requests: batches (symbols with a ',' always go alone) or one
     * per symbol. */
    CURL *any = slots[0].easy;
    size_t ng = 0;
    for (size_t i = 0; i < n && R.st == CAPALLOC_OK; i++) {
        if (s->mode == FMP_MODE_SINGLE || strchr(tickers[i], ',') != NULL) {
            if (enqueue_singles(&R, &i, 1, any) != 0)
                fail(&R, CAPALLOC_ERR_NOMEM, "out of memory");
            continue;
        }
        grp[ng++] = i;
        if (ng == (size_t)s->batch_size || i + 1 == n) {
            req *r = new_req(&R, REQ_BATCH, grp, ng, any);
            if (r == NULL || enqueue(&R, r) != 0) {
                req_free(r);
                fail(&R, CAPALLOC_ERR_NOMEM, "out of memory");
            }
            ng = 0;
        }
    }
    if (ng > 0 && R.st == CAPALLOC_OK) {
        req *r = new_req(&R, REQ_BATCH, grp, ng, any);
        if (r == NULL || enqueue(&R, r) != 0) {
            req_free(r);
            fail(&R, CAPALLOC_ERR_NOMEM, "out of memory");
        }
    }

    size_t inflight = 0;
    while (R.st == CAPALLOC_OK && (R.pending > 0 || inflight > 0)) {
        int64_t now = now_ms(), next_due = -1;
        /* start what is due, up to the limit */
        while (R.head < R.nq && R.q[R.head] == NULL)
            R.head++;
        for (size_t qi = R.head; qi < R.nq && inflight < conc && R.pending > 0;
             qi++) {
            req *r = R.q[qi];
            if (r == NULL || r->inflight)
                continue;
            if (r->not_before > now) {
                if (next_due < 0 || r->not_before < next_due)
                    next_due = r->not_before;
                continue;
            }
            /* a batch queued before the plan refused batches: split it */
            if (r->kind == REQ_BATCH && R.batch_refused) {
                R.q[qi] = NULL;
                R.pending--;
                if (enqueue_singles(&R, r->idx, r->n, any) != 0)
                    fail(&R, CAPALLOC_ERR_NOMEM, "out of memory");
                req_free(r);
                continue;
            }
            size_t k = 0;
            while (slots[k].r != NULL)
                k++;
            if (setup_easy(&R, &slots[k], r, qi) != 0 ||
                curl_multi_add_handle(m, slots[k].easy) != CURLM_OK) {
                fail(&R, CAPALLOC_ERR_INTERNAL, "cannot set up a libcurl transfer");
                break;
            }
            slots[k].r = r;
            r->inflight = 1;
            r->attempts++;
            R.requests++;
            R.pending--;
            inflight++;
            fmp_log(s, CAPALLOC_LOG_DEBUG, "GET %s", r->shown);
        }
        if (R.st != CAPALLOC_OK)
            break;
        int running = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            fail(&R, CAPALLOC_ERR_INTERNAL, "libcurl: curl_multi_perform failed");
            break;
        }
        CURLMsg *msg;
        int left;
        int progressed = 0;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode cc = msg->data.result;
            void *priv = NULL;
            long http = 0;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&priv);
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
            size_t qi = (size_t)(uintptr_t)priv, k = 0;
            while (k < conc && slots[k].easy != e)
                k++;
            curl_multi_remove_handle(m, e);
            inflight--;
            progressed = 1;
            if (k < conc) {
                slots[k].r = NULL;
                finish(&R, qi, cc, http, slots[k].errbuf, any);
            }
        }
        if (R.st != CAPALLOC_OK || progressed)
            continue;
        long wait = 1000;
        if (next_due >= 0) {
            int64_t d = next_due - now_ms();
            wait = d < 0 ? 0 : d < wait ? (long)d : wait;
        }
        if (inflight > 0 || wait > 0)
            curl_multi_poll(m, NULL, 0, (int)wait, NULL);
    }
    if (R.st == CAPALLOC_OK && R.n_refused > 0)
        fail(&R, CAPALLOC_ERR_IO,
             "FMP: the plan refuses quotes for %zu symbol%s (HTTP 402): %s; "
             "upgrade the plan or price them elsewhere",
             R.n_refused, R.n_refused > 1 ? "s" : "", R.refused);
    if (R.st == CAPALLOC_OK && R.rounded > 0)
        fmp_log(s, CAPALLOC_LOG_INFO,
                "%zu price%s had more than 6 decimals, rounded half-even",
                R.rounded, R.rounded > 1 ? "s" : "");
out:
    s->last_requests = R.requests;
    for (size_t i = 0; slots != NULL && i < conc; i++)
        if (slots[i].easy != NULL) {
            if (slots[i].r != NULL)
                curl_multi_remove_handle(m, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
    /* requests in flight when the run failed are still listed in R.q */
    for (size_t i = 0; i < R.nq; i++)
        req_free(R.q[i]);
    free(R.q);
    free(R.refused);
    free(R.order);
    free(grp);
    free(slots);
    if (m != NULL)
        curl_multi_cleanup(m);
    return R.st;
}
