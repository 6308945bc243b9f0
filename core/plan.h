/*
 * plan.h - a plan is a value (README "Plan, approve, apply"): made from
 * one consistent read without the write lock, bound to a fingerprint of
 * the ledger state it was made from, and applied under the write lock
 * only when that state is still the ledger's. Private to core/.
 */
#ifndef CAPALLOC_PLAN_H
#define CAPALLOC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "engine_int.h"
#include "sha256.h"

/* One portfolio of the state: its cash (when it has a book) and a digest
 * of its positions ("" when it holds none). */
typedef struct plan_book {
    char *id;                          /* owned */
    int has_cash;
    capalloc_dec cash;
    char pos[SHA256_HEX_LEN + 1];
} plan_book;

/* The ledger state a plan was made from. The fingerprint is the SHA-256
 * of its canonical form (plan_state_finish): every balance, a digest of
 * every portfolio's positions, the run recorded for the plan's date, the
 * latest run in the history the policy saw, the history itself and the
 * open redemptions. */
typedef struct plan_state {
    plan_book *books;                  /* sorted by id, each once */
    size_t n, cap;
    int64_t date_run;                  /* the date's recorded run, 0: none */
    int64_t last_run;                  /* the latest run in the history */
    char reds[SHA256_HEX_LEN + 1];     /* digest of the open redemptions */
    char history[SHA256_HEX_LEN + 1];  /* digest of the history read */
    /* How deep the plan's history read went (en->history_points, what the
     * policy stack asked for; 0: no history read). plan_check_fresh reads
     * the history again this deep: apply runs no policy. In the
     * fingerprint when not 0. */
    uint32_t history_points;
    char fingerprint[SHA256_HEX_LEN + 1];
    /* The ledger's change stamp (ABI 1.3 ledger_stamp) read with the
     * plan, when the backend keeps one: not part of the fingerprint, only
     * the cheap first test of plan_check_fresh. */
    int has_stamp;
    int64_t stamp;
    /* The positions were not digested (b->pos empty): a run on a backend
     * with the stamp, not written to a plan file. Its freshness is the
     * stamp's alone: a moved stamp is stale, whatever the re-read shows. */
    int no_pos;
} plan_state;

void plan_state_free(plan_state *st);

/* The state of what one read saw. 0 or -1 (out of memory). */
int plan_state_make(const ledger *l, int64_t date_run, const red_pay *reds,
                    size_t n_reds, const val_set *vs, int with_pos,
                    plan_state *st);
/* The backend keeps a change stamp: a plan applied in this process needs
 * no digest of the positions (hashing 1M positions costs more than the
 * rest of the check). */
int plan_stamp_kept(const engine *en);
/* In the plan's read transaction: st->stamp read, when the backend keeps
 * one. 0, -1 retry, or an exit code. */
int plan_state_stamp(engine *en, plan_state *st, cap_error *e);
/* The fingerprint of st's fields (after filling them by hand, as
 * plan_file.c does). */
void plan_state_finish(plan_state *st);
/* What differs between the state a plan was made from and the ledger's
 * now, for a message: "balance of 'A' 10.00 -> 12.00; ...". */
void plan_state_diff(const plan_state *was, const plan_state *now,
                     int minor_units, char *buf, size_t len);

/* What applying a plan writes: the ALLOCATE batch and, when the run pays
 * queued redemptions (payout->paid_out > 0), their WITHDRAW. */
typedef struct plan_write {
    const char *run_date;
    int forced;                        /* the write is a forced repeat */
    const capalloc_trade *trades;
    size_t n_trades;
    const capalloc_cash_row *cash;
    size_t n_cash;
    const capalloc_run_record *record; /* NULL: the backend keeps none */
    const alloc_report *payout;        /* reds, totals.master_after,
                                          paid_out */
} plan_write;

/* Whether the ledger is still in the state st (in the open WRITE
 * transaction): 0 fresh, 1 stale (*now filled: plan_state_diff), -1 to
 * retry, or an exit code (rolled back). s[0..n): the strategies whose
 * history the plan read. The one place a plan's freshness is decided. */
int plan_check_fresh(engine *en, const char *run_date,
                     const alloc_strategy *s, size_t n,
                     const plan_state *st, plan_state *now, cap_error *e);

/* Apply w, made from the ledger state st: take the write lock, check
 * freshness, re-check the batch against st (no balance negative, cash
 * conserved, the transfers agree with the balances), write, commit.
 * Returns 0, -1 to retry (a conflict, or a stale plan when !approved),
 * -2 when another run won the date, or an exit code: CAP_EXIT_PLAN for a
 * stale approved plan, naming what changed. */
int plan_apply(engine *en, const plan_write *w, const plan_state *st,
               const alloc_strategy *s, size_t n, int approved,
               cap_error *e);

/* plan_file.c: write the plan made by run.c (r, its batch b and record
 * rb, made from state st) to path as JSON (plan_file.h). 0 or an exit
 * code. */
int plan_file_write(engine *en, const alloc_report *r, const batch_buf *b,
                    const record_buf *rb, int forced, const plan_state *st,
                    const char *path, const char *prepared_by, cap_error *e);

#endif
