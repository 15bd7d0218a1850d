/* args.c — flag parsing and typed getters (see args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

int cli_parse(int argc, char **argv, const cli_flag *flags, cli_args *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2])
            return tb_fail_field(err, TB_EINVAL, a, "unexpected argument '%s' (flags look like --name value)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const cli_flag *f = NULL;
        for (const cli_flag *g = flags; g->name; g++)
            if (strlen(g->name) == nlen && !strncmp(g->name, name, nlen)) f = g;
        if (!f) return tb_fail_field(err, TB_EINVAL, a, "unknown flag --%.*s", (int)nlen, name);
        const char *val = "";
        if (f->has_value) {
            if (eq) val = eq + 1;
            else if (i + 1 < argc) val = argv[++i];
            else return tb_fail_field(err, TB_EINVAL, f->name, "flag --%s needs a value", f->name);
        } else if (eq) {
            return tb_fail_field(err, TB_EINVAL, f->name, "flag --%s takes no value", f->name);
        }
        if (!f->repeatable && cli_has(out, f->name))
            return tb_fail_field(err, TB_EINVAL, f->name, "flag --%s given twice", f->name);
        if (out->n == CLI_MAX_ARGS) return tb_fail(err, TB_EINVAL, "too many flags");
        out->name[out->n] = f->name;
        out->value[out->n] = val;
        out->n++;
    }
    return 0;
}

const char *cli_get(const cli_args *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->name[i], name)) v = a->value[i];
    return v;
}

int cli_has(const cli_args *a, const char *name) { return cli_get(a, name) != NULL; }

int cli_get_double(const cli_args *a, const char *name, double *out, tb_error *err)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno == ERANGE || !isfinite(x))
        return tb_fail_field(err, TB_EINVAL, name, "--%s: '%s' is not a finite number", name, v);
    *out = x;
    return 0;
}

int cli_get_u64(const cli_args *a, const char *name, uint64_t *out, tb_error *err)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno == ERANGE || v[0] == '-')
        return tb_fail_field(err, TB_EINVAL, name, "--%s: '%s' is not a non-negative integer", name, v);
    *out = x;
    return 0;
}

int cli_get_size(const cli_args *a, const char *name, size_t *out, tb_error *err)
{
    uint64_t x = 0;
    const char *v = cli_get(a, name);
    if (!v) return 0;
    if (cli_get_u64(a, name, &x, err)) return -1;
    if (x == 0 || x > 100000000ULL)
        return tb_fail_field(err, TB_EINVAL, name, "--%s must be between 1 and 100000000, got '%s'", name, v);
    *out = (size_t)x;
    return 0;
}

int cli_get_date(const cli_args *a, const char *name, int end_of_day, int64_t *out, tb_error *err)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    int64_t ts;
    if (tu_parse_date(v, &ts))
        return tb_fail_field(err, TB_EINVAL, name, "--%s: '%s' is not a date (YYYY-MM-DD)", name, v);
    *out = end_of_day ? ts + TU_DAY - 1 : ts;
    return 0;
}

int cli_report(const tb_error *err)
{
    fprintf(stderr, "tradebench: %s\n", err->msg);
    if (err->code == TB_EINVAL) return 2;
    return 1;
}
