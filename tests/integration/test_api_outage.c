/*
 * test_api_outage — PostgreSQL goes away under a running server and comes
 * back: the run endpoints answer 503 problem+json (database-unavailable,
 * Retry-After) instead of hanging or 500, a POST made during the outage
 * stores nothing, /metrics still answers (database_up 0), and everything
 * works again without a restart once the database is back.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <time.h>

#include "harness.h"
#include "test_api_client.h"
#include "test_api_proxy.h"

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

TestSuite(api_outage, .init = init, .fini = fini, .timeout = 120);

Test(api_outage, run_endpoints_answer_503_while_the_database_is_down)
{
    struct api_proxy px;
    char via[512], path[64], key[96], hdr[128];
    struct api_resp r;
    const char *url = harness_db_url_or_skip();
    db = api_schema_enter("api_outage", schema, sizeof schema);
    proxy_start(&px, url, via, sizeof via);
    cr_assert_eq(harness_server_start(&srv, via, NULL), 0, "server did not start via the proxy");

    api_call(&srv, "POST", "/backtests", "{\"strategy\":\"ema_trend\",\"universe\":3}", NULL, NULL,
             &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld", id);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    api_resp_free(&r);

    proxy_cut(&px);
    static const char *const reads[] = { NULL, "/runs", "/runs/%lld/profile",
                                         "/runs/%lld/artifacts", "/backtests/%lld" };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        char p[96];
        if (reads[i])
            snprintf(p, sizeof p, reads[i], id);
        else
            snprintf(p, sizeof p, "%s", path);
        api_call(&srv, "GET", p, NULL, NULL, NULL, &r);
        api_expect_problem(&r, 503, "database-unavailable");
        cr_assert_str_eq(r.retry_after, "5");
        api_resp_free(&r);
    }
    snprintf(key, sizeof key, "it-outage-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
    api_call(&srv, "POST", "/runs", "{\"job\":\"EOD_SMALL\"}", hdr, NULL, &r);
    api_expect_problem(&r, 503, "database-unavailable");
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/cancel", id);
    api_call(&srv, "POST", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 503, "database-unavailable");
    api_resp_free(&r);
    api_call(&srv, "GET", "/metrics", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strstr(r.body, "\ntradebench_database_up 0\n") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "tradebench_http_requests_total{route=\"/runs/{id}\",method=\"GET\",status=\"503\"} 1") != NULL);
    api_resp_free(&r);

    /* Back: the same server recovers on its own. */
    proxy_restore(&px);
    snprintf(path, sizeof path, "/runs/%lld", id);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    api_resp_free(&r);
    api_call(&srv, "GET", "/runs?limit=1", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    api_resp_free(&r);
    const char *p[1] = { key };
    cr_assert_eq(api_sql_int(db, "SELECT count(*) FROM runs WHERE idempotency_key = $1", 1, p), 0,
                 "the POST made during the outage stored a run");
    api_call(&srv, "POST", "/runs", "{\"job\":\"EOD_SMALL\"}", hdr, NULL, &r);
    api_expect(&r, 202);
    api_run_id(&r);
    api_resp_free(&r);

    int rc = harness_server_stop(&srv);
    cr_assert_eq(rc, 0, "exit status %d", rc);
    proxy_stop(&px);
}
