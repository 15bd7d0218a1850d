/*
 * unit_api — the pure pieces of the API layer, without a server: opaque
 * cursors (round trip, kind separation, strict decoding), Accept-header
 * quality, the Prometheus registry and its exposition text, and the
 * metrics object built from stored rows.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "api/metrics_prom.h"
#include "api/pagination.h"
#include "api/runview.h"
#include "metrics.h"
#include "server/http.h"
#include "server/router.h"

Test(pagination, cursors_round_trip)
{
    char c[PAGE_CURSOR_MAX];
    int64_t a, b;
    static const int64_t keys[][2] = { { 1764201600123456, 1 },     { 0, 0 },
                                       { -5, 7 },                   { INT64_MAX, INT64_MAX },
                                       { INT64_MIN, 1 } };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        page_cursor_encode(PAGE_RUNS, keys[i][0], keys[i][1], c);
        cr_assert_lt(strlen(c), PAGE_CURSOR_MAX);
        cr_assert_eq(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     strlen(c), "not URL-safe: %s", c);
        cr_assert_eq(page_cursor_decode(PAGE_RUNS, c, &a, &b), 0, "%s", c);
        cr_assert_eq(a, keys[i][0]);
        cr_assert_eq(b, keys[i][1]);
    }
    page_cursor_encode(PAGE_ORDERS, 4242, 0, c);
    cr_assert_eq(page_cursor_decode(PAGE_ORDERS, c, &a, &b), 0);
    cr_assert_eq(a, 4242);
    page_cursor_encode(PAGE_EQUITY, 1262304000, 0, c);
    cr_assert_eq(page_cursor_decode(PAGE_EQUITY, c, &a, NULL), 0);
    cr_assert_eq(a, 1262304000);
}

Test(pagination, cursors_of_another_list_or_garbage_are_rejected)
{
    char c[PAGE_CURSOR_MAX];
    int64_t a, b;
    page_cursor_encode(PAGE_ORDERS, 10, 0, c);
    cr_assert_str_eq(c, "bzE6MTA"); /* base64url("o1:10"), used by the HTTP tests */
    cr_assert_eq(page_cursor_decode(PAGE_RUNS, c, &a, &b), -1);
    cr_assert_eq(page_cursor_decode(PAGE_EQUITY, c, &a, &b), -1);
    static const char *const bad[] = {
        "", "abc", "!!", "bzE6MTA=", "bzE6MTA ", "bzE6MTB", /* non-canonical trailing bits */
        "bzE6MDEw",                                          /* "o1:010": leading zero */
        "bzE6",                                              /* "o1:" */
        "bzE6LTA",                                           /* "o1:-0" */
        "bzE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ",                /* overflow */
        "bzE6MTA6MTA",                                       /* two keys on a one-key list */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(page_cursor_decode(PAGE_ORDERS, bad[i], &a, &b), -1, "accepted '%s'", bad[i]);
    cr_assert_eq(page_cursor_decode(PAGE_ORDERS, NULL, &a, &b), -1);
}

Test(accept, quality_of_media_types)
{
    cr_assert_eq(http_accept_quality(NULL, "text/csv"), 1);
    cr_assert_eq(http_accept_quality("  ", "text/csv"), 1);
    cr_assert_eq(http_accept_quality("text/csv", "text/csv"), 1);
    cr_assert_eq(http_accept_quality("text/csv", "application/json"), 0);
    cr_assert_eq(http_accept_quality("TEXT/CSV", "text/csv"), 1);
    cr_assert_eq(http_accept_quality("text/*", "text/csv"), 1);
    cr_assert_eq(http_accept_quality("*/*", "application/json"), 1);
    cr_assert_eq(http_accept_quality("text/csv;q=0.4, */*;q=0.1", "text/csv"), 0.4);
    cr_assert_eq(http_accept_quality("text/csv;q=0.4, */*;q=0.1", "application/json"), 0.1);
    /* the most specific range wins, whatever its order */
    cr_assert_eq(http_accept_quality("*/*;q=0.9, text/*;q=0.2, text/csv;q=0.7", "text/csv"), 0.7);
    cr_assert_eq(http_accept_quality("text/csv ; charset=utf-8 ; q=0.5", "text/csv"), 0.5);
    cr_assert_eq(http_accept_quality("text/csv;q=2", "text/csv"), 0); /* malformed weight */
    cr_assert_eq(http_accept_quality("text/csvx", "text/csv"), 0);
    cr_assert_eq(http_accept_quality("application/json", "application/json"), 1);
}

static void handler(const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    (void)rep;
}

Test(prom, counts_by_route_status_and_latency_bucket)
{
    static const struct route routes[] = { { "GET", "/runs/{id}", handler },
                                           { "POST", "/runs", handler } };
    struct prom_registry *reg = prom_new(routes, 2);
    prom_observe(reg, &routes[0], "GET", 200, 0.3);   /* le 0.0005 */
    prom_observe(reg, &routes[0], "HEAD", 200, 3.0);  /* le 0.005 */
    prom_observe(reg, &routes[0], "GET", 404, 20000); /* +Inf */
    prom_observe(reg, &routes[1], "POST", 202, 1.0);
    prom_observe(reg, NULL, "BREW", 404, 0.1);
    size_t len;
    char *text = prom_render_http(reg, &len);
    cr_assert_eq(strlen(text), len);
    cr_assert(strstr(text, "tradebench_http_requests_total{route=\"/runs/{id}\",method=\"GET\",status=\"200\"} 2\n"));
    cr_assert(strstr(text, "tradebench_http_requests_total{route=\"/runs/{id}\",method=\"GET\",status=\"404\"} 1\n"));
    cr_assert(strstr(text, "tradebench_http_requests_total{route=\"/runs\",method=\"POST\",status=\"202\"} 1\n"));
    cr_assert(strstr(text, "tradebench_http_requests_total{route=\"unmatched\",method=\"\",status=\"404\"} 1\n"));
    cr_assert(strstr(text, "_bucket{route=\"/runs/{id}\",method=\"GET\",le=\"0.0005\"} 1\n"));
    cr_assert(strstr(text, "_bucket{route=\"/runs/{id}\",method=\"GET\",le=\"0.005\"} 2\n"));
    cr_assert(strstr(text, "_bucket{route=\"/runs/{id}\",method=\"GET\",le=\"10\"} 2\n"));
    cr_assert(strstr(text, "_bucket{route=\"/runs/{id}\",method=\"GET\",le=\"+Inf\"} 3\n"));
    cr_assert(strstr(text, "_count{route=\"/runs/{id}\",method=\"GET\"} 3\n"));
    cr_assert(strstr(text, "_sum{route=\"/runs/{id}\",method=\"GET\"} 20.003300\n"));
    cr_assert(strstr(text, "# TYPE tradebench_http_requests_total counter\n"));
    free(text);
    prom_free(reg);
}

Test(runview, metrics_from_stored_rows_in_spec_order)
{
    json_t *m = runview_metrics_json("[[\"sharpe\", 1.5], [\"n_orders\", 12], [\"beta\", null], "
                                     "[\"not_a_metric\", 3]]");
    const char *key;
    json_t *v;
    size_t k = 0;
    json_object_foreach(m, key, v) cr_assert_str_eq(key, metrics_names[k++]);
    cr_assert_eq(k, 15);
    cr_assert_eq(json_real_value(json_object_get(m, "sharpe")), 1.5);
    cr_assert(json_is_integer(json_object_get(m, "n_orders")));
    cr_assert_eq(json_integer_value(json_object_get(m, "n_orders")), 12);
    cr_assert(json_is_null(json_object_get(m, "beta")));
    cr_assert(json_is_null(json_object_get(m, "cagr")));
    cr_assert_null(json_object_get(m, "not_a_metric"));
    json_decref(m);
    m = runview_metrics_json(NULL);
    cr_assert_eq(json_object_size(m), 15);
    json_decref(m);
    cr_assert(runview_is_backtest("backtest", NULL));
    cr_assert(runview_is_backtest("run", "EOD_SMALL"));
    cr_assert(!runview_is_backtest("run", "ML_JOB"));
    cr_assert(!runview_is_backtest("model", NULL));
}
