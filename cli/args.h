/* args.h — the command line's flag parser: `--name value` / `--name=value`
 * pairs checked against a command's table of allowed flags. Errors name the
 * flag and map to exit status 2 (SPEC §12). Values point into argv. */
#ifndef TB_CLI_ARGS_H
#define TB_CLI_ARGS_H
#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"

#define CLI_MAX_ARGS 64

typedef struct cli_flag {
    const char *name;  /* without the leading "--" */
    int has_value;     /* 0: a switch */
    int repeatable;    /* may be given several times (e.g. --param) */
} cli_flag;

typedef struct cli_args {
    size_t n;
    const char *name[CLI_MAX_ARGS];
    const char *value[CLI_MAX_ARGS]; /* "" for switches */
} cli_args;

/* Parse argv[0..argc) against flags (terminated by a {NULL} entry). */
int cli_parse(int argc, char **argv, const cli_flag *flags, cli_args *out, tb_error *err);
/* Last value of a flag, or NULL. */
const char *cli_get(const cli_args *a, const char *name);
int cli_has(const cli_args *a, const char *name);
/* Typed getters: leave *out untouched when the flag is absent; error names the flag. */
int cli_get_double(const cli_args *a, const char *name, double *out, tb_error *err);
int cli_get_size(const cli_args *a, const char *name, size_t *out, tb_error *err);
int cli_get_u64(const cli_args *a, const char *name, uint64_t *out, tb_error *err);
/* A YYYY-MM-DD date; end_of_day adds 23:59:59 (inclusive end for intraday). */
int cli_get_date(const cli_args *a, const char *name, int end_of_day, int64_t *out, tb_error *err);

/* Print the error as "tradebench: <msg>" and return the exit status for it. */
int cli_report(const tb_error *err);

#endif
