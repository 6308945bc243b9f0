/*
 * cli_plan.c - `capalloc approve FILE` and `capalloc apply FILE`: the
 * four-eyes side of a plan written by `allocate --plan-out` (plan_file.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plan_file.h"

enum { OPT_AS = 256 };

typedef struct plan_opts {
    const char *as_name;
    char date[16];
    int date_given;
} plan_opts;

static int plan_opt(cli *c, int opt, const char *arg, void *ctx)
{
    plan_opts *o = ctx;
    switch (opt) {
    case OPT_AS:
        if (arg[0] == '\0')
            return cli_usage_error(c, "--as needs a NAME");
        o->as_name = arg;
        return 0;
    case 'd':
        if (!cli_valid_date(arg))
            return cli_usage_error(c, "--date needs a date YYYY-MM-DD, got '%s'",
                                   arg);
        snprintf(o->date, sizeof o->date, "%s", arg);
        o->date_given = 1;
        return 0;
    default:
        return cli_usage_error(c, "unknown option");
    }
}

/* One operand (argv[first..argc)), the plan FILE. 0, -1 (--help shown) or an exit code. */
static int parse(cli *c, int argc, char **argv, int with_date, plan_opts *o,
                 const char **file)
{
    static const struct option approve_opts[] = {
        {"as", required_argument, NULL, OPT_AS},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static const struct option apply_opts[] = {
        {"as", required_argument, NULL, OPT_AS},
        {"date", required_argument, NULL, 'd'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int n;
    int rc = cli_parse(c, argc, argv,
                       with_date ? CLI_GLOBAL_SHORTOPTS "d:"
                                 : CLI_GLOBAL_SHORTOPTS,
                       with_date ? apply_opts : approve_opts, plan_opt, o,
                       &n);
    if (rc)
        return rc;
    if (n >= argc)
        return cli_usage_error(c, "missing the plan FILE");
    if (n + 1 < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[n + 1]);
    *file = argv[n];
    return 0;
}

static void print_summary(const cli *c, const char *command,
                          const char *file, const plan_summary *s)
{
    if (c->json) {
        printf("{\"command\":\"%s\",\"plan\":", command);
        json_str(stdout, file);
        printf(",\"run_date\":");
        json_str(stdout, s->run_date);
        printf(",\"prepared_by\":");
        json_str(stdout, s->prepared_by);
        printf(",\"approvers\":");
        json_str(stdout, s->approvers);
        printf(",\"n_approvers\":%zu,\"transfers\":%zu}\n", s->n_approvers,
               s->n_transfers);
    }
}

static int run_approve(cli *c, int argc, char **argv)
{
    plan_opts o = {NULL, "", 0};
    const char *file = NULL;
    int rc = parse(c, argc, argv, 0, &o, &file);
    if (rc)
        return rc < 0 ? 0 : rc;
    char who[128];
    plan_identity(o.as_name, who, sizeof who);
    plan_summary s;
    cap_error e = {0, ""};
    if ((rc = plan_file_approve(file, who, &s, &e)) != 0)
        return cli_fail(c, rc, e.msg);
    if (c->json)
        print_summary(c, "approve", file, &s);
    else
        printf("plan %s for %s (prepared by %s, %zu transfer%s): %s by "
               "%s; approvers: %s\n",
               file, s.run_date, s.prepared_by, s.n_transfers,
               s.n_transfers == 1 ? "" : "s",
               s.repeat ? "already approved" : "approved", who, s.approvers);
    return 0;
}

const cli_command cli_cmd_approve = {
    "approve",
    "approve a plan made by allocate --plan-out (four eyes)",
    "capalloc approve FILE [--as NAME]\n",
    "\n"
    "Records an approval in the plan FILE: who (the OS user, or --as NAME),\n"
    "when, and the SHA-256 of the plan's content it approves. Editing any\n"
    "field of the plan afterwards invalidates the approval. The plan's\n"
    "preparer cannot approve it (exit 11); approving twice is a no-op.\n"
    "The ledger is not read or written.\n"
    "\n"
    "Options:\n"
    "  --as NAME   the approver (default: the OS user)\n",
    run_approve,
};

static int run_apply(cli *c, int argc, char **argv)
{
    plan_opts o = {NULL, "", 0};
    const char *file = NULL;
    int rc = parse(c, argc, argv, 1, &o, &file);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!o.date_given)
        cli_today(o.date);
    char who[128];
    plan_identity(o.as_name, who, sizeof who);
    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    cli_progress(c, "apply %s: checking the plan for %s", file, o.date);
    plan_summary s;
    cap_error e = {0, ""};
    rc = engine_plan_apply(en, file, o.date, who, &s, &e);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else if (c->json) {
        print_summary(c, "apply", file, &s);
    } else {
        printf("plan %s applied: allocation %s, %zu transfer%s committed "
               "(prepared by %s, approved by %s, applied by %s)\n",
               file, s.run_date, s.n_transfers,
               s.n_transfers == 1 ? "" : "s", s.prepared_by,
               s.n_approvers ? s.approvers : "nobody", who);
    }
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_apply = {
    "apply",
    "apply an approved plan exactly as written",
    "capalloc apply FILE [--as NAME] [-d YYYY-MM-DD]\n",
    "\n"
    "Writes exactly the transfers of the plan FILE, in one transaction,\n"
    "after checking that: its content is what was prepared and approved\n"
    "(SHA-256), it is for today (or --date), it is not older than\n"
    "approval.max_age, it has approval.required approvers other than its\n"
    "preparer, it was made with this configuration, and the ledger is\n"
    "still in the state the plan was made from (balances, positions, runs,\n"
    "queued redemptions). Any failed check: exit 11, naming it (for a\n"
    "stale plan: which balance changed), nothing written. The preparer,\n"
    "the approvers and the applier are recorded with the run (capalloc\n"
    "explain RUN).\n"
    "\n"
    "Options:\n"
    "  --as NAME         who applies (default: the OS user)\n"
    "  -d, --date DATE   the date the plan must be for (default: today)\n",
    run_apply,
};
