/*
 * config_rebalance.c - the `rebalance:` section of the configuration (the
 * rules themselves are in rules.h). Every rule is off unless set here:
 *
 *   rebalance:
 *     drift_band:           # move a strategy only outside the band
 *       absolute: 0.02      # |weight - target weight| > 0.02, or
 *       relative: 0.25      # |weight / target weight - 1| > 0.25 (one of)
 *       scope: strategy     # strategy (default), or fund: any strategy
 *                           # outside rebalances all of them
 *     min_transfer: 1000    # an amount, or "0.5%" of total equity
 *     max_transfer: 25000   # per strategy per run: amount or "N%"
 *     max_turnover: 10%     # all transfers of a run together
 *     cash_buffer: 0.02     # of total equity, kept in the master
 *     max_nav_move: 0.25    # a strategy whose NAV moved more since the
 *                           # last recorded valuation stops the run
 *                           # (run_guard.c; allocate --accept-moves)
 *
 * Unknown keys are refused, each error names the file, line, column and
 * key (rebalance.min_transfer) and the value.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "decimal.h"

typedef struct rctx {
    const char *file;
    int minor_units;
    cap_error *e;
} rctx;

static int fail_at(const rctx *x, const cfg_node *n, const char *key,
                   const char *what, const char *value)
{
    return config_fail(x->e, x->file, n->line, n->col, key, "%s%s%.80s%s",
                       what, value ? " (found '" : "", value ? value : "",
                       value ? "')" : "");
}

static int scalar(const rctx *x, const cfg_node *n, const char *key)
{
    if (n->kind == CFG_SCALAR && n->value[0] != '\0' &&
        !(n->plain && (strcmp(n->value, "~") == 0 ||
                       strcmp(n->value, "null") == 0)))
        return 0;
    return fail_at(x, n, key, "expected a value", NULL);
}

/* A fraction: a decimal in (0, max] (max_incl) or (0, max) . */
static int fraction(const rctx *x, const cfg_node *n, const char *key,
                    int max, int max_incl, capalloc_dec *out)
{
    int rc = scalar(x, n, key);
    if (rc != 0)
        return rc;
    char what[160];
    snprintf(what, sizeof what,
             "expected a fraction above 0 and %s %d (e.g. 0.02), at most 6 "
             "decimal places",
             max_incl ? "at most" : "below", max);
    if (dec_parse_places(n->value, 6, out) != CAPALLOC_OK ||
        out->micros <= 0 ||
        (max_incl ? dec_cmp(*out, dec_from_int(max)) > 0
                  : dec_cmp(*out, dec_from_int(max)) >= 0))
        return fail_at(x, n, key, what, n->value);
    return 0;
}

/* An amount in the currency, or "N%" of total equity. */
static int limit(const rctx *x, const cfg_node *n, const char *key,
                 rule_limit *out)
{
    int rc = scalar(x, n, key);
    if (rc != 0)
        return rc;
    const char *v = n->value;
    size_t len = strlen(v);
    char num[64];
    if (len > 1 && len < sizeof num && v[len - 1] == '%') {
        snprintf(num, sizeof num, "%.*s", (int)(len - 1), v);
        capalloc_dec pct;
        if (dec_parse_places(num, 4, &pct) != CAPALLOC_OK ||
            pct.micros <= 0 || dec_cmp(pct, dec_from_int(100)) > 0 ||
            dec_div(pct, dec_from_int(100), CAPALLOC_ROUND_DOWN, &out->v))
            return fail_at(x, n, key,
                           "expected a percentage of total equity above 0% "
                           "and at most 100% (e.g. 0.5%), at most 4 decimal "
                           "places",
                           v);
        out->set = 1;
        out->fraction = 1;
        return 0;
    }
    char what[160];
    snprintf(what, sizeof what,
             "expected a positive amount with at most %d decimal place%s, or "
             "a percentage of total equity (e.g. 1000 or 0.5%%)",
             x->minor_units, x->minor_units == 1 ? "" : "s");
    if (dec_parse_places(v, x->minor_units, &out->v) != CAPALLOC_OK ||
        out->v.micros <= 0)
        return fail_at(x, n, key, what, v);
    out->set = 1;
    out->fraction = 0;
    return 0;
}

static int drift_band(const rctx *x, const cfg_node *n, rebalance_rules *r)
{
    static const char *const K = "rebalance.drift_band";
    if (n->kind != CFG_MAP)
        return fail_at(x, n, K,
                       "expected a mapping {absolute: W} or {relative: W}, "
                       "with an optional scope: strategy|fund",
                       NULL);
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *v = n->items[i];
        const char *k = n->keys[i];
        char key[96];
        snprintf(key, sizeof key, "%s.%.40s", K, k);
        int rc = 0;
        if (strcmp(k, "absolute") == 0 || strcmp(k, "relative") == 0) {
            if (r->band != BAND_NONE)
                return config_fail(x->e, x->file, n->key_lines[i],
                                   n->key_cols[i], key,
                                   "give one of absolute and relative, not "
                                   "both");
            r->band = k[0] == 'a' ? BAND_ABSOLUTE : BAND_RELATIVE;
            rc = fraction(x, v, key, k[0] == 'a' ? 1 : 100, 1,
                          &r->band_width);
        } else if (strcmp(k, "scope") == 0) {
            if ((rc = scalar(x, v, key)) != 0)
                return rc;
            if (strcmp(v->value, "strategy") == 0)
                r->scope = BAND_STRATEGY;
            else if (strcmp(v->value, "fund") == 0)
                r->scope = BAND_FUND;
            else
                return fail_at(x, v, key, "expected strategy or fund",
                               v->value);
        } else {
            return config_fail(x->e, x->file, n->key_lines[i], n->key_cols[i],
                               key,
                               "unknown key (known: absolute, relative, "
                               "scope)");
        }
        if (rc != 0)
            return rc;
    }
    if (r->band == BAND_NONE)
        return fail_at(x, n, K, "missing absolute or relative (the band's "
                                "width)",
                       NULL);
    return 0;
}

int config_rebalance(const char *file, const cfg_node *n, int minor_units,
                     rebalance_rules *out, cap_error *e)
{
    rctx x = {file, minor_units, e};
    rebalance_rules r;
    memset(&r, 0, sizeof r);
    if (n->kind == CFG_SCALAR && n->plain &&
        (n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
         strcmp(n->value, "null") == 0)) {
        *out = r; /* an empty section: every rule off */
        return 0;
    }
    if (n->kind != CFG_MAP)
        return fail_at(&x, n, "rebalance",
                       "expected a mapping of rules (drift_band, "
                       "min_transfer, max_transfer, max_turnover, "
                       "cash_buffer)",
                       NULL);
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *v = n->items[i];
        const char *k = n->keys[i];
        char key[96];
        snprintf(key, sizeof key, "rebalance.%.40s", k);
        int rc;
        if (strcmp(k, "drift_band") == 0)
            rc = drift_band(&x, v, &r);
        else if (strcmp(k, "min_transfer") == 0)
            rc = limit(&x, v, key, &r.min_transfer);
        else if (strcmp(k, "max_transfer") == 0)
            rc = limit(&x, v, key, &r.max_transfer);
        else if (strcmp(k, "max_turnover") == 0)
            rc = limit(&x, v, key, &r.max_turnover);
        else if (strcmp(k, "cash_buffer") == 0)
            rc = fraction(&x, v, key, 1, 0, &r.cash_buffer);
        else if (strcmp(k, "max_nav_move") == 0)
            rc = fraction(&x, v, key, 100, 1, &r.max_nav_move);
        else
            rc = config_fail(e, file, n->key_lines[i], n->key_cols[i], key,
                             "unknown key (known: drift_band, min_transfer, "
                             "max_transfer, max_turnover, cash_buffer, "
                             "max_nav_move)");
        if (rc != 0)
            return rc;
    }
    if (r.min_transfer.set && r.max_transfer.set &&
        r.min_transfer.fraction == r.max_transfer.fraction &&
        dec_cmp(r.min_transfer.v, r.max_transfer.v) > 0) {
        size_t i;
        cfg_get(n, "min_transfer", &i);
        return config_fail(e, file, n->key_lines[i], n->key_cols[i],
                           "rebalance.min_transfer",
                           "is above max_transfer: no transfer could be "
                           "made");
    }
    *out = r;
    return 0;
}
