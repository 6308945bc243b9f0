/*
 * sha256.h - SHA-256 (FIPS 180-4), for the ledger's hash chain and a
 * plan's fingerprint. Self-contained so that the core needs no crypto
 * library; checked against the FIPS test vectors and an independent
 * implementation (Python's hashlib) in tests/check_sha256.c.
 */
#ifndef CAPALLOC_SHA256_H
#define CAPALLOC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64 /* hex digits, without the terminating NUL */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t len;            /* bytes hashed so far */
    unsigned char buf[64];
    size_t n;                /* bytes waiting in buf */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, unsigned char out[SHA256_LEN]);

/* Lower-case hex of a digest: out holds SHA256_HEX_LEN + 1 bytes. */
void sha256_hex(const unsigned char d[SHA256_LEN],
                char out[SHA256_HEX_LEN + 1]);

/* One-shot: the lower-case hex digest of data[0..len). */
void sha256_hex_of(const void *data, size_t len,
                   char out[SHA256_HEX_LEN + 1]);

/*
 * For tests, so that both block functions are checked on a machine that
 * has the fast one: sha256_impl names the one in use ("sha-ni", the x86
 * SHA extensions, or "portable"); sha256_force_portable(1) switches to the
 * portable one, sha256_force_portable(0) back to the fastest the CPU has.
 * Not for use while another thread hashes.
 */
const char *sha256_impl(void);
void sha256_force_portable(int on);

#endif
