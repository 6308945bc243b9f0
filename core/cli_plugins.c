/*
 * cli_plugins.c - `capalloc plugins`: the plugins the configuration loads.
 */
#include <stdio.h>

#include "cli.h"
#include "policy_stack.h"

static void print_plugin(const cli *c, const char *slot, const loaded_plugin *p,
                         int last)
{
    const capalloc_plugin_header *h = p->hdr;
    if (c->json) {
        printf("{\"slot\":\"%s\",\"name\":", slot);
        json_str(stdout, h->name);
        printf(",\"version\":");
        json_str(stdout, h->version);
        printf(",\"kind\":\"%s\",\"abi\":\"%u.%u\",\"path\":", kind_name(p->kind),
               h->abi_major, h->abi_minor);
        json_str(stdout, p->path);
        printf("}%s", last ? "" : ",");
        return;
    }
    printf("%-8s %s %s (%s, ABI %u.%u)\n         %s\n", slot, h->name, h->version,
           kind_name(p->kind), h->abi_major, h->abi_minor, p->path);
    if (h->description)
        printf("         %s\n", h->description);
    for (const capalloc_option_spec *o = h->options; o && o->name; o++)
        printf("         option %s%s%s%s%s\n", o->name,
               o->required ? " (required)" : "",
               o->default_value ? " [default " : "",
               o->default_value ? o->default_value : "",
               o->default_value ? "]" : "");
}

static int run_plugins(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int first;
    int rc = cli_parse(c, argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL, NULL,
                       &first);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (first < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[first]);
    engine *en;
    if ((rc = cli_open_engine(c, &en)))
        return rc;
    cap_error e = {0, ""};
    if ((rc = engine_policy_start(en, &e))) {
        engine_close(en);
        return cli_fail(c, rc, e.msg);
    }
    if (c->json)
        printf("{\"plugins\":[");
    print_plugin(c, "storage", en->storage, 0);
    print_plugin(c, "prices", en->prices, 0);
    /* every stage of the policy: "policy", or "policy[I]" in a stack */
    for (size_t i = 0; i < en->stack->n; i++) {
        char slot[32];
        snprintf(slot, sizeof slot, en->stack->n > 1 ? "policy[%zu]" : "policy",
                 i);
        print_plugin(c, slot, en->stack->st[i].p, i + 1 == en->stack->n);
    }
    if (c->json)
        printf("]}\n");
    engine_close(en);
    return 0;
}

const cli_command cli_cmd_plugins = {
    "plugins",
    "show the plugins the configuration loads",
    "capalloc plugins\n",
    "\n"
    "Loads the configuration and shows each plugin: name, version, kind,\n"
    "file and the options it takes (see capalloc.yaml(5)).\n",
    run_plugins,
};
