/*
 * pstats.h - statistics shared by the built-in policies (compiled into
 * each policy module: plugins never share code through the executable).
 * Doubles are used for statistics only; weights leave a policy as exact
 * decimals rounded DOWN to 6 places (ps_to_dec), so they never sum above
 * what the statistics gave.
 */
#ifndef CAPALLOC_PSTATS_H
#define CAPALLOC_PSTATS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

/* The exact decimal of w >= 0, rounded down to 6 places. A value within
 * float noise (1e-12) below a whole millionth is that millionth: 0.1 +
 * 0.05 + 0.05 computed in doubles is 0.2, not 0.199999. */
static inline capalloc_dec ps_to_dec(double w)
{
    capalloc_dec d = {0};
    if (w > 0 && isfinite(w)) {
        double x = w * (double)CAPALLOC_DEC_ONE, r = nearbyint(x);
        d.micros = (int64_t)(fabs(x - r) < 1e-6 ? r : floor(x));
    }
    return d;
}

static inline double ps_to_double(capalloc_dec d)
{
    return (double)d.micros / (double)CAPALLOC_DEC_ONE;
}

/*
 * The returns of every strategy on the latest `lookback` dates on which
 * every strategy has a flow-adjusted return: R[t * n + i], oldest first.
 * Returns 0, or -1 with a message in why (not enough history: fewer such
 * dates than lookback).
 */
static inline int ps_returns(const capalloc_snapshot *snap, size_t lookback,
                             double *R, char *why, size_t why_len)
{
    size_t n = snap->n_portfolios;
    if (n == 0)
        return 0;
    const capalloc_history *h = snap->history;
    if (h == NULL) {
        snprintf(why, why_len, "no history (needs %zu common returns)",
                 lookback);
        return -1;
    }
    size_t *k = calloc(n, sizeof *k);
    if (k == NULL) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = h[i].n;
    size_t got = 0;
    /* walk strategy 0's dates from the newest back */
    for (size_t p = h[0].n; p > 0 && got < lookback; p--) {
        const capalloc_history_point *p0 = &h[0].points[p - 1];
        if (!p0->has_return)
            continue;
        int all = 1;
        for (size_t i = 1; i < n && all; i++) {
            while (k[i] > 0 && strcmp(h[i].points[k[i] - 1].date, p0->date) > 0)
                k[i]--;
            all = k[i] > 0 &&
                  strcmp(h[i].points[k[i] - 1].date, p0->date) == 0 &&
                  h[i].points[k[i] - 1].has_return;
        }
        if (!all)
            continue;
        size_t t = lookback - 1 - got;
        R[t * n] = ps_to_double(p0->ret);
        for (size_t i = 1; i < n; i++)
            R[t * n + i] = ps_to_double(h[i].points[k[i] - 1].ret);
        got++;
    }
    free(k);
    if (got < lookback) {
        snprintf(why, why_len,
                 "%zu date%s with a return for every strategy, %zu needed "
                 "(lookback)",
                 got, got == 1 ? "" : "s", lookback);
        return -1;
    }
    return 0;
}

/* Sample standard deviation (n - 1) of column i of R (T x n). */
static inline double ps_std(const double *R, size_t T, size_t n, size_t i)
{
    double m = 0, s = 0;
    for (size_t t = 0; t < T; t++)
        m += R[t * n + i];
    m /= (double)T;
    for (size_t t = 0; t < T; t++)
        s += (R[t * n + i] - m) * (R[t * n + i] - m);
    return sqrt(s / (double)(T - 1));
}

/*
 * Ledoit-Wolf (2004) shrunk covariance of R (T x n) into S (n x n): the
 * maximum-likelihood covariance (divided by T) shrunk towards mu * I,
 * mu = its mean variance, with the shrinkage intensity of Ledoit and Wolf,
 * "A well-conditioned estimator for large-dimensional covariance
 * matrices" (2004) - the estimator of scikit-learn's ledoit_wolf.
 * Returns the shrinkage intensity (0..1), or -1 when out of memory.
 */
static inline double ps_ledoit_wolf(const double *R, size_t T, size_t n,
                                    double *S)
{
    double *X = malloc(T * n * sizeof *X), *mean = calloc(n, sizeof *mean);
    if (X == NULL || mean == NULL) {
        free(X);
        free(mean);
        return -1;
    }
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++)
            mean[i] += R[t * n + i];
    for (size_t i = 0; i < n; i++)
        mean[i] /= (double)T;
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++)
            X[t * n + i] = R[t * n + i] - mean[i];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < T; t++)
                s += X[t * n + i] * X[t * n + j];
            S[i * n + j] = s / (double)T;
        }
    double mu = 0;
    for (size_t i = 0; i < n; i++)
        mu += S[i * n + i];
    mu /= (double)n;
    /* d2 = ||S - mu I||^2 / n; b2 = (1/T^2) sum_t ||x_t x_t' - S||^2 / n */
    double d2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double d = S[i * n + j] - (i == j ? mu : 0);
            d2 += d * d;
        }
    d2 /= (double)n;
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double d = X[t * n + i] * X[t * n + j] - S[i * n + j];
                b2 += d * d;
            }
    b2 /= (double)T * (double)T * (double)n;
    if (b2 > d2)
        b2 = d2;
    double shrink = d2 > 0 ? b2 / d2 : 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            S[i * n + j] = (1 - shrink) * S[i * n + j] + (i == j ? shrink * mu : 0);
    free(X);
    free(mean);
    return shrink;
}

/* Read the INT option lookback (>= 2) or fill err. */
static inline capalloc_status ps_lookback(const capalloc_host *host,
                                          const capalloc_options *opts,
                                          size_t *out, capalloc_err *err)
{
    int64_t lb = 0;
    host->opt_int(opts, "lookback", &lb);
    if (lb < 2 || lb > 10000) {
        host->set_error(err, "lookback",
                        "lookback is %lld: give 2 to 10000 returns",
                        (long long)lb);
        return CAPALLOC_ERR_INVALID;
    }
    *out = (size_t)lb;
    return CAPALLOC_OK;
}

#endif
