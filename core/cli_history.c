/*
 * cli_history.c - the fund's memory on the command line:
 *   capalloc history [--from D] [--to D] [-p ID] [--csv]   the register
 *   capalloc history import FILE [-n]                      backfill
 *   capalloc explain [DATE]                                why a run did it
 * Tables show amounts at the currency's minor unit; JSON and CSV carry the
 * exact values.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ------------------------------------------------------------------------ */
/* capalloc history                                                          */
/* ------------------------------------------------------------------------ */

typedef struct history_opts {
    const char *from, *to, *portfolio;
    int csv, dry;
} history_opts;

enum { OPT_FROM = 1000, OPT_TO, OPT_CSV };

static int history_opt(cli *c, int opt, const char *arg, void *ctx)
{
    history_opts *o = ctx;
    switch (opt) {
    case OPT_FROM:
    case OPT_TO:
        if (!cli_valid_date(arg))
            return cli_usage_error(c, "--%s '%s' is not a date YYYY-MM-DD",
                                   opt == OPT_FROM ? "from" : "to", arg);
        *(opt == OPT_FROM ? &o->from : &o->to) = arg;
        return 0;
    case 'p':
        o->portfolio = arg;
        return 0;
    case OPT_CSV:
        o->csv = 1;
        return 0;
    case 'n':
        o->dry = 1;
        return 0;
    default:
        return cli_usage_error(c, "unknown option");
    }
}

/* A return as a percentage with 4 decimals ("10.4167%"), or "-". */
static const char *fmt_return(int has, capalloc_dec r, char *buf)
{
    if (!has)
        return "-";
    capalloc_dec pct;
    char t[CAPALLOC_DEC_MAX_TEXT];
    if (dec_mul(r, dec_from_int(100), CAPALLOC_ROUND_HALF_EVEN, &pct) ||
        dec_quantize(pct, 4, CAPALLOC_ROUND_HALF_EVEN, &pct))
        return "overflow";
    snprintf(buf, CAPALLOC_DEC_MAX_TEXT, "%s%%", dec_format(pct, 4, t, sizeof t));
    return buf;
}

static void history_json(const engine *en, const history_report *h)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    printf("{\"command\":\"history\",\"currency\":");
    json_str(stdout, en->cfg->currency);
    printf(",\"rows\":[");
    for (size_t i = 0; i < h->n; i++) {
        const history_row *r = &h->rows[i];
        const capalloc_valuation *v = &r->v;
        int imp = (v->flags & CAPALLOC_VAL_IMPORTED) != 0;
        printf("%s{\"date\":\"%s\",\"run_id\":%lld,\"portfolio\":", i ? "," : "",
               v->date, (long long)v->run_id);
        json_str(stdout, v->portfolio_id);
        printf(",\"kind\":\"%s\",\"nav\":\"%s\"",
               (v->flags & CAPALLOC_VAL_MASTER) ? "reserve"
               : imp                            ? "imported"
                                                : "strategy",
               fmt_money(v->nav, mu, a));
        if (r->has_return)
            printf(",\"return\":\"%s\"", dec_format(r->ret, 0, a, sizeof a));
        else
            printf(",\"return\":null");
        printf(",\"transfer\":\"%s\"", fmt_money(v->transfer, mu, a));
        if (!imp) {
            /* ABI 1.3: the run's kind and links (null: not known) */
            printf(",\"run_kind\":\"%s\"",
                   v->run_kind != NULL ? v->run_kind : CAPALLOC_RUN_RUN);
            if (v->reverses > 0)
                printf(",\"reverses\":%lld", (long long)v->reverses);
            else
                printf(",\"reverses\":null");
            if (v->reversed_by > 0)
                printf(",\"reversed_by\":%lld", (long long)v->reversed_by);
            else
                printf(",\"reversed_by\":null");
            printf(",\"cash\":\"%s\"", fmt_money(v->cash, mu, a));
            printf(",\"positions_value\":\"%s\"",
                   fmt_money(v->positions_value, mu, a));
            printf(",\"weight\":\"%s\"", dec_format(v->weight, 0, a, sizeof a));
            printf(",\"target\":\"%s\"", fmt_money(v->target, mu, a));
            printf(",\"shortfall\":\"%s\"", fmt_money(v->shortfall, mu, a));
        }
        printf("}");
    }
    printf("],\"fund\":[");
    for (size_t i = 0; i < h->n_fund; i++) {
        const fund_obs *f = &h->fund[i];
        printf("%s{\"date\":\"%s\",\"run_id\":%lld,\"total_equity\":\"%s\"",
               i ? "," : "", f->date, (long long)f->run_id,
               fmt_money(f->equity, mu, a));
        printf(",\"flow\":\"%s\"", fmt_money(f->flow, mu, a));
        if (f->has_return)
            printf(",\"return\":\"%s\"}", dec_format(f->ret, 0, a, sizeof a));
        else
            printf(",\"return\":null}");
    }
    printf("]}\n");
}

static void history_csv(const engine *en, const history_report *h)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    printf("date,run_id,portfolio_id,kind,nav,return,weight,target,transfer,"
           "shortfall,cash,positions_value\n");
    for (size_t i = 0; i < h->n; i++) {
        const history_row *r = &h->rows[i];
        const capalloc_valuation *v = &r->v;
        int imp = (v->flags & CAPALLOC_VAL_IMPORTED) != 0;
        /* ids are plain identifiers in practice; quote them all the same */
        printf("%s,%lld,\"", v->date, (long long)v->run_id);
        for (const char *p = v->portfolio_id; *p; p++)
            printf(*p == '"' ? "\"\"" : "%c", *p);
        printf("\",%s,%s,",
               (v->flags & CAPALLOC_VAL_MASTER) ? "reserve"
               : imp                            ? "imported"
                                                : "strategy",
               fmt_money(v->nav, mu, a));
        printf("%s,", r->has_return ? dec_format(r->ret, 0, a, sizeof a) : "");
        if (imp) {
            printf(",,%s,,,\n", fmt_money(v->transfer, mu, a));
            continue;
        }
        printf("%s,", dec_format(v->weight, 0, a, sizeof a));
        printf("%s,", fmt_money(v->target, mu, a));
        printf("%s,", fmt_money(v->transfer, mu, a));
        printf("%s,", fmt_money(v->shortfall, mu, a));
        printf("%s,", fmt_money(v->cash, mu, a));
        printf("%s\n", fmt_money(v->positions_value, mu, a));
    }
}

static void history_table(const engine *en, const history_report *h)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c[CAPALLOC_DEC_MAX_TEXT], d[CAPALLOC_DEC_MAX_TEXT],
        f[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    printf("%-10s %5s %-14s %16s %10s %9s %16s %16s\n", "date", "run",
           "portfolio", "NAV", "return", "weight", "target", "transfer");
    for (size_t i = 0; i < h->n; i++) {
        const history_row *r = &h->rows[i];
        const capalloc_valuation *v = &r->v;
        char label[64];
        int imp = (v->flags & CAPALLOC_VAL_IMPORTED) != 0;
        snprintf(label, sizeof label, "%.40s%s", v->portfolio_id,
                 (v->flags & CAPALLOC_VAL_MASTER) ? " (reserve)" : "");
        if (imp)
            printf("%-10s %5s %-14s %16s %10s %9s %16s %16s\n", v->date,
                   "imp", label, fmt_money_table(v->nav, mu, a),
                   fmt_return(r->has_return, r->ret, b), "", "",
                   fmt_money_table(v->transfer, mu, c));
        else
            printf("%-10s %5lld %-14s %16s %10s %9s %16s %16s\n", v->date,
                   (long long)v->run_id, label,
                   fmt_money_table(v->nav, mu, a),
                   (v->flags & CAPALLOC_VAL_MASTER)
                       ? ""
                       : fmt_return(r->has_return, r->ret, b),
                   dec_format(v->weight, 0, f, sizeof f),
                   fmt_money_table(v->target, mu, c),
                   fmt_money_table(v->transfer, mu, d));
    }
    if (h->n == 0)
        printf("(no valuations recorded in this range)\n");
    /* the runs that are not plain allocations, or were reversed */
    for (size_t i = 0; i < h->n; i++) {
        const capalloc_valuation *v = &h->rows[i].v;
        if ((v->flags & CAPALLOC_VAL_IMPORTED) ||
            (i > 0 && h->rows[i - 1].v.run_id == v->run_id))
            continue;
        int special = v->run_kind != NULL &&
                      strcmp(v->run_kind, CAPALLOC_RUN_RUN) != 0;
        if (!special && v->reversed_by <= 0)
            continue;
        printf("run %lld: %s", (long long)v->run_id,
               special ? v->run_kind : "allocation");
        if (v->reverses > 0)
            printf(" of run %lld", (long long)v->reverses);
        if (v->reversed_by > 0)
            printf(", reversed by run %lld", (long long)v->reversed_by);
        printf("\n");
    }
    if (h->n_fund == 0)
        return;
    printf("\nthe fund (ADD and WITHDRAW are flows, not returns):\n");
    printf("%-10s %5s %16s %16s %10s\n", "date", "run", "total equity",
           "capital flow", "return");
    for (size_t i = 0; i < h->n_fund; i++) {
        const fund_obs *fo = &h->fund[i];
        printf("%-10s %5lld %16s %16s %10s\n", fo->date,
               (long long)fo->run_id, fmt_money_table(fo->equity, mu, a),
               fmt_money_table(fo->flow, mu, c),
               fmt_return(fo->has_return, fo->ret, b));
    }
    printf("(amounts at %d decimal%s; returns as percentages; --json or "
           "--csv for exact values)\n",
           mu, mu == 1 ? "" : "s");
}

static int history_import(cli *c, const char *file, int dry)
{
    engine *en;
    int rc = cli_open_engine(c, &en);
    if (rc)
        return rc;
    import_result r;
    cap_error e = {0, ""};
    cli_progress(c, "history import %s: %s", file, dry ? "dry run" : "writing");
    rc = engine_history_import(en, file, dry, &r, &e);
    if (rc)
        rc = cli_fail(c, rc, e.msg);
    else if (c->json)
        printf("{\"command\":\"history import\",\"dry_run\":%s,\"rows\":%zu,"
               "\"portfolios\":%zu}\n",
               dry ? "true" : "false", r.n_rows, r.n_portfolios);
    else
        printf("%s%zu valuation%s of %zu portfolio%s from %s\n",
               dry ? "dry run: would import " : "imported ", r.n_rows,
               r.n_rows == 1 ? "" : "s", r.n_portfolios,
               r.n_portfolios == 1 ? "" : "s", file);
    engine_close(en);
    return rc;
}

static int run_history(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"portfolio", required_argument, NULL, 'p'},
        {"csv", no_argument, NULL, OPT_CSV},
        {"dry-run", no_argument, NULL, 'n'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    history_opts o = {NULL, NULL, NULL, 0, 0};
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "p:n", longopts,
                       history_opt, &o, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (first < argc && strcmp(argv[first], "import") == 0) {
        if (first + 1 >= argc)
            return cli_usage_error(c, "missing FILE");
        if (first + 2 < argc)
            return cli_usage_error(c, "unexpected argument '%s'",
                                   argv[first + 2]);
        return history_import(c, argv[first + 1], o.dry);
    }
    if (first < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    if (o.from && o.to && strcmp(o.from, o.to) > 0)
        return cli_usage_error(c, "--from %s is after --to %s", o.from, o.to);
    if (o.csv && c->json)
        return cli_usage_error(c, "--csv and --json exclude each other");

    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    history_report h;
    cap_error e = {0, ""};
    rc = engine_history(en, o.from, o.to, o.portfolio, &h, &e);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else {
        if (c->json)
            history_json(en, &h);
        else if (o.csv)
            history_csv(en, &h);
        else
            history_table(en, &h);
        history_report_free(&h);
    }
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_history = {
    "history",
    "the register: NAV, return, weight, target, transfer per run",
    "capalloc history [--from YYYY-MM-DD] [--to YYYY-MM-DD] [-p ID] [--csv]\n"
    "capalloc history import FILE.csv [-n]\n",
    "\n"
    "Prints every recorded valuation: per run date and portfolio its NAV\n"
    "before the run's transfers, its flow-adjusted return since the\n"
    "previous valuation, the policy's weight, the target and the transfer;\n"
    "the master's row is the reserve. Then the fund's total equity, the\n"
    "capital that came in or went out (ADD, WITHDRAW) and its return.\n"
    "\n"
    "Return between two valuations of a strategy:\n"
    "  r = NAV_t / (NAV_t-1 + transfer_t-1) - 1\n"
    "(the allocator's transfers are flows, not performance; nothing held\n"
    "after the previous run: no return).\n"
    "\n"
    "'history import FILE' backfills strategies' past NAVs from a CSV of\n"
    "date,portfolio_id,nav[,flow] (a header line allowed): every row is\n"
    "checked first and one bad row imports nothing. Dates must be before\n"
    "the strategy's first allocation run.\n"
    "\n"
    "Options:\n"
    "  --from DATE          valuations on or after DATE\n"
    "  --to DATE            valuations on or before DATE\n"
    "  -p, --portfolio ID   one strategy (and the reserve)\n"
    "  --csv                CSV with exact values\n"
    "  -n, --dry-run        (import) check the file, write nothing\n",
    run_history,
};

/* ------------------------------------------------------------------------ */
/* capalloc explain                                                          */
/* ------------------------------------------------------------------------ */

static int explain_opt(cli *c, int opt, const char *arg, void *ctx)
{
    (void)arg;
    (void)ctx;
    (void)opt;
    return cli_usage_error(c, "unknown option");
}

/* "2025-01-08T06:00:00.000Z" -> Unix seconds, or 0. */
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

static void print_age(long long secs)
{
    if (secs < 0)
        printf("%17s", "after the run");
    else if (secs < 3600)
        printf("%13lld min", secs / 60);
    else if (secs < 2 * 86400)
        printf("%15lld h", secs / 3600);
    else
        printf("%12lld days", secs / 86400);
}

/* A recorded amount (exact decimal text) at the minor unit, for a table. */
static const char *table_amount(const json_t *j, int mu, char *buf)
{
    capalloc_dec d;
    const char *s = json_string_value(j);
    if (s == NULL || dec_parse(s, &d) != CAPALLOC_OK)
        return s ? s : "?";
    return fmt_money_table(d, mu, buf);
}

/* The run's rebalance rules and what each did (detail "rebalance"). */
static void explain_rules(const json_t *rb)
{
    const json_t *rules = json_object_get(rb, "rules");
    printf("\nRebalance rules:");
    const json_t *band = json_object_get(rules, "drift_band");
    if (band != NULL) {
        const json_t *w = json_object_get(band, "absolute");
        printf(" drift band %s %s (%s)",
               w ? "absolute" : "relative",
               json_string_value(w ? w : json_object_get(band, "relative")),
               json_string_value(json_object_get(band, "scope")));
    }
    static const char *const limits[] = {"min_transfer", "max_transfer",
                                         "max_turnover"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *l = json_object_get(rules, limits[i]);
        if (json_is_object(l))
            printf("; %s %s", limits[i],
                   json_string_value(json_object_get(l, "amount")));
    }
    const char *buf = json_string_value(json_object_get(rules, "cash_buffer"));
    if (buf != NULL && strcmp(buf, "0") != 0)
        printf("; cash buffer %s (%s)", buf,
               json_string_value(json_object_get(rules, "buffer_amount")));
    printf("\n  turnover planned %s, moved %s\n",
           json_string_value(json_object_get(rb, "turnover_planned")),
           json_string_value(json_object_get(rb, "turnover")));
    const char *id;
    json_t *o;
    json_object_foreach((json_t *)json_object_get(rb, "strategies"), id, o) {
        json_t *fl = json_object_get(o, "rules");
        if (json_array_size(fl) == 0)
            continue;
        printf("  %s: weight %s (policy %s, held %s), planned %s, moved %s:",
               id, json_string_value(json_object_get(o, "weight")),
               json_string_value(json_object_get(o, "policy_weight")),
               json_string_value(json_object_get(o, "current_weight")),
               json_string_value(json_object_get(o, "planned")),
               json_string_value(json_object_get(o, "transfer")));
        size_t k;
        json_t *f;
        json_array_foreach(fl, k, f)
            printf("%s%s", k ? ", " : " ", json_string_value(f));
        printf("\n");
    }
}

static void explain_text(const engine *en, const run_explain *x)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c[CAPALLOC_DEC_MAX_TEXT], d[CAPALLOC_DEC_MAX_TEXT],
        f[CAPALLOC_DEC_MAX_TEXT], g[CAPALLOC_DEC_MAX_TEXT],
        h[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    json_error_t jerr;
    json_t *root = json_loads(x->detail_json ? x->detail_json : "", 0, &jerr);
    const char *kind = x->info.kind;
    printf("%s run %lld%s%s, recorded %s by capalloc %s%s\n",
           strcmp(x->action, "ALLOCATE") != 0 ? x->action
           : strcmp(kind, CAPALLOC_RUN_DEPLOY) == 0  ? "Deployment (DEPLOY)"
           : strcmp(kind, CAPALLOC_RUN_REVERSE) == 0 ? "Reversal (REVERSE)"
                                                     : "Allocation",
           (long long)x->info.run_id, *x->info.run_date ? " for " : "",
           x->info.run_date, x->info.created_at,
           x->capalloc_version && *x->capalloc_version ? x->capalloc_version
                                                       : "(unknown)",
           x->forced ? " (forced re-run)" : "");
    if (x->info.reverses > 0)
        printf("REVERSE of run %lld: every transfer of it mirrored\n",
               (long long)x->info.reverses);
    if (x->info.reversed_by > 0)
        printf("run %lld reversed by run %lld\n", (long long)x->info.run_id,
               (long long)x->info.reversed_by);
    json_t *pol = json_object_get(root, "policy");
    json_t *stages = json_object_get(root, "stages");
    int stack = json_array_size(stages) > 1;
    if (stack) {
        printf("\nPolicy: a stack of %zu stages (each with its options as "
               "given)\n",
               json_array_size(stages));
    } else if (pol != NULL) {
        char *opts = json_dumps(json_object_get(pol, "options"),
                                JSON_PRESERVE_ORDER | JSON_COMPACT);
        printf("\nPolicy: %s %s (%s)\n  options as given: %s\n",
               json_string_value(json_object_get(pol, "plugin")),
               json_string_value(json_object_get(pol, "version")),
               json_string_value(json_object_get(pol, "path")),
               opts ? opts : "{}");
        free(opts);
    }
    size_t si;
    json_t *st;
    if (json_array_size(stages) > 0)
        printf("\nWeights after each stage:\n");
    json_array_foreach(stages, si, st) {
        if (stack) {
            char *so = json_dumps(json_object_get(st, "options"),
                                  JSON_PRESERVE_ORDER | JSON_COMPACT);
            printf("  %zu. %s %s %s:", si + 1,
                   json_string_value(json_object_get(st, "plugin")),
                   json_string_value(json_object_get(st, "version")),
                   so ? so : "{}");
            free(so);
        } else {
            printf("  %zu. %s:", si + 1,
                   json_string_value(json_object_get(st, "plugin")));
        }
        const char *k;
        json_t *w;
        json_object_foreach(json_object_get(st, "weights"), k, w)
            printf(" %s=%s", k, json_string_value(w));
        printf("\n");
        json_t *fb = json_object_get(st, "fallback");
        if (fb != NULL)
            printf("     fell back to the %s weights: %s\n",
                   json_string_value(json_object_get(fb, "to")),
                   json_string_value(json_object_get(fb, "why")));
        const char *note = json_string_value(json_object_get(st, "note"));
        if (note != NULL)
            printf("     %s\n", note);
    }
    json_t *hist = json_object_get(root, "history");
    if (hist != NULL && json_integer_value(json_object_get(hist, "points_wanted")) > 0)
        printf("  (history: %lld points asked per strategy, %lld given in "
               "all)\n",
               (long long)json_integer_value(json_object_get(hist, "points_wanted")),
               (long long)json_integer_value(json_object_get(hist, "points_given")));

    long long made = iso_seconds(x->info.created_at);
    printf("\nPrices (%zu):\n  %-12s %16s  %-20s %17s\n", x->np, "ticker",
           "price", "as of (UTC)", "age at the run");
    for (size_t i = 0; i < x->np; i++) {
        const capalloc_price_row *p = &x->p[i];
        char when[32] = "unknown";
        if (p->as_of > 0) {
            time_t t = (time_t)p->as_of;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        }
        printf("  %-12s %16s  %-20s ", p->ticker,
               dec_format(p->price, 2, a, sizeof a), when);
        if (p->as_of > 0 && made > 0)
            print_age(made - p->as_of);
        else
            printf("%17s", "-");
        printf("%s\n", (p->flags & CAPALLOC_QUOTE_STALE) ? "  STALE (last known)" : "");
    }
    printf("\nPortfolios (values before the run's transfers):\n");
    printf("  %-16s %14s %14s %14s %9s %14s %14s %12s\n", "portfolio", "cash",
           "positions", "NAV", "weight", "target", "transfer", "shortfall");
    for (size_t i = 0; i < x->nv; i++) {
        const capalloc_valuation *v = &x->v[i];
        char label[64];
        snprintf(label, sizeof label, "%.40s%s", v->portfolio_id,
                 (v->flags & CAPALLOC_VAL_MASTER) ? " (reserve)" : "");
        printf("  %-16s %14s %14s %14s %9s %14s %14s %12s\n", label,
               fmt_money_table(v->cash, mu, a),
               fmt_money_table(v->positions_value, mu, b),
               fmt_money_table(v->nav, mu, c),
               dec_format(v->weight, 0, g, sizeof g),
               fmt_money_table(v->target, mu, d),
               fmt_money_table(v->transfer, mu, f),
               fmt_money_table(v->shortfall, mu, h));
    }
    printf("  (the reserve's weight is what the policy left unallocated; its "
           "target is its cash after the run)\n");
    json_t *t = json_object_get(root, "totals");
    if (t != NULL)
        printf("\nTotal equity %s %s; the master paid out %s and got back "
               "%s; %lld transfer%s%s\n",
               table_amount(json_object_get(t, "total_equity"), mu, a),
               en->cfg->currency,
               table_amount(json_object_get(t, "funded"), mu, b),
               table_amount(json_object_get(t, "returned"), mu, c),
               (long long)json_integer_value(json_object_get(t, "transfers")),
               json_integer_value(json_object_get(t, "transfers")) == 1 ? ""
                                                                        : "s",
               json_is_true(json_object_get(t, "scaled"))
                   ? " (fundings scaled down pro rata: the master could not "
                     "pay every one in full)"
                   : "");
    if (json_is_object(json_object_get(root, "rebalance")))
        explain_rules(json_object_get(root, "rebalance"));
    json_t *dp = json_object_get(root, "deploy");
    if (json_is_object(dp))
        printf("Deployed with its ADD of %s %s: each strategy's share is the "
               "ADD x its weight, rounded down; the master kept its cash "
               "buffer of %s and %s owed to queued redemptions%s; %lld "
               "share%s cut to max_transfer, %lld below min_transfer\n",
               table_amount(json_object_get(dp, "amount"), mu, a),
               en->cfg->currency,
               table_amount(json_object_get(dp, "buffer"), mu, b),
               table_amount(json_object_get(dp, "queued"), mu, c),
               json_is_true(json_object_get(dp, "scaled"))
                   ? " (every share scaled down pro rata to what it held "
                     "above them)"
                   : "",
               (long long)json_integer_value(json_object_get(dp, "max_cut")),
               json_integer_value(json_object_get(dp, "max_cut")) == 1 ? ""
                                                                      : "s",
               (long long)json_integer_value(
                   json_object_get(dp, "below_min")));
    /* a plan applied with `capalloc apply` (plan_file.c) */
    const json_t *ap = json_object_get(root, "approval");
    if (json_is_object(ap)) {
        const char *prep = json_string_value(json_object_get(ap, "prepared_by"));
        const char *at = json_string_value(json_object_get(ap, "prepared_at"));
        const char *app = json_string_value(json_object_get(ap, "applied_by"));
        printf("\nApplied from a plan prepared by %s at %s, applied by %s; "
               "approved by",
               prep ? prep : "?", at ? at : "?", app ? app : "?");
        size_t i;
        const json_t *who;
        int k = 0;
        json_array_foreach(json_object_get(ap, "approved_by"), i, who) {
            const char *by = json_string_value(json_object_get(who, "by"));
            const char *when = json_string_value(json_object_get(who, "at"));
            printf("%s %s (%s)", k++ ? "," : "", by ? by : "?",
                   when ? when : "?");
        }
        printf("%s\n", k ? "" : " nobody");
    }
    json_decref(root);
}

static void explain_json_out(const engine *en, const run_explain *x)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    int mu = en->cfg->minor_units;
    printf("{\"command\":\"explain\",\"run_id\":%lld,\"run_date\":\"%s\","
           "\"created_at\":",
           (long long)x->info.run_id, x->info.run_date);
    json_str(stdout, x->info.created_at);
    printf(",\"action\":\"%s\",\"kind\":\"%s\",\"reverses\":", x->action,
           *x->info.kind ? x->info.kind : CAPALLOC_RUN_RUN);
    if (x->info.reverses > 0)
        printf("%lld", (long long)x->info.reverses);
    else
        printf("null");
    printf(",\"reversed_by\":");
    if (x->info.reversed_by > 0)
        printf("%lld", (long long)x->info.reversed_by);
    else
        printf("null");
    printf(",\"forced\":%s,\"capalloc_version\":", x->forced ? "true" : "false");
    json_str(stdout, x->capalloc_version ? x->capalloc_version : "");
    /* the explanation as recorded: valid JSON written by capalloc */
    printf(",\"detail\":%s",
           x->detail_json && *x->detail_json ? x->detail_json : "null");
    printf(",\"prices\":[");
    for (size_t i = 0; i < x->np; i++) {
        printf("%s{\"ticker\":", i ? "," : "");
        json_str(stdout, x->p[i].ticker);
        printf(",\"price\":\"%s\",\"as_of\":%lld,\"stale\":%s}",
               dec_format(x->p[i].price, 0, a, sizeof a),
               (long long)x->p[i].as_of,
               (x->p[i].flags & CAPALLOC_QUOTE_STALE) ? "true" : "false");
    }
    printf("],\"portfolios\":[");
    for (size_t i = 0; i < x->nv; i++) {
        const capalloc_valuation *v = &x->v[i];
        printf("%s{\"id\":", i ? "," : "");
        json_str(stdout, v->portfolio_id);
        printf(",\"reserve\":%s", (v->flags & CAPALLOC_VAL_MASTER) ? "true" : "false");
        printf(",\"cash\":\"%s\"", fmt_money(v->cash, mu, a));
        printf(",\"positions_value\":\"%s\"", fmt_money(v->positions_value, mu, a));
        printf(",\"nav\":\"%s\"", fmt_money(v->nav, mu, a));
        printf(",\"weight\":\"%s\"", dec_format(v->weight, 0, a, sizeof a));
        printf(",\"target\":\"%s\"", fmt_money(v->target, mu, a));
        printf(",\"transfer\":\"%s\"", fmt_money(v->transfer, mu, a));
        printf(",\"shortfall\":\"%s\"}", fmt_money(v->shortfall, mu, a));
    }
    printf("]}\n");
}

static int run_explain_cmd(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS, longopts,
                       explain_opt, NULL, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    char date[16];
    long long run_id = 0;
    if (first < argc && !cli_valid_date(argv[first])) {
        /* a run id: any run, a deployment or a reversal too */
        const char *s = argv[first];
        char *end;
        run_id = strtoll(s, &end, 10);
        if (*s < '0' || *s > '9' || *end != '\0' || run_id <= 0)
            return cli_usage_error(c, "'%s' is neither a date YYYY-MM-DD "
                                      "nor a run id",
                                   s);
        if (first + 1 < argc)
            return cli_usage_error(c, "unexpected argument '%s'",
                                   argv[first + 1]);
    } else if (first < argc) {
        snprintf(date, sizeof date, "%s", argv[first]);
        if (first + 1 < argc)
            return cli_usage_error(c, "unexpected argument '%s'",
                                   argv[first + 1]);
    } else {
        cli_today(date);
    }
    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    run_explain x;
    cap_error e = {0, ""};
    rc = run_id > 0 ? engine_explain_run(en, (int64_t)run_id, &x, &e)
                    : engine_explain(en, date, &x, &e);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else {
        if (c->json)
            explain_json_out(en, &x);
        else
            explain_text(en, &x);
        run_explain_free(&x);
    }
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_explain = {
    "explain",
    "why a run did what it did: prices, NAVs, policy, weights, transfers",
    "capalloc explain [YYYY-MM-DD | RUN]\n",
    "\n"
    "Shows the record of the date's allocation run (default: today; the\n"
    "latest run when the date was forced again), or of run RUN (any run by\n"
    "its id: a deployment, a reversal; its kind and, for a reversal, the\n"
    "run it reverses or the run that reversed it): the prices used and their\n"
    "age at the run (stale: a last-known price), each portfolio's cash,\n"
    "positions and NAV before the transfers, the policy with its options as\n"
    "given, the weights after each stage, the targets, transfers and\n"
    "shortfalls. The record is written in the run's own transaction: it\n"
    "exists exactly when the run does.\n",
    run_explain_cmd,
};
