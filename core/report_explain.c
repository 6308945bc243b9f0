/*
 * report_explain.c - one run's explanation as HTML for `capalloc report`:
 * what `capalloc explain` prints (cli_history.c), from the same record:
 * the policy with its options as given, the weights after each stage, the
 * prices with their age at the run, each portfolio's cash, positions and
 * NAV before the transfers, weight, target, transfer and shortfall, and
 * the totals. Amounts at the currency's minor unit.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "report_html.h"

/* A recorded amount (exact decimal text) at the minor unit. */
static void json_money(FILE *f, const json_t *j, int mu)
{
    capalloc_dec d;
    char a[CAPALLOC_DEC_MAX_TEXT];
    const char *s = json_string_value(j);
    if (s != NULL && dec_parse(s, &d) == CAPALLOC_OK)
        fputs(fmt_money_table(d, mu, a), f);
    else
        html_str(f, s ? s : "?");
}

static void explain_policy(FILE *f, const json_t *root)
{
    const json_t *pol = json_object_get(root, "policy");
    if (pol != NULL) {
        char *opts = json_dumps(json_object_get(pol, "options"),
                                JSON_PRESERVE_ORDER | JSON_COMPACT);
        fprintf(f, "<p>Policy: <b>");
        html_str(f, json_string_value(json_object_get(pol, "plugin")));
        fprintf(f, "</b> ");
        html_str(f, json_string_value(json_object_get(pol, "version")));
        fprintf(f, " (<code>");
        html_str(f, json_string_value(json_object_get(pol, "path")));
        fprintf(f, "</code>)<br>options as given: <code>");
        html_str(f, opts ? opts : "{}");
        fprintf(f, "</code></p>\n");
        free(opts);
    }
    const json_t *stages = json_object_get(root, "stages");
    size_t si;
    const json_t *st;
    if (json_array_size(stages) == 0)
        return;
    fprintf(f, "<table class=\"stages\"><caption>Weights after each stage"
               "</caption><thead><tr><th>stage</th>"
               "<th>plugin</th><th>weights after it</th></tr></thead>"
               "<tbody>\n");
    json_array_foreach(stages, si, st) {
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", si + 1);
        html_str(f, json_string_value(json_object_get(st, "plugin")));
        fprintf(f, "</td><td>");
        const char *k;
        const json_t *w;
        int first = 1;
        json_object_foreach((json_t *)json_object_get(st, "weights"), k, w) {
            fprintf(f, "%s", first ? "" : ", ");
            html_str(f, k);
            fprintf(f, " = ");
            html_str(f, json_string_value(w));
            first = 0;
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</tbody></table>\n");
    const json_t *hist = json_object_get(root, "history");
    if (hist != NULL &&
        json_integer_value(json_object_get(hist, "points_wanted")) > 0)
        fprintf(f, "<p class=\"note\">History: %lld points asked per "
                   "strategy, %lld given in all.</p>\n",
                (long long)json_integer_value(
                    json_object_get(hist, "points_wanted")),
                (long long)json_integer_value(
                    json_object_get(hist, "points_given")));
}

/* "2025-01-08T06:00:00.000Z" -> Unix seconds, or 0 (as cli_history.c). */
static long long iso_seconds(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year,
                            &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                            &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm);
}

static void explain_prices(FILE *f, const run_explain *x)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    long long made = iso_seconds(x->info.created_at);
    fprintf(f, "<table class=\"prices\"><caption>Prices</caption><thead>"
               "<tr><th>ticker</th>"
               "<th class=\"n\">price</th><th>as of (UTC)</th>"
               "<th class=\"n\">age at the run</th><th></th></tr></thead>"
               "<tbody>\n");
    for (size_t i = 0; i < x->np; i++) {
        const capalloc_price_row *p = &x->p[i];
        char when[32] = "unknown", age[32] = "-";
        if (p->as_of > 0) {
            time_t t = (time_t)p->as_of;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            if (made > 0) {
                long long secs = made - p->as_of;
                if (secs < 0)
                    snprintf(age, sizeof age, "after the run");
                else if (secs < 3600)
                    snprintf(age, sizeof age, "%lld min", secs / 60);
                else if (secs < 2 * 86400)
                    snprintf(age, sizeof age, "%lld h", secs / 3600);
                else
                    snprintf(age, sizeof age, "%lld days", secs / 86400);
            }
        }
        fprintf(f, "<tr><td>");
        html_str(f, p->ticker);
        fprintf(f, "</td><td class=\"n\">%s</td><td>%s</td>"
                   "<td class=\"n\">%s</td><td>%s</td></tr>\n",
                dec_format(p->price, 2, a, sizeof a), when, age,
                (p->flags & CAPALLOC_QUOTE_STALE) ? "STALE (last known)" : "");
    }
    if (x->np == 0)
        fprintf(f, "<tr><td colspan=\"5\">(no ticker was priced)</td></tr>\n");
    fprintf(f, "</tbody></table>\n");
}

static void explain_portfolios(FILE *f, const run_explain *x, int mu)
{
    char w[CAPALLOC_DEC_MAX_TEXT];
    fprintf(f, "<table class=\"portfolios\"><caption>Portfolios</caption>"
               "<thead><tr><th>portfolio</th>"
               "<th class=\"n\">cash</th><th class=\"n\">positions</th>"
               "<th class=\"n\">NAV</th><th class=\"n\">weight</th>"
               "<th class=\"n\">target</th><th class=\"n\">transfer</th>"
               "<th class=\"n\">shortfall</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < x->nv; i++) {
        const capalloc_valuation *v = &x->v[i];
        fprintf(f, "<tr><td>");
        html_str(f, v->portfolio_id);
        fprintf(f, "%s</td>",
                (v->flags & CAPALLOC_VAL_MASTER) ? " (reserve)" : "");
        html_money_td(f, v->cash, mu);
        html_money_td(f, v->positions_value, mu);
        html_money_td(f, v->nav, mu);
        fprintf(f, "<td class=\"n\">%s</td>",
                dec_format(v->weight, 0, w, sizeof w));
        html_money_td(f, v->target, mu);
        html_money_td(f, v->transfer, mu);
        html_money_td(f, v->shortfall, mu);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</tbody></table>\n<p class=\"note\">Values before the "
               "run's transfers. The reserve's weight is what the policy "
               "left unallocated; its target is its cash after the "
               "run.</p>\n");
}

static void explain_totals(FILE *f, const json_t *root, const char *currency,
                           int mu)
{
    const json_t *t = json_object_get(root, "totals");
    if (t == NULL)
        return;
    json_int_t n = json_integer_value(json_object_get(t, "transfers"));
    fprintf(f, "<p>Total equity ");
    json_money(f, json_object_get(t, "total_equity"), mu);
    fprintf(f, " ");
    html_str(f, currency);
    fprintf(f, "; the master paid out ");
    json_money(f, json_object_get(t, "funded"), mu);
    fprintf(f, " and got back ");
    json_money(f, json_object_get(t, "returned"), mu);
    fprintf(f, "; %lld transfer%s%s.</p>\n", (long long)n, n == 1 ? "" : "s",
            json_is_true(json_object_get(t, "scaled"))
                ? " (fundings scaled down pro rata: the master could not pay "
                  "every one in full)"
                : "");
}

void report_explain_html(FILE *f, const run_explain *x,
                         const char *currency, int minor_units)
{
    json_error_t jerr;
    json_t *root = json_loads(x->detail_json ? x->detail_json : "", 0, &jerr);
    fprintf(f, "<p>Recorded ");
    html_str(f, x->info.created_at);
    fprintf(f, " by capalloc ");
    html_str(f, x->capalloc_version && *x->capalloc_version
                    ? x->capalloc_version
                    : "(unknown)");
    fprintf(f, "%s.", x->forced ? " (a forced re-run)" : "");
    /* ABI 1.3: the run's kind and links */
    if (strcmp(x->info.kind, CAPALLOC_RUN_DEPLOY) == 0)
        fprintf(f, " A deployment (DEPLOY): new capital spread over the "
                   "strategies with its ADD.");
    if (x->info.reverses > 0)
        fprintf(f, " A reversal (REVERSE) of run %lld: its transfers "
                   "mirrored.",
                (long long)x->info.reverses);
    if (x->info.reversed_by > 0)
        fprintf(f, " Reversed by run %lld.", (long long)x->info.reversed_by);
    fprintf(f, "</p>\n");
    explain_policy(f, root);
    explain_prices(f, x);
    explain_portfolios(f, x, minor_units);
    explain_totals(f, root, currency, minor_units);
    json_decref(root);
}
