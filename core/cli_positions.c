/*
 * cli_positions.c - `capalloc positions import FILE`: set positions from
 * a CSV file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int positions_opt(cli *c, int opt, const char *arg, void *ctx)
{
    (void)arg;
    if (opt != 'n')
        return cli_usage_error(c, "unknown option");
    *(int *)ctx = 1;
    return 0;
}

static int run_positions(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int dry = 0, first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS "n", longopts,
                       positions_opt, &dry, &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (first >= argc)
        return cli_usage_error(c, "missing 'import FILE'");
    if (strcmp(argv[first], "import") != 0)
        return cli_usage_error(c, "unknown positions command '%s'", argv[first]);
    if (first + 1 >= argc)
        return cli_usage_error(c, "missing FILE");
    if (first + 2 < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[first + 2]);
    const char *file = argv[first + 1];

    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    import_result r;
    cap_error e = {0, ""};
    cli_progress(c, "positions import %s: %s", file,
                 dry ? "dry run" : "writing");
    rc = engine_import_positions(en, file, dry, &r, &e);
    if (rc)
        rc = cli_fail(c, rc, e.msg);
    else if (c->json)
        printf("{\"command\":\"positions import\",\"dry_run\":%s,\"rows\":%zu,"
               "\"portfolios\":%zu}\n",
               dry ? "true" : "false", r.n_rows, r.n_portfolios);
    else
        printf("%s%zu position%s for %zu portfolio%s from %s\n",
               dry ? "dry run: would import " : "imported ", r.n_rows,
               r.n_rows == 1 ? "" : "s", r.n_portfolios,
               r.n_portfolios == 1 ? "" : "s", file);
    engine_close(en);
    return rc;
}

const cli_command cli_cmd_positions = {
    "positions",
    "positions import FILE: load positions from CSV",
    "capalloc positions import FILE.csv [-n]\n",
    "\n"
    "Sets positions from a CSV of portfolio_id,ticker,quantity (a header\n"
    "line is allowed, '#' starts a comment). Each row sets that position's\n"
    "quantity; 0 removes it. Positions are not cash: no cash moves.\n"
    "\n"
    "Options:\n"
    "  -n, --dry-run   check the file and count, write nothing\n",
    run_positions,
};
