/*
 * fake_fmp_client.h - starting tests/fake_fmp.py and talking to its
 * control endpoints, shared by check_fmp (the tests) and bench_fmp (the
 * benchmark). Plain C and libcurl: each caller decides what a failure
 * means (a failed test, or a benchmark that stops).
 */
#ifndef CAPALLOC_FAKE_FMP_CLIENT_H
#define CAPALLOC_FAKE_FMP_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* Start the fake server with its options (NULL-terminated, e.g. "--prices",
 * path) and the key it expects in its environment (FAKE_FMP_KEY), never on
 * its command line; its stderr goes to stderr_path (NULL: inherited).
 * Waits up to 30 s for its "PORT n" line. Returns its pid with *port set,
 * or -1 with the line it printed (if any) in line (the process is reaped). */
pid_t fake_fmp_start(const char *const *args, const char *key,
                     const char *stderr_path, int *port, char *line,
                     size_t linelen);

/* Stop it (SIGTERM) and reap it. */
void fake_fmp_stop(pid_t pid);

/* GET (body NULL) or POST body to path on the server's loopback port: its
 * JSON answer, or NULL with why (at most whylen bytes) set. */
json_t *fake_fmp_ctl(int port, const char *path, const char *body, char *why,
                     size_t whylen);

#endif
