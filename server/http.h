/*
 * http — the HTTP layer on libmicrohttpd: a thread-pooled daemon that
 * reads a request, applies the envelope rules (request target 414, header
 * fields 431, body limit 413, bearer token 401, JSON content type 415, JSON
 * syntax 400), routes it through a route table (404/405) and sends what
 * the handler put in a struct http_reply.
 * Owns per-request memory (allocated on MHD's first callback, freed in its
 * completion callback). Never touches the database.
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "problem.h"
#include "router.h"

#define HTTP_MAX_BODY (1024u * 1024u)     /* bytes; larger bodies get 413 */
#define HTTP_MAX_URI (8u * 1024u)         /* request-target bytes (path + query, as sent); longer gets 414 */
#define HTTP_MAX_HEADER_BYTES (32u * 1024u) /* header names + values, summed; more gets 431 */
/* libmicrohttpd's memory per connection (MHD_OPTION_CONNECTION_MEMORY_LIMIT):
 * the request line and headers must fit in it, so it is MHD's own hard cap
 * on a request head (about 300 bytes less). Between the two limits above and
 * this cap tradebench answers 414/431 itself (problem+json); beyond it MHD
 * answers with its own HTML page. A keep-alive connection that has served a
 * request holds all of it (MHD zeroes the pool between requests): 96 KiB x
 * 256 idle connections = 24 MiB of RSS (docs/RELIABILITY.md). */
#define HTTP_MHD_POOL (96u * 1024u)
#define HTTP_REPLY_MAX_HEADERS 6

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

/* A streamed body: the layer calls read(cls, pos, buf, max) from the
 * connection's pool thread until it returns HTTP_STREAM_END; each call fills
 * buf with 1..max bytes and returns how many (never 0). HTTP_STREAM_ERROR
 * aborts the response (the client sees a truncated chunked body). free(cls)
 * runs exactly once, when the response is done or dropped. */
typedef ssize_t (*http_stream_read_fn)(void *cls, uint64_t pos, char *buf, size_t max);
typedef void (*http_stream_free_fn)(void *cls);
#define HTTP_STREAM_END ((ssize_t)-1)
#define HTTP_STREAM_ERROR ((ssize_t)-2)

/* What a handler fills; use the http_reply_* helpers. Exactly one body
 * source is set: json, owned bytes, static bytes or a stream. */
struct http_reply {
    int status;                  /* 0 = nothing set: the layer answers 500 */
    const char *content_type;    /* static string */
    json_t *json;                /* owned body, serialised by the layer */
    char *owned_body;            /* or: malloc'd bytes the layer frees */
    size_t owned_len;
    const void *static_body;     /* or: bytes with static lifetime, not copied */
    size_t static_len;
    http_stream_read_fn stream_read; /* or: a streamed body (chunked) */
    http_stream_free_fn stream_free;
    void *stream_cls;            /* owned until the layer hands it to MHD */
    size_t nheaders;
    struct http_reply_header headers[HTTP_REPLY_MAX_HEADERS];
};

/* The value of path param `name`, or NULL. */
const char *http_param(const struct http_request *req, const char *name);
/* A request header (case-insensitive name) or query argument; NULL if absent. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *name);
/* The first query argument whose name is not in known[] (NULL-terminated),
 * copied into out (size n); returns 1 when there is one, else 0. */
int http_query_unknown(const struct http_request *req, const char *const *known, char *out,
                       size_t n);

/* Reply with a JSON body; takes the reference to body (even on status 0). */
void http_reply_json_take(struct http_reply *rep, int status, json_t *body);
/* Reply with malloc'd bytes; takes ownership of data (freed by the layer). */
void http_reply_bytes_take(struct http_reply *rep, int status, const char *content_type,
                           char *data, size_t len);
/* Reply with a streamed body of unknown length (chunked transfer); takes
 * ownership of cls (free_fn(cls) runs once, whatever happens). */
void http_reply_stream_take(struct http_reply *rep, int status, const char *content_type,
                            http_stream_read_fn read_fn, http_stream_free_fn free_fn, void *cls);
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

/* Called once per answered request from the completion callback (any pool
 * thread, concurrently): route is the matched row or NULL (404 and friends),
 * method as sent, the status sent and the time from first byte to
 * completion. Must be thread-safe and must not block. */
typedef void (*http_observe_fn)(void *cls, const struct route *route, const char *method,
                                int status, double ms);

struct http_options {
    const char *host;            /* numeric address or name to bind */
    unsigned port;               /* 1..65535 */
    int threads;                 /* thread-pool size */
    int per_ip_limit;            /* concurrent connections from one client address (0: 512) */
    const char *api_token;       /* NULL: no auth; else required on mutating methods */
    size_t max_body;             /* 0 = HTTP_MAX_BODY */
    const struct route *routes;  /* the route table (static) */
    size_t nroutes;
    void *app;                   /* passed to handlers as req->app */
    http_observe_fn observe;     /* optional: request metrics */
    void *observe_cls;
};

struct http_server;

/* Bind and start serving. The options' strings and table must outlive the
 * server. Returns the server, or NULL with err (e.g. address in use). */
struct http_server *http_server_start(const struct http_options *opt, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Graceful stop: stop accepting (MHD_quiesce_daemon; new connections are
 * refused from then on), answer every request already received, each with
 * "Connection: close", wait up to grace_ms for them to finish, stop the
 * daemon, free the server.
 * Returns the number of requests still in flight when it gave up (0 =
 * drained). */
int http_server_shutdown(struct http_server *srv, int grace_ms);

/* Checks exposed for unit tests. */
/* Is the Content-Type media type JSON (application/json or any +json)? */
int http_is_json_media_type(const char *content_type);
/* Does an Authorization header value carry "Bearer <token>"? Constant-time
 * in the token's bytes. */
int http_bearer_ok(const char *authorization, const char *token);
/* The quality (0..1) an Accept header value gives media_type ("text/csv"):
 * the q of the most specific matching range (an exact type beats a
 * "type/" wildcard, which beats the any-type wildcard), 0 when none
 * matches; a NULL or blank header accepts everything (1). */
double http_accept_quality(const char *accept, const char *media_type);

#endif
