/*
 * router — match (method, path) against a route table that is plain data:
 * {method, pattern, handler} rows with "{name}" segments as path params.
 * Pure and allocation-free: params point into the caller's path string.
 * Knows nothing of MHD; the handler type is opaque to it.
 */
#ifndef TB_ROUTER_H
#define TB_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 4

struct http_request;
struct http_reply;
/* A route handler: reads req, fills rep (see http.h). */
typedef void (*route_handler_fn)(const struct http_request *req, struct http_reply *rep);

struct route {
    const char *method;          /* "GET", "POST", ... (exact, upper case) */
    const char *pattern;         /* "/runs/{id}/cancel": literal or {param} segments */
    route_handler_fn handler;    /* called when method and pattern match */
};

struct route_param {
    const char *name;            /* points into the pattern, not NUL-terminated */
    size_t name_len;
    const char *value;           /* points into the path, not NUL-terminated */
    size_t value_len;
};

enum route_status { ROUTE_FOUND = 0, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED };

struct route_match {
    const struct route *route;   /* the matched row (ROUTE_FOUND only) */
    size_t nparams;
    struct route_param params[ROUTER_MAX_PARAMS];
    char allow[96];              /* "GET, HEAD, POST" (ROUTE_METHOD_NOT_ALLOWED only) */
};

/* Match a request against table[0..n). HEAD matches GET routes. A {param}
 * matches one non-empty segment. Returns ROUTE_FOUND (out->route, params),
 * ROUTE_METHOD_NOT_ALLOWED (out->allow lists the methods the path accepts)
 * or ROUTE_NOT_FOUND. */
enum route_status router_match(const struct route *table, size_t n, const char *method,
                               const char *path, struct route_match *out);
/* Does pattern match path? Fills params (may be NULL) and *nparams. */
int router_pattern_match(const char *pattern, const char *path, struct route_param *params,
                         size_t *nparams);

#endif
