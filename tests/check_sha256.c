/*
 * check_sha256.c - core/sha256.c against the FIPS 180-4 example vectors
 * and, for every length from 0 to 300 bytes (every padding case, several
 * blocks, updates split at every offset), against Python's hashlib.
 *
 * sha256.c has two block functions, the portable one and, on x86-64 CPUs
 * with the SHA extensions, SHA-NI. Every digest test is a loop test run
 * once on each (_i == 0: the fastest this CPU has, _i == 1: forced
 * portable), and the two are compared with each other on random messages
 * cut into random pieces. Valgrind hides the SHA extensions from the
 * program, so under valgrind both runs take the portable path.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static void digest_of(const char *s, char out[SHA256_HEX_LEN + 1])
{
    sha256_hex_of(s, strlen(s), out);
}

START_TEST(fips_vectors)
{
    sha256_force_portable(_i);
    char h[SHA256_HEX_LEN + 1];
    digest_of("", h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb924"
                        "27ae41e4649b934ca495991b7852b855");
    digest_of("abc", h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223"
                        "b00361a396177a9cb410ff61f20015ad");
    digest_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039"
                        "a33ce45964ff2167f6ecedd419db06c1");
    /* a million 'a', fed in uneven pieces */
    sha256_ctx c;
    unsigned char d[SHA256_LEN];
    char buf[997];
    memset(buf, 'a', sizeof buf);
    sha256_init(&c);
    size_t left = 1000000;
    while (left > 0) {
        size_t n = left < sizeof buf ? left : sizeof buf;
        sha256_update(&c, buf, n);
        left -= n;
    }
    sha256_final(&c, d);
    sha256_hex(d, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67"
                        "f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

static unsigned char byte_at(size_t len, size_t i)
{
    return (unsigned char)((i * 131 + len * 7 + 3) & 0xff);
}

START_TEST(against_hashlib)
{
    FILE *py = popen(
        "python3 -c 'import hashlib\n"
        "for n in range(301):\n"
        "    b = bytes((i * 131 + n * 7 + 3) & 0xff for i in range(n))\n"
        "    print(hashlib.sha256(b).hexdigest())'",
        "r");
    ck_assert_ptr_nonnull(py);
    sha256_force_portable(_i);
    char line[128];
    unsigned char data[300];
    for (size_t n = 0; n <= 300; n++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof line, py));
        line[strcspn(line, "\n")] = '\0';
        for (size_t i = 0; i < n; i++)
            data[i] = byte_at(n, i);
        char h[SHA256_HEX_LEN + 1];
        sha256_hex_of(data, n, h);
        ck_assert_msg(strcmp(h, line) == 0, "length %zu: %s, hashlib %s", n,
                      h, line);
        /* the same bytes in two updates, split at every offset */
        for (size_t cut = 0; cut <= n; cut += 13) {
            sha256_ctx c;
            unsigned char d[SHA256_LEN];
            sha256_init(&c);
            sha256_update(&c, data, cut);
            sha256_update(&c, data + cut, n - cut);
            sha256_final(&c, d);
            sha256_hex(d, h);
            ck_assert_msg(strcmp(h, line) == 0, "length %zu cut %zu", n, cut);
        }
    }
    ck_assert_int_eq(pclose(py), 0);
}
END_TEST

/* SHA-NI is what runs wherever the CPU has it: without this, a dispatch
 * that never picks it would leave every other test passing on the
 * portable path twice. */
START_TEST(fast_path_chosen)
{
    sha256_force_portable(0);
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") &&
        __builtin_cpu_supports("ssse3"))
        ck_assert_str_eq(sha256_impl(), "sha-ni");
    else
        ck_assert_str_eq(sha256_impl(), "portable");
#else
    ck_assert_str_eq(sha256_impl(), "portable");
#endif
    sha256_force_portable(1);
    ck_assert_str_eq(sha256_impl(), "portable");
    sha256_force_portable(0);
}
END_TEST

static unsigned char edge_byte(size_t len, size_t i)
{
    return (unsigned char)((i * 31 + len * 11 + 5) & 0xff);
}

static unsigned char big_byte(uint64_t i)
{
    return (unsigned char)((i * i >> 3 ^ i) & 0xff);
}

/* Lengths either side of where the padding needs a second block (55/56)
 * and of the block boundaries, plus a 1 MB message in odd pieces and in
 * one update (15,625 blocks handed to the block function at once).
 * Expected digests from Python:
 *   hashlib.sha256(bytes((i * 31 + n * 11 + 5) & 0xff
 *                        for i in range(n))).hexdigest()
 *   hashlib.sha256(bytes(((i * i) >> 3 ^ i) & 0xff
 *                        for i in range(1 << 20))).hexdigest() */
START_TEST(block_edges)
{
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {
        {0, "e3b0c44298fc1c149afbf4c8996fb924"
            "27ae41e4649b934ca495991b7852b855"},
        {1, "c555eab45d08845ae9f10d452a99bfcb"
            "06f74a50b988fe7e48dd323789b88ee3"},
        {55, "14bacec8ec0e08b14858ab16e42c7441"
            "2590efcb2862478f07c0e094cbf5460a"},
        {56, "aff3b523f288ca074edba4d6ff3029dd"
            "9ac35068510fa8f893fc55a2caf98040"},
        {63, "1298ec2c9f20f1128bad04345247e219"
            "f5dd20e3dfd8de94f0cfb363baf13431"},
        {64, "6fb7c304c279f2a7a317038b5a04e262"
            "6c06fbfdd59e250d2e77bc667aa09815"},
        {65, "91e9575bcf1ce3e4be94aadaa9820a99"
            "1f613ec48d9ac71ca9e51ea461aeaa3c"},
        {119, "3c0370b149eb580d770abc3895f687d7"
            "9f40c9aa1b9fbf46a46063992e4e246b"},
        {120, "3350719daf22ca95198b41638f7de081"
            "009cfa391c0e4c5ebdf0e1464264e9b7"},
        {127, "4bd076c2ad2deae5ec8915ca3212a229"
            "ebb6b22462f61377c2a76870fe8fd363"},
        {128, "e7b8fcb06f738dc3e1ae3cdc63f4bcbb"
            "ebcc0b88c2d3b2961c124e845464f66e"},
        {1000, "93104d5eb14e314fcac7a24d5f9a1a9c"
            "4dbd5b605cd454fc6eb0093a89a0c50e"},
    };
    sha256_force_portable(_i);
    unsigned char data[1000];
    char h[SHA256_HEX_LEN + 1];
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        for (size_t i = 0; i < v[k].len; i++)
            data[i] = edge_byte(v[k].len, i);
        sha256_hex_of(data, v[k].len, h);
        ck_assert_msg(strcmp(h, v[k].hex) == 0, "length %zu: %s", v[k].len,
                      h);
    }

    static const char big_hex[] =
        "6db8d2bfeb4daba6e227416c81437b0cc63344c33787c61d6ff3a32de194a340";
    const size_t big_len = (size_t)1 << 20;
    unsigned char *big = malloc(big_len);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = big_byte(i);
    sha256_hex_of(big, big_len, h);
    ck_assert_str_eq(h, big_hex);
    /* pieces of 1, 2, 3 ... 200 bytes, then again from 1: some land the
     * buffer exactly on a block edge, some hand over several blocks */
    sha256_ctx c;
    unsigned char d[SHA256_LEN];
    sha256_init(&c);
    size_t off = 0, piece = 1;
    while (off < big_len) {
        size_t n = piece < big_len - off ? piece : big_len - off;
        sha256_update(&c, big + off, n);
        off += n;
        piece = piece % 200 + 1;
    }
    sha256_final(&c, d);
    sha256_hex(d, h);
    ck_assert_str_eq(h, big_hex);
    free(big);
}
END_TEST

/* xorshift64: the same "random" messages and cuts on every run */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* data[0..len) hashed in random pieces (empty ones included) */
static void digest_in_pieces(const unsigned char *data, size_t len,
                             uint64_t *rng, unsigned char out[SHA256_LEN])
{
    sha256_ctx c;
    sha256_init(&c);
    size_t off = 0;
    while (off < len) {
        size_t n = next_rand(rng) % 150;
        if (n > len - off)
            n = len - off;
        sha256_update(&c, data + off, n);
        off += n;
    }
    sha256_final(&c, out);
}

START_TEST(paths_agree)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    unsigned char data[300];
    for (size_t len = 0; len <= 300; len++) {
        for (size_t i = 0; i < len; i++)
            data[i] = (unsigned char)next_rand(&rng);
        for (int round = 0; round < 4; round++) {
            unsigned char fast[SHA256_LEN], portable[SHA256_LEN];
            sha256_force_portable(0);
            digest_in_pieces(data, len, &rng, fast);
            sha256_force_portable(1);
            digest_in_pieces(data, len, &rng, portable);
            ck_assert_msg(memcmp(fast, portable, SHA256_LEN) == 0,
                          "length %zu round %d: the block functions differ",
                          len, round);
        }
    }
    sha256_force_portable(0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("digests");
    tcase_add_test(tc, fast_path_chosen);
    tcase_add_loop_test(tc, fips_vectors, 0, 2);
    tcase_add_loop_test(tc, against_hashlib, 0, 2);
    tcase_add_loop_test(tc, block_edges, 0, 2);
    tcase_add_test(tc, paths_agree);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
