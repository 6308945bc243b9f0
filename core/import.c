/*
 * import.c - position import: a CSV of portfolio_id,ticker,quantity
 * (read by positions_csv.c) sets positions; no cash moves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"
#include "positions_csv.h"

/* ------------------------------------------------------------------------ */
/* position import                                                           */
/* ------------------------------------------------------------------------ */

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
    positions_csv pc = {0};
    rc = positions_csv_load(csv_path, (const char *const *)ids, n_ids, en->cfg->path, &pc, e);
    if (rc != 0)
        goto out;
    r->n_rows = pc.n;
    r->n_portfolios = pc.n_portfolios;
    if (dry_run)
        goto out;
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        rc = eng_begin(en, CAPALLOC_TXN_WRITE, e);
        if (rc != 0)
            continue;
        /* the books of the imported portfolios only (read_cash), not
         * every position of the ledger */
        ledger l = {0};
        rc = read_books(en, (const char *const *)pc.portfolios,
                        pc.n_portfolios, &l, e);
        if (rc < 0)
            eng_rollback(en);
        if (rc != 0)
            continue;
        /* Open the books of strategies that get positions but have none. */
        batch_buf b = {0};
        int bad = 0;
        for (size_t k = 0; k < pc.n_portfolios && !bad; k++)
            if (find_cash(&l, pc.portfolios[k]) == NULL)
                bad = add_cash(&b, pc.portfolios[k], DEC_ZERO);
        ledger_free(&l);
        if (bad) {
            batch_free(&b);
            eng_rollback(en);
            rc = eng_oom(e);
            break;
        }
        capalloc_write_batch wb = {"IMPORT", NULL, 0, en->cfg->currency,
                                   NULL, 0, b.cash, b.n_cash,
                                   pc.rows, pc.n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
        rc = eng_write_commit(en, &wb, e);
        batch_free(&b);
        if (rc == -2)
            rc = cap_fail(e, CAP_EXIT_STORAGE,
                          "storage refused the import as a duplicate run");
    }
    if (rc < 0)
        rc = eng_retries_exhausted(en, e);
out:
    positions_csv_free(&pc);
    free(ids);
    return rc;
}
