/*
 * report_html.h - what `capalloc report` (cli_report.c) writes with: HTML
 * escaping, money cells and charts drawn as inline SVG (report_html.c),
 * and a run's explanation (report_explain.c).
 *
 * A chart is a set of series of (date, value) points; values are exact
 * decimals (an index, a percentage, an amount) and only the pixel
 * coordinates are computed in double. The output depends on nothing but
 * the input: the same ledger gives the same bytes.
 *
 * Every series is one <path class="series" data-series="NAME"> inside the
 * chart's <svg class="chart" data-chart="ID">: the report's test counts
 * them in a browser.
 */
#ifndef CAPALLOC_REPORT_HTML_H
#define CAPALLOC_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "capalloc_plugin.h"

/* s as HTML text or a quoted attribute value: & < > " ' escaped, bytes
 * that are not UTF-8 (RFC 3629) written as U+FFFD, control characters
 * other than tab and newline dropped. */
void html_str(FILE *f, const char *s);

/* A recorded amount rounded half-even to the currency's minor unit, as
 * a numeric table cell (<td class="n">). */
void html_money_td(FILE *f, capalloc_dec d, int minor_units);

/* One run's explanation (report_explain.c): the content of `capalloc
 * explain` as HTML paragraphs and tables, for a <details> element. */
struct run_explain;
void report_explain_html(FILE *f, const struct run_explain *x,
                         const char *currency, int minor_units);

/* Days since 1970-01-01 of a valid YYYY-MM-DD (see date_valid). */
long report_day(const char *date);

typedef struct chart_series {
    const char *name;          /* shown in the legend, data-series */
    const char *colour;        /* "#rrggbb" */
    size_t n;
    const char *const *date;   /* n dates, non-decreasing */
    const capalloc_dec *y;     /* n values (stacked: the upper edge) */
    const capalloc_dec *y0;    /* stacked areas: the lower edge; else NULL */
    const char *dash;          /* lines: a stroke-dasharray, or NULL */
} chart_series;

typedef struct chart_spec {
    const char *id;            /* data-chart, the element's id */
    const char *title;
    const char *y_label;       /* the vertical axis' label */
    const char *y_suffix;      /* after each tick label ("%"), or "" */
    int include_zero;          /* the axis reaches 0 */
    const chart_series *s;
    size_t n;
} chart_spec;

/* The small sample of a series' look for a legend or a table: a square
 * of its colour (area), or a stroke of its colour and dash (line). */
void chart_swatch(FILE *f, const char *colour, const char *dash, int area);

/* The chart as a <figure>: the SVG (axes, grid, one path per series) and
 * its legend. A series without points is named in the legend as "no
 * data in this range" and draws no path. */
void chart_svg(FILE *f, const chart_spec *c);

/* A colour for series i (a fixed palette, readable on white and in
 * print; it repeats after 9), a dash pattern that tells the repeats apart
 * (NULL for the first 9: solid), and the reserve's grey. */
const char *report_colour(size_t i);
const char *report_dash(size_t i);
#define REPORT_RESERVE_COLOUR "#8c8c8c"

#endif
