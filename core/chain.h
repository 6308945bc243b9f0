/*
 * chain.h - the ledger's hash chain (issue 11, "a ledger that checks
 * itself").
 *
 * Every run carries prev_hash (the hash of the run before it; for the
 * first chained run, the anchor's hash or the genesis value) and run_hash,
 * the SHA-256 of a canonical byte form of the run; every trade row carries
 * a row hash linked to the row before it, so that a row edited, deleted
 * or inserted by hand can be named. The core computes all of it (the
 * writer in engine.c, `capalloc verify` in verify.c); the backends only
 * store the hex text.
 *
 * Canonical form, version CHAIN_VERSION: a tag ("capalloc/run/1",
 * "capalloc/row/1", "capalloc/anchor/1"), then fields in a fixed order,
 * each a 4-byte big-endian length then its bytes (NULL: the length
 * 0xffffffff and no bytes), integers and amounts as 8-byte big-endian
 * two's complement (amounts in micros), hashes as their 32 raw bytes.
 *
 * Changing anything here changes every hash: once a release has written
 * chained runs, add a field only with a new version, and keep verifying
 * the old one. (Before that release, fields such as a run's kind and the
 * run it reverses go into chain_run and chain_run_hash directly, and into
 * capalloc_journal_run so that verify can hand them back: the kind and
 * reverses are covered so, after the reference.)
 */
#ifndef CAPALLOC_CHAIN_H
#define CAPALLOC_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "capalloc_plugin.h"
#include "sha256.h"

#define CHAIN_VERSION 1

/* The run's own fields, as the core knows them before the backend assigns
 * a run id. The one place to add a field to what a run's hash covers
 * (chain_run_hash). */
typedef struct chain_run {
    const char *action;     /* "ADD", "WITHDRAW", "ALLOCATE", "IMPORT" */
    const char *run_date;   /* YYYY-MM-DD, or NULL/"" (same hash) */
    int forced;
    const char *created_at; /* ISO 8601 UTC, set by the core */
    const char *reference;  /* or NULL */
    const char *kind;       /* CAPALLOC_RUN_*; NULL or "" is "RUN" */
    int64_t reverses;       /* the run a REVERSE reverses, else 0 */
} chain_run;

/* A portfolio's balance after the run, for each portfolio the run's cash
 * trades touched, sorted by id (strcmp). */
typedef struct chain_balance {
    const char *portfolio_id;
    capalloc_dec cash;
} chain_balance;

/* The genesis value: prev_hash of the first run of a ledger chained from
 * its start. */
void chain_genesis(unsigned char out[SHA256_LEN]);

/* The hash of row number index (0-based) of a run, linked to link: the
 * run's prev_hash for its first row, else the previous row's hash. */
void chain_row_hash(const unsigned char link[SHA256_LEN], uint64_t index,
                    const char *portfolio_id, const char *ticker,
                    capalloc_side side, capalloc_dec quantity,
                    capalloc_dec arrival_price, capalloc_dec exec_price,
                    unsigned char out[SHA256_LEN]);

/* The run's hash: prev, its fields, how many rows and the last row's hash
 * (zeros when none: the rows are chained, so it covers all of them), the
 * balances it set (sorted, see chain_balance). */
void chain_run_hash(const unsigned char prev[SHA256_LEN], const chain_run *r,
                    uint64_t n_rows, const unsigned char last_row[SHA256_LEN],
                    const chain_balance *b, size_t n_balances,
                    unsigned char out[SHA256_LEN]);

/* The anchor's hash: the run it follows, the highest log id then, how
 * many runs there were, its time (as the backend hands it back: ISO 8601
 * UTC) and its balances (sorted by id, each portfolio once). */
void chain_anchor_hash(int64_t after_run_id, int64_t after_log_id,
                       int64_t runs_before, const char *created_at,
                       const chain_balance *b, size_t n_balances,
                       unsigned char out[SHA256_LEN]);

/* Sort balances by portfolio id (strcmp). */
void chain_sort_balances(chain_balance *b, size_t n);

/* 64 lower-case hex digits (as capalloc writes them) to bytes: 0, or -1
 * when not a hash (upper case included: not what capalloc wrote). */
int chain_from_hex(const char *hex, unsigned char out[SHA256_LEN]);

#endif
