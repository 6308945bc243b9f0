/*
 * testutil.c - see testutil.h.
 */
#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char tu_dir[PATH_MAX];

void tu_mkdir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(tu_dir, sizeof tu_dir, "%s/capalloc-%s-XXXXXX",
                     tmp && *tmp ? tmp : "/tmp", tag);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof tu_dir, "TMPDIR too long");
    ck_assert_msg(mkdtemp(tu_dir) != NULL, "mkdtemp %s failed", tu_dir);
}

void tu_rmdir(void)
{
    if (tu_dir[0] == '\0')
        return;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", tu_dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        fprintf(stderr, "could not remove %s\n", tu_dir);
    tu_dir[0] = '\0';
}

void tu_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", tu_dir, name);
    ck_assert_msg(n >= 0 && (size_t)n < len, "path too long: %s/%s", tu_dir,
                  name);
}

void tu_write_file(const char *name, const char *fmt, ...)
{
    char path[PATH_MAX];
    tu_path(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    ck_assert_int_eq(fclose(f), 0);
}

void tu_slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

int tu_run(const char *const *argv, char *out, size_t outlen, char *err,
           size_t errlen)
{
    char po[PATH_MAX], pe[PATH_MAX];
    tu_path(po, sizeof po, ".out");
    tu_path(pe, sizeof pe, ".err");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || chdir(tu_dir) != 0)
            _exit(127);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(126);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    tu_slurp(po, out, outlen);
    tu_slurp(pe, err, errlen);
    ck_assert_msg(WIFEXITED(status), "%s died: %s", argv[0], err);
    return WEXITSTATUS(status);
}
