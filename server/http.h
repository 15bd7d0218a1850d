/*
 * http — the HTTP layer on libmicrohttpd: a thread-pooled daemon that
 * reads a request, applies the envelope rules (body limit 413, bearer token
 * 401, JSON content type 415, JSON syntax 400), routes it through a route
 * table (404/405) and sends what the handler put in a struct http_reply.
 * Owns per-request memory (allocated on MHD's first callback, freed in its
 * completion callback). Never touches the database.
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "problem.h"
#include "router.h"

#define HTTP_MAX_BODY (1024u * 1024u)     /* bytes; larger bodies get 413 */
#define HTTP_REPLY_MAX_HEADERS 4

struct MHD_Connection;

struct http_param {
    const char *name;            /* points into the route pattern (not NUL-terminated) */
    size_t name_len;
    char *value;                 /* NUL-terminated copy, owned by the layer */
};

/* What a handler sees; valid only during the handler call. */
struct http_request {
    const char *method;          /* "GET", "POST", ... */
    const char *path;            /* percent-decoded path without the query string */
    json_t *body;                /* parsed JSON body (borrowed), NULL when there is none */
    size_t nparams;              /* path params from {name} segments */
    struct http_param params[ROUTER_MAX_PARAMS];
    void *app;                   /* http_options.app, for the handlers' shared state */
    struct MHD_Connection *conn; /* for http_header() / http_query() */
};

struct http_reply_header {
    const char *name;            /* static string, e.g. "Location" */
    char value[256];             /* copied */
};

/* What a handler fills; use the http_reply_* helpers. */
struct http_reply {
    int status;                  /* 0 = nothing set: the layer answers 500 */
    const char *content_type;    /* static string */
    json_t *json;                /* owned body, serialised by the layer */
    const void *static_body;     /* or: bytes with static lifetime, not copied */
    size_t static_len;
    size_t nheaders;
    struct http_reply_header headers[HTTP_REPLY_MAX_HEADERS];
};

/* The value of path param `name`, or NULL. */
const char *http_param(const struct http_request *req, const char *name);
/* A request header (case-insensitive name) or query argument; NULL if absent. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *name);

/* Reply with a JSON body; takes the reference to body (even on status 0). */
void http_reply_json_take(struct http_reply *rep, int status, json_t *body);
/* Reply with static bytes (never freed, must outlive the response). */
void http_reply_static(struct http_reply *rep, int status, const char *content_type,
                       const void *data, size_t len);
/* Reply with problem+json; returns the body so callers may add extension
 * members (borrowed: the reply owns it). */
json_t *http_reply_problem(struct http_reply *rep, const struct problem *p);
/* Shorthand: problem_set() + http_reply_problem(). */
json_t *http_reply_error(struct http_reply *rep, enum problem_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a response header (dropped beyond HTTP_REPLY_MAX_HEADERS). */
void http_reply_header(struct http_reply *rep, const char *name, const char *value);
/* Drop whatever the reply holds (the layer calls this; handlers need not). */
void http_reply_clear(struct http_reply *rep);

struct http_options {
    const char *host;            /* numeric address or name to bind */
    unsigned port;               /* 1..65535 */
    int threads;                 /* thread-pool size */
    const char *api_token;       /* NULL: no auth; else required on mutating methods */
    size_t max_body;             /* 0 = HTTP_MAX_BODY */
    const struct route *routes;  /* the route table (static) */
    size_t nroutes;
    void *app;                   /* passed to handlers as req->app */
};

struct http_server;

/* Bind and start serving. The options' strings and table must outlive the
 * server. Returns the server, or NULL with err (e.g. address in use). */
struct http_server *http_server_start(const struct http_options *opt, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Graceful stop: stop accepting (MHD_quiesce_daemon), wait up to grace_ms
 * for in-flight requests to finish, stop the daemon, free the server.
 * Returns the number of requests still in flight when it gave up (0 =
 * drained). */
int http_server_shutdown(struct http_server *srv, int grace_ms);

/* Checks exposed for unit tests. */
/* Is the Content-Type media type JSON (application/json or any +json)? */
int http_is_json_media_type(const char *content_type);
/* Does an Authorization header value carry "Bearer <token>"? Constant-time
 * in the token's bytes. */
int http_bearer_ok(const char *authorization, const char *token);

#endif
