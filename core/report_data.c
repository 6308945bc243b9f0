/*
 * report_data.c - many runs' records in one read transaction, for `capalloc
 * report` (see report_data.h).
 *
 * The sink below copies a run's record like record.c's for `capalloc
 * explain` (which reads one run, found by date); record.c is not changed
 * here, so the two copies could later become one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "report_data.h"

typedef struct runs_sink {
    run_explain *x;
    size_t cap_v, cap_p;
} runs_sink;

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static capalloc_status s_run(void *ctx, const capalloc_run_info *info,
                             const char *action, int forced,
                             const char *version, const char *detail)
{
    run_explain *x = ((runs_sink *)ctx)->x;
    x->info = *info;
    snprintf(x->action, sizeof x->action, "%s", action ? action : "");
    x->forced = forced;
    free(x->capalloc_version);
    free(x->detail_json);
    x->capalloc_version = dup_or_empty(version);
    x->detail_json = dup_or_empty(detail);
    return x->capalloc_version && x->detail_json ? CAPALLOC_OK
                                                 : CAPALLOC_ERR_NOMEM;
}

static capalloc_status s_val(void *ctx, const capalloc_valuation *v)
{
    runs_sink *rs = ctx;
    run_explain *x = rs->x;
    if (GROW(x->v, x->nv, rs->cap_v))
        return CAPALLOC_ERR_NOMEM;
    capalloc_valuation c = *v;
    c.portfolio_id = dup_or_empty(v->portfolio_id);
    c.date = dup_or_empty(v->date);
    if (c.portfolio_id == NULL || c.date == NULL) {
        free((char *)c.portfolio_id);
        free((char *)c.date);
        return CAPALLOC_ERR_NOMEM;
    }
    x->v[x->nv++] = c;
    return CAPALLOC_OK;
}

static capalloc_status s_price(void *ctx, const capalloc_price_row *p)
{
    runs_sink *rs = ctx;
    run_explain *x = rs->x;
    if (GROW(x->p, x->np, rs->cap_p))
        return CAPALLOC_ERR_NOMEM;
    capalloc_price_row c = *p;
    c.ticker = dup_or_empty(p->ticker);
    if (c.ticker == NULL)
        return CAPALLOC_ERR_NOMEM;
    x->p[x->np++] = c;
    return CAPALLOC_OK;
}

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
        runs_sink rs = {&out[i], 0, 0};
        capalloc_record_sink sink = {&rs, s_run, s_val, s_price};
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
