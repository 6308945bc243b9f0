/*
 * positions_csv.c - reading a positions file (see positions_csv.h).
 *
 * One pass reads the rows in file order and checks each on its own (three
 * fields, a known strategy, a ticker, a quantity); the strategies are a
 * sorted copy of the ids searched with bsearch(). Duplicates are found
 * afterwards by sorting (portfolio, ticker, line) keys: in each run of
 * equal keys, the second is the earliest repeat of that position. When the
 * pass stopped at a bad line, a duplicate found among the rows before it
 * wins, since it comes first in the file: the message is the one a reader
 * checking line by line would give, at O(n log n) instead of O(n^2).
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include "positions_csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

#define MAX_TICKER 64

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Blanks (and the line end) off both ends, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

void positions_csv_free(positions_csv *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free((char *)p->rows[i].portfolio_id);
        free((char *)p->rows[i].ticker);
    }
    free(p->rows);
    free(p->lines);
    free(p->portfolios);
    memset(p, 0, sizeof *p);
}

static int oom(cap_error *e)
{
    return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
}

static int add_row(positions_csv *p, const char *id, const char *ticker,
                   capalloc_dec q, size_t line)
{
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        capalloc_position_row *nr = realloc(p->rows, ncap * sizeof *nr);
        if (nr == NULL)
            return -1;
        p->rows = nr;
        size_t *nl = realloc(p->lines, ncap * sizeof *nl);
        if (nl == NULL)
            return -1;
        p->lines = nl;
        p->cap = ncap;
    }
    char *kid = strdup(id), *kt = strdup(ticker);
    if (kid == NULL || kt == NULL) {
        free(kid);
        free(kt);
        return -1;
    }
    p->rows[p->n] = (capalloc_position_row){kid, kt, q};
    p->lines[p->n] = line;
    p->n++;
    return 0;
}

/* Check one data line (trimmed, not blank, not a comment) and add it.
 * *header is 1 until the first data line has been seen. */
static int read_line(positions_csv *p, char *s, const char *path, size_t line,
                     int *header, const char *const *ids, size_t n_ids,
                     const char *owner, cap_error *e)
{
    char *f1 = s, *f2 = strchr(f1, ','), *f3 = f2 ? strchr(f2 + 1, ',') : NULL;
    if (f2 == NULL || f3 == NULL || strchr(f3 + 1, ',') != NULL)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "%s:%zu: expected 'portfolio_id,ticker,quantity'",
                        path, line);
    *f2++ = '\0';
    *f3++ = '\0';
    f1 = trim(f1);
    f2 = trim(f2);
    f3 = trim(f3);
    int first = *header;
    *header = 0;
    if (first && strcmp(f1, "portfolio_id") == 0 && strcmp(f2, "ticker") == 0)
        return 0; /* the header line */
    if (n_ids == 0 || bsearch(&f1, ids, n_ids, sizeof *ids, cmp_str) == NULL)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "%s:%zu: portfolio '%s' is not a strategy portfolio "
                        "of %s",
                        path, line, f1, owner);
    if (*f2 == '\0' || strlen(f2) > MAX_TICKER)
        return cap_fail(e, CAP_EXIT_USAGE, "%s:%zu: bad ticker '%s'", path,
                        line, f2);
    capalloc_dec q;
    capalloc_status st = dec_parse(f3, &q);
    if (st != CAPALLOC_OK || dec_is_neg(q))
        return cap_fail(e, CAP_EXIT_USAGE,
                        "%s:%zu: quantity '%s' for %s is not a non-negative "
                        "exact decimal (at most 6 decimal places)",
                        path, line, f3, f2);
    return add_row(p, f1, f2, q, line) ? oom(e) : 0;
}

typedef struct row_key {
    const char *id, *ticker;
    size_t line;
} row_key;

static int cmp_key(const void *a, const void *b)
{
    const row_key *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c == 0)
        c = strcmp(x->ticker, y->ticker);
    if (c == 0)
        c = (x->line > y->line) - (x->line < y->line);
    return c;
}

/* Sort the rows' keys; report the duplicate that comes first in the file
 * (returns its exit code), else fill p->portfolios. */
static int check_rows(positions_csv *p, const char *path, cap_error *e)
{
    if (p->n == 0)
        return 0;
    row_key *k = malloc(p->n * sizeof *k);
    if (k == NULL)
        return oom(e);
    for (size_t i = 0; i < p->n; i++)
        k[i] = (row_key){p->rows[i].portfolio_id, p->rows[i].ticker,
                         p->lines[i]};
    qsort(k, p->n, sizeof *k, cmp_key);
    const row_key *dup = NULL, *first = NULL;
    size_t n_ids = 1, run = 0; /* k[run]: the first of k[i]'s run */
    for (size_t i = 1; i < p->n; i++) {
        int same_id = strcmp(k[i - 1].id, k[i].id) == 0;
        n_ids += !same_id;
        if (!same_id || strcmp(k[i - 1].ticker, k[i].ticker) != 0)
            run = i;
        else if (i == run + 1 && (dup == NULL || k[i].line < dup->line)) {
            dup = &k[i]; /* the second of its run: the earliest repeat */
            first = &k[run];
        }
    }
    if (dup != NULL) {
        int rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%zu: position %s/%s given twice (first on line "
                          "%zu)",
                          path, dup->line, dup->id, dup->ticker, first->line);
        free(k);
        return rc;
    }
    p->portfolios = malloc(n_ids * sizeof *p->portfolios);
    if (p->portfolios == NULL) {
        free(k);
        return oom(e);
    }
    p->portfolios[0] = k[0].id;
    p->n_portfolios = 1;
    for (size_t i = 1; i < p->n; i++)
        if (strcmp(k[i - 1].id, k[i].id) != 0)
            p->portfolios[p->n_portfolios++] = k[i].id;
    free(k);
    return 0;
}

int positions_csv_read(FILE *f, const char *path,
                       const char *const *strategies, size_t n_strategies,
                       const char *owner, positions_csv *out, cap_error *e)
{
    memset(out, 0, sizeof *out);
    const char **ids = NULL;
    if (n_strategies > 0) {
        ids = malloc(n_strategies * sizeof *ids);
        if (ids == NULL)
            return oom(e);
        memcpy(ids, strategies, n_strategies * sizeof *ids);
        qsort(ids, n_strategies, sizeof *ids, cmp_str);
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = 0, header = 1;
    ssize_t len;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)len;
        if (memchr(line, '\0', n) != NULL) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%zu: a NUL byte: not a text file", path, lineno);
            break;
        }
        if (n - (n > 0 && line[n - 1] == '\n') > POSITIONS_CSV_MAX_LINE) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%zu: line too long (more than %d characters)",
                          path, lineno, POSITIONS_CSV_MAX_LINE);
            break;
        }
        char *s = line;
        if (lineno == 1 && (unsigned char)s[0] == 0xEF &&
            (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 byte order mark */
        s = trim(s);
        if (*s == '\0' || *s == '#')
            continue;
        rc = read_line(out, s, path, lineno, &header, ids, n_strategies,
                       owner, e);
    }
    free(line);
    free(ids);
    if (rc == 0 && ferror(f))
        rc = cap_fail(e, CAP_EXIT_USAGE, "error reading %s", path);
    /* A duplicate before the bad line (if any) comes first in the file. */
    if (rc != CAP_EXIT_INTERNAL) {
        int drc = check_rows(out, path, e);
        if (drc != 0)
            rc = drc;
    }
    if (rc != 0)
        positions_csv_free(out);
    return rc;
}

int positions_csv_load(const char *path, const char *const *strategies,
                       size_t n_strategies, const char *owner,
                       positions_csv *out, cap_error *e)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cap_fail(e, CAP_EXIT_USAGE, "cannot open positions file %s: %s",
                        path, strerror(errno));
    int rc = positions_csv_read(f, path, strategies, n_strategies, owner, out,
                                e);
    fclose(f);
    return rc;
}
