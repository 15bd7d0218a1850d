/*
 * test_worker — the real tradebench-worker against a real PostgreSQL.
 * Runs are inserted with SQL exactly as the API stores them (params are the
 * jobspec's normalised JSON) and NOTIFYed; the tests then watch the runs
 * table and compare what the worker persisted with what the engine computes
 * in-process for the same params: results, a re-executed run without
 * duplicates, progress and heartbeat while running, cancel latency, crashes
 * and failed persists, stale-run requeue, a SIGKILLed worker, concurrency,
 * graceful shutdown, a database connection cut under a running run. Each test lives in its own schema (PGOPTIONS
 * search_path for the worker), dropped at the end, so Criterion's parallel
 * tests and other suites never see each other's queue.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/artifacts.h"
#include "engine/backtest.h"
#include "engine/jobspec.h"
#include "engine/numfmt.h"
#include "engine/timeutil.h"
#include "harness.h"
#include "server/db.h"
#include "server/migrate.h"

#ifndef TB_WORKER_BIN
#error "TB_WORKER_BIN must be defined by CMake"
#endif

#define WT_MAX_WORKERS 2

static struct {
    char schema[64];
    char pgoptions[128];         /* "PGOPTIONS=-c search_path=<schema>" */
    char dburl[1024];            /* "TB_DATABASE_URL=..." */
    PGconn *db;                  /* the test's connection, in the schema */
    pid_t worker[WT_MAX_WORKERS];
    char log[WT_MAX_WORKERS][256];
} wt;

static void wt_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static double wt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void wt_dump_log(int i)
{
    char *text = harness_slurp(wt.log[i]);
    fprintf(stderr, "---- worker %d log (%s) ----\n%s---- end ----\n", i, wt.log[i],
            text ? text : "(none)\n");
    free(text);
}

/* ---- database helpers --------------------------------------------------------- */

static PGresult *wt_q(const char *sql, int n, const char *const *params)
{
    char err[1024];
    PGresult *r = db_exec(wt.db, sql, n, params, PGRES_TUPLES_OK, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", sql, err);
    return r;
}

static void wt_cmd(const char *sql, int n, const char *const *params)
{
    char err[1024];
    cr_assert_eq(db_command(wt.db, sql, n, params, err, sizeof err), 0, "%s: %s", sql, err);
}

/* The single value of a one-row query with one text parameter (new string,
 * or NULL for SQL NULL / no row). */
static char *wt_value(const char *sql, const char *p1)
{
    const char *params[] = { p1 };
    PGresult *r = wt_q(sql, p1 ? 1 : 0, params);
    char *v = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static long long wt_count(const char *sql, const char *p1)
{
    char *v = wt_value(sql, p1);
    long long n = v ? atoll(v) : -1;
    free(v);
    return n;
}

static char *wt_status(const char *id)
{
    return wt_value("SELECT status FROM runs WHERE id = $1", id);
}

/* Poll until the run's status is `want`; returns 1, or 0 after timeout_ms. */
static int wt_wait_status(const char *id, const char *want, int timeout_ms)
{
    for (double t0 = wt_now(); (wt_now() - t0) * 1000 < timeout_ms; wt_sleep_ms(10)) {
        char *s = wt_status(id);
        int hit = s && strcmp(s, want) == 0;
        free(s);
        if (hit)
            return 1;
    }
    return 0;
}

static void wt_assert_status(const char *id, const char *want, int timeout_ms)
{
    if (!wt_wait_status(id, want, timeout_ms)) {
        char *s = wt_status(id), *e = wt_value("SELECT error FROM runs WHERE id = $1", id);
        for (int i = 0; i < WT_MAX_WORKERS; i++)
            if (wt.log[i][0])
                wt_dump_log(i);
        cr_assert_fail("run %s: status %s (error %s), want %s", id, s ? s : "?", e ? e : "-", want);
    }
}

/* Insert a run as the API does and NOTIFY; the id (static buffer per slot). */
static const char *wt_insert(const char *kind, const char *job, const char *params, int iterations)
{
    static char ids[16][24];
    static int next;
    char iters[16];
    snprintf(iters, sizeof iters, "%d", iterations);
    const char *p[] = { kind, job, params, iters };
    PGresult *r = wt_q("INSERT INTO runs (kind, job, params, iterations) "
                       "VALUES ($1, $2, $3::jsonb, $4::int) RETURNING id",
                       4, p);
    char *id = ids[next++ % 16];
    snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *np[] = { id };
    wt_cmd("SELECT pg_notify('tb_runs', $1)", 1, np);
    return id;
}

/* Normalised params of a backtest body (what POST /backtests stores). */
static char *wt_backtest_params(const char *body)
{
    json_error_t je;
    json_t *b = json_loads(body, 0, &je);
    tb_jobspec spec;
    js_errors errs;
    cr_assert_not_null(b, "%s", je.text);
    cr_assert_eq(jobspec_from_backtest_json(b, &spec, &errs), 0, "%s: %s",
                 errs.n ? errs.e[0].field : "", errs.n ? errs.e[0].message : "");
    char *text = json_dumps(spec.normalized, JSON_COMPACT);
    jobspec_free(&spec);
    json_decref(b);
    return text;
}

/* Normalised params of a POST /runs body. */
static char *wt_run_params(const char *body)
{
    json_error_t je;
    json_t *b = json_loads(body, 0, &je);
    tb_jobspec spec;
    js_errors errs;
    int iterations;
    const char *phase;
    cr_assert_not_null(b, "%s", je.text);
    cr_assert_eq(jobspec_from_run_json(b, &spec, &iterations, &phase, &errs), 0, "%s: %s",
                 errs.n ? errs.e[0].field : "", errs.n ? errs.e[0].message : "");
    char *text = json_dumps(spec.normalized, JSON_COMPACT);
    jobspec_free(&spec);
    json_decref(b);
    return text;
}

/* ---- worker processes ------------------------------------------------------------ */

static int wt_log_has(int i, const char *needle)
{
    char *text = harness_slurp(wt.log[i]);
    int found = text && strstr(text, needle);
    free(text);
    return found;
}

/* Start worker i with extra "K=V" entries (NULL-terminated, may be NULL);
 * waits until it is connected and listening. */
static pid_t wt_worker_start(int i, const char *const *extra)
{
    const char *env[16];
    size_t n = 0;
    env[n++] = wt.dburl;
    env[n++] = wt.pgoptions;
    env[n++] = "TB_LOG_LEVEL=debug";
    env[n++] = "TB_DATA=";
    env[n++] = "TB_WORKER_CONCURRENCY=";
    env[n++] = "TB_FAULT_INJECT=";
    env[n++] = "TB_WORKER_STALE_SECONDS=";
    env[n++] = "TB_WORKER_GRACE_SECONDS=";
    for (size_t k = 0; extra && extra[k] && n + 1 < sizeof env / sizeof env[0]; k++)
        env[n++] = extra[k];
    env[n] = NULL;
    char *argv[] = { TB_WORKER_BIN, NULL };
    snprintf(wt.log[i], sizeof wt.log[i], "%s/tb-it-worker-%ld-%d.log",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), i);
    wt.worker[i] = harness_spawn(TB_WORKER_BIN, argv, env, wt.log[i]);
    cr_assert_gt(wt.worker[i], 0);
    for (int t = 0; t < 600 && !wt_log_has(i, "idling"); t++)
        wt_sleep_ms(50);
    if (!wt_log_has(i, "idling")) {
        wt_dump_log(i);
        cr_assert_fail("worker %d never connected", i);
    }
    return wt.worker[i];
}

/* SIGTERM worker i; returns its exit status (see harness_wait). */
static int wt_worker_stop(int i, int timeout_ms)
{
    if (wt.worker[i] <= 0)
        return -1;
    kill(wt.worker[i], SIGTERM);
    int rc = harness_wait(wt.worker[i], timeout_ms);
    wt.worker[i] = 0;
    if (rc != 0)
        wt_dump_log(i);
    return rc;
}

static void wt_init(void)
{
    char err[1024];
    const char *url = getenv("TB_TEST_DATABASE_URL");
    memset(&wt, 0, sizeof wt);
    if (!url || !*url || PQping(url) != PQPING_OK)
        return; /* each test skips through harness_db_url_or_skip() */
    snprintf(wt.schema, sizeof wt.schema, "tbtest_worker_%ld", (long)getpid());
    snprintf(wt.pgoptions, sizeof wt.pgoptions, "PGOPTIONS=-c search_path=%s", wt.schema);
    snprintf(wt.dburl, sizeof wt.dburl, "TB_DATABASE_URL=%s", url);
    wt.db = db_connect(url, "tradebench-test", err, sizeof err);
    cr_assert_not_null(wt.db, "connect: %s", err);
    char *ident = PQescapeIdentifier(wt.db, wt.schema, strlen(wt.schema));
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", ident);
    wt_cmd(sql, 0, NULL);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", ident);
    wt_cmd(sql, 0, NULL);
    PQfreemem(ident);
    const char *sp[] = { wt.schema };
    wt_cmd("SELECT set_config('search_path', $1, false)", 1, sp);
    cr_assert_eq(migrate_apply(wt.db, NULL, NULL, NULL, err, sizeof err), 0, "%s", err);
}

static void wt_fini(void)
{
    for (int i = 0; i < WT_MAX_WORKERS; i++) {
        if (wt.worker[i] > 0) {
            kill(wt.worker[i], SIGKILL);
            harness_wait(wt.worker[i], 5000);
        }
        if (wt.log[i][0])
            unlink(wt.log[i]);
    }
    if (wt.db) {
        char *ident = PQescapeIdentifier(wt.db, wt.schema, strlen(wt.schema));
        char sql[256], err[512];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", ident);
        if (db_command(wt.db, sql, 0, NULL, err, sizeof err) < 0)
            fprintf(stderr, "dropping %s: %s\n", wt.schema, err);
        PQfreemem(ident);
        PQfinish(wt.db);
    }
}

TestSuite(worker, .init = wt_init, .fini = wt_fini, .timeout = 120);

/* ---- comparing with the engine ------------------------------------------------------ */

/* What the engine computes for stored params (caller backtest_free + jobspec_free). */
static void wt_engine(const char *params, tb_jobspec *spec, tb_backtest *bt)
{
    json_error_t je;
    tb_error err;
    json_t *p = json_loads(params, 0, &je);
    cr_assert_not_null(p);
    cr_assert_eq(jobspec_from_params(p, spec, &err), 0, "%s", err.msg);
    json_decref(p);
    cr_assert_eq(backtest_run(&spec->bt, NULL, bt, &err), 0, "%s", err.msg);
}

static double wt_d(const char *s)
{
    return strtod(s, NULL);
}

static void wt_num(FILE *f, const char *s)
{
    char b[40];
    nf_double(b, wt_d(s));
    fputs(b, f);
}

/* A writer into a memory stream; returns the bytes (caller frees). */
typedef int (*wt_writer)(FILE *f, const tb_backtest *bt);

static char *wt_render(wt_writer w, const tb_backtest *bt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(w(f, bt), 0);
    fclose(f);
    return text;
}

/* orders_<f>.csv rebuilt from the orders table (what the API serves). */
static char *wt_orders_csv_from_db(const char *id)
{
    const char *p[] = { id };
    PGresult *r = wt_q("SELECT seq, extract(epoch FROM ts)::bigint, symbol, side, quantity, price,"
                       " notional, cost FROM orders WHERE run_id = $1 ORDER BY seq",
                       1, p);
    char *text = NULL, day[32];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fputs("ts,symbol,side,quantity,price,notional,cost\n", f);
    for (int i = 0; i < PQntuples(r); i++) {
        cr_assert_eq(atoi(PQgetvalue(r, i, 0)), i, "seq is not 0..n-1 at row %d", i);
        tu_format(atoll(PQgetvalue(r, i, 1)), 1, day);
        fprintf(f, "%s,%s,%s,", day, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
        for (int c = 4; c <= 7; c++) {
            wt_num(f, PQgetvalue(r, i, c));
            fputc(c < 7 ? ',' : '\n', f);
        }
    }
    fclose(f);
    PQclear(r);
    return text;
}

static char *wt_equity_csv_from_db(const char *id)
{
    const char *p[] = { id };
    PGresult *r = wt_q("SELECT extract(epoch FROM ts)::bigint, equity, cash, exposure, drawdown,"
                       " ret FROM equity_points WHERE run_id = $1 ORDER BY ts",
                       1, p);
    char *text = NULL, day[32];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fputs("ts,equity,cash,exposure,drawdown,return\n", f);
    for (int i = 0; i < PQntuples(r); i++) {
        tu_format(atoll(PQgetvalue(r, i, 0)), 1, day);
        fprintf(f, "%s,", day);
        for (int c = 1; c <= 4; c++) {
            wt_num(f, PQgetvalue(r, i, c));
            fputc(',', f);
        }
        cr_assert_eq(PQgetisnull(r, i, 5), i == 0, "ret NULL exactly on the first row (row %d)", i);
        if (i)
            wt_num(f, PQgetvalue(r, i, 5));
        fputc('\n', f);
    }
    fclose(f);
    PQclear(r);
    return text;
}

/* Everything a succeeded backtest-family run must hold. */
static void wt_assert_results(const char *id, const char *params, int iterations, int with_targets)
{
    tb_jobspec spec;
    tb_backtest bt;
    wt_engine(params, &spec, &bt);

    char *want = wt_render(art_write_orders, &bt), *got = wt_orders_csv_from_db(id);
    cr_assert_str_eq(got, want, "orders differ from the engine's orders_1d.csv");
    free(want);
    free(got);
    want = wt_render(art_write_equity, &bt);
    got = wt_equity_csv_from_db(id);
    cr_assert_str_eq(got, want, "equity points differ from the engine's equity_curve_1d.csv");
    free(want);
    free(got);

    const char *p[] = { id };
    PGresult *r = wt_q("SELECT name, value FROM metrics WHERE run_id = $1", 1, p);
    cr_assert_eq(PQntuples(r), 15);
    for (size_t k = 0; k < 15; k++) {
        double v = metrics_get(&bt.metrics, k);
        int found = 0;
        for (int i = 0; i < PQntuples(r); i++) {
            if (strcmp(PQgetvalue(r, i, 0), metrics_names[k]) != 0)
                continue;
            found = 1;
            if (!isfinite(v))
                cr_assert(PQgetisnull(r, i, 1), "%s should be NULL", metrics_names[k]);
            else
                cr_assert(!PQgetisnull(r, i, 1) && wt_d(PQgetvalue(r, i, 1)) == v,
                          "%s: %s vs %.17g", metrics_names[k], PQgetvalue(r, i, 1), v);
        }
        cr_assert(found, "metric %s missing", metrics_names[k]);
    }
    PQclear(r);

    /* artifacts: rendered-on-request ones carry no bytes; report and targets do */
    r = wt_q("SELECT name, content_type, rows, bytes, content IS NULL FROM artifacts"
             " WHERE run_id = $1 ORDER BY name",
             1, p);
    cr_assert_eq(PQntuples(r), with_targets ? 5 : 4);
    char orders_rows[32], equity_rows[32];
    snprintf(orders_rows, sizeof orders_rows, "%zu", bt.sim.orders.n);
    snprintf(equity_rows, sizeof equity_rows, "%zu", bt.sim.T);
    const char *names[] = { "equity_curve_1d.csv", "metrics.json", "orders_1d.csv",
                            "performance_report_1d.md", "targets_1d.csv" };
    const char *types[] = { "text/csv", "application/json", "text/csv", "text/markdown",
                            "text/csv" };
    const char *rows[] = { equity_rows, "", orders_rows, "", "100" };
    const char *no_content[] = { "t", "t", "t", "f", "f" };
    for (int i = 0; i < PQntuples(r); i++) {
        cr_assert_str_eq(PQgetvalue(r, i, 0), names[i]);
        cr_assert_str_eq(PQgetvalue(r, i, 1), types[i]);
        cr_assert_str_eq(PQgetvalue(r, i, 2), rows[i], "%s rows", names[i]);
        cr_assert_str_eq(PQgetvalue(r, i, 4), no_content[i], "%s content", names[i]);
    }
    PQclear(r);

    char *report = wt_value("SELECT convert_from(content, 'UTF8') FROM artifacts"
                            " WHERE run_id = $1 AND name = 'performance_report_1d.md'",
                            id);
    char line[128];
    cr_assert_not_null(report);
    snprintf(line, sizeof line, "| run id | %s |", id);
    cr_assert(strstr(report, line), "report lacks '%s'", line);
    snprintf(line, sizeof line, "| job | %s |", jobspec_job_name(spec.job));
    cr_assert(strstr(report, line), "report lacks '%s'", line);
    cr_assert(strstr(report, "## Profile") && strstr(report, "| peak memory |") &&
              strstr(report, "| simulate |"), "report lacks the profile");
    free(report);
    if (with_targets) {
        char *targets = wt_value("SELECT convert_from(content, 'UTF8') FROM artifacts"
                                 " WHERE run_id = $1 AND name = 'targets_1d.csv'",
                                 id);
        char *tw = NULL;
        size_t tl = 0;
        FILE *f = open_memstream(&tw, &tl);
        art_write_targets(f, &bt, &spec.bt);
        fclose(f);
        cr_assert_str_eq(targets, tw);
        free(targets);
        free(tw);
    }

    /* the profile: one row per iteration, stages in execution order */
    r = wt_q("SELECT iteration, wall_seconds, cpu_seconds, peak_rss_bytes,"
             " (SELECT string_agg(s->>'name', ',' ORDER BY o) FROM jsonb_array_elements(stages)"
             "  WITH ORDINALITY AS a(s, o)), started_at <= finished_at"
             " FROM run_iterations WHERE run_id = $1 ORDER BY iteration",
             1, p);
    cr_assert_eq(PQntuples(r), iterations);
    for (int i = 0; i < PQntuples(r); i++) {
        int last = i == iterations - 1;
        cr_assert_eq(atoi(PQgetvalue(r, i, 0)), i + 1);
        cr_assert_gt(wt_d(PQgetvalue(r, i, 1)), 0);
        cr_assert_gt(wt_d(PQgetvalue(r, i, 2)), 0);
        cr_assert_gt(atoll(PQgetvalue(r, i, 3)), 1 << 20, "peak RSS %s", PQgetvalue(r, i, 3));
        cr_assert_str_eq(PQgetvalue(r, i, 4),
                         last ? "load_data,signals,panel,simulate,metrics,render_artifacts,persist"
                              : "load_data,signals,panel,simulate,metrics,render_artifacts");
        cr_assert_str_eq(PQgetvalue(r, i, 5), "t");
    }
    PQclear(r);

    r = wt_q("SELECT status, progress, stage IS NULL, error IS NULL, finished_at >= started_at,"
             " worker_id LIKE '%:%' FROM runs WHERE id = $1",
             1, p);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "succeeded");
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "1");
    for (int c = 2; c <= 5; c++)
        cr_assert_str_eq(PQgetvalue(r, 0, c), "t", "runs column %d", c);
    PQclear(r);
    backtest_free(&bt);
    jobspec_free(&spec);
}

static long long wt_result_rows(const char *id)
{
    return wt_count("SELECT (SELECT count(*) FROM orders WHERE run_id = $1)"
                    " + (SELECT count(*) FROM equity_points WHERE run_id = $1)"
                    " + (SELECT count(*) FROM metrics WHERE run_id = $1)"
                    " + (SELECT count(*) FROM artifacts WHERE run_id = $1)",
                    id);
}

/* ---- the tests ----------------------------------------------------------------------- */

Test(worker, runs_persist_what_the_engine_computes_and_reruns_leave_no_duplicates)
{
    harness_db_url_or_skip();
    char *bt_params = wt_backtest_params("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\","
                                         "\"universe\":20}");
    char *eod_params = wt_run_params("{\"job\":\"EOD_SMALL\",\"overrides\":{\"data\":\"synthetic\"}}");
    const char *bt = wt_insert("backtest", NULL, bt_params, 3);
    const char *eod = wt_insert("run", "EOD_SMALL", eod_params, 1);
    wt_worker_start(0, NULL);
    wt_assert_status(bt, "succeeded", 60000);
    wt_assert_status(eod, "succeeded", 60000);
    wt_assert_results(bt, bt_params, 3, 0);
    wt_assert_results(eod, eod_params, 1, 1);
    long long rows = wt_result_rows(bt);

    /* Execute it again (as a requeue would): everything replaced, nothing doubled. */
    const char *p[] = { bt };
    wt_cmd("UPDATE runs SET status = 'queued', worker_id = NULL WHERE id = $1", 1, p);
    wt_cmd("SELECT pg_notify('tb_runs', $1)", 1, p);
    wt_assert_status(bt, "running", 30000);
    wt_assert_status(bt, "succeeded", 60000);
    cr_assert_eq(wt_count("SELECT attempts FROM runs WHERE id = $1", bt), 2);
    cr_assert_eq(wt_result_rows(bt), rows);
    wt_assert_results(bt, bt_params, 3, 0);
    cr_assert_eq(wt_worker_stop(0, 20000), 0);
    free(bt_params);
    free(eod_params);
}

Test(worker, progress_and_heartbeat_move_and_cancel_stops_a_long_run)
{
    harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"ema_trend\",\"data\":\"synthetic\","
                                      "\"universe\":5}");
    const char *id = wt_insert("backtest", NULL, params, 100000);
    wt_worker_start(0, NULL);
    wt_assert_status(id, "running", 30000);

    /* Sample progress, stage and heartbeat for a while: they must move. */
    double last = -1, t0 = wt_now();
    int distinct = 0;
    char *hb0 = wt_value("SELECT heartbeat_at FROM runs WHERE id = $1", id);
    while (wt_now() - t0 < 20 && (distinct < 3 || wt_now() - t0 < 1.6)) {
        char *v = wt_value("SELECT progress FROM runs WHERE id = $1", id);
        double pr = v ? wt_d(v) : -1;
        free(v);
        cr_assert_geq(pr, last, "progress went back from %g to %g", last, pr);
        cr_assert_lt(pr, 1);
        if (pr > 0 && pr != last)
            distinct++;
        last = pr;
        wt_sleep_ms(50);
    }
    cr_assert_geq(distinct, 3, "progress took only %d distinct values", distinct);
    char *stage = wt_value("SELECT stage FROM runs WHERE id = $1", id);
    cr_assert_not_null(stage, "no current stage while running");
    free(stage);
    {
        const char *p[] = { id, hb0 };
        PGresult *r = wt_q("SELECT heartbeat_at > $2::timestamptz FROM runs WHERE id = $1", 2, p);
        cr_assert_str_eq(PQgetvalue(r, 0, 0), "t", "heartbeat did not advance");
        PQclear(r);
    }
    free(hb0);
    long long done = wt_count("SELECT count(*) FROM run_iterations WHERE run_id = $1", id);
    cr_assert_gt(done, 0, "no iteration recorded while running");

    /* Cancel as the API does; it must stop within a second. */
    const char *p[] = { id };
    double tc = wt_now();
    wt_cmd("UPDATE runs SET cancel_requested = true WHERE id = $1", 1, p);
    wt_cmd("SELECT pg_notify('tb_cancel', $1)", 1, p);
    wt_assert_status(id, "cancelled", 5000);
    double latency = wt_now() - tc;
    fprintf(stderr, "cancel latency (NOTIFY tb_cancel): %.0f ms\n", latency * 1e3);
    cr_assert_lt(latency, 1.0, "cancel took %.0f ms", latency * 1e3);
    cr_assert_eq(wt_result_rows(id), 0, "a cancelled run has results rows");
    cr_assert_eq(wt_count("SELECT count(*) FROM runs WHERE id = $1 AND finished_at IS NOT NULL", id),
                 1);
    cr_assert_eq(wt_worker_stop(0, 20000), 0);
    free(params);
}

Test(worker, a_crash_or_a_bad_run_fails_alone_and_the_worker_goes_on)
{
    harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"buy_and_hold\",\"data\":\"synthetic\","
                                      "\"universe\":3}");
    const char *crash = wt_insert("backtest", NULL, params, 1);
    /* a model training whose stored params are out of range */
    const char *mljob = wt_insert("model", NULL, "{\"strategy\":\"trend_baseline\",\"eta\":5}", 1);
    const char *bad = wt_insert("backtest", NULL, "{\"strategy\":\"no_such_strategy\"}", 1);
    const char *persist = wt_insert("backtest", NULL, params, 1);
    const char *good = wt_insert("backtest", NULL, params, 2);
    char fault[128];
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=crash:%s,persist:%s", crash, persist);
    const char *extra[] = { fault, NULL };
    pid_t pid = wt_worker_start(0, extra);

    wt_assert_status(crash, "failed", 30000);
    wt_assert_status(mljob, "failed", 30000);
    wt_assert_status(bad, "failed", 30000);
    wt_assert_status(persist, "failed", 30000);
    wt_assert_status(good, "succeeded", 30000);
    cr_assert_eq(kill(pid, 0), 0, "the worker died");

    char *e = wt_value("SELECT error FROM runs WHERE id = $1", crash);
    cr_assert(e && strstr(e, "killed by signal 6"), "crash error: %s", e ? e : "(null)");
    free(e);
    e = wt_value("SELECT error FROM runs WHERE id = $1", mljob);
    cr_assert(e && strstr(e, "invalid params") && strstr(e, "eta"), "error: %s", e ? e : "");
    free(e);
    e = wt_value("SELECT error FROM runs WHERE id = $1", bad);
    cr_assert(e && strstr(e, "invalid params") && strstr(e, "strategy"), "error: %s", e ? e : "");
    free(e);
    e = wt_value("SELECT error FROM runs WHERE id = $1", persist);
    cr_assert(e && strstr(e, "storing the results failed"), "error: %s", e ? e : "");
    free(e);
    /* The failed transaction had COPYed orders: none of it is visible. */
    cr_assert_eq(wt_result_rows(persist), 0);
    cr_assert_eq(wt_result_rows(crash), 0);
    wt_assert_results(good, params, 2, 0);
    cr_assert_eq(wt_worker_stop(0, 20000), 0);
    free(params);
}

Test(worker, stale_runs_are_requeued_bounded_and_cancel_wins)
{
    harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\","
                                      "\"universe\":4}");
    const char *lost = wt_insert("backtest", NULL, params, 1);
    const char *spent = wt_insert("backtest", NULL, params, 1);
    const char *cancel = wt_insert("backtest", NULL, params, 1);
    const char *stale = "UPDATE runs SET status = 'running', worker_id = 'ghost:1', attempts = $2::int,"
                        " started_at = now() - interval '1 hour',"
                        " heartbeat_at = now() - interval '1 hour' WHERE id = $1";
    const char *p1[] = { lost, "1" }, *p2[] = { spent, "3" }, *p3[] = { cancel, "1" };
    wt_cmd(stale, 2, p1);
    wt_cmd(stale, 2, p2);
    wt_cmd(stale, 2, p3);
    wt_cmd("UPDATE runs SET cancel_requested = true WHERE id = $1", 1, p3);
    /* What a dead attempt could have left behind. */
    wt_cmd("INSERT INTO run_iterations (run_id, iteration, wall_seconds, cpu_seconds,"
           " peak_rss_bytes) VALUES ($1, 1, 9, 9, 9)",
           1, p1);
    wt_cmd("INSERT INTO orders (run_id, seq, ts, symbol, side, quantity, price, notional, cost)"
           " VALUES ($1, 0, '2001-01-01', 'SYN000', 'BUY', 1, 1, 1, 0)",
           1, p1);

    wt_worker_start(0, NULL);
    wt_assert_status(lost, "succeeded", 30000);
    wt_assert_status(spent, "failed", 30000);
    wt_assert_status(cancel, "cancelled", 30000);
    cr_assert_eq(wt_count("SELECT attempts FROM runs WHERE id = $1", lost), 2);
    wt_assert_results(lost, params, 1, 0);
    char *e = wt_value("SELECT error FROM runs WHERE id = $1", spent);
    cr_assert(e && strncmp(e, "worker lost after 3 attempts", 28) == 0, "error: %s", e ? e : "");
    free(e);
    cr_assert_eq(wt_count("SELECT attempts FROM runs WHERE id = $1", spent), 3);
    cr_assert_eq(wt_worker_stop(0, 20000), 0);
    free(params);
}

/* The child's pid from the worker's debug log ("... in child <pid>"). */
static pid_t wt_child_pid(int i)
{
    char *text = harness_slurp(wt.log[i]);
    const char *hit = text ? strstr(text, " in child ") : NULL;
    pid_t pid = hit ? (pid_t)atol(hit + 10) : 0;
    free(text);
    return pid;
}

Test(worker, a_sigkilled_worker_run_is_requeued_and_succeeds_exactly_once)
{
    harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\","
                                      "\"universe\":6}");
    const char *id = wt_insert("backtest", NULL, params, 1);
    char fault[64];
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=hang:%s", id);
    const char *extra0[] = { fault, NULL };
    pid_t first = wt_worker_start(0, extra0);
    wt_assert_status(id, "running", 30000);
    pid_t child = 0;
    for (int t = 0; t < 200 && child <= 0; t++, wt_sleep_ms(25))
        child = wt_child_pid(0);
    cr_assert_gt(child, 0, "no child in the log");

    kill(first, SIGKILL);
    cr_assert_eq(harness_wait(first, 10000), 128 + SIGKILL);
    wt.worker[0] = 0;
    int gone = 0;
    for (int t = 0; t < 100 && !gone; t++, wt_sleep_ms(20))
        gone = kill(child, 0) != 0;
    cr_assert(gone, "the child outlived its worker");

    const char *extra1[] = { "TB_WORKER_STALE_SECONDS=2", NULL };
    wt_worker_start(1, extra1);
    wt_assert_status(id, "succeeded", 30000);
    cr_assert_eq(wt_count("SELECT attempts FROM runs WHERE id = $1", id), 2);
    wt_assert_results(id, params, 1, 0);
    cr_assert_eq(wt_worker_stop(1, 20000), 0);
    free(params);
}

Test(worker, concurrency_runs_two_at_once_and_cancel_without_notify_is_polled)
{
    harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\","
                                      "\"universe\":3}");
    const char *a = wt_insert("backtest", NULL, params, 1);
    const char *b = wt_insert("backtest", NULL, params, 1);
    const char *c = wt_insert("backtest", NULL, params, 1);
    char fault[96];
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=hang:%s,hang:%s", a, b);
    const char *extra[] = { fault, "TB_WORKER_CONCURRENCY=2", NULL };
    wt_worker_start(0, extra);
    wt_assert_status(a, "running", 30000);
    wt_assert_status(b, "running", 30000);
    /* Both slots are busy: the third waits. */
    wt_sleep_ms(1500);
    char *s = wt_status(c);
    cr_assert_str_eq(s, "queued");
    free(s);
    cr_assert_eq(wt_count("SELECT count(*) FROM runs WHERE status = 'running'", NULL), 2);

    /* a: cancel with NOTIFY; b: cancel without (the 250 ms poll finds it). */
    const char *pa[] = { a }, *pb[] = { b };
    double t0 = wt_now();
    wt_cmd("UPDATE runs SET cancel_requested = true WHERE id = $1", 1, pa);
    wt_cmd("SELECT pg_notify('tb_cancel', $1)", 1, pa);
    wt_assert_status(a, "cancelled", 5000);
    double la = wt_now() - t0;
    t0 = wt_now();
    wt_cmd("UPDATE runs SET cancel_requested = true WHERE id = $1", 1, pb);
    wt_assert_status(b, "cancelled", 5000);
    double lb = wt_now() - t0;
    fprintf(stderr, "cancel latency of a killed child: %.0f ms with NOTIFY, %.0f ms polled\n",
            la * 1e3, lb * 1e3);
    cr_assert_lt(la, 1.0);
    cr_assert_lt(lb, 1.0);
    wt_assert_status(c, "succeeded", 30000);
    cr_assert_eq(wt_result_rows(a) + wt_result_rows(b), 0);
    cr_assert_eq(wt_worker_stop(0, 20000), 0);
    free(params);
}

Test(worker, sigterm_lets_a_run_finish_or_releases_it_after_the_grace_period)
{
    harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\","
                                      "\"universe\":3}");
    /* Within the grace period: the running run completes, then exit 0. */
    const char *finish = wt_insert("backtest", NULL, params, 40);
    const char *extra0[] = { "TB_WORKER_GRACE_SECONDS=60", NULL };
    pid_t w0 = wt_worker_start(0, extra0);
    wt_assert_status(finish, "running", 30000);
    kill(w0, SIGTERM);
    cr_assert_eq(harness_wait(w0, 60000), 0);
    wt.worker[0] = 0;
    char *s = wt_status(finish);
    cr_assert_str_eq(s, "succeeded");
    free(s);
    cr_assert_eq(wt_count("SELECT count(*) FROM run_iterations WHERE run_id = $1", finish), 40);

    /* Past the grace period: the child is stopped and the run requeued. */
    const char *hang = wt_insert("backtest", NULL, params, 1);
    char fault[64];
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=hang:%s", hang);
    const char *extra1[] = { fault, "TB_WORKER_GRACE_SECONDS=1", NULL };
    pid_t w1 = wt_worker_start(1, extra1);
    wt_assert_status(hang, "running", 30000);
    double t0 = wt_now();
    kill(w1, SIGTERM);
    cr_assert_eq(harness_wait(w1, 20000), 0);
    wt.worker[1] = 0;
    cr_assert_lt(wt_now() - t0, 5.0);
    const char *p[] = { hang };
    PGresult *r = wt_q("SELECT status, worker_id IS NULL, attempts, started_at IS NULL"
                       " FROM runs WHERE id = $1",
                       1, p);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "queued");
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "t");
    cr_assert_str_eq(PQgetvalue(r, 0, 2), "0", "a release must not use up an attempt");
    cr_assert_str_eq(PQgetvalue(r, 0, 3), "t");
    PQclear(r);
    free(params);
}

Test(worker, a_lost_database_connection_is_reopened_and_running_runs_carry_on)
{
    const char *url = harness_db_url_or_skip();
    char *params = wt_backtest_params("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\","
                                      "\"universe\":3}");
    /* Tag this worker's connection so only it is cut. */
    char app[64], tagged[1100];
    snprintf(app, sizeof app, "tbtest_worker_%ld", (long)getpid());
    if (strstr(url, "://"))
        snprintf(tagged, sizeof tagged, "TB_DATABASE_URL=%s%capplication_name=%s", url,
                 strchr(url, '?') ? '&' : '?', app);
    else
        snprintf(tagged, sizeof tagged, "TB_DATABASE_URL=%s application_name=%s", url, app);
    const char *hang = wt_insert("backtest", NULL, params, 1);
    char fault[64];
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=hang:%s", hang);
    const char *extra[] = { tagged, fault, "TB_WORKER_CONCURRENCY=2", NULL };
    wt_worker_start(0, extra);
    wt_assert_status(hang, "running", 30000);

    const char *pa[] = { app };
    PGresult *r = wt_q("SELECT count(pg_terminate_backend(pid)), now() FROM pg_stat_activity"
                       " WHERE application_name = $1",
                       1, pa);
    cr_assert_eq(atoi(PQgetvalue(r, 0, 0)), 1, "the worker's backend was not found");
    char cut[64];
    snprintf(cut, sizeof cut, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);

    /* A run queued now is claimed on the new connection (by NOTIFY or poll). */
    const char *next = wt_insert("backtest", NULL, params, 1);
    wt_assert_status(next, "succeeded", 30000);
    cr_assert(wt_log_has(0, "lost the database connection"), "no reconnect logged");
    /* The hanging run kept its child and its heartbeat. */
    wt_sleep_ms(1200);
    const char *ph[] = { hang, cut };
    r = wt_q("SELECT status, heartbeat_at > $2::timestamptz FROM runs WHERE id = $1", 2, ph);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "running");
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "t", "no heartbeat after the reconnect");
    PQclear(r);
    const char *pc[] = { hang };
    wt_cmd("UPDATE runs SET cancel_requested = true WHERE id = $1", 1, pc);
    wt_assert_status(hang, "cancelled", 5000);
    cr_assert_eq(wt_worker_stop(0, 20000), 0);
    free(params);
}

Test(worker, bad_worker_settings_exit_2_naming_the_variable)
{
    char *argv[] = { TB_WORKER_BIN, NULL };
    const char *env[] = { "TB_WORKER_STALE_SECONDS=1", NULL };
    snprintf(wt.log[0], sizeof wt.log[0], "%s/tb-it-worker-%ld-cfg.log",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    pid_t pid = harness_spawn(TB_WORKER_BIN, argv, env, wt.log[0]);
    cr_assert_eq(harness_wait(pid, 20000), 2);
    cr_assert(wt_log_has(0, "TB_WORKER_STALE_SECONDS"));
}
