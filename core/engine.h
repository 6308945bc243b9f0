/*
 * engine.h - the workflows: capital ADD/WITHDRAW, the daily allocation, the
 * status view and position import, over the three plugins named in the
 * configuration. Each write command is one storage transaction: all or
 * nothing.
 */
#ifndef CAPALLOC_ENGINE_H
#define CAPALLOC_ENGINE_H

#include <stddef.h>

#include "alloc.h"
#include "capalloc_plugin.h"
#include "config.h"
#include "error.h"
#include "loader.h"

typedef struct engine {
    capalloc_config *cfg;
    loaded_plugin *storage;
    loaded_plugin *prices;
    loaded_plugin *policy;
    char cash_ticker[32];   /* currency + "_CASH", e.g. "USD_CASH" */
    int max_attempts;       /* re-runs on CAPALLOC_ERR_RETRY */
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

#endif
