/*
 * fuzz_fmp_json.c - libFuzzer harness for the FMP answer reader
 * (plugins/fmp/fmp_json.c): jansson for the shape, its own scanner for the
 * exact price text. The input is an HTTP body exactly as received: it is
 * copied to a buffer of its own size, with no NUL after it, so a read past
 * the body is an ASan error. Also fed to fmp_number_to_dec as a number's
 * text. On a data answer every item must be self-consistent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmp_int.h"
#include "options.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_fmp_json: check failed: %s (line %d)\n",   \
                    #cond, __LINE__);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static capalloc_host host;
    if (host.struct_size == 0) {
        host_init(&host, NULL, "prices", "fmp");
        host_set_verbosity(CAPALLOC_LOG_ERROR);
    }
    char *body = malloc(size ? size : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);

    fmp_body b;
    memset(&b, 0, sizeof b);
    capalloc_status st = fmp_parse_body(&host, body, size, &b);
    CHECK(st == CAPALLOC_OK || st == CAPALLOC_ERR_NOMEM);
    if (st == CAPALLOC_OK) {
        switch (b.kind) {
        case FMP_BODY_DATA:
            for (size_t i = 0; i < b.n_items; i++) {
                const fmp_item *it = &b.items[i];
                CHECK(memchr(it->price_text, '\0', sizeof it->price_text));
                if (it->has_price && !it->bad_price && !it->unreadable) {
                    char text[CAPALLOC_DEC_MAX_TEXT];
                    capalloc_dec back;
                    host.dec_format(it->price, 0, text, sizeof text);
                    CHECK(host.dec_parse(text, &back) == CAPALLOC_OK &&
                          back.micros == it->price.micros);
                }
            }
            break;
        case FMP_BODY_ERROR:
        case FMP_BODY_NOT_JSON:
        case FMP_BODY_OTHER:
            CHECK(b.msg != NULL);
            break;
        default:
            CHECK(!"unknown body kind");
        }
    }
    fmp_body_free(&b);

    capalloc_dec d;
    int rounded = 0;
    st = fmp_number_to_dec(&host, body, size, &d, &rounded);
    CHECK(st == CAPALLOC_OK || st == CAPALLOC_ERR_OVERFLOW ||
          st == CAPALLOC_ERR_INVALID);
    /* Without an exponent or rounding, the exact reading must agree with
     * the core's parser on the same text. */
    if (st == CAPALLOC_OK && !rounded && size < 64 &&
        memchr(body, 'e', size) == NULL && memchr(body, 'E', size) == NULL) {
        char text[64];
        capalloc_dec core;
        memcpy(text, body, size);
        text[size] = '\0';
        CHECK(host.dec_parse(text, &core) == CAPALLOC_OK);
        CHECK(core.micros == d.micros);
    }
    free(body);
    return 0;
}
