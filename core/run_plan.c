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

/* A JSON string that is always valid UTF-8 (jansson refuses anything
 * else): invalid bytes become U+FFFD. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j != NULL)
        return j;
    size_t n = strlen(s);
    char *c = malloc(3 * n + 1), *w = c;
    if (c == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x80) {
            *w++ = (char)*p;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
        }
    *w = '\0';
    j = json_string(c);
    free(c);
    return j;
}

static json_t *jdec(capalloc_dec d, int places)
{
    char b[CAPALLOC_DEC_MAX_TEXT];
    return json_string(dec_format(d, places, b, sizeof b));
}

/* The options as written in the YAML: scalars as their text. */
static json_t *jnode(const cfg_node *n)
{
    if (n == NULL)
        return json_object();
    if (n->kind == CFG_SCALAR)
        return jstr(n->value);
    json_t *j = n->kind == CFG_MAP ? json_object() : json_array();
    for (size_t i = 0; j != NULL && i < n->n; i++) {
        json_t *c = jnode(n->items[i]);
        int bad = c == NULL;
        if (!bad && n->kind == CFG_MAP) {
            json_t *k = jstr(n->keys[i]);
            bad = k == NULL ||
                  json_object_set_new(j, json_string_value(k), c) != 0;
            json_decref(k);
        } else if (!bad) {
            bad = json_array_append_new(j, c) != 0;
        }
        if (bad) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static const char *context_name(capalloc_call_context c)
{
    return c == CAPALLOC_CALL_RUN       ? "run"
           : c == CAPALLOC_CALL_DRY_RUN ? "dry_run"
                                        : "status";
}

/* One entry per policy stage: its plugin, options as given, the weights
 * after it, and, when it had not enough history, its fallback and why. */
static int stages_json(const engine *en, const alloc_report *r,
                       json_t *stages)
{
    const policy_stack *ps = en->stack;
    for (size_t k = 0; k < r->n_stages && k < ps->n; k++) {
        const loaded_plugin *p = ps->st[k].p;
        const stage_result *sr = &r->stages[k];
        json_t *weights = json_object();
        int bad = weights == NULL;
        for (size_t i = 0; !bad && sr->weights != NULL && i < r->n; i++)
            bad = json_object_set_new(weights, r->strategies[i].id,
                                      jdec(sr->weights[i], 0)) != 0;
        json_t *stage = bad ? NULL : json_object();
        if (stage == NULL) {
            json_decref(weights);
            return -1;
        }
        /* set_new steals its value even when it fails */
        bad = json_object_set_new(stage, "plugin", jstr(p->hdr->name)) ||
              json_object_set_new(stage, "version", jstr(p->hdr->version)) ||
              json_object_set_new(stage, "options", jnode(p->pc->options)) ||
              json_object_set_new(stage, "weights", weights);
        if (!bad && sr->note != NULL && sr->note[0] != '\0')
            bad = json_object_set_new(stage, "note", jstr(sr->note));
        if (!bad && sr->why != NULL) {
            json_t *fb = json_object();
            bad = fb == NULL ||
                  json_object_set_new(fb, "to", jstr(sr->fallback)) ||
                  json_object_set_new(fb, "why", jstr(sr->why)) ||
                  json_object_set_new(stage, "fallback", fb);
        }
        if (bad) {
            json_decref(stage);
            return -1;
        }
        if (json_array_append_new(stages, stage))
            return -1;
    }
    return 0;
}

/* The explanation of r: what an auditor reads with `capalloc explain`. */
static char *explain_json(const engine *en, const alloc_report *r)
{
    const capalloc_config *cfg = en->cfg;
    const loaded_plugin *pol = en->policy;
    int mu = cfg->minor_units;
    json_t *root = json_object(), *policy = json_object(),
           *stages = json_array(), *totals = json_object(),
           *books = json_array(), *hist = json_object(),
           *accepted = json_array();
    int bad = root == NULL || policy == NULL || stages == NULL ||
              totals == NULL || books == NULL || hist == NULL ||
              accepted == NULL;
    const cfg_node *opts = pol->pc->options; /* the first stage's */
    /* every stage's weights: the last stage's are the policy's own, before
     * the rebalance rules (their effects: the "rebalance" section) */
    bad = bad || stages_json(en, r, stages) != 0;
    for (size_t i = 0; !bad && i < r->n_new_books; i++)
        bad = json_array_append_new(books, jstr(r->new_books[i])) != 0;
    /* the --accept-nav the run's NAVs needed (alloc.h rule 6) */
    for (size_t i = 0; !bad && i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        if (s->nav_accepted && alloc_nav_needs_accept(s))
            bad = json_array_append_new(accepted, jstr(s->id)) != 0;
    }
    const alloc_totals *t = &r->totals;
    bad = bad ||
          json_object_set_new(policy, "plugin", jstr(pol->hdr->name)) ||
          json_object_set_new(policy, "version", jstr(pol->hdr->version)) ||
          json_object_set_new(policy, "path", jstr(pol->path)) ||
          json_object_set_new(policy, "options", jnode(opts)) ||
          json_object_set_new(hist, "points_wanted",
                              json_integer(en->history_points)) ||
          json_object_set_new(hist, "points_given",
                              json_integer((json_int_t)r->history_points)) ||
          json_object_set_new(hist, "recorded", json_boolean(en->memory)) ||
          json_object_set_new(totals, "total_equity",
                              jdec(t->total_equity, mu)) ||
          json_object_set_new(totals, "master_positions",
                              jdec(t->master_positions, mu)) ||
          json_object_set_new(totals, "master_before",
                              jdec(t->master_before, mu)) ||
          json_object_set_new(totals, "master_after",
                              jdec(t->master_after, mu)) ||
          json_object_set_new(totals, "returned", jdec(t->returned, mu)) ||
          json_object_set_new(totals, "funded", jdec(t->funded, mu)) ||
          json_object_set_new(totals, "wanted", jdec(t->wanted, mu)) ||
          json_object_set_new(totals, "scaled", json_boolean(t->scaled)) ||
          json_object_set_new(totals, "transfers",
                              json_integer((json_int_t)t->n_transfers)) ||
          json_object_set_new(root, "capalloc_version",
                              json_string(PACKAGE_VERSION)) ||
          json_object_set_new(root, "run_date", jstr(r->run_date)) ||
          json_object_set_new(root, "forced", json_boolean(r->forced)) ||
          json_object_set_new(root, "context",
                              json_string(context_name(r->context))) ||
          json_object_set_new(root, "currency", jstr(cfg->currency)) ||
          json_object_set_new(root, "master", jstr(cfg->master_id)) ||
          json_object_set_new(root, "policy", policy) ||
          json_object_set_new(root, "stages", stages) ||
          json_object_set_new(root, "history", hist) ||
          json_object_set_new(root, "totals", totals) ||
          json_object_set_new(root, "new_books", books) ||
          json_object_set_new(root, "accepted_nav", accepted) ||
          (r->rules_on &&
           json_object_set_new(root, "rebalance", run_rules_json(en, r))) ||
          (r->n_reds > 0 &&
           json_object_set_new(root, "redemptions", run_redemptions_json(en, r))) ||
          (r->n_accepted > 0 &&
           json_object_set_new(root, "accepted_moves", run_guard_json(en, r)));
    char *out = bad ? NULL
                    : json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (bad) {
        /* set_new steals even on failure; free what was never attached */
        json_decref(root);
        return NULL;
    }
    json_decref(root);
    return out;
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
