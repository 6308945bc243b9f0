/*
 * verify.h - `capalloc verify`: replay the ledger's journal and check it
 * (see verify.c).
 */
#ifndef CAPALLOC_VERIFY_H
#define CAPALLOC_VERIFY_H

#include <stdint.h>

#include "engine.h"
#include "sha256.h"

typedef struct verify_result {
    int64_t runs, rows;          /* runs and trade rows checked */
    int64_t first_run, last_run; /* 0: none */
    int anchored;                /* a ledger migrated from before the chain */
    int64_t anchor_after_run;    /* the runs up to this one are before it */
    int64_t portfolios;          /* balances compared with the books */
    capalloc_dec fund_total;     /* the sum of every cash balance */
    int total_overflow;          /* ... out of the decimal range */
    char head[SHA256_HEX_LEN + 1]; /* the last run's hash ("" when none) */
    int64_t faults;              /* what did not verify (0: sound) */
    int64_t head_run;            /* the run carrying verify_expect.head */
} verify_result;

/* What the operator kept outside the database (`verify --expect-head`,
 * `--expect-runs`): a run carrying head must be in the chain, and the
 * chain must hold at least runs runs. A chain alone cannot see its tail
 * truncated; against these it can. */
typedef struct verify_expect {
    const char *head;  /* 64 lower-case hex digits, or NULL */
    int64_t runs;      /* -1: not checked */
} verify_expect;

/* Read the ledger in a read transaction and check it. 0 when it is
 * sound; CAP_EXIT_INTEGRITY when not, with e->msg naming the first faults
 * (run, log row, portfolio, expected and found), one per line, and
 * r->faults how many; another exit code when it could not be read. */
int engine_verify(engine *en, verify_result *r, cap_error *e);
/* The same, also against what was kept elsewhere (x may be NULL). */
int engine_verify_expect(engine *en, const verify_expect *x,
                         verify_result *r, cap_error *e);

#endif
