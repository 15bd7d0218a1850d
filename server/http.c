/*
 * http — libmicrohttpd glue: daemon lifecycle, request state, envelope
 * checks, routing and reply serialisation (JSON via jansson only).
 * Request flow: MHD's URI callback (request line read, headers not yet)
 * allocates a struct http_ctx and notes the raw request-target length; the
 * first access callback decides what the headers alone can (414, 431 and
 * 413 on a declared oversize body are answered at once, without reading the
 * body); body chunks go into a bounded buf; the final callback answers. The completion callback logs the request, reports it
 * to the optional observer (request metrics) and frees it. Streamed bodies
 * are pulled by MHD through http_stream_* trampolines on the connection's
 * pool thread.
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "logger.h"
#include "mem.h"

#define HTTP_DRAIN_SETTLE_MS 50.0 /* quiet time that ends a shutdown's drain */
#define HTTP_LOG_PATH_MAX 512     /* access log: longer paths are cut */

struct http_server {
    struct MHD_Daemon *daemon;   /* the libmicrohttpd daemon */
    struct http_options opt;     /* copied options (strings borrowed) */
    atomic_int inflight;         /* requests between first and completion callback */
    atomic_int stopping;         /* shutdown began: replies close their connection */
    struct sockaddr_storage addr;/* bound address */
};

/* Per-request state: lives from the first access callback to completion. */
struct http_ctx {
    struct http_server *srv;     /* owning server */
    char method[16];             /* copy, for the access log */
    char *path;                  /* copy of the URL path */
    struct buf body;             /* request body, bounded by max_body */
    struct http_reply reply;     /* decided early (status != 0) or by the handler */
    size_t uri_len;              /* raw request target as sent (path + query), bytes */
    int begun;                   /* the access handler has seen this request */
    int decided;                 /* reply holds an answer chosen before the body ended */
    int status;                  /* status actually queued, for the access log */
    double t0;                   /* monotonic ms at the first callback */
    const struct route *route;   /* matched route row (NULL until dispatch, or none) */
    int routed;                  /* router_match ran for this request */
};

/* A handler's stream, handed to MHD (freed by MHD's free callback). */
struct http_stream {
    http_stream_read_fn read;    /* the handler's reader */
    http_stream_free_fn free;    /* the handler's destructor (may be NULL) */
    void *cls;                   /* the handler's state */
};

static double http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- reply helpers ---------------------------------------------------- */

void http_reply_clear(struct http_reply *rep)
{
    json_decref(rep->json);
    free(rep->owned_body);
    if (rep->stream_cls && rep->stream_free)
        rep->stream_free(rep->stream_cls);
    memset(rep, 0, sizeof *rep);
}

void http_reply_bytes_take(struct http_reply *rep, int status, const char *content_type,
                           char *data, size_t len)
{
    http_reply_clear(rep);
    rep->status = status;
    rep->content_type = content_type;
    rep->owned_body = data;
    rep->owned_len = len;
}

void http_reply_stream_take(struct http_reply *rep, int status, const char *content_type,
                            http_stream_read_fn read_fn, http_stream_free_fn free_fn, void *cls)
{
    http_reply_clear(rep);
    rep->status = status;
    rep->content_type = content_type;
    rep->stream_read = read_fn;
    rep->stream_free = free_fn;
    rep->stream_cls = cls;
}

void http_reply_json_take(struct http_reply *rep, int status, json_t *body)
{
    http_reply_clear(rep);
    rep->status = status;
    rep->content_type = "application/json";
    rep->json = body;
}

void http_reply_static(struct http_reply *rep, int status, const char *content_type,
                       const void *data, size_t len)
{
    http_reply_clear(rep);
    rep->status = status;
    rep->content_type = content_type;
    rep->static_body = data;
    rep->static_len = len;
}

json_t *http_reply_problem(struct http_reply *rep, const struct problem *p)
{
    http_reply_clear(rep);
    rep->status = p->status;
    rep->content_type = PROBLEM_CONTENT_TYPE;
    rep->json = problem_to_json(p);
    return rep->json;
}

json_t *http_reply_error(struct http_reply *rep, enum problem_kind kind, const char *fmt, ...)
{
    struct problem p;
    problem_set(&p, kind, NULL);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p.detail, sizeof p.detail, fmt, ap);
    va_end(ap);
    return http_reply_problem(rep, &p);
}

void http_reply_header(struct http_reply *rep, const char *name, const char *value)
{
    if (rep->nheaders >= HTTP_REPLY_MAX_HEADERS)
        return;
    struct http_reply_header *h = &rep->headers[rep->nheaders++];
    h->name = name;
    snprintf(h->value, sizeof h->value, "%s", value);
}

/* ---- request accessors ------------------------------------------------ */

const char *http_param(const struct http_request *req, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < req->nparams; i++) {
        if (req->params[i].name_len == len && memcmp(req->params[i].name, name, len) == 0)
            return req->params[i].value;
    }
    return NULL;
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct http_query_scan {
    const char *const *known;    /* allowed names */
    char *out;                   /* first unknown name goes here */
    size_t n;
    int found;
};

static enum MHD_Result http_query_scan_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    struct http_query_scan *sc = cls;
    (void)kind;
    (void)value;
    for (size_t i = 0; sc->known[i]; i++) {
        if (strcmp(sc->known[i], key) == 0)
            return MHD_YES;
    }
    snprintf(sc->out, sc->n, "%s", key);
    sc->found = 1;
    return MHD_NO; /* stop at the first unknown name */
}

int http_query_unknown(const struct http_request *req, const char *const *known, char *out,
                       size_t n)
{
    struct http_query_scan sc = { known, out, n, 0 };
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, http_query_scan_cb, &sc);
    return sc.found;
}

/* ---- envelope checks -------------------------------------------------- */

int http_is_json_media_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t len = strcspn(ct, ";");
    while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
        len--;
    if (len == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    /* application/<anything>+json, e.g. application/merge-patch+json */
    return len > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           memchr(ct + 12, '/', len - 12) == NULL && strncasecmp(ct + len - 5, "+json", 5) == 0;
}

int http_bearer_ok(const char *authorization, const char *token)
{
    if (!authorization || !token)
        return 0;
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t glen = strlen(given), tlen = strlen(token);
    unsigned char diff = (unsigned char)(glen != tlen);
    for (size_t i = 0; i < tlen; i++)
        diff |= (unsigned char)(token[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

/* Does media range r (length rlen, no parameters) cover type t? Returns
 * its specificity (3 exact, 2 "type/" wildcard, 1 any) or 0. */
static int http_range_match(const char *r, size_t rlen, const char *t)
{
    size_t tlen = strlen(t);
    const char *slash = strchr(t, '/');
    if (rlen == tlen && strncasecmp(r, t, tlen) == 0)
        return 3;
    if (rlen == 3 && strncmp(r, "*/*", 3) == 0)
        return 1;
    if (slash && rlen == (size_t)(slash - t) + 2 && strncasecmp(r, t, rlen - 1) == 0 &&
        r[rlen - 1] == '*')
        return 2;
    return 0;
}

double http_accept_quality(const char *accept, const char *media_type)
{
    int best = 0;
    double q_best = 0;
    const char *p = accept;
    if (!p || strspn(p, " \t") == strlen(p))
        return 1;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *end = p + len, *r = p;
        while (r < end && (*r == ' ' || *r == '\t'))
            r++;
        size_t rlen = strcspn(r, ";,");
        if (r + rlen > end)
            rlen = (size_t)(end - r);
        while (rlen > 0 && (r[rlen - 1] == ' ' || r[rlen - 1] == '\t'))
            rlen--;
        double q = 1;
        for (const char *a = r + rlen; a < end; a++) { /* parameters: look for q= */
            if (*a != ';')
                continue;
            a++;
            while (a < end && (*a == ' ' || *a == '\t'))
                a++;
            if (a + 1 < end && (a[0] == 'q' || a[0] == 'Q') && a[1] == '=') {
                char num[16];
                size_t nl = strcspn(a + 2, ";,");
                if (a + 2 + nl > end)
                    nl = (size_t)(end - a - 2);
                snprintf(num, sizeof num, "%.*s", (int)(nl < 15 ? nl : 15), a + 2);
                char *stop;
                q = strtod(num, &stop);
                if (stop == num || q < 0 || q > 1)
                    q = 0; /* malformed weight: ignore the range */
            }
        }
        int spec = http_range_match(r, rlen, media_type);
        if (spec > best) {
            best = spec;
            q_best = q;
        }
        p = *end ? end + 1 : end;
    }
    return best ? q_best : 0;
}

static int http_method_mutates(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
           strcmp(m, "DELETE") == 0;
}

static int http_method_has_json_body(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

/* ---- sending ---------------------------------------------------------- */

static const char http_fallback_500[] =
    "{\"type\":\"" PROBLEM_TYPE_PREFIX "internal-error\",\"title\":\"Internal server error\","
    "\"status\":500,\"detail\":\"the response could not be serialised\"}";

static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_stream *st = cls;
    ssize_t n = st->read(st->cls, pos, buf, max);
    if (n == HTTP_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n <= 0 || (size_t)n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void http_stream_free(void *cls)
{
    struct http_stream *st = cls;
    if (st->free)
        st->free(st->cls);
    free(st);
}

static enum MHD_Result http_send(struct MHD_Connection *conn, struct http_ctx *ctx)
{
    struct http_reply *rep = &ctx->reply;
    struct MHD_Response *resp = NULL;
    int status = rep->status;
    if (status == 0) {
        log_error("%s %s: handler produced no reply", ctx->method, ctx->path);
        http_reply_error(rep, PROBLEM_INTERNAL, "the handler produced no reply");
        status = rep->status;
    }
    if (rep->json) {
        char *text = json_dumps(rep->json, JSON_COMPACT);
        if (text) {
            resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
            if (!resp)
                free(text);
        } else {
            log_error("%s %s: json_dumps failed", ctx->method, ctx->path);
            status = 500;
            rep->content_type = PROBLEM_CONTENT_TYPE;
            resp = MHD_create_response_from_buffer(sizeof http_fallback_500 - 1,
                                                   (void *)http_fallback_500,
                                                   MHD_RESPMEM_PERSISTENT);
        }
    } else if (rep->owned_body) {
        resp = MHD_create_response_from_buffer(rep->owned_len, rep->owned_body,
                                               MHD_RESPMEM_MUST_FREE);
        if (resp)
            rep->owned_body = NULL; /* MHD frees it now */
    } else if (rep->stream_read) {
        struct http_stream *st = mem_alloc(sizeof *st);
        st->read = rep->stream_read;
        st->free = rep->stream_free;
        st->cls = rep->stream_cls;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, http_stream_read,
                                                 st, http_stream_free);
        if (resp)
            rep->stream_cls = NULL; /* owned by the response now */
        else
            free(st);
    } else {
        resp = MHD_create_response_from_buffer(rep->static_len,
                                               (void *)(rep->static_body ? rep->static_body : ""),
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    if (rep->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
    if (atomic_load(&ctx->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close"); /* no next request */
    for (size_t i = 0; i < rep->nheaders; i++)
        MHD_add_response_header(resp, rep->headers[i].name, rep->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    ctx->status = status;
    http_reply_clear(rep);
    return ret;
}

/* ---- the access handler ----------------------------------------------- */

static enum MHD_Result http_header_bytes_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    size_t *sum = cls;
    (void)kind;
    *sum += strlen(key) + (value ? strlen(value) : 0);
    return MHD_YES;
}

/* Header fields as received: names and values, summed (no separators). */
static size_t http_header_bytes(struct MHD_Connection *conn)
{
    size_t sum = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_header_bytes_cb, &sum);
    return sum;
}

/* Decide what the headers alone decide. Returns 1 when the reply must be
 * sent right away (before reading the body), else 0. */
static int http_precheck(struct http_ctx *ctx, struct MHD_Connection *conn)
{
    const struct http_options *opt = &ctx->srv->opt;
    size_t max = ctx->body.max;
    size_t header_bytes;

    /* The request head's limits first: a client that sends an oversized head
     * gets a problem it can read, and the connection is closed (its body, if
     * any, is never read). */
    if (ctx->uri_len > HTTP_MAX_URI) {
        http_reply_error(&ctx->reply, PROBLEM_URI_TOO_LONG,
                         "the request target (path and query) is %zu bytes; the limit is %u bytes",
                         ctx->uri_len, HTTP_MAX_URI);
        http_reply_header(&ctx->reply, MHD_HTTP_HEADER_CONNECTION, "close");
        return 1;
    }
    header_bytes = http_header_bytes(conn);
    if (header_bytes > HTTP_MAX_HEADER_BYTES) {
        http_reply_error(&ctx->reply, PROBLEM_HEADER_TOO_LARGE,
                         "the request's header fields are %zu bytes (names and values); the limit "
                         "is %u bytes",
                         header_bytes, HTTP_MAX_HEADER_BYTES);
        http_reply_header(&ctx->reply, MHD_HTTP_HEADER_CONNECTION, "close");
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    int has_body = declared > 0 || te != NULL;

    if (declared > max) {
        http_reply_error(&ctx->reply, PROBLEM_PAYLOAD_TOO_LARGE,
                         "request body of %llu bytes exceeds the limit of %zu bytes", declared,
                         max);
        return 1;
    }
    if (opt->api_token && http_method_mutates(ctx->method) &&
        !http_bearer_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION),
                        opt->api_token)) {
        http_reply_error(&ctx->reply, PROBLEM_UNAUTHORIZED,
                         "%s requests need an \"Authorization: Bearer <token>\" header with the "
                         "configured API token",
                         ctx->method);
        http_reply_header(&ctx->reply, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                          "Bearer realm=\"tradebench\"");
        ctx->decided = 1;
        return 0;
    }
    if (has_body && http_method_has_json_body(ctx->method)) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!http_is_json_media_type(ct)) {
            http_reply_error(&ctx->reply, PROBLEM_UNSUPPORTED_MEDIA,
                             "request bodies must be application/json, got %s%s%s",
                             ct ? "\"" : "", ct ? ct : "no Content-Type", ct ? "\"" : "");
            http_reply_header(&ctx->reply, "Accept-Post", "application/json");
            ctx->decided = 1;
        }
    }
    return 0;
}

/* Route and run the handler; fills ctx->reply. */
static void http_dispatch(struct http_ctx *ctx, struct MHD_Connection *conn)
{
    const struct http_options *opt = &ctx->srv->opt;
    struct http_request req;
    struct route_match m;
    json_t *body = NULL;

    memset(&req, 0, sizeof req);
    if (ctx->body.len > 0 && http_method_has_json_body(ctx->method)) {
        json_error_t jerr;
        body = json_loadb(ctx->body.data, ctx->body.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!body) {
            http_reply_error(&ctx->reply, PROBLEM_MALFORMED_JSON,
                             "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                             jerr.text);
            return;
        }
    }
    enum route_status rs = router_match(opt->routes, opt->nroutes, ctx->method, ctx->path, &m);
    ctx->routed = 1;
    ctx->route = rs == ROUTE_FOUND ? m.route : NULL;
    switch (rs) {
    case ROUTE_NOT_FOUND:
        http_reply_error(&ctx->reply, PROBLEM_NOT_FOUND, "no resource at %s", ctx->path);
        goto out;
    case ROUTE_METHOD_NOT_ALLOWED:
        http_reply_error(&ctx->reply, PROBLEM_METHOD_NOT_ALLOWED,
                         "%s is not allowed on %s; allowed: %s", ctx->method, ctx->path, m.allow);
        http_reply_header(&ctx->reply, MHD_HTTP_HEADER_ALLOW, m.allow);
        goto out;
    case ROUTE_FOUND:
        break;
    }
    req.method = ctx->method;
    req.path = ctx->path;
    req.body = body;
    req.app = opt->app;
    req.conn = conn;
    req.nparams = m.nparams;
    for (size_t i = 0; i < m.nparams; i++) {
        req.params[i].name = m.params[i].name;
        req.params[i].name_len = m.params[i].name_len;
        req.params[i].value = mem_strndup(m.params[i].value, m.params[i].value_len);
    }
    m.route->handler(&req, &ctx->reply);
    for (size_t i = 0; i < req.nparams; i++)
        free(req.params[i].value);
out:
    json_decref(body);
}

static struct http_ctx *http_ctx_new(struct http_server *srv)
{
    struct http_ctx *ctx = mem_zalloc(sizeof *ctx);
    ctx->srv = srv;
    ctx->t0 = http_now_ms();
    atomic_fetch_add(&srv->inflight, 1);
    return ctx;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line has been read (the target
 * exactly as sent, query included, before any decoding); the headers have
 * not. Its result becomes *req_cls, and from here on MHD calls the
 * completion callback for this request whatever happens. */
static void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_ctx *ctx = http_ctx_new(cls);
    (void)conn;
    ctx->uri_len = strlen(uri);
    return ctx;
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **req_cls)
{
    struct http_server *srv = cls;
    struct http_ctx *ctx = *req_cls;
    (void)version;

    if (!ctx) /* never: the URI callback made it */
        *req_cls = ctx = http_ctx_new(srv);
    if (!ctx->begun) {
        ctx->begun = 1;
        snprintf(ctx->method, sizeof ctx->method, "%s", method);
        ctx->path = mem_strdup(url);
        buf_init(&ctx->body, srv->opt.max_body);
        if (http_precheck(ctx, conn))
            return http_send(conn, ctx); /* answered before reading the body */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!ctx->decided && buf_append(&ctx->body, upload_data, *upload_data_size) < 0) {
            /* Over the limit (chunked or lying Content-Length): stop buffering,
             * discard the rest, answer 413 at the end. */
            buf_free(&ctx->body);
            http_reply_error(&ctx->reply, PROBLEM_PAYLOAD_TOO_LARGE,
                             "request body exceeds the limit of %zu bytes", ctx->body.max);
            ctx->decided = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!ctx->decided)
        http_dispatch(ctx, conn);
    return http_send(conn, ctx);
}

/* Replace control characters so request paths cannot forge log lines. */
static void http_log_safe(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
    }
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_ctx *ctx = *req_cls;
    (void)conn;
    if (!ctx)
        return;
    double ms = http_now_ms() - ctx->t0;
    if (ctx->status != 0 && srv->opt.observe) {
        if (!ctx->routed) { /* answered by the envelope: label it with its route anyway */
            struct route_match m;
            if (router_match(srv->opt.routes, srv->opt.nroutes, ctx->method, ctx->path, &m) ==
                ROUTE_FOUND)
                ctx->route = m.route;
        }
        srv->opt.observe(srv->opt.observe_cls, ctx->route, ctx->method, ctx->status, ms);
    }
    if (!ctx->begun) {
        /* Request line read, then MHD gave up before the headers were
         * complete: a head over HTTP_MHD_POOL (MHD answered it), a malformed
         * header, or the client went away. */
        log_info("request of %zu-byte target ended by libmicrohttpd before the handler (%d) "
                 "after %.1f ms",
                 ctx->uri_len, (int)toe, ms);
    } else {
        /* A long path is logged cut (the limit check answered it anyway). */
        int cut = strlen(ctx->path) > HTTP_LOG_PATH_MAX;
        http_log_safe(ctx->path);
        if (ctx->status == 0 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            log_info("%s %.*s%s aborted (%d) after %.1f ms", ctx->method, HTTP_LOG_PATH_MAX,
                     ctx->path, cut ? "..." : "", (int)toe, ms);
        else
            log_info("%s %.*s%s %d %.1f ms", ctx->method, HTTP_LOG_PATH_MAX, ctx->path,
                     cut ? "..." : "", ctx->status, ms);
    }
    http_reply_clear(&ctx->reply);
    buf_free(&ctx->body);
    free(ctx->path);
    free(ctx);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static int http_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* libmicrohttpd's percent-decoding, except that %00 stays as written: a
 * decoded NUL would silently cut the path or argument short (so
 * "/x/name%00.md" would reach the handler as "/x/name"). */
static size_t http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *w = s;
    (void)cls;
    (void)conn;
    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? http_hex(r[1]) : -1, lo = hi >= 0 ? http_hex(r[2]) : -1;
        if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    log_warn("libmicrohttpd: %s", msg);
}

/* ---- lifecycle -------------------------------------------------------- */

struct http_server *http_server_start(const struct http_options *opt, char *err, size_t errlen)
{
    struct addrinfo hints, *ai = NULL;
    char port[8];
    struct http_server *srv;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", opt->port);
    int gai = getaddrinfo(opt->host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", opt->host,
                 gai_strerror(gai));
        return NULL;
    }
    srv = mem_zalloc(sizeof *srv);
    srv->opt = *opt;
    if (srv->opt.max_body == 0)
        srv->opt.max_body = HTTP_MAX_BODY;
    if (srv->opt.threads < 1)
        srv->opt.threads = 1;
    atomic_init(&srv->inflight, 0);
    memcpy(&srv->addr, ai->ai_addr, ai->ai_addrlen);
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    freeaddrinfo(ai);

    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)opt->port, NULL, NULL, http_on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL, /* first, so it sees everything */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&srv->addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)srv->opt.threads,
        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, srv,
        MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, srv,
        /* Room for heads well over HTTP_MAX_URI / HTTP_MAX_HEADER_BYTES, so
         * that http_precheck answers them rather than MHD (see http.h). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MHD_POOL,
        MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)(srv->opt.per_ip_limit > 0 ? srv->opt.per_ip_limit : 512),
        /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, which
         * would let a second server silently share the port. */
        MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%u (address in use or not available)",
                 opt->host, opt->port);
        free(srv);
        return NULL;
    }
    return srv;
}

int http_server_shutdown(struct http_server *srv, int grace_ms)
{
    atomic_store(&srv->stopping, 1);
    MHD_socket lsock = MHD_quiesce_daemon(srv->daemon);
    /* A quiesced socket still completes handshakes into its backlog, where
     * new clients would wait unanswered for the whole drain and then be
     * reset. shutdown() stops it listening (new connections are refused at
     * once) without closing the descriptor, which MHD's threads may still
     * hold until MHD_stop_daemon. */
    if (lsock != MHD_INVALID_SOCKET)
        shutdown(lsock, SHUT_RDWR);
    /* Drained = no request in flight for HTTP_DRAIN_SETTLE_MS: a keep-alive
     * client whose previous reply went out just before the signal may still
     * send one more request, which is then answered with "Connection: close". */
    double deadline = http_now_ms() + grace_ms, idle_since = -1;
    int left;
    for (;;) {
        double now = http_now_ms();
        left = atomic_load(&srv->inflight);
        if (left > 0)
            idle_since = -1;
        else if (idle_since < 0)
            idle_since = now;
        else if (now - idle_since >= HTTP_DRAIN_SETTLE_MS)
            break;
        if (now >= deadline)
            break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (left > 0)
        log_warn("shutdown: %d request(s) still in flight after %d ms; closing them", left,
                 grace_ms);
    MHD_stop_daemon(srv->daemon);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    free(srv);
    return left;
}
