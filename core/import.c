/*
 * import.c - position import: a CSV of portfolio_id,ticker,quantity sets
 * positions; no cash moves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"

/* ------------------------------------------------------------------------ */
/* position import                                                           */
/* ------------------------------------------------------------------------ */

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

typedef struct import_rows {
    capalloc_position_row *rows;
    size_t n, cap;
    char **strs; /* owned strings */
    size_t n_strs, cap_strs;
} import_rows;

static void import_free(import_rows *ir)
{
    for (size_t i = 0; i < ir->n_strs; i++)
        free(ir->strs[i]);
    free(ir->strs);
    free(ir->rows);
}

static const char *keep(import_rows *ir, const char *s)
{
    if (GROW(ir->strs, ir->n_strs, ir->cap_strs))
        return NULL;
    char *d = strdup(s);
    if (d != NULL)
        ir->strs[ir->n_strs++] = d;
    return d;
}

static int parse_positions(engine *en, const char *path, const char **ids,
                           size_t n_ids, import_rows *ir, cap_error *e)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cap_fail(e, CAP_EXIT_USAGE, "cannot open positions file %s: %s",
                        path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0, seen_data = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = cap_fail(e, CAP_EXIT_USAGE, "%s:%d: line too long", path,
                          lineno);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *f1 = s, *f2 = strchr(f1, ','), *f3 = f2 ? strchr(f2 + 1, ',') : NULL;
        if (f2 == NULL || f3 == NULL || strchr(f3 + 1, ',') != NULL) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: expected 'portfolio_id,ticker,quantity'",
                          path, lineno);
            break;
        }
        *f2++ = '\0';
        *f3++ = '\0';
        f1 = trim(f1);
        f2 = trim(f2);
        f3 = trim(f3);
        if (!seen_data++ && strcmp(f1, "portfolio_id") == 0 &&
            strcmp(f2, "ticker") == 0)
            continue; /* the header line */
        int known = 0;
        for (size_t k = 0; k < n_ids && !known; k++)
            known = strcmp(ids[k], f1) == 0;
        if (!known) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: portfolio '%s' is not a strategy portfolio "
                          "of %s",
                          path, lineno, f1, en->cfg->path);
            break;
        }
        if (*f2 == '\0' || strlen(f2) > 64) {
            rc = cap_fail(e, CAP_EXIT_USAGE, "%s:%d: bad ticker '%s'", path,
                          lineno, f2);
            break;
        }
        /* Shorts are refused here as in the run (README "Data other
         * systems write"). No bound on the size: whether quantity x price
         * fits depends on a price import does not know; the run refuses a
         * value beyond range (exit 5, naming the row). */
        capalloc_dec q;
        capalloc_status st = dec_parse(f3, &q);
        if (st != CAPALLOC_OK || dec_is_neg(q)) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: quantity '%s' for %s is not a non-negative "
                          "exact decimal (at most 6 decimal places)",
                          path, lineno, f3, f2);
            break;
        }
        for (size_t k = 0; k < ir->n; k++)
            if (strcmp(ir->rows[k].portfolio_id, f1) == 0 &&
                strcmp(ir->rows[k].ticker, f2) == 0) {
                rc = cap_fail(e, CAP_EXIT_USAGE,
                              "%s:%d: position %s/%s given twice", path,
                              lineno, f1, f2);
                break;
            }
        if (rc)
            break;
        const char *kid = keep(ir, f1), *kt = keep(ir, f2);
        if (kid == NULL || kt == NULL || GROW(ir->rows, ir->n, ir->cap)) {
            rc = eng_oom(e);
            break;
        }
        ir->rows[ir->n++] = (capalloc_position_row){kid, kt, q};
    }
    if (rc == 0 && ferror(f))
        rc = cap_fail(e, CAP_EXIT_USAGE, "error reading %s", path);
    fclose(f);
    return rc;
}

int engine_import_positions(engine *en, const char *csv_path, int dry_run,
                            import_result *r, cap_error *e)
{
    memset(r, 0, sizeof *r);
    r->dry_run = dry_run;
    const char **ids = NULL;
    size_t n_ids = 0;
    int rc = strategy_ids(en, &ids, &n_ids, e);
    if (rc != 0)
        return rc;
    import_rows ir = {0};
    rc = parse_positions(en, csv_path, ids, n_ids, &ir, e);
    if (rc != 0)
        goto out;
    r->n_rows = ir.n;
    for (size_t k = 0; k < n_ids; k++)
        for (size_t i = 0; i < ir.n; i++)
            if (strcmp(ir.rows[i].portfolio_id, ids[k]) == 0) {
                r->n_portfolios++;
                break;
            }
    if (dry_run)
        goto out;
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        rc = eng_begin(en, CAPALLOC_TXN_WRITE, e);
        if (rc != 0)
            continue;
        ledger l = {0};
        rc = read_ledger(en, &l, e);
        if (rc < 0)
            eng_rollback(en);
        if (rc != 0)
            continue;
        /* Open the books of strategies that get positions but have none. */
        batch_buf b = {0};
        int bad = 0;
        for (size_t k = 0; k < n_ids && !bad; k++) {
            int has_rows = 0;
            for (size_t i = 0; i < ir.n && !has_rows; i++)
                has_rows = strcmp(ir.rows[i].portfolio_id, ids[k]) == 0;
            if (has_rows && find_cash(&l, ids[k]) == NULL)
                bad = add_cash(&b, ids[k], DEC_ZERO);
        }
        ledger_free(&l);
        if (bad) {
            batch_free(&b);
            eng_rollback(en);
            rc = eng_oom(e);
            break;
        }
        capalloc_write_batch wb = {"IMPORT", NULL, 0, en->cfg->currency,
                                   NULL, 0, b.cash, b.n_cash,
                                   ir.rows, ir.n, NULL};
        rc = eng_write_commit(en, &wb, e);
        batch_free(&b);
        if (rc == -2)
            rc = cap_fail(e, CAP_EXIT_STORAGE,
                          "storage refused the import as a duplicate run");
    }
    if (rc < 0)
        rc = eng_retries_exhausted(en, e);
out:
    import_free(&ir);
    free(ids);
    return rc;
}
