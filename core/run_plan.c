/*
 * run_plan.c - the plan as one write batch: transfer rows (SELL from the
 * payer, BUY to the payee, USD_CASH at 1.0), new cash balances, and the
 * run's record (a valuation per portfolio, the prices used, and the
 * explanation as JSON: the policy's identity and options as given, each
 * stage's weights, the totals).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decimal.h"
#include "engine_int.h"
#include "json_out.h"
#include "options.h"
#include "policy_stack.h"

/* ------------------------------------------------------------------------ */
/* writing                                                                   */
/* ------------------------------------------------------------------------ */


void batch_free(batch_buf *b)
{
    free(b->trades);
    free(b->cash);
    memset(b, 0, sizeof *b);
}

int add_trade(batch_buf *b, const char *id, const char *ticker,
                     capalloc_side side, capalloc_dec qty)
{
    if (GROW(b->trades, b->n_trades, b->cap_trades))
        return -1;
    b->trades[b->n_trades++] = (capalloc_trade){
        id, ticker, side, qty, dec_from_int(1), dec_from_int(1)};
    return 0;
}

/* An internal transfer: two rows, SELL from the payer, BUY to the payee. */
int add_transfer(batch_buf *b, const char *cash_ticker, const char *from,
                        const char *to, capalloc_dec amount)
{
    return add_trade(b, from, cash_ticker, CAPALLOC_SELL, amount) ||
           add_trade(b, to, cash_ticker, CAPALLOC_BUY, amount);
}

int add_cash(batch_buf *b, const char *id, capalloc_dec cash)
{
    if (GROW(b->cash, b->n_cash, b->cap_cash))
        return -1;
    b->cash[b->n_cash++] = (capalloc_cash_row){id, cash};
    return 0;
}

int plan_transfers(const engine *en, const alloc_report *r, int master_new,
                   batch_buf *b)
{
    const capalloc_config *cfg = en->cfg;
    int bad = 0;
    for (int pass = 0; pass < 2 && !bad; pass++)
        for (size_t i = 0; i < r->n && !bad; i++) {
            const alloc_strategy *s = &r->strategies[i];
            if (pass == 0 && dec_is_neg(s->transfer)) {
                capalloc_dec amt = {-s->transfer.micros};
                bad = add_transfer(b, en->cash_ticker, s->id, cfg->master_id,
                                   amt);
            } else if (pass == 1 && s->transfer.micros > 0) {
                bad = add_transfer(b, en->cash_ticker, cfg->master_id, s->id,
                                   s->transfer);
            }
        }
    if (!bad && (master_new || r->totals.n_transfers > 0))
        bad = add_cash(b, cfg->master_id, r->totals.master_after);
    /* new books are marked in r->new_books (pointers into strategies) */
    size_t k = 0;
    for (size_t i = 0; i < r->n && !bad; i++) {
        const alloc_strategy *s = &r->strategies[i];
        int is_new = k < r->n_new_books && r->new_books[k] == s->id;
        if (is_new)
            k++;
        if (is_new || !dec_is_zero(s->transfer))
            bad = add_cash(b, s->id, s->cash_after);
    }
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* the record                                                                */
/* ------------------------------------------------------------------------ */

static void jdec(json_out *o, capalloc_dec d, int places)
{
    char b[CAPALLOC_DEC_MAX_TEXT];
    json_out_string(o, dec_format(d, places, b, sizeof b));
}

/* The options as written in the YAML: scalars as their text. A map's keys
 * are valid UTF-8 (libyaml refuses anything else) and unique (config.c
 * refuses duplicates), so they are written as they are, in their order:
 * what jansson's object held. */
static void jnode(json_out *o, const cfg_node *n)
{
    if (n == NULL) {
        json_out_begin_object(o);
        json_out_end_object(o);
    } else if (n->kind == CFG_SCALAR) {
        json_out_text(o, n->value);
    } else if (n->kind == CFG_MAP) {
        json_out_begin_object(o);
        for (size_t i = 0; !o->failed && i < n->n; i++) {
            json_out_key(o, n->keys[i]);
            jnode(o, n->items[i]);
        }
        json_out_end_object(o);
    } else {
        json_out_begin_array(o);
        for (size_t i = 0; !o->failed && i < n->n; i++)
            jnode(o, n->items[i]);
        json_out_end_array(o);
    }
}

static const char *context_name(capalloc_call_context c)
{
    return c == CAPALLOC_CALL_RUN       ? "run"
           : c == CAPALLOC_CALL_DRY_RUN ? "dry_run"
                                        : "status";
}

/* One entry per policy stage: its plugin, options as given, the weights
 * after it, and, when it had not enough history, its fallback and why.
 * A weight's key is the strategy id as it is: one that is not UTF-8 fails
 * the explanation, as jansson's json_object_set_new did. */
static void stages_json(json_out *o, const engine *en, const alloc_report *r)
{
    const policy_stack *ps = en->stack;
    json_out_begin_array(o);
    for (size_t k = 0; k < r->n_stages && k < ps->n; k++) {
        const loaded_plugin *p = ps->st[k].p;
        const stage_result *sr = &r->stages[k];
        json_out_begin_object(o);
        json_out_key(o, "plugin");
        json_out_text(o, p->hdr->name);
        json_out_key(o, "version");
        json_out_text(o, p->hdr->version);
        json_out_key(o, "options");
        jnode(o, p->pc->options);
        json_out_key(o, "weights");
        json_out_begin_object(o);
        for (size_t i = 0; !o->failed && sr->weights != NULL && i < r->n; i++) {
            json_out_key(o, r->strategies[i].id);
            jdec(o, sr->weights[i], 0);
        }
        json_out_end_object(o);
        if (sr->note != NULL && sr->note[0] != '\0') {
            json_out_key(o, "note");
            json_out_text(o, sr->note);
        }
        if (sr->why != NULL) {
            json_out_key(o, "fallback");
            json_out_begin_object(o);
            json_out_key(o, "to");
            json_out_text(o, sr->fallback);
            json_out_key(o, "why");
            json_out_text(o, sr->why);
            json_out_end_object(o);
        }
        json_out_end_object(o);
    }
    json_out_end_array(o);
}

/* A section built elsewhere as a jansson value (small, and only there when
 * configured): its compact text, spliced in. Takes sub. */
static void jsub(json_out *o, const char *key, json_t *sub)
{
    char *text = sub ? json_dumps(sub, JSON_PRESERVE_ORDER | JSON_COMPACT)
                     : NULL;
    json_decref(sub);
    if (text == NULL) {
        o->failed = 1;
        return;
    }
    json_out_key(o, key);
    json_out_raw(o, text);
    free(text);
}

/* The explanation of r: what an auditor reads with `capalloc explain`.
 * Written as text, not built as jansson objects: at 10,000 strategies the
 * objects cost more than the database reads. */
static char *explain_json(const engine *en, const alloc_report *r)
{
    const capalloc_config *cfg = en->cfg;
    const loaded_plugin *pol = en->policy;
    const alloc_totals *t = &r->totals;
    int mu = cfg->minor_units;
    json_out o;
    json_out_init(&o);
    json_out_begin_object(&o);
    json_out_key(&o, "capalloc_version");
    json_out_string(&o, PACKAGE_VERSION);
    json_out_key(&o, "run_date");
    json_out_text(&o, r->run_date);
    json_out_key(&o, "forced");
    json_out_bool(&o, r->forced);
    json_out_key(&o, "context");
    json_out_string(&o, context_name(r->context));
    json_out_key(&o, "currency");
    json_out_text(&o, cfg->currency);
    json_out_key(&o, "master");
    json_out_text(&o, cfg->master_id);
    json_out_key(&o, "policy");
    json_out_begin_object(&o);
    json_out_key(&o, "plugin");
    json_out_text(&o, pol->hdr->name);
    json_out_key(&o, "version");
    json_out_text(&o, pol->hdr->version);
    json_out_key(&o, "path");
    json_out_text(&o, pol->path);
    json_out_key(&o, "options");
    jnode(&o, pol->pc->options); /* the first stage's */
    json_out_end_object(&o);
    /* every stage's weights: the last stage's are the policy's own, before
     * the rebalance rules (their effects: the "rebalance" section) */
    json_out_key(&o, "stages");
    stages_json(&o, en, r);
    json_out_key(&o, "history");
    json_out_begin_object(&o);
    json_out_key(&o, "points_wanted");
    json_out_int(&o, (long long)en->history_points);
    json_out_key(&o, "points_given");
    json_out_int(&o, (long long)r->history_points);
    json_out_key(&o, "recorded");
    json_out_bool(&o, en->memory);
    json_out_end_object(&o);
    json_out_key(&o, "totals");
    json_out_begin_object(&o);
    json_out_key(&o, "total_equity");
    jdec(&o, t->total_equity, mu);
    json_out_key(&o, "master_positions");
    jdec(&o, t->master_positions, mu);
    json_out_key(&o, "master_before");
    jdec(&o, t->master_before, mu);
    json_out_key(&o, "master_after");
    jdec(&o, t->master_after, mu);
    json_out_key(&o, "returned");
    jdec(&o, t->returned, mu);
    json_out_key(&o, "funded");
    jdec(&o, t->funded, mu);
    json_out_key(&o, "wanted");
    jdec(&o, t->wanted, mu);
    json_out_key(&o, "scaled");
    json_out_bool(&o, t->scaled);
    json_out_key(&o, "transfers");
    json_out_int(&o, (long long)t->n_transfers);
    json_out_end_object(&o);
    json_out_key(&o, "new_books");
    json_out_begin_array(&o);
    for (size_t i = 0; i < r->n_new_books; i++)
        json_out_text(&o, r->new_books[i]);
    json_out_end_array(&o);
    /* the --accept-nav the run's NAVs needed (alloc.h rule 6) */
    json_out_key(&o, "accepted_nav");
    json_out_begin_array(&o);
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        if (s->nav_accepted && alloc_nav_needs_accept(s))
            json_out_text(&o, s->id);
    }
    json_out_end_array(&o);
    if (!o.failed && r->rules_on)
        jsub(&o, "rebalance", run_rules_json(en, r));
    if (!o.failed && r->n_reds > 0)
        jsub(&o, "redemptions", run_redemptions_json(en, r));
    if (!o.failed && r->n_accepted > 0)
        jsub(&o, "accepted_moves", run_guard_json(en, r));
    json_out_end_object(&o);
    return json_out_finish(&o);
}

void record_buf_free(record_buf *rb)
{
    if (rb == NULL)
        return;
    free(rb->v);
    free(rb->p);
    memset(rb, 0, sizeof *rb);
}

int plan_record(engine *en, alloc_report *r, record_buf *rb, cap_error *e)
{
    free(r->detail_json);
    r->detail_json = explain_json(en, r);
    if (r->detail_json == NULL)
        return eng_oom(e);
    if (rb == NULL)
        return 0;
    memset(rb, 0, sizeof *rb);
    rb->v = calloc(r->n + 1, sizeof *rb->v);
    rb->p = calloc(r->n_prices + 1, sizeof *rb->p);
    if (rb->v == NULL || rb->p == NULL) {
        record_buf_free(rb);
        return eng_oom(e);
    }
    const alloc_totals *t = &r->totals;
    capalloc_dec wsum = DEC_ZERO, reserve, moved;
    for (size_t i = 0; i < r->n; i++)
        dec_add(wsum, r->strategies[i].weight, &wsum); /* <= 1: checked */
    dec_sub(dec_from_int(1), wsum, &reserve);
    dec_sub(t->master_after, t->master_before, &moved);
    capalloc_dec master_nav; /* fits: part of total equity */
    dec_add(t->master_before, t->master_positions, &master_nav);
    rb->v[0] = (capalloc_valuation){0, r->run_date, en->cfg->master_id,
                                    CAPALLOC_VAL_MASTER, t->master_before,
                                    t->master_positions, master_nav, reserve,
                                    t->master_after, moved, DEC_ZERO,
                                    NULL, 0, 0};
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        rb->v[i + 1] = (capalloc_valuation){
            0, r->run_date, s->id, 0, s->cash, s->positions_value, s->total,
            s->weight, s->target, s->transfer, s->shortfall, NULL, 0, 0};
    }
    for (size_t i = 0; i < r->n_prices; i++) {
        const ticker_price *tp = &r->prices[i];
        rb->p[i] = (capalloc_price_row){tp->ticker, tp->price, tp->as_of,
                                        tp->flags};
    }
    rb->rec = (capalloc_run_record){PACKAGE_VERSION, r->detail_json, rb->v,
                                    r->n + 1, rb->p, r->n_prices};
    return 0;
}
