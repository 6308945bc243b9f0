/*
 * cli.c - the capalloc command line.
 *
 *   capalloc [--config FILE] [--json] [-v] COMMAND [ARGS]
 *
 * The same binary answers to the design's names: `manage_capital` is
 * `capalloc capital`, `daily_allocator` is `capalloc allocate`.
 * Exit codes: see error.h and usage() below; they are an interface.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "decimal.h"
#include "engine.h"
#include "options.h"

typedef struct cli {
    const char *config;
    int json;
    int verbose;
} cli;

static const char *exit_kind(int code)
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
    default: return "internal";
    }
}

static const char EXIT_CODES[] =
    "Exit codes:\n"
    "  0  success (also: the allocation for that date had already run)\n"
    "  1  internal error\n"
    "  2  usage error (unknown option, bad amount or date, bad input file)\n"
    "  3  configuration error (the message names file:line:column and key)\n"
    "  4  insufficient funds (a withdrawal above the master's cash)\n"
    "  5  prices: a held ticker has no price, or the price source failed\n"
    "  6  a plugin failed to load, or a policy failed at run time\n"
    "  6  a plugin failed to load or failed at run time\n"
    "  7  storage failure (the transaction was rolled back)\n"
    "  8  the ledger was busy (another writer); try again later\n";

static void usage_main(FILE *f)
{
    fprintf(f,
            "Usage: capalloc [--config FILE] [--json] [-v] COMMAND [ARGS]\n"
            "\n"
            "Capital allocation for a multi-strategy fund.\n"
            "\n"
            "Commands:\n"
            "  capital add AMOUNT        add investors' capital to the master\n"
            "  capital withdraw AMOUNT   withdraw capital from the master\n"
            "  allocate                  the daily allocation run\n"
            "  status                    each portfolio's cash, value, weight, "
            "target, drift\n"
            "  positions import FILE     load positions from CSV\n"
            "  plugins                   show the plugins the config loads\n"
            "\n"
            "Options:\n"
            "  --config FILE   the configuration (default: $CAPALLOC_CONFIG, "
            "else ./capalloc.yaml)\n"
            "  --json          machine-readable output on stdout\n"
            "  -v, --verbose   more log lines on stderr (-vv: debug)\n"
            "  -h, --help      this help; COMMAND --help for a command's\n"
            "  --version       the version\n"
            "\n"
            "Also installed as manage_capital (= capalloc capital) and\n"
            "daily_allocator (= capalloc allocate).\n\n%s",
            EXIT_CODES);
}

static const char HELP_CAPITAL[] =
    "Usage: capalloc capital add AMOUNT [--dry-run]\n"
    "       capalloc capital withdraw AMOUNT [--dry-run]\n"
    "       capalloc capital --action ADD|WITHDRAW --amount AMOUNT [--dry-run]\n"
    "       manage_capital --action ADD|WITHDRAW --amount AMOUNT\n"
    "\n"
    "Moves investors' capital in or out of the master portfolio. AMOUNT is a\n"
    "positive decimal in the currency's minor units at most (e.g. 100000 or\n"
    "1234.56 for USD). A withdrawal above the master's cash is refused (exit\n"
    "4) and nothing is written. --dry-run shows the result without writing.\n";

static const char HELP_ALLOCATE[] =
    "Usage: capalloc allocate [--date YYYY-MM-DD] [--force] [--dry-run]\n"
    "       daily_allocator [same options]\n"
    "\n"
    "Values every strategy (cash + positions at current prices), computes\n"
    "each target as total equity x weight (rounded down to the currency's\n"
    "minor unit; residues stay in the master) and moves cash between the\n"
    "master and the strategies in one transaction.\n"
    "\n"
    "A run is keyed by its date (default: today, local time). Running again\n"
    "for a date that already ran makes no transfers, says so and exits 0;\n"
    "--force makes a new run anyway. --dry-run prints the plan and writes\n"
    "nothing.\n";

static const char HELP_STATUS[] =
    "Usage: capalloc status [--date YYYY-MM-DD]\n"
    "\n"
    "Shows each portfolio's cash, positions value, total, weight, target\n"
    "and drift (total - target), valued at current prices. Writes nothing.\n";

static const char HELP_POSITIONS[] =
    "Usage: capalloc positions import FILE.csv [--dry-run]\n"
    "\n"
    "Sets positions from a CSV of portfolio_id,ticker,quantity (a header\n"
    "line is allowed, '#' starts a comment). Each row sets that position's\n"
    "quantity; 0 removes it. Positions are not cash: no cash moves.\n";

static const char HELP_PLUGINS[] =
    "Usage: capalloc plugins\n"
    "\n"
    "Loads the configuration and shows each plugin: name, version, kind,\n"
    "file and the options it takes.\n";

/* ------------------------------------------------------------------------ */
/* output helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* s as a JSON string; a byte that is not UTF-8 (a file name, a ticker from
 * a file) becomes U+FFFD so the output always parses. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
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

static int fail(const cli *c, int code, const char *msg)
{
    fprintf(stderr, "capalloc: error: %s\n", msg);
    if (c->json) {
        printf("{\"error\":{\"exit_code\":%d,\"kind\":\"%s\",\"message\":", code,
               exit_kind(code));
        json_str(stdout, msg);
        printf("}}\n");
    }
    return code;
}

static int usage_error(const cli *c, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_error(const cli *c, const char *help, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail(c, CAP_EXIT_USAGE, msg);
    if (help != NULL && !c->json)
        fprintf(stderr, "\n%s", help);
    return CAP_EXIT_USAGE;
}

static const char *fmt_money(capalloc_dec d, int minor, char *buf)
{
    return dec_format(d, minor, buf, CAPALLOC_DEC_MAX_TEXT);
}

/* ------------------------------------------------------------------------ */
/* argument parsing                                                          */
/* ------------------------------------------------------------------------ */

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i. */
static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **out)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *out = NULL;
        return 1;
    }
    *out = argv[++*i];
    return 1;
}

static int parse_amount(const cli *c, const char *help, const char *text,
                        capalloc_dec *out)
{
    if (text == NULL)
        return usage_error(c, help, "missing AMOUNT");
    capalloc_status st = dec_parse(text, out);
    if (st == CAPALLOC_ERR_OVERFLOW)
        return usage_error(c, help, "amount '%s' is too large", text);
    if (st != CAPALLOC_OK)
        return usage_error(c, help,
                           "amount '%s' is not a decimal number (digits, "
                           "optionally '.' and up to 6 decimal places; no "
                           "exponent, no thousands separators)",
                           text);
    if (out->micros <= 0)
        return usage_error(c, help, "amount '%s' must be positive", text);
    return 0;
}

static int valid_date(const char *s)
{
    /* Exactly YYYY-MM-DD in ASCII digits: the date is the run's key, so
     * one day must have one spelling ("2025-01- 5" is not 2025-01-05). */
    static const char shape[] = "dddd-dd-dd";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-')
            return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
            (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

static void today(char buf[16])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, 16, "%Y-%m-%d", &tm);
}

static int open_engine(const cli *c, engine **en)
{
    cap_error e = {0, ""};
    if (engine_open(c->config, en, &e) != 0)
        return fail(c, e.code, e.msg);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* capital                                                                   */
/* ------------------------------------------------------------------------ */

static int cmd_capital(const cli *c, int argc, char **argv)
{
    const char *action = NULL, *amount_text = NULL;
    int dry = 0, positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if (is_help(argv[i])) {
            fputs(HELP_CAPITAL, stdout);
            return 0;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
        } else if (opt_value(argc, argv, &i, "--action", &v)) {
            if (v == NULL)
                return usage_error(c, HELP_CAPITAL, "--action needs ADD or WITHDRAW");
            if (action != NULL)
                return usage_error(c, HELP_CAPITAL,
                                   "the action is given twice ('%s' and '%s')",
                                   action, v);
            action = v;
        } else if (opt_value(argc, argv, &i, "--amount", &v)) {
            if (v == NULL)
                return usage_error(c, HELP_CAPITAL, "--amount needs a value");
            if (amount_text != NULL)
                return usage_error(c, HELP_CAPITAL,
                                   "the amount is given twice ('%s' and '%s')",
                                   amount_text, v);
            amount_text = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0' &&
                   !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            return usage_error(c, HELP_CAPITAL, "unknown option '%s'", argv[i]);
        } else if (positional == 0 && action == NULL) {
            action = argv[i];
            positional++;
        } else if (positional <= 1 && amount_text == NULL) {
            amount_text = argv[i];
            positional = 2;
        } else if (positional == 0) {
            return usage_error(c, HELP_CAPITAL,
                               "the action is given twice ('%s' and '%s')",
                               action, argv[i]);
        } else if (positional == 1) {
            return usage_error(c, HELP_CAPITAL,
                               "the amount is given twice ('%s' and '%s')",
                               amount_text, argv[i]);
        } else {
            return usage_error(c, HELP_CAPITAL, "unexpected argument '%s'",
                               argv[i]);
        }
    }
    if (action == NULL)
        return usage_error(c, HELP_CAPITAL, "missing action (add or withdraw)");
    cap_action act;
    if (strcasecmp(action, "add") == 0)
        act = CAP_ADD;
    else if (strcasecmp(action, "withdraw") == 0)
        act = CAP_WITHDRAW;
    else
        return usage_error(c, HELP_CAPITAL,
                           "unknown action '%s' (expected ADD or WITHDRAW)",
                           action);
    capalloc_dec amount;
    int rc = parse_amount(c, HELP_CAPITAL, amount_text, &amount);
    if (rc)
        return rc;

    engine *en;
    if ((rc = open_engine(c, &en)))
        return rc;
    capital_result r;
    cap_error e = {0, ""};
    rc = engine_capital(en, act, amount, dry, &r, &e);
    if (rc) {
        rc = fail(c, rc, e.msg);
        engine_close(en);
        return rc;
    }
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        d[CAPALLOC_DEC_MAX_TEXT];
    const char *an = act == CAP_ADD ? "ADD" : "WITHDRAW";
    if (c->json) {
        printf("{\"command\":\"capital\",\"action\":\"%s\",\"dry_run\":%s,"
               "\"master_portfolio_id\":",
               an, dry ? "true" : "false");
        json_str(stdout, en->cfg->master_id);
        printf(",\"currency\":\"%s\",\"amount\":\"%s\",\"before\":\"%s\","
               "\"after\":\"%s\"}\n",
               en->cfg->currency, fmt_money(amount, mu, a),
               fmt_money(r.before, mu, b), fmt_money(r.after, mu, d));
    } else {
        printf("%s%s %s %s: master portfolio '%s' cash %s -> %s %s\n",
               dry ? "dry run: would " : "", an, fmt_money(amount, mu, a),
               en->cfg->currency, en->cfg->master_id, fmt_money(r.before, mu, b),
               fmt_money(r.after, mu, d), en->cfg->currency);
    }
    engine_close(en);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* allocate / status                                                         */
/* ------------------------------------------------------------------------ */

static void print_report_json(const engine *en, const alloc_report *r,
                              const char *command, const char *state)
{
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT];
    printf("{\"command\":\"%s\",\"run_date\":\"%s\",\"status\":\"%s\","
           "\"currency\":\"%s\"",
           command, r->run_date, state, en->cfg->currency);
    if (r->already_ran) {
        printf(",\"previous_run\":{\"run_id\":%lld,\"created_at\":",
               (long long)r->previous.run_id);
        json_str(stdout, r->previous.created_at);
        printf(",\"trades\":%lld}}\n", (long long)r->previous.n_trades);
        return;
    }
    const alloc_totals *t = &r->totals;
    printf(",\"total_equity\":\"%s\"", fmt_money(t->total_equity, mu, a));
    printf(",\"master\":{\"id\":");
    json_str(stdout, en->cfg->master_id);
    printf(",\"cash_before\":\"%s\"", fmt_money(t->master_before, mu, a));
    printf(",\"cash_after\":\"%s\"}", fmt_money(t->master_after, mu, a));
    printf(",\"scaled\":%s,\"transfers\":%zu,\"attempts\":%d",
           t->scaled ? "true" : "false", t->n_transfers, r->attempts);
    printf(",\"portfolios\":[");
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        capalloc_dec drift;
        dec_sub(s->total, s->target, &drift);
        printf("%s{\"id\":", i ? "," : "");
        json_str(stdout, s->id);
        printf(",\"weight\":\"%s\"", dec_format(s->weight, 0, a, sizeof a));
        printf(",\"cash\":\"%s\"", fmt_money(s->cash, mu, a));
        printf(",\"positions_value\":\"%s\"", fmt_money(s->positions_value, mu, a));
        printf(",\"total\":\"%s\"", fmt_money(s->total, mu, a));
        printf(",\"target\":\"%s\"", fmt_money(s->target, mu, a));
        printf(",\"drift\":\"%s\"", fmt_money(drift, mu, a));
        printf(",\"transfer\":\"%s\"", fmt_money(s->transfer, mu, a));
        printf(",\"shortfall\":\"%s\"", fmt_money(s->shortfall, mu, a));
        printf(",\"cash_after\":\"%s\"}", fmt_money(s->cash_after, mu, a));
    }
    printf("],\"new_books\":[");
    for (size_t i = 0; i < r->n_new_books; i++) {
        printf("%s", i ? "," : "");
        json_str(stdout, r->new_books[i]);
    }
    printf("],\"price_requests\":%zu,\"prices\":[", r->price_requests);
    for (size_t i = 0; i < r->n_prices; i++) {
        printf("%s{\"ticker\":", i ? "," : "");
        json_str(stdout, r->prices[i].ticker);
        printf(",\"price\":\"%s\",\"as_of\":%lld,\"stale\":%s}",
               dec_format(r->prices[i].price, 0, a, sizeof a),
               (long long)r->prices[i].as_of,
               (r->prices[i].flags & CAPALLOC_QUOTE_STALE) ? "true" : "false");
    }
    /* the tickers valued at a last-known price, for whoever reads only
     * this (a scheduler's alert) */
    printf("],\"stale_prices\":[");
    for (size_t i = 0, k = 0; i < r->n_prices; i++)
        if (r->prices[i].flags & CAPALLOC_QUOTE_STALE) {
            printf("%s", k++ ? "," : "");
            json_str(stdout, r->prices[i].ticker);
        }
    printf("]}\n");
}

static void print_table(const engine *en, const alloc_report *r, int with_transfers)
{
    int mu = en->cfg->minor_units;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c3[CAPALLOC_DEC_MAX_TEXT], d[CAPALLOC_DEC_MAX_TEXT],
        f[CAPALLOC_DEC_MAX_TEXT], g[CAPALLOC_DEC_MAX_TEXT];
    const alloc_totals *t = &r->totals;
    printf("  %-12s %14s %14s %14s %8s %14s %14s", "portfolio", "cash",
           "positions", "total", "weight", "target", "drift");
    if (with_transfers)
        printf(" %14s %14s", "transfer", "cash after");
    printf("\n");
    capalloc_dec reserve = dec_from_int(1);
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        capalloc_dec drift;
        dec_sub(s->total, s->target, &drift);
        dec_sub(reserve, s->weight, &reserve);
        printf("  %-12s %14s %14s %14s %8s %14s %14s", s->id,
               fmt_money(s->cash, mu, a), fmt_money(s->positions_value, mu, b),
               fmt_money(s->total, mu, c3), dec_format(s->weight, 2, d, sizeof d),
               fmt_money(s->target, mu, f), fmt_money(drift, mu, g));
        if (with_transfers) {
            char tr[72];
            snprintf(tr, sizeof tr, "%s%s", s->transfer.micros > 0 ? "+" : "",
                     fmt_money(s->transfer, mu, a));
            printf(" %14s %14s", tr, fmt_money(s->cash_after, mu, b));
        }
        printf("\n");
    }
    char m[64];
    snprintf(m, sizeof m, "%s (master)", en->cfg->master_id);
    printf("  %-12s %14s %14s %14s %8s %14s %14s", m,
           fmt_money(t->master_before, mu, a), "", "",
           dec_format(reserve, 2, d, sizeof d), "", "");
    if (with_transfers)
        printf(" %14s %14s", "", fmt_money(t->master_after, mu, b));
    printf("\n  total equity %s %s\n", fmt_money(t->total_equity, mu, a),
           en->cfg->currency);
    for (size_t i = 0; i < r->n; i++)
        if (!dec_is_zero(r->strategies[i].shortfall))
            printf("  shortfall: portfolio '%s' is %s %s from its target "
                   "(%s)\n",
                   r->strategies[i].id,
                   fmt_money(r->strategies[i].shortfall, mu, a), en->cfg->currency,
                   dec_is_neg(r->strategies[i].adjustment)
                       ? "its excess is held in positions, only cash is returned"
                       : "the master could not fund every strategy in full; "
                         "fundings were scaled pro rata");
    for (size_t i = 0; i < r->n_prices; i++)
        if (r->prices[i].flags & CAPALLOC_QUOTE_STALE)
            printf("  stale price: %s valued at its last known price %s\n",
                   r->prices[i].ticker,
                   dec_format(r->prices[i].price, 0, a, sizeof a));
}

static int parse_date_opts(const cli *c, const char *help, int argc, char **argv,
                           char date[16], int *force, int *dry)
{
    today(date);
    for (int i = 0; i < argc; i++) {
        const char *v;
        if (is_help(argv[i])) {
            fputs(help, stdout);
            return -1;
        } else if (force && strcmp(argv[i], "--force") == 0) {
            *force = 1;
        } else if (dry && strcmp(argv[i], "--dry-run") == 0) {
            *dry = 1;
        } else if (opt_value(argc, argv, &i, "--date", &v)) {
            if (v == NULL || !valid_date(v))
                return usage_error(c, help, "--date needs a date YYYY-MM-DD, got '%s'",
                                   v ? v : "");
            snprintf(date, 16, "%s", v);
        } else {
            return usage_error(c, help, "unknown argument '%s'", argv[i]);
        }
    }
    return 0;
}

static int cmd_allocate(const cli *c, int argc, char **argv)
{
    char date[16];
    int force = 0, dry = 0;
    int rc = parse_date_opts(c, HELP_ALLOCATE, argc, argv, date, &force, &dry);
    if (rc)
        return rc < 0 ? 0 : rc;
    engine *en;
    if ((rc = open_engine(c, &en)))
        return rc;
    alloc_report r;
    cap_error e = {0, ""};
    rc = engine_allocate(en, date, force, dry, &r, &e);
    if (rc) {
        rc = fail(c, rc, e.msg);
    } else if (c->json) {
        print_report_json(en, &r, "allocate",
                          r.already_ran ? "already_ran"
                                        : dry ? "dry_run" : "committed");
    } else if (r.already_ran) {
        printf("allocation for %s already ran (run %lld at %s, %lld trade "
               "rows); no new transfers. Use --force for another run.\n",
               r.run_date, (long long)r.previous.run_id, r.previous.created_at,
               (long long)r.previous.n_trades);
    } else {
        printf("%sallocation %s: %zu transfer%s%s\n", dry ? "dry run: " : "",
               r.run_date, r.totals.n_transfers,
               r.totals.n_transfers == 1 ? "" : "s",
               dry ? " planned, nothing written" : " committed");
        for (size_t i = 0; i < r.n_new_books; i++)
            printf("  opened the book of portfolio '%s' with zero cash\n",
                   r.new_books[i]);
        print_table(en, &r, 1);
    }
    alloc_report_free(&r);
    engine_close(en);
    return rc;
}

static int cmd_status(const cli *c, int argc, char **argv)
{
    char date[16];
    int rc = parse_date_opts(c, HELP_STATUS, argc, argv, date, NULL, NULL);
    if (rc)
        return rc < 0 ? 0 : rc;
    engine *en;
    if ((rc = open_engine(c, &en)))
        return rc;
    alloc_report r;
    cap_error e = {0, ""};
    rc = engine_status(en, date, &r, &e);
    if (rc) {
        rc = fail(c, rc, e.msg);
    } else if (c->json) {
        print_report_json(en, &r, "status", "status");
    } else {
        printf("fund status on %s (%s), valued at current prices\n", r.run_date,
               en->cfg->currency);
        print_table(en, &r, 0);
    }
    alloc_report_free(&r);
    engine_close(en);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* positions, plugins                                                        */
/* ------------------------------------------------------------------------ */

static int cmd_positions(const cli *c, int argc, char **argv)
{
    const char *file = NULL;
    int dry = 0;
    if (argc < 1 || is_help(argv[0])) {
        if (argc >= 1) {
            fputs(HELP_POSITIONS, stdout);
            return 0;
        }
        return usage_error(c, HELP_POSITIONS, "missing 'import FILE'");
    }
    if (strcmp(argv[0], "import") != 0)
        return usage_error(c, HELP_POSITIONS, "unknown positions command '%s'",
                           argv[0]);
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(HELP_POSITIONS, stdout);
            return 0;
        } else if (strcmp(argv[i], "--dry-run") == 0)
            dry = 1;
        else if (argv[i][0] == '-')
            return usage_error(c, HELP_POSITIONS, "unknown option '%s'", argv[i]);
        else if (file == NULL)
            file = argv[i];
        else
            return usage_error(c, HELP_POSITIONS, "unexpected argument '%s'",
                               argv[i]);
    }
    if (file == NULL)
        return usage_error(c, HELP_POSITIONS, "missing FILE");
    engine *en;
    int rc = open_engine(c, &en);
    if (rc)
        return rc;
    import_result r;
    cap_error e = {0, ""};
    rc = engine_import_positions(en, file, dry, &r, &e);
    if (rc)
        rc = fail(c, rc, e.msg);
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

static void print_plugin(const cli *c, const char *slot, const loaded_plugin *p,
                         int last)
{
    const capalloc_plugin_header *h = p->hdr;
    if (c->json) {
        printf("{\"slot\":\"%s\",\"name\":", slot);
        json_str(stdout, h->name);
        printf(",\"version\":");
        json_str(stdout, h->version);
        printf(",\"kind\":\"%s\",\"abi\":\"%u.%u\",\"path\":", kind_name(p->kind),
               h->abi_major, h->abi_minor);
        json_str(stdout, p->path);
        printf("}%s", last ? "" : ",");
        return;
    }
    printf("%-8s %s %s (%s, ABI %u.%u)\n         %s\n", slot, h->name, h->version,
           kind_name(p->kind), h->abi_major, h->abi_minor, p->path);
    if (h->description)
        printf("         %s\n", h->description);
    for (const capalloc_option_spec *o = h->options; o && o->name; o++)
        printf("         option %s%s%s%s%s%s\n", o->name,
               o->required ? " (required)" : "",
               o->default_value ? " [default " : "",
               o->default_value ? o->default_value : "",
               o->default_value ? "]" : "", o->help ? "" : "");
}

static int cmd_plugins(const cli *c, int argc, char **argv)
{
    if (argc > 0) {
        if (is_help(argv[0])) {
            fputs(HELP_PLUGINS, stdout);
            return 0;
        }
        return usage_error(c, HELP_PLUGINS, "unexpected argument '%s'", argv[0]);
    }
    engine *en;
    int rc = open_engine(c, &en);
    if (rc)
        return rc;
    if (c->json)
        printf("{\"plugins\":[");
    print_plugin(c, "storage", en->storage, 0);
    print_plugin(c, "prices", en->prices, 0);
    print_plugin(c, "policy", en->policy, 1);
    if (c->json)
        printf("]}\n");
    engine_close(en);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int main(int argc, char **argv)
{
    cli c = {NULL, 0, 0};
    /* Global options may stand anywhere; the rest is the command line. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (rest == NULL)
        return CAP_EXIT_INTERNAL;
    int n = 0, want_help = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (opt_value(argc, argv, &i, "--config", &v)) {
            if (v == NULL || *v == '\0') {
                free(rest);
                return usage_error(&c, NULL, "--config needs a FILE");
            }
            c.config = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            c.json = 1;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            c.verbose++;
        } else if (strcmp(argv[i], "-vv") == 0) {
            c.verbose += 2; /* debug lines, e.g. storage round trips */
        } else if (n == 0 && strcmp(argv[i], "--version") == 0) {
            /* only before the command: "capital withdraw 5 --version" must
             * not exit 0 having done nothing */
            printf("capalloc %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
                   CAPALLOC_ABI_MAJOR, CAPALLOC_ABI_MINOR);
            free(rest);
            return 0;
        } else {
            if (n == 0 && is_help(argv[i]))
                want_help = 1;
            rest[n++] = argv[i];
        }
    }
    host_set_verbosity(c.verbose >= 2   ? CAPALLOC_LOG_DEBUG
                       : c.verbose == 1 ? CAPALLOC_LOG_INFO
                                        : CAPALLOC_LOG_WARNING);

    const char *self = base_name(argv[0]);
    int rc;
    if (strcmp(self, "manage_capital") == 0) {
        rc = cmd_capital(&c, n, rest);
    } else if (strcmp(self, "daily_allocator") == 0) {
        rc = cmd_allocate(&c, n, rest);
    } else if (want_help) {
        usage_main(stdout);
        rc = 0;
    } else if (n == 0) {
        usage_main(stderr);
        rc = CAP_EXIT_USAGE;
    } else if (strcmp(rest[0], "capital") == 0) {
        rc = cmd_capital(&c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "allocate") == 0) {
        rc = cmd_allocate(&c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "status") == 0) {
        rc = cmd_status(&c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "positions") == 0) {
        rc = cmd_positions(&c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "plugins") == 0) {
        rc = cmd_plugins(&c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "help") == 0) {
        usage_main(stdout);
        rc = 0;
    } else {
        rc = usage_error(&c, NULL, "unknown command '%s' (see capalloc --help)",
                         rest[0]);
    }
    free(rest);
    fflush(stdout);
    return rc;
}
