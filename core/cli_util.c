/*
 * cli_util.c - the helpers every command of the command line shares:
 * option parsing, errors, money and JSON output, dates (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cli.h"
#include "json_out.h"
#include "options.h"

const char CLI_EXIT_CODES[] =
    "  0  success (also: the allocation for that date had already run)\n"
    "  1  internal error\n"
    "  2  usage error (unknown option, bad amount or date, bad input file)\n"
    "  3  configuration error (the message names file:line:column and key)\n"
    "  4  insufficient funds (a withdrawal above the master's cash)\n"
    "  5  prices and positions: a held ticker has no price, the price\n"
    "     source failed, or a position cannot be valued (a short, a value\n"
    "     out of range, a strategy worth 0 or less while holding positions)\n"
    "  6  a plugin failed to load, or a policy failed at run time\n"
    "  7  storage failure (the transaction was rolled back)\n"
    "  8  the ledger was busy (another writer); try again later\n"
    "  9  a large NAV move stopped the allocation (rebalance.max_nav_move):\n"
    "     check prices and positions, then --accept-moves if it is real\n"
    " 10  capalloc verify found the ledger inconsistent (a balance that does\n"
    "     not replay, a broken hash chain); the message names run and row\n"
    " 11  a plan was refused (stale, edited after approval, expired, not\n"
    "     approved, another date), or allocate, capital add --deploy or\n"
    "     reverse without an approved plan while approval.required is\n"
    "     set; nothing was written\n";

const char *cli_exit_kind(int code)
{
    switch (code) {
    case CAP_EXIT_OK: return "ok";
    case CAP_EXIT_USAGE: return "usage";
    case CAP_EXIT_CONFIG: return "config";
    case CAP_EXIT_FUNDS: return "insufficient_funds";
    case CAP_EXIT_PRICE: return "missing_price";
    case CAP_EXIT_PLUGIN: return "plugin";
    case CAP_EXIT_STORAGE: return "storage";
    case CAP_EXIT_BUSY: return "busy";
    case CAP_EXIT_REVIEW: return "review";
    case CAP_EXIT_INTEGRITY: return "integrity";
    case CAP_EXIT_PLAN: return "plan_refused";
    default: return "internal";
    }
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

/* A byte that is not UTF-8 (a file name, a ticker from a file) becomes
 * U+FFFD so the output always parses. */
void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = json_utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, n, f);
        p += n;
    }
    fputc('"', f);
}

/* ------------------------------------------------------------------------ */
/* errors and help                                                           */
/* ------------------------------------------------------------------------ */

int cli_fail(const cli *c, int code, const char *msg)
{
    fprintf(stderr, "capalloc: error: %s\n", msg);
    if (c->json) {
        printf("{\"error\":{\"exit_code\":%d,\"kind\":\"%s\",\"message\":", code,
               cli_exit_kind(code));
        json_str(stdout, msg);
        printf("}}\n");
    }
    return code;
}

int cli_usage_error(const cli *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_fail(c, CAP_EXIT_USAGE, msg);
    if (c->cmd != NULL) {
        fprintf(stderr, "Usage: %s", c->cmd->usage);
        fprintf(stderr, "Try '%s --help'.\n", c->prog);
    } else {
        fputs("Usage: capalloc [OPTIONS] COMMAND [ARGS]\n"
              "Try 'capalloc --help'.\n",
              stderr);
    }
    return CAP_EXIT_USAGE;
}

void cli_print_help(const cli_command *cmd)
{
    printf("Usage: %s%s", cmd->usage, cmd->help);
    printf("\nGlobal options (before or after the command):\n"
           "  -c, --config FILE  the configuration (default: $CAPALLOC_CONFIG,\n"
           "                     else ./capalloc.yaml)\n"
           "  -j, --json         one JSON object on stdout (errors too)\n"
           "  -v, --verbose      progress lines on stderr (-vv: debug)\n"
           "  -h, --help         this help\n"
           "\nSee capalloc(1) for the exit codes.\n");
}

/* ------------------------------------------------------------------------ */
/* option parsing                                                            */
/* ------------------------------------------------------------------------ */

/* The option as the user typed it, for messages: "--date", "-d". */
static void opt_name(char *buf, size_t len, char **argv, int opt,
                     const struct option *longopts)
{
    if (opt > 0 && opt < 128 && opt != '?') {
        /* a short option, unless argv[optind - 1] is its long spelling */
        const char *a = argv[optind - 1];
        if (a != NULL && a[0] == '-' && a[1] == '-') {
            for (const struct option *o = longopts; o->name; o++)
                if (o->val == opt) {
                    snprintf(buf, len, "--%s", o->name);
                    return;
                }
        }
        snprintf(buf, len, "-%c", opt);
        return;
    }
    snprintf(buf, len, "%s", argv[optind - 1] ? argv[optind - 1] : "?");
}

int cli_parse(cli *c, int argc, char **argv, const char *shortopts,
              const struct option *longopts, cli_opt_handler handle,
              void *ctx, int *first)
{
    optind = 0; /* glibc: start over, with the GNU permutation */
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        char name[64];
        int rc;
        switch (o) {
        case CLI_OPT_CONFIG:
            if (optarg[0] == '\0')
                return cli_usage_error(c, "--config needs a FILE");
            c->config = optarg;
            break;
        case CLI_OPT_JSON:
            c->json = 1;
            break;
        case CLI_OPT_VERBOSE:
            c->verbose++;
            break;
        case CLI_OPT_HELP:
            cli_print_help(c->cmd);
            return -1;
        case ':':
            opt_name(name, sizeof name, argv, optopt, longopts);
            return cli_usage_error(c, "option %s needs a value", name);
        case '?':
            if (optopt != 0 && optopt < 128 && optopt != '?')
                return cli_usage_error(c, "unknown option '-%c'", optopt);
            return cli_usage_error(c, "unknown option '%s'", argv[optind - 1]);
        default:
            if (handle == NULL)
                return cli_usage_error(c, "unknown option");
            if ((rc = handle(c, o, optarg, ctx)) != 0)
                return rc;
            break;
        }
    }
    *first = optind;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* money, progress                                                           */
/* ------------------------------------------------------------------------ */

const char *fmt_money(capalloc_dec d, int minor, char *buf)
{
    return dec_format(d, minor, buf, CAPALLOC_DEC_MAX_TEXT);
}

const char *fmt_money_table(capalloc_dec d, int minor, char *buf)
{
    capalloc_dec q;
    if (dec_quantize(d, minor, CAPALLOC_ROUND_HALF_EVEN, &q) != CAPALLOC_OK)
        q = d; /* out of range after rounding: show it exactly */
    return dec_format(q, minor, buf, CAPALLOC_DEC_MAX_TEXT);
}

void cli_progress(const cli *c, const char *fmt, ...)
{
    if (c->verbose < 1)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03dZ capalloc: %s\n", ts, (int)(tv.tv_usec / 1000), msg);
}

/* ------------------------------------------------------------------------ */
/* values                                                                    */
/* ------------------------------------------------------------------------ */

int cli_parse_amount(const cli *c, const char *text, capalloc_dec *out)
{
    if (text == NULL)
        return cli_usage_error(c, "missing AMOUNT");
    capalloc_status st = dec_parse(text, out);
    if (st == CAPALLOC_ERR_OVERFLOW)
        return cli_usage_error(c, "amount '%s' is too large", text);
    if (st != CAPALLOC_OK)
        return cli_usage_error(c,
                               "amount '%s' is not a decimal number (digits, "
                               "optionally '.' and up to 6 decimal places; no "
                               "exponent, no thousands separators)",
                               text);
    if (out->micros <= 0)
        return cli_usage_error(c, "amount '%s' must be positive", text);
    return 0;
}

int cli_valid_date(const char *s)
{
    return date_valid(s);
}

void cli_today(char buf[16])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, 16, "%Y-%m-%d", &tm);
}

/* The engine's progress lines, as -v prints them. */
static void engine_progress(void *ctx, const char *line)
{
    cli_progress((const cli *)ctx, "%s", line);
}

static int open_engine(const cli *c, int books, engine **en);

int cli_open_engine(const cli *c, engine **en)
{
    return open_engine(c, 0, en);
}

int cli_open_engine_books(const cli *c, engine **en)
{
    return open_engine(c, 1, en);
}

static int open_engine(const cli *c, int books, engine **en)
{
    host_set_verbosity(c->verbose >= 2   ? CAPALLOC_LOG_DEBUG
                       : c->verbose == 1 ? CAPALLOC_LOG_INFO
                                         : CAPALLOC_LOG_WARNING);
    cap_error e = {0, ""};
    if ((books ? engine_open_books(c->config, en, &e)
               : engine_open(c->config, en, &e)) != 0)
        return cli_fail(c, e.code, e.msg);
    if (c->verbose >= 1) {
        (*en)->progress = engine_progress;
        (*en)->progress_ctx = (void *)c;
    }
    return 0;
}
