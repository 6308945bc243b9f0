/*
 * testutil.h - what the suites that run the capalloc binary share: a
 * temporary folder per test, files in it, and running a program there
 * with its output captured.
 *
 * Every helper fails the current Check test (ck_assert) rather than
 * returning an error.
 */
#ifndef CAPALLOC_TESTUTIL_H
#define CAPALLOC_TESTUTIL_H

#include <limits.h>
#include <stddef.h>

/* The current test's folder (tu_mkdir sets it). */
extern char tu_dir[PATH_MAX];

/* Make a fresh folder $TMPDIR/capalloc-TAG-XXXXXX (TMPDIR default /tmp). */
void tu_mkdir(const char *tag);
/* Remove it and all it holds. */
void tu_rmdir(void);

/* buf = tu_dir/name; a path that does not fit fails the test. */
void tu_path(char *buf, size_t len, const char *name);

/* Write tu_dir/name from a printf format. */
__attribute__((format(printf, 2, 3))) void tu_write_file(const char *name,
                                                         const char *fmt, ...);

/* Read a file into buf as a string (at most len - 1 bytes); a missing file
 * reads as "". */
void tu_slurp(const char *path, char *buf, size_t len);

/* Run argv (argv[0] is the program's path) in tu_dir, stdout and stderr
 * captured into out and err as strings; the exit code. A program that
 * does not exit (a signal) fails the test. */
int tu_run(const char *const *argv, char *out, size_t outlen, char *err,
           size_t errlen);

#define ck_assert_has(hay, needle)                                           \
    do {                                                                     \
        const char *hay_ = (hay), *needle_ = (needle);                       \
        ck_assert_msg(strstr(hay_, needle_) != NULL,                         \
                      "expected \"%s\" in \"%s\"", needle_, hay_);           \
    } while (0)

#endif
