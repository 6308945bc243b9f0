/*
 * engine.h - the workflows: capital ADD/WITHDRAW, the daily allocation, the
 * status view and position import, over the three plugins named in the
 * configuration. Each write command is one storage transaction: all or
 * nothing.
 */
#ifndef CAPALLOC_ENGINE_H
#define CAPALLOC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "capalloc_plugin.h"
#include "config.h"
#include "error.h"
#include "history.h"
#include "loader.h"

typedef struct engine {
    capalloc_config *cfg;
    loaded_plugin *storage;
    loaded_plugin *prices;
    loaded_plugin *policy;
    char cash_ticker[32];   /* currency + "_CASH", e.g. "USD_CASH" */
    int max_attempts;       /* re-runs on CAPALLOC_ERR_RETRY */
    uint32_t history_points; /* history the policy asked for (history_wanted;
                                0: none) */
    int memory;             /* 1: the storage backend keeps the runs' record
                               (ABI 1.1: read_history, read_run) */
    struct policy_stack *stack; /* the policy's stages (policy_stack.h);
                                   policy is its first */
} engine;

/* Find and load the config (see config_find), start the three plugins. */
int engine_open(const char *config_path, engine **out, cap_error *e);
void engine_close(engine *en);

typedef enum cap_action { CAP_ADD = 0, CAP_WITHDRAW = 1 } cap_action;

typedef struct capital_result {
    cap_action action;
    capalloc_dec amount;
    capalloc_dec before;
    capalloc_dec after;
    int dry_run;
} capital_result;

/* ADD or WITHDRAW amount on the master. amount must be > 0 and in whole
 * minor units (else CAP_EXIT_USAGE); a withdrawal above the balance is
 * refused with CAP_EXIT_FUNDS and nothing written. */
int engine_capital(engine *en, cap_action action, capalloc_dec amount,
                   int dry_run, capital_result *r, cap_error *e);

typedef struct ticker_price {
    char *ticker;
    capalloc_dec price;
    int64_t as_of;
    uint32_t flags;
} ticker_price;

typedef struct alloc_report {
    char run_date[16];
    int dry_run;
    int forced;
    int already_ran;             /* 1: a run for run_date existed, nothing done */
    capalloc_run_info previous;  /* when already_ran */
    int attempts;                /* transactions tried (retries + 1) */
    alloc_totals totals;
    alloc_strategy *strategies;  /* ids owned by the report */
    size_t n;
    char **new_books;            /* strategies whose book was opened */
    size_t n_new_books;
    ticker_price *prices;        /* every ticker priced, sorted */
    size_t n_prices;
    size_t price_requests;       /* calls to get_prices (1 when any needed) */
    capalloc_call_context context; /* what the policy was told */
    size_t history_points;       /* history points handed to the policy */
    char *detail_json;           /* the run's explanation (see run_plan.c),
                                    as recorded with a real run */
    struct stage_result *stages; /* what each policy stage did (owned) */
    size_t n_stages;
} alloc_report;

/* The daily allocation for run_date (YYYY-MM-DD). A date that already ran
 * makes no transfers (r->already_ran) unless force. dry_run computes the
 * plan in a read transaction and writes nothing. */
int engine_allocate(engine *en, const char *run_date, int force, int dry_run,
                    alloc_report *r, cap_error *e);

/* The same valuation and plan as a dry run, for the status view. */
int engine_status(engine *en, const char *run_date, alloc_report *r,
                  cap_error *e);

void alloc_report_free(alloc_report *r);

/* ---- the fund's memory (record.c) ------------------------------------ */

/* `capalloc history`: recorded valuations with their flow-adjusted
 * returns (history.h), and the fund's own series. */
typedef struct history_row {
    capalloc_valuation v;  /* strings owned by the report */
    capalloc_dec ret;      /* valid when has_return */
    int has_return;
} history_row;

typedef struct history_report {
    history_row *rows;     /* by date, run, then portfolio (master first) */
    size_t n;
    fund_obs *fund;        /* one per allocation run, in run order */
    size_t n_fund;
} history_report;

/* Valuations dated from..to (either NULL: open), of one portfolio (NULL:
 * all; the master's rows are always included), with returns computed from
 * everything recorded up to `to`. */
int engine_history(engine *en, const char *from, const char *to,
                   const char *portfolio, history_report *out, cap_error *e);
void history_report_free(history_report *h);

/* `capalloc explain`: one run's record as stored. */
typedef struct run_explain {
    capalloc_run_info info;
    char action[16];
    int forced;
    char *capalloc_version;
    char *detail_json;
    capalloc_valuation *v; /* by portfolio; strings owned */
    size_t nv;
    capalloc_price_row *p; /* by ticker; strings owned */
    size_t np;
} run_explain;

/* The latest allocation run of date (YYYY-MM-DD). CAP_EXIT_USAGE when no
 * run is recorded for it. */
int engine_explain(engine *en, const char *date, run_explain *out,
                   cap_error *e);
void run_explain_free(run_explain *x);

typedef struct import_result {
    size_t n_rows;
    size_t n_portfolios;
    int dry_run;
} import_result;

/* Load positions from CSV "portfolio_id,ticker,quantity" (a header line is
 * allowed, '#' starts a comment): each row sets that position's quantity
 * (0 removes it). Positions are not cash: no cash moves, no trade rows. */
int engine_import_positions(engine *en, const char *csv_path, int dry_run,
                            import_result *r, cap_error *e);

/* Backfill: a CSV "date,portfolio_id,nav[,flow]" (a header line allowed,
 * '#' comments) of strategies' past NAVs, recorded as imported valuations
 * in one IMPORT run. Every row is checked first (a real date before the
 * portfolio's first recorded valuation by a run, a strategy of the
 * config, a non-negative exact NAV, no (date, portfolio) twice, none
 * already recorded): one bad row refuses the file, naming its line, and
 * nothing is written. */
int engine_history_import(engine *en, const char *csv_path, int dry_run,
                          import_result *r, cap_error *e);

#endif
