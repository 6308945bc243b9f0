/*
 * check_json_out.c - the streaming JSON writer (core/json_out.c) against
 * jansson 2.14, which wrote the run's explanation before it: strings byte
 * by byte, whole documents from random trees, and the explanation of real
 * runs against the jansson implementation it replaced (kept below as the
 * reference, as it was in core/run_plan.c).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "decimal.h"
#include "engine_int.h"
#include "json_out.h"
#include "options.h"
#include "policy_stack.h"
#include "testutil.h"

#define DUMP_FLAGS (JSON_PRESERVE_ORDER | JSON_COMPACT)

/* ------------------------------------------------------------------------ */
/* the reference: run_plan.c's explanation as jansson built it              */
/* ------------------------------------------------------------------------ */

/* A JSON string that is always valid UTF-8 (jansson refuses anything
 * else): invalid bytes become U+FFFD. */
static json_t *ref_jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j != NULL)
        return j;
    size_t n = strlen(s);
    char *c = malloc(3 * n + 1), *w = c;
    if (c == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x80) {
            *w++ = (char)*p;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
        }
    *w = '\0';
    j = json_string(c);
    free(c);
    return j;
}

static json_t *ref_jdec(capalloc_dec d, int places)
{
    char b[CAPALLOC_DEC_MAX_TEXT];
    return json_string(dec_format(d, places, b, sizeof b));
}

/* The options as written in the YAML: scalars as their text. */
static json_t *ref_jnode(const cfg_node *n)
{
    if (n == NULL)
        return json_object();
    if (n->kind == CFG_SCALAR)
        return ref_jstr(n->value);
    json_t *j = n->kind == CFG_MAP ? json_object() : json_array();
    for (size_t i = 0; j != NULL && i < n->n; i++) {
        json_t *c = ref_jnode(n->items[i]);
        int bad = c == NULL;
        if (!bad && n->kind == CFG_MAP) {
            json_t *k = ref_jstr(n->keys[i]);
            bad = k == NULL ||
                  json_object_set_new(j, json_string_value(k), c) != 0;
            json_decref(k);
        } else if (!bad) {
            bad = json_array_append_new(j, c) != 0;
        }
        if (bad) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static const char *ref_context_name(capalloc_call_context c)
{
    return c == CAPALLOC_CALL_RUN       ? "run"
           : c == CAPALLOC_CALL_DRY_RUN ? "dry_run"
                                        : "status";
}

/* One entry per policy stage: its plugin, options as given, the weights
 * after it, and, when it had not enough history, its fallback and why. */
static int ref_stages_json(const engine *en, const alloc_report *r,
                       json_t *stages)
{
    const policy_stack *ps = en->stack;
    for (size_t k = 0; k < r->n_stages && k < ps->n; k++) {
        const loaded_plugin *p = ps->st[k].p;
        const stage_result *sr = &r->stages[k];
        json_t *weights = json_object();
        int bad = weights == NULL;
        for (size_t i = 0; !bad && sr->weights != NULL && i < r->n; i++)
            bad = json_object_set_new(weights, r->strategies[i].id,
                                      ref_jdec(sr->weights[i], 0)) != 0;
        json_t *stage = bad ? NULL : json_object();
        if (stage == NULL) {
            json_decref(weights);
            return -1;
        }
        /* set_new steals its value even when it fails */
        bad = json_object_set_new(stage, "plugin", ref_jstr(p->hdr->name)) ||
              json_object_set_new(stage, "version", ref_jstr(p->hdr->version)) ||
              json_object_set_new(stage, "options", ref_jnode(p->pc->options)) ||
              json_object_set_new(stage, "weights", weights);
        if (!bad && sr->note != NULL && sr->note[0] != '\0')
            bad = json_object_set_new(stage, "note", ref_jstr(sr->note));
        if (!bad && sr->why != NULL) {
            json_t *fb = json_object();
            bad = fb == NULL ||
                  json_object_set_new(fb, "to", ref_jstr(sr->fallback)) ||
                  json_object_set_new(fb, "why", ref_jstr(sr->why)) ||
                  json_object_set_new(stage, "fallback", fb);
        }
        if (bad) {
            json_decref(stage);
            return -1;
        }
        if (json_array_append_new(stages, stage))
            return -1;
    }
    return 0;
}

/* The explanation of r: what an auditor reads with `capalloc explain`. */
static char *ref_explain_json(const engine *en, const alloc_report *r)
{
    const capalloc_config *cfg = en->cfg;
    const loaded_plugin *pol = en->policy;
    int mu = cfg->minor_units;
    json_t *root = json_object(), *policy = json_object(),
           *stages = json_array(), *totals = json_object(),
           *books = json_array(), *hist = json_object(),
           *accepted = json_array();
    int bad = root == NULL || policy == NULL || stages == NULL ||
              totals == NULL || books == NULL || hist == NULL ||
              accepted == NULL;
    const cfg_node *opts = pol->pc->options; /* the first stage's */
    /* every stage's weights: the last stage's are the policy's own, before
     * the rebalance rules (their effects: the "rebalance" section) */
    bad = bad || ref_stages_json(en, r, stages) != 0;
    for (size_t i = 0; !bad && i < r->n_new_books; i++)
        bad = json_array_append_new(books, ref_jstr(r->new_books[i])) != 0;
    /* the --accept-nav the run's NAVs needed (alloc.h rule 6) */
    for (size_t i = 0; !bad && i < r->n; i++) {
        const alloc_strategy *s = &r->strategies[i];
        if (s->nav_accepted && alloc_nav_needs_accept(s))
            bad = json_array_append_new(accepted, ref_jstr(s->id)) != 0;
    }
    const alloc_totals *t = &r->totals;
    bad = bad ||
          json_object_set_new(policy, "plugin", ref_jstr(pol->hdr->name)) ||
          json_object_set_new(policy, "version", ref_jstr(pol->hdr->version)) ||
          json_object_set_new(policy, "path", ref_jstr(pol->path)) ||
          json_object_set_new(policy, "options", ref_jnode(opts)) ||
          json_object_set_new(hist, "points_wanted",
                              json_integer(en->history_points)) ||
          json_object_set_new(hist, "points_given",
                              json_integer((json_int_t)r->history_points)) ||
          json_object_set_new(hist, "recorded", json_boolean(en->memory)) ||
          json_object_set_new(totals, "total_equity",
                              ref_jdec(t->total_equity, mu)) ||
          json_object_set_new(totals, "master_positions",
                              ref_jdec(t->master_positions, mu)) ||
          json_object_set_new(totals, "master_before",
                              ref_jdec(t->master_before, mu)) ||
          json_object_set_new(totals, "master_after",
                              ref_jdec(t->master_after, mu)) ||
          json_object_set_new(totals, "returned", ref_jdec(t->returned, mu)) ||
          json_object_set_new(totals, "funded", ref_jdec(t->funded, mu)) ||
          json_object_set_new(totals, "wanted", ref_jdec(t->wanted, mu)) ||
          json_object_set_new(totals, "scaled", json_boolean(t->scaled)) ||
          json_object_set_new(totals, "transfers",
                              json_integer((json_int_t)t->n_transfers)) ||
          json_object_set_new(root, "capalloc_version",
                              json_string(PACKAGE_VERSION)) ||
          json_object_set_new(root, "run_date", ref_jstr(r->run_date)) ||
          json_object_set_new(root, "forced", json_boolean(r->forced)) ||
          json_object_set_new(root, "context",
                              json_string(ref_context_name(r->context))) ||
          json_object_set_new(root, "currency", ref_jstr(cfg->currency)) ||
          json_object_set_new(root, "master", ref_jstr(cfg->master_id)) ||
          json_object_set_new(root, "policy", policy) ||
          json_object_set_new(root, "stages", stages) ||
          json_object_set_new(root, "history", hist) ||
          json_object_set_new(root, "totals", totals) ||
          json_object_set_new(root, "new_books", books) ||
          json_object_set_new(root, "accepted_nav", accepted) ||
          (r->rules_on &&
           json_object_set_new(root, "rebalance", run_rules_json(en, r))) ||
          (r->n_reds > 0 &&
           json_object_set_new(root, "redemptions", run_redemptions_json(en, r))) ||
          (r->n_accepted > 0 &&
           json_object_set_new(root, "accepted_moves", run_guard_json(en, r)));
    char *out = bad ? NULL
                    : json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (bad) {
        /* set_new steals even on failure; free what was never attached */
        json_decref(root);
        return NULL;
    }
    json_decref(root);
    return out;
}

/* ------------------------------------------------------------------------ */
/* strings                                                                   */
/* ------------------------------------------------------------------------ */

/* What jansson prints for j (NULL: jansson refused the value). */
static char *dump(json_t *j)
{
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, DUMP_FLAGS | JSON_ENCODE_ANY);
    json_decref(j);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void same(const char *want, char *got, const char *what, size_t len,
                 const unsigned char *in)
{
    char hex[200] = "";
    for (size_t i = 0; i < len && i < 60; i++)
        snprintf(hex + 3 * i, sizeof hex - 3 * i, "%02x ", in[i]);
    if (want == NULL || got == NULL)
        ck_assert_msg(want == NULL && got == NULL,
                      "%s of [%s]: jansson %s, the writer %s", what, hex,
                      want ? want : "(refused)", got ? got : "(failed)");
    else
        ck_assert_msg(strcmp(want, got) == 0,
                      "%s of [%s]: jansson '%s', the writer '%s'", what, hex,
                      want, got);
}

/* s (NUL-terminated, len bytes) through every string path of the writer
 * and of jansson: the repairing text (the explanation's rule), a plain
 * string and an object key (both refused unless valid UTF-8). */
static void check_string(const unsigned char *s, size_t len)
{
    const char *c = (const char *)s;
    json_out o;

    char *want = dump(ref_jstr(c));
    json_out_init(&o);
    json_out_text(&o, c);
    char *got = json_out_finish(&o);
    same(want, got, "text", len, s);
    free(want);
    free(got);

    want = dump(json_string(c));
    json_out_init(&o);
    json_out_string(&o, c);
    got = json_out_finish(&o);
    same(want, got, "string", len, s);
    ck_assert_int_eq(json_utf8_valid(c), want != NULL);
    free(want);
    free(got);

    json_t *obj = json_object();
    want = json_object_set_new(obj, c, json_integer(1)) == 0 ? dump(obj)
                                                              : NULL;
    if (want == NULL)
        json_decref(obj);
    json_out_init(&o);
    json_out_begin_object(&o);
    json_out_key(&o, c);
    json_out_int(&o, 1);
    json_out_end_object(&o);
    got = json_out_finish(&o);
    same(want, got, "key", len, s);
    free(want);
    free(got);
}

/* bytes b between ASCII on both sides, and alone */
static void check_bytes(const char *b, size_t n)
{
    unsigned char buf[64];
    ck_assert_uint_lt(n + 3, sizeof buf);
    memcpy(buf, b, n);
    buf[n] = '\0';
    check_string(buf, n);
    buf[0] = 'a';
    memcpy(buf + 1, b, n);
    buf[n + 1] = 'z';
    buf[n + 2] = '\0';
    check_string(buf, n + 2);
}

START_TEST(every_byte)
{
    for (int b = 1; b <= 0xFF; b++) {
        char c = (char)b;
        check_bytes(&c, 1);
    }
}
END_TEST

/* every pair of bytes: each 2-byte sequence, and each lead byte followed
 * by each other byte (truncated and broken sequences) */
START_TEST(every_byte_pair)
{
    for (int a = 1; a <= 0xFF; a++)
        for (int b = 1; b <= 0xFF; b++) {
            char c[2] = {(char)a, (char)b};
            check_bytes(c, 2);
        }
}
END_TEST

static size_t utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Every code point of the BMP encoded (surrogates included: invalid), and
 * every 61st above it, with the last one and the first beyond. */
START_TEST(code_points)
{
    char b[4];
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp += cp < 0x10000 ? 1 : 61)
        check_bytes(b, utf8(cp, b));
    check_bytes(b, utf8(0x10FFFF, b));
    check_bytes(b, utf8(0x110000, b));
    check_bytes(b, utf8(0x1FFFFF, b));
}
END_TEST

START_TEST(edge_sequences)
{
    static const char *const seq[] = {
        "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
        /* overlong */
        "\xc0\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
        /* surrogates, beyond U+10FFFF, never a lead byte */
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\x9f\xbf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
        /* truncated, at the end and before ASCII */
        "\xc2", "\xe0\xa0", "\xf0\x90\x80", "\xf4\x8f\xbf",
        "\xe0\xa0" "a", "\xf0\x90\x80" "\"",
        /* lone continuation bytes; valid around invalid; U+FFFD itself */
        "\x80", "\xbf", "\xc3\xa9\x80", "\x80\xc3\xa9", "\xef\xbf\xbd",
        "\xef\xbf\xbd\xff",
        /* the escapes, '/' and DEL around UTF-8 */
        "\"\\/\b\f\n\r\t\x01\x1f\x7f", "\xc3\xa9\n\xe2\x82\xac\\"};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++)
        check_bytes(seq[i], strlen(seq[i]));
}
END_TEST

/* xorshift: the same sequence on every machine */
static uint64_t rnd_state;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state >> 11);
}

/* Up to max bytes: ASCII, control characters, random bytes and valid
 * sequences of every length, mixed. */
static size_t random_bytes(unsigned char *b, size_t max)
{
    size_t n = 0, want = rnd() % (max - 4);
    while (n < want) {
        uint32_t k = rnd() % 10;
        if (k < 3)
            b[n++] = (unsigned char)(0x20 + rnd() % 0x60);
        else if (k < 4)
            b[n++] = (unsigned char)(1 + rnd() % 0x1F);
        else if (k < 6)
            b[n++] = (unsigned char)(0x80 + rnd() % 0x80);
        else {
            static const uint32_t top[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
            uint32_t cp = 1 + rnd() % top[rnd() % 4];
            n += utf8(cp, (char *)b + n);
        }
    }
    b[n] = '\0';
    return n;
}

START_TEST(random_strings)
{
    rnd_state = 0x9E3779B97F4A7C15u;
    unsigned char b[40];
    for (int i = 0; i < 20000; i++) {
        size_t n = random_bytes(b, sizeof b - 4);
        check_string(b, n);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* documents                                                                 */
/* ------------------------------------------------------------------------ */

/* A random value, built both ways at once: into jansson (returned) and
 * into the writer. Keys are unique in their object (jansson would keep
 * one entry per key); a third of the strings are not UTF-8 (the repairing
 * text); some values are spliced in as jansson's own text. */
static json_t *random_value(json_out *o, int depth)
{
    uint32_t k = rnd() % (depth > 0 ? 9 : 5);
    unsigned char b[40];
    if (k == 0) {
        long long v = (long long)(((uint64_t)rnd() << 32 | rnd()) >>
                                  (rnd() % 64));
        v = rnd() % 2 ? -v : v;
        json_out_int(o, v);
        return json_integer(v);
    }
    if (k == 1) {
        int v = (int)(rnd() % 2);
        json_out_bool(o, v);
        return json_boolean(v);
    }
    if (k <= 3) {
        random_bytes(b, sizeof b - 4);
        json_out_text(o, (const char *)b);
        return ref_jstr((const char *)b);
    }
    if (k == 4) {
        json_out_string(o, "0.000900");
        return json_string("0.000900");
    }
    if (k == 5) { /* raw: a subtree as jansson wrote it */
        json_out scratch;
        json_out_init(&scratch);
        json_t *sub = random_value(&scratch, depth - 1);
        free(json_out_finish(&scratch));
        char *text = json_dumps(sub, DUMP_FLAGS | JSON_ENCODE_ANY);
        json_out_raw(o, text);
        free(text);
        return sub;
    }
    uint32_t n = rnd() % 6;
    if (k <= 6) {
        json_t *a = json_array();
        json_out_begin_array(o);
        for (uint32_t i = 0; i < n; i++)
            json_array_append_new(a, random_value(o, depth - 1));
        json_out_end_array(o);
        return a;
    }
    json_t *obj = json_object();
    json_out_begin_object(o);
    for (uint32_t i = 0; i < n; i++) {
        char key[64];
        random_bytes(b, 24);
        json_t *kj = ref_jstr((const char *)b); /* a valid key */
        snprintf(key, sizeof key, "%s#%u", json_string_value(kj), i);
        json_decref(kj);
        json_out_key(o, key);
        json_object_set_new(obj, key, random_value(o, depth - 1));
    }
    json_out_end_object(o);
    return obj;
}

START_TEST(random_documents)
{
    rnd_state = 0x2545F4914F6CDD1Du;
    for (int i = 0; i < 3000; i++) {
        json_out o;
        json_out_init(&o);
        json_t *j = random_value(&o, 1 + i % 5);
        char *got = json_out_finish(&o);
        char *want = dump(j);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(strcmp(want, got) == 0,
                      "document %d:\njansson    %s\nthe writer %s", i, want,
                      got);
        free(want);
        free(got);
    }
}
END_TEST

START_TEST(empty_and_failed)
{
    json_out o;
    json_out_init(&o);
    char *s = json_out_finish(&o);
    ck_assert_str_eq(s, "");
    free(s);
    /* a refused key fails the whole document, as jansson's set did */
    json_out_init(&o);
    json_out_begin_object(&o);
    json_out_key(&o, "\xff");
    json_out_int(&o, 1);
    json_out_end_object(&o);
    ck_assert_ptr_null(json_out_finish(&o));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* the explanation of real runs                                              */
/* ------------------------------------------------------------------------ */

static void run_cli(const char *a1, const char *a2, const char *a3,
                    const char *a4, const char *a5)
{
    char cfg[PATH_MAX], out[4096], err[4096];
    tu_path(cfg, sizeof cfg, "c.yaml");
    const char *argv[] = {CAPALLOC_BIN, "-c", cfg, a1, a2, a3, a4, a5, NULL};
    int rc = tu_run(argv, out, sizeof out, err, sizeof err);
    ck_assert_msg(rc == 0, "capalloc %s %s: exit %d: %s", a1, a2, rc, err);
}

/* One allocation through the engine: its explanation must be the
 * reference's, byte for byte. */
static void explain_same(const char *date, int force, int dry_run,
                         int status, const char *want_in)
{
    char cfg[PATH_MAX];
    tu_path(cfg, sizeof cfg, "c.yaml");
    engine *en = NULL;
    cap_error e = {0, ""};
    ck_assert_msg(engine_open(cfg, &en, &e) == 0, "open: %s", e.msg);
    alloc_report r;
    int rc = status ? engine_status(en, date, &r, &e)
                    : engine_allocate(en, date, force, dry_run, &r, &e);
    ck_assert_msg(rc == 0, "allocate %s: %s", date, e.msg);
    ck_assert_ptr_nonnull(r.detail_json);
    char *want = ref_explain_json(en, &r);
    ck_assert_ptr_nonnull(want);
    size_t at = 0; /* the first byte that differs; Check's messages are
                      short: show 120 bytes from a little before it */
    while (want[at] != '\0' && want[at] == r.detail_json[at])
        at++;
    size_t from = at > 40 ? at - 40 : 0;
    ck_assert_msg(want[at] == r.detail_json[at],
                  "explanation differs at byte %zu:\nreference  ...%.120s\n"
                  "the writer ...%.120s",
                  at, want + from, r.detail_json + from);
    ck_assert_has(r.detail_json, want_in);
    free(want);
    alloc_report_free(&r);
    engine_close(en);
}

/* The plugins copied into a folder whose name is control characters and
 * bytes that are not UTF-8: the policy's path in the explanation. */
static void odd_plugin_dir(void)
{
    char dir[PATH_MAX], cmd[3 * PATH_MAX];
    tu_path(dir, sizeof dir, "pl\x01\t\"\\\x7f\xc3\xa9\x80\xff");
    snprintf(cmd, sizeof cmd,
             "mkdir '%s' && cp '%s'/policies/.libs/*.so '%s'/plugins/.libs/"
             "file.so '%s'/plugins/.libs/sqlite.so '%s'",
             dir, TEST_BUILDDIR, TEST_BUILDDIR, TEST_BUILDDIR, dir);
    ck_assert_int_eq(system(cmd), 0);
    setenv("CAPALLOC_PLUGIN_DIR", dir, 1);
}

/* Odd ids (quotes, backslash, slash, UTF-8 of every length, U+0080,
 * U+FFFD), a second stage that falls back, options with control
 * characters, the rebalance rules, new books, a redemption, each context
 * (run, dry run, status), a forced run again. */
START_TEST(explain_of_runs)
{
    tu_mkdir("json-out");
    odd_plugin_dir();
    tu_write_file(
        "c.yaml",
        "master_portfolio_id: \"0\"\n"
        "currency: USD\n"
        "storage: {plugin: sqlite, options: {path: fund.db}}\n"
        "prices: {plugin: file, options: {path: prices.csv}}\n"
        "policy:\n"
        "  - plugin: fixed_weight\n"
        "    options:\n"
        "      weights:\n"
        "        \"\\u00e9\": 0.1\n"
        "        \"q\\\"uote\": 0.1\n"
        "        \"back\\\\slash\": 0.1\n"
        "        \"a/b\": 0.1\n"
        "        \"\\u65e5\\u672c\": 0.1\n"
        "        \"\\U0001F642\": 0.1\n"
        "        \"\\u0080x\": 0.1\n"
        "        \"\\uFFFD\": 0.1\n"
        "  - plugin: %s/tests/plugins/.libs/bad_policy.so\n"
        "    options:\n"
        "      mode: nodata\n"
        "      command: \"\\x01\\t\\n\\\"\\\\/\\x7f \\u00e9 \\u2028 \\x1f\"\n"
        "rebalance:\n"
        "  cash_buffer: 0.5\n",
        TEST_BUILDDIR);
    tu_write_file("prices.csv", "ticker,price\nAAA,10.00\nBBB,3.25\n");
    tu_write_file("positions.csv",
                  "portfolio_id,ticker,quantity\n"
                  "\xc3\xa9,AAA,10\n"
                  "\xe6\x97\xa5\xe6\x9c\xac,BBB,7.5\n");
    run_cli("capital", "add", "1000000", NULL, NULL);
    run_cli("positions", "import", "positions.csv", NULL, NULL);
    /* the path repaired: every byte >= 0x80 of it is U+FFFD */
    explain_same("2025-01-02", 0, 1, 0,
                 "pl\\u0001\\t\\\"\\\\\x7f\xef\xbf\xbd\xef\xbf\xbd"
                 "\xef\xbf\xbd\xef\xbf\xbd/fixed_weight.so");
    explain_same("2025-01-02", 0, 1, 0, "\"new_books\":[\"");
    explain_same("2025-01-02", 0, 1, 0,
                 "\"command\":\"\\u0001\\t\\n\\\"\\\\/\x7f \xc3\xa9 "
                 "\xe2\x80\xa8 \\u001F\"");
    explain_same("2025-01-02", 0, 0, 0, "\"rebalance\":");
    explain_same("2025-01-02", 0, 0, 1, "\"context\":\"status\"");
    tu_write_file("prices.csv", "ticker,price\nAAA,12.00\nBBB,3.00\n");
    run_cli("capital", "withdraw", "--queue", "1000", NULL);
    explain_same("2025-01-02", 1, 0, 0, "\"redemptions\":");
    explain_same("2025-01-03", 0, 0, 0, "\"fallback\":{\"to\":");
    unsetenv("CAPALLOC_PLUGIN_DIR");
    tu_rmdir();
}
END_TEST

/* The short form: options the config synthesized, one stage. */
START_TEST(explain_of_short_form)
{
    tu_mkdir("json-out");
    setenv("CAPALLOC_PLUGIN_DIR",
           TEST_BUILDDIR "/policies/.libs:" TEST_BUILDDIR "/plugins/.libs", 1);
    tu_write_file("c.yaml",
                  "master_portfolio_id: m\n"
                  "currency: JPY\n"
                  "storage: {plugin: sqlite, options: {path: fund.db}}\n"
                  "prices: {plugin: file, options: {path: prices.csv}}\n"
                  "portfolio_weights: {s1: 0.25, s2: 0.5}\n");
    tu_write_file("prices.csv", "ticker,price\n");
    run_cli("capital", "add", "1234567", NULL, NULL);
    explain_same("2025-02-03", 0, 0, 0, "\"options\":{\"weights\":");
    explain_same("2025-02-04", 0, 0, 0, "\"new_books\":[]");
    unsetenv("CAPALLOC_PLUGIN_DIR");
    tu_rmdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_out");
    TCase *tc = tcase_create("strings");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_byte);
    tcase_add_test(tc, every_byte_pair);
    tcase_add_test(tc, code_points);
    tcase_add_test(tc, edge_sequences);
    tcase_add_test(tc, random_strings);
    suite_add_tcase(s, tc);
    tc = tcase_create("documents");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_documents);
    tcase_add_test(tc, empty_and_failed);
    suite_add_tcase(s, tc);
    tc = tcase_create("explain");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, explain_of_runs);
    tcase_add_test(tc, explain_of_short_form);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
