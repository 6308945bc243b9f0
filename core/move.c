/*
 * move.c - runs that move cash outside the daily allocation:
 *
 *   deployment  `capital add AMOUNT --deploy` (or `capital: deploy_on_add`):
 *               the ADD and, in the same transaction, a DEPLOY run that
 *               spreads it over the strategies at once;
 *   reversal    `capalloc reverse RUN`: a REVERSE run that mirrors an
 *               earlier run's transfers, linked to it, never deleting.
 *
 * Both are ALLOCATE batches of their own kind (ABI 1.3): they are not the
 * date's allocation (find_run and the one-run-per-date key ignore them),
 * and each values the fund and records it like an allocation (a valuation
 * per portfolio, NAV before its transfers, the transfer as the flow), so
 * that the flow-adjusted returns (history.h) see the cash they moved: the
 * next allocation's return of a strategy whose prices did not move is 0.
 * Their record is dated DATE (default: today) and DATE may be neither
 * before the latest recorded valuation nor after today, so that the
 * record's order (date, run) is the order in which the cash moved. With
 * approval.required > 0 both are refused (CAP_EXIT_PLAN), as a plain
 * allocation is: transfers need an approved plan. A reversal that takes
 * cash from the master may not leave it less than a deployment keeps
 * there (the cash buffer and the queued redemptions).
 *
 * The deployment's rule (README "Rebalance rules and investors' flows"):
 * the policy stack runs as the allocation's would, on the fund valued now
 * with the ADD in the master; strategy i gets floor(ADD x w_i) to the
 * currency's minor unit (w_i after the cash buffer's scaling), cut to
 * max_transfer, skipped below min_transfer; the master keeps its cash
 * buffer (floor(equity x cash_buffer)) and the queued redemptions: when
 * what it holds above them is less than the shares, every share is scaled
 * pro rata, rounded down, and a scaled share below min_transfer is
 * skipped too. Every residue stays in the master. The drift
 * band and max_turnover do not apply (new cash is not a rebalance).
 *
 * As for an allocation, the policy runs in a read transaction, and the
 * write transaction applies its weights only when the fund it reads again
 * is byte for byte the one the policy saw (else it starts over).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "decimal.h"
#include "engine_int.h"

typedef struct move_req {
    int kind;                 /* MOVE_DEPLOY or MOVE_REVERSE */
    capalloc_dec amount;      /* DEPLOY: the ADD */
    const char *reference;    /* DEPLOY: the ADD's, or NULL */
    int64_t run_id;           /* REVERSE: the run reversed */
    const char *date;
    int dry_run;
    capital_result *cr;       /* DEPLOY */
    move_result *mr;
} move_req;

enum { MOVE_DEPLOY = 1, MOVE_REVERSE = 2 };

typedef struct move_memo {
    unsigned char *inputs;
    size_t len;
    capalloc_dec *w;
} move_memo;

static void memo_clear(move_memo *m)
{
    free(m->inputs);
    free(m->w);
    memset(m, 0, sizeof *m);
}

static char *fmt(const engine *en, capalloc_dec d, char *b)
{
    return dec_format(d, en->cfg->minor_units, b, CAPALLOC_DEC_MAX_TEXT);
}

/* The strategies of the configuration into r (as plan() in run.c). */
static int setup(engine *en, const char *date, int dry_run, alloc_report *r,
                 cap_error *e)
{
    memset(r, 0, sizeof *r);
    snprintf(r->run_date, sizeof r->run_date, "%s", date);
    r->dry_run = dry_run;
    const char **ids = NULL;
    size_t n = 0;
    int rc = strategy_ids(en, &ids, &n, e);
    if (rc != 0)
        return rc;
    r->strategies = calloc(n ? n : 1, sizeof *r->strategies);
    r->new_books = calloc(n ? n : 1, sizeof *r->new_books);
    if (r->strategies == NULL || r->new_books == NULL) {
        free(ids);
        return eng_oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        if ((r->strategies[i].id = strdup(ids[i])) == NULL) {
            r->n = i;
            free(ids);
            return eng_oom(e);
        }
    }
    r->n = n;
    free(ids);
    return 0;
}

/* The latest recorded valuation date into latest ("" when none). 0, -1
 * retry, or an exit code (rolled back). */
static int latest_date(engine *en, char latest[16], cap_error *e)
{
    latest[0] = '\0';
    capalloc_history_query q = {NULL, NULL, NULL, 1, NULL, 1};
    val_set vs;
    int rc = read_valuations(en, &q, &vs, e);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < vs.n; i++)
        if (strcmp(vs.v[i].date, latest) > 0)
            snprintf(latest, 16, "%s", vs.v[i].date);
    val_set_free(&vs);
    return 0;
}

/* The reversed run's record into x: 0, -1 retry, or an exit code (rolled
 * back) when it cannot be reversed. */
static int read_reversed(engine *en, int64_t id, run_explain *x,
                         cap_error *e)
{
    explain_sink xs;
    capalloc_record_sink sink;
    capalloc_err err = {{0}, {0}};
    int found = 0;
    explain_sink_init(&xs, x, &sink);
    xs.kinds = 1; /* move_run checked the backend's ABI 1.3 */
    capalloc_status st =
        SP(en)->read_run(en->storage->state, id, &sink, &found, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "reading the run to reverse",
                                e);
    if (!found) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "no run %lld is recorded: nothing to reverse, "
                        "nothing was written",
                        (long long)id);
    }
    if (strcmp(x->action, "ALLOCATE") != 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "run %lld is an %s, not a run that moved cash "
                        "between the master and the strategies: %s",
                        (long long)id, x->action,
                        strcmp(x->action, "ADD") == 0 ||
                                strcmp(x->action, "WITHDRAW") == 0
                            ? "an investor's flow is corrected by the "
                              "opposite movement (capalloc capital add or "
                              "withdraw); nothing was written"
                            : "nothing to reverse, nothing was written");
    }
    if (strcmp(x->info.kind, CAPALLOC_RUN_REVERSE) == 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "run %lld is itself the reversal of run %lld: a "
                        "reversal is not reversed (run the allocation "
                        "again instead); nothing was written",
                        (long long)id, (long long)x->info.reverses);
    }
    if (x->info.reversed_by > 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "run %lld is already reversed (by run %lld): "
                        "nothing was written",
                        (long long)id, (long long)x->info.reversed_by);
    }
    if (x->info.n_trades == 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "run %lld moved no cash: nothing to reverse, "
                        "nothing was written",
                        (long long)id);
    }
    if (x->nv == 0) {
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "run %lld has no record of its transfers (written "
                        "before the fund's memory): it cannot be reversed "
                        "by capalloc; nothing was written",
                        (long long)id);
    }
    return 0;
}

static int cmp_strategy_ptr(const void *a, const void *b)
{
    return strcmp((*(alloc_strategy *const *)a)->id,
                  (*(alloc_strategy *const *)b)->id);
}

/* A limit as an amount (0: none), as rules.c reads it. */
static capalloc_dec limit_amount(const rule_limit *l, capalloc_dec equity,
                                 int mu)
{
    capalloc_dec a = DEC_ZERO;
    if (!l->set)
        return a;
    if (!l->fraction)
        return l->v;
    if (dec_mul(equity, l->v, CAPALLOC_ROUND_DOWN, &a) ||
        dec_quantize(a, mu, CAPALLOC_ROUND_DOWN, &a))
        return DEC_ZERO;
    return a;
}

/* A share beyond the representable range (CAP_EXIT_USAGE, naming the
 * amount and the strategy). */
static int overflows(const engine *en, const move_req *q, const char *id,
                     cap_error *e)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    return cap_fail(e, CAP_EXIT_USAGE,
                    "the deployment of %s %s overflows the representable "
                    "range computing the share of strategy '%s'; nothing "
                    "was written",
                    fmt(en, q->amount, a), en->cfg->currency, id);
}

/* DEPLOY: each strategy's share of the ADD (the rule at the top). */
static int plan_deploy(engine *en, const move_req *q, alloc_report *r,
                       capalloc_dec equity, move_result *mr, cap_error *e)
{
    const rebalance_rules *rr = &en->cfg->rebalance;
    int mu = en->cfg->minor_units;
    capalloc_dec maxt = limit_amount(&rr->max_transfer, equity, mu);
    capalloc_dec mint = limit_amount(&rr->min_transfer, equity, mu);
    for (size_t i = 0; i < r->n; i++) {
        alloc_strategy *s = &r->strategies[i];
        capalloc_dec sh;
        if (dec_mul(q->amount, s->weight, CAPALLOC_ROUND_DOWN, &sh) ||
            dec_quantize(sh, mu, CAPALLOC_ROUND_DOWN, &sh))
            return overflows(en, q, s->id, e);
        if (maxt.micros > 0 && dec_cmp(sh, maxt) > 0) {
            sh = maxt;
            mr->max_cut++;
        }
        if (mint.micros > 0 && dec_cmp(sh, mint) < 0 && sh.micros > 0) {
            sh = DEC_ZERO;
            mr->below_min++;
        }
        s->transfer = sh;
    }
    /* the master keeps its buffer and what the queue is owed */
    capalloc_dec buffer = DEC_ZERO, keep, avail, sum = DEC_ZERO;
    if (rr->cash_buffer.micros > 0 &&
        (dec_mul(equity, rr->cash_buffer, CAPALLOC_ROUND_DOWN, &buffer) ||
         dec_quantize(buffer, mu, CAPALLOC_ROUND_DOWN, &buffer)))
        buffer = DEC_ZERO;
    dec_add(buffer, r->queued, &keep);
    if (dec_sub(r->totals.master_before, keep, &avail) || dec_is_neg(avail))
        avail = DEC_ZERO;
    if (dec_cmp(avail, q->amount) > 0)
        avail = q->amount;
    mr->buffer = buffer;
    for (size_t i = 0; i < r->n; i++)
        dec_add(sum, r->strategies[i].transfer, &sum);
    if (dec_cmp(sum, avail) > 0) {
        mr->scaled = 1;
        for (size_t i = 0; i < r->n; i++) {
            alloc_strategy *s = &r->strategies[i];
            capalloc_dec x;
            /* floor(share x avail / sum): the sum never exceeds avail */
            if (dec_mul(s->transfer, avail, CAPALLOC_ROUND_DOWN, &x) ||
                dec_div(x, sum, CAPALLOC_ROUND_DOWN, &x) ||
                dec_quantize(x, mu, CAPALLOC_ROUND_DOWN, &x))
                return overflows(en, q, s->id, e);
            /* a share scaled below min_transfer is not paid either: its
             * residue stays in the master */
            if (mint.micros > 0 && x.micros > 0 && dec_cmp(x, mint) < 0) {
                x = DEC_ZERO;
                mr->below_min++;
            }
            s->transfer = x;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        alloc_strategy *s = &r->strategies[i];
        capalloc_dec t;
        if (dec_mul(equity, s->weight, CAPALLOC_ROUND_DOWN, &t) ||
            dec_quantize(t, mu, CAPALLOC_ROUND_DOWN, &s->target))
            s->target = DEC_ZERO;
        dec_sub(s->target, s->total, &s->adjustment);
    }
    return 0;
}

/* REVERSE: every transfer of x, mirrored (the strategies looked up by a
 * sorted index: no quadratic loop over a large fund). */
static int plan_reverse(const move_req *q, const run_explain *x,
                        alloc_report *r, cap_error *e)
{
    alloc_strategy **by = malloc((r->n ? r->n : 1) * sizeof *by);
    if (by == NULL)
        return eng_oom(e);
    for (size_t i = 0; i < r->n; i++)
        by[i] = &r->strategies[i];
    sort_rows(by, r->n, sizeof *by, cmp_strategy_ptr);
    for (size_t k = 0; k < x->nv; k++) {
        const capalloc_valuation *v = &x->v[k];
        if ((v->flags & CAPALLOC_VAL_MASTER) || dec_is_zero(v->transfer))
            continue;
        alloc_strategy key = {0};
        key.id = v->portfolio_id;
        alloc_strategy *kp = &key;
        alloc_strategy **hit =
            find_row(&kp, by, r->n, sizeof *by, cmp_strategy_ptr);
        alloc_strategy *s = hit ? *hit : NULL;
        if (s == NULL) {
            free(by);
            return cap_fail(e, CAP_EXIT_USAGE,
                            "run %lld moved cash of portfolio '%s', which "
                            "is no longer a strategy of the configuration: "
                            "it cannot be reversed; nothing was written",
                            (long long)q->run_id, v->portfolio_id);
        }
        s->transfer.micros = -v->transfer.micros;
    }
    free(by);
    for (size_t i = 0; i < r->n; i++) {
        alloc_strategy *s = &r->strategies[i];
        s->weight = DEC_ZERO;
        /* no policy target: the NAV the reversal leaves */
        dec_add(s->total, s->transfer, &s->target);
        s->adjustment = s->transfer;
    }
    return 0;
}

/* The totals and balances after r's transfers; refuses a negative one
 * (CAP_EXIT_FUNDS, naming it). */
static int settle(engine *en, const move_req *q, alloc_report *r,
                  cap_error *e)
{
    alloc_totals *t = &r->totals;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT];
    const char *what = q->kind == MOVE_DEPLOY ? "deployment" : "reversal";
    t->master_after = t->master_before;
    t->returned = t->funded = DEC_ZERO;
    t->n_transfers = 0;
    for (size_t i = 0; i < r->n; i++) {
        alloc_strategy *s = &r->strategies[i];
        s->shortfall = DEC_ZERO;
        if (dec_add(s->cash, s->transfer, &s->cash_after) ||
            dec_sub(t->master_after, s->transfer, &t->master_after))
            return cap_fail(e, CAP_EXIT_USAGE,
                            "the %s overflows the representable range at "
                            "strategy '%s' (transfer %s %s); nothing was "
                            "written",
                            what, s->id, fmt(en, s->transfer, a),
                            en->cfg->currency);
        if (dec_is_zero(s->transfer))
            continue;
        t->n_transfers++;
        if (s->transfer.micros > 0)
            dec_add(t->funded, s->transfer, &t->funded);
        else
            dec_sub(t->returned, s->transfer, &t->returned);
        if (dec_is_neg(s->cash_after))
            return cap_fail(e, CAP_EXIT_FUNDS,
                            "insufficient funds: the %s of run %lld would "
                            "take %s from strategy '%s', which holds %s "
                            "%s in cash; refused, nothing was written",
                            what, (long long)q->run_id,
                            fmt(en, (capalloc_dec){-s->transfer.micros}, a),
                            s->id, fmt(en, s->cash, b), en->cfg->currency);
    }
    capalloc_dec net;
    dec_sub(t->master_before, t->master_after, &net);
    if (dec_is_neg(t->master_after))
        return cap_fail(e, CAP_EXIT_FUNDS,
                        "insufficient funds: the %s of run %lld would take "
                        "%s from the master portfolio '%s', which holds %s "
                        "%s; refused, nothing was written",
                        what, (long long)q->run_id,
                        fmt(en, net, a), en->cfg->master_id,
                        fmt(en, t->master_before, b), en->cfg->currency);
    return 0;
}

/* A reversal that takes cash from the master may not leave it less than
 * a deployment keeps there: the cash buffer (floor(equity x cash_buffer))
 * and what the queued redemptions are owed. Else the strategies would get
 * (or keep) cash the master holds for the investors who asked for it back
 * (CAP_EXIT_FUNDS, naming both). A reversal that gives the master cash is
 * never refused for it. */
static int reverse_keeps(engine *en, const move_req *q, const alloc_report *r,
                         cap_error *e)
{
    const alloc_totals *t = &r->totals;
    int mu = en->cfg->minor_units;
    if (dec_cmp(t->master_after, t->master_before) >= 0)
        return 0;
    capalloc_dec buffer = DEC_ZERO, keep, net;
    const capalloc_dec cb = en->cfg->rebalance.cash_buffer;
    if (cb.micros > 0 &&
        (dec_mul(t->total_equity, cb, CAPALLOC_ROUND_DOWN, &buffer) ||
         dec_quantize(buffer, mu, CAPALLOC_ROUND_DOWN, &buffer)))
        buffer = DEC_ZERO;
    if (dec_add(buffer, r->queued, &keep) ||
        dec_cmp(t->master_after, keep) >= 0)
        return 0;
    char a[CAPALLOC_DEC_MAX_TEXT], b[CAPALLOC_DEC_MAX_TEXT],
        c[CAPALLOC_DEC_MAX_TEXT], d[CAPALLOC_DEC_MAX_TEXT];
    const char *cur = en->cfg->currency;
    dec_sub(t->master_before, t->master_after, &net);
    char buf[160] = "";
    if (buffer.micros > 0)
        snprintf(buf, sizeof buf, " plus its cash buffer of %s %s",
                 fmt(en, buffer, d), cur);
    return cap_fail(e, CAP_EXIT_FUNDS,
                    "insufficient funds: the reversal of run %lld would "
                    "take %s %s from the master portfolio '%s', leaving it "
                    "%s %s, less than the %s %s owed to queued redemptions"
                    "%s (a deployment keeps them in the master); refused, "
                    "nothing was written (capalloc redemptions lists the "
                    "queue)",
                    (long long)q->run_id, fmt(en, net, a), cur,
                    en->cfg->master_id, fmt(en, t->master_after, b), cur,
                    fmt(en, r->queued, c), cur, buf);
}

/* The explanation with the move's own section. */
static int add_detail(engine *en, const move_req *q, const move_result *mr,
                      alloc_report *r, cap_error *e)
{
    json_error_t je;
    json_t *root = json_loads(r->detail_json, 0, &je);
    if (root == NULL)
        return eng_oom(e);
    char a[CAPALLOC_DEC_MAX_TEXT];
    json_t *m = json_object();
    int bad = m == NULL;
    if (!bad && q->kind == MOVE_DEPLOY)
        bad = json_object_set_new(m, "amount",
                                  json_string(fmt(en, q->amount, a))) ||
              json_object_set_new(m, "buffer",
                                  json_string(fmt(en, mr->buffer, a))) ||
              json_object_set_new(m, "queued",
                                  json_string(fmt(en, r->queued, a))) ||
              json_object_set_new(m, "scaled", json_boolean(mr->scaled)) ||
              json_object_set_new(m, "max_cut",
                                  json_integer((json_int_t)mr->max_cut)) ||
              json_object_set_new(m, "below_min",
                                  json_integer((json_int_t)mr->below_min));
    if (!bad && q->kind == MOVE_REVERSE)
        bad = json_object_set_new(m, "reverses",
                                  json_integer((json_int_t)q->run_id));
    bad = bad ||
          json_object_set_new(root, "kind",
                              json_string(q->kind == MOVE_DEPLOY
                                              ? CAPALLOC_RUN_DEPLOY
                                              : CAPALLOC_RUN_REVERSE)) ||
          json_object_set_new(root, q->kind == MOVE_DEPLOY ? "deploy"
                                                           : "reverse",
                              m);
    char *out = bad ? NULL
                    : json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(root);
    if (out == NULL)
        return eng_oom(e);
    free(r->detail_json);
    r->detail_json = out;
    return 0;
}

/* One attempt. write_phase 0: the read transaction (prices fetched, the
 * policy's weights kept in memo); 1: the write transaction. Returns 0,
 * -1 retry, or an exit code. */
static int move_once(engine *en, const move_req *q, int write_phase,
                     move_memo *memo, alloc_report *r, price_cache *pc,
                     cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    int mu = cfg->minor_units;
    int deploy = q->kind == MOVE_DEPLOY;
    int rc = eng_begin(en,
                       write_phase && !q->dry_run ? CAPALLOC_TXN_WRITE
                                                  : CAPALLOC_TXN_READ,
                       e);
    if (rc != 0)
        return rc;
    /* a repeat is found before any price is fetched, and again under
     * the lock (a concurrent twin may have booked it in between) */
    if (deploy && q->reference != NULL &&
        (rc = flows_reference_check(en, CAP_ADD, q->amount, q->reference,
                                    q->cr, e)) != 0) {
        if (rc == 1) { /* booked already: the deployment with it */
            eng_rollback(en);
            return 0;
        }
        return rc;
    }
    run_explain x;
    memset(&x, 0, sizeof x);
    if (q->kind == MOVE_REVERSE &&
        (rc = read_reversed(en, q->run_id, &x, e)) != 0) {
        run_explain_free(&x);
        return rc;
    }
    char latest[16];
    if ((rc = latest_date(en, latest, e)) != 0) {
        run_explain_free(&x);
        return rc;
    }
    if (strcmp(q->date, latest) < 0) {
        run_explain_free(&x);
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "--date %s is before the latest recorded valuation "
                        "(%s): the %s is recorded after it; give --date %s "
                        "or later. Nothing was written",
                        q->date, latest, deploy ? "deployment" : "reversal",
                        latest);
    }

    ledger l = {0};
    if ((rc = read_ledger(en, &l, e)) != 0) {
        run_explain_free(&x);
        if (rc < 0)
            eng_rollback(en);
        return rc;
    }
    const cash_row *mrow = find_cash(&l, cfg->master_id);
    capalloc_dec master_cash = mrow ? mrow->cash : DEC_ZERO;
    q->cr->before = master_cash;
    if (deploy && dec_add(master_cash, q->amount, &master_cash)) {
        ledger_free(&l);
        eng_rollback(en);
        return cap_fail(e, CAP_EXIT_USAGE,
                        "the ADD would take the master's cash beyond the "
                        "representable range");
    }
    q->cr->after = master_cash;
    /* what the queued redemptions are owed: a deployment keeps it in the
     * master, a reversal may not take the master below it */
    if ((rc = flows_read_open(en, r, e)) != 0) {
        run_explain_free(&x);
        ledger_free(&l);
        return rc;
    }
    if (!deploy) { /* the reversal pays none: its record names none */
        free(r->reds);
        r->reds = NULL;
        r->n_reds = 0;
    }
    alloc_master m = {master_cash, DEC_ZERO};
    capalloc_dec equity = DEC_ZERO;
    rc = value_fund(en, &l, r->strategies, r->n, &m.positions_value, pc, e);
    if (rc == 0)
        rc = alloc_equity(m, r->strategies, r->n, mu, &equity, e);
    if (rc != 0) {
        run_explain_free(&x);
        ledger_free(&l);
        eng_rollback(en);
        return rc;
    }
    r->totals.total_equity = equity;
    r->totals.master_positions = m.positions_value;
    r->totals.master_before = master_cash;

    if (deploy) {
        run_history rh;
        if ((rc = read_run_history(en, q->date, r->strategies, r->n, &rh,
                                   e)) != 0) {
            ledger_free(&l);
            return rc;
        }
        unsigned char *in = NULL;
        size_t len = 0;
        if (policy_inputs(master_cash, equity, r->strategies, r->n, rh.h,
                          &in, &len) != 0) {
            run_history_free(&rh);
            ledger_free(&l);
            eng_rollback(en);
            return eng_oom(e);
        }
        if (!write_phase) {
            r->context = CAPALLOC_CALL_RUN;
            rc = policy_weights(en, q->date, master_cash, equity, r, rh.h, e);
            memo_clear(memo);
            memo->inputs = in;
            memo->len = len;
            memo->w = calloc(r->n ? r->n : 1, sizeof *memo->w);
            if (rc == 0 && memo->w == NULL)
                rc = eng_oom(e);
            for (size_t i = 0; rc == 0 && i < r->n; i++)
                memo->w[i] = r->strategies[i].weight;
            run_history_free(&rh);
            ledger_free(&l);
            eng_rollback(en);
            return rc;
        }
        int same = memo->inputs != NULL && memo->len == len &&
                   memcmp(memo->inputs, in, len) == 0;
        free(in);
        run_history_free(&rh);
        if (!same) { /* another writer changed the fund meanwhile */
            ledger_free(&l);
            eng_rollback(en);
            return -1;
        }
        for (size_t i = 0; i < r->n; i++)
            r->strategies[i].weight = memo->w[i];
        rc = run_rules_weights(en, r, e);
        r->rules_on = 0; /* the deployment's own section explains them */
        if (rc == 0)
            rc = plan_deploy(en, q, r, equity, q->mr, e);
    } else {
        if (!write_phase) { /* prices fetched: the rest under the lock */
            run_explain_free(&x);
            ledger_free(&l);
            eng_rollback(en);
            return 0;
        }
        rc = plan_reverse(q, &x, r, e);
    }
    run_explain_free(&x);
    if (rc == 0)
        rc = settle(en, q, r, e);
    if (rc == 0 && !deploy)
        rc = reverse_keeps(en, q, r, e);
    if (rc != 0) {
        ledger_free(&l);
        eng_rollback(en);
        return rc;
    }
    r->n_new_books = 0;
    for (size_t i = 0; i < r->n; i++)
        if (find_cash(&l, r->strategies[i].id) == NULL &&
            !dec_is_zero(r->strategies[i].transfer))
            r->new_books[r->n_new_books++] = (char *)r->strategies[i].id;
    int master_new = mrow == NULL && !deploy;
    ledger_free(&l);

    r->prices = pc->p;
    r->n_prices = pc->n_used;
    record_buf rb;
    memset(&rb, 0, sizeof rb);
    rc = plan_record(en, r, q->dry_run ? NULL : &rb, e);
    if (rc == 0)
        rc = add_detail(en, q, q->mr, r, e);
    if (rc == 0 && !q->dry_run)
        rb.rec.detail_json = r->detail_json;
    if (rc != 0 || q->dry_run) {
        record_buf_free(&rb);
        eng_rollback(en);
        return rc;
    }
    batch_buf b = {0};
    if (plan_transfers(en, r, master_new, &b) != 0) {
        batch_free(&b);
        record_buf_free(&rb);
        eng_rollback(en);
        return eng_oom(e);
    }
    rc = 0;
    if (deploy) {
        capalloc_trade t = {cfg->master_id, en->cash_ticker, CAPALLOC_BUY,
                            q->amount, dec_from_int(1), dec_from_int(1)};
        capalloc_cash_row c = {cfg->master_id, master_cash};
        capalloc_write_batch add = {"ADD", NULL, 0, cfg->currency, &t, 1, &c,
                                    1, NULL, 0, NULL, q->reference, NULL,
                                    NULL, NULL, NULL, NULL, 0};
        rc = eng_write(en, &add, e);
        if (rc == -2) /* booked meanwhile: the look-up will say so */
            rc = -1;
    }
    if (rc == 0 && b.n_trades > 0) {
        capalloc_write_batch wb = {
            "ALLOCATE", q->date, 0, cfg->currency, b.trades, b.n_trades,
            b.cash, b.n_cash, NULL, 0, en->memory ? &rb.rec : NULL, NULL,
            NULL, NULL, NULL, NULL,
            deploy ? CAPALLOC_RUN_DEPLOY : CAPALLOC_RUN_REVERSE,
            deploy ? 0 : q->run_id};
        rc = eng_write(en, &wb, e);
        /* a unique key refused the run: for a reversal, the one on the
         * reversed run's link (a concurrent reversal won); a deployment's
         * run has no key of its own that a twin could take */
        if (rc == -2 && !deploy)
            rc = cap_fail(e, CAP_EXIT_USAGE,
                          "run %lld is already reversed (by a concurrent "
                          "reversal): nothing was written",
                          (long long)q->run_id);
        else if (rc == -2)
            rc = cap_fail(e, CAP_EXIT_STORAGE,
                          "storage '%s' refused the deployment's run as "
                          "already recorded (a unique key); rolled back, "
                          "nothing was written",
                          en->storage->hdr->name);
    }
    q->mr->deployed = r->totals.funded;
    q->mr->written = rc == 0 && b.n_trades > 0;
    batch_free(&b);
    record_buf_free(&rb);
    if (rc != 0)
        return rc;
    capalloc_err err = {{0}, {0}};
    capalloc_status st = SP(en)->commit(en->storage->state, &err);
    if (st == CAPALLOC_ERR_RETRY) {
        eng_rollback(en);
        return -1;
    }
    if (st != CAPALLOC_OK)
        return eng_storage_fail(en, st, &err, "committing", e);
    return 0;
}

/* Today (local time, as the command line's default date) into buf. */
static void move_today(char buf[16])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, 16, "%Y-%m-%d", &tm);
}

static int move_run(engine *en, const move_req *q, alloc_report *r,
                    cap_error *e)
{
    const char *what = q->kind == MOVE_DEPLOY ? "deployment" : "reversal";
    /* A transfer needs an approved plan when approval is required (as
     * engine_allocate refuses); a dry run shows it, writes nothing. */
    if (!q->dry_run && en->cfg->approval.required > 0)
        return cap_fail(e, CAP_EXIT_PLAN,
                        "%s requires %d approver%s for every transfer "
                        "(approval.required): a %s moves cash between the "
                        "master and the strategies, and transfers need an "
                        "approved plan (allocate --plan-out FILE, capalloc "
                        "approve FILE, capalloc apply FILE)%s; nothing was "
                        "written",
                        en->cfg->path, en->cfg->approval.required,
                        en->cfg->approval.required == 1 ? "" : "s", what,
                        q->kind == MOVE_DEPLOY
                            ? ". Book the ADD without deploying it "
                              "(capalloc capital add AMOUNT --no-deploy): "
                              "the next approved plan spreads it"
                            : "");
    /* A record dated ahead would sort after the runs of the days before
     * it (history is ordered by date): their returns would count its cash
     * as a gain or a loss. */
    char today[16];
    move_today(today);
    if (strcmp(q->date, today) > 0)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "--date %s is after today (%s): a %s is recorded "
                        "on the day its cash moves, not ahead of it; give "
                        "--date %s or earlier. Nothing was written",
                        q->date, today, what, today);
    int rc = setup(en, q->date, q->dry_run, r, e);
    if (rc == 0 && en->prices->state == NULL)
        rc = plugin_create(en->prices, e);
    if (rc == 0 && en->storage->state == NULL)
        rc = plugin_create(en->storage, e);
    if (rc != 0)
        return rc;
    /* an older backend would store the run as the date's allocation */
    if (!(CAPALLOC_HAS_FIELD(SP(en)->header.struct_size,
                             capalloc_storage_plugin, read_run) &&
          SP(en)->header.abi_minor >= 3))
        return cap_fail(e, CAP_EXIT_CONFIG,
                        "storage '%s' keeps no run kinds (it speaks ABI "
                        "%u.%u, deployments and reversals need 1.3): "
                        "nothing was written",
                        en->storage->hdr->name,
                        (unsigned)SP(en)->header.abi_major,
                        (unsigned)SP(en)->header.abi_minor);
    price_cache pc = {0};
    move_memo memo = {0};
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc < 0; attempt++) {
        r->attempts = attempt;
        q->cr->repeat = 0;
        rc = move_once(en, q, 0, &memo, r, &pc, e);
        if (rc == 0 && !q->cr->repeat)
            rc = move_once(en, q, 1, &memo, r, &pc, e);
    }
    memo_clear(&memo);
    if (rc < 0)
        rc = eng_retries_exhausted(en, e);
    price_cache_to_report(&pc, r); /* the prices used; the rest freed */
    return rc;
}

int engine_capital_deploy(engine *en, capalloc_dec amount,
                          const char *reference, const char *date,
                          int dry_run, capital_result *cr, alloc_report *r,
                          move_result *mr, cap_error *e)
{
    memset(cr, 0, sizeof *cr);
    memset(mr, 0, sizeof *mr);
    memset(r, 0, sizeof *r);
    cr->action = CAP_ADD;
    cr->amount = amount;
    cr->dry_run = dry_run;
    int rc = capital_check(en, amount, reference, e);
    if (rc != 0)
        return rc;
    move_req q = {MOVE_DEPLOY, amount, reference, 0, date, dry_run, cr, mr};
    return move_run(en, &q, r, e);
}

int engine_reverse(engine *en, int64_t run_id, const char *date,
                   int dry_run, alloc_report *r, move_result *mr,
                   cap_error *e)
{
    capital_result cr;
    memset(&cr, 0, sizeof cr);
    memset(mr, 0, sizeof *mr);
    memset(r, 0, sizeof *r);
    if (run_id <= 0)
        return cap_fail(e, CAP_EXIT_USAGE,
                        "run id %lld: expected a positive run id",
                        (long long)run_id);
    move_req q = {MOVE_REVERSE, DEC_ZERO, NULL, run_id, date, dry_run, &cr,
                  mr};
    return move_run(en, &q, r, e);
}
