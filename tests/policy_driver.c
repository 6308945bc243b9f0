/*
 * policy_driver.c - runs a configuration's policy stack on returns read
 * from a file, through the core's own stack (policy_stack.c) with each
 * stage isolated in a child process as in a real run, and prints the
 * weights after every stage. tests/policy_ref.py compares them with
 * independent numpy implementations.
 *
 *   policy_driver CONFIG.yaml RETURNS.txt
 *   policy_driver --memory-limited   1, or 0 in a sanitizer build
 *
 * RETURNS.txt: "strategies ID..." then one line per date, oldest first:
 * "YYYY-MM-DD R..." with each strategy's flow-adjusted return as an exact
 * decimal, or "-" for a point without one (a strategy with "x" has no
 * point on that date). An optional line "totals V..." sets each
 * strategy's value (the master holds nothing).
 * Output: one line per stage, "STAGE PLUGIN ID=W ... [fallback TO: WHY]".
 * Exit: 0, or the stack's exit code with its message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decimal.h"
#include "policy_stack.h"

#define MAX_N 64
#define MAX_T 4096

static char ids[MAX_N][64];
static char dates[MAX_T][16];
static capalloc_history_point pts[MAX_N][MAX_T];

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--memory-limited") == 0) {
        printf("%d\n", isolate_memory_limited());
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: policy_driver CONFIG.yaml RETURNS.txt\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (f == NULL) {
        perror(argv[2]);
        return 2;
    }
    char line[8192];
    size_t n = 0, T = 0;
    capalloc_history h[MAX_N];
    capalloc_dec totals[MAX_N], equity = DEC_ZERO;
    memset(h, 0, sizeof h);
    memset(totals, 0, sizeof totals);
    while (fgets(line, sizeof line, f) != NULL) {
        char *save = NULL, *tok = strtok_r(line, " \t\n", &save);
        if (tok == NULL || tok[0] == '#')
            continue;
        if (strcmp(tok, "strategies") == 0) {
            while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL && n < MAX_N)
                snprintf(ids[n++], sizeof ids[0], "%s", tok);
            continue;
        }
        if (strcmp(tok, "totals") == 0) {
            for (size_t i = 0; i < n; i++) {
                tok = strtok_r(NULL, " \t\n", &save);
                if (tok == NULL || dec_parse(tok, &totals[i]) != 0 ||
                    dec_add(equity, totals[i], &equity) != 0)
                    return 2;
            }
            continue;
        }
        if (T == MAX_T)
            return 2;
        snprintf(dates[T], sizeof dates[0], "%s", tok);
        for (size_t i = 0; i < n; i++) {
            tok = strtok_r(NULL, " \t\n", &save);
            if (tok == NULL || strcmp(tok, "x") == 0)
                continue;
            capalloc_history_point *p = &pts[i][h[i].n++];
            p->date = dates[T];
            p->nav = dec_from_int(1);
            if (strcmp(tok, "-") != 0) {
                if (dec_parse(tok, &p->ret) != 0) {
                    fprintf(stderr, "bad return '%s'\n", tok);
                    return 2;
                }
                p->has_return = 1;
            }
        }
        T++;
    }
    fclose(f);
    for (size_t i = 0; i < n; i++)
        h[i].points = pts[i];

    cap_error e = {0, {0}};
    capalloc_config *cfg = NULL;
    policy_stack *ps = NULL;
    if (config_load(argv[1], &cfg, &e) != 0 ||
        policy_stack_open(cfg, &ps, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        config_free(cfg);
        return (int)e.code;
    }
    capalloc_portfolio_view v[MAX_N];
    memset(v, 0, sizeof v);
    for (size_t i = 0; i < n; i++) {
        v[i].id = ids[i];
        v[i].cash = v[i].total = totals[i];
    }
    capalloc_dec w[MAX_N];
    stage_result *res = calloc(ps->n, sizeof *res);
    capalloc_snapshot snap = {cfg->master_id, cfg->currency, "2099-01-01",
                              DEC_ZERO, equity, n, v, NULL,
                              CAPALLOC_CALL_DRY_RUN, h, NULL, NULL, 0};
    int rc = res ? policy_stack_run(ps, &snap, w, res, &e) : 1;
    for (size_t k = 0; rc == 0 && k < ps->n; k++) {
        char b[CAPALLOC_DEC_MAX_TEXT];
        printf("%zu %s", k + 1, ps->st[k].p->hdr->name);
        for (size_t i = 0; i < n; i++)
            printf(" %s=%s", ids[i], dec_format(res[k].weights[i], 6, b, sizeof b));
        if (res[k].why)
            printf(" [fallback %s: %s]", res[k].fallback, res[k].why);
        if (res[k].note && res[k].note[0])
            printf(" {note: %s}", res[k].note);
        printf("\n");
    }
    if (rc != 0)
        fprintf(stderr, "%s\n", e.msg);
    stage_results_free(res, ps->n);
    free(res);
    policy_stack_close(ps);
    config_free(cfg);
    return rc;
}
