/*
 * test_api_metrics — worker liveness in GET /metrics, with the real
 * tradebench-server and tradebench-worker in a private schema:
 *
 *  - a worker is SIGKILLed while its run hangs in the child: while it runs,
 *    /metrics shows the worker's heartbeat age and its one running run;
 *    a second worker's stale-run check requeues the run
 *    (tradebench_runs_requeued_total goes 0 -> 1) and finishes it, and the
 *    heartbeat gauges go back to none;
 *  - runs left "running" by a ghost worker with an old heartbeat: the
 *    check requeues the one with attempts left and fails the one on its
 *    last attempt (tradebench_runs_worker_lost_total), in one statement.
 * No timed assertions: loops wait for states with generous bounds.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_api_client.h"

static struct api_stack st;
static pid_t extra_worker;
static char extra_log[256];

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    if (extra_worker > 0) {
        kill(extra_worker, SIGKILL);
        harness_wait(extra_worker, 5000);
        extra_worker = 0;
    }
    api_stack_fini(&st);
    curl_global_cleanup();
}

TestSuite(api_metrics, .init = init, .fini = fini, .timeout = 240);

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The value of the exposition line `name` (exact, labels included), or -1. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    }
    return -1;
}

/* A fresh scrape (caller frees). */
static char *scrape(void)
{
    struct api_resp r;
    api_call(&st.srv, "GET", "/metrics", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    char *text = strdup(r.body);
    api_resp_free(&r);
    cr_assert_eq(metric(text, "tradebench_database_up"), 1, "%s", text);
    return text;
}

static char *run_status(long long id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = { ids };
    PGresult *r = api_sql(st.db, "SELECT status FROM runs WHERE id = $1", 1, p);
    char *s = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return s;
}

static void dump_log(const char *path)
{
    char *log = harness_slurp(path);
    fprintf(stderr, "---- %s ----\n%s\n---- end ----\n", path, log ? log : "(none)");
    free(log);
}

/* Wait (up to 60 s) for the run to reach `want`. */
static void wait_status(long long id, const char *want, const char *log)
{
    for (int i = 0; i < 1200; i++, sleep_ms(50)) {
        char *s = run_status(id);
        int hit = s && strcmp(s, want) == 0;
        free(s);
        if (hit)
            return;
    }
    dump_log(log);
    char *s = run_status(id);
    cr_assert_fail("run %lld is %s, want %s", id, s ? s : "(gone)", want);
}

/* A worker of our own (api_stack's is started by api_stack_up). */
static pid_t spawn_worker(const char *tag, const char *const *extra, char *log, size_t n)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dburl[1100];
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", harness_db_url_or_skip());
    const char *env[12] = { dburl, "TB_LOG_LEVEL=info", "TB_DATA=" };
    size_t k = 3;
    for (size_t i = 0; extra && extra[i] && k < 11; i++)
        env[k++] = extra[i];
    env[k] = NULL;
    snprintf(log, n, "%s/tb-it-metrics-%s-%ld.log", tmp, tag, (long)getpid());
    char *argv[] = { (char *)TB_WORKER_BIN, NULL };
    pid_t pid = harness_spawn(TB_WORKER_BIN, argv, env, log);
    cr_assert_gt(pid, 0);
    return pid;
}

Test(api_metrics, a_killed_workers_run_is_requeued_and_counted)
{
    struct api_resp r;
    char fault[64], label[512], host[256];
    api_stack_up(&st, "metrics", NULL); /* no worker yet: the run stays queued */
    api_call(&st.srv, "POST", "/backtests",
             "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":3}", NULL, NULL,
             &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);

    char *m = scrape();
    cr_assert_eq(metric(m, "tradebench_runs_requeued_total"), 0, "%s", m);
    cr_assert_eq(metric(m, "tradebench_runs_worker_lost_total"), 0);
    cr_assert_eq(metric(m, "tradebench_running_heartbeat_age_seconds"), 0);
    cr_assert(strstr(m, "# TYPE tradebench_runs_requeued_total counter\n") != NULL);
    cr_assert(strstr(m, "# TYPE tradebench_worker_heartbeat_age_seconds gauge\n") != NULL);
    cr_assert(strstr(m, "tradebench_worker_heartbeat_age_seconds{") == NULL, "%s", m);
    free(m);

    /* Worker A claims it; its child hangs; A heartbeats. */
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=hang:%lld", id);
    const char *extra_a[] = { fault, NULL };
    pid_t a = spawn_worker("a", extra_a, extra_log, sizeof extra_log);
    extra_worker = a;
    wait_status(id, "running", extra_log);
    cr_assert_eq(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = '\0';
    snprintf(label, sizeof label, "tradebench_worker_running_runs{worker=\"%s:%ld\"}", host,
             (long)a);
    m = scrape();
    cr_assert_eq(metric(m, label), 1, "%s\n%s", label, m);
    snprintf(label, sizeof label, "tradebench_worker_heartbeat_age_seconds{worker=\"%s:%ld\"}",
             host, (long)a);
    cr_assert_geq(metric(m, label), 0, "%s\n%s", label, m);
    cr_assert_geq(metric(m, "tradebench_running_heartbeat_age_seconds"), 0);
    cr_assert_eq(metric(m, "tradebench_runs{status=\"running\"}"), 1);
    cr_assert_eq(metric(m, "tradebench_runs_requeued_total"), 0);
    free(m);

    /* SIGKILL: no release, no more heartbeats (its child dies with it). */
    kill(a, SIGKILL);
    cr_assert_eq(harness_wait(a, 10000), 128 + SIGKILL);
    extra_worker = 0;
    unlink(extra_log);

    /* Worker B (no fault, short stale timeout) requeues it and runs it. */
    const char *extra_b[] = { "TB_WORKER_STALE_SECONDS=2", NULL };
    extra_worker = spawn_worker("b", extra_b, extra_log, sizeof extra_log);
    wait_status(id, "succeeded", extra_log);
    m = scrape();
    cr_assert_eq(metric(m, "tradebench_runs_requeued_total"), 1, "%s", m);
    cr_assert_eq(metric(m, "tradebench_runs_worker_lost_total"), 0);
    cr_assert_eq(metric(m, "tradebench_runs{status=\"succeeded\"}"), 1);
    cr_assert_eq(metric(m, "tradebench_running_heartbeat_age_seconds"), 0);
    cr_assert(strstr(m, "tradebench_worker_running_runs{") == NULL, "%s", m);
    free(m);
    cr_assert_eq(api_sql_int(st.db, "SELECT attempts FROM runs", 0, NULL), 2);

    kill(extra_worker, SIGTERM);
    int rc = harness_wait(extra_worker, 20000);
    extra_worker = 0;
    if (rc != 0)
        dump_log(extra_log);
    cr_assert_eq(rc, 0, "worker B exit status %d", rc);
    unlink(extra_log);
    api_stack_down(&st);
}

Test(api_metrics, the_stale_check_counts_requeued_and_lost_runs_in_one_statement)
{
    api_stack_up(&st, "metrics", NULL);
    /* Two runs a ghost worker left running an hour ago: one with attempts
     * left, one on its last attempt. */
    const char *ghost =
        "INSERT INTO runs (kind, params, status, worker_id, attempts, max_attempts, started_at,"
        "                  heartbeat_at)"
        " VALUES ('backtest', '{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":3}',"
        "         'running', 'ghost:1', $1::int, 3,"
        "         now() - interval '1 hour', now() - interval '1 hour') RETURNING id";
    const char *one[] = { "1" }, *three[] = { "3" };
    long long left = api_sql_int(st.db, ghost, 1, one);
    long long last = api_sql_int(st.db, ghost, 1, three);

    char *m = scrape();
    cr_assert_eq(metric(m, "tradebench_worker_running_runs{worker=\"ghost:1\"}"), 2, "%s", m);
    cr_assert_geq(metric(m, "tradebench_worker_heartbeat_age_seconds{worker=\"ghost:1\"}"), 3500);
    cr_assert_geq(metric(m, "tradebench_running_heartbeat_age_seconds"), 3500);
    free(m);

    /* A worker's stale-run check settles both; the requeued one is then
     * claimed by the same worker and succeeds. */
    const char *extra[] = { "TB_WORKER_STALE_SECONDS=2", NULL };
    extra_worker = spawn_worker("c", extra, extra_log, sizeof extra_log);
    wait_status(last, "failed", extra_log);
    wait_status(left, "succeeded", extra_log);
    m = scrape();
    cr_assert_eq(metric(m, "tradebench_runs_requeued_total"), 1, "%s", m);
    cr_assert_eq(metric(m, "tradebench_runs_worker_lost_total"), 1, "%s", m);
    cr_assert(strstr(m, "worker=\"ghost:1\"") == NULL, "%s", m);
    free(m);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", last);
    const char *p[] = { ids };
    PGresult *res = api_sql(st.db, "SELECT error FROM runs WHERE id = $1", 1, p);
    cr_assert(strstr(PQgetvalue(res, 0, 0), "worker lost after 3 attempts") != NULL, "%s",
              PQgetvalue(res, 0, 0));
    PQclear(res);

    kill(extra_worker, SIGTERM);
    int rc = harness_wait(extra_worker, 20000);
    extra_worker = 0;
    if (rc != 0)
        dump_log(extra_log);
    cr_assert_eq(rc, 0, "worker exit status %d", rc);
    unlink(extra_log);
    api_stack_down(&st);
}
