/* tb_error.c — filling the engine's error struct (see tb_error.h). */
#include "tb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void tb_vfill(tb_error *err, tb_errcode code, const char *field, const char *fmt, va_list ap)
{
    if (!err) return;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int tb_fail(tb_error *err, tb_errcode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tb_vfill(err, code, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int tb_fail_field(tb_error *err, tb_errcode code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tb_vfill(err, code, field, fmt, ap);
    va_end(ap);
    return -1;
}

void tb_error_clear(tb_error *err)
{
    if (err) memset(err, 0, sizeof *err);
}
