/*
 * report_html.c - HTML escaping and inline SVG charts for `capalloc
 * report` (see report_html.h).
 *
 * The scales are exact: the value axis' ticks are multiples of a "nice"
 * step (1, 2 or 5 times a power of ten) computed on the values' micros;
 * only the mapping of a value to a pixel uses double.
 */
#include "report_html.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "decimal.h"
#include "json_out.h"

/* ------------------------------------------------------------------------ */
/* escaping                                                                  */
/* ------------------------------------------------------------------------ */

void html_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        size_t n = json_utf8_len(p);
        if (n == 0) {
            fputs("&#xfffd;", f);
            p++;
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
                break;
            fwrite(p, 1, n, f);
        }
        p += n;
    }
}

void html_money_td(FILE *f, capalloc_dec d, int minor_units)
{
    char a[CAPALLOC_DEC_MAX_TEXT];
    fprintf(f, "<td class=\"n\">%s</td>", fmt_money_table(d, minor_units, a));
}

/* ------------------------------------------------------------------------ */
/* dates and colours                                                         */
/* ------------------------------------------------------------------------ */

long report_day(const char *d)
{
    long y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
             (d[3] - '0');
    long m = (d[5] - '0') * 10 + (d[6] - '0');
    long day = (d[8] - '0') * 10 + (d[9] - '0');
    /* days from civil (H. Hinnant), for years from 1970 */
    y -= m <= 2;
    long era = y / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

const char *report_colour(size_t i)
{
    /* Tableau 10 without its grey (the reserve's) */
    static const char *const palette[] = {
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
        "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    };
    return palette[i % (sizeof palette / sizeof palette[0])];
}

const char *report_dash(size_t i)
{
    static const char *const dashes[] = {NULL, "8 4", "2 3", "8 3 2 3"};
    return dashes[(i / 9) % (sizeof dashes / sizeof dashes[0])];
}

/* ------------------------------------------------------------------------ */
/* charts                                                                    */
/* ------------------------------------------------------------------------ */

enum { W = 960, H = 300, ML = 96, MR = 48, MT = 16, MB = 44 };
#define PW ((double)(W - ML - MR))
#define PH ((double)(H - MT - MB))
#define MAX_TICKS 6
#define MAX_MARKERS 60

/* The smallest 1, 2 or 5 x 10^k (in micros, >= 1) that is >= raw. */
static int64_t nice_step(int64_t raw)
{
    int64_t p = 1;
    while (p <= INT64_MAX / 10 && p * 10 <= raw)
        p *= 10;
    if (p >= raw)
        return p;
    if (2 * p >= raw)
        return 2 * p;
    if (5 * p >= raw)
        return 5 * p;
    return 10 * p;
}

static int64_t floor_to(int64_t v, int64_t step)
{
    int64_t q = v / step;
    if (v % step != 0 && v < 0)
        q--;
    return q * step;
}

static int64_t ceil_to(int64_t v, int64_t step)
{
    int64_t q = v / step;
    if (v % step != 0 && v > 0)
        q++;
    return q * step;
}

typedef struct scale {
    int64_t lo, hi, step; /* micros */
    long d0, d1;          /* days */
} scale;

static double px_x(const scale *sc, const char *date)
{
    if (sc->d1 == sc->d0)
        return ML + PW / 2;
    return ML + PW * (double)(report_day(date) - sc->d0) /
                    (double)(sc->d1 - sc->d0);
}

static double px_y(const scale *sc, capalloc_dec v)
{
    return MT + PH * (double)(sc->hi - v.micros) / (double)(sc->hi - sc->lo);
}

/* The chart's extent: every point's date and value (and 0 if asked). */
static void make_scale(const chart_spec *c, scale *sc)
{
    int have = 0;
    int64_t lo = 0, hi = 0;
    sc->d0 = sc->d1 = 0;
    for (size_t i = 0; i < c->n; i++) {
        const chart_series *s = &c->s[i];
        for (size_t k = 0; k < s->n; k++) {
            long d = report_day(s->date[k]);
            int64_t v[2] = {s->y[k].micros,
                            s->y0 ? s->y0[k].micros : s->y[k].micros};
            if (!have) {
                lo = hi = v[0];
                sc->d0 = sc->d1 = d;
                have = 1;
            }
            for (int j = 0; j < 2; j++) {
                lo = v[j] < lo ? v[j] : lo;
                hi = v[j] > hi ? v[j] : hi;
            }
            sc->d0 = d < sc->d0 ? d : sc->d0;
            sc->d1 = d > sc->d1 ? d : sc->d1;
        }
    }
    if (c->include_zero) {
        lo = lo > 0 ? 0 : lo;
        hi = hi < 0 ? 0 : hi;
    }
    if (hi == lo) { /* a flat line: one unit around it */
        if (hi < INT64_MAX - 1000000)
            hi += 1000000;
        if (!c->include_zero || lo < 0)
            lo -= 1000000;
    }
    /* hi - lo fits: every value came from capalloc_dec within range, and
     * amounts are far below 2^62 micros in practice; clamp regardless */
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    int64_t raw = span / MAX_TICKS > (uint64_t)INT64_MAX / 20
                      ? INT64_MAX / 20
                      : (int64_t)(span / MAX_TICKS);
    sc->step = nice_step(raw < 1 ? 1 : raw);
    sc->lo = floor_to(lo, sc->step);
    sc->hi = ceil_to(hi, sc->step);
}

/* A tick's label: the value with its step's decimals and thousands
 * separators ("120,000", "-2.5"). */
static void tick_label(FILE *f, int64_t v, int64_t step, const char *suffix)
{
    char t[CAPALLOC_DEC_MAX_TEXT];
    capalloc_dec d = {v};
    dec_format(d, dec_places((capalloc_dec){step}), t, sizeof t);
    const char *s = t;
    if (*s == '-')
        fputc(*s++, f);
    size_t int_len = strcspn(s, ".");
    for (size_t i = 0; s[i]; i++) {
        if (i > 0 && i < int_len && (int_len - i) % 3 == 0)
            fputc(',', f);
        fputc(s[i], f);
    }
    fputs(suffix, f);
}

static void axes(FILE *f, const chart_spec *c, const scale *sc)
{
    /* horizontal grid lines and the value ticks */
    fprintf(f, "<g class=\"axis y\">\n");
    for (int64_t v = sc->lo; v <= sc->hi; v += sc->step) {
        double y = px_y(sc, (capalloc_dec){v});
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                "class=\"%s\"/>",
                ML, W - MR, y, y, v == 0 ? "zero" : "grid");
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", ML - 6,
                y + 4);
        tick_label(f, v, sc->step, c->y_suffix);
        fprintf(f, "</text>\n");
        if (v > INT64_MAX - sc->step)
            break;
    }
    fprintf(f,
            "<text class=\"label\" transform=\"translate(14 %.1f) "
            "rotate(-90)\" text-anchor=\"middle\">",
            MT + PH / 2);
    html_str(f, c->y_label);
    fprintf(f, "</text>\n</g>\n");

    /* the dates: each point's, left to right, none closer than 76 px to
     * the one before */
    fprintf(f, "<g class=\"axis x\">\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" "
               "y2=\"%d\" class=\"base\"/>\n",
            ML, W - MR, H - MB, H - MB);
    double last = -1000;
    for (long d = sc->d0; d <= sc->d1; d++) {
        const char *date = NULL;
        for (size_t i = 0; i < c->n && date == NULL; i++)
            for (size_t k = 0; k < c->s[i].n; k++)
                if (report_day(c->s[i].date[k]) == d) {
                    date = c->s[i].date[k];
                    break;
                }
        if (date == NULL)
            continue;
        double x = px_x(sc, date);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
                   "class=\"tick\"/>",
                x, x, H - MB, H - MB + 5);
        if (x - last >= 76) {
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                    x, H - MB + 19);
            html_str(f, date);
            fprintf(f, "</text>");
            last = x;
        }
        fprintf(f, "\n");
    }
    fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%d\" "
               "text-anchor=\"middle\">run date</text>\n</g>\n",
            ML + PW / 2, H - 4);
}

/* One series: a polyline through its points, or for a stacked area the
 * closed band between y0 and y. One point alone is drawn as a short
 * horizontal stroke so that it is visible. */
static void series_path(FILE *f, const scale *sc, const chart_series *s)
{
    fprintf(f, "<path class=\"series%s\" data-series=\"", s->y0 ? " area" : "");
    html_str(f, s->name);
    fprintf(f, "\" %s=\"%s\" ", s->y0 ? "fill" : "stroke", s->colour);
    if (s->y0 == NULL && s->dash != NULL)
        fprintf(f, "stroke-dasharray=\"%s\" ", s->dash);
    fprintf(f, "d=\"");
    for (size_t k = 0; k < s->n; k++)
        fprintf(f, "%s%.1f %.1f", k ? " L" : "M", px_x(sc, s->date[k]),
                px_y(sc, s->y[k]));
    if (s->y0 != NULL) {
        for (size_t k = s->n; k-- > 0;)
            fprintf(f, " L%.1f %.1f", px_x(sc, s->date[k]),
                    px_y(sc, s->y0[k]));
        fprintf(f, " Z");
    } else if (s->n == 1) {
        fprintf(f, " h0.1 M%.1f %.1f h6", px_x(sc, s->date[0]) - 3,
                px_y(sc, s->y[0]));
    }
    fprintf(f, "\"><title>");
    html_str(f, s->name);
    fprintf(f, "</title></path>\n");
    if (s->y0 != NULL || s->n > MAX_MARKERS)
        return;
    /* the points, each with its value on hover (not for long series: the
     * file would grow by a circle per point and the line says it all) */
    fprintf(f, "<g class=\"points\" fill=\"%s\">", s->colour);
    for (size_t k = 0; k < s->n; k++) {
        char t[CAPALLOC_DEC_MAX_TEXT];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"><title>",
                px_x(sc, s->date[k]), px_y(sc, s->y[k]));
        html_str(f, s->name);
        fprintf(f, " ");
        html_str(f, s->date[k]);
        fprintf(f, ": %s</title></circle>",
                dec_format(s->y[k], 2, t, sizeof t));
    }
    fprintf(f, "</g>\n");
}

void chart_swatch(FILE *f, const char *colour, const char *dash, int area)
{
    if (area) {
        fprintf(f, "<svg width=\"14\" height=\"14\" aria-hidden=\"true\">"
                   "<rect width=\"14\" height=\"14\" fill=\"%s\"/></svg>",
                colour);
        return;
    }
    fprintf(f, "<svg width=\"26\" height=\"14\" aria-hidden=\"true\">"
               "<line x1=\"1\" y1=\"7\" x2=\"25\" y2=\"7\" "
               "stroke=\"%s\" stroke-width=\"3\"",
            colour);
    if (dash != NULL)
        fprintf(f, " stroke-dasharray=\"%s\"", dash);
    fprintf(f, "/></svg>");
}

void chart_svg(FILE *f, const chart_spec *c)
{
    scale sc;
    make_scale(c, &sc);
    fprintf(f, "<figure class=\"chart\">\n<figcaption>");
    html_str(f, c->title);
    fprintf(f, "</figcaption>\n<svg class=\"chart\" id=\"");
    html_str(f, c->id);
    fprintf(f, "\" data-chart=\"");
    html_str(f, c->id);
    fprintf(f, "\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
               "role=\"img\" aria-label=\"",
            W, H, W, H);
    html_str(f, c->title);
    fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
    axes(f, c, &sc);
    fprintf(f, "<g class=\"plot\">\n");
    for (size_t i = 0; i < c->n; i++)
        if (c->s[i].n > 0)
            series_path(f, &sc, &c->s[i]);
    fprintf(f, "</g>\n</svg>\n<ul class=\"legend\">\n");
    for (size_t i = 0; i < c->n; i++) {
        fprintf(f, "<li>");
        chart_swatch(f, c->s[i].colour, c->s[i].dash, c->s[i].y0 != NULL);
        fprintf(f, " ");
        html_str(f, c->s[i].name);
        if (c->s[i].n == 0)
            fprintf(f, " <small>(no data in this range)</small>");
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n</figure>\n");
}
