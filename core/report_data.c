/*
 * report_data.c - many runs' records in one read transaction, for `capalloc
 * report` (see report_data.h).
 * Each run is copied by record.c's explain sink, as `capalloc explain`
 * copies one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "report_data.h"

static void free_all(run_explain *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_explain_free(&out[i]);
}

/* One attempt: 0, -1 to retry, or an exit code (e set). */
static int read_runs_once(engine *en, const int64_t *ids, size_t n,
                          run_explain *out, cap_error *e)
{
    int rc = eng_begin(en, CAPALLOC_TXN_READ, e);
    if (rc != 0)
        return rc;
    capalloc_err err = {{0}, {0}};
    capalloc_status st = CAPALLOC_OK;
    size_t i;
    int found = 1;
    for (i = 0; i < n && st == CAPALLOC_OK && found; i++) {
        explain_sink xs;
        capalloc_record_sink sink;
        explain_sink_init(&xs, &out[i], &sink);
        xs.kinds = SP(en)->header.abi_minor >= 3;
        found = 0;
        st = SP(en)->read_run(en->storage->state, ids[i], &sink, &found,
                              &err);
    }
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        free_all(out, n);
        return -1;
    }
    if (st != CAPALLOC_OK) {
        free_all(out, n);
        return eng_storage_fail(en, st, &err, "reading the runs' records", e);
    }
    eng_rollback(en); /* a read: nothing to commit */
    if (!found) {
        free_all(out, n);
        return cap_fail(e, CAP_EXIT_STORAGE,
                        "run %lld is listed in the history but has no "
                        "record",
                        (long long)ids[i - 1]);
    }
    return 0;
}

int engine_explain_runs(engine *en, const int64_t *ids, size_t n,
                        run_explain *out, cap_error *e)
{
    memset(out, 0, n * sizeof *out);
    if (!en->memory)
        return cap_fail(e, CAP_EXIT_STORAGE,
                        "storage '%s' keeps no record of the runs: the "
                        "report needs a backend built for ABI 1.1 or later",
                        en->storage->hdr->name);
    for (int attempt = 1; attempt <= en->max_attempts; attempt++) {
        int rc = read_runs_once(en, ids, n, out, e);
        if (rc != -1)
            return rc;
    }
    return eng_retries_exhausted(en, e);
}
