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
#include "rules.h"
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
    /* Progress of a run for `-v`: one line (no newline) at each step that
     * can take a moment (prices fetched, each policy stage, the write).
     * NULL: none. Set by the caller after engine_open. */
    void (*progress)(void *ctx, const char *line);
    void *progress_ctx;
    uint32_t history_points; /* history the policy asked for (history_wanted;
                                0: none) */
    int memory;             /* 1: the storage backend keeps the runs' record
                               (ABI 1.1: read_history, read_run) */
    struct policy_stack *stack; /* the policy's stages (policy_stack.h);
                                   policy is its first */
    /* Strategies whose NAV the operator accepts even when it is negative,
     * or zero while they hold positions (alloc.h rule 6; `allocate
     * --accept-nav`): set by the caller before engine_allocate or
     * engine_status, which refuse (CAP_EXIT_USAGE) an id that is not a
     * strategy. Borrowed; NULL when n_accept_nav is 0. */
    const char *const *accept_nav;
    size_t n_accept_nav;
    int accept_moves;       /* allocate --accept-moves (run_guard.c) */
} engine;

/* Find and load the config (see config_find), start the three plugins. */
int engine_open(const char *config_path, engine **out, cap_error *e);
/* engine_open for the commands that move capital and never weight the
 * fund: the configuration's strategies (policy, portfolio_weights,
 * portfolios) are not read (config_load_books), and the policy cannot be
 * started. */
int engine_open_books(const char *config_path, engine **out, cap_error *e);
void engine_close(engine *en);
/* Start the policy stack (once; engine_open does not): the commands that
 * weight the fund or show its plugins. 0 or an exit code (e set). */
int engine_policy_start(engine *en, cap_error *e);

typedef enum cap_action { CAP_ADD = 0, CAP_WITHDRAW = 1 } cap_action;

typedef struct capital_result {
    cap_action action;
    capalloc_dec amount;
    capalloc_dec before;
    capalloc_dec after;
    int dry_run;
    /* With a reference: 1 when it was already booked, the same action and
     * amount (nothing written; before/after are not set), with the run
     * that booked it. */
    int repeat;
    int64_t ref_run_id;
    char ref_created_at[32];
} capital_result;

/* ADD or WITHDRAW amount on the master. amount must be > 0 and in whole
 * minor units (else CAP_EXIT_USAGE); a withdrawal above the balance is
 * refused with CAP_EXIT_FUNDS and nothing written. reference (NULL: none)
 * is the investor-side transaction id (see flows.c): a repeat is a no-op
 * (r->repeat), the same reference with another action or amount is
 * refused (CAP_EXIT_USAGE). */
int engine_capital(engine *en, cap_action action, capalloc_dec amount,
                   const char *reference, int dry_run, capital_result *r,
                   cap_error *e);

typedef struct ticker_price {
    char *ticker;
    capalloc_dec price;
    int64_t as_of;
    uint32_t flags;
} ticker_price;

/* A large NAV move the operator accepted (run_guard.c). */
typedef struct guard_move {
    const char *id;     /* borrowed from the report's strategies */
    capalloc_dec then, now, ratio;
} guard_move;

/* An open redemption as a run sees it (flows.c). */
typedef struct red_pay {
    int64_t id;
    capalloc_dec owed;  /* amount - paid before the run */
    capalloc_dec pay;   /* what the run pays (0 <= pay <= owed) */
} red_pay;

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
    int rules_on;                /* the rebalance rules ran (run_rules.c) */
    rule_effect *effects;        /* when rules_on: effects[i] for
                                    strategies[i] */
    rules_summary rules;         /* when rules_on */
    red_pay *reds;               /* open redemptions, oldest first */
    size_t n_reds;
    capalloc_dec queued;         /* sum of reds[].owed */
    capalloc_dec paid_out;       /* sum of reds[].pay: paid by the run as a
                                    WITHDRAW in its transaction */
    guard_move *accepted;        /* large moves run with --accept-moves */
    size_t n_accepted;
} alloc_report;

/* The daily allocation for run_date (YYYY-MM-DD). A date that already ran
 * makes no transfers (r->already_ran) unless force. dry_run computes the
 * plan in a read transaction and writes nothing. Positions the run cannot
 * value - a negative quantity, a value beyond range, a strategy's NAV <= 0
 * not in accept_nav - fail it with CAP_EXIT_PRICE before any write, naming
 * the portfolio (README "Data other systems write"); the master's
 * positions count in total equity; an unknown portfolio's are a warning.
 * A real run plans in a read transaction and applies under the write lock
 * (plan.h); with approval.required > 0 it is refused (CAP_EXIT_PLAN):
 * plans go through plan_file.h then. */
int engine_allocate(engine *en, const char *run_date, int force, int dry_run,
                    alloc_report *r, cap_error *e);

/* The same valuation and plan as a dry run, for the status view. */
int engine_status(engine *en, const char *run_date, alloc_report *r,
                  cap_error *e);

void alloc_report_free(alloc_report *r);

/* ---- runs that move cash outside the allocation (move.c) -------------- */

/* What a deployment or a reversal did, besides r's transfers. */
typedef struct move_result {
    capalloc_dec deployed;   /* paid to the strategies (a reversal: funded) */
    capalloc_dec buffer;     /* DEPLOY: the cash buffer the master kept */
    int scaled;              /* DEPLOY: shares scaled to what the master
                                holds above the buffer and the queue */
    size_t max_cut;          /* DEPLOY: shares cut to max_transfer */
    size_t below_min;        /* DEPLOY: shares below min_transfer, skipped */
    int written;             /* a DEPLOY or REVERSE run was written */
} move_result;

/* `capital add AMOUNT --deploy`: the ADD and, in the same transaction, a
 * DEPLOY run that spreads it over the strategies in proportion to the
 * policy's weights on the fund valued now (move.c has the rule). date
 * (YYYY-MM-DD) dates its record; it may be neither before the latest
 * recorded valuation nor after today (CAP_EXIT_USAGE). With
 * approval.required > 0 it is refused unless dry_run (CAP_EXIT_PLAN), as
 * is engine_reverse. With a reference, a repeat is a no-op
 * (cr->repeat: neither the ADD nor the deployment is written again). r
 * gets each strategy's transfer; free it with alloc_report_free, also
 * after a failure. */
int engine_capital_deploy(engine *en, capalloc_dec amount,
                          const char *reference, const char *date,
                          int dry_run, capital_result *cr, alloc_report *r,
                          move_result *mr, cap_error *e);

/* `capalloc reverse RUN`: a REVERSE run that mirrors every transfer of
 * run_id (an allocation or a deployment), linked to it. Refused with
 * CAP_EXIT_USAGE when the run does not exist, moved no cash, is an
 * investor's flow (ADD, WITHDRAW: corrected by the opposite movement), an
 * IMPORT or a reversal, or is already reversed; with CAP_EXIT_FUNDS when a
 * balance would go negative, or when it takes cash from the master and
 * leaves it less than a deployment keeps there (the queued redemptions
 * plus the cash buffer). Nothing is written then. */
int engine_reverse(engine *en, int64_t run_id, const char *date,
                   int dry_run, alloc_report *r, move_result *mr,
                   cap_error *e);

/* ---- queued redemptions (flows.c) ------------------------------------ */

typedef struct redemption_row {
    int64_t id;
    capalloc_redemption_state state;
    capalloc_dec amount, paid;
    char *reference;             /* owned, or NULL */
    char queued_at[32], updated_at[32];
} redemption_row;

typedef struct redemption_list {
    redemption_row *rows;
    size_t n, cap;
    int repeat;                  /* queue: the reference was already queued
                                    with this amount; nothing written */
} redemption_list;

/* Queue a withdrawal of amount for the next allocation (reference: NULL
 * or the investor's; a repeat with the same amount is a no-op, another
 * amount is refused). l gets the queued redemption. dry_run writes
 * nothing. For these three calls, free l with redemption_list_free also
 * after a failure. */
int engine_redemption_queue(engine *en, capalloc_dec amount,
                            const char *reference, int dry_run,
                            redemption_list *l, cap_error *e);
/* Every redemption (open_only: the queued ones), oldest first. */
int engine_redemptions(engine *en, int open_only, redemption_list *l,
                       cap_error *e);
/* Cancel an open redemption; l gets it as it was. */
int engine_redemption_cancel(engine *en, int64_t id, redemption_list *l,
                             cap_error *e);
void redemption_list_free(redemption_list *l);

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
/* Any run by its id (an ADD, a DEPLOY, a REVERSE...): CAP_EXIT_USAGE
 * when there is none. x->info.kind, reverses and reversed_by say what it
 * is (ABI 1.3 backends). */
int engine_explain_run(engine *en, int64_t run_id, run_explain *out,
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
