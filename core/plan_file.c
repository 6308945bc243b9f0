/*
 * plan_file.c - a plan as a file: written by `allocate --plan-out`,
 * approved by `capalloc approve`, applied by `capalloc apply`
 * (plan_file.h). The file carries everything the apply writes (transfers,
 * balances, the run's record) and the ledger state it was made from; the
 * apply re-checks all of it under the write lock (plan.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "decimal.h"
#include "plan.h"
#include "plan_file.h"

#define PLAN_FORMAT "capalloc-plan 1"

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */
/* ------------------------------------------------------------------------ */

const char *plan_identity(const char *as_name, char *buf, size_t len)
{
    if (as_name != NULL && as_name[0] != '\0') {
        snprintf(buf, len, "%s", as_name);
        return buf;
    }
    struct passwd *pw = getpwuid(geteuid());
    if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "uid %ld", (long)geteuid());
    return buf;
}

static json_t *jd(capalloc_dec d, int places)
{
    char b[CAPALLOC_DEC_MAX_TEXT];
    return json_string(dec_format(d, places, b, sizeof b));
}

/* a string that may not be valid UTF-8 (an id from the ledger) */
static json_t *js(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("?");
}

static void iso_utc(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The SHA-256 of o in canonical form: keys sorted, compact. */
static int content_hash(const json_t *o, char out[SHA256_HEX_LEN + 1])
{
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    if (s == NULL)
        return -1;
    sha256_hex_of(s, strlen(s), out);
    free(s);
    return 0;
}

/* The SHA-256 of a file's bytes; "" when it cannot be read. */
static void file_hash(const char *path, char out[SHA256_HEX_LEN + 1])
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return;
    sha256_ctx c;
    sha256_init(&c);
    unsigned char buf[8192];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sha256_update(&c, buf, k);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return;
    unsigned char d[SHA256_LEN];
    sha256_final(&c, d);
    sha256_hex(d, out);
}

/* Write root to path through a temporary file and rename(): a reader
 * never sees half a plan. */
static int write_atomic(const json_t *root, const char *path, cap_error *e)
{
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (tmp == NULL)
        return eng_oom(e);
    snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
    int rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        int err = errno;
        unlink(tmp);
        free(tmp);
        return cap_fail(e, CAP_EXIT_USAGE, "cannot write the plan to %s: %s",
                        path, strerror(err));
    }
    free(tmp);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* writing a plan                                                            */
/* ------------------------------------------------------------------------ */

static json_t *state_json(const plan_state *st, int mu)
{
    json_t *o = json_object(), *books = json_array();
    int bad = o == NULL || books == NULL;
    for (size_t i = 0; !bad && i < st->n; i++) {
        const plan_book *b = &st->books[i];
        json_t *x = json_object();
        bad = x == NULL || json_array_append_new(books, x) ||
              json_object_set_new(x, "id", js(b->id)) ||
              json_object_set_new(x, "cash", b->has_cash ? jd(b->cash, mu)
                                                         : json_null()) ||
              json_object_set_new(x, "positions", json_string(b->pos));
    }
    bad = bad || json_object_set_new(o, "books", books) ||
          json_object_set_new(o, "date_run", json_integer(st->date_run)) ||
          json_object_set_new(o, "last_run", json_integer(st->last_run)) ||
          json_object_set_new(o, "redemptions", json_string(st->reds)) ||
          json_object_set_new(o, "history", json_string(st->history)) ||
          (st->history_points != 0 &&
           json_object_set_new(o, "history_points",
                               json_integer(st->history_points)));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *strategies_json(const engine *en, const alloc_report *r)
{
    int mu = en->cfg->minor_units;
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        json_t *x = json_object();
        int bad = x == NULL || json_array_append_new(a, x) ||
                  json_object_set_new(x, "id", js(s->id)) ||
                  json_object_set_new(x, "cash", jd(s->cash, mu)) ||
                  json_object_set_new(x, "positions_value",
                                      jd(s->positions_value, mu)) ||
                  json_object_set_new(x, "nav", jd(s->total, mu)) ||
                  json_object_set_new(x, "weight", jd(s->weight, 0)) ||
                  json_object_set_new(x, "target", jd(s->target, mu)) ||
                  json_object_set_new(x, "transfer", jd(s->transfer, mu)) ||
                  json_object_set_new(x, "shortfall", jd(s->shortfall, mu)) ||
                  json_object_set_new(x, "cash_after", jd(s->cash_after, mu));
        if (!bad && r->rules_on) {
            const rule_effect *fx = &r->effects[i];
            json_t *rules = json_array();
            bad = rules == NULL ||
                  json_object_set_new(x, "planned", jd(fx->planned, mu)) ||
                  json_object_set_new(x, "rules", rules);
            for (unsigned fl = 1; !bad && fl <= RULE_FUNDS; fl <<= 1)
                if (fx->flags & fl)
                    bad = json_array_append_new(
                        rules, json_string(rules_flag_name(fl)));
        }
        if (bad) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int plan_file_write(engine *en, const alloc_report *r, const batch_buf *b,
                    const record_buf *rb, int forced, const plan_state *st,
                    const char *path, const char *prepared_by, cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    int mu = cfg->minor_units;
    char cfg_hash[SHA256_HEX_LEN + 1], at[32], hash[SHA256_HEX_LEN + 1];
    file_hash(cfg->path, cfg_hash);
    time_t now = time(NULL);
    iso_utc(now, at);

    json_t *root = json_object(), *plan = json_object(),
           *conf = json_object(), *transfers = json_array(),
           *balances = json_array(), *vals = json_array(),
           *prices = json_array(), *payout = json_object(),
           *payments = json_array(), *state = state_json(st, mu),
           *strategies = strategies_json(en, r),
           *explain = json_loads(r->detail_json, 0, NULL);
    int bad = root == NULL || plan == NULL || conf == NULL ||
              transfers == NULL || balances == NULL || vals == NULL ||
              prices == NULL || payout == NULL || payments == NULL ||
              state == NULL || strategies == NULL || explain == NULL;
    /* the transfers: plan_transfers() writes each as a SELL from the
     * payer and a BUY to the payee */
    for (size_t k = 0; !bad && k + 1 < b->n_trades; k += 2) {
        const capalloc_trade *t = &b->trades[k], *u = &b->trades[k + 1];
        json_t *x = json_object();
        bad = t->side != CAPALLOC_SELL || u->side != CAPALLOC_BUY ||
              x == NULL || json_array_append_new(transfers, x) ||
              json_object_set_new(x, "from", js(t->portfolio_id)) ||
              json_object_set_new(x, "to", js(u->portfolio_id)) ||
              json_object_set_new(x, "amount", jd(t->quantity, mu));
    }
    bad = bad || (b->n_trades % 2) != 0;
    for (size_t k = 0; !bad && k < b->n_cash; k++) {
        json_t *x = json_object();
        bad = x == NULL || json_array_append_new(balances, x) ||
              json_object_set_new(x, "portfolio",
                                  js(b->cash[k].portfolio_id)) ||
              json_object_set_new(x, "cash", jd(b->cash[k].cash, mu));
    }
    for (size_t k = 0; !bad && k < rb->rec.n_valuations; k++) {
        const capalloc_valuation *v = &rb->rec.valuations[k];
        json_t *x = json_object();
        bad = x == NULL || json_array_append_new(vals, x) ||
              json_object_set_new(x, "portfolio", js(v->portfolio_id)) ||
              json_object_set_new(x, "flags", json_integer(v->flags)) ||
              json_object_set_new(x, "cash", jd(v->cash, 0)) ||
              json_object_set_new(x, "positions_value",
                                  jd(v->positions_value, 0)) ||
              json_object_set_new(x, "nav", jd(v->nav, 0)) ||
              json_object_set_new(x, "weight", jd(v->weight, 0)) ||
              json_object_set_new(x, "target", jd(v->target, 0)) ||
              json_object_set_new(x, "transfer", jd(v->transfer, 0)) ||
              json_object_set_new(x, "shortfall", jd(v->shortfall, 0));
    }
    for (size_t k = 0; !bad && k < rb->rec.n_prices; k++) {
        const capalloc_price_row *p = &rb->rec.prices[k];
        json_t *x = json_object();
        bad = x == NULL || json_array_append_new(prices, x) ||
              json_object_set_new(x, "ticker", js(p->ticker)) ||
              json_object_set_new(x, "price", jd(p->price, 0)) ||
              json_object_set_new(x, "as_of", json_integer(p->as_of)) ||
              json_object_set_new(x, "flags", json_integer(p->flags));
    }
    for (size_t k = 0; !bad && k < r->n_reds; k++) {
        json_t *x = json_object();
        bad = x == NULL || json_array_append_new(payments, x) ||
              json_object_set_new(x, "id", json_integer(r->reds[k].id)) ||
              json_object_set_new(x, "owed", jd(r->reds[k].owed, mu)) ||
              json_object_set_new(x, "pay", jd(r->reds[k].pay, mu));
    }
    bad = bad ||
          json_object_set_new(conf, "path", js(cfg->path)) ||
          json_object_set_new(conf, "sha256", json_string(cfg_hash)) ||
          json_object_set_new(payout, "master_after",
                              jd(r->totals.master_after, mu)) ||
          json_object_set_new(payout, "paid_out", jd(r->paid_out, mu)) ||
          json_object_set_new(payout, "payments", payments) ||
          json_object_set_new(plan, "run_date", js(r->run_date)) ||
          json_object_set_new(plan, "forced", json_boolean(forced)) ||
          json_object_set_new(plan, "currency", js(cfg->currency)) ||
          json_object_set_new(plan, "master", js(cfg->master_id)) ||
          json_object_set_new(plan, "config", conf) ||
          json_object_set_new(plan, "prepared_by", js(prepared_by)) ||
          json_object_set_new(plan, "prepared_at", json_string(at)) ||
          json_object_set_new(plan, "prepared_at_unix",
                              json_integer((json_int_t)now)) ||
          json_object_set_new(plan, "capalloc_version",
                              json_string(PACKAGE_VERSION)) ||
          json_object_set_new(plan, "fingerprint",
                              json_string(st->fingerprint)) ||
          json_object_set_new(plan, "total_equity",
                              jd(r->totals.total_equity, mu)) ||
          json_object_set_new(plan, "strategies", strategies) ||
          json_object_set_new(plan, "transfers", transfers) ||
          json_object_set_new(plan, "balances", balances) ||
          json_object_set_new(plan, "redemptions", payout) ||
          json_object_set_new(plan, "valuations", vals) ||
          json_object_set_new(plan, "prices", prices) ||
          json_object_set_new(plan, "explain", explain) ||
          json_object_set_new(plan, "ledger_state", state);
    conf = payout = payments = strategies = transfers = balances = NULL;
    vals = prices = explain = state = NULL;
    bad = bad || content_hash(plan, hash) != 0 ||
          json_object_set_new(root, "format", json_string(PLAN_FORMAT)) ||
          json_object_set_new(root, "plan", plan) ||
          json_object_set_new(root, "content_sha256", json_string(hash)) ||
          json_object_set_new(root, "approvals", json_array());
    plan = NULL;
    if (bad) {
        json_decref(root);
        return eng_oom(e);
    }
    int rc = write_atomic(root, path, e);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* reading a plan                                                            */
/* ------------------------------------------------------------------------ */

typedef struct plan_doc {
    const char *path;
    json_t *root, *plan, *approvals;
    char hash[SHA256_HEX_LEN + 1];     /* computed */
} plan_doc;

static int bad_file(const plan_doc *d, const char *what, cap_error *e)
{
    return cap_fail(e, CAP_EXIT_PLAN, "plan %s: %s; nothing was written",
                    d->path, what);
}

/* Load and check the content hash: the stored one and every approval's
 * must be the hash of the plan as it is now. */
static int doc_load(const char *path, plan_doc *d, cap_error *e)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    json_error_t je;
    d->root = json_load_file(path, 0, &je);
    if (d->root == NULL)
        return cap_fail(e, CAP_EXIT_USAGE, "cannot read the plan %s: %s "
                                           "(line %d)",
                        path, je.text, je.line);
    const char *fmt = json_string_value(json_object_get(d->root, "format"));
    d->plan = json_object_get(d->root, "plan");
    d->approvals = json_object_get(d->root, "approvals");
    const char *stored =
        json_string_value(json_object_get(d->root, "content_sha256"));
    if (fmt == NULL || strcmp(fmt, PLAN_FORMAT) != 0 ||
        !json_is_object(d->plan) || !json_is_array(d->approvals) ||
        stored == NULL)
        return bad_file(d, "not a capalloc plan (format \"" PLAN_FORMAT
                           "\" with plan, content_sha256 and approvals)",
                        e);
    if (content_hash(d->plan, d->hash) != 0)
        return eng_oom(e);
    if (strcmp(stored, d->hash) != 0)
        return cap_fail(e, CAP_EXIT_PLAN,
                        "plan %s was edited after it was prepared (its "
                        "content hash is %.12s..., it was prepared as "
                        "%.12s...); nothing was written, make a new plan",
                        path, d->hash, stored);
    size_t i;
    json_t *a;
    json_array_foreach(d->approvals, i, a)
    {
        const char *h =
            json_string_value(json_object_get(a, "content_sha256"));
        const char *by = json_string_value(json_object_get(a, "by"));
        if (h == NULL || by == NULL || strcmp(h, d->hash) != 0)
            return cap_fail(e, CAP_EXIT_PLAN,
                            "plan %s was edited after it was approved by "
                            "'%s' (approved content %.12s..., now "
                            "%.12s...); nothing was written, make a new "
                            "plan",
                            path, by ? by : "?", h ? h : "-", d->hash);
    }
    return 0;
}

static void doc_free(plan_doc *d)
{
    json_decref(d->root);
    memset(d, 0, sizeof *d);
}

static const char *pstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int pdec(const json_t *o, const char *key, capalloc_dec *out)
{
    const char *s = pstr(o, key);
    return s == NULL || dec_parse(s, out) != CAPALLOC_OK ? -1 : 0;
}

static int cmp_name_ci(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* The approvers who count: not the preparer, each name once, names
 * compared without case ("Bob" and "bob" are one person). Sorted once:
 * no quadratic loop. */
static void summary_fill(const plan_doc *d, plan_summary *out)
{
    memset(out, 0, sizeof *out);
    const char *prep = pstr(d->plan, "prepared_by");
    snprintf(out->run_date, sizeof out->run_date, "%s",
             pstr(d->plan, "run_date") ? pstr(d->plan, "run_date") : "");
    snprintf(out->prepared_by, sizeof out->prepared_by, "%s",
             prep ? prep : "");
    out->n_transfers = json_array_size(json_object_get(d->plan, "transfers"));
    size_t n = json_array_size(d->approvals), m = 0, at = 0;
    const char **by = calloc(n + 1, sizeof *by);
    if (by == NULL)
        return; /* out of memory: no approver counts */
    size_t i;
    json_t *a;
    json_array_foreach(d->approvals, i, a)
    {
        const char *who = pstr(a, "by");
        if (who == NULL || who[0] == '\0' ||
            (prep != NULL && strcasecmp(who, prep) == 0))
            continue;
        by[m++] = who;
    }
    sort_rows(by, m, sizeof *by, cmp_name_ci);
    for (size_t k = 0; k < m; k++) {
        if (k > 0 && strcasecmp(by[k - 1], by[k]) == 0)
            continue;
        if (at < sizeof out->approvers) {
            int w = snprintf(out->approvers + at, sizeof out->approvers - at,
                             "%s%s", at ? ", " : "", by[k]);
            at += w > 0 ? (size_t)w : 0;
        }
        out->n_approvers++;
    }
    free(by);
}

/* ------------------------------------------------------------------------ */
/* approve                                                                   */
/* ------------------------------------------------------------------------ */

int plan_file_approve(const char *path, const char *approver,
                      plan_summary *out, cap_error *e)
{
    plan_doc d;
    int rc = doc_load(path, &d, e);
    if (rc != 0) {
        doc_free(&d);
        return rc;
    }
    const char *prep = pstr(d.plan, "prepared_by");
    if (prep != NULL && strcasecmp(prep, approver) == 0) {
        doc_free(&d);
        return cap_fail(e, CAP_EXIT_PLAN,
                        "'%s' prepared plan %s and cannot approve it: "
                        "another person must (four eyes)",
                        approver, path);
    }
    size_t i;
    json_t *a;
    int repeat = 0;
    json_array_foreach(d.approvals, i, a)
    {
        const char *by = pstr(a, "by");
        if (by != NULL && strcasecmp(by, approver) == 0)
            repeat = 1;
    }
    if (!repeat) {
        char at[32];
        iso_utc(time(NULL), at);
        json_t *x = json_object();
        if (x == NULL || json_array_append_new(d.approvals, x) ||
            json_object_set_new(x, "by", js(approver)) ||
            json_object_set_new(x, "at", json_string(at)) ||
            json_object_set_new(x, "content_sha256", json_string(d.hash))) {
            doc_free(&d);
            return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
        }
        if ((rc = write_atomic(d.root, path, e)) != 0) {
            doc_free(&d);
            return rc;
        }
    }
    summary_fill(&d, out);
    out->repeat = repeat;
    doc_free(&d);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* apply                                                                     */
/* ------------------------------------------------------------------------ */

/* What the file's plan writes, its strings borrowed from the document. */
typedef struct loaded {
    batch_buf b;
    capalloc_valuation *v;
    size_t n_v;
    capalloc_price_row *p;
    size_t n_p;
    alloc_report payout;          /* reds, totals.master_after, paid_out */
    alloc_strategy *s;            /* ids only: whose history to read */
    size_t n_s;
    plan_state st;
    char *detail;                 /* the record's explanation + approval */
} loaded;

static void loaded_free(loaded *l)
{
    batch_free(&l->b);
    free(l->v);
    free(l->p);
    free(l->payout.reds);
    free(l->s);
    plan_state_free(&l->st);
    free(l->detail);
    memset(l, 0, sizeof *l);
}

static int load_state(const json_t *o, plan_state *st)
{
    memset(st, 0, sizeof *st);
    const json_t *books = json_object_get(o, "books");
    if (!json_is_array(books))
        return -1;
    size_t i;
    const json_t *b;
    json_array_foreach(books, i, b)
    {
        const char *id = pstr(b, "id"), *pos = pstr(b, "positions");
        if (id == NULL || pos == NULL || strlen(pos) > SHA256_HEX_LEN ||
            GROW(st->books, st->n, st->cap))
            return -1;
        plan_book *k = &st->books[st->n];
        memset(k, 0, sizeof *k);
        if ((k->id = strdup(id)) == NULL)
            return -1;
        st->n++;
        snprintf(k->pos, sizeof k->pos, "%s", pos);
        if (!json_is_null(json_object_get(b, "cash"))) {
            if (pdec(b, "cash", &k->cash) != 0)
                return -1;
            k->has_cash = 1;
        }
        if (i > 0 && strcmp(st->books[i - 1].id, id) >= 0)
            return -1; /* sorted, each once */
    }
    const char *reds = pstr(o, "redemptions"), *hist = pstr(o, "history");
    if (reds == NULL || hist == NULL || strlen(reds) > SHA256_HEX_LEN ||
        strlen(hist) > SHA256_HEX_LEN ||
        !json_is_integer(json_object_get(o, "date_run")) ||
        !json_is_integer(json_object_get(o, "last_run")))
        return -1;
    st->date_run = json_integer_value(json_object_get(o, "date_run"));
    st->last_run = json_integer_value(json_object_get(o, "last_run"));
    snprintf(st->reds, sizeof st->reds, "%s", reds);
    snprintf(st->history, sizeof st->history, "%s", hist);
    const json_t *hp = json_object_get(o, "history_points");
    if (hp != NULL) {
        if (!json_is_integer(hp) || json_integer_value(hp) <= 0 ||
            json_integer_value(hp) > UINT32_MAX)
            return -1;
        st->history_points = (uint32_t)json_integer_value(hp);
    }
    plan_state_finish(st);
    return 0;
}

/* The plan's writes out of the document; "what" names the first bad
 * field. 0 or -1. */
static int load_writes(const engine *en, const plan_doc *d, loaded *l,
                       const char **what)
{
    const json_t *pl = d->plan;
    size_t i;
    const json_t *x;
    *what = "transfers";
    const json_t *a = json_object_get(pl, "transfers");
    if (!json_is_array(a))
        return -1;
    json_array_foreach(a, i, x)
    {
        capalloc_dec amt;
        const char *from = pstr(x, "from"), *to = pstr(x, "to");
        if (from == NULL || to == NULL || pdec(x, "amount", &amt) != 0 ||
            add_transfer(&l->b, en->cash_ticker, from, to, amt) != 0)
            return -1;
    }
    *what = "balances";
    a = json_object_get(pl, "balances");
    if (!json_is_array(a))
        return -1;
    json_array_foreach(a, i, x)
    {
        capalloc_dec c;
        const char *id = pstr(x, "portfolio");
        if (id == NULL || pdec(x, "cash", &c) != 0 ||
            add_cash(&l->b, id, c) != 0)
            return -1;
    }
    *what = "valuations";
    const char *date = pstr(pl, "run_date");
    a = json_object_get(pl, "valuations");
    if (!json_is_array(a) ||
        (l->v = calloc(json_array_size(a) + 1, sizeof *l->v)) == NULL)
        return -1;
    json_array_foreach(a, i, x)
    {
        capalloc_valuation *v = &l->v[l->n_v];
        v->date = date;
        v->portfolio_id = pstr(x, "portfolio");
        v->flags = (uint32_t)json_integer_value(json_object_get(x, "flags"));
        if (v->portfolio_id == NULL || pdec(x, "cash", &v->cash) ||
            pdec(x, "positions_value", &v->positions_value) ||
            pdec(x, "nav", &v->nav) || pdec(x, "weight", &v->weight) ||
            pdec(x, "target", &v->target) ||
            pdec(x, "transfer", &v->transfer) ||
            pdec(x, "shortfall", &v->shortfall))
            return -1;
        l->n_v++;
    }
    *what = "prices";
    a = json_object_get(pl, "prices");
    if (!json_is_array(a) ||
        (l->p = calloc(json_array_size(a) + 1, sizeof *l->p)) == NULL)
        return -1;
    json_array_foreach(a, i, x)
    {
        capalloc_price_row *p = &l->p[l->n_p];
        p->ticker = pstr(x, "ticker");
        p->as_of = json_integer_value(json_object_get(x, "as_of"));
        p->flags = (uint32_t)json_integer_value(json_object_get(x, "flags"));
        if (p->ticker == NULL || pdec(x, "price", &p->price))
            return -1;
        l->n_p++;
    }
    *what = "strategies";
    a = json_object_get(pl, "strategies");
    if (!json_is_array(a) ||
        (l->s = calloc(json_array_size(a) + 1, sizeof *l->s)) == NULL)
        return -1;
    json_array_foreach(a, i, x)
    {
        if ((l->s[l->n_s].id = pstr(x, "id")) == NULL)
            return -1;
        l->n_s++;
    }
    *what = "redemptions";
    const json_t *r = json_object_get(pl, "redemptions");
    a = json_object_get(r, "payments");
    if (!json_is_array(a) ||
        pdec(r, "master_after", &l->payout.totals.master_after) ||
        pdec(r, "paid_out", &l->payout.paid_out) ||
        (l->payout.reds = calloc(json_array_size(a) + 1,
                                 sizeof *l->payout.reds)) == NULL)
        return -1;
    capalloc_dec sum = DEC_ZERO;
    json_array_foreach(a, i, x)
    {
        red_pay *p = &l->payout.reds[l->payout.n_reds];
        json_t *id = json_object_get(x, "id");
        if (!json_is_integer(id) || pdec(x, "owed", &p->owed) ||
            pdec(x, "pay", &p->pay) || dec_is_neg(p->pay) ||
            dec_cmp(p->pay, p->owed) > 0 || dec_add(sum, p->pay, &sum))
            return -1;
        p->id = json_integer_value(id);
        l->payout.n_reds++;
    }
    if (dec_cmp(sum, l->payout.paid_out) != 0)
        return -1;
    *what = "ledger_state";
    if (load_state(json_object_get(pl, "ledger_state"), &l->st) != 0)
        return -1;
    const char *fp = pstr(pl, "fingerprint");
    if (fp == NULL || strcmp(fp, l->st.fingerprint) != 0) {
        *what = "fingerprint (it is not the ledger_state's)";
        return -1;
    }
    return 0;
}

/* The record's explanation: the plan's, with who prepared, approved and
 * applied it (capalloc explain shows them). */
static char *detail_with_approval(const plan_doc *d, const char *applier)
{
    json_t *x = json_deep_copy(json_object_get(d->plan, "explain"));
    json_t *ap = json_object(), *by = json_array();
    int bad = !json_is_object(x) || ap == NULL || by == NULL;
    size_t i;
    json_t *a;
    json_array_foreach(d->approvals, i, a)
    {
        json_t *o = json_object();
        bad = bad || o == NULL || json_array_append_new(by, o) ||
              json_object_set(o, "by", json_object_get(a, "by")) ||
              json_object_set(o, "at", json_object_get(a, "at"));
    }
    bad = bad ||
          json_object_set(ap, "prepared_by",
                          json_object_get(d->plan, "prepared_by")) ||
          json_object_set(ap, "prepared_at",
                          json_object_get(d->plan, "prepared_at")) ||
          json_object_set_new(ap, "approved_by", by) ||
          json_object_set_new(ap, "applied_by", js(applier)) ||
          json_object_set_new(ap, "plan_sha256", json_string(d->hash)) ||
          json_object_set(ap, "fingerprint",
                          json_object_get(d->plan, "fingerprint")) ||
          json_object_set_new(x, "approval", ap);
    by = ap = NULL;
    char *out = bad ? NULL
                    : json_dumps(x, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(x);
    return out;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ids[0..n) sorted: the index of id, or -1. */
static long id_at(const char *const *ids, size_t n, const char *id)
{
    const char *const *hit = find_row(&id, ids, n, sizeof *ids, cmp_id);
    return hit ? (long)(hit - ids) : -1;
}

/* The plan's shape against the configuration (no ledger needed): its
 * strategies[] are exactly the configured strategies, each once; every
 * transfer is between the master and one of them; every balance is the
 * master's or one of theirs; each strategy's `transfer` is the net of
 * its transfer rows. Sorted once, each row looked up: no quadratic loop.
 * 0 or CAP_EXIT_PLAN naming the first row that is wrong. */
static int structure_check(engine *en, const plan_doc *d, cap_error *e)
{
    const char *master = en->cfg->master_id;
    const char **cfg_ids = NULL;
    size_t n = 0;
    int rc = strategy_ids(en, &cfg_ids, &n, e);
    if (rc != 0)
        return rc;
    const char **ids = calloc(n + 1, sizeof *ids);
    capalloc_dec *net = calloc(n + 1, sizeof *net);
    unsigned char *seen = calloc(n + 1, 1);
    if (ids == NULL || net == NULL || seen == NULL) {
        free(cfg_ids);
        free(ids);
        free(net);
        free(seen);
        return eng_oom(e);
    }
    memcpy(ids, cfg_ids, n * sizeof *ids);
    free(cfg_ids);
    sort_rows(ids, n, sizeof *ids, cmp_id);
    char msg[512] = "";
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(d->plan, "transfers"), i, x)
    {
        const char *from = pstr(x, "from"), *to = pstr(x, "to");
        capalloc_dec amt;
        int fm = from && strcmp(from, master) == 0,
            tm = to && strcmp(to, master) == 0;
        long k = fm ? id_at(ids, n, to) : tm ? id_at(ids, n, from) : -1;
        if (from == NULL || to == NULL || pdec(x, "amount", &amt) != 0 ||
            fm == tm || k < 0) {
            snprintf(msg, sizeof msg,
                     "transfer %zu (from '%s' to '%s') is not between the "
                     "master '%s' and a strategy of the configuration",
                     i + 1, from ? from : "?", to ? to : "?", master);
            break;
        }
        if (fm ? dec_add(net[k], amt, &net[k]) : dec_sub(net[k], amt, &net[k])) {
            snprintf(msg, sizeof msg, "transfer %zu overflows", i + 1);
            break;
        }
    }
    json_array_foreach(msg[0] ? NULL : json_object_get(d->plan, "balances"),
                       i, x)
    {
        const char *id = pstr(x, "portfolio");
        if (id == NULL || (strcmp(id, master) != 0 && id_at(ids, n, id) < 0)) {
            snprintf(msg, sizeof msg,
                     "balance %zu sets the cash of '%s', neither the master "
                     "'%s' nor a strategy of the configuration",
                     i + 1, id ? id : "?", master);
            break;
        }
    }
    const json_t *sa = json_object_get(d->plan, "strategies");
    json_array_foreach(msg[0] ? NULL : sa, i, x)
    {
        const char *id = pstr(x, "id");
        long k = id ? id_at(ids, n, id) : -1;
        capalloc_dec t;
        char b[CAPALLOC_DEC_MAX_TEXT];
        if (k < 0 || seen[k]) {
            snprintf(msg, sizeof msg,
                     "strategies[%zu] '%s' is %s", i,
                     id ? id : "?",
                     k < 0 ? "not a strategy of the configuration"
                           : "listed twice");
            break;
        }
        seen[k] = 1;
        if (pdec(x, "transfer", &t) != 0 || dec_cmp(t, net[k]) != 0) {
            snprintf(msg, sizeof msg,
                     "the transfer of strategy '%s' is %s, its transfer "
                     "rows move %s",
                     id, pstr(x, "transfer") ? pstr(x, "transfer") : "?",
                     dec_format(net[k], en->cfg->minor_units, b, sizeof b));
            break;
        }
    }
    for (size_t k = 0; !msg[0] && k < n; k++)
        if (!seen[k])
            snprintf(msg, sizeof msg,
                     "strategy '%s' of the configuration is not in its "
                     "strategies",
                     ids[k]);
    free(ids);
    free(net);
    free(seen);
    if (!msg[0])
        return 0;
    return bad_file(d, msg, e);
}

int engine_plan_apply(engine *en, const char *path, const char *run_date,
                      const char *applier, plan_summary *out, cap_error *e)
{
    const capalloc_config *cfg = en->cfg;
    plan_doc d;
    loaded l;
    memset(&l, 0, sizeof l);
    memset(out, 0, sizeof *out);
    int rc = doc_load(path, &d, e);
    if (rc != 0)
        goto done;
    summary_fill(&d, out);
    const json_t *pl = d.plan;
    const char *date = pstr(pl, "run_date"), *prep = pstr(pl, "prepared_by"),
               *cur = pstr(pl, "currency"), *master = pstr(pl, "master");
    if (date == NULL || prep == NULL || cur == NULL || master == NULL ||
        !json_is_integer(json_object_get(pl, "prepared_at_unix"))) {
        rc = bad_file(&d, "run_date, prepared_by, prepared_at_unix, "
                          "currency or master missing",
                      e);
        goto done;
    }
    /* the configuration: the same fund */
    if (strcmp(cur, cfg->currency) != 0 || strcmp(master, cfg->master_id)) {
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s is for master '%s' in %s, the configuration "
                      "%s has master '%s' in %s; nothing was written",
                      path, master, cur, cfg->path, cfg->master_id,
                      cfg->currency);
        goto done;
    }
    char cfg_hash[SHA256_HEX_LEN + 1];
    file_hash(cfg->path, cfg_hash);
    const char *plan_cfg =
        pstr(json_object_get(pl, "config"), "sha256");
    if (plan_cfg == NULL || strcmp(plan_cfg, cfg_hash) != 0) {
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s was made with another configuration (its "
                      "SHA-256 %.12s..., %s is now %.12s...); nothing was "
                      "written, make a new plan",
                      path, plan_cfg ? plan_cfg : "-", cfg->path, cfg_hash);
        goto done;
    }
    if (strcmp(date, run_date) != 0) {
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s is for %s, not %s; nothing was written",
                      path, date, run_date);
        goto done;
    }
    time_t made = (time_t)json_integer_value(
        json_object_get(pl, "prepared_at_unix"));
    long age = (long)(time(NULL) - made);
    if (age < 0) {
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s was prepared in the future (%s, %ld s from "
                      "now): its age cannot be checked; nothing was written, "
                      "make a new plan",
                      path, pstr(pl, "prepared_at") ? pstr(pl, "prepared_at")
                                                    : "?",
                      -age);
        goto done;
    }
    if (age > cfg->approval.max_age) {
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s expired: prepared at %s, %ld s ago, "
                      "approval.max_age is %ld s; nothing was written, make "
                      "a new plan",
                      path, pstr(pl, "prepared_at") ? pstr(pl, "prepared_at")
                                                    : "?",
                      age, cfg->approval.max_age);
        goto done;
    }
    if (out->n_approvers < (size_t)cfg->approval.required) {
        size_t self = json_array_size(d.approvals) - out->n_approvers;
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s has %zu approver%s other than its preparer "
                      "'%s'%s%s%s, approval.required is %d%s; nothing was "
                      "written (capalloc approve %s)",
                      path, out->n_approvers,
                      out->n_approvers == 1 ? "" : "s", prep,
                      out->n_approvers ? " (" : "", out->approvers,
                      out->n_approvers ? ")" : "", cfg->approval.required,
                      self ? "; self-approval does not count, nor a name "
                             "repeated (in any case)"
                           : "",
                      path);
        goto done;
    }
    const char *what = "";
    if (load_writes(en, &d, &l, &what) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "its field '%s' is malformed", what);
        rc = bad_file(&d, msg, e);
        goto done;
    }
    if ((rc = structure_check(en, &d, e)) != 0)
        goto done;
    if ((l.detail = detail_with_approval(&d, applier)) == NULL) {
        rc = eng_oom(e);
        goto done;
    }
    capalloc_run_record rec = {PACKAGE_VERSION, l.detail, l.v, l.n_v, l.p,
                               l.n_p};
    plan_write w = {date,
                    json_is_true(json_object_get(pl, "forced")),
                    l.b.trades,
                    l.b.n_trades,
                    l.b.cash,
                    l.b.n_cash,
                    en->memory ? &rec : NULL,
                    &l.payout};
    rc = -1;
    for (int attempt = 1; attempt <= en->max_attempts && rc == -1;
         attempt++)
        rc = plan_apply(en, &w, &l.st, l.s, l.n_s, 1, e);
    if (rc == -2)
        rc = cap_fail(e, CAP_EXIT_PLAN,
                      "plan %s: a run for %s was recorded since the plan "
                      "was made; nothing was written",
                      path, date);
    else if (rc == -1)
        rc = eng_retries_exhausted(en, e);
done:
    loaded_free(&l);
    doc_free(&d);
    return rc;
}
