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

static struct tb_server srv;
static PGconn *db;
static pid_t worker;
static char schema[64], worker_log[256], outdir[256];

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    if (worker > 0) {
        kill(worker, SIGKILL);
        harness_wait(worker, 5000);
        worker = 0;
    }
    harness_server_kill(&srv);
    api_schema_leave(db, schema);
    db = NULL;
    if (outdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", outdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", outdir);
    }
    curl_global_cleanup();
}

TestSuite(api_sweep, .init = init, .fini = fini, .timeout = 240);

static void up(int with_worker)
{
    const char *url = harness_db_url_or_skip();
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    db = api_schema_enter("api_sweep", schema, sizeof schema);
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0, "tradebench-server did not start");
    snprintf(outdir, sizeof outdir, "%s/tb-it-sweep-%ld", tmp, (long)getpid());
    if (!with_worker)
        return;
    snprintf(worker_log, sizeof worker_log, "%s/tb-it-sweep-worker-%ld.log", tmp, (long)getpid());
    char dburl[1024];
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", url);
    const char *env[] = { dburl, "TB_WORKER_CONCURRENCY=1", "TB_WORKER_ML_THREADS=2", "TB_LOG_LEVEL=info",
                          "TB_DATA=", NULL };
    char *argv[] = { (char *)TB_WORKER_BIN, NULL };
    worker = harness_spawn(TB_WORKER_BIN, argv, env, worker_log);
    cr_assert_gt(worker, 0);
}

static void down(void)
{
    if (worker > 0) {
        kill(worker, SIGTERM);
        int wrc = harness_wait(worker, 20000);
        worker = 0;
        if (wrc != 0) {
            char *log = harness_slurp(worker_log);
            fprintf(stderr, "---- worker log ----\n%s\n", log ? log : "");
            free(log);
        }
        cr_assert_eq(wrc, 0, "tradebench-worker exit status %d after SIGTERM", wrc);
        unlink(worker_log);
    }
    int rc = harness_server_stop(&srv);
    cr_assert_eq(rc, 0, "tradebench-server exit status %d", rc);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Poll GET /backtests/{id} until the run is final; returns it. */
static json_t *poll_sweep(long long id, double timeout_s)
{
    char path[64];
    double t0 = now_s();
    snprintf(path, sizeof path, "/backtests/%lld", id);
    for (;;) {
        struct api_resp r;
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        json_t *run = api_json(&r);
        api_resp_free(&r);
        const char *st = json_string_value(json_object_get(run, "status"));
        if (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))
            return run;
        if (now_s() - t0 > timeout_s) {
            char *log = harness_slurp(worker_log);
            cr_assert_fail("sweep %lld still %s after %.0f s; worker log:\n%s", id, st, timeout_s, log ? log : "");
        }
        json_decref(run);
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

Test(api_sweep, grid_over_http_ranked_table_and_cli_identical_csv)
{
    struct api_resp r;
    char path[160];
    up(1);
    api_call(&srv, "POST", "/backtests",
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
                     "--out", outdir, NULL };
    char clilog[300];
    snprintf(clilog, sizeof clilog, "%s.cli.log", outdir);
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
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, "sweep_results.csv") && strstr(r.body, "sweep_report.md"), "%s", r.body);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/sweep_results.csv", id);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    char file[400];
    snprintf(file, sizeof file, "%s/sweep_results.csv", outdir);
    char *want = harness_slurp(file);
    cr_assert_not_null(want);
    cr_expect(r.len == strlen(want) && !memcmp(r.body, want, r.len), "HTTP CSV differs from the CLI's:\n%s\n---\n%s",
              r.body, want);
    free(want);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/sweep_report.md", id);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, "## Sharpe heat map (fast × slow)") != NULL, "%.300s", r.body);
    api_resp_free(&r);

    /* the rows, and the listing by kind */
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p1[1] = { ids };
    cr_expect_eq(api_sql_int(db, "SELECT count(*) FROM sweep_members WHERE run_id = $1", 1, p1), 5);
    cr_expect_eq(api_sql_int(db, "SELECT n_skipped FROM sweeps WHERE run_id = $1", 1, p1), 1);
    api_call(&srv, "GET", "/runs?kind=sweep", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, want_loc) != NULL, "%.300s", r.body);
    api_resp_free(&r);
    down();
}

Test(api_sweep, grid_errors_name_the_field)
{
    struct api_resp r;
    up(0);
    api_call(&srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[5,0]}}", NULL, NULL,
             &r);
    api_expect_field_error(&r, "grid.fast[1]");
    api_resp_free(&r);
    api_call(&srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"grid\":{\"width\":[5]}}", NULL, NULL,
             &r);
    api_expect_field_error(&r, "grid.width");
    api_resp_free(&r);
    api_call(&srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[60],\"slow\":[20]}}",
             NULL, NULL, &r);
    api_expect_field_error(&r, "grid");
    api_resp_free(&r);
    cr_expect_eq(api_sql_int(db, "SELECT count(*) FROM runs", 0, NULL), 0, "no run stored for a bad grid");
    down();
}
