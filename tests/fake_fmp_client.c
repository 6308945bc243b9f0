/*
 * fake_fmp_client.c - see fake_fmp_client.h.
 */
#include "fake_fmp_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PYTHON3
#define PYTHON3 "python3"
#endif

pid_t fake_fmp_start(const char *const *args, const char *key,
                     const char *stderr_path, int *port, char *line,
                     size_t linelen)
{
    const char *argv[16] = {PYTHON3, TEST_SRCDIR "/tests/fake_fmp.py"};
    size_t n = 2;
    for (size_t i = 0; args && args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    line[0] = '\0';
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        if (stderr_path != NULL) {
            int fe = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fe >= 0)
                dup2(fe, 2);
        }
        setenv("FAKE_FMP_KEY", key, 1); /* the environment, not argv */
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    while (got < linelen - 1 && strchr(line, '\n') == NULL &&
           poll(&pfd, 1, 30000) > 0) {
        ssize_t r = read(fds[0], line + got, linelen - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
    }
    close(fds[0]);
    *port = 0;
    if (sscanf(line, "PORT %d", port) != 1 || *port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

void fake_fmp_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *d, size_t s, size_t n, void *u)
{
    buf *b = u;
    char *np = realloc(b->p, b->n + s * n + 1);
    if (np == NULL)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, d, s * n);
    b->n += s * n;
    b->p[b->n] = '\0';
    return s * n;
}

json_t *fake_fmp_ctl(int port, const char *path, const char *body, char *why,
                     size_t whylen)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, whylen, "curl_easy_init failed");
        return NULL;
    }
    buf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode cc = curl_easy_perform(c);
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_cleanup(c);
    json_t *j = NULL;
    if (cc == CURLE_OK && http == 200 && b.p != NULL)
        j = json_loads(b.p, 0, NULL);
    if (j == NULL)
        snprintf(why, whylen, "control %s %s: %s HTTP %ld %s", path,
                 body ? body : "", curl_easy_strerror(cc), http,
                 b.p ? b.p : "");
    free(b.p);
    return j;
}
