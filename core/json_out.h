/*
 * json_out.h - a streaming JSON writer into a growing buffer, for the
 * run's explanation: what jansson 2.14's json_dumps(v, JSON_PRESERVE_ORDER |
 * JSON_COMPACT) prints for the same values, byte for byte (no spaces, keys
 * in the order written, jansson's string escaping), without building the
 * objects first.
 *
 * Commas are automatic. Out of memory, or a key or string that jansson
 * would refuse (not valid UTF-8), makes the writer failed: every later call
 * does nothing and json_out_finish returns NULL.
 */
#ifndef CAPALLOC_JSON_OUT_H
#define CAPALLOC_JSON_OUT_H

#include <stddef.h>

typedef struct json_out {
    char *buf;
    size_t len, cap;
    int comma;  /* a value ended at this level: the next one needs a ',' */
    int failed;
} json_out;

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF, as jansson judges it), or 0. The
 * CLI's json_str and the report's html_str replace such a byte by U+FFFD
 * too (each with its own escaping). */
size_t json_utf8_len(const unsigned char *p);
/* 1 when the whole of s is well-formed UTF-8 (json_string accepts it). */
int json_utf8_valid(const char *s);

void json_out_init(json_out *o);
/* The text (the caller frees it), or NULL when the writer failed; either
 * way o is empty afterwards. */
char *json_out_finish(json_out *o);

void json_out_begin_object(json_out *o);
void json_out_end_object(json_out *o);
void json_out_begin_array(json_out *o);
void json_out_end_array(json_out *o);
/* A key of the object being written: valid UTF-8, else the writer fails
 * (jansson refuses such a key). */
void json_out_key(json_out *o, const char *k);
/* A string: valid UTF-8, else the writer fails (json_string refuses it). */
void json_out_string(json_out *o, const char *s);
/* Any text as a string that is always valid UTF-8: valid UTF-8 as is;
 * otherwise every byte >= 0x80 becomes U+FFFD. NULL is "". */
void json_out_text(json_out *o, const char *s);
void json_out_int(json_out *o, long long v);
void json_out_bool(json_out *o, int v);
/* A value already serialized (one complete JSON value), spliced as is. */
void json_out_raw(json_out *o, const char *json);

#endif
