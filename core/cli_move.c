/*
 * cli_move.c - runs that move cash outside the daily allocation (move.c):
 * `capalloc reverse RUN`, and the deployment's output for `capital add
 * --deploy` (cli_capital.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The transfers of r, one line each (text) or a "transfers" array (JSON,
 * after an opening object the caller printed). */
void cli_move_transfers(const cli *c, const engine *en, const alloc_report *r)
{
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    if (c->json) {
        printf("\"transfers\":[");
        int first = 1;
        for (size_t i = 0; i < r->n; i++) {
            const alloc_strategy *s = &r->strategies[i];
            if (dec_is_zero(s->transfer))
                continue;
            printf("%s{\"portfolio_id\":", first ? "" : ",");
            json_str(stdout, s->id);
            printf(",\"transfer\":\"%s\",\"cash_after\":\"%s\"}",
                   fmt_money(s->transfer, mu, a),
                   fmt_money(s->cash_after, mu, b));
            first = 0;
        }
        printf("],\"master_before\":\"%s\",\"master_after\":\"%s\"",
               fmt_money(r->totals.master_before, mu, a),
               fmt_money(r->totals.master_after, mu, b));
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        if (dec_is_zero(s->transfer))
            continue;
        printf("  %-20s %s%s %s (cash after: %s)\n", s->id,
               s->transfer.micros > 0 ? "+" : "",
               fmt_money(s->transfer, mu, a), en->cfg->currency,
               fmt_money(s->cash_after, mu, b));
    }
    printf("  master '%s' cash %s -> %s %s\n", en->cfg->master_id,
           fmt_money(r->totals.master_before, mu, a),
           fmt_money(r->totals.master_after, mu, b), en->cfg->currency);
}

typedef struct reverse_opts {
    const char *date;
    int dry;
} reverse_opts;

static int reverse_opt(cli *c, int opt, const char *arg, void *ctx)
{
    reverse_opts *o = ctx;
    switch (opt) {
    case 'n':
        o->dry = 1;
        return 0;
    case 'd':
        if (!cli_valid_date(arg))
            return cli_usage_error(c, "--date needs a date YYYY-MM-DD, got "
                                      "'%s'",
                                   arg);
        o->date = arg;
        return 0;
    default:
        return cli_usage_error(c, "unknown option");
    }
}

static int run_reverse(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"date", required_argument, NULL, 'd'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    reverse_opts o = {NULL, 0};
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "nd:", longopts,
                       reverse_opt, &o, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    int nargs = argc - first;
    if (nargs != 1)
        return cli_usage_error(c, nargs == 0 ? "missing RUN (a run id)"
                                             : "expected one RUN");
    char *end;
    errno = 0;
    const char *arg = argv[first];
    long long id = strtoll(arg, &end, 10);
    if (errno || end == arg || *end != '\0' || id <= 0)
        return cli_usage_error(c, "RUN '%s' is not a run id (a positive "
                                  "integer, as `capalloc history` and "
                                  "`capalloc explain` show it)",
                               arg);
    char today[16];
    cli_today(today);
    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    alloc_report r;
    move_result mr;
    cap_error e = {0, ""};
    cli_progress(c, "reverse %lld: %s", id, o.dry ? "dry run" : "writing");
    rc = engine_reverse(en, (int64_t)id, o.date ? o.date : today, o.dry, &r,
                        &mr, &e);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else if (c->json) {
        printf("{\"command\":\"reverse\",\"dry_run\":%s,\"reverses\":%lld,"
               "\"date\":\"%s\",\"currency\":\"%s\",",
               o.dry ? "true" : "false", id, r.run_date, en->cfg->currency);
        cli_move_transfers(c, en, &r);
        printf("}\n");
    } else {
        printf("%s run %lld as of %s: its transfers mirrored\n",
               o.dry ? "dry run: would reverse" : "reversed", id,
               r.run_date);
        cli_move_transfers(c, en, &r);
    }
    alloc_report_free(&r);
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_reverse = {
    "reverse",
    "correct a run by a new one that mirrors its transfers",
    "capalloc reverse RUN [--date DATE] [-n]\n",
    "\n"
    "Books a REVERSE run that undoes every cash transfer of run RUN (an\n"
    "allocation or a deployment): each transfer mirrored, the same amount\n"
    "in the other direction, in one transaction. Nothing is deleted: the\n"
    "reversal is a new run linked to RUN (`capalloc explain` and `capalloc\n"
    "history` show the link). The fund is valued at today's prices and the\n"
    "reversal recorded like an allocation, so that returns stay exact.\n"
    "\n"
    "Refused, nothing written: a balance that would go negative (exit 4,\n"
    "naming the portfolio); taking the master below what a deployment\n"
    "keeps there, the queued redemptions plus the cash buffer (exit 4);\n"
    "a run that does not exist, moved no cash, is\n"
    "already reversed, is itself a reversal, or is an ADD, WITHDRAW or\n"
    "IMPORT (exit 2: an investor's flow is corrected by the opposite\n"
    "movement, `capalloc capital add` or `withdraw`). A second reversal of\n"
    "the same run is refused by the ledger itself (a unique key). With\n"
    "approval.required above 0, refused with exit 11: transfers need an\n"
    "approved plan (a dry run still works).\n"
    "\n"
    "Options:\n"
    "  -d, --date DATE   the date the reversal is recorded for (default:\n"
    "                    today); not before the latest recorded valuation,\n"
    "                    not after today\n"
    "  -n, --dry-run     show the transfers, write nothing\n",
    run_reverse,
};
