/*
 * fuzz_config.c - libFuzzer harness for the YAML configuration: the input
 * is a capalloc.yaml. config_load() reads a path, so the input is written
 * to a memfd and loaded through /proc/self/fd/N: the real reading code
 * runs, file size checks included, and nothing touches the disk. When the
 * file is accepted, each plugin section's options are bound against a spec
 * with one option of every type (s, p, i, d, b, w: string, path, int,
 * decimal, bool, decimal map) and read back through the host's accessors,
 * so options.c is fuzzed on every shape the YAML can take as well.
 * Must never crash, leak (LeakSanitizer) or trip UBSan; an accepted file
 * must give the invariants config.h promises.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "options.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_config: check failed: %s (line %d)\n",     \
                    #cond, __LINE__);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

static const capalloc_option_spec specs[] = {
    {"s", CAPALLOC_OPT_STRING, 0, "x", "a string"},
    {"p", CAPALLOC_OPT_PATH, 0, "f.csv", "a path"},
    {"i", CAPALLOC_OPT_INT, 0, "3", "an int"},
    {"d", CAPALLOC_OPT_DECIMAL, 0, "1.5", "a decimal"},
    {"b", CAPALLOC_OPT_BOOL, 0, "false", "a bool"},
    {"w", CAPALLOC_OPT_DECIMAL_MAP, 0, NULL, "a decimal map"},
    {NULL, 0, 0, NULL, NULL}};

static int fd = -1;
static char path[64];

static void bind_section(const capalloc_config *c, const plugin_cfg *pc)
{
    capalloc_options *o = NULL;
    cap_error e = {0};
    if (options_bind(c, pc, "fuzz", specs, &o, &e) != 0) {
        CHECK(e.code != CAP_EXIT_OK && e.msg[0] != '\0');
        CHECK(o == NULL);
        return;
    }
    const char *s;
    int64_t i;
    capalloc_dec d;
    int b;
    CHECK(opt_string(o, "s", &s) && s != NULL);
    CHECK(opt_string(o, "p", &s) && s != NULL && s[0] == '/');
    CHECK(opt_int(o, "i", &i));
    CHECK(opt_decimal(o, "d", &d));
    CHECK(opt_bool(o, "b", &b) && (b == 0 || b == 1));
    size_t n = opt_map_count(o, "w");
    for (size_t k = 0; k < n; k++) {
        const char *key = NULL;
        CHECK(opt_map_entry(o, "w", k, &key, &d) && key != NULL);
    }
    char where[512];
    options_where(c, pc, o, "w.0", where, sizeof where);
    options_where(c, pc, o, "", where, sizeof where);
    options_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz_config.yaml", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        host_set_verbosity(CAPALLOC_LOG_ERROR);
    }
    if (ftruncate(fd, 0) != 0 ||
        (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("memfd write");
        abort();
    }
    capalloc_config *c = NULL;
    cap_error e = {0};
    int rc = config_load(path, &c, &e);
    if (rc != 0) {
        CHECK(c == NULL);
        CHECK(e.code == (cap_exit)rc && e.msg[0] != '\0');
        CHECK(strlen(e.msg) < sizeof e.msg);
        CHECK(strchr(e.msg, '\n') == NULL); /* messages are one line */
        return 0;
    }
    CHECK(c != NULL && c->master_id != NULL && c->master_id[0] != '\0');
    CHECK(c->currency != NULL && c->minor_units >= 0 && c->minor_units <= 6);
    CHECK(c->dir != NULL && c->dir[0] == '/');
    for (size_t k = 0; k < c->n_portfolios; k++)
        CHECK(c->portfolios[k] != NULL);
    bind_section(c, &c->storage);
    bind_section(c, &c->prices);
    bind_section(c, &c->policy);
    char where[256];
    config_where(c, 3, 7, where, sizeof where);
    config_free(c);
    return 0;
}
