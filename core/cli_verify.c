/*
 * cli_verify.c - `capalloc verify`: replay the ledger and check its hash
 * chain (core/verify.c). Exit 0 when sound, 10 (CAP_EXIT_INTEGRITY)
 * naming the first fault.
 */
#include <stdio.h>

#include "cli.h"
#include "verify.h"

static int run_verify(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL,
                       NULL, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (first < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[first]);

    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    verify_result r;
    cap_error e = {0, ""};
    cli_progress(c, "verify: replaying the journal");
    rc = engine_verify(en, &r, &e);
    char total[CAPALLOC_DEC_MAX_TEXT];
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else if (c->json) {
        printf("{\"command\":\"verify\",\"ok\":true,\"runs\":%lld,"
               "\"rows\":%lld,\"first_run\":%lld,\"last_run\":%lld,"
               "\"portfolios\":%lld,\"fund_total\":\"%s\",\"chain_head\":",
               (long long)r.runs, (long long)r.rows, (long long)r.first_run,
               (long long)r.last_run, (long long)r.portfolios,
               r.total_overflow ? "overflow"
                                : fmt_money(r.fund_total, en->cfg->minor_units,
                                            total));
        json_str(stdout, r.head);
        if (r.anchored) {
            printf(",\"anchor\":{\"after_run\":%lld}",
                   (long long)r.anchor_after_run);
        } else {
            printf(",\"anchor\":null");
        }
        printf("}\n");
    } else {
        printf("ledger verified: %lld run%s, %lld trade row%s", (long long)r.runs,
               r.runs == 1 ? "" : "s", (long long)r.rows,
               r.rows == 1 ? "" : "s");
        if (r.runs > 0)
            printf(" (runs %lld to %lld)", (long long)r.first_run,
                   (long long)r.last_run);
        printf(", %lld balance%s equal to the replay, fund total %s %s\n",
               (long long)r.portfolios, r.portfolios == 1 ? "" : "s",
               r.total_overflow ? "(out of range)"
                                : fmt_money(r.fund_total, en->cfg->minor_units,
                                            total),
               en->cfg->currency);
        if (r.anchored)
            printf("chain starts after run %lld (the ledger was migrated "
                   "from before the chain; its balances then are the "
                   "anchor)\n",
                   (long long)r.anchor_after_run);
        else
            printf("chain starts at the ledger's first run\n");
        printf("chain head: %s\n", r.head[0] ? r.head : "(no run yet)");
    }
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_verify = {
    "verify",
    "replay the ledger and check its hash chain",
    "capalloc verify [-j]\n",
    "\n"
    "Replays the ledger from its first run (or, for a ledger migrated from\n"
    "before the hash chain, from the balances recorded at the migration)\n"
    "and checks that every cash balance equals the replayed movements,\n"
    "that every allocation moved zero net cash, that only ADD and WITHDRAW\n"
    "changed the fund's total, that no balance was ever negative, and that\n"
    "the hash chain over the runs and their trade rows is intact. A row\n"
    "edited, deleted or inserted by hand is named: run, log row, portfolio,\n"
    "expected and found. Changes nothing.\n"
    "\n"
    "Exit 0 when the ledger is sound, 10 when it is not (the first five\n"
    "faults named, one per line, and how many).\n",
    run_verify,
};
