/*
 * file_csv.h - internal to the "file" price source: reading its CSV text
 * into a table of prices. The format (see file.c for the whole contract):
 * an optional `ticker,price` header, '#' comments and blank lines ignored,
 * fields trimmed, CRLF and a UTF-8 BOM accepted; refused with the file and
 * line: not two fields, an empty or quoted ticker, a price that is not a
 * positive exact decimal, a ticker given twice, a NUL byte.
 */
#ifndef CAPALLOC_FILE_CSV_H
#define CAPALLOC_FILE_CSV_H

#include <stddef.h>

#include "capalloc_plugin.h"

typedef struct price_entry {
    const char *ticker; /* points into the parsed text */
    capalloc_dec price;
    size_t line;
} price_entry;

/* Parse text[0..len), which must be followed by a NUL (text[len] == '\0')
 * and is split in place: the tickers point into it. path names the file in
 * messages. On success *prices (malloc'd, sorted by ticker; free it) holds
 * *n entries; on failure err says why (through h->set_error), *prices is
 * NULL and *n 0. Returns CAPALLOC_ERR_INVALID for bad text,
 * CAPALLOC_ERR_NOMEM when out of memory. */
capalloc_status file_csv_parse(const capalloc_host *h, const char *path,
                               char *text, size_t len, price_entry **prices,
                               size_t *n, capalloc_err *err);

#endif
