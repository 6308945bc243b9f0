/*
 * cli.h - what the command files of the capalloc command line share: the
 * parsed global options, the command table entry, and the output helpers
 * (cli_util.c).
 *
 * Adding a command: write core/cli_NAME.c defining a `const cli_command
 * cli_cmd_NAME`, declare it at the end of this file, and add one line to
 * the COMMANDS table in cli.c (the order there is the order of --help).
 */
#ifndef CAPALLOC_CLI_H
#define CAPALLOC_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "decimal.h"
#include "engine.h"

typedef struct cli {
    const char *config; /* --config, or NULL: $CAPALLOC_CONFIG, ./capalloc.yaml */
    int json;           /* --json: one JSON object on stdout */
    int verbose;        /* -v: progress lines; -vv: debug */
    const char *prog;   /* the command as typed: "capalloc allocate",
                           "daily_allocator", for messages */
    const struct cli_command *cmd; /* the running command (usage errors) */
} cli;

typedef struct cli_command {
    const char *name;    /* the word after `capalloc` */
    const char *summary; /* one line for `capalloc --help` */
    const char *usage;   /* the synopsis line(s), each "capalloc NAME ..." */
    const char *help;    /* what follows the synopsis in `NAME --help` */
    /* argv[0] is the command's name; options start at argv[1]. Returns the
     * exit code. */
    int (*run)(cli *c, int argc, char **argv);
} cli_command;

/* ---- options --------------------------------------------------------- */

/* The global options, accepted before the command and among its own
 * options. Append CLI_GLOBAL_LONGOPTS to a command's long options and
 * CLI_GLOBAL_SHORTOPTS to its short ones. */
enum { CLI_OPT_CONFIG = 'c', CLI_OPT_JSON = 'j', CLI_OPT_VERBOSE = 'v',
       CLI_OPT_HELP = 'h' };
#define CLI_GLOBAL_SHORTOPTS ":c:jvh"
#define CLI_GLOBAL_LONGOPTS                                                  \
    {"config", required_argument, NULL, CLI_OPT_CONFIG},                     \
        {"json", no_argument, NULL, CLI_OPT_JSON},                           \
        {"verbose", no_argument, NULL, CLI_OPT_VERBOSE},                     \
        {"help", no_argument, NULL, CLI_OPT_HELP}

/* Parse a command's options with getopt_long (GNU order: options and
 * operands may mix; `--` ends the options). For each option of the
 * command itself, handle(c, opt, optarg, ctx) is called and returns 0 or
 * an exit code. The global options are applied to c. Operands are moved
 * to argv[1..*nargs] in their order. Returns 0, -1 when --help was shown
 * (exit 0), or an exit code (a usage error was reported). */
typedef int (*cli_opt_handler)(cli *c, int opt, const char *arg, void *ctx);
int cli_parse(cli *c, int argc, char **argv, const char *shortopts,
              const struct option *longopts, cli_opt_handler handle,
              void *ctx, int *nargs);

/* ---- output ---------------------------------------------------------- */

/* The exit code's kind: "ok", "usage", "config", ... (JSON, metrics). */
const char *cli_exit_kind(int code);
/* The exit codes, one line each, as `--help` and the man page list them. */
extern const char CLI_EXIT_CODES[];

/* s as a JSON string (always valid UTF-8 out). */
void json_str(FILE *f, const char *s);

/* Report a failure: "capalloc: error: msg" on stderr, and with --json the
 * error object on stdout. Returns code. */
int cli_fail(const cli *c, int code, const char *msg);
/* A usage error (exit 2): the message, the command's synopsis and
 * "Try 'capalloc CMD --help'." on stderr. */
int cli_usage_error(const cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The command's full help on stdout. */
void cli_print_help(const cli_command *cmd);

/* d exactly, with at least `minor` decimals: for JSON and messages. */
const char *fmt_money(capalloc_dec d, int minor, char *buf);
/* d rounded half-even to `minor` decimals, for tables (the exact value is
 * in the JSON output). */
const char *fmt_money_table(capalloc_dec d, int minor, char *buf);

/* A progress line at -v: "2026-12-01T06:00:00.123Z capalloc: ..." on
 * stderr, UTC with milliseconds. */
void cli_progress(const cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- values ---------------------------------------------------------- */

/* A positive amount from the command line (exit 2 otherwise). */
int cli_parse_amount(const cli *c, const char *text, capalloc_dec *out);
/* 1 when s is exactly YYYY-MM-DD and a real day from 1970 on. */
int cli_valid_date(const char *s);
/* Today in local time, YYYY-MM-DD. */
void cli_today(char buf[16]);

/* Open the engine on the configuration (the verbosity applied first);
 * on failure the error is reported and its exit code returned. */
int cli_open_engine(const cli *c, engine **en);
/* The same for the commands that move capital (engine_open_books). */
int cli_open_engine_books(const cli *c, engine **en);

/* ---- metrics (cli_metrics.c) ----------------------------------------- */

/* What --metrics-file records of an allocate run. */
typedef struct cli_metrics {
    int exit_code;
    const char *status;         /* "committed", "dry_run", "already_ran",
                                   "failed" */
    const char *run_date;       /* or NULL (not parsed yet) */
    const char *currency;       /* or NULL (the config was not read) */
    const char *master_id;      /* or NULL */
    const alloc_report *report; /* or NULL (the run failed) */
    struct timespec end;        /* CLOCK_REALTIME when the run ended */
    long long duration_ms;
} cli_metrics;

/* Write m to path atomically (a temporary file beside it, renamed over
 * it). 0, or -1 with a message in err. */
int cli_write_metrics(const char *path, const cli_metrics *m, char *err,
                      size_t errlen);

/* ---- the commands ---------------------------------------------------- */

extern const cli_command cli_cmd_capital;
extern const cli_command cli_cmd_allocate;
extern const cli_command cli_cmd_status;
extern const cli_command cli_cmd_positions;
extern const cli_command cli_cmd_plugins;
extern const cli_command cli_cmd_history;
extern const cli_command cli_cmd_explain;
extern const cli_command cli_cmd_report;
extern const cli_command cli_cmd_redemptions;
extern const cli_command cli_cmd_verify;
extern const cli_command cli_cmd_approve;
extern const cli_command cli_cmd_apply;
extern const cli_command cli_cmd_reverse;

/* cli_move.c: a deployment's or reversal's transfers (text lines, or the
 * members "transfers", "master_before", "master_after" of an open JSON
 * object). */
void cli_move_transfers(const cli *c, const engine *en,
                        const alloc_report *r);

#endif
