/*
 * fuzz_prices_csv.c - libFuzzer harness for the "file" price source's CSV
 * reader (plugins/file/file_csv.c), run through the core's real host table
 * (options.c's host_init: set_error, dec_parse). The input is the file's
 * bytes. On success the table must be what the plugin's lookups rely on:
 * sorted by ticker without duplicates, every ticker non-empty and unquoted,
 * every price positive.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_csv.h"
#include "options.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_prices_csv: check failed: %s (line %d)\n", \
                    #cond, __LINE__);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static capalloc_host host;
    if (host.struct_size == 0) {
        host_init(&host, NULL, "prices", "file");
        host_set_verbosity(CAPALLOC_LOG_ERROR);
    }
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    price_entry *p = NULL;
    size_t n = 0;
    capalloc_err err;
    memset(&err, 0, sizeof err);
    capalloc_status st =
        file_csv_parse(&host, "prices.csv", text, size, &p, &n, &err);
    if (st != CAPALLOC_OK) {
        CHECK(st == CAPALLOC_ERR_INVALID || st == CAPALLOC_ERR_NOMEM);
        CHECK(p == NULL && n == 0);
        CHECK(strncmp(err.msg, "prices.csv:", 11) == 0 ||
              st == CAPALLOC_ERR_NOMEM);
    } else {
        CHECK(n == 0 || p != NULL);
        for (size_t i = 0; i < n; i++) {
            CHECK(p[i].ticker[0] != '\0' && strchr(p[i].ticker, '"') == NULL);
            CHECK(strchr(p[i].ticker, ',') == NULL);
            CHECK(p[i].price.micros > 0);
            CHECK(p[i].line >= 1);
            CHECK(i == 0 || strcmp(p[i - 1].ticker, p[i].ticker) < 0);
        }
    }
    free(p);
    free(text);
    return 0;
}
