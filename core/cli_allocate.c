/*
 * cli_allocate.c - `capalloc allocate` (and `daily_allocator`), the daily
 * run, and `capalloc status`, the same valuation and plan without a write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "plan_file.h"

/* ------------------------------------------------------------------------ */
/* output                                                                    */
/* ------------------------------------------------------------------------ */

/* valued_at: for status, when the balances and prices were read (ISO
 * 8601, UTC); NULL for allocate. */
static void print_report_json(const engine *en, const alloc_report *r,
                              const char *command, const char *state,
                              const char *valued_at)
{
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT];
    printf("{\"command\":\"%s\",\"run_date\":\"%s\",\"status\":\"%s\","
           "\"currency\":\"%s\"",
           command, r->run_date, state, en->cfg->currency);
    if (valued_at != NULL)
        printf(",\"valued_at\":\"%s\"", valued_at);
    if (r->already_ran) {
        printf(",\"previous_run\":{\"run_id\":%lld,\"created_at\":",
               (long long)r->previous.run_id);
        json_str(stdout, r->previous.created_at);
        printf(",\"trades\":%lld}}\n", (long long)r->previous.n_trades);
        return;
    }
    const alloc_totals *t = &r->totals;
    printf(",\"total_equity\":\"%s\"", fmt_money(t->total_equity, mu, a));
    printf(",\"master\":{\"id\":");
    json_str(stdout, en->cfg->master_id);
    printf(",\"cash_before\":\"%s\"", fmt_money(t->master_before, mu, a));
    printf(",\"positions_value\":\"%s\"",
           fmt_money(t->master_positions, mu, a));
    printf(",\"cash_after\":\"%s\"}", fmt_money(t->master_after, mu, a));
    printf(",\"scaled\":%s,\"transfers\":%zu,\"attempts\":%d",
           t->scaled ? "true" : "false", t->n_transfers, r->attempts);
    printf(",\"portfolios\":[");
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        capalloc_dec drift;
        dec_sub(s->total, s->target, &drift);
        printf("%s{\"id\":", i ? "," : "");
        json_str(stdout, s->id);
        printf(",\"weight\":\"%s\"", dec_format(s->weight, 0, a, sizeof a));
        printf(",\"cash\":\"%s\"", fmt_money(s->cash, mu, a));
        printf(",\"positions_value\":\"%s\"", fmt_money(s->positions_value, mu, a));
        printf(",\"total\":\"%s\"", fmt_money(s->total, mu, a));
        printf(",\"target\":\"%s\"", fmt_money(s->target, mu, a));
        printf(",\"drift\":\"%s\"", fmt_money(drift, mu, a));
        printf(",\"transfer\":\"%s\"", fmt_money(s->transfer, mu, a));
        printf(",\"shortfall\":\"%s\"", fmt_money(s->shortfall, mu, a));
        printf(",\"cash_after\":\"%s\"", fmt_money(s->cash_after, mu, a));
        if (r->rules_on) {
            const rule_effect *fx = &r->effects[i];
            printf(",\"planned\":\"%s\",\"rules\":[",
                   fmt_money(fx->planned, mu, a));
            int k = 0;
            for (unsigned fl = 1; fl <= RULE_FUNDS; fl <<= 1)
                if (fx->flags & fl)
                    printf("%s\"%s\"", k++ ? "," : "", rules_flag_name(fl));
            printf("]");
        }
        printf("}");
    }
    printf("]");
    if (r->n_reds > 0) {
        printf(",\"redemptions\":{\"queued\":\"%s\"",
               fmt_money(r->queued, mu, a));
        printf(",\"paid\":\"%s\",\"payments\":[",
               fmt_money(r->paid_out, mu, a));
        for (size_t i = 0; i < r->n_reds; i++)
            printf("%s{\"id\":%lld,\"paid\":\"%s\"}", i ? "," : "",
                   (long long)r->reds[i].id,
                   fmt_money(r->reds[i].pay, mu, a));
        printf("]}");
    }
    printf(",\"new_books\":[");
    for (size_t i = 0; i < r->n_new_books; i++) {
        printf("%s", i ? "," : "");
        json_str(stdout, r->new_books[i]);
    }
    printf("],\"price_requests\":%zu,\"prices\":[", r->price_requests);
    for (size_t i = 0; i < r->n_prices; i++) {
        printf("%s{\"ticker\":", i ? "," : "");
        json_str(stdout, r->prices[i].ticker);
        printf(",\"price\":\"%s\",\"as_of\":%lld,\"stale\":%s}",
               dec_format(r->prices[i].price, 0, a, sizeof a),
               (long long)r->prices[i].as_of,
               (r->prices[i].flags & CAPALLOC_QUOTE_STALE) ? "true" : "false");
    }
    /* the tickers valued at a last-known price, for whoever reads only
     * this (a scheduler's alert) */
    printf("],\"stale_prices\":[");
    for (size_t i = 0, k = 0; i < r->n_prices; i++)
        if (r->prices[i].flags & CAPALLOC_QUOTE_STALE) {
            printf("%s", k++ ? "," : "");
            json_str(stdout, r->prices[i].ticker);
        }
    printf("]}\n");
}

/* The table shows amounts rounded to the currency's minor unit (the JSON
 * output has them exactly: a position's value can have more places). */
/* s padded with spaces to width, on the left (right-aligned) or, with
 * left, on the right: printf's %*s and %-*s, which took 70% of printing a
 * 10,000-strategy table. Returns the end. */
static char *put_cell(char *w, const char *s, int width, int left)
{
    size_t n = strlen(s), pad = n < (size_t)width ? (size_t)width - n : 0;
    if (!left) {
        memset(w, ' ', pad);
        w += pad;
    }
    memcpy(w, s, n);
    w += n;
    if (left) {
        memset(w, ' ', pad);
        w += pad;
    }
    return w;
}

static void print_table(const engine *en, const alloc_report *r, int with_transfers)
{
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c3[CAPALLOC_DEC_MAX_TEXT], d[CAPALLOC_DEC_MAX_TEXT],
        f[CAPALLOC_DEC_MAX_TEXT], g[CAPALLOC_DEC_MAX_TEXT];
    const alloc_totals *t = &r->totals;
    printf("  %-14s %14s %14s %14s %8s %14s %14s", "portfolio", "cash",
           "positions", "total", "weight", "target", "drift");
    if (with_transfers)
        printf(" %14s %14s", "transfer", "cash after");
    printf("\n");
    capalloc_dec reserve = dec_from_int(1);
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        capalloc_dec drift;
        dec_sub(s->total, s->target, &drift);
        dec_sub(reserve, s->weight, &reserve);
        /* "  %-14s %14s %14s %14s %8s %14s %14s[ %14s %14s]\n", built in
         * one buffer: the id is any length, each amount at most
         * CAPALLOC_DEC_MAX_TEXT */
        char *line = malloc(strlen(s->id) + 9 * (CAPALLOC_DEC_MAX_TEXT + 16));
        if (line == NULL) {
            fputs("  (out of memory printing this row)\n", stdout);
            continue;
        }
        char *w = line;
        *w++ = ' ';
        *w++ = ' ';
        w = put_cell(w, s->id, 14, 1);
        const char *cells[6] = {fmt_money_table(s->cash, mu, a),
                                fmt_money_table(s->positions_value, mu, b),
                                fmt_money_table(s->total, mu, c3),
                                dec_format(s->weight, 2, d, sizeof d),
                                fmt_money_table(s->target, mu, f),
                                fmt_money_table(drift, mu, g)};
        for (int k = 0; k < 6; k++) {
            *w++ = ' ';
            w = put_cell(w, cells[k], k == 3 ? 8 : 14, 0);
        }
        if (with_transfers) {
            char tr[CAPALLOC_DEC_MAX_TEXT + 2];
            tr[0] = '+';
            fmt_money_table(s->transfer, mu, tr + 1);
            *w++ = ' ';
            w = put_cell(w, s->transfer.micros > 0 ? tr : tr + 1, 14, 0);
            *w++ = ' ';
            w = put_cell(w, fmt_money_table(s->cash_after, mu, b), 14, 0);
        }
        *w++ = '\n';
        fwrite(line, 1, (size_t)(w - line), stdout);
        free(line);
    }
    /* The master holds what no strategy is meant to: the reserve. Its
     * weight is 1 - the strategies' weights. */
    char m[64];
    capalloc_dec master_nav; /* fits: part of total equity */
    dec_add(t->master_before, t->master_positions, &master_nav);
    snprintf(m, sizeof m, "%s (reserve)", en->cfg->master_id);
    printf("  %-14s %14s %14s %14s %8s %14s %14s", m,
           fmt_money_table(t->master_before, mu, a),
           fmt_money_table(t->master_positions, mu, b),
           fmt_money_table(master_nav, mu, c3),
           dec_format(reserve, 2, d, sizeof d), "", "");
    if (with_transfers)
        printf(" %14s %14s", "", fmt_money_table(t->master_after, mu, b));
    printf("\n  total equity %s %s\n", fmt_money_table(t->total_equity, mu, a),
           en->cfg->currency);
    if (r->n_reds > 0) {
        capalloc_dec keep;
        dec_sub(t->master_after, r->paid_out, &keep);
        printf("  redemptions: %s %s queued; %s %s%s", fmt_money(r->queued, mu, a),
               en->cfg->currency, r->dry_run ? "would pay" : "pays",
               fmt_money(r->paid_out, mu, b),
               dec_cmp(r->paid_out, r->queued) < 0
                   ? " (partial: the master holds no more after the "
                     "transfers; the rest stays queued)"
                   : "");
        for (size_t i = 0; i < r->n_reds; i++)
            if (!dec_is_zero(r->reds[i].pay))
                printf("; redemption %lld: %s", (long long)r->reds[i].id,
                       fmt_money(r->reds[i].pay, mu, d));
        printf("; master cash after the payout %s\n", fmt_money(keep, mu, f));
    }
    for (size_t i = 0; r->rules_on && i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        const rule_effect *fx = &r->effects[i];
        if (fx->flags == 0)
            continue;
        printf("  rebalance: portfolio '%s' planned %s%s, moves %s%s:", s->id,
               fx->planned.micros > 0 ? "+" : "", fmt_money(fx->planned, mu, a),
               s->transfer.micros > 0 ? "+" : "",
               fmt_money(s->transfer, mu, b));
        if (fx->flags & RULE_BUFFER)
            printf(" cash buffer (weight %s -> %s);",
                   dec_format(fx->policy_weight, 2, d, sizeof d),
                   dec_format(s->weight, 2, f, sizeof f));
        if (fx->flags & RULE_IN_BAND)
            printf(" inside the drift band (weight %s, target %s), skipped;",
                   dec_format(fx->drift_weight, 2, d, sizeof d),
                   dec_format(s->weight, 2, f, sizeof f));
        if (fx->flags & RULE_MAX_CUT)
            printf(" cut to max_transfer %s;",
                   fmt_money(r->rules.max_transfer, mu, d));
        if (fx->flags & RULE_TURNOVER)
            printf(" cut by max_turnover %s;",
                   fmt_money(r->rules.max_turnover, mu, d));
        if (fx->flags & RULE_BELOW_MIN)
            printf(" below min_transfer %s, skipped;",
                   fmt_money(r->rules.min_transfer, mu, d));
        if (fx->flags & RULE_FUNDS)
            printf(" the master's cash above its buffer %s could not pay it "
                   "all;",
                   fmt_money(r->rules.buffer, mu, d));
        printf("\n");
    }
    for (size_t i = 0; i < r->n; i++)
        if (!dec_is_zero(r->strategies[i].shortfall) &&
            !(r->rules_on && (r->effects[i].flags & ~RULE_BUFFER)))
            printf("  shortfall: portfolio '%s' is %s %s from its target "
                   "(%s)\n",
                   r->strategies[i].id,
                   fmt_money(r->strategies[i].shortfall, mu, a), en->cfg->currency,
                   dec_is_neg(r->strategies[i].adjustment)
                       ? "its excess is held in positions, only cash is returned"
                       : "the master could not fund every strategy in full; "
                         "fundings were scaled pro rata");
    for (size_t i = 0; i < r->n_prices; i++)
        if (r->prices[i].flags & CAPALLOC_QUOTE_STALE)
            printf("  stale price: %s valued at its last known price %s\n",
                   r->prices[i].ticker,
                   dec_format(r->prices[i].price, 0, a, sizeof a));
}

/* ------------------------------------------------------------------------ */
/* options                                                                   */
/* ------------------------------------------------------------------------ */

enum { OPT_ALLOW_PAST = 256, OPT_METRICS, OPT_ACCEPT_NAV, OPT_ACCEPT_MOVES,
       OPT_PLAN_OUT, OPT_AS };

typedef struct run_opts {
    char date[16];
    int date_given;
    int force, dry, allow_past, accept_moves;
    const char *metrics;
    const char *accept_nav[32]; /* --accept-nav, borrowed from argv */
    size_t n_accept_nav;
    const char *plan_out;       /* --plan-out FILE */
    const char *as_name;        /* --as NAME: the preparer */
} run_opts;

static int run_opt(cli *c, int opt, const char *arg, void *ctx)
{
    run_opts *o = ctx;
    switch (opt) {
    case 'd':
        if (!cli_valid_date(arg))
            return cli_usage_error(c, "--date needs a date YYYY-MM-DD, got '%s'",
                                   arg);
        snprintf(o->date, sizeof o->date, "%s", arg);
        o->date_given = 1;
        return 0;
    case 'f':
        o->force = 1;
        return 0;
    case 'n':
        o->dry = 1;
        return 0;
    case OPT_ALLOW_PAST:
        o->allow_past = 1;
        return 0;
    case OPT_ACCEPT_MOVES:
        o->accept_moves = 1;
        return 0;
    case OPT_METRICS:
        if (arg[0] == '\0')
            return cli_usage_error(c, "--metrics-file needs a PATH");
        o->metrics = arg;
        return 0;
    case OPT_PLAN_OUT:
        if (arg[0] == '\0')
            return cli_usage_error(c, "--plan-out needs a FILE");
        o->plan_out = arg;
        return 0;
    case OPT_AS:
        if (arg[0] == '\0')
            return cli_usage_error(c, "--as needs a NAME");
        o->as_name = arg;
        return 0;
    case OPT_ACCEPT_NAV:
        if (arg[0] == '\0')
            return cli_usage_error(c, "--accept-nav needs a PORTFOLIO");
        if (o->n_accept_nav == sizeof o->accept_nav / sizeof *o->accept_nav)
            return cli_usage_error(c, "--accept-nav given more than %zu times",
                                   o->n_accept_nav);
        o->accept_nav[o->n_accept_nav++] = arg;
        return 0;
    default:
        return cli_usage_error(c, "unknown option");
    }
}

static int no_operands(cli *c, int argc, char **argv, int first)
{
    if (first < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    return 0;
}

static long long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (long long)(b->tv_sec - a->tv_sec) * 1000 +
           (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* ------------------------------------------------------------------------ */
/* allocate                                                                  */
/* ------------------------------------------------------------------------ */

/* The run itself; leaves *en and *r (*have_report once the engine ran)
 * for the metrics and the caller to free. */
static int allocate(cli *c, int argc, char **argv, run_opts *o, engine **en,
                    alloc_report *r, int *have_report)
{
    static const struct option longopts[] = {
        {"date", required_argument, NULL, 'd'},
        {"force", no_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {"allow-past-date", no_argument, NULL, OPT_ALLOW_PAST},
        {"accept-moves", no_argument, NULL, OPT_ACCEPT_MOVES},
        {"metrics-file", required_argument, NULL, OPT_METRICS},
        {"accept-nav", required_argument, NULL, OPT_ACCEPT_NAV},
        {"plan-out", required_argument, NULL, OPT_PLAN_OUT},
        {"as", required_argument, NULL, OPT_AS},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "d:fn", longopts,
                       run_opt, o, &first);
    if (rc || (rc = no_operands(c, argc, argv, first)))
        return rc;
    if (o->plan_out != NULL && o->dry)
        return cli_usage_error(c, "--plan-out writes a plan and changes "
                                  "nothing already: drop --dry-run");
    if (o->as_name != NULL && o->plan_out == NULL)
        return cli_usage_error(c, "--as names the preparer of a plan: use "
                                  "it with --plan-out");
    char today[16];
    cli_today(today);
    if (!o->date_given)
        snprintf(o->date, sizeof o->date, "%s", today);
    /* An allocation values today's balances at today's prices; under a
     * past date it would be recorded as that day's run. Only on purpose
     * (e.g. to make up a day the scheduler missed). */
    if (strcmp(o->date, today) < 0 && !o->allow_past)
        return cli_usage_error(
            c,
            "--date %s is in the past (today is %s): the run would value "
            "today's balances at today's prices and record them as the run "
            "of %s; add --allow-past-date if that is what you want",
            o->date, today, o->date);

    cli_progress(c, "allocate %s: reading the configuration", o->date);
    if ((rc = cli_open_engine(c, en)))
        return rc;
    (*en)->accept_nav = o->accept_nav;
    (*en)->n_accept_nav = o->n_accept_nav;
    cap_error pe = {0, ""};
    if ((rc = engine_policy_start(*en, &pe)))
        return cli_fail(c, rc, pe.msg);
    cli_progress(c,
                 "allocate %s: valuing with prices from '%s', weighting with "
                 "policy '%s', %s on '%s'",
                 o->date, (*en)->prices->hdr->name, (*en)->policy->hdr->name,
                 o->dry ? "nothing written" : "writing", (*en)->storage->hdr->name);
    cap_error e = {0, ""};
    (*en)->accept_moves = o->accept_moves;
    char who[128];
    if (o->plan_out != NULL)
        rc = engine_plan_out(*en, o->date, o->force, o->plan_out,
                             plan_identity(o->as_name, who, sizeof who), r,
                             &e);
    else
        rc = engine_allocate(*en, o->date, o->force, o->dry, r, &e);
    *have_report = 1; /* to be freed, also after a failure */
    if (rc)
        return cli_fail(c, rc, e.msg);
    if (o->plan_out != NULL && !r->already_ran) {
        if (c->json) {
            print_report_json(*en, r, "allocate", "planned", NULL);
        } else {
            printf("plan for %s written to %s (prepared by %s): %zu "
                   "transfer%s, nothing written to the ledger; next: "
                   "capalloc approve %s, capalloc apply %s\n",
                   r->run_date, o->plan_out, who, r->totals.n_transfers,
                   r->totals.n_transfers == 1 ? "" : "s", o->plan_out,
                   o->plan_out);
            print_table(*en, r, 1);
        }
        return 0;
    }
    if (r->already_ran)
        cli_progress(c, "allocate %s: already ran (run %lld); nothing done",
                     o->date, (long long)r->previous.run_id);
    else
        cli_progress(c,
                     "allocate %s: %zu price%s fetched in %zu request%s; "
                     "%zu transfer%s %s",
                     o->date, r->n_prices, r->n_prices == 1 ? "" : "s",
                     r->price_requests, r->price_requests == 1 ? "" : "s",
                     r->totals.n_transfers, r->totals.n_transfers == 1 ? "" : "s",
                     o->dry ? "planned" : "committed");
    if (c->json) {
        print_report_json(*en, r, "allocate",
                          r->already_ran ? "already_ran"
                          : o->dry       ? "dry_run"
                                         : "committed",
                          NULL);
    } else if (r->already_ran) {
        printf("allocation for %s already ran (run %lld at %s, %lld trade "
               "rows); no new transfers. Use --force for another run.\n",
               r->run_date, (long long)r->previous.run_id, r->previous.created_at,
               (long long)r->previous.n_trades);
    } else {
        printf("%sallocation %s: %zu transfer%s%s\n", o->dry ? "dry run: " : "",
               r->run_date, r->totals.n_transfers,
               r->totals.n_transfers == 1 ? "" : "s",
               o->dry ? " planned, nothing written" : " committed");
        for (size_t i = 0; i < r->n_new_books; i++)
            printf("  opened the book of portfolio '%s' with zero cash\n",
                   r->new_books[i]);
        print_table(*en, r, 1);
    }
    return 0;
}

static int run_allocate(cli *c, int argc, char **argv)
{
    struct timespec t0, t1, end;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_opts o = {"", 0, 0, 0, 0, 0, NULL, {NULL}, 0, NULL, NULL};
    engine *en = NULL;
    alloc_report r;
    memset(&r, 0, sizeof r);
    int have_report = 0;
    int rc = allocate(c, argc, argv, &o, &en, &r, &have_report);
    if (rc < 0) /* --help */
        rc = 0;
    else if (o.metrics != NULL) {
        /* also, and above all, when the run failed */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        clock_gettime(CLOCK_REALTIME, &end);
        cli_metrics m = {
            rc,
            rc                ? "failed"
            : r.already_ran   ? "already_ran"
            : o.plan_out      ? "planned"
            : o.dry           ? "dry_run"
                              : "committed",
            o.date[0] ? o.date : NULL,
            en ? en->cfg->currency : NULL,
            en ? en->cfg->master_id : NULL,
            have_report && rc == 0 ? &r : NULL,
            end,
            ms_between(&t0, &t1),
        };
        char err[1024];
        if (cli_write_metrics(o.metrics, &m, err, sizeof err) != 0)
            fprintf(stderr, "capalloc: warning: metrics not written: %s\n", err);
        else
            cli_progress(c, "allocate %s: metrics written to %s", o.date,
                         o.metrics);
    }
    if (have_report)
        alloc_report_free(&r);
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_allocate = {
    "allocate",
    "the daily allocation run",
    "capalloc allocate [-d YYYY-MM-DD [--allow-past-date]] [-f] [-n]\n"
    "                         [--accept-moves] [--metrics-file PATH]\n"
    "                         [--accept-nav ID]...\n"
    "                         [--plan-out FILE [--as NAME]]\n"
    "       daily_allocator [same options]\n",
    "\n"
    "Values every strategy (cash + positions at current prices), computes\n"
    "each target as total equity x weight (rounded down to the currency's\n"
    "minor unit; residues stay in the master) and moves cash between the\n"
    "master and the strategies in one transaction.\n"
    "\n"
    "A run is keyed by its date. Running again for a date that already ran\n"
    "makes no transfers, says so and exits 0.\n"
    "\n"
    "Options:\n"
    "  -d, --date DATE     the run's date, YYYY-MM-DD (default: today, local\n"
    "                      time); a past date is refused (exit 2) unless\n"
    "  --allow-past-date   is given: the run still values today's balances at\n"
    "                      today's prices, recorded as that date's run\n"
    "  -f, --force         run again for a date that already ran\n"
    "  -n, --dry-run       print the plan, write nothing\n"
    "  --accept-moves      run although a strategy's NAV moved more than\n"
    "                      rebalance.max_nav_move since its last recorded\n"
    "                      valuation (else exit 9, nothing written)\n"
    "  --metrics-file PATH write the run's metrics for node_exporter's\n"
    "                      textfile collector to PATH (atomically; also when\n"
    "                      the run fails); see capalloc(1) for the names\n"
    "  --accept-nav ID     run although strategy ID's NAV is negative, or\n"
    "                      zero while it holds positions (refused with exit\n"
    "                      5 otherwise); repeatable\n"
    "  --plan-out FILE     make the run's plan and write it to FILE (JSON:\n"
    "                      the transfers, each strategy's nav, weight,\n"
    "                      target, the rules' effects, the ledger's\n"
    "                      fingerprint); nothing is written to the ledger.\n"
    "                      Then capalloc approve FILE, capalloc apply FILE\n"
    "  --as NAME           the plan's preparer (default: the OS user)\n"
    "\n"
    "With approval.required > 0 in the configuration, allocate makes no\n"
    "transfer (exit 11): use --plan-out, approve and apply. A real run\n"
    "plans without the ledger's write lock and takes it only to check that\n"
    "the ledger did not change and to write; when it changed, it plans\n"
    "again.\n"
    "\n"
    "The table shows amounts rounded to the currency's minor unit; --json\n"
    "has them exactly.\n",
    run_allocate,
};

/* ------------------------------------------------------------------------ */
/* status                                                                    */
/* ------------------------------------------------------------------------ */

static int run_status(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"date", required_argument, NULL, 'd'},
        {"accept-nav", required_argument, NULL, OPT_ACCEPT_NAV},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    run_opts o = {"", 0, 0, 0, 0, 0, NULL, {NULL}, 0, NULL, NULL};
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "d:", longopts,
                       run_opt, &o, &first);
    if (rc || (rc = no_operands(c, argc, argv, first)))
        return rc < 0 ? 0 : rc;
    char today[16];
    cli_today(today);
    if (!o.date_given)
        snprintf(o.date, sizeof o.date, "%s", today);

    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    en->accept_nav = o.accept_nav;
    en->n_accept_nav = o.n_accept_nav;
    /* The balances and prices are always the current ones; --date only
     * picks the day whose allocation the targets are for (the policy
     * sees it). Say so rather than label today's money with another
     * day. */
    time_t now = time(NULL);
    struct tm tm;
    char valued_at[32], local[32];
    gmtime_r(&now, &tm);
    strftime(valued_at, sizeof valued_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    localtime_r(&now, &tm);
    strftime(local, sizeof local, "%Y-%m-%d %H:%M %Z", &tm);
    alloc_report r;
    cap_error e = {0, ""};
    cli_progress(c, "status: valuing with prices from '%s'", en->prices->hdr->name);
    rc = engine_status(en, o.date, &r, &e);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else if (c->json) {
        print_report_json(en, &r, "status", "status", valued_at);
    } else {
        printf("fund status at %s (%s): current balances at current prices",
               local, en->cfg->currency);
        if (strcmp(o.date, today) != 0)
            printf(";\ntargets as an allocation dated %s would set them", o.date);
        printf("\n");
        print_table(en, &r, 0);
    }
    alloc_report_free(&r);
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_status = {
    "status",
    "each portfolio's cash, value, weight, target, drift",
    "capalloc status [-d YYYY-MM-DD] [--accept-nav ID]...\n",
    "\n"
    "Shows each portfolio's cash, positions value, total, weight, target\n"
    "and drift (total - target): the current balances, valued at current\n"
    "prices. Writes nothing.\n"
    "\n"
    "Options:\n"
    "  -d, --date DATE   the allocation date the targets are computed for\n"
    "                    (default: today); the balances and prices are the\n"
    "                    current ones whatever the date\n"
    "  --accept-nav ID   as for allocate: show the plan although strategy\n"
    "                    ID's NAV is negative, or zero with positions\n"
    "\n"
    "The table shows amounts rounded to the currency's minor unit; --json\n"
    "has them exactly.\n",
    run_status,
};
