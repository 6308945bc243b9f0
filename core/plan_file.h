/*
 * plan_file.h - the four-eyes workflow (README "Plan, approve, apply"):
 * `allocate --plan-out FILE` writes a plan as JSON and changes nothing,
 * `approve FILE` records an approver in it, `apply FILE` writes exactly
 * that plan under the write lock, or refuses it (CAP_EXIT_PLAN).
 *
 * The file: {"format": "capalloc-plan 1", "plan": {...}, "content_sha256":
 * the SHA-256 of "plan" in canonical form (keys sorted, compact),
 * "approvals": [{"by", "at", "content_sha256"}]}. Every approval is bound
 * to the content hash it approved: editing any field of "plan" after an
 * approval invalidates it.
 */
#ifndef CAPALLOC_PLAN_FILE_H
#define CAPALLOC_PLAN_FILE_H

#include "engine.h"

/* The caller's identity: as_name when given, else the OS user
 * (getpwuid(geteuid())), else "uid N". buf: at least 64 bytes. */
const char *plan_identity(const char *as_name, char *buf, size_t len);

/* `allocate --plan-out`: plan the run for run_date exactly as allocate
 * would (prices, policy, rules) and write it to path; the ledger is not
 * changed. r as for engine_allocate (r->already_ran: no plan written). */
int engine_plan_out(engine *en, const char *run_date, int force,
                    const char *path, const char *prepared_by,
                    alloc_report *r, cap_error *e);

/* What approve and apply tell the user. */
typedef struct plan_summary {
    char run_date[16];
    char prepared_by[128];
    char approvers[512];   /* "a, b" */
    size_t n_approvers;    /* counted ones: not the preparer */
    size_t n_transfers;
    int repeat;            /* approve: this approver had approved already */
} plan_summary;

/* `capalloc approve FILE`: record approver in the file. Refused
 * (CAP_EXIT_PLAN) when the plan was edited since it was prepared or
 * approved, or approver is its preparer. No engine needed. */
int plan_file_approve(const char *path, const char *approver,
                      plan_summary *out, cap_error *e);

/* `capalloc apply FILE`: every check (content hash, date == run_date,
 * age, approvals, the configuration), then the plan's writes under the
 * write lock (plan.h). applier is recorded with the run. */
int engine_plan_apply(engine *en, const char *path, const char *run_date,
                      const char *applier, plan_summary *out, cap_error *e);

#endif
