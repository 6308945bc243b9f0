/*
 * policy_isolate.c - one policy stage in a child process.
 *
 * A policy is third-party code running inside the allocator. Each stage's
 * weights() runs in a fork()ed child: the child sets its address-space
 * limit (RLIMIT_AS, the stage's memory_mb), calls weights() on its copy of
 * the snapshot and writes the status, the error and the weights to a pipe,
 * then _exit()s without running atexit handlers or flushing stdio (the
 * parent's open storage connection is never touched). The parent waits at
 * most the stage's timeout_ms, then kills the child with SIGKILL. A child
 * that dies by a signal, hangs, runs out of memory or sends a short answer
 * fails the run with CAP_EXIT_PLUGIN naming the plugin and the stage; the
 * caller rolls back, so nothing is written.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy_stack.h"

/* What the child sends: this header, then n weights. */
typedef struct child_answer {
    int32_t status;
    capalloc_err err;
    char note[POLICY_NOTE_SIZE];
} child_answer;

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sanitizers reserve terabytes of address space for their shadow memory:
 * a build with them cannot limit a stage's address space. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

int isolate_memory_limited(void)
{
    return !SANITIZED;
}

static void run_child(const policy_stage *s, const capalloc_snapshot *snap,
                      capalloc_dec *w, int fd)
{
    if (!SANITIZED) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)s->memory_mb * 1024 * 1024;
        setrlimit(RLIMIT_AS, &rl);
    }
    child_answer a;
    memset(&a, 0, sizeof a);
    const capalloc_policy_plugin *pp =
        (const capalloc_policy_plugin *)s->p->hdr;
    a.status = (int32_t)pp->weights(s->p->state, snap, w, &a.err);
    if (snap->note != NULL && snap->note_size > 0)
        memcpy(a.note, snap->note,
               snap->note_size < sizeof a.note ? snap->note_size
                                               : sizeof a.note);
    int bad = write_all(fd, &a, sizeof a) ||
              write_all(fd, w, snap->n_portfolios * sizeof *w);
    _exit(bad ? 1 : 0);
}

int isolate_weights(const policy_stage *s, size_t index,
                    const capalloc_snapshot *snap, capalloc_dec *w,
                    capalloc_status *st, capalloc_err *err, cap_error *e)
{
    const char *name = s->p->hdr->name;
    size_t want = sizeof(child_answer) + snap->n_portfolios * sizeof *w;
    char *buf = malloc(want);
    int fds[2];
    if (buf == NULL)
        return cap_fail(e, CAP_EXIT_INTERNAL, "out of memory");
    if (pipe(fds) != 0) {
        free(buf);
        return cap_fail(e, CAP_EXIT_PLUGIN,
                        "policy stage %zu ('%s'): cannot create a pipe: %s",
                        index + 1, name, strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int en = errno;
        close(fds[0]);
        close(fds[1]);
        free(buf);
        return cap_fail(e, CAP_EXIT_PLUGIN,
                        "policy stage %zu ('%s'): cannot start its process: "
                        "%s",
                        index + 1, name, strerror(en));
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(s, snap, w, fds[1]);
    }
    close(fds[1]);

    size_t got = 0;
    int timed_out = 0;
    long long deadline = now_ms() + s->timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            break;
        if (pr == 0)
            continue;
        char sink[512];
        char *dst = got < want ? buf + got : sink;
        size_t room = got < want ? want - got : sizeof sink;
        ssize_t k = read(fds[0], dst, room);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* EOF: the child is done (or dead) */
        got += (size_t)k;
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    int rc = 0;
    if (timed_out) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "policy stage %zu ('%s') did not finish within its "
                      "time limit of %ld ms (timeout_ms) and was killed; "
                      "nothing was written",
                      index + 1, name, s->timeout_ms);
    } else if (WIFSIGNALED(wst)) {
        int sig = WTERMSIG(wst);
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "policy stage %zu ('%s') crashed (signal %d, %s; its "
                      "memory limit is %ld MB, memory_mb); nothing was "
                      "written",
                      index + 1, name, sig, strsignal(sig), s->memory_mb);
    } else if (got != want || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
        rc = cap_fail(e, CAP_EXIT_PLUGIN,
                      "policy stage %zu ('%s') exited (status %d) without "
                      "a complete answer (%zu of %zu bytes); nothing was "
                      "written",
                      index + 1, name,
                      WIFEXITED(wst) ? WEXITSTATUS(wst) : -1, got, want);
    } else {
        child_answer a;
        memcpy(&a, buf, sizeof a);
        memcpy(w, buf + sizeof a, snap->n_portfolios * sizeof *w);
        *st = (capalloc_status)a.status;
        *err = a.err;
        if (snap->note != NULL && snap->note_size > 0) {
            size_t k = snap->note_size < sizeof a.note ? snap->note_size
                                                       : sizeof a.note;
            memcpy(snap->note, a.note, k);
            snap->note[k - 1] = '\0';
        }
        err->key[sizeof err->key - 1] = '\0';
        err->msg[sizeof err->msg - 1] = '\0';
        if (*st == CAPALLOC_ERR_NOMEM)
            rc = cap_fail(e, CAP_EXIT_PLUGIN,
                          "policy stage %zu ('%s') ran out of memory (its "
                          "limit is %ld MB, memory_mb): %s; nothing was "
                          "written",
                          index + 1, name, s->memory_mb, err->msg);
    }
    free(buf);
    return rc;
}
