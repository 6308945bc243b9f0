/*
 * history.c - flow-adjusted returns (see history.h for the definitions).
 */
#include "history.h"

#include <stdlib.h>
#include <string.h>

#include "decimal.h"

int date_valid(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-')
            return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
            (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

static int cmp_val(const void *a, const void *b)
{
    const capalloc_valuation *x = a, *y = b;
    int c = strcmp(x->portfolio_id, y->portfolio_id);
    if (c == 0)
        c = strcmp(x->date, y->date);
    if (c == 0)
        c = (x->run_id > y->run_id) - (x->run_id < y->run_id);
    return c;
}

void history_sort(capalloc_valuation *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_val);
}

/* nav / base, or *has = 0 when base <= 0. */
static capalloc_status ratio(capalloc_dec nav, capalloc_dec base,
                             capalloc_dec *out, int *has)
{
    *has = 0;
    if (base.micros <= 0)
        return CAPALLOC_OK;
    capalloc_status st = dec_div(nav, base, CAPALLOC_ROUND_HALF_EVEN, out);
    if (st == CAPALLOC_OK)
        *has = 1;
    return st;
}

/* The ratio NAV_t / (NAV_{t-1} + transfer_{t-1}). */
static capalloc_status step_ratio(const capalloc_valuation *prev,
                                  const capalloc_valuation *cur,
                                  capalloc_dec *out, int *has)
{
    capalloc_dec base;
    *has = 0;
    if (dec_add(prev->nav, prev->transfer, &base))
        return CAPALLOC_ERR_OVERFLOW;
    return ratio(cur->nav, base, out, has);
}

capalloc_status history_step(const capalloc_valuation *prev,
                             const capalloc_valuation *cur, capalloc_dec *ret,
                             int *has)
{
    capalloc_dec q;
    capalloc_status st = step_ratio(prev, cur, &q, has);
    if (st == CAPALLOC_OK && *has)
        st = dec_sub(q, dec_from_int(1), ret);
    return st;
}

capalloc_status history_returns(const capalloc_valuation *v, size_t n,
                                capalloc_dec *ret, int *has)
{
    for (size_t i = 0; i < n; i++) {
        ret[i] = DEC_ZERO;
        has[i] = 0;
        if (i == 0 || strcmp(v[i - 1].portfolio_id, v[i].portfolio_id) != 0)
            continue;
        capalloc_status st = history_step(&v[i - 1], &v[i], &ret[i], &has[i]);
        if (st != CAPALLOC_OK)
            return st;
    }
    return CAPALLOC_OK;
}

capalloc_status history_points(const capalloc_valuation *v, size_t n,
                               capalloc_history_point *points,
                               size_t *n_points)
{
    size_t np = 0;
    for (size_t i = 0; i < n;) {
        /* the valuations of one date: v[i..j) */
        size_t j = i + 1;
        while (j < n && strcmp(v[j].date, v[i].date) == 0)
            j++;
        capalloc_history_point *p = &points[np++];
        memset(p, 0, sizeof *p);
        p->date = v[i].date;
        p->nav = v[j - 1].nav;
        p->flags = (v[i].flags & CAPALLOC_VAL_IMPORTED)
                       ? CAPALLOC_POINT_IMPORTED
                       : 0;
        capalloc_dec prod = dec_from_int(1);
        int has = i > 0;
        for (size_t k = i; k < j; k++) {
            if (dec_add(p->flow, v[k].transfer, &p->flow))
                return CAPALLOC_ERR_OVERFLOW;
            if (!has || k == 0)
                continue;
            capalloc_dec q;
            int h;
            capalloc_status st = step_ratio(&v[k - 1], &v[k], &q, &h);
            if (st != CAPALLOC_OK)
                return st;
            if (!h) {
                has = 0;
                continue;
            }
            if (k == i)
                prod = q;
            else if (dec_mul(prod, q, CAPALLOC_ROUND_HALF_EVEN, &prod))
                return CAPALLOC_ERR_OVERFLOW;
        }
        if (has) {
            if (dec_sub(prod, dec_from_int(1), &p->ret))
                return CAPALLOC_ERR_OVERFLOW;
            p->has_return = 1;
        }
        i = j;
    }
    *n_points = np;
    return CAPALLOC_OK;
}

capalloc_status history_fund(fund_obs *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        f[i].flow = DEC_ZERO;
        f[i].ret = DEC_ZERO;
        f[i].has_return = 0;
        if (i == 0)
            continue;
        capalloc_dec after, base;
        if (dec_add(f[i - 1].master_cash, f[i - 1].master_transfer, &after) ||
            dec_sub(f[i].master_cash, after, &f[i].flow) ||
            dec_add(f[i - 1].equity, f[i].flow, &base))
            return CAPALLOC_ERR_OVERFLOW;
        capalloc_dec q;
        capalloc_status st = ratio(f[i].equity, base, &q, &f[i].has_return);
        if (st == CAPALLOC_OK && f[i].has_return)
            st = dec_sub(q, dec_from_int(1), &f[i].ret);
        if (st != CAPALLOC_OK)
            return st;
    }
    return CAPALLOC_OK;
}
