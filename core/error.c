/* error.c - filling a cap_error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int cap_fail(cap_error *e, cap_exit code, const char *fmt, ...)
{
    if (e != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return (int)code;
}
