/*
 * cli_verify.c - `capalloc verify`: replay the ledger and check its hash
 * chain (core/verify.c). Exit 0 when sound, 10 (CAP_EXIT_INTEGRITY)
 * naming the first fault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "verify.h"

enum { OPT_EXPECT_HEAD = 256, OPT_EXPECT_RUNS };

static int verify_opt(cli *c, int opt, const char *arg, void *ctx)
{
    verify_expect *x = ctx;
    switch (opt) {
    case OPT_EXPECT_HEAD:
        /* as capalloc writes it (and verify prints it): lower case */
        if (strlen(arg) != SHA256_HEX_LEN ||
            strspn(arg, "0123456789abcdef") != SHA256_HEX_LEN)
            return cli_usage_error(c, "--expect-head needs a run hash: 64 "
                                      "lower-case hex digits, got '%s'",
                                   arg);
        x->head = arg;
        return 0;
    case OPT_EXPECT_RUNS: {
        char *end;
        long long n = strtoll(arg, &end, 10);
        if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || n < 0)
            return cli_usage_error(c, "--expect-runs needs a count of runs "
                                      "(0 or more), got '%s'",
                                   arg);
        x->runs = n;
        return 0;
    }
    default:
        return cli_usage_error(c, "unknown option");
    }
}

static int run_verify(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"expect-head", required_argument, NULL, OPT_EXPECT_HEAD},
        {"expect-runs", required_argument, NULL, OPT_EXPECT_RUNS},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    verify_expect x = {NULL, -1};
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS, longopts,
                       verify_opt, &x, &first);
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
    rc = engine_verify_expect(en, &x, &r, &e);
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
        if (x.head != NULL)
            printf(",\"head_run\":%lld", (long long)r.head_run);
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
        printf("chain head: %s (%lld run%s)\n",
               r.head[0] ? r.head : "(no run yet)", (long long)r.runs,
               r.runs == 1 ? "" : "s");
        if (x.head != NULL)
            printf("the head recorded elsewhere is run %lld of the chain\n",
                   (long long)r.head_run);
    }
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_verify = {
    "verify",
    "replay the ledger and check its hash chain",
    "capalloc verify [-j] [--expect-head HASH] [--expect-runs N]\n",
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
    "A chain cannot see its own tail cut off (the newest runs deleted with\n"
    "their rows and the balances set back by hand), nor every hash\n"
    "rewritten consistently. Keep the head and the run count that verify\n"
    "prints (chain_head and runs with -j) outside the database, and pass\n"
    "them back:\n"
    "  --expect-head HASH  a run carrying this run_hash (64 lower-case hex\n"
    "                      digits) must be in the chain\n"
    "  --expect-runs N     the chain must hold at least N runs\n"
    "\n"
    "Exit 0 when the ledger is sound, 10 when it is not (the first five\n"
    "faults named, one per line, and how many).\n",
    run_verify,
};
