/* tb_error.h — the engine's one error shape.
 * Every fallible engine function takes a `tb_error *` and fills it on failure
 * (code + human message naming the flag, file, line or parameter at fault).
 * The engine never prints and never exits: callers decide what to do. */
#ifndef TB_ERROR_H
#define TB_ERROR_H

typedef enum {
    TB_OK = 0,
    TB_EINVAL = 2,   /* bad input or bad usage: the CLI exits 2, the API answers 4xx */
    TB_EIO = 3,      /* file or system failure */
    TB_ECANCEL = 4,  /* the caller asked to stop */
    TB_EINTERNAL = 5 /* a bug or an unexpected state */
} tb_errcode;

typedef struct tb_error {
    tb_errcode code;   /* TB_OK when no error */
    char field[64];    /* the parameter/flag at fault, "" when none */
    char msg[512];     /* short factual message */
} tb_error;

/* Fill *err (when err != NULL) and return -1, so callers can `return tb_fail(...)`. */
int tb_fail(tb_error *err, tb_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, naming the field/parameter at fault. */
int tb_fail_field(tb_error *err, tb_errcode code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tb_error_clear(tb_error *err);

#endif
