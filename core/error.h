/*
 * error.h - how the core reports failures, and the exit codes the CLI
 * turns them into. Exit codes are part of the interface schedulers use:
 * documented in the README and `capalloc --help`; never renumber them.
 */
#ifndef CAPALLOC_ERROR_H
#define CAPALLOC_ERROR_H

#include <stddef.h>

typedef enum cap_exit {
    CAP_EXIT_OK = 0,           /* success, also "this date already ran" */
    CAP_EXIT_INTERNAL = 1,     /* a bug or out of memory */
    CAP_EXIT_USAGE = 2,        /* bad command line (unknown flag, bad amount) */
    CAP_EXIT_CONFIG = 3,       /* bad or missing configuration */
    CAP_EXIT_FUNDS = 4,        /* insufficient funds (withdrawal over balance) */
    CAP_EXIT_PRICE = 5,        /* a held ticker has no price, or the ledger's
                                  positions cannot be valued (a short, an
                                  overflow, a NAV <= 0 not accepted) */
    CAP_EXIT_PLUGIN = 6,       /* a plugin failed to load or failed at run time */
    CAP_EXIT_STORAGE = 7,      /* the ledger could not be read or written */
    CAP_EXIT_BUSY = 8,         /* another writer held the ledger too long; retry */
    CAP_EXIT_REVIEW = 9,       /* a large NAV move stopped the run: an
                                  operator looks, then --accept-moves */
    CAP_EXIT_INTEGRITY = 10,   /* `capalloc verify` found the ledger
                                  inconsistent (a balance that does not
                                  replay, a broken hash chain): the
                                  message names the run, row, portfolio */
    CAP_EXIT_PLAN = 11         /* a plan refused: stale, edited after
                                  approval, expired, not approved, made
                                  for another date (README "Plan, approve,
                                  apply") */
} cap_exit;

typedef struct cap_error {
    cap_exit code;
    char msg[2048];
} cap_error;

/* Set e (if not NULL) and return code. printf-style. */
int cap_fail(cap_error *e, cap_exit code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
