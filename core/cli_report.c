/*
 * cli_report.c - `capalloc report [--from D] [--to D] [-o FILE]`: the
 * fund's record over a range as one self-contained HTML file (no script,
 * no stylesheet, font or image to fetch: it opens from a mail
 * attachment and prints).
 *
 * What it shows, all read from the record (engine_history, and every
 * run's record with engine_explain_runs, report_data.c):
 *   - a table per strategy: where its index starts and ends, its worst
 *     drawdown, its NAV after the last run;
 *   - each strategy's flow-adjusted NAV index: 100 at the valuation its
 *     first return in the range is measured from, then compounded with
 *     each recorded return (history.h); a valuation without a return
 *     (nothing was held before it) leaves the index where it was; and its
 *     drawdown from the index's running high;
 *   - the allocation of capital after each run, stacked: each strategy's
 *     NAV plus the run's transfer, and the master's reserve;
 *   - the fund's total equity and reserve;
 *   - the runs with their transfers, and under each its explanation (the
 *     content of `capalloc explain`) in a <details> element.
 * The index and the drawdown are computed with capalloc_dec (rounded
 * half-even to 6 places at each step); amounts in the tables are at the
 * currency's minor unit; the charts' pixels are the only doubles.
 * Nothing in the file depends on the clock: the same ledger gives the
 * same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "report_data.h"
#include "report_html.h"

typedef struct report_opts {
    const char *from, *to, *out;
} report_opts;

enum { OPT_FROM = 1000, OPT_TO };

static int report_opt(cli *c, int opt, const char *arg, void *ctx)
{
    report_opts *o = ctx;
    switch (opt) {
    case OPT_FROM:
    case OPT_TO:
        if (!cli_valid_date(arg))
            return cli_usage_error(c, "--%s '%s' is not a date YYYY-MM-DD",
                                   opt == OPT_FROM ? "from" : "to", arg);
        *(opt == OPT_FROM ? &o->from : &o->to) = arg;
        return 0;
    case 'o':
        if (arg[0] == '\0')
            return cli_usage_error(c, "-o needs a FILE");
        o->out = arg;
        return 0;
    default:
        return cli_usage_error(c, "unknown option");
    }
}

/* ------------------------------------------------------------------------ */
/* the data                                                                  */
/* ------------------------------------------------------------------------ */

/* One strategy's index and drawdown points. */
typedef struct index_series {
    const char **date; /* borrowed from the history report */
    capalloc_dec *idx; /* 100 = the base */
    capalloc_dec *dd;  /* percent, <= 0 */
    size_t n;
} index_series;

typedef struct report {
    const engine *en;
    const history_report *h;
    const char **ids;           /* strategies, bytewise order (borrowed) */
    size_t ns;
    size_t nr;                  /* runs = h->fund[0..nr) */
    const history_row **cell;   /* [run * ns + strategy], or NULL */
    const history_row **master; /* [run] */
    index_series *ix;           /* [strategy] */
    run_explain *x;             /* [run]: its record */
    int have_x;                 /* x is filled */
} report;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long strategy_of(const report *r, const char *id)
{
    const char **p = bsearch(&id, r->ids, r->ns, sizeof *r->ids, cmp_str);
    return p ? (long)(p - r->ids) : -1;
}

static void report_free(report *r)
{
    free(r->ids);
    free(r->cell);
    free(r->master);
    for (size_t i = 0; r->ix && i < r->ns; i++) {
        free(r->ix[i].date);
        free(r->ix[i].idx);
        free(r->ix[i].dd);
    }
    free(r->ix);
    for (size_t k = 0; r->have_x && k < r->nr; k++)
        run_explain_free(&r->x[k]);
    free(r->x);
}

/* The strategies (every portfolio with a valuation in the range but the
 * master) and, per run, each one's row. */
static int collect(report *r)
{
    const history_report *h = r->h;
    r->ids = malloc((h->n + 1) * sizeof *r->ids);
    if (r->ids == NULL)
        return -1;
    for (size_t i = 0; i < h->n; i++)
        if (!(h->rows[i].v.flags & CAPALLOC_VAL_MASTER))
            r->ids[r->ns++] = h->rows[i].v.portfolio_id;
    if (r->ns > 1)
        qsort(r->ids, r->ns, sizeof *r->ids, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < r->ns; i++)
        if (k == 0 || strcmp(r->ids[k - 1], r->ids[i]) != 0)
            r->ids[k++] = r->ids[i];
    r->ns = k;

    r->nr = h->n_fund;
    r->cell = calloc(r->nr * r->ns + 1, sizeof *r->cell);
    r->master = calloc(r->nr + 1, sizeof *r->master);
    if (r->cell == NULL || r->master == NULL)
        return -1;
    /* rows are by date, then run: each run's rows are together */
    size_t i = 0;
    for (size_t run = 0; run < r->nr; run++) {
        const fund_obs *f = &h->fund[run];
        while (i < h->n) {
            int c = strcmp(h->rows[i].v.date, f->date);
            if (c > 0 || (c == 0 && h->rows[i].v.run_id >= f->run_id))
                break;
            i++;
        }
        for (; i < h->n && h->rows[i].v.run_id == f->run_id; i++) {
            const history_row *row = &h->rows[i];
            if (row->v.flags & CAPALLOC_VAL_MASTER)
                r->master[run] = row;
            else
                r->cell[run * r->ns + strategy_of(r, row->v.portfolio_id)] =
                    row;
        }
    }
    return 0;
}

/* Index and drawdown of strategy s from its rows in the range, in order. */
static int index_of(report *r, size_t s)
{
    const history_report *h = r->h;
    index_series *x = &r->ix[s];
    x->date = malloc((h->n + 1) * sizeof *x->date);
    x->idx = malloc((h->n + 1) * sizeof *x->idx);
    x->dd = malloc((h->n + 1) * sizeof *x->dd);
    if (x->date == NULL || x->idx == NULL || x->dd == NULL)
        return -1;
    const capalloc_dec hundred = dec_from_int(100), one = dec_from_int(1);
    capalloc_dec idx = hundred, high = hundred;
    const history_row *prev = NULL;
    for (size_t i = 0; i < h->n; i++) {
        const history_row *row = &h->rows[i];
        if ((row->v.flags & CAPALLOC_VAL_MASTER) ||
            strcmp(row->v.portfolio_id, r->ids[s]) != 0)
            continue;
        if (x->n == 0 && !row->has_return) {
            prev = row; /* a base the first return may be measured from */
            continue;
        }
        if (x->n == 0) {
            /* the base: the previous valuation when it is in the range,
             * else this one (its return is measured from outside) */
            x->date[x->n] = prev ? prev->v.date : row->v.date;
            x->idx[x->n] = idx;
            x->dd[x->n++] = DEC_ZERO;
            if (prev == NULL)
                continue;
        }
        capalloc_dec growth, dd;
        if (row->has_return &&
            (dec_add(one, row->ret, &growth) ||
             dec_mul(idx, growth, CAPALLOC_ROUND_HALF_EVEN, &idx)))
            return -2;
        if (dec_cmp(idx, high) > 0)
            high = idx;
        /* drawdown in percent: (idx / high - 1) x 100 */
        if (dec_div(idx, high, CAPALLOC_ROUND_HALF_EVEN, &dd) ||
            dec_sub(dd, one, &dd) ||
            dec_mul(dd, hundred, CAPALLOC_ROUND_HALF_EVEN, &dd))
            return -2;
        x->date[x->n] = row->v.date;
        x->idx[x->n] = idx;
        x->dd[x->n++] = dd;
    }
    return 0;
}

/* The explanation of every run, an earlier run of a date (before a forced
 * re-run) too: engine_explain reads only a date's latest. */
static int explain_runs(engine *en, report *r, cap_error *e)
{
    int64_t *ids = calloc(r->nr + 1, sizeof *ids);
    r->x = calloc(r->nr + 1, sizeof *r->x);
    if (ids == NULL || r->x == NULL) {
        free(ids);
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    }
    for (size_t k = 0; k < r->nr; k++)
        ids[k] = r->h->fund[k].run_id;
    int rc = engine_explain_runs(en, ids, r->nr, r->x, e);
    free(ids);
    r->have_x = rc == 0;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* the document                                                              */
/* ------------------------------------------------------------------------ */

static const char STYLE[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif;color:#222;margin:24px;"
    "max-width:1040px}\n"
    "h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px;"
    "border-bottom:1px solid #ddd}\n"
    "p.meta,p.note{color:#555;margin:4px 0}\n"
    "figure.chart{margin:16px 0 24px;page-break-inside:avoid}\n"
    "figcaption{font-weight:600;margin-bottom:4px}\n"
    "svg.chart{max-width:100%;height:auto;font-size:12px}\n"
    "svg.chart text{fill:#444}svg.chart .label{font-size:12px;fill:#222}\n"
    "svg.chart line.grid{stroke:#e4e4e4}svg.chart line.zero,"
    "svg.chart line.base,svg.chart line.tick{stroke:#888}\n"
    "svg.chart path.series:not(.area){fill:none;stroke-width:2}\n"
    "svg.chart path.series.area{stroke:#fff;stroke-width:.5}\n"
    "ul.legend{list-style:none;padding:0;margin:4px 0 0 96px}\n"
    "ul.legend li{display:inline-block;margin-right:18px}\n"
    "ul.legend svg{vertical-align:-2px}\n"
    "table{border-collapse:collapse;margin:8px 0;font-size:13px}\n"
    "th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4}\n"
    "th{text-align:left;background:#f4f4f4}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tfoot td{font-weight:600;border-top:2px solid #bbb}\n"
    "div.wide{overflow-x:auto}\n"
    "details{margin:6px 0;border:1px solid #ddd;border-radius:4px;"
    "padding:4px 10px}\n"
    "summary{cursor:pointer;font-weight:600}\n"
    "code{font-size:12px;word-break:break-all}\n"
    "caption{text-align:left;font-weight:600;padding:6px 0 2px}\n"
    "@media print{body{margin:0}}\n";

static void th_text(FILE *f, const char *cls, const char *s)
{
    fprintf(f, "<th%s>", cls);
    html_str(f, s);
    fprintf(f, "</th>");
}

/* 0, -1 (out of memory) or -2 (an amount overflowed). */
static int write_charts(FILE *f, const report *r)
{
    const history_report *h = r->h;
    size_t ns = r->ns, nr = r->nr;
    int ok = 1;
    chart_series *s = calloc(2 * ns + 2, sizeof *s);
    const char **run_date = calloc(nr + 1, sizeof *run_date);
    capalloc_dec *lo = calloc((ns + 1) * nr + 1, sizeof *lo);
    capalloc_dec *hi = calloc((ns + 1) * nr + 1, sizeof *hi);
    capalloc_dec *eq = calloc(nr + 1, sizeof *eq);
    if (s == NULL || run_date == NULL || lo == NULL || hi == NULL ||
        eq == NULL) {
        free(s);
        free(run_date);
        free(lo);
        free(hi);
        free(eq);
        return -1;
    }

    for (size_t i = 0; i < ns; i++) {
        s[i] = (chart_series){r->ids[i], report_colour(i), r->ix[i].n,
                              r->ix[i].date, r->ix[i].idx, NULL,
                              report_dash(i)};
        s[ns + i] = s[i];
        s[ns + i].y = r->ix[i].dd;
    }
    chart_svg(f, &(chart_spec){"nav-index",
                               "Flow-adjusted NAV index (100 = the "
                               "valuation the first return is measured "
                               "from)",
                               "index", "", 0, s, ns});
    chart_svg(f, &(chart_spec){"drawdown",
                               "Drawdown from the index's running high",
                               "drawdown", "%", 1, s + ns, ns});

    /* after each run: each strategy's NAV + transfer, the reserve on top */
    for (size_t k = 0; ok && k < nr; k++) {
        capalloc_dec acc = DEC_ZERO;
        run_date[k] = h->fund[k].date;
        for (size_t i = 0; i <= ns; i++) {
            const history_row *row =
                i < ns ? r->cell[k * ns + i] : r->master[k];
            capalloc_dec after = DEC_ZERO;
            lo[i * nr + k] = acc;
            if (row != NULL &&
                (dec_add(row->v.nav, row->v.transfer, &after) ||
                 dec_add(acc, after, &acc)))
                ok = 0;
            hi[i * nr + k] = acc;
        }
        eq[k] = h->fund[k].equity;
    }
    if (ok) {
        for (size_t i = 0; i <= ns; i++)
            s[i] = (chart_series){i < ns ? r->ids[i] : "reserve",
                                  i < ns ? report_colour(i)
                                         : REPORT_RESERVE_COLOUR,
                                  nr, run_date, hi + i * nr, lo + i * nr,
                                  NULL};
        chart_svg(f, &(chart_spec){"allocation",
                                   "Allocation of capital after each run "
                                   "(each strategy's NAV plus the run's "
                                   "transfer; the master's reserve on top)",
                                   r->en->cfg->currency, "", 1, s, ns + 1});
        s[0] = (chart_series){"total equity", "#1f3b5c", nr, run_date, eq,
                              NULL, NULL};
        s[1] = (chart_series){"reserve", REPORT_RESERVE_COLOUR, nr, run_date,
                              hi + ns * nr, lo + ns * nr, NULL};
        /* the reserve alone: its band's height, as a line */
        for (size_t k = 0; k < nr; k++)
            if (dec_sub(hi[ns * nr + k], lo[ns * nr + k], &hi[ns * nr + k]))
                ok = 0;
        s[1].y0 = NULL;
        if (ok)
            chart_svg(f, &(chart_spec){"equity",
                                       "The fund's total equity (before the "
                                       "run) and the master's reserve (after "
                                       "it)",
                                       r->en->cfg->currency, "", 1, s, 2});
    }
    free(s);
    free(run_date);
    free(lo);
    free(hi);
    free(eq);
    return ok ? 0 : -2;
}

/* Per strategy: where its index ended, its worst drawdown, and its NAV
 * after the last run of the range. */
static void write_summary(FILE *f, const report *r)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    int mu = r->en->cfg->minor_units;
    fprintf(f, "<table id=\"strategies\">\n<thead><tr><th>strategy</th>"
               "<th>index from</th><th class=\"n\">index at the end</th>"
               "<th class=\"n\">worst drawdown</th><th class=\"n\">NAV "
               "after the last run</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < r->ns; i++) {
        const index_series *x = &r->ix[i];
        fprintf(f, "<tr><td>");
        chart_swatch(f, report_colour(i), report_dash(i), 0);
        fprintf(f, " ");
        html_str(f, r->ids[i]);
        fprintf(f, "</td>");
        if (x->n == 0) {
            fprintf(f, "<td colspan=\"3\">no return in this range</td>");
        } else {
            capalloc_dec worst = DEC_ZERO;
            for (size_t k = 0; k < x->n; k++)
                if (dec_cmp(x->dd[k], worst) < 0)
                    worst = x->dd[k];
            capalloc_dec end, dd;
            if (dec_quantize(x->idx[x->n - 1], 2, CAPALLOC_ROUND_HALF_EVEN,
                             &end) ||
                dec_quantize(worst, 2, CAPALLOC_ROUND_HALF_EVEN, &dd)) {
                end = x->idx[x->n - 1]; /* out of range rounded: exact */
                dd = worst;
            }
            fprintf(f, "<td>%s</td><td class=\"n\">%s</td>"
                       "<td class=\"n\">%s%%</td>",
                    x->date[0], dec_format(end, 2, a, sizeof a),
                    dec_format(dd, 2, b, sizeof b));
        }
        const history_row *last = NULL;
        for (size_t k = r->nr; k-- > 0 && last == NULL;)
            last = r->cell[k * r->ns + i];
        capalloc_dec after;
        if (last == NULL ||
            dec_add(last->v.nav, last->v.transfer, &after) != CAPALLOC_OK)
            fprintf(f, "<td class=\"n\">-</td>");
        else
            html_money_td(f, after, mu);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</tbody>\n</table>\n");
}

/* 0, -1 (out of memory) or -2 (a total overflowed). */
static int write_runs_table(FILE *f, const report *r)
{
    int mu = r->en->cfg->minor_units;
    size_t ns = r->ns;
    capalloc_dec *sum = calloc(ns + 3, sizeof *sum);
    if (sum == NULL)
        return -1;
    fprintf(f, "<div class=\"wide\"><table id=\"runs\">\n<thead><tr>"
               "<th>date</th><th class=\"n\">run</th>");
    for (size_t i = 0; i < ns; i++)
        th_text(f, " class=\"n\"", r->ids[i]);
    fprintf(f, "<th class=\"n\">to strategies</th><th class=\"n\">from "
               "strategies</th><th class=\"n\">reserve</th></tr></thead>\n"
               "<tbody>\n");
    int overflow = 0;
    for (size_t k = 0; k < r->nr; k++) {
        const fund_obs *fo = &r->h->fund[k];
        capalloc_dec in = DEC_ZERO, out = DEC_ZERO;
        fprintf(f, "<tr class=\"run\" data-run=\"%lld\"><td><a "
                   "href=\"#run-%lld\">%s</a></td><td class=\"n\">%lld</td>",
                (long long)fo->run_id, (long long)fo->run_id, fo->date,
                (long long)fo->run_id);
        for (size_t i = 0; i < ns; i++) {
            const history_row *row = r->cell[k * ns + i];
            if (row == NULL) {
                fprintf(f, "<td class=\"n\">-</td>");
                continue;
            }
            capalloc_dec t = row->v.transfer;
            overflow |= dec_add(sum[i], t, &sum[i]) != CAPALLOC_OK;
            overflow |= dec_add(dec_is_neg(t) ? out : in, t,
                                dec_is_neg(t) ? &out : &in) != CAPALLOC_OK;
            html_money_td(f, t, mu);
        }
        capalloc_dec m = r->master[k] ? r->master[k]->v.transfer : DEC_ZERO;
        overflow |= dec_add(sum[ns], in, &sum[ns]) != CAPALLOC_OK;
        overflow |= dec_add(sum[ns + 1], out, &sum[ns + 1]) != CAPALLOC_OK;
        overflow |= dec_add(sum[ns + 2], m, &sum[ns + 2]) != CAPALLOC_OK;
        html_money_td(f, in, mu);
        html_money_td(f, out, mu);
        html_money_td(f, m, mu);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</tbody>\n<tfoot><tr><td>total</td><td class=\"n\">%zu "
               "run%s</td>",
            r->nr, r->nr == 1 ? "" : "s");
    for (size_t i = 0; i < ns + 3; i++)
        html_money_td(f, sum[i], mu);
    fprintf(f, "</tr></tfoot>\n</table></div>\n");
    fprintf(f, "<p class=\"note\">Transfers in %s at the minor unit: "
               "positive into the strategy, negative back to the master. "
               "\"reserve\" is the master's own transfer.</p>\n",
            r->en->cfg->currency);
    free(sum);
    return overflow ? -2 : 0;
}

static void write_explanations(FILE *f, const report *r)
{
    int mu = r->en->cfg->minor_units;
    for (size_t k = 0; k < r->nr; k++) {
        const fund_obs *fo = &r->h->fund[k];
        fprintf(f, "<details class=\"run\" id=\"run-%lld\" data-run=\"%lld\">"
                   "<summary>%s, run %lld</summary>\n",
                (long long)fo->run_id, (long long)fo->run_id, fo->date,
                (long long)fo->run_id);
        report_explain_html(f, &r->x[k], r->en->cfg->currency, mu);
        fprintf(f, "</details>\n");
    }
}

/* 0, -1 (out of memory) or -2 (an amount overflowed). */
static int write_document(FILE *f, const report *r, const report_opts *o)
{
    const history_report *h = r->h;
    const capalloc_config *cfg = r->en->cfg;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
               "<meta charset=\"utf-8\">\n<title>capalloc report");
    if (r->nr > 0)
        fprintf(f, " %s to %s", h->fund[0].date, h->fund[r->nr - 1].date);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", STYLE);
    fprintf(f, "<h1>The fund's record</h1>\n<p class=\"meta\">Range: %s to "
               "%s. Currency ",
            o->from ? o->from : "the first record",
            o->to ? o->to : "the last record");
    html_str(f, cfg->currency);
    fprintf(f, "; master portfolio ");
    html_str(f, cfg->master_id);
    fprintf(f, "; %zu allocation run%s", r->nr, r->nr == 1 ? "" : "s");
    if (r->nr > 0)
        fprintf(f, " from %s to %s", h->fund[0].date,
                h->fund[r->nr - 1].date);
    fprintf(f, "; %zu strateg%s.</p>\n", r->ns, r->ns == 1 ? "y" : "ies");

    if (r->nr == 0 && r->ns == 0) {
        fprintf(f, "<p>No allocation run is recorded in this range.</p>\n"
                   "</body>\n</html>\n");
        return 0;
    }
    fprintf(f, "<h2>Performance and allocation</h2>\n"
               "<p class=\"note\">A strategy's return between two "
               "valuations is NAV<sub>t</sub> / (NAV<sub>t-1</sub> + "
               "transfer<sub>t-1</sub>) - 1: the allocator's transfers are "
               "flows, not performance. The index compounds these returns "
               "from 100; a valuation without a return (nothing was held "
               "before it) leaves it unchanged.</p>\n");
    write_summary(f, r);
    int rc = write_charts(f, r);
    fprintf(f, "<h2>Runs and transfers</h2>\n");
    if (rc == 0)
        rc = write_runs_table(f, r);
    fprintf(f, "<h2>Why each run did what it did</h2>\n");
    write_explanations(f, r);
    fprintf(f, "</body>\n</html>\n");
    return rc;
}

/* The whole document in memory (*doc, malloc'd): nothing is written
 * anywhere unless all of it could be made. */
static int render(const report *r, const report_opts *o, char **doc,
                  size_t *len, cap_error *e)
{
    *doc = NULL;
    FILE *f = open_memstream(doc, len);
    if (f == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    int rc = write_document(f, r, o);
    if (ferror(f))
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0)
        return 0;
    free(*doc);
    *doc = NULL;
    return rc == -2 ? cap_fail(e, CAP_EXIT_STORAGE,
                               "arithmetic overflow adding up the recorded "
                               "amounts")
                    : cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* the command                                                               */
/* ------------------------------------------------------------------------ */

/* Write the document to path through a temporary file beside it, renamed
 * over it: a reader never sees half a report. */
static int write_file(const char *path, const char *doc, size_t len,
                      cap_error *e)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 8);
    if (tmp == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (f == NULL) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (fd >= 0)
            unlink(tmp);
        free(tmp);
        return cap_fail(e, CAP_EXIT_USAGE, "cannot write %s: %s", path,
                        strerror(err));
    }
    int bad = fwrite(doc, 1, len, f) != len || ferror(f);
    int err = errno;
    mode_t mask = umask(0); /* the mode a plain fopen would give */
    umask(mask);
    if (fchmod(fileno(f), 0666 & ~mask) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        err = errno;
    }
    if (bad) {
        unlink(tmp);
        free(tmp);
        return cap_fail(e, CAP_EXIT_USAGE, "cannot write %s: %s", path,
                        strerror(err));
    }
    free(tmp);
    return 0;
}

static int run_report(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"output", required_argument, NULL, 'o'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    report_opts o = {NULL, NULL, NULL};
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "o:", longopts,
                       report_opt, &o, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (first < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    if (o.from && o.to && strcmp(o.from, o.to) > 0)
        return cli_usage_error(c, "--from %s is after --to %s", o.from, o.to);
    if (c->json && o.out == NULL)
        return cli_usage_error(c, "--json needs -o FILE (the report and the "
                                  "JSON summary would share stdout)");

    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    history_report h;
    cap_error e = {0, ""};
    report r;
    memset(&r, 0, sizeof r);
    cli_progress(c, "report: reading the record");
    rc = engine_history(en, o.from, o.to, NULL, &h, &e);
    if (rc) {
        engine_close(en);
        return cli_fail(c, rc, e.msg);
    }
    r.en = en;
    r.h = &h;
    int bad = collect(&r);
    r.ix = bad ? NULL : calloc(r.ns + 1, sizeof *r.ix);
    bad = bad || r.ix == NULL ? -1 : 0;
    for (size_t i = 0; !bad && i < r.ns; i++)
        bad = index_of(&r, i);
    if (bad == -1)
        rc = cap_fail(&e, CAP_EXIT_INTERNAL, "out of memory");
    else if (bad)
        rc = cap_fail(&e, CAP_EXIT_STORAGE,
                      "arithmetic overflow compounding the recorded returns");
    if (rc == 0)
        rc = explain_runs(en, &r, &e);
    char *doc = NULL;
    size_t len = 0;
    if (rc == 0) {
        cli_progress(c, "report: %zu runs, %zu strategies", r.nr, r.ns);
        rc = render(&r, &o, &doc, &len, &e);
    }
    if (rc == 0 && o.out != NULL) {
        rc = write_file(o.out, doc, len, &e);
    } else if (rc == 0) {
        if (fwrite(doc, 1, len, stdout) != len || fflush(stdout) != 0)
            rc = cap_fail(&e, CAP_EXIT_USAGE,
                          "cannot write the report to stdout: %s",
                          strerror(errno));
    }
    free(doc);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else if (o.out != NULL) {
        if (c->json) {
            printf("{\"command\":\"report\",\"file\":");
            json_str(stdout, o.out);
            printf(",\"runs\":%zu,\"strategies\":%zu}\n", r.nr, r.ns);
        } else {
            printf("wrote %s: %zu run%s, %zu strateg%s\n", o.out, r.nr,
                   r.nr == 1 ? "" : "s", r.ns, r.ns == 1 ? "y" : "ies");
        }
    }
    report_free(&r);
    history_report_free(&h);
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_report = {
    "report",
    "the fund's record over a range as one HTML file with charts",
    "capalloc report [--from YYYY-MM-DD] [--to YYYY-MM-DD] [-o FILE]\n",
    "\n"
    "Writes one self-contained HTML file (charts drawn as inline SVG;\n"
    "nothing to download, no script: it opens from a mail attachment and\n"
    "prints) with, over the runs dated from..to:\n"
    "  - per strategy: where its index ends, its worst drawdown, its NAV;\n"
    "  - each strategy's flow-adjusted NAV index (100 at the valuation its\n"
    "    first return is measured from, compounded with the recorded\n"
    "    returns) and its drawdown from the index's running high;\n"
    "  - the allocation of capital after each run, stacked: each\n"
    "    strategy's NAV plus the run's transfer, and the master's reserve;\n"
    "  - the fund's total equity and reserve;\n"
    "  - the runs with each strategy's transfer and the totals;\n"
    "  - under each run its explanation (as 'capalloc explain').\n"
    "Amounts in the tables are at the currency's minor unit. The same\n"
    "record gives the same file, byte for byte.\n"
    "\n"
    "Options:\n"
    "  --from DATE          runs on or after DATE\n"
    "  --to DATE            runs on or before DATE\n"
    "  -o, --output FILE    write FILE (replaced whole); default: stdout\n",
    run_report,
};
