/*
 * cli_capital.c - `capalloc capital` (and `manage_capital`): investors'
 * money in and out of the master portfolio.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

typedef struct capital_opts {
    const char *action;
    const char *amount;
    const char *ref;
    int dry;
    int queue;
    int deploy;     /* 1 --deploy, -1 --no-deploy, 0 the config's */
    const char *date;
} capital_opts;

static int capital_opt(cli *c, int opt, const char *arg, void *ctx)
{
    capital_opts *o = ctx;
    switch (opt) {
    case 'n':
        o->dry = 1;
        return 0;
    case 'a':
        if (o->action != NULL)
            return cli_usage_error(c, "the action is given twice ('%s' and '%s')",
                                   o->action, arg);
        o->action = arg;
        return 0;
    case 'q':
        o->queue = 1;
        return 0;
    case 'D':
    case 'N':
        if (o->deploy != 0 && o->deploy != (opt == 'D' ? 1 : -1))
            return cli_usage_error(c, "--deploy and --no-deploy together");
        o->deploy = opt == 'D' ? 1 : -1;
        return 0;
    case 'd':
        if (!cli_valid_date(arg))
            return cli_usage_error(c, "--date needs a date YYYY-MM-DD, got "
                                      "'%s'",
                                   arg);
        o->date = arg;
        return 0;
    case 'r':
        if (o->ref != NULL)
            return cli_usage_error(c, "the reference is given twice ('%s' "
                                      "and '%s')",
                                   o->ref, arg);
        o->ref = arg;
        return 0;
    case 'A':
        if (o->amount != NULL)
            return cli_usage_error(c, "the amount is given twice ('%s' and '%s')",
                                   o->amount, arg);
        o->amount = arg;
        return 0;
    default:
        return cli_usage_error(c, "unknown option");
    }
}

/* `capital withdraw --queue`: a redemption for the next allocation. */
static int queue_withdrawal(cli *c, engine *en, capalloc_dec amount,
                            const char *ref, int dry)
{
    redemption_list l;
    cap_error e = {0, ""};
    int rc = engine_redemption_queue(en, amount, ref, dry, &l, &e);
    if (rc) {
        redemption_list_free(&l);
        return cli_fail(c, rc, e.msg);
    }
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT];
    const redemption_row *w = &l.rows[0];
    if (c->json) {
        printf("{\"command\":\"capital\",\"action\":\"WITHDRAW\","
               "\"queued\":true,\"dry_run\":%s,\"repeat\":%s,\"id\":%lld,"
               "\"currency\":\"%s\",\"amount\":\"%s\",\"reference\":",
               dry ? "true" : "false", l.repeat ? "true" : "false",
               (long long)w->id, en->cfg->currency,
               fmt_money(w->amount, mu, a));
        if (ref != NULL)
            json_str(stdout, ref);
        else
            printf("null");
        printf("}\n");
    } else if (dry) {
        printf("dry run: would queue a redemption of %s %s for the next "
               "allocation\n",
               fmt_money(w->amount, mu, a), en->cfg->currency);
    } else {
        printf("%s redemption %lld of %s %s%s%s%s: the next allocation "
               "raises the cash and pays it (capalloc redemptions lists it)\n",
               l.repeat ? "already queued:" : "queued", (long long)w->id,
               fmt_money(w->amount, mu, a), en->cfg->currency,
               ref ? " (reference '" : "", ref ? ref : "", ref ? "')" : "");
    }
    redemption_list_free(&l);
    return 0;
}

/* `capital add --deploy` (or `capital: deploy_on_add`): the ADD and its
 * deployment over the strategies, in one transaction (move.c). */
static int add_deploy(cli *c, engine *en, const capital_opts *o,
                      capalloc_dec amount)
{
    char today[16];
    cli_today(today);
    capital_result cr;
    alloc_report r;
    move_result mr;
    cap_error e = {0, ""};
    cli_progress(c, "capital ADD %s with deployment: %s", o->amount,
                 o->dry ? "dry run" : "writing");
    int rc = engine_capital_deploy(en, amount, o->ref,
                                   o->date ? o->date : today, o->dry, &cr,
                                   &r, &mr, &e);
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        d[CAPALLOC_DEC_MAX_TEXT], f[CAPALLOC_DEC_MAX_TEXT];
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
    } else if (cr.repeat) {
        if (c->json) {
            printf("{\"command\":\"capital\",\"action\":\"ADD\","
                   "\"deploy\":true,\"dry_run\":%s,\"reference\":",
                   o->dry ? "true" : "false");
            json_str(stdout, o->ref);
            printf(",\"repeat\":true,\"run_id\":%lld,\"booked_at\":\"%s\","
                   "\"currency\":\"%s\",\"amount\":\"%s\"}\n",
                   (long long)cr.ref_run_id, cr.ref_created_at,
                   en->cfg->currency, fmt_money(amount, mu, a));
        } else {
            /* the ADD may have been booked with or without its
             * deployment: say only what is known */
            printf("ADD %s %s with reference '%s' is already booked (run "
                   "%lld, %s): nothing written, nothing deployed now. Its "
                   "cash was either deployed then (a DEPLOY run follows "
                   "run %lld in capalloc history) or, booked without a "
                   "deployment, waits in the master for the next "
                   "allocation\n",
                   fmt_money(amount, mu, a), en->cfg->currency, o->ref,
                   (long long)cr.ref_run_id, cr.ref_created_at,
                   (long long)cr.ref_run_id);
        }
    } else if (c->json) {
        printf("{\"command\":\"capital\",\"action\":\"ADD\","
               "\"deploy\":true,\"dry_run\":%s,\"master_portfolio_id\":",
               o->dry ? "true" : "false");
        json_str(stdout, en->cfg->master_id);
        if (o->ref != NULL) {
            printf(",\"reference\":");
            json_str(stdout, o->ref);
        }
        printf(",\"date\":\"%s\",\"currency\":\"%s\",\"amount\":\"%s\","
               "\"deployed\":\"%s\",\"scaled\":%s,",
               r.run_date, en->cfg->currency, fmt_money(amount, mu, a),
               fmt_money(mr.deployed, mu, b), mr.scaled ? "true" : "false");
        cli_move_transfers(c, en, &r);
        printf("}\n");
    } else {
        printf("%sADD %s %s: master portfolio '%s' cash %s -> %s %s; "
               "deployed %s %s at once%s\n",
               o->dry ? "dry run: would " : "", fmt_money(amount, mu, a),
               en->cfg->currency, en->cfg->master_id,
               fmt_money(cr.before, mu, b), fmt_money(cr.after, mu, d),
               en->cfg->currency, fmt_money(mr.deployed, mu, f),
               en->cfg->currency,
               mr.scaled ? " (scaled: the master keeps its cash buffer and "
                           "the queued redemptions)"
                         : "");
        cli_move_transfers(c, en, &r);
    }
    alloc_report_free(&r);
    return rc;
}

static int run_capital(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"action", required_argument, NULL, 'a'},
        {"amount", required_argument, NULL, 'A'},
        {"ref", required_argument, NULL, 'r'},
        {"queue", no_argument, NULL, 'q'},
        {"deploy", no_argument, NULL, 'D'},
        {"no-deploy", no_argument, NULL, 'N'},
        {"date", required_argument, NULL, 'd'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    /* No option starts with a digit: "-5" (before any "--") can only be a
     * negative amount, which getopt would call an unknown option. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (argv[i][0] == '-' &&
            ((argv[i][1] >= '0' && argv[i][1] <= '9') || argv[i][1] == '.'))
            return cli_usage_error(c, "amount '%s' must be positive", argv[i]);

    capital_opts o = {NULL, NULL, NULL, 0, 0, 0, NULL};
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "n", longopts,
                       capital_opt, &o, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    /* Operands: ACTION AMOUNT, for what the options did not give. */
    int positional = 0;
    for (int i = first; i < argc; i++) {
        if (positional == 0 && o.action == NULL) {
            o.action = argv[i];
            positional = 1;
        } else if (positional <= 1 && o.amount == NULL) {
            o.amount = argv[i];
            positional = 2;
        } else if (positional == 0) {
            return cli_usage_error(c, "the action is given twice ('%s' and '%s')",
                                   o.action, argv[i]);
        } else if (positional == 1) {
            return cli_usage_error(c, "the amount is given twice ('%s' and '%s')",
                                   o.amount, argv[i]);
        } else {
            return cli_usage_error(c, "unexpected argument '%s'", argv[i]);
        }
    }
    if (o.action == NULL)
        return cli_usage_error(c, "missing action (add or withdraw)");
    cap_action act;
    if (strcasecmp(o.action, "add") == 0)
        act = CAP_ADD;
    else if (strcasecmp(o.action, "withdraw") == 0)
        act = CAP_WITHDRAW;
    else
        return cli_usage_error(c, "unknown action '%s' (expected ADD or WITHDRAW)",
                               o.action);
    capalloc_dec amount;
    if ((rc = cli_parse_amount(c, o.amount, &amount)))
        return rc;

    if ((o.deploy != 0 || o.date != NULL) && act != CAP_ADD)
        return cli_usage_error(c, "--deploy, --no-deploy and --date are for "
                                  "an ADD");
    if (o.date != NULL && o.deploy < 0)
        return cli_usage_error(c, "--date dates a deployment: not with "
                                  "--no-deploy");
    if (o.queue && act != CAP_WITHDRAW)
        return cli_usage_error(c, "--queue is for a withdrawal (an ADD is "
                                  "booked at once)");
    engine *en;
    if ((rc = cli_open_engine_books(c, &en)))
        return rc;
    if (o.queue) {
        rc = queue_withdrawal(c, en, amount, o.ref, o.dry);
        engine_close(en);
        return rc;
    }
    int deploying = act == CAP_ADD &&
                    (o.deploy > 0 || (o.deploy == 0 && en->cfg->deploy_on_add));
    /* an ADD or WITHDRAW is booked when it happens: only a deployment's
     * record takes a date (capital.deploy_on_add known only now) */
    if (o.date != NULL && !deploying) {
        engine_close(en);
        return cli_usage_error(c, "--date %s dates a deployment, and this "
                                  "ADD deploys nothing (give --deploy, or "
                                  "set capital.deploy_on_add): nothing was "
                                  "written",
                               o.date);
    }
    if (deploying) {
        /* a deployment weights the fund: the whole configuration, policy
         * and strategies included (the books-only engine has neither) */
        engine_close(en);
        if ((rc = cli_open_engine(c, &en)))
            return rc;
        rc = add_deploy(c, en, &o, amount);
        engine_close(en);
        return rc;
    }
    capital_result r;
    cap_error e = {0, ""};
    const char *an = act == CAP_ADD ? "ADD" : "WITHDRAW";
    cli_progress(c, "capital %s %s: %s", an, o.amount,
                 o.dry ? "dry run" : "writing");
    rc = engine_capital(en, act, amount, o.ref, o.dry, &r, &e);
    if (rc) {
        rc = cli_fail(c, rc, e.msg);
        engine_close(en);
        return rc;
    }
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        d[CAPALLOC_DEC_MAX_TEXT];
    if (r.repeat) {
        cli_progress(c, "capital %s: already booked, nothing written", an);
        if (c->json) {
            printf("{\"command\":\"capital\",\"action\":\"%s\","
                   "\"dry_run\":%s,\"reference\":",
                   an, o.dry ? "true" : "false");
            json_str(stdout, o.ref);
            printf(",\"repeat\":true,\"run_id\":%lld,\"booked_at\":\"%s\","
                   "\"currency\":\"%s\",\"amount\":\"%s\"}\n",
                   (long long)r.ref_run_id, r.ref_created_at,
                   en->cfg->currency, fmt_money(amount, mu, a));
        } else {
            printf("%s %s %s with reference '%s' is already booked (run "
                   "%lld, %s): nothing written\n",
                   an, fmt_money(amount, mu, a), en->cfg->currency, o.ref,
                   (long long)r.ref_run_id, r.ref_created_at);
        }
        engine_close(en);
        return 0;
    }
    cli_progress(c, "capital %s: %s", an, o.dry ? "nothing written" : "committed");
    if (c->json) {
        printf("{\"command\":\"capital\",\"action\":\"%s\",\"dry_run\":%s,"
               "\"master_portfolio_id\":",
               an, o.dry ? "true" : "false");
        json_str(stdout, en->cfg->master_id);
        if (o.ref != NULL) {
            printf(",\"reference\":");
            json_str(stdout, o.ref);
        }
        printf(",\"currency\":\"%s\",\"amount\":\"%s\",\"before\":\"%s\","
               "\"after\":\"%s\"}\n",
               en->cfg->currency, fmt_money(amount, mu, a),
               fmt_money(r.before, mu, b), fmt_money(r.after, mu, d));
    } else {
        printf("%s%s %s %s: master portfolio '%s' cash %s -> %s %s\n",
               o.dry ? "dry run: would " : "", an, fmt_money(amount, mu, a),
               en->cfg->currency, en->cfg->master_id, fmt_money(r.before, mu, b),
               fmt_money(r.after, mu, d), en->cfg->currency);
    }
    engine_close(en);
    return 0;
}

const cli_command cli_cmd_capital = {
    "capital",
    "add or withdraw investors' capital (the master portfolio)",
    "capalloc capital add|withdraw AMOUNT [--ref REF] [-n]\n"
    "       capalloc capital add AMOUNT --deploy [--date DATE] [--ref REF] [-n]\n"
    "       capalloc capital withdraw --queue AMOUNT [--ref REF] [-n]\n"
    "       capalloc capital --action ADD|WITHDRAW --amount AMOUNT [--ref REF] [-n]\n"
    "       manage_capital --action ADD|WITHDRAW --amount AMOUNT [--ref REF] [-n]\n",
    "\n"
    "Moves investors' capital in or out of the master portfolio. AMOUNT is a\n"
    "positive decimal in the currency's minor units at most (e.g. 100000 or\n"
    "1234.56 for USD). A withdrawal above the master's cash is refused (exit\n"
    "4) and nothing is written.\n"
    "\n"
    "With --ref, the movement is booked once: REF is the investor-side\n"
    "transaction id (1 to 128 bytes). Repeating the same action and amount\n"
    "with the same REF writes nothing, says so and exits 0; the same REF\n"
    "with another action or amount is refused (exit 2).\n"
    "\n"
    "With --queue, a withdrawal is queued instead (a redemption): the next\n"
    "allocation computes the strategies' targets on total equity less the\n"
    "queued amount, raises that cash and pays it out of the master in its\n"
    "own transaction, all of it when the master then holds it, else what\n"
    "it holds (the rest stays queued). See `capalloc redemptions`.\n"
    "\n"
    "With --deploy (or `capital: deploy_on_add: true` in the configuration;\n"
    "--no-deploy overrides it), an ADD is spread over the strategies at once,\n"
    "in the same transaction: the policy runs as the allocation's would on\n"
    "the fund valued now (prices needed), each strategy gets the ADD x its\n"
    "weight rounded down to the minor unit, cut to rebalance.max_transfer,\n"
    "skipped below min_transfer; the master keeps its cash buffer, what\n"
    "the queued redemptions are owed and every residue. The deployment is\n"
    "its own run (DEPLOY) beside the ADD; a repeated --ref deploys nothing.\n"
    "With approval.required above 0, a deployment is refused (exit 11):\n"
    "transfers need an approved plan; book the ADD with --no-deploy.\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run      show the result, write nothing\n"
    "  --action ACTION    ADD or WITHDRAW (any case), instead of the operand\n"
    "  --amount AMOUNT    the amount, instead of the operand\n"
    "  --ref REF          the investor-side transaction id (idempotent)\n"
    "  --queue            queue the withdrawal for the next allocation\n"
    "  --deploy           spread the ADD over the strategies at once\n"
    "  --no-deploy        keep the ADD in the master (capital.deploy_on_add)\n"
    "  --date DATE        the deployment's date (default: today; not before\n"
    "                     the latest recorded valuation nor after today);\n"
    "                     only with a deployment (exit 2 otherwise)\n",
    run_capital,
};
