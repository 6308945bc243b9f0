/*
 * engine.c - the engine's frame (see engine.h, engine_int.h): opening and
 * closing the three plugins, the storage transaction helpers every command
 * shares, and capital movements.
 *
 * Every write command follows the same shape:
 *   begin(WRITE) -> read what it changes -> compute -> write(batch) -> commit
 * with the ledger lock held from the read to the commit, so no other writer
 * can change a balance in between. Any failure rolls the transaction back:
 * a command is all or nothing. CAPALLOC_ERR_RETRY from the backend (a
 * serialization failure) re-runs the command from a fresh read, a bounded
 * number of times.
 */
#include "engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "engine_int.h"
#include "options.h"
#include "policy_stack.h"

#define CASH_FMT(d, buf) dec_format((d), en->cfg->minor_units, (buf), sizeof(buf))

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */
/* ------------------------------------------------------------------------ */

int eng_oom(cap_error *e)
{
    return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
}

int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


int grow_array(void **p, size_t *cap, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *np = realloc(*p, ncap * size);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

/* Map a plugin status to an exit code. */
cap_exit storage_code(capalloc_status st)
{
    switch (st) {
    case CAPALLOC_ERR_BUSY:
        return CAP_EXIT_BUSY;
    case CAPALLOC_ERR_NOMEM:
        return CAP_EXIT_INTERNAL;
    case CAPALLOC_ERR_INVALID:
        /* the ledger does not fit the configuration (e.g. its currency) */
        return CAP_EXIT_CONFIG;
    default:
        return CAP_EXIT_STORAGE;
    }
}
/* ------------------------------------------------------------------------ */
/* open / close                                                              */
/* ------------------------------------------------------------------------ */

/* The fund's memory (ABI 1.1): whether the storage backend keeps the
 * runs' record. */
static void open_memory(engine *en)
{
    const capalloc_storage_plugin *sp = SP(en);
    en->memory = CAPALLOC_HAS_FIELD(sp->header.struct_size,
                                    capalloc_storage_plugin, read_run) &&
                 sp->read_history != NULL && sp->read_run != NULL;
}

/* The policy stack, started on first use: a capital movement never binds
 * the policy's options or creates its plugins (with 10,000 weights that
 * was most of a `capital add`). Then how much history it wants. */
int engine_policy_start(engine *en, cap_error *e)
{
    if (en->stack != NULL)
        return 0;
    if (en->cfg->strategies_deferred)
        return cap_fail(e, CAP_EXIT_INTERNAL,
                        "internal error: the policy of an engine opened "
                        "without the strategies (engine_open_books)");
    int rc = policy_stack_open(en->cfg, &en->stack, e);
    if (rc != 0) {
        en->stack = NULL;
        return rc;
    }
    en->policy = en->stack->st[0].p; /* the first stage (closed with it) */
    const capalloc_storage_plugin *sp = SP(en);
    /* the most any stage of the policy stack asked for */
    uint32_t points = en->stack->history_points;
    en->history_points = points;
    if (points > 0 && !en->memory)
        fprintf(stderr,
                "capalloc: warning: policy '%s' asks for %u days of history, "
                "but storage '%s' (ABI %u.%u) keeps no record of the runs: "
                "it gets none\n",
                en->policy->hdr->name, (unsigned)points,
                en->storage->hdr->name, (unsigned)sp->header.abi_major,
                (unsigned)sp->header.abi_minor);
    return 0;
}

static int open_engine(const char *config_path, int books, engine **out,
                       cap_error *e);

int engine_open(const char *config_path, engine **out, cap_error *e)
{
    return open_engine(config_path, 0, out, e);
}

int engine_open_books(const char *config_path, engine **out, cap_error *e)
{
    return open_engine(config_path, 1, out, e);
}

static int open_engine(const char *config_path, int books, engine **out,
                       cap_error *e)
{
    *out = NULL;
    char *path = config_find(config_path, e);
    if (path == NULL)
        return e->code;
    engine *en = calloc(1, sizeof *en);
    if (en == NULL) {
        free(path);
        return eng_oom(e);
    }
    en->max_attempts = 3;
    int rc = books ? config_load_books(path, &en->cfg, e)
                   : config_load(path, &en->cfg, e);
    free(path);
    if (rc != 0)
        goto fail;
    snprintf(en->cash_ticker, sizeof en->cash_ticker, "%s_CASH",
             en->cfg->currency);
    /* The policy stack is started by what needs it (engine_policy_start).
     * The price source and storage are only prepared here (found, checked,
     * options bound). The price source is created by the commands that
     * value the fund (allocate, status), so moving capital never needs a
     * price feed or its key; storage's create() opens or creates the
     * ledger, which waits for the first transaction, so that input refused
     * before it leaves no file behind. */
    if ((rc = plugin_prepare(en->cfg, &en->cfg->prices, "file",
                             CAPALLOC_KIND_PRICES, "prices", &en->prices, e)))
        goto fail;
    if ((rc = plugin_prepare(en->cfg, &en->cfg->storage, "sqlite",
                             CAPALLOC_KIND_STORAGE, "storage", &en->storage,
                             e)))
        goto fail;
    open_memory(en);
    *out = en;
    return 0;
fail:
    engine_close(en);
    return rc ? rc : (int)e->code;
}

void engine_close(engine *en)
{
    if (en == NULL)
        return;
    policy_stack_close(en->stack); /* en->policy is its first stage */
    plugin_close(en->prices);
    plugin_close(en->storage);
    config_free(en->cfg);
    free(en);
}

void eng_progress(const engine *en, const char *fmt, ...)
{
    if (en->progress == NULL)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    en->progress(en->progress_ctx, line);
}

const capalloc_storage_plugin *SP(const engine *en)
{
    return (const capalloc_storage_plugin *)en->storage->hdr;
}

void eng_rollback(engine *en)
{
    capalloc_err err = {{0}, {0}};
    if (en->storage->state != NULL)
        SP(en)->rollback(en->storage->state, &err);
}

int eng_storage_fail(engine *en, capalloc_status st, const capalloc_err *err,
                        const char *what, cap_error *e)
{
    eng_rollback(en);
    return plugin_fail(en->storage, err, storage_code(st), what, e);
}

int eng_write(engine *en, const capalloc_write_batch *wb, cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    capalloc_status st = chain_write(en, wb, &err); /* with its hashes */
    if (st == CAPALLOC_ERR_RETRY || st == CAPALLOC_ERR_EXISTS) {
        eng_rollback(en);
        return st == CAPALLOC_ERR_RETRY ? -1 : -2;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err,
                            "writing the ledger (rolled back, nothing written)",
                            e);
    return 0;
}

/* Write and commit. Returns 0, -1 to retry, -2 when the run already exists
 * (a concurrent allocator won), or an exit code. */
int eng_write_commit(engine *en, const capalloc_write_batch *wb,
                        cap_error *e)
{
    const capalloc_storage_plugin *sp = SP(en);
    capalloc_err err = {{0}, {0}};
    int rc = eng_write(en, wb, e);
    if (rc != 0)
        return rc;
    capalloc_status st = sp->commit(en->storage->state, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        /* The backend says what became of the transaction: a server
         * backend that lost its connection during COMMIT cannot know. */
        return eng_storage_fail(en, st, &err, "committing", e);
    return 0;
}

int eng_begin(engine *en, capalloc_txn_mode mode, cap_error *e)
{
    capalloc_err err = {{0}, {0}};
    if (en->storage->state == NULL) {
        int rc = plugin_create(en->storage, e);
        if (rc != 0)
            return rc;
    }
    capalloc_status st = SP(en)->begin(en->storage->state, mode, &err);
    if (st == CAPALLOC_OK)
        return 0;
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    return eng_storage_fail(en, st, &err, "starting a transaction", e);
}

int eng_retries_exhausted(engine *en, cap_error *e)
{
    return cap_fail(e, CAP_EXIT_BUSY,
                    "storage '%s' reported a conflict with a concurrent "
                    "writer %d times; nothing was written, try again",
                    en->storage->hdr->name, en->max_attempts);
}

/* ------------------------------------------------------------------------ */
/* capital                                                                   */
/* ------------------------------------------------------------------------ */

/* What every capital movement checks before it reads anything: a
 * positive amount in the currency's minor units, a well-formed reference
 * and a backend that keeps references. 0 or an exit code. */
int capital_check(const engine *en, capalloc_dec amount,
                  const char *reference, cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    const capalloc_config *cfg = en->cfg;
    capalloc_dec q;
    if (amount.micros <= 0)
        return cap_fail(e, CAP_EXIT_USAGE, "amount %s must be positive",
                        dec_format(amount, 0, a, sizeof a));
    if (dec_quantize(amount, cfg->minor_units, CAPALLOC_ROUND_DOWN, &q) ||
        dec_cmp(q, amount) != 0)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "amount %s has more decimal places than %s allows "
                        "(%d)",
                        dec_format(amount, 0, a, sizeof a), cfg->currency,
                        cfg->minor_units);
    if (reference != NULL && flows_reference_valid(reference, e))
        return e->code;
    if (reference != NULL && !flows_storage_has_refs(en))
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "storage '%s' keeps no references (it speaks ABI "
                        "%u.%u, references need 1.2): nothing was written",
                        en->storage->hdr->name,
                        (unsigned)SP(en)->header.abi_major,
                        (unsigned)SP(en)->header.abi_minor);
    return 0;
}

int engine_capital(engine *en, cap_action action, capalloc_dec amount,
                   const char *reference, int dry_run, capital_result *r,
                   cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    const capalloc_config *cfg = en->cfg;
    memset(r, 0, sizeof *r);
    r->action = action;
    r->amount = amount;
    r->dry_run = dry_run;
    int checked = capital_check(en, amount, reference, e);
    if (checked != 0)
        return checked;

    for (int attempt = 1; attempt <= en->max_attempts; attempt++) {
        int rc = eng_begin(en, dry_run ? CAPALLOC_TXN_READ : CAPALLOC_TXN_WRITE, e);
        if (rc < 0)
            continue;
        if (rc > 0)
            return rc;
        if (reference != NULL &&
            (rc = flows_reference_check(en, action, amount, reference, r,
                                        e)) != 0) {
            if (rc < 0)
                continue;
            if (rc == 1) { /* a repeat: nothing to write */
                eng_rollback(en);
                return 0;
            }
            return rc;
        }
        /* the master's book only: the movement's cost does not grow with
         * the fund (a backend without read_cash reads the whole ledger) */
        const char *master = cfg->master_id;
        ledger l = {0};
        rc = read_books(en, &master, 1, &l, e);
        if (rc < 0) {
            eng_rollback(en);
            continue;
        }
        if (rc > 0)
            return rc;
        const cash_row *mr = find_cash(&l, cfg->master_id);
        r->before = mr ? mr->cash : DEC_ZERO;
        ledger_free(&l);
        if (action == CAP_ADD) {
            if (dec_add(r->before, amount, &r->after)) {
                eng_rollback(en);
                return cap_fail(e, CAP_EXIT_USAGE,
                                "amount %s would take the master's cash "
                                "beyond the representable range",
                                CASH_FMT(amount, a));
            }
        } else {
            if (dec_cmp(amount, r->before) > 0) {
                eng_rollback(en);
                return cap_fail(e, CAP_EXIT_FUNDS,
                                "insufficient funds: cannot withdraw %s %s, "
                                "the master portfolio '%s' holds %s %s; "
                                "nothing was written (to have the next "
                                "allocation raise it from the strategies, "
                                "queue it: capalloc capital withdraw "
                                "--queue %s)",
                                CASH_FMT(amount, a), cfg->currency,
                                cfg->master_id, CASH_FMT(r->before, b),
                                cfg->currency, CASH_FMT(amount, a));
            }
            dec_sub(r->before, amount, &r->after);
        }
        if (dry_run) {
            eng_rollback(en);
            return 0;
        }
        capalloc_trade t = {cfg->master_id, en->cash_ticker,
                            action == CAP_ADD ? CAPALLOC_BUY : CAPALLOC_SELL,
                            amount, dec_from_int(1), dec_from_int(1)};
        capalloc_cash_row c = {cfg->master_id, r->after};
        capalloc_write_batch wb = {action == CAP_ADD ? "ADD" : "WITHDRAW",
                                   NULL, 0, cfg->currency, &t, 1, &c, 1,
                                   NULL, 0, NULL, reference, NULL, NULL, NULL, NULL, NULL, 0};
        rc = eng_write_commit(en, &wb, e);
        if (rc == -1 || (rc == -2 && reference != NULL))
            continue; /* -2: booked meanwhile, the look-up will say so */
        if (rc == -2)
            return cap_fail(e, CAP_EXIT_STORAGE,
                            "storage refused the capital movement as a "
                            "duplicate run");
        return rc;
    }
    return eng_retries_exhausted(en, e);
}

