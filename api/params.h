/*
 * params — reading what a request names: the {id} path parameter, query
 * arguments (limit, enumerations, format), unknown query names, and the
 * engine's js_errors as a 400 problem. Each parser either fills its output
 * or replies a 400 problem+json naming the field and returns -1; handlers
 * then just return. Never touches the database.
 */
#ifndef TB_API_PARAMS_H
#define TB_API_PARAMS_H

#include <stdint.h>

#include "jobspec.h"
#include "server/http.h"

/* Path param `name` as a run id (1..2^63-1, decimal digits only); anything
 * else is answered 404 not-found naming the parameter (no such run). */
int params_id(const struct http_request *req, struct http_reply *rep, const char *name,
              int64_t *out);

/* Reply 400 when the query string holds a name not in known[] (NULL-terminated). */
int params_query_known(const struct http_request *req, struct http_reply *rep,
                       const char *const *known);

/* Query `limit`: absent → def; else an integer in [1, max]. */
int params_limit(const struct http_request *req, struct http_reply *rep, int def, int max,
                 int *out);

/* Query arg `name` that must be one of allowed[] (NULL-terminated) when
 * present; *out is the value (borrowed from the request) or NULL. */
int params_enum(const struct http_request *req, struct http_reply *rep, const char *name,
                const char *const *allowed, const char **out);

/* Query arg `name` as a free string of 1..maxlen bytes, or NULL when absent. */
int params_string(const struct http_request *req, struct http_reply *rep, const char *name,
                  size_t maxlen, const char **out);

/* Does the client want CSV? `format=csv|json` wins; else the Accept header
 * (CSV when it prefers text/csv to application/json). 1 CSV, 0 JSON, -1
 * after replying 400 for a bad format value. */
int params_wants_csv(const struct http_request *req, struct http_reply *rep);

/* 400 validation-failed with errors[] from the engine's validator. */
void params_reply_js_errors(struct http_reply *rep, const js_errors *errs);

/* 400 validation-failed naming one field. */
void params_reply_invalid(struct http_reply *rep, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
