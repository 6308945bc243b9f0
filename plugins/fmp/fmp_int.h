/*
 * fmp_int.h - internals of the "fmp" price source, shared by its files:
 *   fmp.c        options, create/destroy, get_prices, last-known prices
 *   fmp_http.c   the requests: batching, per-symbol fallback, concurrency
 *                with curl's multi interface, retries, error mapping
 *   fmp_json.c   the answer: jansson for the shape, the raw number text of
 *                each "price" for the exact decimal
 * Nothing here is exported: the plugin's one symbol is capalloc_plugin_entry.
 */
#ifndef CAPALLOC_FMP_INT_H
#define CAPALLOC_FMP_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "capalloc_plugin.h"

typedef enum fmp_mode {
    FMP_MODE_BATCH = 0,  /* /stable/batch-quote?symbols=A,B */
    FMP_MODE_SINGLE = 1, /* /stable/quote?symbol=A, one request per symbol */
    FMP_MODE_LEGACY = 2  /* /api/v3/quote/A,B (keys issued before 2025-09) */
} fmp_mode;

typedef struct fmp_state {
    const capalloc_host *host;
    char *base_url;           /* no trailing '/' */
    int plain_http;           /* base_url is http://: never via a proxy */
    fmp_mode mode;
    int64_t batch_size;
    int64_t concurrency;
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    int64_t retries;          /* extra attempts after the first */
    int64_t backoff_ms;       /* first retry delay; doubles, plus jitter */
    int64_t max_age;          /* last_known_max_age, seconds; 0: off */
    char *cache_path;         /* last_known_path, NULL: none */
    char *key_env;            /* the variable's NAME (may be shown) */
    char *key;                /* its value: never shown, never logged */
    char *key_esc;            /* the value URL-escaped, as sent */
    unsigned int rng;         /* jitter (rand_r), per instance */
    int curl_ready;           /* curl_global_init succeeded */
    /* Counters of the last get_prices (for logs and tests). */
    size_t last_requests;     /* HTTP requests sent, retries included */
} fmp_state;

/* A malloc'd, NUL-terminated copy of src[0..len) with every occurrence of
 * the key (raw or escaped) replaced by "***", and any server-supplied
 * apikey=VALUE (VALUE up to &, a quote or a space) by apikey=***. NULL: out
 * of memory. Always scrub the whole text BEFORE cutting it. */
char *fmp_scrub(const fmp_state *s, const char *src, size_t len);

/* Fill err (through the host) with a message scrubbed of the key. */
void fmp_error(const fmp_state *s, capalloc_err *err, const char *key,
               const char *fmt, ...) CAPALLOC_PRINTF(4, 5);
void fmp_verror(const fmp_state *s, capalloc_err *err, const char *key,
                const char *fmt, va_list ap) CAPALLOC_PRINTF(4, 0);
/* Log a line scrubbed of the key. */
void fmp_log(const fmp_state *s, capalloc_log_level level, const char *fmt,
             ...) CAPALLOC_PRINTF(3, 4);

/* Price tickers[0..n) from FMP into quotes[] (found = 0 when FMP has no
 * price). Returns non-OK when the source failed (err filled). */
capalloc_status fmp_fetch(fmp_state *s, const char *const *tickers, size_t n,
                          capalloc_quote *quotes, capalloc_err *err);

/* ---- fmp_json.c --------------------------------------------------------- */

/* One quote of an answer: symbol (NUL-terminated, owned by the caller's
 * buffer), price from the number's own text. */
typedef struct fmp_item {
    const char *symbol;   /* NULL: the element had no string "symbol" */
    int has_price;        /* 1: a number "price" was there */
    capalloc_dec price;   /* exact, rounded half-even to 6 places */
    int rounded;          /* 1: the text had more than 6 decimals */
    int64_t timestamp;    /* "timestamp" (Unix seconds), 0 when absent */
    int bad_price;        /* a number capalloc cannot hold (out of range) */
    int unreadable;       /* jansson and the text disagree on the price */
    char price_text[48];  /* its text (cut), for the message */
} fmp_item;

typedef enum fmp_body_kind {
    FMP_BODY_DATA = 0,    /* a JSON array: items filled */
    FMP_BODY_ERROR = 1,   /* an object with "Error Message": msg filled */
    FMP_BODY_NOT_JSON = 2,/* msg: jansson's reason */
    FMP_BODY_OTHER = 3    /* JSON, but neither: msg says what */
} fmp_body_kind;

typedef struct fmp_body {
    fmp_body_kind kind;
    char *msg;            /* malloc'd, whole (never cut: scrub it first) */
    fmp_item *items;
    size_t n_items;
    char *strings;        /* the symbols' storage */
} fmp_body;

/* Parse an answer. Returns CAPALLOC_ERR_NOMEM only on allocation failure;
 * everything else is described by b->kind. Free with fmp_body_free. */
capalloc_status fmp_parse_body(const capalloc_host *h, const char *text,
                               size_t len, fmp_body *b);
void fmp_body_free(fmp_body *b);

/* Convert a JSON number's text to an exact decimal: more than 6 decimal
 * places are rounded half-even (*rounded set). Returns CAPALLOC_OK,
 * CAPALLOC_ERR_OVERFLOW or CAPALLOC_ERR_INVALID (not a JSON number). */
capalloc_status fmp_number_to_dec(const capalloc_host *h, const char *text,
                                  size_t len, capalloc_dec *out, int *rounded);

#endif
