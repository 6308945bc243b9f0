/*
 * sha256.c - SHA-256 as FIPS 180-4 specifies it, byte order explicit (no
 * assumption about the host's endianness or alignment).
 */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SHA256_X86 1
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^
                      (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^
                      (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], k = h[7];
    /* Eight rounds an iteration, each naming the working variables one
     * place further on, so that the compiler need not move all eight
     * between rounds as the FIPS text's "h = g; g = f; ..." does (its h
     * is k here: h is the state). Ch and
     * Maj are written in forms with one operation fewer than FIPS's, and
     * equal to them bit for bit. */
#define ROUND(a, b, c, d, e, f, g, k, i)                                   \
    do {                                                                   \
        uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +       \
                      (g ^ (e & (f ^ g))) + K[i] + w[i];                   \
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +           \
                      ((a & b) | (c & (a | b)));                           \
        d += t1;                                                           \
        k = t1 + t2;                                                       \
    } while (0)
    for (int i = 0; i < 64; i += 8) {
        ROUND(a, b, c, d, e, f, g, k, i);
        ROUND(k, a, b, c, d, e, f, g, i + 1);
        ROUND(g, k, a, b, c, d, e, f, i + 2);
        ROUND(f, g, k, a, b, c, d, e, i + 3);
        ROUND(e, f, g, k, a, b, c, d, i + 4);
        ROUND(d, e, f, g, k, a, b, c, i + 5);
        ROUND(c, d, e, f, g, k, a, b, i + 6);
        ROUND(b, c, d, e, f, g, k, a, i + 7);
    }
#undef ROUND
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

#if SHA256_X86
/*
 * The same compression with the x86 SHA extensions (SHA-NI), n blocks a
 * call. Compiled for those instructions by the target attribute alone, so
 * the build needs no flags; it only runs where the CPU has them (see
 * blocks() below).
 *
 * sha256rnds2 does two rounds on the state split as ABEF and CDGH (high
 * lane first) and reads the two rounds' W+K from the low half of its third
 * operand; sha256msg1 and sha256msg2 compute the sigma0 and sigma1 halves
 * of the message schedule, four words at a time.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void
blocks_shani(uint32_t h[8], const unsigned char *p, size_t n)
{
    /* big-endian words in, host (little-endian) words out */
    const __m128i bswap =
        _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(abcd, 0xb1);
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1b);
    __m128i abef = _mm_alignr_epi8(cdab, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, cdab, 0xf0);

    for (; n > 0; n--, p += 64) {
        __m128i abef_in = abef, cdgh_in = cdgh;
        /* w[i & 3] holds W[4i..4i+3]; before it is overwritten in round
         * group i it holds the group four back, which the schedule needs */
        __m128i w[4];
        /* unrolled, so that w[] stays in registers (GCC 12 at -O2 keeps
         * these loops rolled and w[] on the stack otherwise) */
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(
                _mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            if (i >= 4) {
                /* W[t-7] for the four words t = 4i..4i+3 */
                __m128i w7 =
                    _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4);
                __m128i t = _mm_add_epi32(
                    _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]), w7);
                w[i & 3] = _mm_sha256msg2_epu32(t, w[(i + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(
                w[i & 3], _mm_loadu_si128((const __m128i *)&K[4 * i]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh,
                                         _mm_shuffle_epi32(wk, 0x0e));
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }

    /* back from ABEF/CDGH to h[0..7] in order */
    __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    abcd = _mm_blend_epi16(feba, dchg, 0xf0);
    efgh = _mm_alignr_epi8(dchg, feba, 8);
    _mm_storeu_si128((__m128i *)&h[0], abcd);
    _mm_storeu_si128((__m128i *)&h[4], efgh);
}

/* Chosen once, by the constructor below, before main (and before any
 * hash): the portable block() until then, and wherever SHA-NI is missing. */
static int use_shani;

__attribute__((constructor)) static void choose_blocks(void)
{
    /* __builtin_cpu_supports reads what libgcc's own constructor fills in,
     * which may not have run before this one: initialise it here. */
    __builtin_cpu_init();
    use_shani = __builtin_cpu_supports("sha") &&
                __builtin_cpu_supports("sse4.1") &&
                __builtin_cpu_supports("ssse3");
}
#endif

/* n consecutive 64-byte blocks, with the fastest code this CPU runs */
static void blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
#if SHA256_X86
    if (use_shani) {
        blocks_shani(h, p, n);
        return;
    }
#endif
    for (; n > 0; n--, p += 64)
        block(h, p);
}

void sha256_force_portable(int on)
{
#if SHA256_X86
    if (on)
        use_shani = 0;
    else
        choose_blocks();
#else
    (void)on;
#endif
}

const char *sha256_impl(void)
{
#if SHA256_X86
    if (use_shani)
        return "sha-ni";
#endif
    return "portable";
}

void sha256_init(sha256_ctx *c)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof H0);
    c->len = 0;
    c->n = 0;
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->len += len;
    if (c->n > 0) {
        size_t take = 64 - c->n < len ? 64 - c->n : len;
        memcpy(c->buf + c->n, p, take);
        c->n += take;
        p += take;
        len -= take;
        if (c->n < 64)
            return;
        blocks(c->h, c->buf, 1);
        c->n = 0;
    }
    size_t full = len / 64;
    if (full > 0) {
        /* all at once: the SHA-NI code keeps the state in registers
         * across them */
        blocks(c->h, p, full);
        p += 64 * full;
        len -= 64 * full;
    }
    memcpy(c->buf, p, len);
    c->n = len;
}

void sha256_final(sha256_ctx *c, unsigned char out[SHA256_LEN])
{
    /* The padding is written straight into the buffer (0x80, zeros up to
     * 56 mod 64, the big-endian bit length): feeding it through
     * sha256_update a byte at a time cost more than a block. buf always has
     * room for the 0x80, since update leaves at most 63 bytes waiting. */
    uint64_t bits = c->len * 8;
    size_t n = c->n;
    c->buf[n++] = 0x80;
    if (n > 56) {
        /* no room left for the length: it goes in a block of its own */
        memset(c->buf + n, 0, 64 - n);
        blocks(c->h, c->buf, 1);
        n = 0;
    }
    memset(c->buf + n, 0, 56 - n);
    for (int i = 0; i < 8; i++)
        c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    blocks(c->h, c->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

void sha256_hex(const unsigned char d[SHA256_LEN],
                char out[SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[SHA256_HEX_LEN] = '\0';
}

void sha256_hex_of(const void *data, size_t len,
                   char out[SHA256_HEX_LEN + 1])
{
    sha256_ctx c;
    unsigned char d[SHA256_LEN];
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, d);
    sha256_hex(d, out);
}
