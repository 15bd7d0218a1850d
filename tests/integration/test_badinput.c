/*
 * test_badinput — a table of malformed requests against the real
 * tradebench-server and PostgreSQL (SPEC §9: bad input never crashes, never
 * half-writes a run, never returns 500). Every row is one request: bad JSON,
 * deep nesting, huge numbers, NaN/Infinity, wrong types, unknown fields,
 * out-of-range values, unknown strategy, empty / duplicate / 10,000
 * symbols, bad dates, SQL-looking strings, "../" artifact names (plain and
 * percent-encoded), oversized headers, URLs and bodies, wrong methods and
 * missing or invalid bearer tokens. Each must get its specific 4xx as
 * application/problem+json (type code, status, errors[].field where the
 * request names a field; 414 and 431 also "Connection: close") and the runs
 * table must not change. Two rows go past libmicrohttpd's own hard cap on a
 * request head (HTTP_MHD_POOL) and get its plain answer instead. The server runs
 * with a bearer token (every row but the auth rows sends it) in the test's
 * own schema, and must still be healthy and exit 0 at the end.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_api_client.h"

#define BI_TOKEN "bad-input-token-0123456789"
#define BI_AUTH "Authorization: Bearer " BI_TOKEN

static struct tb_server srv;
static PGconn *db;
static char schema[64];

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    harness_server_kill(&srv);
    api_schema_leave(db, schema);
    db = NULL;
    curl_global_cleanup();
}

TestSuite(badinput, .init = init, .fini = fini, .timeout = 240);

/* Generated bodies and paths too long for a table literal. */
enum bi_gen {
    GEN_NONE = 0,
    GEN_DEEP_ARRAYS,             /* 10,000 nested arrays */
    GEN_DEEP_OBJECTS,            /* a field holding 10,000 nested objects */
    GEN_SYMBOLS_10K,             /* 10,000 distinct valid symbol names */
    GEN_BODY_2MIB,               /* 2 MiB JSON object (over the 1 MiB limit) */
    GEN_HEADER_64K,              /* a 64 KiB header line */
    GEN_HEADER_30K,              /* a 30 KiB header line: under the 32 KiB limit */
    GEN_HEADERS_40X1K,           /* 40 header lines of 1 KiB: over the limit only summed */
    GEN_HEADER_128K,             /* a 128 KiB header line: past MHD's hard cap */
    GEN_URL_64K,                 /* a 64 KiB path */
    GEN_URL_AT_LIMIT,            /* a path of exactly HTTP_MAX_URI bytes */
    GEN_URL_OVER_LIMIT,          /* one byte more */
    GEN_QUERY_9K,                /* a short path with a 9 KiB query string */
    GEN_URL_128K,                /* a 128 KiB path: past MHD's hard cap */
    GEN_STRING_600K,             /* a 600 KiB strategy string (under the body limit) */
    GEN_CHUNKED_2MIB,            /* 2 MiB sent chunked (no Content-Length) */
};

struct bi_case {
    const char *method;
    const char *path;            /* "{id}" is replaced by the seeded run's id */
    const char *body;            /* JSON text, or NULL (see gen) */
    const char *ctype;           /* Content-Type; NULL = application/json when there is a body */
    const char *auth;            /* Authorization header line; NULL = the right token */
    const char *header;          /* one more header line, or NULL */
    enum bi_gen gen;
    long status;                 /* expected status */
    const char *code;            /* problem type code, NULL when not problem+json (MHD's own) */
    const char *field;           /* errors[] must name it, or NULL */
};

#define BT "/backtests"
#define RUNS "/runs"
#define CT_JSON NULL
#define OK_AUTH NULL
#define MJ "malformed-json"
#define VF "validation-failed"
#define NF "not-found"
#define MNA "method-not-allowed"
#define UA "unauthorized"

static const struct bi_case cases[] = {
    /* ---- JSON syntax: 400 malformed-json with the parser's position ---- */
    { "POST", BT, "{", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{'strategy':'ema_trend'}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"} {\"x\":1}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "\"ema_trend\"", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "42", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "nul", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema\xff\xfetrend\"}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema\\u0000trend\"}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "\xef\xbb\xbf{\"strategy\":\"ema_trend\"}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"strategy\":\"buy_and_hold\"}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, NULL, CT_JSON, OK_AUTH, NULL, GEN_DEEP_ARRAYS, 400, MJ, NULL },
    { "POST", BT, NULL, CT_JSON, OK_AUTH, NULL, GEN_DEEP_OBJECTS, 400, MJ, NULL },
    /* huge numbers and non-finite literals never reach the validator */
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":1e400}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":-1e400}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"seed\":18446744073709551616}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"universe\":9223372036854775808}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":NaN}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":Infinity}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"max_weight\":-Infinity}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"iterations\":1e400}", CT_JSON, OK_AUTH, NULL, 0, 400, MJ, NULL },

    /* ---- POST /backtests: 400 validation-failed naming the field ---- */
    { "POST", BT, "", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "body" },
    { "POST", BT, "{}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "strategy" },
    { "POST", BT, "[]", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "body" },
    { "POST", BT, "[{\"strategy\":\"ema_trend\"}]", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "body" },
    { "POST", BT, "{\"strategy\":42}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "strategy" },
    { "POST", BT, "{\"strategy\":null}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "strategy" },
    { "POST", BT, "{\"strategy\":\"\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "strategy" },
    { "POST", BT, "{\"strategy\":\"momentum\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "strategy" },
    { "POST", BT, "{\"strategy\":\"ema_trend'; DROP TABLE runs;--\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "strategy" },
    { "POST", BT, NULL, CT_JSON, OK_AUTH, NULL, GEN_STRING_600K, 400, VF, "strategy" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"params\":[]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params" },
    { "POST", BT, "{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":\"20\"}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.fast" },
    { "POST", BT, "{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":true}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.fast" },
    { "POST", BT, "{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":50,\"slow\":20}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.fast" },
    { "POST", BT, "{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":20,\"slow\":20}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.fast" },
    { "POST", BT, "{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":2.5}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.fast" },
    { "POST", BT, "{\"strategy\":\"trend_baseline\",\"params\":{\"slow\":1e308}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.slow" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"params\":{\"n\":-1}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "params.n" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":-1000}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "capital" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":0}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "capital" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":1e300}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "capital" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":\"1e6\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "capital" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"capital\":null}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "capital" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"max_weight\":0}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "max_weight" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"max_weight\":-0.5}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "max_weight" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"rebalance_band\":2}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "rebalance_band" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"costs\":{\"commission_bps\":-1}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "costs.commission_bps" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"costs\":{\"fee\":1}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "costs.fee" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"costs\":5}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "costs" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"leverage\":3}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "leverage" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"__proto__\":{}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "__proto__" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":\"SYN001\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[1]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols[0]" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[\"\"]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols[0]" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[\"SYN001\",\"SYN001\"]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols[1]" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[\"../../etc/passwd\"]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols[0]" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[\"SYN001'); DROP TABLE runs;--\"]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols[0]" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"data\":\"synthetic\",\"symbols\":[\"NOPE99\"]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols" },
    { "POST", BT, NULL, CT_JSON, OK_AUTH, NULL, GEN_SYMBOLS_10K, 400, VF, "symbols" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"symbols\":[\"SYN001\"],\"universe\":3}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "symbols" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"universe\":-5}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "universe" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"universe\":1.5}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "universe" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"universe\":100001}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "universe" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"data\":\"synthetic\",\"universe\":501}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "universe" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"start\":\"2020-02-30\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "start" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"start\":\"2020/01/01\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "start" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"start\":\"20200101\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "start" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"start\":20200101}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "start" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"end\":\"yesterday\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "end" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"end\":\"2020-01-01'; DROP TABLE runs;--\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "end" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"start\":\"2021-01-01\",\"end\":\"2020-01-01\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "start" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"last_bars\":1}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "last_bars" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"last_bars\":-1}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "last_bars" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"freq\":\"1m\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "freq" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"data\":\"/etc\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "data" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"data\":\"../../../etc\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "data" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"seed\":-1}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "seed" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"seed\":1.5}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "seed" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"meta_filter\":\"x\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "meta_filter" },
    { "POST", BT, "{\"strategy\":\"ema_trend\",\"meta_filter\":{\"model_id\":0}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "meta_filter.model_id" },

    /* ---- POST /runs ---- */
    { "POST", RUNS, "{}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "job" },
    { "POST", RUNS, "{\"job\":\"eod_small\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "job" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL' OR '1'='1\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "job" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"iterations\":0}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "iterations" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"iterations\":101}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "iterations" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"phase\":5}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "phase" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"phase\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "phase" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"overrides\":[]}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "overrides" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"overrides\":{\"capital\":-1}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "overrides.capital" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"overrides\":{\"strategy\":\"x\"}}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "overrides.strategy" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"profiler\":\"gprof\"}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "profiler" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"profiler\":null}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "profiler" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\",\"priority\":1}", CT_JSON, OK_AUTH, NULL, 0, 400, VF, "priority" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\"}", CT_JSON, OK_AUTH, "Idempotency-Key: "
      "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
      0, 400, VF, "Idempotency-Key" },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\"}", CT_JSON, OK_AUTH, "Idempotency-Key: caf\xc3\xa9", 0, 400, VF, "Idempotency-Key" },

    /* ---- envelope: content type, size ---- */
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", "text/plain", OK_AUTH, NULL, 0, 415, "unsupported-media-type", NULL },
    { "POST", BT, "strategy=ema_trend", "application/x-www-form-urlencoded", OK_AUTH, NULL, 0, 415, "unsupported-media-type", NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", "", OK_AUTH, NULL, 0, 415, "unsupported-media-type", NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", "application/jsonp", OK_AUTH, NULL, 0, 415, "unsupported-media-type", NULL },
    { "POST", BT, NULL, CT_JSON, OK_AUTH, NULL, GEN_BODY_2MIB, 413, "payload-too-large", NULL },
    { "POST", BT, NULL, CT_JSON, OK_AUTH, NULL, GEN_CHUNKED_2MIB, 413, "payload-too-large", NULL },
    /* request heads: 8 KiB target, 32 KiB of header fields (server/http.h) */
    { "GET", RUNS, NULL, CT_JSON, OK_AUTH, NULL, GEN_HEADER_64K, 431, "header-too-large", NULL },
    { "GET", RUNS, NULL, CT_JSON, OK_AUTH, NULL, GEN_HEADERS_40X1K, 431, "header-too-large", NULL },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\"}", CT_JSON, OK_AUTH, NULL, GEN_HEADER_64K, 431, "header-too-large", NULL },
    { "GET", "/runs/abc", NULL, CT_JSON, OK_AUTH, NULL, GEN_HEADER_30K, 404, NF, NULL },
    { "GET", NULL, NULL, CT_JSON, OK_AUTH, NULL, GEN_URL_64K, 414, "uri-too-long", NULL },
    { "GET", NULL, NULL, CT_JSON, OK_AUTH, NULL, GEN_URL_OVER_LIMIT, 414, "uri-too-long", NULL },
    { "GET", NULL, NULL, CT_JSON, OK_AUTH, NULL, GEN_QUERY_9K, 414, "uri-too-long", NULL },
    { "GET", NULL, NULL, CT_JSON, OK_AUTH, NULL, GEN_URL_AT_LIMIT, 404, NF, NULL },
    /* past MHD's own cap (HTTP_MHD_POOL): it answers itself, not problem+json */
    { "GET", RUNS, NULL, CT_JSON, OK_AUTH, NULL, GEN_HEADER_128K, 431, NULL, NULL },
    { "GET", NULL, NULL, CT_JSON, OK_AUTH, NULL, GEN_URL_128K, 414, NULL, NULL },

    /* ---- bearer token ---- */
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, "X-No-Auth: 1", NULL, 0, 401, UA, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, "Authorization: Bearer wrong", NULL, 0, 401, UA, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, "Authorization: Bearer", NULL, 0, 401, UA, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, "Authorization: Bearer bad-input-token-012345678", NULL, 0, 401, UA, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, "Authorization: Bearer " BI_TOKEN "x", NULL, 0, 401, UA, NULL },
    { "POST", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, "Authorization: Basic YWRtaW46YWRtaW4=", NULL, 0, 401, UA, NULL },
    { "POST", RUNS, "{\"job\":\"EOD_SMALL\"}", CT_JSON, "Authorization: " BI_TOKEN, NULL, 0, 401, UA, NULL },
    { "POST", "/runs/{id}/cancel", NULL, CT_JSON, "X-No-Auth: 1", NULL, 0, 401, UA, NULL },
    { "DELETE", "/runs/{id}", NULL, CT_JSON, "X-No-Auth: 1", NULL, 0, 401, UA, NULL },

    /* ---- methods ---- */
    { "PUT", RUNS, "{\"job\":\"EOD_SMALL\"}", CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },
    { "DELETE", "/runs/{id}", NULL, CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },
    { "PATCH", BT, "{\"strategy\":\"ema_trend\"}", CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },
    { "GET", BT, NULL, CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },
    { "POST", "/health", "{}", CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },
    { "POST", "/runs/{id}", "{}", CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },
    { "GET", "/runs/{id}/cancel", NULL, CT_JSON, OK_AUTH, NULL, 0, 405, MNA, NULL },

    /* ---- paths and queries ---- */
    { "GET", "/runs/abc", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/-1", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/0", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/99999999999999999999", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/1%20OR%201=1", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/{id}%00", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/{id}/artifacts/..%2F..%2F..%2Fetc%2Fpasswd", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/{id}/artifacts/../../../../etc/passwd", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/{id}/artifacts/%2E%2E", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/{id}/artifacts/%252E%252E%252Fetc%252Fpasswd", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs/{id}/artifacts/metrics.json%00.md", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/assets/..%2F..%2FCMakeLists.txt", NULL, CT_JSON, OK_AUTH, NULL, 0, 404, NF, NULL },
    { "GET", "/runs?limit=0", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "limit" },
    { "GET", "/runs?limit=100000", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "limit" },
    { "GET", "/runs?limit=-1", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "limit" },
    { "GET", "/runs?limit=1e3", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "limit" },
    { "GET", "/runs?status=bogus", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "status" },
    { "GET", "/runs?job=EOD_SMALL'%20OR%20'1'='1", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "job" },
    { "GET", "/runs?cursor=not-a-cursor", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "cursor" },
    { "GET", "/runs?sort=id;DROP%20TABLE%20runs", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "sort" },
    { "GET", "/backtests/{id}/orders?limit=999999", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "limit" },
    { "GET", "/backtests/{id}/orders?format=xml", NULL, CT_JSON, OK_AUTH, NULL, 0, 400, VF, "format" },
};

/* The request of a generated case: body (malloc'd, *len) or path/header. */
static char *bi_generate(enum bi_gen g, size_t *len)
{
    size_t n = 0;
    char *b = NULL;
    switch (g) {
    case GEN_DEEP_ARRAYS:
        n = 20000;
        b = malloc(n + 1);
        memset(b, '[', n / 2);
        memset(b + n / 2, ']', n / 2);
        break;
    case GEN_DEEP_OBJECTS: {
        const char *head = "{\"strategy\":";
        size_t depth = 10000, hl = strlen(head), o = 0;
        n = hl + depth * 5 + 1 + depth + 1;
        b = malloc(n + 1);
        memcpy(b, head, hl);
        o = hl;
        for (size_t i = 0; i < depth; i++, o += 5)
            memcpy(b + o, "{\"a\":", 5);
        b[o++] = '1';
        memset(b + o, '}', depth + 1);
        o += depth + 1;
        n = o;
        break;
    }
    case GEN_SYMBOLS_10K: {
        const char *head = "{\"strategy\":\"ema_trend\",\"symbols\":[";
        b = malloc(strlen(head) + 10000 * 10 + 8);
        n = (size_t)sprintf(b, "%s", head);
        for (int i = 0; i < 10000; i++)
            n += (size_t)sprintf(b + n, "%s\"S%05d\"", i ? "," : "", i);
        n += (size_t)sprintf(b + n, "]}");
        break;
    }
    case GEN_BODY_2MIB:
    case GEN_CHUNKED_2MIB:
        n = 2u * 1024u * 1024u;
        b = malloc(n + 1);
        memset(b, ' ', n);
        b[0] = '{';
        b[n - 1] = '}';
        break;
    case GEN_STRING_600K: {
        size_t s = 600u * 1024u;
        n = s + 16;
        b = malloc(n + 1);
        memcpy(b, "{\"strategy\":\"", 13);
        memset(b + 13, 'x', s);
        memcpy(b + 13 + s, "\"}", 2);
        n = 13 + s + 2;
        break;
    }
    case GEN_HEADER_64K:
    case GEN_HEADER_30K:
    case GEN_HEADER_128K:
        n = (g == GEN_HEADER_30K ? 30u : g == GEN_HEADER_64K ? 64u : 128u) * 1024u;
        b = malloc(n + 16);
        memcpy(b, "X-Pad: ", 7);
        memset(b + 7, 'p', n - 7);
        break;
    case GEN_HEADERS_40X1K: /* header lines separated by '\n' */
        n = 40u * 1024u;
        b = malloc(n + 16);
        for (size_t i = 0; i < 40; i++) {
            char *l = b + i * 1024u;
            snprintf(l, 16, "X-Pad-%02zu: ", i);
            memset(l + 10, 'p', 1023 - 10); /* over snprintf's NUL */
            l[1023] = '\n';
        }
        n--; /* no newline after the last line */
        break;
    case GEN_URL_64K:
    case GEN_URL_AT_LIMIT:
    case GEN_URL_OVER_LIMIT:
    case GEN_URL_128K:
        n = g == GEN_URL_64K ? 64u * 1024u : g == GEN_URL_128K ? 128u * 1024u : 8192u;
        n += g == GEN_URL_OVER_LIMIT;
        b = malloc(n + 16);
        memcpy(b, "/runs/", 6);
        memset(b + 6, '1', n - 6);
        break;
    case GEN_QUERY_9K:
        n = 9u * 1024u;
        b = malloc(n + 16);
        memcpy(b, "/runs?cursor=", 13);
        memset(b + 13, 'c', n - 13);
        break;
    default:
        *len = 0;
        return NULL;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

static int bi_gen_is_url(enum bi_gen g)
{
    return g == GEN_URL_64K || g == GEN_URL_AT_LIMIT || g == GEN_URL_OVER_LIMIT ||
           g == GEN_QUERY_9K || g == GEN_URL_128K;
}

static int bi_gen_is_header(enum bi_gen g)
{
    return g == GEN_HEADER_64K || g == GEN_HEADER_30K || g == GEN_HEADERS_40X1K ||
           g == GEN_HEADER_128K;
}

struct bi_resp {
    long status;
    int conn_close;              /* the answer said "Connection: close" */
    char ctype[128];
    char *body;
    size_t len;
    char error[CURL_ERROR_SIZE];
};

static size_t bi_header(char *data, size_t size, size_t n, void *ud)
{
    struct bi_resp *r = ud;
    size_t len = size * n;
    if (len >= 17 && strncasecmp(data, "Connection: close", 17) == 0)
        r->conn_close = 1;
    return len;
}

static size_t bi_write(char *data, size_t size, size_t n, void *ud)
{
    struct bi_resp *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, data, add);
    r->body = nb;
    r->len += add;
    nb[r->len] = '\0';
    return add;
}

/* One case as libcurl sends it (the path exactly as written). */
static void bi_send(const struct bi_case *c, const char *run_id, struct bi_resp *r)
{
    char path[512], *url, hdr[256];
    size_t glen = 0;
    char *gen = bi_generate(c->gen, &glen);
    const char *body = c->body;
    size_t blen = body ? strlen(body) : 0;
    struct curl_slist *hl = NULL;
    CURL *h = curl_easy_init();
    memset(r, 0, sizeof *r);
    cr_assert_not_null(h);

    if (bi_gen_is_url(c->gen)) {
        url = malloc(strlen(srv.base) + glen + 1);
        sprintf(url, "%s%s", srv.base, gen);
    } else {
        const char *at = strstr(c->path, "{id}");
        if (at)
            snprintf(path, sizeof path, "%.*s%s%s", (int)(at - c->path), c->path, run_id, at + 4);
        else
            snprintf(path, sizeof path, "%s", c->path);
        url = malloc(strlen(srv.base) + strlen(path) + 1);
        sprintf(url, "%s%s", srv.base, path);
    }
    if (gen && !bi_gen_is_url(c->gen) && !bi_gen_is_header(c->gen)) {
        body = gen;
        blen = glen;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bi_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, bi_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->error);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        if (!c->ctype) {
            hl = curl_slist_append(hl, "Content-Type: application/json");
        } else if (!*c->ctype) {
            hl = curl_slist_append(hl, "Content-Type:");
        } else {
            snprintf(hdr, sizeof hdr, "Content-Type: %s", c->ctype);
            hl = curl_slist_append(hl, hdr);
        }
    }
    if (c->gen == GEN_CHUNKED_2MIB)
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    /* A declared oversize body is answered 413 from its headers alone, and the
     * connection closed: a client that sends the body anyway may see the
     * reset before the answer (that is a race, not a server fault), so that
     * case asks first with "Expect: 100-continue", as curl does by itself for
     * bodies over 1 MiB; every other case sends its body at once. */
    if (c->gen != GEN_BODY_2MIB)
        hl = curl_slist_append(hl, "Expect:");
    else
        hl = curl_slist_append(hl, "Expect: 100-continue");
    hl = curl_slist_append(hl, c->auth ? c->auth : BI_AUTH);
    if (c->header)
        hl = curl_slist_append(hl, c->header);
    if (bi_gen_is_header(c->gen)) {
        for (char *line = gen, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            hl = curl_slist_append(hl, line);
        }
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    if (curl_easy_perform(h) == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
    }
    if (!r->body)
        r->body = calloc(1, 1);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    free(url);
    free(gen);
}

static long long bi_runs(void)
{
    return api_sql_int(db, "SELECT count(*) FROM runs", 0, NULL);
}

/* Check one answer; returns NULL when it is right, else a description. */
static const char *bi_check(const struct bi_case *c, const struct bi_resp *r, char *why,
                            size_t n)
{
    char type[128];
    if (r->status != c->status) {
        snprintf(why, n, "status %ld, want %ld (%s) %.300s", r->status, c->status, r->error,
                 r->body);
        return why;
    }
    if (!c->code)
        return NULL; /* libmicrohttpd's own answer */
    if ((c->status == 414 || c->status == 431) && !r->conn_close) {
        snprintf(why, n, "no \"Connection: close\" on a %ld", c->status);
        return why;
    }
    if (strcmp(r->ctype, "application/problem+json") != 0) {
        snprintf(why, n, "content type '%s'", r->ctype);
        return why;
    }
    json_error_t je;
    json_t *doc = json_loadb(r->body, r->len, 0, &je);
    if (!doc) {
        snprintf(why, n, "body is not JSON: %.200s", r->body);
        return why;
    }
    snprintf(type, sizeof type, "urn:tradebench:problem:%s", c->code);
    const char *t = json_string_value(json_object_get(doc, "type"));
    const char *d = json_string_value(json_object_get(doc, "detail"));
    if (!t || strcmp(t, type) != 0 || json_integer_value(json_object_get(doc, "status")) != c->status ||
        !json_is_string(json_object_get(doc, "title")) || !d || !*d) {
        snprintf(why, n, "problem fields: %.300s", r->body);
        json_decref(doc);
        return why;
    }
    if (c->field) {
        json_t *errs = json_object_get(doc, "errors"), *e;
        size_t i;
        int found = 0;
        json_array_foreach(errs, i, e) {
            const char *f = json_string_value(json_object_get(e, "field"));
            if (f && strcmp(f, c->field) == 0 && json_is_string(json_object_get(e, "message")))
                found = 1;
        }
        if (!found) {
            snprintf(why, n, "errors[] does not name %s: %.300s", c->field, r->body);
            json_decref(doc);
            return why;
        }
    }
    json_decref(doc);
    return NULL;
}

Test(badinput, every_malformed_request_gets_its_4xx_and_stores_nothing)
{
    char id[24], why[600];
    size_t ncases = sizeof cases / sizeof cases[0], failures = 0;
    db = api_schema_enter("badinput", schema, sizeof schema);
    cr_assert_eq(harness_server_start(&srv, NULL, BI_TOKEN), 0, "tradebench-server did not start");
    /* One real run, so id-taking routes reach their name / query checks. */
    PGresult *res = api_sql(db, "INSERT INTO runs (kind, params) VALUES ('backtest', "
                                "'{\"strategy\":\"ema_trend\"}') RETURNING id", 0, NULL);
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    cr_assert_geq(ncases, 60, "the table has only %zu rows", ncases);

    long long before = bi_runs();
    for (size_t i = 0; i < ncases; i++) {
        const struct bi_case *c = &cases[i];
        struct bi_resp r;
        bi_send(c, id, &r);
        const char *bad = bi_check(c, &r, why, sizeof why);
        long long now = bi_runs();
        if (!bad && now != before) {
            snprintf(why, sizeof why, "runs went from %lld to %lld", before, now);
            bad = why;
        }
        if (bad) {
            failures++;
            fprintf(stderr, "case %zu: %s %.60s %.80s: %s\n", i, c->method,
                    c->path ? c->path : "(generated)", c->body ? c->body : "(generated)", bad);
        }
        free(r.body);
        before = now;
    }
    fprintf(stderr, "badinput: %zu malformed requests, %zu wrong answers\n", ncases, failures);
    cr_assert_eq(failures, 0, "%zu of %zu cases got a wrong answer (listed above)", failures,
                 ncases);

    /* Still healthy, nothing stored but the seeded run, clean exit. */
    struct api_resp h;
    api_call(&srv, "GET", "/health", NULL, NULL, NULL, &h);
    api_expect(&h, 200);
    api_resp_free(&h);
    cr_assert_eq(bi_runs(), 1);
    cr_assert_eq(harness_server_stop(&srv), 0, "server exit status after SIGTERM");
}

/* SQL-looking strings in fields that accept free text are stored as data,
 * byte for byte, and the tables are intact afterwards. */
Test(badinput, sql_looking_strings_are_data)
{
    struct api_resp r;
    static const char *const evil = "x'); DROP TABLE runs; --";
    char hdr[128];
    db = api_schema_enter("badinput_sql", schema, sizeof schema);
    cr_assert_eq(harness_server_start(&srv, NULL, BI_TOKEN), 0, "tradebench-server did not start");
    snprintf(hdr, sizeof hdr, "Idempotency-Key: k'%%;DROP--");
    json_t *b = json_pack("{s:s, s:s}", "job", "EOD_SMALL", "phase", evil);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    api_call(&srv, "POST", "/runs", body, BI_AUTH, hdr, &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);
    free(body);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = { ids };
    PGresult *res = api_sql(db, "SELECT phase, idempotency_key FROM runs WHERE id = $1", 1, p);
    cr_assert_str_eq(PQgetvalue(res, 0, 0), evil);
    cr_assert_str_eq(PQgetvalue(res, 0, 1), "k'%;DROP--");
    PQclear(res);
    /* The same text as a list filter finds exactly that run. */
    char path[256];
    snprintf(path, sizeof path, "/runs?phase=x%%27%%29%%3B%%20DROP%%20TABLE%%20runs%%3B%%20--");
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *doc = api_json(&r);
    cr_assert_eq(json_array_size(json_object_get(doc, "items")), 1, "%s", r.body);
    json_decref(doc);
    api_resp_free(&r);
    cr_assert_eq(bi_runs(), 1);
    cr_assert_eq(harness_server_stop(&srv), 0);
}
