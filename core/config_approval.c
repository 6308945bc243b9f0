/*
 * config_approval.c - the `approval:` section of the configuration (README
 * "Plan, approve, apply"):
 *
 *   approval:
 *     required: 1     # approvers, other than the plan's preparer, a plan
 *                     # needs before `capalloc apply` writes it; 0 (the
 *                     # default): plain `allocate` runs unattended
 *     max_age: 24h    # a plan older than this is refused (s, m, h, d;
 *                     # default 24h)
 *
 * With required > 0 plain `allocate` makes no transfer (exit 11): plans
 * go through `allocate --plan-out`, `approve` and `apply`; `capital add
 * --deploy` and `reverse` are refused the same way (move.c). Unknown keys
 * are refused naming the file, line, column and key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define APPROVAL_MAX_REQUIRED 16

static int fail_at(const char *file, const cfg_node *n, const char *key,
                   const char *what, cap_error *e)
{
    return config_fail(e, file, n->line, n->col, key, "%s%s%.80s%s", what,
                       n->kind == CFG_SCALAR ? " (found '" : "",
                       n->kind == CFG_SCALAR ? n->value : "",
                       n->kind == CFG_SCALAR ? "')" : "");
}

/* "90s", "30m", "24h", "7d" (a bare number: seconds) into seconds. */
static int duration(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || errno != 0 || n <= 0 || v[0] == '+' || v[0] == ' ')
        return -1;
    long mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end != '\0' || n > 366L * 86400 / mul)
        return -1;
    *out = n * mul;
    return 0;
}

int config_approval(const char *file, const cfg_node *n, approval_cfg *out,
                    cap_error *e)
{
    approval_cfg a = {0, APPROVAL_DEFAULT_MAX_AGE};
    if (n->kind == CFG_SCALAR && n->plain &&
        (n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
         strcmp(n->value, "null") == 0)) {
        *out = a; /* an empty section: no approval needed */
        return 0;
    }
    if (n->kind != CFG_MAP)
        return fail_at(file, n, "approval",
                       "expected a mapping (required, max_age)", e);
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *v = n->items[i];
        const char *k = n->keys[i];
        char key[96];
        snprintf(key, sizeof key, "approval.%.40s", k);
        if (strcmp(k, "required") == 0) {
            char *end;
            long r = v->kind == CFG_SCALAR ? strtol(v->value, &end, 10) : -1;
            if (v->kind != CFG_SCALAR || v->value[0] == '\0' ||
                *end != '\0' || r < 0 || r > APPROVAL_MAX_REQUIRED)
                return fail_at(file, v, key,
                               "expected a number of approvers from 0 to 16",
                               e);
            a.required = (int)r;
        } else if (strcmp(k, "max_age") == 0) {
            if (v->kind != CFG_SCALAR || duration(v->value, &a.max_age) != 0)
                return fail_at(file, v, key,
                               "expected a positive duration up to a year: "
                               "a number with s, m, h or d (e.g. 24h)",
                               e);
        } else {
            return config_fail(e, file, n->key_lines[i], n->key_cols[i], key,
                               "unknown key (known: required, max_age)");
        }
    }
    *out = a;
    return 0;
}
