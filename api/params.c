/*
 * params — strict parsing of path and query parameters into typed values.
 * Strictness is the point: "12abc", "+12", " 12", "0" and 20-digit ids are
 * all rejected with the field named, so no handler ever sees a half-parsed
 * number, and a misspelt query argument is an error, not silently ignored.
 */
#include "params.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Decimal digits only, no sign or spaces, value in [lo, hi]. */
static int params_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

void params_reply_invalid(struct http_reply *rep, const char *field, const char *fmt, ...)
{
    struct problem p;
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    problem_set(&p, PROBLEM_VALIDATION, "%s: %s", field, msg);
    problem_add_error(&p, field, "%s", msg);
    http_reply_problem(rep, &p);
}

int params_id(const struct http_request *req, struct http_reply *rep, const char *name,
              int64_t *out)
{
    const char *v = http_param(req, name);
    if (!v || params_parse_int(v, 1, INT64_MAX, out) < 0) {
        /* Not an id at all: no such resource (ids are positive integers). */
        http_reply_error(rep, PROBLEM_NOT_FOUND,
                         "no run with %s '%.40s' (%s must be a positive integer)", name,
                         v ? v : "", name);
        return -1;
    }
    return 0;
}

int params_query_known(const struct http_request *req, struct http_reply *rep,
                       const char *const *known)
{
    char bad[64];
    if (!http_query_unknown(req, known, bad, sizeof bad))
        return 0;
    char list[256] = "";
    for (size_t i = 0; known[i]; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", known[i]);
    }
    params_reply_invalid(rep, bad, "unknown query parameter (known: %s)",
                         list[0] ? list : "none");
    return -1;
}

int params_limit(const struct http_request *req, struct http_reply *rep, int def, int max,
                 int *out)
{
    const char *v = http_query(req, "limit");
    int64_t n;
    if (!v) {
        *out = def;
        return 0;
    }
    if (params_parse_int(v, 1, max, &n) < 0) {
        params_reply_invalid(rep, "limit", "must be an integer in [1, %d]", max);
        return -1;
    }
    *out = (int)n;
    return 0;
}

int params_enum(const struct http_request *req, struct http_reply *rep, const char *name,
                const char *const *allowed, const char **out)
{
    const char *v = http_query(req, name);
    *out = NULL;
    if (!v)
        return 0;
    for (size_t i = 0; allowed[i]; i++) {
        if (strcmp(allowed[i], v) == 0) {
            *out = v;
            return 0;
        }
    }
    char list[256] = "";
    for (size_t i = 0; allowed[i]; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", allowed[i]);
    }
    params_reply_invalid(rep, name, "must be one of %s", list);
    return -1;
}

int params_string(const struct http_request *req, struct http_reply *rep, const char *name,
                  size_t maxlen, const char **out)
{
    const char *v = http_query(req, name);
    *out = NULL;
    if (!v)
        return 0;
    if (!*v || strlen(v) > maxlen) {
        params_reply_invalid(rep, name, "must be 1 to %zu characters", maxlen);
        return -1;
    }
    *out = v;
    return 0;
}

int params_wants_csv(const struct http_request *req, struct http_reply *rep)
{
    const char *f = http_query(req, "format");
    if (f) {
        if (strcmp(f, "csv") == 0)
            return 1;
        if (strcmp(f, "json") == 0)
            return 0;
        params_reply_invalid(rep, "format", "must be csv or json");
        return -1;
    }
    const char *accept = http_header(req, "Accept");
    return http_accept_quality(accept, "text/csv") > http_accept_quality(accept, "application/json");
}

void params_reply_js_errors(struct http_reply *rep, const js_errors *errs)
{
    struct problem p;
    size_t n = errs->n;
    problem_set(&p, PROBLEM_VALIDATION, "%zu invalid field%s: %s: %s%s", n, n == 1 ? "" : "s",
                n && errs->e[0].field[0] ? errs->e[0].field : "body",
                n ? errs->e[0].message : "", n > 1 ? " (and more in errors[])" : "");
    for (size_t i = 0; i < n; i++)
        problem_add_error(&p, errs->e[i].field[0] ? errs->e[i].field : "body", "%s",
                          errs->e[i].message);
    http_reply_problem(rep, &p);
}
