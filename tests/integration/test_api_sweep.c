/*
 * test_api_sweep — a parameter sweep over the API, end to end: POST
 * /backtests with a "grid" on a small synthetic universe is queued as a run
 * of kind sweep, a real tradebench-worker runs it, and GET /backtests/{id}
 * answers the ranked table (invalid combinations skipped and counted, ranks
 * 1..n by Sharpe); sweep_results.csv over HTTP is byte-identical to what
 * `tradebench backtest --grid` writes, and the rows are in sweeps /
 * sweep_members. Grid errors are 400s naming grid.<param>[k]. Own schema,
 * own server and worker (see test_api_e2e.c).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
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

TestSuite(api_sweep, .init = init, .fini = fini, .timeout = 240);

static void up(int with_worker)
{
    api_stack_up(&stack, "sweep",
                 with_worker ? (const char *const[]){ "TB_WORKER_CONCURRENCY=1", "TB_WORKER_ML_THREADS=2", NULL }
                             : NULL);
}

static void down(void)
{
    api_stack_down(&stack);
}

/* Poll GET /backtests/{id} until the run is final; returns it. */
static json_t *poll_sweep(long long id, double timeout_s)
{
    return api_poll_run(&stack, "/backtests", id, NULL, timeout_s, NULL, NULL);
}

Test(api_sweep, grid_over_http_ranked_table_and_cli_identical_csv)
{
    struct api_resp r;
    char path[160];
    up(1);
    api_call(&stack.srv, "POST", "/backtests",
             "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":20,\"last_bars\":400,"
             "\"grid\":{\"fast\":[5,10,30],\"slow\":[20,40]}}",
             NULL, NULL, &r);
    api_expect(&r, 202);
    json_t *queued = api_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(queued, "kind")), "sweep");
    long long id = json_integer_value(json_object_get(queued, "id"));
    char want_loc[64];
    snprintf(want_loc, sizeof want_loc, "/backtests/%lld", id);
    cr_assert(strstr(r.location, want_loc) != NULL, "Location %s", r.location);
    json_decref(queued);
    api_resp_free(&r);

    /* the same sweep through the command line */
    char *argv[] = { (char *)TB_CLI_BIN, "backtest", "--data", "synthetic", "--strategy", "trend_baseline",
                     "--symbols", "20", "--last-bars", "400", "--grid", "fast=5,10,30", "--grid", "slow=20,40",
                     "--out", stack.outdir, NULL };
    char clilog[300];
    snprintf(clilog, sizeof clilog, "%s.cli.log", stack.outdir);
    const char *env[] = { "TB_DATA=", NULL };
    int crc = harness_wait(harness_spawn(TB_CLI_BIN, argv, env, clilog), 120000);
    cr_assert_eq(crc, 0, "tradebench --grid exit %d", crc);
    unlink(clilog);

    json_t *run = poll_sweep(id, 120);
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded", "sweep: %s",
                     json_string_value(json_object_get(run, "error")));
    json_t *sw = json_object_get(run, "sweep");
    cr_assert(json_is_object(sw), "no sweep object: %s", json_dumps(run, 0));
    cr_expect_eq(json_integer_value(json_object_get(sw, "combinations")), 6);
    cr_expect_eq(json_integer_value(json_object_get(sw, "members")), 5);
    cr_expect_eq(json_integer_value(json_object_get(sw, "skipped")), 1);
    cr_expect(strstr(json_string_value(json_object_get(sw, "skip_reason")), "must be < slow") != NULL);
    cr_expect_str_eq(json_string_value(json_object_get(sw, "strategy")), "trend_baseline");
    cr_expect_eq(json_integer_value(json_object_get(sw, "symbols")), 20);
    cr_expect_eq(json_integer_value(json_object_get(sw, "bars")), 400);
    cr_expect(json_integer_value(json_object_get(sw, "threads")) >= 1);
    json_t *ranked = json_object_get(sw, "ranked");
    cr_assert_eq(json_array_size(ranked), 5);
    double prev = INFINITY;
    size_t i;
    json_t *row;
    json_array_foreach(ranked, i, row) {
        cr_expect_eq(json_integer_value(json_object_get(row, "rank")), (json_int_t)i + 1);
        double s = json_number_value(json_object_get(row, "sharpe"));
        cr_expect(s <= prev, "ranked by Sharpe: %g after %g", s, prev);
        prev = s;
        json_t *p = json_object_get(row, "params");
        cr_expect(json_integer_value(json_object_get(p, "fast")) < json_integer_value(json_object_get(p, "slow")));
        cr_expect(json_is_object(json_object_get(row, "metrics")));
        cr_expect(json_is_integer(json_object_get(row, "n_orders")));
    }
    json_decref(run);

    /* artifacts: listed, the CSV byte-identical to the CLI's, the report with its heat map */
    snprintf(path, sizeof path, "/runs/%lld/artifacts", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, "sweep_results.csv") && strstr(r.body, "sweep_report.md"), "%s", r.body);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/sweep_results.csv", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    char file[400];
    snprintf(file, sizeof file, "%s/sweep_results.csv", stack.outdir);
    char *want = harness_slurp(file);
    cr_assert_not_null(want);
    cr_expect(r.len == strlen(want) && !memcmp(r.body, want, r.len), "HTTP CSV differs from the CLI's:\n%s\n---\n%s",
              r.body, want);
    free(want);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/sweep_report.md", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, "## Sharpe heat map (fast × slow)") != NULL, "%.300s", r.body);
    api_resp_free(&r);

    /* the rows, and the listing by kind */
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p1[1] = { ids };
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM sweep_members WHERE run_id = $1", 1, p1), 5);
    cr_expect_eq(api_sql_int(stack.db, "SELECT n_skipped FROM sweeps WHERE run_id = $1", 1, p1), 1);
    api_call(&stack.srv, "GET", "/runs?kind=sweep", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, want_loc) != NULL, "%.300s", r.body);
    api_resp_free(&r);
    down();
}

Test(api_sweep, grid_errors_name_the_field)
{
    struct api_resp r;
    up(0);
    api_call(&stack.srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[5,0]}}", NULL, NULL,
             &r);
    api_expect_field_error(&r, "grid.fast[1]");
    api_resp_free(&r);
    api_call(&stack.srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"grid\":{\"width\":[5]}}", NULL, NULL,
             &r);
    api_expect_field_error(&r, "grid.width");
    api_resp_free(&r);
    api_call(&stack.srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[60],\"slow\":[20]}}",
             NULL, NULL, &r);
    api_expect_field_error(&r, "grid");
    api_resp_free(&r);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM runs", 0, NULL), 0, "no run stored for a bad grid");
    down();
}
