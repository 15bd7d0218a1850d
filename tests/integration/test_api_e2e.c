/*
 * test_api_e2e — the whole service: the real tradebench-server and
 * tradebench-worker against PostgreSQL. A synthetic backtest POSTed over
 * HTTP is executed by the worker, and the artifacts downloaded over HTTP
 * are byte-identical to what `tradebench backtest` writes for the same
 * configuration; EOD_SMALL through POST /runs ends with its report and
 * targets; a running run is cancelled over HTTP. Each test lives in its own
 * schema (api_schema_enter: PGOPTIONS search_path, inherited by both
 * processes), so workers of other tests never see its runs.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_api_client.h"

#ifndef TB_WORKER_BIN
#error "TB_WORKER_BIN must be defined by CMake"
#endif

static struct api_stack stack;

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    api_stack_fini(&stack);
    curl_global_cleanup();
}

TestSuite(api_e2e, .init = init, .fini = fini, .timeout = 240);

/* Own schema (api_schema_enter), then server and worker inside it. */
static void up(void)
{
    api_stack_up(&stack, "e2e", (const char *const[]){ "TB_WORKER_CONCURRENCY=2", NULL });
}

static void down(void)
{
    api_stack_down(&stack);
}

/* Poll GET /runs/{id} until its status is final (or `until`); returns the run. */
static json_t *poll_run(long long id, const char *until, double timeout_s, int *saw_running)
{
    return api_poll_run(&stack, "/runs", id, until, timeout_s, saw_running, NULL);
}

Test(api_e2e, backtest_over_http_matches_the_cli_byte_for_byte)
{
    struct api_resp r;
    char path[128], file[400];
    int saw_running = 0;
    up();
    api_call(&stack.srv, "POST", "/backtests",
             "{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":10,\"slow\":30},"
             "\"data\":\"synthetic\",\"seed\":7,\"universe\":20,\"start\":\"2014-01-01\","
             "\"capital\":50000,\"max_weight\":0.2}",
             NULL, NULL, &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);

    /* The same configuration through the command line. */
    char *argv[] = { (char *)TB_CLI_BIN, "backtest", "--data", "synthetic", "--seed", "7",
                     "--strategy", "trend_baseline", "--param", "fast=10", "--param", "slow=30",
                     "--symbols", "20", "--start", "2014-01-01", "--capital", "50000",
                     "--max-weight", "0.2", "--out", stack.outdir, NULL };
    api_stack_cli(&stack, argv, 120000);

    json_t *run = poll_run(id, NULL, 120, &saw_running);
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded", "run: %s",
                     json_string_value(json_object_get(run, "error")));
    cr_assert_eq(json_real_value(json_object_get(run, "progress")), 1.0);
    cr_assert(json_is_string(json_object_get(run, "started_at")));
    cr_assert(json_is_string(json_object_get(run, "finished_at")));
    cr_assert_eq(json_integer_value(json_object_get(run, "attempts")), 1);
    cr_assert(json_is_object(json_object_get(run, "metrics")));
    json_decref(run);

    snprintf(path, sizeof path, "/runs/%lld/artifacts/orders_1d.csv", id);
    snprintf(file, sizeof file, "%s/orders_1d.csv", stack.outdir);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/backtests/%lld/orders?format=csv", id);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/equity_curve_1d.csv", id);
    snprintf(file, sizeof file, "%s/equity_curve_1d.csv", stack.outdir);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/backtests/%lld/equity?format=csv", id);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/metrics.json", id);
    snprintf(file, sizeof file, "%s/metrics.json", stack.outdir);
    api_same_as_file(&stack.srv, path, file);

    /* The metrics summary is metrics.json's content. */
    char *mj = harness_slurp(file);
    json_t *want = json_loads(mj, 0, NULL);
    free(mj);
    snprintf(path, sizeof path, "/backtests/%lld", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    run = api_json(&r);
    cr_assert(json_equal(json_object_get(run, "metrics"), want));
    json_decref(run);
    json_decref(want);
    api_resp_free(&r);

    /* Equity pages carry the universe benchmark, grown from the start capital. */
    snprintf(path, sizeof path, "/backtests/%lld/equity?limit=3", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *eq = api_json(&r);
    json_t *items = json_object_get(eq, "items");
    cr_assert_eq(json_array_size(items), 3);
    cr_assert_eq(json_real_value(json_object_get(json_array_get(items, 0), "benchmark")),
                 json_real_value(json_object_get(json_array_get(items, 0), "equity")));
    for (size_t k = 1; k < 3; k++) {
        double b = json_real_value(json_object_get(json_array_get(items, k), "benchmark"));
        cr_assert(isfinite(b) && b > 0, "benchmark[%zu] = %g", k, b);
    }
    json_decref(eq);
    api_resp_free(&r);

    /* The report is listed and served; the profile has the run's stages. */
    snprintf(path, sizeof path, "/runs/%lld/artifacts/performance_report_1d.md", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strncmp(r.content_type, "text/markdown", 13) == 0, "%s", r.content_type);
    cr_assert(strncmp(r.body, "# Performance report", 20) == 0, "%.80s", r.body);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/profile", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *prof = api_json(&r);
    cr_assert_eq(json_array_size(json_object_get(prof, "iterations")), 1);
    cr_assert_gt(json_real_value(json_object_get(json_object_get(prof, "summary"), "median_wall_seconds")), 0);
    cr_assert_gt(json_integer_value(json_object_get(json_object_get(prof, "summary"), "max_peak_rss_bytes")), 0);
    cr_assert_eq(json_array_size(json_object_get(prof, "hotspots")), 3);
    json_decref(prof);
    api_resp_free(&r);
    down();
}

Test(api_e2e, eod_small_report_and_cancel_over_http)
{
    struct api_resp r;
    char path[128], file[400];
    up();
    /* A long run first (many iterations), to cancel while it runs. */
    api_call(&stack.srv, "POST", "/runs", "{\"job\":\"BACKTEST_MEDIUM\",\"iterations\":100}", NULL,
             NULL, &r);
    api_expect(&r, 202);
    long long longrun = api_run_id(&r);
    api_resp_free(&r);
    api_call(&stack.srv, "POST", "/runs", "{\"job\":\"EOD_SMALL\"}", NULL, NULL, &r);
    api_expect(&r, 202);
    long long eod = api_run_id(&r);
    api_resp_free(&r);

    json_t *run = poll_run(longrun, "running", 60, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "running");
    json_decref(run);
    snprintf(path, sizeof path, "/runs/%lld/cancel", longrun);
    double t0 = api_now_s();
    api_call(&stack.srv, "POST", path, NULL, NULL, NULL, &r);
    api_expect(&r, 202);
    api_resp_free(&r);
    run = poll_run(longrun, NULL, 30, NULL);
    double took = api_now_s() - t0;
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "cancelled");
    cr_assert(json_is_string(json_object_get(run, "finished_at")));
    json_decref(run);
    fprintf(stderr, "running run cancelled over HTTP in %.2f s\n", took);
    cr_assert_lt(took, 5.0, "cancel took %.2f s", took);
    api_call(&stack.srv, "POST", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 409, "conflict");
    api_resp_free(&r);

    /* EOD_SMALL: succeeded, with the CLI's orders and its report and targets. */
    run = poll_run(eod, NULL, 120, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded", "%s",
                     json_string_value(json_object_get(run, "error")));
    json_decref(run);
    snprintf(path, sizeof path, "/runs/%lld/artifacts", eod);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    for (const char *const *n = (const char *const[]){ "orders_1d.csv", "equity_curve_1d.csv",
                                                       "metrics.json", "performance_report_1d.md",
                                                       "targets_1d.csv", NULL };
         *n; n++)
        cr_assert(strstr(r.body, *n) != NULL, "%s not listed: %s", *n, r.body);
    api_resp_free(&r);
    char *argv[] = { (char *)TB_CLI_BIN, "run-daily", "--out", stack.outdir, NULL };
    api_stack_cli(&stack, argv, 120000);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/orders_1d.csv", eod);
    snprintf(file, sizeof file, "%s/orders_1d.csv", stack.outdir);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/targets_1d.csv", eod);
    snprintf(file, sizeof file, "%s/targets_1d.csv", stack.outdir);
    api_same_as_file(&stack.srv, path, file);
    down();
}
