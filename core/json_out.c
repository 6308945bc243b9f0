/*
 * json_out.c - the streaming JSON writer (json_out.h). The explanation of
 * a run at 10,000 strategies holds two maps of 10,000 entries; building them
 * as jansson objects, dumping and freeing them cost more than reading the
 * positions did. Writing the text directly costs a copy.
 */
#include "json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t json_utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

int json_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = json_utf8_len(p);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

void json_out_init(json_out *o)
{
    memset(o, 0, sizeof *o);
}

char *json_out_finish(json_out *o)
{
    char *s = o->buf;
    if (o->failed) {
        free(s);
        s = NULL;
    } else if (s == NULL) {
        s = calloc(1, 1); /* nothing written: "", not a failure */
    }
    memset(o, 0, sizeof *o);
    return s;
}

/* Room for n more bytes and the terminating NUL. */
static int reserve(json_out *o, size_t n)
{
    if (o->failed)
        return -1;
    if (o->cap - o->len > n)
        return 0;
    size_t cap = o->cap ? o->cap : 256;
    while (cap - o->len <= n) {
        if (cap > ((size_t)-1) / 2) {
            o->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *b = realloc(o->buf, cap);
    if (b == NULL) {
        o->failed = 1;
        return -1;
    }
    o->buf = b;
    o->cap = cap;
    return 0;
}

static void put(json_out *o, const char *s, size_t n)
{
    if (reserve(o, n) != 0)
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* Before a value or a key: the comma when one came before at this level. */
static void sep(json_out *o)
{
    if (o->comma)
        put(o, ",", 1);
    o->comma = 0;
}

/* s between quotes, escaped as jansson's dump_string does without
 * JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH: '"' '\\' and the control
 * characters only (0x7F, '/' and UTF-8 pass through); with repair, every
 * byte >= 0x80 is written as U+FFFD. */
static void put_string(json_out *o, const unsigned char *s, int repair)
{
    put(o, "\"", 1);
    const unsigned char *run = s; /* bytes that are copied as they are */
    for (const unsigned char *p = s;; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || !repair))
            continue;
        put(o, (const char *)run, (size_t)(p - run));
        run = p + 1;
        if (c == '\0')
            break;
        char esc[8];
        const char *t = esc;
        size_t n = 2;
        switch (c) {
        case '"': t = "\\\""; break;
        case '\\': t = "\\\\"; break;
        case '\b': t = "\\b"; break;
        case '\f': t = "\\f"; break;
        case '\n': t = "\\n"; break;
        case '\r': t = "\\r"; break;
        case '\t': t = "\\t"; break;
        default:
            if (c >= 0x80) {
                t = "\xef\xbf\xbd";
                n = 3;
            } else {
                snprintf(esc, sizeof esc, "\\u%04X", (unsigned)c);
                n = 6;
            }
        }
        put(o, t, n);
    }
    put(o, "\"", 1);
}

void json_out_begin_object(json_out *o)
{
    sep(o);
    put(o, "{", 1);
}

void json_out_end_object(json_out *o)
{
    put(o, "}", 1);
    o->comma = 1;
}

void json_out_begin_array(json_out *o)
{
    sep(o);
    put(o, "[", 1);
}

void json_out_end_array(json_out *o)
{
    put(o, "]", 1);
    o->comma = 1;
}

void json_out_key(json_out *o, const char *k)
{
    if (!json_utf8_valid(k)) {
        o->failed = 1;
        return;
    }
    sep(o);
    put_string(o, (const unsigned char *)k, 0);
    put(o, ":", 1);
}

void json_out_string(json_out *o, const char *s)
{
    if (!json_utf8_valid(s)) {
        o->failed = 1;
        return;
    }
    sep(o);
    put_string(o, (const unsigned char *)s, 0);
    o->comma = 1;
}

void json_out_text(json_out *o, const char *s)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    sep(o);
    put_string(o, u, !json_utf8_valid((const char *)u));
    o->comma = 1;
}

void json_out_int(json_out *o, long long v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", v);
    sep(o);
    put(o, b, (size_t)n);
    o->comma = 1;
}

void json_out_bool(json_out *o, int v)
{
    sep(o);
    put(o, v ? "true" : "false", v ? 4 : 5);
    o->comma = 1;
}

void json_out_raw(json_out *o, const char *json)
{
    sep(o);
    put(o, json, strlen(json));
    o->comma = 1;
}
