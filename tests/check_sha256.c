/*
 * check_sha256.c - core/sha256.c against the FIPS 180-4 example vectors
 * and, for every length from 0 to 300 bytes (every padding case, several
 * blocks, updates split at every offset), against Python's hashlib.
 */
#include <check.h>
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

int main(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("digests");
    tcase_add_test(tc, fips_vectors);
    tcase_add_test(tc, against_hashlib);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
