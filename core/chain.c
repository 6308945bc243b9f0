/*
 * chain.c - the canonical byte form of runs, rows and the anchor, and
 * their hashes (see chain.h).
 */
#include <stdlib.h>
#include <string.h>

#include "chain.h"

static void put_u32(sha256_ctx *c, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    sha256_update(c, b, sizeof b);
}

static void put_i64(sha256_ctx *c, int64_t sv)
{
    uint64_t v = (uint64_t)sv;
    unsigned char b[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char)v;
    sha256_update(c, b, sizeof b);
}

/* Length-prefixed text; NULL is not "" (except where a caller maps it). */
static void put_str(sha256_ctx *c, const char *s)
{
    if (s == NULL) {
        put_u32(c, 0xffffffffu);
        return;
    }
    size_t n = strlen(s);
    put_u32(c, (uint32_t)n);
    sha256_update(c, s, n);
}

static void put_tag(sha256_ctx *c, const char *tag)
{
    put_str(c, tag);
    put_u32(c, CHAIN_VERSION);
}

void chain_genesis(unsigned char out[SHA256_LEN])
{
    sha256_ctx c;
    sha256_init(&c);
    put_tag(&c, "capalloc/genesis");
    sha256_final(&c, out);
}

void chain_row_hash(const unsigned char link[SHA256_LEN], uint64_t index,
                    const char *portfolio_id, const char *ticker,
                    capalloc_side side, capalloc_dec quantity,
                    capalloc_dec arrival_price, capalloc_dec exec_price,
                    unsigned char out[SHA256_LEN])
{
    sha256_ctx c;
    sha256_init(&c);
    put_tag(&c, "capalloc/row");
    sha256_update(&c, link, SHA256_LEN);
    put_i64(&c, (int64_t)index);
    put_str(&c, portfolio_id);
    put_str(&c, ticker);
    put_str(&c, side == CAPALLOC_BUY ? "BUY" : "SELL");
    put_i64(&c, quantity.micros);
    put_i64(&c, arrival_price.micros);
    put_i64(&c, exec_price.micros);
    sha256_final(&c, out);
}

void chain_run_hash(const unsigned char prev[SHA256_LEN], const chain_run *r,
                    uint64_t n_rows, const unsigned char last_row[SHA256_LEN],
                    const chain_balance *b, size_t n_balances,
                    unsigned char out[SHA256_LEN])
{
    static const unsigned char zero[SHA256_LEN];
    sha256_ctx c;
    sha256_init(&c);
    put_tag(&c, "capalloc/run");
    sha256_update(&c, prev, SHA256_LEN);
    /* the run's fields: add new ones here, at the end, with a new
     * CHAIN_VERSION */
    put_str(&c, r->action);
    put_str(&c, r->run_date != NULL && r->run_date[0] != '\0' ? r->run_date
                                                              : NULL);
    put_i64(&c, r->forced ? 1 : 0);
    put_str(&c, r->created_at);
    put_str(&c, r->reference);
    put_str(&c, r->kind != NULL && r->kind[0] != '\0' ? r->kind : "RUN");
    put_i64(&c, r->reverses);
    /* its rows */
    put_i64(&c, (int64_t)n_rows);
    sha256_update(&c, n_rows > 0 ? last_row : zero, SHA256_LEN);
    /* the balances it set */
    put_i64(&c, (int64_t)n_balances);
    for (size_t i = 0; i < n_balances; i++) {
        put_str(&c, b[i].portfolio_id);
        put_i64(&c, b[i].cash.micros);
    }
    sha256_final(&c, out);
}

void chain_anchor_hash(int64_t after_run_id, int64_t after_log_id,
                       int64_t runs_before, const char *created_at,
                       const chain_balance *b, size_t n_balances,
                       unsigned char out[SHA256_LEN])
{
    sha256_ctx c;
    sha256_init(&c);
    put_tag(&c, "capalloc/anchor");
    put_i64(&c, after_run_id);
    put_i64(&c, after_log_id);
    put_i64(&c, runs_before);
    put_str(&c, created_at);
    put_i64(&c, (int64_t)n_balances);
    for (size_t i = 0; i < n_balances; i++) {
        put_str(&c, b[i].portfolio_id);
        put_i64(&c, b[i].cash.micros);
    }
    sha256_final(&c, out);
}

static int cmp_balance(const void *x, const void *y)
{
    return strcmp(((const chain_balance *)x)->portfolio_id,
                  ((const chain_balance *)y)->portfolio_id);
}

void chain_sort_balances(chain_balance *b, size_t n)
{
    if (n > 1)
        qsort(b, n, sizeof *b, cmp_balance);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1; /* upper case too: capalloc writes lower case only */
}

int chain_from_hex(const char *hex, unsigned char out[SHA256_LEN])
{
    if (hex == NULL || strlen(hex) != SHA256_HEX_LEN)
        return -1;
    for (size_t i = 0; i < SHA256_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
