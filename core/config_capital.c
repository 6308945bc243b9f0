/*
 * config_capital.c - the `capital:` section of the configuration: how a
 * capital movement is booked. Off by default:
 *
 *   capital:
 *     deploy_on_add: true   # `capital add` spreads the ADD over the
 *                           # strategies at once (as --deploy; move.c),
 *                           # `capital add --no-deploy` keeps it in the
 *                           # master for the next allocation
 *
 * Unknown keys are refused, each error names the file, line, column and
 * key (capital.deploy_on_add) and the value.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

int config_capital(const char *file, const cfg_node *n, int *deploy_on_add,
                   cap_error *e)
{
    *deploy_on_add = 0;
    if (n->kind == CFG_SCALAR && n->plain &&
        (n->value[0] == '\0' || strcmp(n->value, "~") == 0 ||
         strcmp(n->value, "null") == 0))
        return 0; /* an empty section: the defaults */
    if (n->kind != CFG_MAP)
        return config_fail(e, file, n->line, n->col, "capital",
                           "expected a mapping (deploy_on_add)");
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *v = n->items[i];
        const char *k = n->keys[i];
        char key[96];
        snprintf(key, sizeof key, "capital.%.40s", k);
        if (strcmp(k, "deploy_on_add") != 0)
            return config_fail(e, file, n->key_lines[i], n->key_cols[i], key,
                               "unknown key (known: deploy_on_add)");
        if (v->kind != CFG_SCALAR ||
            (strcmp(v->value, "true") != 0 && strcmp(v->value, "false") != 0))
            return config_fail(e, file, v->line, v->col, key,
                               "expected true or false (found '%.80s')",
                               v->kind == CFG_SCALAR ? v->value : "");
        *deploy_on_add = strcmp(v->value, "true") == 0;
    }
    return 0;
}
