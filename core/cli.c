/*
 * cli.c - the capalloc command line: global options, the command table,
 * the main help.
 *
 *   capalloc [-c FILE] [-j] [-v] COMMAND [ARGS]
 *
 * The same binary answers to the design's names: `manage_capital` is
 * `capalloc capital`, `daily_allocator` is `capalloc allocate`.
 * Each command lives in its own file (cli_capital.c, cli_allocate.c, ...)
 * and is registered by one line in COMMANDS below; cli_util.c holds what
 * they share. Exit codes: see error.h; they are an interface.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The commands, in the order `capalloc --help` lists them. */
static const cli_command *const COMMANDS[] = {
    &cli_cmd_capital,
    &cli_cmd_allocate,
    &cli_cmd_status,
    &cli_cmd_approve,
    &cli_cmd_apply,
    &cli_cmd_positions,
    &cli_cmd_history,
    &cli_cmd_explain,
    &cli_cmd_report,
    &cli_cmd_redemptions,
    &cli_cmd_verify,
    &cli_cmd_reverse,
    &cli_cmd_plugins,
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i]->name, name) == 0)
            return COMMANDS[i];
    return NULL;
}

static void usage_main(void)
{
    printf("Usage: capalloc [OPTIONS] COMMAND [ARGS]\n"
           "       capalloc help [COMMAND]\n"
           "\n"
           "Capital allocation for a multi-strategy fund.\n"
           "\n"
           "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    printf("\n"
           "Options (also accepted after the command):\n"
           "  -c, --config FILE  the configuration (default: $CAPALLOC_CONFIG,\n"
           "                     else ./capalloc.yaml)\n"
           "  -j, --json         one JSON object on stdout (errors too)\n"
           "  -v, --verbose      progress lines on stderr (-vv: debug)\n"
           "  -h, --help         this help; 'capalloc COMMAND --help' or\n"
           "                     'capalloc help COMMAND' for a command's\n"
           "  -V, --version      the version\n"
           "  --                 end of the options\n"
           "\n"
           "Also installed as manage_capital (= capalloc capital) and\n"
           "daily_allocator (= capalloc allocate).\n"
           "\n"
           "Exit codes:\n%s"
           "\n"
           "See capalloc(1), capalloc.yaml(5) and capalloc-plugin(7).\n",
           CLI_EXIT_CODES);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Run cmd on argv (argv[0] is its name). */
static int run_command(cli *c, const cli_command *cmd, const char *prog,
                       int argc, char **argv)
{
    c->cmd = cmd;
    c->prog = prog;
    return cmd->run(c, argc, argv);
}

int main(int argc, char **argv)
{
    cli c = {NULL, 0, 0, "capalloc", NULL};
    char prog[64];
    int rc;

    /* The design's names: everything after the name is the command's. */
    const char *self = base_name(argv[0]);
    if (strcmp(self, "manage_capital") == 0)
        rc = run_command(&c, &cli_cmd_capital, "manage_capital", argc, argv);
    else if (strcmp(self, "daily_allocator") == 0)
        rc = run_command(&c, &cli_cmd_allocate, "daily_allocator", argc, argv);
    else {
        /* Global options up to the command ('+': stop at the first
         * operand, which is the command; its own options follow it). */
        static const struct option longopts[] = {
            CLI_GLOBAL_LONGOPTS,
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        int o;
        optind = 0;
        opterr = 0;
        while ((o = getopt_long(argc, argv, "+:c:jvhV", longopts, NULL)) != -1) {
            switch (o) {
            case CLI_OPT_CONFIG:
                if (optarg[0] == '\0')
                    return cli_usage_error(&c, "--config needs a FILE");
                c.config = optarg;
                break;
            case CLI_OPT_JSON:
                c.json = 1;
                break;
            case CLI_OPT_VERBOSE:
                c.verbose++;
                break;
            case CLI_OPT_HELP:
                usage_main();
                return 0;
            case 'V':
                printf("capalloc %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
                       CAPALLOC_ABI_MAJOR, CAPALLOC_ABI_MINOR);
                return 0;
            case ':':
                return cli_usage_error(&c, "option %s needs a value",
                                       argv[optind - 1]);
            default:
                if (optopt != 0 && optopt < 128 && optopt != '?')
                    return cli_usage_error(&c, "unknown option '-%c'", optopt);
                return cli_usage_error(&c, "unknown option '%s'",
                                       argv[optind - 1]);
            }
        }
        if (optind >= argc)
            return cli_usage_error(&c, "missing COMMAND");
        const char *name = argv[optind];
        if (strcmp(name, "help") == 0) {
            /* `help CMD` is `CMD --help` */
            if (optind + 1 >= argc) {
                usage_main();
                return 0;
            }
            if (optind + 2 < argc)
                return cli_usage_error(&c, "help takes one COMMAND, got '%s' too",
                                       argv[optind + 2]);
            const cli_command *cmd = find_command(argv[optind + 1]);
            if (cmd == NULL)
                return cli_usage_error(&c, "unknown command '%s'",
                                       argv[optind + 1]);
            cli_print_help(cmd);
            return 0;
        }
        const cli_command *cmd = find_command(name);
        if (cmd == NULL)
            return cli_usage_error(&c, "unknown command '%s'", name);
        snprintf(prog, sizeof prog, "capalloc %s", cmd->name);
        rc = run_command(&c, cmd, prog, argc - optind, argv + optind);
    }
    fflush(stdout);
    return rc;
}
