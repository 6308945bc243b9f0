/*
 * record.c - the fund's memory for people: the history register
 * (`capalloc history`), one run's record (`capalloc explain`) and the
 * backfill of strategies' past NAVs (`capalloc history import`). Each is
 * one transaction; reading is one read_history or find_run + read_run.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"

static int need_memory(engine *en, cap_error *e)
{
    if (en->memory)
        return 0;
    const capalloc_plugin_header *h = en->storage->hdr;
    return cap_fail(e, CAP_EXIT_STORAGE,
                    "storage '%s' (plugin ABI %u.%u) keeps no record of the "
                    "runs: the fund's memory needs a backend built for ABI "
                    "1.1 or later",
                    h->name, (unsigned)h->abi_major, (unsigned)h->abi_minor);
}

/* ------------------------------------------------------------------------ */
/* capalloc history                                                          */
/* ------------------------------------------------------------------------ */

void history_report_free(history_report *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free((char *)h->rows[i].v.portfolio_id);
        free((char *)h->rows[i].v.date);
    }
    free(h->rows);
    for (size_t i = 0; i < h->n_fund; i++)
        free((char *)h->fund[i].date);
    free(h->fund);
    memset(h, 0, sizeof *h);
}

static int cmp_run_id(const void *a, const void *b)
{
    const capalloc_valuation *x = *(const capalloc_valuation *const *)a;
    const capalloc_valuation *y = *(const capalloc_valuation *const *)b;
    if (x->run_id != y->run_id)
        return x->run_id < y->run_id ? -1 : 1;
    /* the master first within a run */
    return (int)(y->flags & CAPALLOC_VAL_MASTER) -
           (int)(x->flags & CAPALLOC_VAL_MASTER);
}

/* The register's order: date, run, master first, portfolio. */
static int cmp_row(const void *a, const void *b)
{
    const history_row *x = a, *y = b;
    int c = strcmp(x->v.date, y->v.date);
    if (c == 0 && x->v.run_id != y->v.run_id)
        c = x->v.run_id < y->v.run_id ? -1 : 1;
    if (c == 0)
        c = (int)(y->v.flags & CAPALLOC_VAL_MASTER) -
            (int)(x->v.flags & CAPALLOC_VAL_MASTER);
    if (c == 0)
        c = strcmp(x->v.portfolio_id, y->v.portfolio_id);
    return c;
}

/* The fund's series from vs (sorted by portfolio, date, run): one point per
 * allocation run that recorded the master. */
static int fund_series(const val_set *vs, history_report *out)
{
    const capalloc_valuation **by = malloc((vs->n + 1) * sizeof *by);
    if (by == NULL)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < vs->n; i++)
        if (!(vs->v[i].flags & CAPALLOC_VAL_IMPORTED))
            by[m++] = &vs->v[i];
    sort_rows(by, m, sizeof *by, cmp_run_id);
    out->fund = calloc(m + 1, sizeof *out->fund);
    if (out->fund == NULL) {
        free(by);
        return -1;
    }
    for (size_t i = 0; i < m;) {
        size_t j = i;
        fund_obs f;
        memset(&f, 0, sizeof f);
        int has_master = 0;
        for (; j < m && by[j]->run_id == by[i]->run_id; j++) {
            if (by[j]->flags & CAPALLOC_VAL_MASTER) {
                has_master = 1;
                f.master_cash = by[j]->cash;
                f.master_transfer = by[j]->transfer;
            }
            if (dec_add(f.equity, by[j]->nav, &f.equity)) {
                free(by);
                return -2;
            }
        }
        if (has_master) {
            f.run_id = by[i]->run_id;
            f.date = strdup(by[i]->date);
            if (f.date == NULL) {
                free(by);
                return -1;
            }
            out->fund[out->n_fund++] = f;
        }
        i = j;
    }
    free(by);
    return history_fund(out->fund, out->n_fund) == CAPALLOC_OK ? 0 : -2;
}

int engine_history(engine *en, const char *from, const char *to,
                   const char *portfolio, history_report *out, cap_error *e)
{
    memset(out, 0, sizeof *out);
    int rc = need_memory(en, e);
    if (rc != 0)
        return rc;
    /* Everything up to `to`: a return at `from` needs the valuation
     * before it, and the fund's equity every portfolio's NAV. */
    capalloc_history_query q = {NULL, NULL, to, 0, NULL, 1};
    val_set vs;
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        rc = eng_begin(en, CAPALLOC_TXN_READ, e);
        if (rc == 0 && (rc = read_valuations(en, &q, &vs, e)) == 0)
            eng_rollback(en); /* a read: nothing to commit */
    }
    if (rc < 0)
        return eng_retries_exhausted(en, e);
    if (rc != 0)
        return rc;

    capalloc_dec *ret = calloc(vs.n + 1, sizeof *ret);
    int *has = calloc(vs.n + 1, sizeof *has);
    out->rows = calloc(vs.n + 1, sizeof *out->rows);
    int bad = ret == NULL || has == NULL || out->rows == NULL;
    if (!bad && history_returns(vs.v, vs.n, ret, has) != CAPALLOC_OK)
        bad = 2;
    if (!bad)
        bad = -fund_series(&vs, out);
    for (size_t i = 0; !bad && i < vs.n; i++) {
        capalloc_valuation *v = &vs.v[i];
        if ((from != NULL && strcmp(v->date, from) < 0) ||
            (portfolio != NULL && strcmp(v->portfolio_id, portfolio) != 0 &&
             !(v->flags & CAPALLOC_VAL_MASTER)))
            continue;
        /* the reserve is not a strategy: the fund's return is its own */
        int has_ret = has[i] && !(v->flags & CAPALLOC_VAL_MASTER);
        out->rows[out->n] = (history_row){*v, ret[i], has_ret};
        v->portfolio_id = NULL; /* moved to the report */
        v->date = NULL;
        out->n++;
    }
    free(ret);
    free(has);
    val_set_free(&vs);
    if (bad) {
        history_report_free(out);
        return bad == 2 ? cap_fail(e, CAP_EXIT_STORAGE,
                                   "arithmetic overflow computing returns "
                                   "from the recorded history")
                        : eng_oom(e);
    }
    sort_rows(out->rows, out->n, sizeof *out->rows, cmp_row);
    /* the fund's points within the range */
    size_t k = 0;
    for (size_t i = 0; i < out->n_fund; i++) {
        if (from != NULL && strcmp(out->fund[i].date, from) < 0) {
            free((char *)out->fund[i].date);
            continue;
        }
        out->fund[k++] = out->fund[i];
    }
    out->n_fund = k;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* capalloc explain                                                          */
/* ------------------------------------------------------------------------ */

void run_explain_free(run_explain *x)
{
    free(x->capalloc_version);
    free(x->detail_json);
    for (size_t i = 0; i < x->nv; i++) {
        free((char *)x->v[i].portfolio_id);
        free((char *)x->v[i].date);
    }
    free(x->v);
    for (size_t i = 0; i < x->np; i++)
        free((char *)x->p[i].ticker);
    free(x->p);
    memset(x, 0, sizeof *x);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static capalloc_status x_run(void *ctx, const capalloc_run_info *info,
                             const char *action, int forced,
                             const char *version, const char *detail)
{
    const explain_sink *xs = ctx;
    run_explain *x = xs->x;
    if (xs->kinds) {
        x->info = *info;
    } else { /* a backend before ABI 1.3: its struct ends before kind */
        memset(&x->info, 0, sizeof x->info);
        memcpy(&x->info, info, offsetof(capalloc_run_info, kind));
    }
    snprintf(x->action, sizeof x->action, "%s", action ? action : "");
    x->forced = forced;
    free(x->capalloc_version);
    free(x->detail_json);
    x->capalloc_version = dup_or_empty(version);
    x->detail_json = dup_or_empty(detail);
    return x->capalloc_version && x->detail_json ? CAPALLOC_OK
                                                 : CAPALLOC_ERR_NOMEM;
}

static capalloc_status x_val(void *ctx, const capalloc_valuation *v)
{
    explain_sink *xs = ctx;
    run_explain *x = xs->x;
    if (GROW(x->v, x->nv, xs->cap_v))
        return CAPALLOC_ERR_NOMEM;
    capalloc_valuation c;
    valuation_copy(&c, v, xs->kinds);
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

static capalloc_status x_price(void *ctx, const capalloc_price_row *p)
{
    explain_sink *xs = ctx;
    run_explain *x = xs->x;
    if (GROW(x->p, x->np, xs->cap_p))
        return CAPALLOC_ERR_NOMEM;
    capalloc_price_row c = *p;
    c.ticker = dup_or_empty(p->ticker);
    if (c.ticker == NULL)
        return CAPALLOC_ERR_NOMEM;
    x->p[x->np++] = c;
    return CAPALLOC_OK;
}

void explain_sink_init(explain_sink *xs, run_explain *x,
                       capalloc_record_sink *sink)
{
    *xs = (explain_sink){x, 0, 0, 0};
    *sink = (capalloc_record_sink){xs, x_run, x_val, x_price};
}

static int explain_once(engine *en, const char *date, int64_t run_id,
                        run_explain *out, cap_error *e)
{
    int rc = eng_begin(en, CAPALLOC_TXN_READ, e);
    if (rc != 0)
        return rc;
    capalloc_err err = {{0}, {0}};
    capalloc_run_info info;
    memset(&info, 0, sizeof info);
    info.run_id = run_id;
    int found = date == NULL;
    capalloc_status st =
        date == NULL ? CAPALLOC_OK
                     : SP(en)->find_run(en->storage->state, date, &info,
                                        &found, &err);
    if (st == CAPALLOC_OK && found) {
        explain_sink xs;
        capalloc_record_sink sink;
        explain_sink_init(&xs, out, &sink);
        xs.kinds = SP(en)->header.abi_minor >= 3;
        st = SP(en)->read_run(en->storage->state, info.run_id, &sink, &found,
                              &err);
    }
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        run_explain_free(out);
        return -1;
    }
    if (st != CAPALLOC_OK) {
        run_explain_free(out);
        return eng_storage_fail(en, st, &err, "reading the run's record", e);
    }
    eng_rollback(en);
    if (!found && date == NULL)
        return cap_fail(e, CAP_EXIT_USAGE, "no run %lld is recorded",
                        (long long)run_id);
    if (!found)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "no allocation run is recorded for %s", date);
    return 0;
}

static int explain_any(engine *en, const char *date, int64_t run_id,
                       run_explain *out, cap_error *e)
{
    memset(out, 0, sizeof *out);
    int rc = need_memory(en, e);
    for (int attempt = 1; rc == 0 && attempt <= en->max_attempts; attempt++) {
        rc = explain_once(en, date, run_id, out, e);
        if (rc != -1)
            return rc;
        rc = 0;
    }
    return rc ? rc : eng_retries_exhausted(en, e);
}

int engine_explain(engine *en, const char *date, run_explain *out,
                   cap_error *e)
{
    return explain_any(en, date, 0, out, e);
}

int engine_explain_run(engine *en, int64_t run_id, run_explain *out,
                       cap_error *e)
{
    return explain_any(en, NULL, run_id, out, e);
}

/* ------------------------------------------------------------------------ */
/* capalloc history import                                                   */
/* ------------------------------------------------------------------------ */

typedef struct import_hist {
    capalloc_valuation *v; /* strings owned */
    int *line;
    size_t n, cap, cap_line;
} import_hist;

static void import_hist_free(import_hist *ih)
{
    for (size_t i = 0; i < ih->n; i++) {
        free((char *)ih->v[i].portfolio_id);
        free((char *)ih->v[i].date);
    }
    free(ih->v);
    free(ih->line);
    memset(ih, 0, sizeof *ih);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
                     s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

typedef struct id_ref {
    const char *id;
} id_ref;

static int cmp_id_ref(const void *a, const void *b)
{
    return strcmp(((const id_ref *)a)->id, ((const id_ref *)b)->id);
}

/* Parse the CSV into ih; every row checked on its own (the ledger is
 * checked later). */
static int parse_history_csv(engine *en, const char *path, const id_ref *ids,
                             size_t n_ids, import_hist *ih, cap_error *e)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cap_fail(e, CAP_EXIT_USAGE, "cannot open history file %s: %s",
                        path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0, seen = 0;
    int mu = en->cfg->minor_units;
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
        char *fld[5] = {s, NULL, NULL, NULL, NULL};
        int nf = 1;
        for (char *p = s; *p; p++)
            if (*p == ',') {
                *p = '\0';
                if (nf < 5)
                    fld[nf] = p + 1;
                nf++;
            }
        if (nf < 3 || nf > 4) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: expected 'date,portfolio_id,nav' or "
                          "'date,portfolio_id,nav,flow' (%d fields)",
                          path, lineno, nf);
            break;
        }
        for (int i = 0; i < nf; i++)
            fld[i] = trim(fld[i]);
        if (!seen++ && strcmp(fld[0], "date") == 0 &&
            strcmp(fld[1], "portfolio_id") == 0)
            continue; /* the header line */
        if (!date_valid(fld[0])) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: date '%s' is not a real day written "
                          "YYYY-MM-DD",
                          path, lineno, fld[0]);
            break;
        }
        id_ref key = {fld[1]};
        if (find_row(&key, ids, n_ids, sizeof *ids, cmp_id_ref) == NULL) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: portfolio '%s' is not a strategy portfolio "
                          "of %s",
                          path, lineno, fld[1], en->cfg->path);
            break;
        }
        capalloc_dec nav, flow = DEC_ZERO;
        if (dec_parse_places(fld[2], mu, &nav) != CAPALLOC_OK ||
            dec_is_neg(nav)) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: nav '%s' of portfolio '%s' is not a "
                          "non-negative amount with at most %d decimal "
                          "places",
                          path, lineno, fld[2], fld[1], mu);
            break;
        }
        if (nf == 4 && dec_parse_places(fld[3], mu, &flow) != CAPALLOC_OK) {
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "%s:%d: flow '%s' of portfolio '%s' is not an "
                          "amount with at most %d decimal places",
                          path, lineno, fld[3], fld[1], mu);
            break;
        }
        if (GROW(ih->v, ih->n, ih->cap) ||
            GROW(ih->line, ih->n, ih->cap_line)) {
            rc = eng_oom(e);
            break;
        }
        capalloc_valuation v;
        memset(&v, 0, sizeof v);
        v.flags = CAPALLOC_VAL_IMPORTED;
        v.nav = nav;
        v.transfer = flow;
        v.date = strdup(fld[0]);
        v.portfolio_id = strdup(fld[1]);
        if (v.date == NULL || v.portfolio_id == NULL) {
            free((char *)v.date);
            free((char *)v.portfolio_id);
            rc = eng_oom(e);
            break;
        }
        ih->line[ih->n] = lineno;
        ih->v[ih->n++] = v;
    }
    if (rc == 0 && ferror(f))
        rc = cap_fail(e, CAP_EXIT_USAGE, "error reading %s", path);
    fclose(f);
    if (rc == 0 && ih->n == 0)
        rc = cap_fail(e, CAP_EXIT_USAGE, "%s: no history rows", path);
    return rc;
}

typedef struct row_ref {
    const capalloc_valuation *v;
    int line;
} row_ref;

static int cmp_row_ref(const void *a, const void *b)
{
    const row_ref *x = a, *y = b;
    int c = strcmp(x->v->portfolio_id, y->v->portfolio_id);
    if (c == 0)
        c = strcmp(x->v->date, y->v->date);
    if (c == 0)
        c = (x->line > y->line) - (x->line < y->line);
    return c;
}

/* The file against itself and the ledger: no (portfolio, date) twice, none
 * already recorded, every date before the portfolio's first run. rows is
 * sorted by portfolio, date, line; recorded (vs) by portfolio, date, run. */
static int check_history_rows(const char *path, const row_ref *rows,
                              size_t n, const val_set *vs, cap_error *e)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(rows[i].v->portfolio_id, rows[i - 1].v->portfolio_id) ==
                0 &&
            strcmp(rows[i].v->date, rows[i - 1].v->date) == 0)
            return cap_fail(e, CAP_EXIT_USAGE,
                            "%s:%d: portfolio '%s' on %s is already given "
                            "on line %d",
                            path, rows[i].line, rows[i].v->portfolio_id,
                            rows[i].v->date, rows[i - 1].line);
    /* merge the two sorted lists, one pass over each */
    const capalloc_valuation *rec = vs->v;
    size_t g = 0, j = 0;
    const char *pf = NULL, *first_run = NULL;
    for (size_t i = 0; i < n; i++) {
        const capalloc_valuation *r = rows[i].v;
        if (pf == NULL || strcmp(pf, r->portfolio_id) != 0) {
            pf = r->portfolio_id;
            first_run = NULL;
            while (g < vs->n && strcmp(rec[g].portfolio_id, pf) < 0)
                g++;
            for (size_t k = g;
                 k < vs->n && strcmp(rec[k].portfolio_id, pf) == 0; k++)
                if (!(rec[k].flags & CAPALLOC_VAL_IMPORTED)) {
                    first_run = rec[k].date; /* sorted by date */
                    break;
                }
            j = g;
        }
        while (j < vs->n && strcmp(rec[j].portfolio_id, pf) == 0 &&
               strcmp(rec[j].date, r->date) < 0)
            j++;
        if (j < vs->n && strcmp(rec[j].portfolio_id, pf) == 0 &&
            strcmp(rec[j].date, r->date) == 0)
            return cap_fail(e, CAP_EXIT_USAGE,
                            "%s:%d: portfolio '%s' on %s is already recorded "
                            "in the ledger (%s); nothing was imported",
                            path, rows[i].line, pf, r->date,
                            (rec[j].flags & CAPALLOC_VAL_IMPORTED)
                                ? "imported before"
                                : "by an allocation run");
        if (first_run != NULL && strcmp(r->date, first_run) > 0)
            return cap_fail(e, CAP_EXIT_USAGE,
                            "%s:%d: %s is after portfolio '%s''s first "
                            "allocation run (%s): history import is for the "
                            "time before capalloc; nothing was imported",
                            path, rows[i].line, r->date, pf, first_run);
    }
    return 0;
}

int engine_history_import(engine *en, const char *csv_path, int dry_run,
                          import_result *r, cap_error *e)
{
    memset(r, 0, sizeof *r);
    r->dry_run = dry_run;
    int rc = need_memory(en, e);
    if (rc != 0)
        return rc;
    const char **sids = NULL;
    size_t n_ids = 0;
    if ((rc = strategy_ids(en, &sids, &n_ids, e)) != 0)
        return rc;
    id_ref *ids = malloc((n_ids + 1) * sizeof *ids);
    import_hist ih = {0};
    row_ref *rows = NULL;
    if (ids == NULL) {
        free(sids);
        return eng_oom(e);
    }
    for (size_t i = 0; i < n_ids; i++)
        ids[i].id = sids[i];
    sort_rows(ids, n_ids, sizeof *ids, cmp_id_ref);
    rc = parse_history_csv(en, csv_path, ids, n_ids, &ih, e);
    if (rc == 0 && (rows = malloc(ih.n * sizeof *rows)) == NULL)
        rc = eng_oom(e);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < ih.n; i++)
        rows[i] = (row_ref){&ih.v[i], ih.line[i]};
    sort_rows(rows, ih.n, sizeof *rows, cmp_row_ref);
    r->n_rows = ih.n;
    for (size_t i = 0; i < ih.n; i++)
        if (i == 0 || strcmp(rows[i].v->portfolio_id,
                             rows[i - 1].v->portfolio_id) != 0)
            r->n_portfolios++;

    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        rc = eng_begin(en, dry_run ? CAPALLOC_TXN_READ : CAPALLOC_TXN_WRITE,
                       e);
        if (rc != 0)
            continue;
        capalloc_history_query q = {NULL, NULL, NULL, 0, NULL, 0};
        val_set vs;
        if ((rc = read_valuations(en, &q, &vs, e)) != 0)
            continue;
        rc = check_history_rows(csv_path, rows, ih.n, &vs, e);
        val_set_free(&vs);
        if (rc != 0 || dry_run) {
            eng_rollback(en);
            break;
        }
        capalloc_run_record rec = {PACKAGE_VERSION,
                                   "{\"kind\":\"history import\"}", ih.v,
                                   ih.n, NULL, 0};
        capalloc_write_batch wb = {"IMPORT", NULL, 0, en->cfg->currency,
                                   NULL, 0, NULL, 0, NULL, 0, &rec, NULL, NULL, NULL, NULL, NULL, NULL, 0};
        rc = eng_write_commit(en, &wb, e);
        if (rc == -2)
            rc = cap_fail(e, CAP_EXIT_STORAGE,
                          "storage refused the history import as a duplicate "
                          "run");
    }
    if (rc < 0)
        rc = eng_retries_exhausted(en, e);
out:
    free(rows);
    import_hist_free(&ih);
    free(ids);
    free(sids);
    return rc;
}
