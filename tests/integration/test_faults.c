/*
 * test_faults — the whole service under faults, with the real
 * tradebench-server and tradebench-worker against PostgreSQL, each test in
 * its own schema (PGOPTIONS search_path, inherited by both processes):
 *
 *  - the database goes away while runs are queued and one is running, and
 *    comes back: the server answers 503 meanwhile (a POST stores nothing),
 *    recovers without a restart, and every run ends succeeded exactly once
 *    with no duplicated or half-written rows. PostgreSQL is reached through
 *    a cuttable TCP proxy (test_api_proxy.h): a cut resets every open
 *    connection and refuses new ones, which is what a restart looks like to
 *    its clients, and the backends see their client vanish and roll back
 *    whatever transaction was open — without restarting the cluster other
 *    tests share;
 *  - SIGTERM under load: requests already being served finish (a slow
 *    upload that straddles the signal is answered 202 and its run stored),
 *    new connections are refused while the drain goes on, no request gets
 *    a 5xx or a cut-off body, and the server exits 0;
 *  - data edge cases from a CSV directory made here (`tradebench data
 *    synth` + edits, TB_DATA for server and worker): a run with zero
 *    orders, a one-symbol universe, a symbol whose data starts late — each
 *    succeeds over HTTP with artifacts byte-identical to the CLI's.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_api_client.h"
#include "test_api_proxy.h"

#ifndef TB_WORKER_BIN
#error "TB_WORKER_BIN must be defined by CMake"
#endif
#ifndef TB_CLI_BIN
#error "TB_CLI_BIN must be defined by CMake"
#endif

static struct tb_server srv;
static PGconn *db;
static char schema[64];
static pid_t worker;
static char worker_log[256];
static char fixture[256];        /* CSV directory of the edge-case test */

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    api_teardown(&worker, &srv, &db, schema, fixture);
    curl_global_cleanup();
}

TestSuite(faults, .init = init, .fini = fini, .timeout = 240);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void dump_worker_log(void)
{
    char *log = harness_slurp(worker_log);
    fprintf(stderr, "---- worker log ----\n%s\n---- end ----\n", log ? log : "(none)");
    free(log);
}

/* Start a worker with TB_DATABASE_URL = url and extra "K=V" entries. */
static void worker_start(const char *url, const char *const *extra)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *env[16];
    char dburl[1100];
    size_t n = 0;
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", url);
    env[n++] = dburl;
    env[n++] = "TB_LOG_LEVEL=info";
    env[n++] = "TB_FAULT_INJECT=";
    for (size_t i = 0; extra && extra[i] && n + 1 < sizeof env / sizeof env[0]; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    snprintf(worker_log, sizeof worker_log, "%s/tb-it-faults-worker-%ld.log", tmp, (long)getpid());
    char *argv[] = { (char *)TB_WORKER_BIN, NULL };
    worker = harness_spawn(TB_WORKER_BIN, argv, env, worker_log);
    cr_assert_gt(worker, 0);
}

static void worker_stop_ok(void)
{
    kill(worker, SIGTERM);
    int rc = harness_wait(worker, 30000);
    worker = 0;
    if (rc != 0)
        dump_worker_log();
    cr_assert_eq(rc, 0, "tradebench-worker exit status %d after SIGTERM", rc);
    unlink(worker_log);
}

/* The run's status through SQL (test connection, not the proxy). */
static char *run_status(long long id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = { ids };
    PGresult *r = api_sql(db, "SELECT status FROM runs WHERE id = $1", 1, p);
    char *s = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return s;
}

static void wait_status(long long id, const char *want, double timeout_s)
{
    double t0 = now_s();
    for (;;) {
        char *s = run_status(id);
        int hit = s && strcmp(s, want) == 0;
        int final = s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
        if (hit) {
            free(s);
            return;
        }
        if (final || now_s() - t0 > timeout_s) {
            dump_worker_log();
            cr_assert_fail("run %lld is %s, want %s", id, s ? s : "(gone)", want);
        }
        free(s);
        sleep_ms(50);
    }
}

/* Every succeeded run holds exactly what its metrics say (no duplicated
 * orders, one equity point per bar of the calendar), every other run holds
 * no result rows. Returns the number of runs checked. */
static long long check_no_duplicates_or_half_writes(void)
{
    PGresult *r = api_sql(
        db,
        "SELECT r.id, r.status,"
        " (SELECT count(*) FROM orders o WHERE o.run_id = r.id),"
        " (SELECT count(DISTINCT seq) FROM orders o WHERE o.run_id = r.id),"
        " (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.name = 'n_orders'),"
        " (SELECT count(*) FROM equity_points e WHERE e.run_id = r.id),"
        " (SELECT count(DISTINCT ts) FROM equity_points e WHERE e.run_id = r.id),"
        " (SELECT count(*) FROM metrics m WHERE m.run_id = r.id),"
        " (SELECT count(*) FROM artifacts a WHERE a.run_id = r.id),"
        " (SELECT count(*) FROM run_iterations i WHERE i.run_id = r.id), r.iterations"
        " FROM runs r ORDER BY r.id",
        0, NULL);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *st = PQgetvalue(r, i, 1);
        long long orders = atoll(PQgetvalue(r, i, 2)), seqs = atoll(PQgetvalue(r, i, 3));
        long long eq = atoll(PQgetvalue(r, i, 5)), eqts = atoll(PQgetvalue(r, i, 6));
        long long metrics = atoll(PQgetvalue(r, i, 7)), arts = atoll(PQgetvalue(r, i, 8));
        long long iters = atoll(PQgetvalue(r, i, 9)), want_iters = atoll(PQgetvalue(r, i, 10));
        if (!strcmp(st, "succeeded")) {
            cr_assert(!PQgetisnull(r, i, 4), "run %s: no n_orders metric", id);
            cr_assert_eq(orders, (long long)strtod(PQgetvalue(r, i, 4), NULL),
                         "run %s: %lld order rows, n_orders %s", id, orders, PQgetvalue(r, i, 4));
            cr_assert_eq(orders, seqs, "run %s: duplicated order seq", id);
            cr_assert_gt(eq, 0, "run %s: no equity points", id);
            cr_assert_eq(eq, eqts, "run %s: duplicated equity timestamps", id);
            cr_assert_eq(metrics, 15, "run %s: %lld metrics", id, metrics);
            cr_assert_geq(arts, 4, "run %s: %lld artifacts", id, arts);
            cr_assert_eq(iters, want_iters, "run %s: %lld iteration rows, want %lld", id, iters,
                         want_iters);
        } else {
            cr_assert_eq(orders + eq + metrics + arts, 0,
                         "run %s is %s but has result rows (%lld orders, %lld equity, %lld "
                         "metrics, %lld artifacts)",
                         id, st, orders, eq, metrics, arts);
        }
    }
    long long n = PQntuples(r);
    PQclear(r);
    return n;
}

/* ---- the database goes away and comes back ---------------------------------------- */

Test(faults, database_outage_with_queued_and_running_runs)
{
    struct api_proxy px;
    char via[512], key[96], hdr[128], path[64];
    struct api_resp r;
    const char *url = harness_db_url_or_skip();
    db = api_schema_enter("faults_db", schema, sizeof schema);
    proxy_start(&px, url, via, sizeof via);
    cr_assert_eq(harness_server_start(&srv, via, NULL), 0, "server did not start via the proxy");

    /* One long run (many iterations) and five queued behind it (one slot). */
    long long ids[6];
    api_call(&srv, "POST", "/runs",
             "{\"job\":\"EOD_SMALL\",\"iterations\":60,"
             "\"overrides\":{\"data\":\"synthetic\",\"universe\":8}}",
             NULL, NULL, &r);
    api_expect(&r, 202);
    ids[0] = api_run_id(&r);
    api_resp_free(&r);
    for (int i = 1; i < 6; i++) {
        api_call(&srv, "POST", "/backtests",
                 "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":6}", NULL,
                 NULL, &r);
        api_expect(&r, 202);
        ids[i] = api_run_id(&r);
        api_resp_free(&r);
    }
    const char *extra[] = { "TB_WORKER_STALE_SECONDS=3", "TB_WORKER_CONCURRENCY=1", "TB_DATA=",
                            NULL };
    worker_start(via, extra);
    wait_status(ids[0], "running", 60);
    sleep_ms(300);
    /* The run(s) executing when the database goes: only they may be retried. */
    PGresult *running = api_sql(db, "SELECT coalesce(array_agg(id)::text, '{}') FROM runs"
                                    " WHERE status = 'running'", 0, NULL);
    char cut_ids[256];
    snprintf(cut_ids, sizeof cut_ids, "%s", PQgetvalue(running, 0, 0));
    PQclear(running);

    /* Outage: longer than the stale timeout, so the running run's heartbeat lapses. */
    proxy_cut(&px);
    double t_cut = now_s();
    snprintf(path, sizeof path, "/runs/%lld", ids[0]);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 503, "database-unavailable");
    cr_assert_str_eq(r.retry_after, "5");
    api_resp_free(&r);
    api_call(&srv, "GET", "/health", NULL, NULL, NULL, &r);
    api_expect_problem(&r, 503, "database-unavailable");
    api_resp_free(&r);
    snprintf(key, sizeof key, "it-faults-%ld", (long)getpid());
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
    api_call(&srv, "POST", "/backtests",
             "{\"strategy\":\"buy_and_hold\",\"data\":\"synthetic\",\"universe\":2}", hdr, NULL, &r);
    api_expect_problem(&r, 503, "database-unavailable");
    api_resp_free(&r);
    while (now_s() - t_cut < 4.5)
        sleep_ms(100);
    proxy_restore(&px);

    /* Back, with no restart of either process. */
    double t_back = now_s();
    for (;;) {
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        long st = r.status;
        api_resp_free(&r);
        if (st == 200)
            break;
        cr_assert_eq(st, 503, "during recovery: %ld", st);
        cr_assert_lt(now_s() - t_back, 10, "server still 503 10 s after the database came back");
        sleep_ms(50);
    }
    fprintf(stderr, "faults: server answered 200 again %.0f ms after the database came back\n",
            (now_s() - t_back) * 1e3);
    for (int i = 0; i < 6; i++)
        wait_status(ids[i], "succeeded", 120);

    const char *kp[] = { key };
    cr_assert_eq(api_sql_int(db, "SELECT count(*) FROM runs WHERE idempotency_key = $1", 1, kp), 0,
                 "the POST answered 503 stored a run");
    cr_assert_eq(check_no_duplicates_or_half_writes(), 6);
    const char *pc[] = { cut_ids };
    long long attempts = api_sql_int(db, "SELECT coalesce(max(attempts), 0) FROM runs"
                                         " WHERE id = ANY($1::bigint[])", 1, pc);
    fprintf(stderr, "faults: run(s) %s cut mid-way took %lld attempt(s)\n", cut_ids, attempts);
    cr_assert(attempts == 1 || attempts == 2, "attempts %lld", attempts);
    cr_assert_eq(api_sql_int(db, "SELECT count(*) FROM runs WHERE attempts <> 1 AND"
                                 " NOT id = ANY($1::bigint[])", 1, pc),
                 0, "a run that was queued during the outage was executed twice");
    /* The same params give the same results: the retried run equals a clean one. */
    cr_assert_eq(api_sql_int(db, "SELECT count(DISTINCT (SELECT count(*) FROM orders o WHERE"
                                 " o.run_id = r.id)) FROM runs r WHERE r.kind = 'backtest'",
                             0, NULL),
                 1);
    char *wlog = harness_slurp(worker_log);
    int noticed = wlog && (strstr(wlog, "lost the database connection") || strstr(wlog, "unreachable"));
    free(wlog);
    cr_assert(noticed, "the worker never noticed the outage");
    worker_stop_ok();
    cr_assert_eq(harness_server_stop(&srv), 0);
    proxy_stop(&px);
}

/* ---- SIGTERM under load ----------------------------------------------------------- */

struct load {
    atomic_int stop;             /* 1: the thread ends its loop */
    char path[64];
    long ok;                     /* 200s with a complete JSON body */
    long refused;                /* connection refused (after SIGTERM) */
    long other;                  /* anything else: a failure */
    char other_what[256];
};

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    struct api_resp *r = ud;
    return api_write_cb(data, size, n, r);
}

static void *load_thread(void *arg)
{
    struct load *l = arg;
    char url[128];
    snprintf(url, sizeof url, "%s%s", srv.base, l->path);
    CURL *c = curl_easy_init(); /* one handle: keep-alive connections */
    while (!atomic_load(&l->stop)) {
        struct api_resp r;
        memset(&r, 0, sizeof r);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode rc = curl_easy_perform(c);
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        json_error_t je;
        json_t *doc = rc == CURLE_OK && r.body ? json_loadb(r.body, r.len, 0, &je) : NULL;
        if (rc == CURLE_OK && st == 200 && doc) {
            l->ok++;
        } else if (rc == CURLE_COULDNT_CONNECT) {
            l->refused++;
            json_decref(doc);
            free(r.body);
            break; /* the server is gone for good */
        } else {
            if (!l->other)
                snprintf(l->other_what, sizeof l->other_what, "curl %d (%s), status %ld", rc,
                         curl_easy_strerror(rc), st);
            l->other++;
        }
        json_decref(doc);
        free(r.body);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* A POST whose body trickles in: the JSON, then whitespace, slowly. */
struct slow_post {
    const char *json;
    size_t json_left, pad_left;
    int delay_ms;
    atomic_int started;
    long status;
    char id_body[512];
};

static size_t slow_read(char *dst, size_t size, size_t n, void *ud)
{
    struct slow_post *u = ud;
    size_t cap = size * n;
    if (u->json_left) {
        size_t k = u->json_left < cap ? u->json_left : cap;
        memcpy(dst, u->json, k);
        u->json += k;
        u->json_left -= k;
        atomic_store(&u->started, 1);
        return k;
    }
    if (!u->pad_left)
        return 0;
    sleep_ms(u->delay_ms);
    size_t k = u->pad_left < 256 ? u->pad_left : 256;
    if (k > cap)
        k = cap;
    memset(dst, ' ', k);
    u->pad_left -= k;
    return k;
}

static size_t slow_write(char *data, size_t size, size_t n, void *ud)
{
    struct slow_post *u = ud;
    size_t len = strlen(u->id_body), add = size * n;
    snprintf(u->id_body + len, sizeof u->id_body - len, "%.*s", (int)add, data);
    return add;
}

static void *slow_thread(void *arg)
{
    struct slow_post *u = arg;
    char url[128];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "%s/backtests", srv.base);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
    curl_easy_setopt(c, CURLOPT_READDATA, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, slow_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &u->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

/* A fresh connection now: 1 when it is refused at once, 0 otherwise. */
static int new_connection_refused(double *ms)
{
    char url[128];
    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "%s/health", srv.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    *ms = (now_s() - t0) * 1e3;
    curl_easy_cleanup(c);
    return rc == CURLE_COULDNT_CONNECT;
}

Test(faults, sigterm_under_load_finishes_in_flight_refuses_new_and_exits_0)
{
    struct api_resp r;
    db = api_schema_enter("faults_term", schema, sizeof schema);
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0, "tradebench-server did not start");
    api_call(&srv, "POST", "/backtests",
             "{\"strategy\":\"buy_and_hold\",\"data\":\"synthetic\",\"universe\":2}", NULL, NULL, &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);

    enum { NLOAD = 4 };
    struct load l[NLOAD];
    pthread_t t[NLOAD], ts;
    memset(l, 0, sizeof l);
    for (int i = 0; i < NLOAD; i++) {
        if (i % 2)
            snprintf(l[i].path, sizeof l[i].path, "/runs?limit=50");
        else
            snprintf(l[i].path, sizeof l[i].path, "/runs/%lld", id);
        cr_assert_eq(pthread_create(&t[i], NULL, load_thread, &l[i]), 0);
    }
    /* ~2 s of upload: 200 chunks of 256 bytes of whitespace, 10 ms apart. */
    static const char json[] = "{\"strategy\":\"buy_and_hold\",\"data\":\"synthetic\",\"universe\":3}";
    struct slow_post u = { json, sizeof json - 1, 200 * 256, 10, 0, 0, "" };
    cr_assert_eq(pthread_create(&ts, NULL, slow_thread, &u), 0);
    while (!atomic_load(&u.started))
        sleep_ms(5);
    sleep_ms(400); /* load running, upload under way */

    long before = 0;
    for (int i = 0; i < NLOAD; i++)
        before += l[i].ok;
    double t0 = now_s();
    kill(srv.pid, SIGTERM);
    /* While the upload is still draining, a new connection is refused at once
     * (probed every 50 ms: the signal takes a moment to be handled). */
    double ms = 0;
    int refused = 0, upload_running = 0;
    for (int i = 0; i < 30 && !refused; i++) {
        sleep_ms(50);
        refused = new_connection_refused(&ms);
        upload_running = __atomic_load_n(&u.status, __ATOMIC_SEQ_CST) == 0;
    }
    pthread_join(ts, NULL);
    int status = -2;
    for (int i = 0; i < 400; i++) {
        int st;
        if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            srv.pid = 0;
            break;
        }
        sleep_ms(50);
    }
    double drain = now_s() - t0;
    for (int i = 0; i < NLOAD; i++) {
        atomic_store(&l[i].stop, 1);
        pthread_join(t[i], NULL);
    }
    long ok = 0, other = 0;
    for (int i = 0; i < NLOAD; i++) {
        ok += l[i].ok;
        other += l[i].other;
        if (l[i].other)
            fprintf(stderr, "load %d (%s): %ld bad answers, first: %s\n", i, l[i].path, l[i].other,
                    l[i].other_what);
    }
    fprintf(stderr,
            "faults: SIGTERM under load — %ld GETs answered 200 (%ld before the signal), %ld bad; "
            "slow upload %ld; new connection %s in %.1f ms (upload still running: %s); exit %d "
            "after %.2f s\n",
            ok, before, other, u.status, refused ? "refused" : "NOT refused", ms,
            upload_running ? "yes" : "no", status, drain);
    if (status != 0) {
        char *log = harness_slurp(srv.log_path);
        fprintf(stderr, "---- server log ----\n%s\n", log ? log : "");
        free(log);
    }
    cr_assert_gt(before, 10, "the load never got going");
    cr_assert_eq(other, 0, "requests got a bad answer or were cut off");
    cr_assert_eq(u.status, 202, "the in-flight upload got %ld: %s", u.status, u.id_body);
    cr_assert(upload_running, "the upload ended before the probe: the test proves nothing");
    cr_assert(refused, "a new connection during the drain was not refused (%.1f ms)", ms);
    cr_assert_eq(status, 0, "exit status %d", status);
    /* The upload's run was stored (read with the test's own connection). */
    cr_assert_eq(api_sql_int(db, "SELECT count(*) FROM runs", 0, NULL), 2);
    unlink(srv.log_path);
}

/* ---- data edge cases ---------------------------------------------------------------- */

static void run_cli(char *const argv[])
{
    char log[300];
    snprintf(log, sizeof log, "%s.cli.log", fixture);
    const char *env[] = { "TB_DATA=", NULL };
    pid_t pid = harness_spawn(TB_CLI_BIN, argv, env, log);
    int rc = harness_wait(pid, 120000);
    char *text = harness_slurp(log);
    cr_assert_eq(rc, 0, "tradebench exit %d: %s", rc, text ? text : "");
    free(text);
    unlink(log);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* <fixture>/SYN000.csv, SYN001.csv and LATE.csv (SYN002 without its first
 * 200 bars): 300 daily bars from `tradebench data synth`. */
static void make_fixture(void)
{
    char data[300], src[400], dst[400];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fixture, sizeof fixture, "%s/tb-it-faults-%ld", tmp, (long)getpid());
    snprintf(data, sizeof data, "%s/data", fixture);
    char *argv[] = { (char *)TB_CLI_BIN, "data", "synth", "--symbols", "3", "--bars", "300",
                     "--seed", "7", "--out", data, NULL };
    run_cli(argv);
    snprintf(src, sizeof src, "%s/SYN002.csv", data);
    snprintf(dst, sizeof dst, "%s/LATE.csv", data);
    char *text = harness_slurp(src);
    cr_assert_not_null(text);
    char *p = strchr(text, '\n') + 1; /* after the header */
    for (int i = 0; i < 200; i++)
        p = strchr(p, '\n') + 1;
    FILE *f = fopen(dst, "w");
    cr_assert_not_null(f);
    fprintf(f, "date,open,high,low,close,volume\n%s", p);
    fclose(f);
    free(text);
    cr_assert_eq(unlink(src), 0);
}

struct edge {
    const char *name;
    const char *body;            /* POST /backtests */
    const char *strategy;        /* the same for the CLI */
    const char *param;           /* --param k=v or NULL */
    const char *universe;        /* file contents, or NULL for --symbols 1 */
    long long want_orders;       /* -1: any number > 0 */
};

static void get_same_as(const char *path, const char *file)
{
    struct api_resp r;
    char *want = harness_slurp(file);
    cr_assert_not_null(want, "%s missing", file);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(r.len == strlen(want) && memcmp(r.body, want, r.len) == 0,
              "%s differs from the CLI's %s (%zu vs %zu bytes)", path, file, r.len, strlen(want));
    free(want);
    api_resp_free(&r);
}

Test(faults, zero_orders_one_symbol_and_a_late_starting_symbol)
{
    static const struct edge edges[] = {
        { "zero_orders", "{\"strategy\":\"ema_trend\",\"params\":{\"n\":400},\"symbols\":[\"SYN000\"]}",
          "ema_trend", "n=400", "SYN000\n", 0 },
        { "one_symbol", "{\"strategy\":\"trend_baseline\",\"symbols\":[\"SYN001\"]}",
          "trend_baseline", NULL, "SYN001\n", -1 },
        { "late_start", "{\"strategy\":\"trend_baseline\",\"symbols\":[\"SYN000\",\"LATE\"]}",
          "trend_baseline", NULL, "SYN000\nLATE\n", -1 },
        { "late_only", "{\"strategy\":\"buy_and_hold\",\"universe\":1}", "buy_and_hold", NULL,
          NULL, -1 },
    };
    enum { NE = sizeof edges / sizeof edges[0] };
    char data[300], env_data[320];
    long long ids[NE];
    const char *url = harness_db_url_or_skip();
    db = api_schema_enter("faults_edge", schema, sizeof schema);
    make_fixture();
    snprintf(data, sizeof data, "%s/data", fixture);
    snprintf(env_data, sizeof env_data, "TB_DATA=%s", data);
    setenv("TB_DATA", data, 1); /* the server checks universes against it */
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0, "tradebench-server did not start");
    unsetenv("TB_DATA");
    const char *extra[] = { env_data, "TB_WORKER_CONCURRENCY=2", NULL };
    worker_start(url, extra);

    for (int i = 0; i < NE; i++) {
        struct api_resp r;
        api_call(&srv, "POST", "/backtests", edges[i].body, NULL, NULL, &r);
        api_expect(&r, 202);
        ids[i] = api_run_id(&r);
        api_resp_free(&r);
    }
    for (int i = 0; i < NE; i++) {
        const struct edge *e = &edges[i];
        char out[400], ufile[400], path[160], file[500];
        wait_status(ids[i], "succeeded", 120);
        snprintf(out, sizeof out, "%s/%s", fixture, e->name);
        char *argv[16];
        int a = 0;
        argv[a++] = (char *)TB_CLI_BIN;
        argv[a++] = "backtest";
        argv[a++] = "--data";
        argv[a++] = data;
        argv[a++] = "--strategy";
        argv[a++] = (char *)e->strategy;
        if (e->param) {
            argv[a++] = "--param";
            argv[a++] = (char *)e->param;
        }
        if (e->universe) {
            snprintf(ufile, sizeof ufile, "%s/%s.txt", fixture, e->name);
            write_file(ufile, e->universe);
            argv[a++] = "--universe";
            argv[a++] = ufile;
        } else {
            argv[a++] = "--symbols";
            argv[a++] = "1";
        }
        argv[a++] = "--out";
        argv[a++] = out;
        argv[a] = NULL;
        run_cli(argv);

        static const char *const names[] = { "orders_1d.csv", "equity_curve_1d.csv", "metrics.json" };
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "/runs/%lld/artifacts/%s", ids[i], names[k]);
            snprintf(file, sizeof file, "%s/%s", out, names[k]);
            get_same_as(path, file);
        }
        /* The orders as a JSON page agree with the run's count. */
        struct api_resp r;
        snprintf(path, sizeof path, "/backtests/%lld/orders?limit=5000", ids[i]);
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        json_t *doc = api_json(&r);
        size_t n = json_array_size(json_object_get(doc, "items"));
        cr_assert(json_is_null(json_object_get(doc, "next_cursor")));
        json_decref(doc);
        api_resp_free(&r);
        if (e->want_orders >= 0)
            cr_assert_eq((long long)n, e->want_orders, "%s: %zu orders", e->name, n);
        else
            cr_assert_gt(n, 0, "%s: no orders", e->name);
        snprintf(path, sizeof path, "/runs/%lld/artifacts/performance_report_1d.md", ids[i]);
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        cr_assert_gt(r.len, 100);
        api_resp_free(&r);
    }
    /* The late symbol really starts late: the late-only run has 100 bars. */
    char ids3[24];
    snprintf(ids3, sizeof ids3, "%lld", ids[3]);
    const char *p3[] = { ids3 };
    cr_assert_eq(api_sql_int(db, "SELECT count(*) FROM equity_points WHERE run_id = $1", 1, p3), 100);
    cr_assert_eq(check_no_duplicates_or_half_writes(), NE);
    worker_stop_ok();
    cr_assert_eq(harness_server_stop(&srv), 0);
}
