/*
 * positions_csv.h - the reader of a positions file, `positions import`'s
 * input: one row per holding,
 *
 *   # book of 2025-11-21
 *   portfolio_id,ticker,quantity
 *   1,AAPL,120
 *   2,BRK-B,10.5
 *
 * An optional header line `portfolio_id,ticker,...` (the first line that is
 * not blank or a comment); blank lines and lines starting with '#' are
 * ignored; blanks around lines and fields are trimmed; CRLF line ends and a
 * UTF-8 byte order mark (as spreadsheets write it) are accepted. Refused,
 * naming the file and line and the value at fault: a line that is not three
 * fields or longer than POSITIONS_CSV_MAX_LINE, a NUL byte, a portfolio
 * that is not one of the strategies, a ticker that is empty or longer than
 * 64 bytes, a quantity that is not an exact decimal (at most 6 places) or is
 * negative (short positions are not supported: capalloc values a strategy
 * as cash plus long holdings), a portfolio/ticker given twice (the line of
 * the second occurrence, and of the first).
 *
 * A pure reader: no engine, no storage, nothing written. It is
 * O(n log n) in the number of rows: the strategies are looked up by binary
 * search and duplicates found by sorting, so a book of 100,000 rows reads
 * in well under a second. The first error in file order is the one
 * reported, as a line-by-line reader would.
 */
#ifndef CAPALLOC_POSITIONS_CSV_H
#define CAPALLOC_POSITIONS_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "capalloc_plugin.h"
#include "error.h"

/* Longest line accepted, without its line end. */
#define POSITIONS_CSV_MAX_LINE 4094

typedef struct positions_csv {
    capalloc_position_row *rows; /* in file order; strings owned */
    size_t n;
    const char **portfolios;     /* the distinct portfolio ids of rows,
                                    sorted; borrowed from rows */
    size_t n_portfolios;
    /* private */
    size_t *lines;               /* rows[i] came from line lines[i] */
    size_t cap;
} positions_csv;

/* Read a positions file from f (named path in messages). strategies[0..n)
 * are the portfolio ids a row may name (any order; duplicates allowed);
 * owner names where they come from, in the message for an unknown one
 * (the config file). On success returns 0 and fills *out (free it with
 * positions_csv_free); on failure returns the exit code (CAP_EXIT_USAGE
 * for bad input, CAP_EXIT_INTERNAL for out of memory), fills e and leaves
 * *out empty. */
int positions_csv_read(FILE *f, const char *path,
                       const char *const *strategies, size_t n_strategies,
                       const char *owner, positions_csv *out, cap_error *e);

/* Open path and positions_csv_read() it. A file that cannot be opened is
 * CAP_EXIT_USAGE (it was named on the command line). */
int positions_csv_load(const char *path, const char *const *strategies,
                       size_t n_strategies, const char *owner,
                       positions_csv *out, cap_error *e);

/* Free what a read filled; *p is left empty. NULL or empty is fine. */
void positions_csv_free(positions_csv *p);

#endif
