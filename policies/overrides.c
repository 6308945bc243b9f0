/*
 * overrides.c - "overrides", an overlay: per-strategy manual overrides
 * from a small file, read once at create() (config load), each one shown
 * in the run's record (the stage's note).
 *
 *   policy:
 *     - plugin: risk_parity
 *     - plugin: overrides
 *       options: {file: overrides.txt}
 *
 * The file: one override per line, '#' starts a comment:
 *   STRATEGY freeze          keep its current share of the fund: weight =
 *                            its total / total equity, rounded down (no
 *                            capital moves but that rounding)
 *   STRATEGY reduce_only     min(incoming weight, current share): it may
 *                            give capital back, never receive any
 *   STRATEGY scale FACTOR    incoming weight x FACTOR (0..1), rounded down
 * Strategies without an override keep their incoming weight. When the
 * frozen shares and the other weights together exceed 1, the weights of
 * the strategies without an override are scaled down pro rata (rounded
 * down) to fit; what is left stays in the master.
 *
 * Options: file (path, required; relative to the config's directory).
 * Failure modes, all at config load (exit 3, naming the file's line): a
 * file that cannot be read, an unknown action, a factor outside 0..1 or
 * not an exact decimal, a strategy given twice, the master given an
 * override. At run time: as a first stage (no incoming weights), exit 6.
 * An override naming a strategy the run does not have is ignored, with a
 * warning in the note.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capalloc_plugin.h"

#define OV_MAX 256

typedef enum ov_action { OV_FREEZE, OV_REDUCE, OV_SCALE } ov_action;

typedef struct ov_entry {
    char id[64];
    ov_action action;
    capalloc_dec factor;
} ov_entry;

typedef struct ov_state {
    const capalloc_host *host;
    size_t n;
    ov_entry e[OV_MAX];
} ov_state;

static const capalloc_option_spec ov_options[] = {
    {"file", CAPALLOC_OPT_PATH, 1, NULL,
     "the overrides, one a line: STRATEGY freeze | reduce_only | scale F"},
    {NULL, 0, 0, NULL, NULL}};

static capalloc_status ov_line(ov_state *s, const char *path, int ln,
                               char *line, capalloc_err *err)
{
    const capalloc_host *h = s->host;
    char *save = NULL, *id = strtok_r(line, " \t\r\n", &save);
    if (id == NULL || id[0] == '#')
        return CAPALLOC_OK;
    char *act = strtok_r(NULL, " \t\r\n", &save);
    char *arg = act ? strtok_r(NULL, " \t\r\n", &save) : NULL;
    char *extra = arg ? strtok_r(NULL, " \t\r\n", &save) : NULL;
    if (extra != NULL && extra[0] == '#')
        extra = NULL;
    if (strlen(id) >= sizeof s->e[0].id || s->n == OV_MAX) {
        h->set_error(err, "file", "%s:%d: strategy id too long, or more "
                                  "than %d overrides", path, ln, OV_MAX);
        return CAPALLOC_ERR_INVALID;
    }
    if (h->master_id != NULL && strcmp(id, h->master_id) == 0) {
        h->set_error(err, "file", "%s:%d: '%s' is the master portfolio",
                     path, ln, id);
        return CAPALLOC_ERR_INVALID;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].id, id) == 0) {
            h->set_error(err, "file", "%s:%d: strategy '%s' is given a "
                                      "second override",
                         path, ln, id);
            return CAPALLOC_ERR_INVALID;
        }
    ov_entry *e = &s->e[s->n];
    snprintf(e->id, sizeof e->id, "%s", id);
    if (act != NULL && strcmp(act, "freeze") == 0 && arg == NULL) {
        e->action = OV_FREEZE;
    } else if (act != NULL && strcmp(act, "reduce_only") == 0 &&
               arg == NULL) {
        e->action = OV_REDUCE;
    } else if (act != NULL && strcmp(act, "scale") == 0 && arg != NULL &&
               extra == NULL) {
        e->action = OV_SCALE;
        if (h->dec_parse(arg, &e->factor) != CAPALLOC_OK ||
            e->factor.micros < 0 || e->factor.micros > CAPALLOC_DEC_ONE) {
            h->set_error(err, "file", "%s:%d: scale factor '%s' must be an "
                                      "exact decimal within 0..1",
                         path, ln, arg);
            return CAPALLOC_ERR_INVALID;
        }
    } else {
        h->set_error(err, "file", "%s:%d: expected 'STRATEGY freeze', "
                                  "'STRATEGY reduce_only' or 'STRATEGY "
                                  "scale FACTOR'",
                     path, ln);
        return CAPALLOC_ERR_INVALID;
    }
    s->n++;
    return CAPALLOC_OK;
}

static capalloc_status ov_create(const capalloc_host *host,
                                 const capalloc_options *opts, void **state,
                                 capalloc_err *err)
{
    const char *path = NULL;
    host->opt_string(opts, "file", &path);
    ov_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    s->host = host;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL) {
        host->set_error(err, "file", "cannot read the overrides file %s",
                        path ? path : "(none)");
        free(s);
        return CAPALLOC_ERR_INVALID;
    }
    char line[512];
    int ln = 0;
    capalloc_status st = CAPALLOC_OK;
    while (st == CAPALLOC_OK && fgets(line, sizeof line, f) != NULL)
        st = ov_line(s, path, ++ln, line, err);
    fclose(f);
    if (st != CAPALLOC_OK) {
        free(s);
        return st;
    }
    *state = s;
    return CAPALLOC_OK;
}

static void ov_destroy(void *state)
{
    free(state);
}

/* Append printf text to the note. */
static void note_add(const capalloc_snapshot *snap, size_t *used,
                     const char *fmt, ...) CAPALLOC_PRINTF(3, 4);


static void note_add(const capalloc_snapshot *snap, size_t *used,
                     const char *fmt, ...)
{
    if (snap->note == NULL || snap->note_size <= *used + 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(snap->note + *used, snap->note_size - *used, fmt, ap);
    va_end(ap);
    if (k > 0)
        *used += (size_t)k < snap->note_size - *used
                     ? (size_t)k
                     : snap->note_size - *used - 1;
}

static capalloc_status ov_weights(void *state, const capalloc_snapshot *snap,
                                  capalloc_dec *weights, capalloc_err *err)
{
    ov_state *s = state;
    const capalloc_host *h = s->host;
    size_t n = snap->n_portfolios, used = 0;
    char a[CAPALLOC_DEC_MAX_TEXT];
    if (snap->incoming == NULL) {
        h->set_error(err, NULL, "overrides is an overlay: put a stage that "
                                "gives weights before it");
        return CAPALLOC_ERR_INVALID;
    }
    int64_t fixed = 0, free_sum = 0;
    unsigned char *has = calloc(n ? n : 1, 1);
    if (has == NULL) {
        h->set_error(err, NULL, "out of memory");
        return CAPALLOC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        weights[i] = snap->incoming[i];
        for (size_t k = 0; k < s->n; k++) {
            const ov_entry *e = &s->e[k];
            if (strcmp(e->id, snap->portfolios[i].id) != 0)
                continue;
            capalloc_dec share = {0};
            if (e->action != OV_SCALE && snap->total_equity.micros > 0 &&
                h->dec_div(snap->portfolios[i].total, snap->total_equity,
                           CAPALLOC_ROUND_DOWN, &share) != CAPALLOC_OK)
                share.micros = 0;
            if (e->action == OV_FREEZE) {
                weights[i] = share;
                note_add(snap, &used, "%s%s frozen at its share %s",
                         used ? "; " : "", e->id,
                         h->dec_format(share, 6, a, sizeof a));
            } else if (e->action == OV_REDUCE) {
                if (h->dec_cmp(share, weights[i]) < 0)
                    weights[i] = share;
                note_add(snap, &used, "%s%s reduce-only: %s",
                         used ? "; " : "", e->id,
                         h->dec_format(weights[i], 6, a, sizeof a));
            } else {
                h->dec_mul(snap->incoming[i], e->factor, CAPALLOC_ROUND_DOWN,
                           &weights[i]);
                note_add(snap, &used, "%s%s scaled by %s", used ? "; " : "",
                         e->id, h->dec_format(e->factor, 0, a, sizeof a));
            }
            has[i] = 1;
        }
        if (has[i])
            fixed += weights[i].micros;
        else
            free_sum += weights[i].micros;
    }
    for (size_t k = 0; k < s->n; k++) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(s->e[k].id, snap->portfolios[i].id) == 0)
                break;
        if (i == n)
            note_add(snap, &used, "%soverride for '%s' ignored: not a "
                                  "strategy of this run",
                     used ? "; " : "", s->e[k].id);
    }
    if (fixed + free_sum > CAPALLOC_DEC_ONE && free_sum > 0) {
        /* the others make room for the frozen shares, pro rata */
        int64_t room = CAPALLOC_DEC_ONE - fixed;
        capalloc_dec f = {0}, num = {room > 0 ? room : 0}, den = {free_sum};
        h->dec_div(num, den, CAPALLOC_ROUND_DOWN, &f);
        for (size_t i = 0; i < n; i++)
            if (!has[i])
                h->dec_mul(weights[i], f, CAPALLOC_ROUND_DOWN, &weights[i]);
        note_add(snap, &used, "%sthe others scaled by %s to make room",
                 used ? "; " : "", h->dec_format(f, 0, a, sizeof a));
    }
    free(has);
    return CAPALLOC_OK;
}

static const capalloc_policy_plugin overrides_plugin = {
    CAPALLOC_HEADER_INIT(CAPALLOC_KIND_POLICY, capalloc_policy_plugin,
                         "overrides", "1.0.0",
                         "per-strategy freeze / reduce-only / scale from a "
                         "file",
                         ov_options, ov_create, ov_destroy),
    ov_weights,
    NULL,
    NULL,
};

CAPALLOC_PLUGIN_DEFINE(overrides_plugin)
