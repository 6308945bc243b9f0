/*
 * cli_metrics.c - `--metrics-file PATH`: the last allocation run for a
 * scheduler's monitoring, in the text format of node_exporter's textfile
 * collector (Prometheus exposition format 0.0.4).
 *
 * The file is written whole into a temporary file in the same directory
 * (PATH.XXXXXX: not *.prom, so the collector never reads it), flushed to
 * disk, then renamed over PATH. A reader sees the previous file or the
 * new one, never a part of either.
 *
 * Amounts are written from their exact decimal text, never through a
 * double. The metric names and labels are an interface (documented in
 * capalloc(1)); add, never rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* v as a label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static void head(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static const char *dec(capalloc_dec d, char *buf)
{
    return dec_format(d, 0, buf, CAPALLOC_DEC_MAX_TEXT);
}

static void write_body(FILE *f, const cli_metrics *m)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    const alloc_report *r = m->report;
    const char *cur = m->currency ? m->currency : "";

    head(f, "capalloc_last_run_timestamp_seconds",
         "Unix time at which the last allocate run ended.");
    fprintf(f, "capalloc_last_run_timestamp_seconds %lld.%03ld\n",
            (long long)m->end.tv_sec, m->end.tv_nsec / 1000000L);
    head(f, "capalloc_last_run_duration_seconds",
         "Wall time of the last allocate run.");
    fprintf(f, "capalloc_last_run_duration_seconds %lld.%03lld\n",
            m->duration_ms / 1000, m->duration_ms % 1000);
    head(f, "capalloc_last_run_exit_code",
         "Exit code of the last allocate run (0 ok); kind names it.");
    fprintf(f, "capalloc_last_run_exit_code{kind=\"%s\"} %d\n",
            cli_exit_kind(m->exit_code), m->exit_code);
    head(f, "capalloc_last_run_success", "1 if the last allocate run exited 0.");
    fprintf(f, "capalloc_last_run_success %d\n", m->exit_code == 0);
    head(f, "capalloc_last_run_info",
         "The last run's date, outcome and currency (value always 1).");
    fputs("capalloc_last_run_info{run_date=\"", f);
    label(f, m->run_date ? m->run_date : "");
    fprintf(f, "\",status=\"%s\",currency=\"", m->status);
    label(f, cur);
    fputs("\"} 1\n", f);
    if (m->exit_code != 0 || r == NULL)
        return;

    capalloc_dec moved = DEC_ZERO;
    for (size_t i = 0; i < r->n; i++) {
        capalloc_dec t = r->strategies[i].transfer;
        if (dec_is_neg(t))
            t.micros = -t.micros; /* |t| <= total equity: no overflow */
        if (dec_add(moved, t, &moved) != CAPALLOC_OK)
            break; /* cannot happen: the sum is at most twice the equity */
    }
    head(f, "capalloc_last_run_transfers",
         "Cash transfers the last run made (planned, for a dry run).");
    fprintf(f, "capalloc_last_run_transfers %zu\n",
            r->already_ran ? (size_t)0 : r->totals.n_transfers);
    head(f, "capalloc_last_run_transferred_amount",
         "Sum of the absolute amounts the last run's transfers moved.");
    fputs("capalloc_last_run_transferred_amount{currency=\"", f);
    label(f, cur);
    fprintf(f, "\"} %s\n", r->already_ran ? "0" : dec(moved, a));
    size_t stale = 0;
    for (size_t i = 0; i < r->n_prices; i++)
        stale += (r->prices[i].flags & CAPALLOC_QUOTE_STALE) != 0;
    head(f, "capalloc_last_run_stale_prices",
         "Tickers the last run valued at a last-known (stale) price.");
    fprintf(f, "capalloc_last_run_stale_prices %zu\n", stale);
    if (r->already_ran)
        return; /* the date had run: nothing was valued this time */

    head(f, "capalloc_total_equity", "Total equity of the fund at the last run.");
    fputs("capalloc_total_equity{currency=\"", f);
    label(f, cur);
    fprintf(f, "\"} %s\n", dec(r->totals.total_equity, a));
    head(f, "capalloc_master_reserve",
         "Cash left in the master portfolio after the last run.");
    fputs("capalloc_master_reserve{portfolio=\"", f);
    label(f, m->master_id ? m->master_id : "");
    fputs("\",currency=\"", f);
    label(f, cur);
    fprintf(f, "\"} %s\n", dec(r->totals.master_after, a));
    head(f, "capalloc_portfolio_nav",
         "A strategy's value after the last run: cash + positions.");
    for (size_t i = 0; i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        capalloc_dec nav;
        if (dec_add(s->cash_after, s->positions_value, &nav) != CAPALLOC_OK)
            continue; /* out of range: leave the series out, never wrap */
        fputs("capalloc_portfolio_nav{portfolio=\"", f);
        label(f, s->id);
        fputs("\",currency=\"", f);
        label(f, cur);
        fprintf(f, "\"} %s\n", dec(nav, a));
    }
    head(f, "capalloc_portfolio_weight",
         "A strategy's target weight at the last run (0..1).");
    for (size_t i = 0; i < r->n; i++) {
        fputs("capalloc_portfolio_weight{portfolio=\"", f);
        label(f, r->strategies[i].id);
        fprintf(f, "\"} %s\n", dec(r->strategies[i].weight, a));
    }
}

int cli_write_metrics(const char *path, const cli_metrics *m, char *err,
                      size_t errlen)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 8);
    if (tmp == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file beside %s: %s",
                 path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* readable by the collector, whoever it runs as */
    FILE *f = fchmod(fd, 0644) == 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    write_body(f, m);
    int bad = ferror(f) || fflush(f) != 0 || fsync(fd) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path,
                 strerror(bad ? saved : errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
