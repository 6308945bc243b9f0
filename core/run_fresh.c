/*
 * run_fresh.c - the ledger change stamp: a real run reads and values the
 * fund once when nobody else wrote in between.
 *
 * A real run asks the policy in a read transaction (PHASE_POLICY, run.c)
 * and applies its weights under the write lock (PHASE_APPLY), which used
 * to read the whole ledger again and value it again only to find, almost
 * always, the same fund. The storage backend keeps a change stamp
 * (ledger_stamp, ABI 1.3): a number in the database that every write of
 * the books or the runs changes, by any writer, capalloc or not. The run
 * reads it with the policy's read; under the write lock it reads it again
 * (which, on postgres, also locks it: no other writer changes a book
 * before our commit) and, when equal, applies on the read it kept (the
 * ledger, the valuation in the report's strategies, the policy's
 * weights). When not equal, or with a backend without the stamp, the run
 * reads and values the fund again as before (and starts over when the
 * policy's inputs changed).
 *
 * Self-contained on purpose: fresh_note() at the end of the policy's read,
 * fresh_check() first thing under the write lock (see run.c).
 */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

int fresh_has_stamp(const engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    return CAPALLOC_HAS_FIELD(sp->header.struct_size, capalloc_storage_plugin,
                              ledger_stamp) &&
           sp->ledger_stamp != NULL;
}

void fresh_clear(fresh_read *f)
{
    ledger_free(&f->l);
    memset(f, 0, sizeof *f);
}

/* The stamp, in the open transaction: 0, -1 retry, or an exit code
 * (rolled back). */
static int read_stamp(engine *en, int64_t *stamp, cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    capalloc_status st =
        SP(en)->ledger_stamp(en->storage->state, stamp, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err,
                                "reading the ledger's change stamp", e);
    return 0;
}

int fresh_stamp(engine *en, fresh_read *f, cap_error *e)
{
    fresh_clear(f);
    if (!fresh_has_stamp(en))
        return 0;
    int rc = read_stamp(en, &f->stamp, e);
    if (rc == 0)
        f->has_stamp = 1;
    return rc;
}

void fresh_note(fresh_read *f, ledger *l, capalloc_dec master_positions)
{
    ledger_free(&f->l);
    if (!f->has_stamp) {
        ledger_free(l);
        return;
    }
    f->l = *l;
    memset(l, 0, sizeof *l);
    f->master_positions = master_positions;
    f->kept = 1;
}

int fresh_check(engine *en, fresh_read *f, ledger *l, int *reuse,
                cap_error *e)
{
    *reuse = 0;
    if (!f->kept)
        return 0;
    int64_t now = 0;
    int rc = read_stamp(en, &now, e);
    if (rc != 0) {
        fresh_clear(f);
        return rc;
    }
    if (now == f->stamp) {
        *l = f->l;
        memset(&f->l, 0, sizeof f->l);
        f->kept = 0;
        *reuse = 1;
    } else {
        fresh_clear(f); /* before the new read: one ledger in memory */
    }
    return 0;
}
