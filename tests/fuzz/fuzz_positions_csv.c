/*
 * fuzz_positions_csv.c - libFuzzer harness for the positions file reader
 * (core/positions_csv.c). The input is the file's bytes, read through
 * fmemopen() exactly as positions_csv_load() reads a file; the strategies
 * are "1", "2", "10" and "A". On success the rows must be what the import
 * writes: strategies only, no position twice, tickers of 1 to 64 bytes,
 * quantities non-negative; the distinct portfolio list sorted and complete.
 * On failure: nothing returned, a message that starts with the file name.
 */
#define _GNU_SOURCE /* fmemopen */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "positions_csv.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_positions_csv: check failed: %s (line "    \
                    "%d)\n", #cond, __LINE__);                               \
            abort();                                                         \
        }                                                                    \
    } while (0)

static const char *const strategies[] = {"10", "A", "1", "2", "A"};

static int is_strategy(const char *id)
{
    for (size_t k = 0; k < sizeof strategies / sizeof *strategies; k++)
        if (strcmp(strategies[k], id) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    positions_csv p;
    cap_error e = {0};
    int rc = positions_csv_read(f, "pos.csv", strategies,
                                sizeof strategies / sizeof *strategies,
                                "fund.yaml", &p, &e);
    fclose(f);
    if (rc != 0) {
        CHECK(rc == CAP_EXIT_USAGE || rc == CAP_EXIT_INTERNAL);
        CHECK(p.rows == NULL && p.n == 0 && p.portfolios == NULL);
        CHECK(rc == CAP_EXIT_INTERNAL || strncmp(e.msg, "pos.csv:", 8) == 0);
        return 0;
    }
    /* Small inputs: the quadratic check is the oracle. */
    for (size_t i = 0; i < p.n; i++) {
        const capalloc_position_row *r = &p.rows[i];
        CHECK(is_strategy(r->portfolio_id));
        size_t tl = strlen(r->ticker);
        CHECK(tl >= 1 && tl <= 64);
        CHECK(r->quantity.micros >= 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(p.rows[j].portfolio_id, r->portfolio_id) != 0 ||
                  strcmp(p.rows[j].ticker, r->ticker) != 0);
    }
    size_t distinct = 0;
    for (size_t i = 0; i < p.n; i++) {
        size_t j = 0;
        while (j < i && strcmp(p.rows[j].portfolio_id, p.rows[i].portfolio_id))
            j++;
        distinct += j == i;
    }
    CHECK(p.n_portfolios == distinct);
    for (size_t k = 1; k < p.n_portfolios; k++)
        CHECK(strcmp(p.portfolios[k - 1], p.portfolios[k]) < 0);
    positions_csv_free(&p);
    return 0;
}
