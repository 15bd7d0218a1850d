/*
 * test_http — the HTTP envelope and the endpoints of this build, against
 * the real tradebench-server binary and a real PostgreSQL: every error path
 * (status, problem+json content type and fields), /health, /openapi.json,
 * bearer auth, and graceful SIGTERM (exit 0, in-flight request finished).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static struct tb_server srv;

static void up(const char *token)
{
    harness_db_url_or_skip();
    cr_assert_eq(harness_server_start(&srv, NULL, token), 0, "tradebench-server did not start");
}

static void down_ok(void)
{
    int rc = harness_server_stop(&srv);
    cr_assert_eq(rc, 0, "tradebench-server exit status %d after SIGTERM (want 0)", rc);
}

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    harness_server_kill(&srv);
    curl_global_cleanup();
}

TestSuite(http, .init = init, .fini = fini, .timeout = 90);

Test(http, health_is_200_with_database_up)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "GET", "/health", NULL, NULL, 0, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "status %ld: %s", r.status, r.body ? r.body : r.error);
    cr_assert_str_eq(r.content_type, "application/json");
    json_t *doc = tb_response_json(&r);
    cr_assert_not_null(doc);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "status")), "ok");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "database")), "up");
    cr_assert_geq(json_integer_value(json_object_get(doc, "schema_version")), 1);
    json_decref(doc);
    tb_response_free(&r);
    down_ok();
}

Test(http, openapi_document_parses_and_describes_health)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "GET", "/openapi.json", NULL, NULL, 0, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "application/json");
    json_t *doc = tb_response_json(&r);
    cr_assert_not_null(doc, "openapi.json is not JSON");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    cr_assert_not_null(json_object_get(json_object_get(doc, "paths"), "/health"));
    json_decref(doc);
    tb_response_free(&r);
    down_ok();
}

Test(http, unknown_route_is_404_problem)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "GET", "/nope", NULL, NULL, 0, NULL, NULL, &r);
    harness_assert_problem(&r, 404, "not-found");
    tb_response_free(&r);
    /* A path segment that is not UTF-8 still yields valid problem JSON. */
    harness_request(&srv, "GET", "/runs/%ff%fe", NULL, NULL, 0, NULL, NULL, &r);
    harness_assert_problem(&r, 404, "not-found");
    tb_response_free(&r);
    harness_request(&srv, "GET", "/health/", NULL, NULL, 0, NULL, NULL, &r);
    harness_assert_problem(&r, 404, "not-found");
    tb_response_free(&r);
    down_ok();
}

Test(http, wrong_method_is_405_with_allow)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "DELETE", "/health", NULL, NULL, 0, NULL, NULL, &r);
    harness_assert_problem(&r, 405, "method-not-allowed");
    cr_assert_str_eq(r.allow, "GET, HEAD");
    tb_response_free(&r);
    harness_request(&srv, "POST", "/openapi.json", "application/json", "{}", 2, NULL, NULL, &r);
    harness_assert_problem(&r, 405, "method-not-allowed");
    cr_assert_str_eq(r.allow, "GET, HEAD");
    tb_response_free(&r);
    down_ok();
}

Test(http, head_is_allowed_where_get_is)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "HEAD", "/openapi.json", NULL, NULL, 0, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.len, 0);
    tb_response_free(&r);
    down_ok();
}

static char *big_body(size_t n)
{
    char *b = malloc(n);
    cr_assert_not_null(b);
    memset(b, ' ', n);
    b[0] = '{';
    b[n - 1] = '}';
    return b;
}

Test(http, body_over_1mib_is_413)
{
    struct tb_response r;
    size_t n = 2u * 1024u * 1024u;
    char *body = big_body(n);
    up(NULL);
    /* Declared Content-Length over the limit: answered before the body. */
    harness_request(&srv, "POST", "/runs", "application/json", body, n, NULL, NULL, &r);
    harness_assert_problem(&r, 413, "payload-too-large");
    tb_response_free(&r);
    /* Exactly at the limit is accepted by the envelope (then validated: 400, no job). */
    size_t lim = 1024u * 1024u;
    body[lim - 1] = '}';
    harness_request(&srv, "POST", "/runs", "application/json", body, lim, NULL, NULL, &r);
    harness_assert_problem(&r, 400, "validation-failed");
    tb_response_free(&r);
    free(body);
    down_ok();
}

/* Streams `left` bytes of JSON whitespace in chunks, no Content-Length. */
struct slow_upload {
    size_t left;                 /* bytes still to send */
    size_t chunk;                /* largest chunk handed to libcurl */
    int delay_ms;                /* sleep before each chunk */
    int started;                 /* set once the first chunk went out */
};

static size_t slow_read(char *dst, size_t size, size_t n, void *ud)
{
    struct slow_upload *u = ud;
    size_t cap = size * n, k = u->left < cap ? u->left : cap;
    if (k > u->chunk)
        k = u->chunk;
    if (u->delay_ms) {
        struct timespec ts = { 0, (long)u->delay_ms * 1000000L };
        nanosleep(&ts, NULL);
    }
    memset(dst, ' ', k);
    u->left -= k;
    __atomic_store_n(&u->started, 1, __ATOMIC_SEQ_CST);
    return k;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data;
    (void)ud;
    return size * n;
}

static long chunked_post(const struct tb_server *s, struct slow_upload *u, char **body_out)
{
    char url[128];
    long status = 0;
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    snprintf(url, sizeof url, "%s/runs", s->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(c, CURLOPT_READDATA, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *body_out = NULL;
    return status;
}

Test(http, chunked_body_over_1mib_is_413)
{
    struct slow_upload u = { 2u * 1024u * 1024u, 65536, 0, 0 };
    char *body;
    up(NULL);
    cr_assert_eq(chunked_post(&srv, &u, &body), 413);
    down_ok();
}

Test(http, non_json_content_type_is_415)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "POST", "/runs", "text/plain", "x", 1, NULL, NULL, &r);
    harness_assert_problem(&r, 415, "unsupported-media-type");
    tb_response_free(&r);
    /* No Content-Type at all on a body. */
    harness_request(&srv, "POST", "/runs", NULL, "{}", 2, NULL, NULL, &r);
    harness_assert_problem(&r, 415, "unsupported-media-type");
    tb_response_free(&r);
    /* Parameters and +json suffixes are JSON: past the envelope (400 from the handler: no job). */
    harness_request(&srv, "POST", "/runs", "application/json; charset=utf-8", "{}", 2, NULL,
                    NULL, &r);
    harness_assert_problem(&r, 400, "validation-failed");
    tb_response_free(&r);
    harness_request(&srv, "POST", "/runs", "application/merge-patch+json", "{}", 2, NULL, NULL,
                    &r);
    harness_assert_problem(&r, 400, "validation-failed");
    tb_response_free(&r);
    down_ok();
}

Test(http, malformed_json_is_400_with_parser_detail)
{
    struct tb_response r;
    up(NULL);
    harness_request(&srv, "POST", "/runs", "application/json", "{\"job\": ", 8, NULL, NULL, &r);
    harness_assert_problem(&r, 400, "malformed-json");
    json_t *doc = tb_response_json(&r);
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    cr_assert(strstr(detail, "line 1") != NULL, "detail: %s", detail);
    json_decref(doc);
    tb_response_free(&r);
    harness_request(&srv, "POST", "/runs", "application/json", "{\"a\":1,\"a\":2}", 13, NULL,
                    NULL, &r);
    harness_assert_problem(&r, 400, "malformed-json");
    tb_response_free(&r);
    down_ok();
}

Test(http, token_configured_mutations_need_bearer_401)
{
    struct tb_response r;
    up("s3cret-token");
    harness_request(&srv, "POST", "/runs", "application/json", "{}", 2, NULL, NULL, &r);
    harness_assert_problem(&r, 401, "unauthorized");
    cr_assert(strstr(r.www_authenticate, "Bearer") == r.www_authenticate);
    tb_response_free(&r);
    harness_request(&srv, "POST", "/runs", "application/json", "{}", 2, "Bearer wrong", NULL, &r);
    harness_assert_problem(&r, 401, "unauthorized");
    tb_response_free(&r);
    harness_request(&srv, "DELETE", "/health", NULL, NULL, 0, NULL, NULL, &r);
    harness_assert_problem(&r, 401, "unauthorized");
    tb_response_free(&r);
    /* The right token passes the envelope (and meets the handler: 400, no job). */
    harness_request(&srv, "POST", "/runs", "application/json", "{}", 2, "Bearer s3cret-token",
                    NULL, &r);
    harness_assert_problem(&r, 400, "validation-failed");
    tb_response_free(&r);
    /* Reads need no token. */
    harness_request(&srv, "GET", "/health", NULL, NULL, 0, NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    tb_response_free(&r);
    down_ok();
}

Test(http, sigterm_exits_0)
{
    up(NULL);
    down_ok();
}

struct inflight {
    const struct tb_server *srv;
    struct slow_upload u;
    long status;
};

static void *inflight_thread(void *arg)
{
    struct inflight *f = arg;
    char *body;
    f->status = chunked_post(f->srv, &f->u, &body);
    return NULL;
}

Test(http, sigterm_finishes_in_flight_request)
{
    /* 64 KiB uploaded in 16 slow chunks (~0.8 s); SIGTERM lands mid-upload. */
    struct inflight f = { &srv, { 64u * 1024u, 4096, 50, 0 }, 0 };
    pthread_t t;
    up(NULL);
    cr_assert_eq(pthread_create(&t, NULL, inflight_thread, &f), 0);
    while (!__atomic_load_n(&f.u.started, __ATOMIC_SEQ_CST)) {
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
    int rc = harness_server_stop(&srv);
    pthread_join(t, NULL);
    /* The request was answered (its body is whitespace: 400 malformed JSON). */
    cr_assert_eq(f.status, 400, "in-flight request got %ld", f.status);
    cr_assert_eq(rc, 0, "exit status %d", rc);
}
