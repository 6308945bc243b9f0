/*
 * cli_redemptions.c - `capalloc redemptions`: the queued redemptions
 * (`capital withdraw --queue`), listed or cancelled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *state_name(capalloc_redemption_state s)
{
    return s == CAPALLOC_RED_QUEUED ? "queued"
           : s == CAPALLOC_RED_PAID ? "paid"
                                    : "cancelled";
}

static void print_rows(const cli *c, const engine *en,
                       const redemption_list *l, const char *what)
{
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        d[CAPALLOC_DEC_MAX_TEXT];
    if (c->json) {
        printf("{\"command\":\"redemptions\",\"action\":\"%s\","
               "\"currency\":\"%s\",\"redemptions\":[",
               what, en->cfg->currency);
        for (size_t i = 0; i < l->n; i++) {
            const redemption_row *w = &l->rows[i];
            capalloc_dec owed;
            dec_sub(w->amount, w->paid, &owed);
            printf("%s{\"id\":%lld,\"state\":\"%s\",\"amount\":\"%s\","
                   "\"paid\":\"%s\",\"owed\":\"%s\",\"reference\":",
                   i ? "," : "", (long long)w->id, state_name(w->state),
                   fmt_money(w->amount, mu, a), fmt_money(w->paid, mu, b),
                   fmt_money(owed, mu, d));
            if (w->reference != NULL)
                json_str(stdout, w->reference);
            else
                printf("null");
            printf(",\"queued_at\":\"%s\",\"updated_at\":\"%s\"}",
                   w->queued_at, w->updated_at);
        }
        printf("]}\n");
        return;
    }
    if (l->n == 0) {
        printf("no %sredemptions\n", strcmp(what, "list") == 0 ? "queued "
                                                                : "");
        return;
    }
    printf("  %6s %-10s %14s %14s %-24s %s\n", "id", "state", "amount", "paid",
           "queued at (UTC)", "reference");
    for (size_t i = 0; i < l->n; i++) {
        const redemption_row *w = &l->rows[i];
        printf("  %6lld %-10s %14s %14s %-24s %s\n", (long long)w->id,
               state_name(w->state), fmt_money_table(w->amount, mu, a),
               fmt_money_table(w->paid, mu, b), w->queued_at,
               w->reference ? w->reference : "-");
    }
}

static int redemptions_opt(cli *c, int opt, const char *arg, void *ctx)
{
    (void)arg;
    int *all = ctx;
    if (opt == 'a') {
        *all = 1;
        return 0;
    }
    return cli_usage_error(c, "unknown option");
}

static int run_redemptions(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"all", no_argument, NULL, 'a'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int all = 0, first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "a", longopts,
                       redemptions_opt, &all, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *action = first < argc ? argv[first] : "list";
    int64_t id = 0;
    if (strcmp(action, "list") == 0) {
        if (argc - first > 1)
            return cli_usage_error(c, "unexpected argument '%s'",
                                   argv[first + 1]);
    } else if (strcmp(action, "cancel") == 0) {
        if (argc - first != 2)
            return cli_usage_error(c, "cancel takes one redemption id");
        char *end;
        errno = 0;
        long long v = strtoll(argv[first + 1], &end, 10);
        if (errno || *end || end == argv[first + 1] || v <= 0)
            return cli_usage_error(c, "'%s' is not a redemption id",
                                   argv[first + 1]);
        id = v;
    } else {
        return cli_usage_error(c, "unknown action '%s' (expected list or "
                                  "cancel)",
                               action);
    }
    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    redemption_list l;
    cap_error e = {0, ""};
    rc = id ? engine_redemption_cancel(en, id, &l, &e)
            : engine_redemptions(en, !all, &l, &e);
    if (rc) {
        redemption_list_free(&l);
        rc = cli_fail(c, rc, e.msg);
    } else {
        if (id && !c->json) {
            char a[CAPALLOC_DEC_MAX_TEXT];
            capalloc_dec owed;
            dec_sub(l.rows[0].amount, l.rows[0].paid, &owed);
            printf("cancelled redemption %lld: %s %s no longer owed\n",
                   (long long)id, fmt_money(owed, en->cfg->minor_units, a),
                   en->cfg->currency);
        } else {
            print_rows(c, en, &l, id ? "cancel" : "list");
        }
        redemption_list_free(&l);
    }
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_redemptions = {
    "redemptions",
    "list or cancel queued redemptions (capital withdraw --queue)",
    "capalloc redemptions [list] [--all]\n"
    "       capalloc redemptions cancel ID\n",
    "\n"
    "Lists the queued redemptions (with --all, the paid and cancelled ones\n"
    "too), or cancels an open one: what it had been paid stays paid, the\n"
    "rest is no longer owed. The next allocation pays the open ones, oldest\n"
    "first, from the master's cash after its transfers.\n"
    "\n"
    "Options:\n"
    "  -a, --all          every redemption, not only the open ones\n",
    run_redemptions,
};
