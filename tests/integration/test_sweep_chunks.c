/*
 * test_sweep_chunks — scale-out of a sweep over PostgreSQL: POST
 * /backtests with a grid larger than its chunk size is split into chunk
 * runs (kind sweep_chunk) that real tradebench-worker processes claim like
 * any run; the sweep completes when its last chunk is stored.
 *
 *  - two workers (concurrency 1 each) share one sweep: every chunk is
 *    claimed by one of them, both take some (TB_TEST_CHUNK_DELAY_MS makes
 *    each chunk last long enough for the second worker to claim the next),
 *    every valid member is stored exactly once with ranks 1..n, and the
 *    artifacts equal those of the same grid run whole (sweep_results.csv
 *    byte for byte, sweep_report.md but for its timing rows);
 *  - a worker SIGKILLed in the middle of a chunk: the chunk is requeued by
 *    the other worker's stale check and stored once, the sweep is still
 *    every member exactly once;
 *  - a chunk that crashes fails its sweep (the error names the chunk) and
 *    cancels the chunks still queued; cancelling a split sweep cancels its
 *    chunks; either way no member row of the sweep remains (the stored
 *    chunks' are deleted with the status change); chunk_size is validated.
 * Own schema, own server and workers (test_api_client.h). No timed
 * assertion: every wait is "until a state is reached", bounded only to fail.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_api_client.h"

#ifndef TB_WORKER_BIN
#error "TB_WORKER_BIN must be defined by CMake"
#endif

static struct api_stack stack;
static pid_t worker_b;           /* the second worker (the stack owns the first) */
static char worker_b_log[256];

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    if (worker_b > 0) {
        kill(worker_b, SIGKILL);
        harness_wait(worker_b, 5000);
        worker_b = 0;
    }
    api_stack_fini(&stack);
    unsetenv("TB_SWEEP_CHUNK");
    curl_global_cleanup();
}

TestSuite(sweep_chunks, .init = init, .fini = fini, .timeout = 280);

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Wait until a worker's log says it is connected and listening. */
static void wait_connected(const char *log_path)
{
    for (int i = 0; i < 3000; i++) { /* 60 s: ASan start-up is slow */
        char *log = harness_slurp(log_path);
        int ok = log && strstr(log, "connected; listening") != NULL;
        free(log);
        if (ok)
            return;
        sleep_ms(20);
    }
    char *log = harness_slurp(log_path);
    cr_assert_fail("worker never connected; log:\n%s", log ? log : "");
}

/* The stack (server + worker A) and, when two, worker B; both with the
 * given extra variables. */
static void up(int workers, const char *const *env)
{
    api_stack_up(&stack, "chunks", workers > 0 ? env : NULL);
    if (workers > 0)
        wait_connected(stack.worker_log);
    if (workers < 2)
        return;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(worker_b_log, sizeof worker_b_log, "%s/tb-it-chunks-worker-b-%ld.log", tmp, (long)getpid());
    char dburl[1024];
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", harness_db_url_or_skip());
    const char *benv[12] = { dburl, "TB_LOG_LEVEL=info", "TB_DATA=" };
    size_t n = 3;
    for (size_t i = 0; env[i] && n < 11; i++)
        benv[n++] = env[i];
    benv[n] = NULL;
    char *argv[] = { (char *)TB_WORKER_BIN, NULL };
    worker_b = harness_spawn(TB_WORKER_BIN, argv, benv, worker_b_log);
    cr_assert_gt(worker_b, 0);
    wait_connected(worker_b_log);
}

static void down(void)
{
    if (worker_b > 0) {
        kill(worker_b, SIGTERM);
        int rc = harness_wait(worker_b, 20000);
        worker_b = 0;
        if (rc != 0) {
            char *log = harness_slurp(worker_b_log);
            fprintf(stderr, "---- worker B log ----\n%s\n", log ? log : "");
            free(log);
        }
        cr_assert_eq(rc, 0, "worker B exit status %d after SIGTERM", rc);
        unlink(worker_b_log);
    }
    api_stack_down(&stack);
}

static void dump_logs(void)
{
    char *a = harness_slurp(stack.worker_log), *b = worker_b_log[0] ? harness_slurp(worker_b_log) : NULL;
    fprintf(stderr, "---- worker A log ----\n%s\n---- worker B log ----\n%s\n", a ? a : "", b ? b : "");
    free(a);
    free(b);
}

/* POST /backtests; 202 expected; returns the run (new reference). */
static json_t *post_sweep(const char *body)
{
    struct api_resp r;
    api_call(&stack.srv, "POST", "/backtests", body, NULL, NULL, &r);
    api_expect(&r, 202);
    json_t *run = api_json(&r);
    api_resp_free(&r);
    cr_assert_str_eq(json_string_value(json_object_get(run, "kind")), "sweep");
    return run;
}

/* Poll GET /backtests/{id} until the run is final; returns it. */
static json_t *poll_final(long long id, double timeout_s)
{
    return api_poll_run(&stack, "/backtests", id, NULL, timeout_s, NULL, dump_logs);
}

static void expect_succeeded(const json_t *run)
{
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded", "sweep %lld: %s",
                     (long long)json_integer_value(json_object_get(run, "id")),
                     json_string_value(json_object_get(run, "error")));
}

/* An artifact's bytes (caller frees the response). */
static void get_artifact(long long id, const char *name, struct api_resp *r)
{
    char path[160];
    snprintf(path, sizeof path, "/runs/%lld/artifacts/%s", id, name);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, r);
    api_expect(r, 200);
}

/* The report without the rows that are timings (they differ between any
 * two runs, split or not): threads, members, whole sweep, chunks. */
static char *report_without_timings(const char *md)
{
    static const char *const timing[] = { "| threads |", "| members |", "| whole sweep |", "| chunks |" };
    char *out = calloc(1, strlen(md) + 1);
    cr_assert_not_null(out);
    size_t n = 0;
    for (const char *p = md; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        int skip = 0;
        for (size_t k = 0; k < sizeof timing / sizeof timing[0]; k++)
            skip |= strncmp(p, timing[k], strlen(timing[k])) == 0;
        if (!skip) {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    out[n] = '\0';
    return out;
}

/* The split sweep's members against the whole one's: every valid member
 * exactly once, ranks 1..n, and its artifacts equal the whole sweep's. */
static void expect_same_as_whole(long long split, long long whole, long long n_valid)
{
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", split);
    snprintf(b, sizeof b, "%lld", whole);
    const char *pa[1] = { a }, *pab[2] = { a, b };
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM sweep_members WHERE run_id = $1", 1, pa), n_valid);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(DISTINCT member) FROM sweep_members WHERE run_id = $1", 1, pa),
                 n_valid, "a member stored twice");
    cr_expect_eq(api_sql_int(stack.db,
                             "SELECT count(*) FROM sweep_members WHERE run_id = $1 AND rank BETWEEN 1 AND"
                             " (SELECT count(*) FROM sweep_members WHERE run_id = $1)",
                             1, pa),
                 n_valid, "ranks are not 1..n");
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(DISTINCT rank) FROM sweep_members WHERE run_id = $1", 1, pa),
                 n_valid);
    cr_expect_eq(api_sql_int(stack.db,
                             "SELECT count(*) FROM sweep_members WHERE run_id = $1 AND chunk_id IS NULL", 1, pa),
                 0, "every member was stored by a chunk");
    /* the same members, ranks and metrics as the sweep run whole */
    cr_expect_eq(api_sql_int(stack.db,
                             "SELECT count(*) FROM sweep_members s JOIN sweep_members w"
                             "    ON w.run_id = $2 AND w.member = s.member AND w.rank = s.rank"
                             "   AND w.metrics = s.metrics AND w.sharpe IS NOT DISTINCT FROM s.sharpe"
                             " WHERE s.run_id = $1",
                             2, pab),
                 n_valid, "members differ from the whole sweep's");
    cr_expect_eq(api_sql_int(stack.db,
                             "SELECT count(*) FROM sweeps s JOIN sweeps w ON w.run_id = $2"
                             "   AND (w.strategy, w.freq, w.grid, w.n_combinations, w.n_members, w.n_skipped,"
                             "        w.skip_reason, w.n_symbols, w.n_bars, w.first_ts, w.last_ts)"
                             "   IS NOT DISTINCT FROM (s.strategy, s.freq, s.grid, s.n_combinations, s.n_members,"
                             "        s.n_skipped, s.skip_reason, s.n_symbols, s.n_bars, s.first_ts, s.last_ts)"
                             " WHERE s.run_id = $1",
                             2, pab),
                 1, "the sweeps rows differ");

    struct api_resp rs, rw;
    get_artifact(split, "sweep_results.csv", &rs);
    get_artifact(whole, "sweep_results.csv", &rw);
    cr_expect(rs.len == rw.len && memcmp(rs.body, rw.body, rs.len) == 0,
              "sweep_results.csv of the split sweep differs from the whole one's:\n%s\n---\n%s", rs.body, rw.body);
    api_resp_free(&rs);
    api_resp_free(&rw);
    get_artifact(split, "sweep_report.md", &rs);
    get_artifact(whole, "sweep_report.md", &rw);
    cr_expect(strstr(rs.body, "| chunks | ") != NULL, "no chunks row: %.600s", rs.body);
    cr_expect(strstr(rw.body, "| chunks | ") == NULL);
    char *ms = report_without_timings(rs.body), *mw = report_without_timings(rw.body);
    cr_expect_str_eq(ms, mw, "sweep_report.md differs beyond its timing rows");
    free(ms);
    free(mw);
    api_resp_free(&rs);
    api_resp_free(&rw);
}

/* 8 fast values x 10 slow ones, two of them skipped (fast >= slow): 78 valid members. */
#define GRID_78 "\"grid\":{\"fast\":[4,6,8,10,12,14,16,18,20,22],\"slow\":[20,24,28,32,36,40,44,48]}"
#define DATA_SMALL "\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":20,\"last_bars\":400"

Test(sweep_chunks, two_workers_share_one_sweep_every_member_once_and_artifacts_equal_the_whole_sweep)
{
    const char *env[] = { "TB_WORKER_CONCURRENCY=1", "TB_WORKER_ML_THREADS=1", "TB_TEST_CHUNK_DELAY_MS=300", NULL };
    up(2, env);

    /* split: 78 valid members in chunks of at most 10 -> 8 chunk runs, in one transaction */
    json_t *run = post_sweep("{" DATA_SMALL ",\"chunk_size\":10," GRID_78 "}");
    long long id = json_integer_value(json_object_get(run, "id"));
    json_t *chunks = json_object_get(run, "chunks");
    cr_assert(json_is_object(chunks), "no chunks in the 202: %s", json_dumps(run, 0));
    cr_expect_eq(json_integer_value(json_object_get(chunks, "total")), 8);
    json_t *items = json_object_get(chunks, "items");
    cr_assert_eq(json_array_size(items), 8);
    long long covered = 0, expect_lo = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *m = json_object_get(it, "members");
        long long lo = json_integer_value(json_array_get(m, 0)), hi = json_integer_value(json_array_get(m, 1));
        cr_expect_eq(lo, expect_lo, "chunk %zu starts at %lld", i, lo);
        cr_expect(hi - lo >= 1 && hi - lo <= 10, "chunk %zu has %lld members", i, hi - lo);
        expect_lo = hi;
        covered += hi - lo;
        cr_expect_eq(json_integer_value(json_object_get(it, "seq")), (json_int_t)i);
    }
    cr_expect_eq(covered, 78, "the chunks cover %lld members", covered);
    cr_expect_eq(json_integer_value(json_object_get(run, "id")), id);
    json_decref(run);

    /* the same grid run whole, for comparison (queued after the chunks) */
    run = post_sweep("{" DATA_SMALL ",\"chunk_size\":1000," GRID_78 "}");
    long long whole = json_integer_value(json_object_get(run, "id"));
    cr_expect(json_object_get(run, "chunks") == NULL, "a sweep within its chunk size is not split");
    json_decref(run);

    run = poll_final(id, 240);
    expect_succeeded(run);
    cr_expect_eq(json_real_value(json_object_get(run, "progress")), 1.0);
    json_t *sw = json_object_get(run, "sweep");
    cr_assert(json_is_object(sw), "no sweep object");
    cr_expect_eq(json_integer_value(json_object_get(sw, "combinations")), 80);
    cr_expect_eq(json_integer_value(json_object_get(sw, "members")), 78);
    cr_expect_eq(json_integer_value(json_object_get(sw, "skipped")), 2);
    cr_expect_eq(json_array_size(json_object_get(sw, "ranked")), 78);
    chunks = json_object_get(run, "chunks");
    cr_expect_eq(json_integer_value(json_object_get(chunks, "succeeded")), 8);
    json_t *wrun = poll_final(whole, 240);
    expect_succeeded(wrun);
    cr_expect(json_equal(json_object_get(sw, "ranked"), json_object_get(json_object_get(wrun, "sweep"), "ranked")),
              "the ranked tables differ");
    json_decref(wrun);
    json_decref(run);

    /* the chunks: all succeeded at their first attempt, shared by both workers */
    char ids[24], a_id[64], b_id[64];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p1[1] = { ids };
    cr_expect_eq(api_sql_int(stack.db,
                             "SELECT count(*) FROM runs WHERE parent_id = $1 AND kind = 'sweep_chunk'"
                             " AND status = 'succeeded' AND attempts = 1",
                             1, p1),
                 8);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(DISTINCT worker_id) FROM runs WHERE parent_id = $1", 1, p1), 2,
                 "the chunks were not shared by the two workers");
    snprintf(a_id, sizeof a_id, "%%:%ld", (long)stack.worker);
    snprintf(b_id, sizeof b_id, "%%:%ld", (long)worker_b);
    const char *pa[2] = { ids, a_id }, *pb[2] = { ids, b_id };
    long long by_a = api_sql_int(stack.db, "SELECT count(*) FROM runs WHERE parent_id = $1 AND worker_id LIKE $2", 2, pa);
    long long by_b = api_sql_int(stack.db, "SELECT count(*) FROM runs WHERE parent_id = $1 AND worker_id LIKE $2", 2, pb);
    cr_expect(by_a >= 1 && by_b >= 1 && by_a + by_b == 8, "worker A ran %lld chunks, worker B %lld", by_a, by_b);
    cr_log_info("8 chunks: worker A ran %lld, worker B %lld; POST to sweep succeeded in %.2f s", by_a, by_b,
                api_sql_int(stack.db, "SELECT (extract(epoch FROM finished_at - created_at) * 1000)::bigint"
                                      " FROM runs WHERE id = $1", 1, p1) / 1e3);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM run_iterations WHERE run_id = $1", 1, p1), 1,
                 "the sweep's profile is one iteration");

    expect_same_as_whole(id, whole, 78);

    /* lists: chunks only when asked for */
    struct api_resp r;
    api_call(&stack.srv, "GET", "/runs?limit=200", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_expect(strstr(r.body, "\"sweep_chunk\"") == NULL, "GET /runs lists chunks: %.300s", r.body);
    api_resp_free(&r);
    api_call(&stack.srv, "GET", "/runs?kind=sweep_chunk&limit=200", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *page = api_json(&r);
    cr_expect_eq(json_array_size(json_object_get(page, "items")), 8);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(json_object_get(page, "items"), 0), "parent_id")),
                 id);
    json_decref(page);
    api_resp_free(&r);
    down();
}

Test(sweep_chunks, a_worker_killed_mid_chunk_leaves_every_member_exactly_once)
{
    /* the server's TB_SWEEP_CHUNK this time (no chunk_size in the body) */
    setenv("TB_SWEEP_CHUNK", "5", 1);
    const char *env[] = { "TB_WORKER_CONCURRENCY=1", "TB_WORKER_ML_THREADS=1", "TB_TEST_CHUNK_DELAY_MS=1500",
                          "TB_WORKER_STALE_SECONDS=2", NULL };
    up(2, env);
    /* 6 x 5 values, all valid: 30 members in 6 chunks of 5 */
    json_t *run = post_sweep("{" DATA_SMALL ",\"grid\":{\"fast\":[4,6,8,10,12,14],\"slow\":[20,25,30,35,40]}}");
    long long id = json_integer_value(json_object_get(run, "id"));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(run, "chunks"), "total")), 6);
    json_decref(run);

    /* worker A in the middle of a chunk (its child sleeping in the test delay): SIGKILL */
    char ids[24], a_id[64];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(a_id, sizeof a_id, "%%:%ld", (long)stack.worker);
    const char *pa[2] = { ids, a_id };
    long long victim = 0;
    for (int i = 0; i < 3000 && !victim; i++) {
        PGresult *res = api_sql(stack.db,
                                "SELECT id FROM runs WHERE parent_id = $1 AND status = 'running' AND worker_id LIKE $2",
                                2, pa);
        if (PQntuples(res) == 1)
            victim = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (!victim)
            sleep_ms(20);
    }
    cr_assert_gt(victim, 0, "worker A never ran a chunk");
    kill(stack.worker, SIGKILL);
    cr_expect_eq(harness_wait(stack.worker, 10000), 128 + SIGKILL);
    stack.worker = 0;

    /* the whole sweep for comparison */
    run = post_sweep("{" DATA_SMALL ",\"chunk_size\":1000,\"grid\":{\"fast\":[4,6,8,10,12,14],\"slow\":[20,25,30,35,40]}}");
    long long whole = json_integer_value(json_object_get(run, "id"));
    json_decref(run);

    run = poll_final(id, 240);
    expect_succeeded(run);
    json_decref(run);
    run = poll_final(whole, 240);
    expect_succeeded(run);
    json_decref(run);

    char vs[24];
    snprintf(vs, sizeof vs, "%lld", victim);
    const char *pv[1] = { vs }, *p1[1] = { ids };
    cr_expect_eq(api_sql_int(stack.db, "SELECT attempts FROM runs WHERE id = $1", 1, pv), 2,
                 "the killed chunk was not executed again");
    cr_log_info("chunk %lld: worker A killed in it, stored by worker B at attempt 2; sweep in %.2f s", victim,
                api_sql_int(stack.db, "SELECT (extract(epoch FROM finished_at - created_at) * 1000)::bigint"
                                      " FROM runs WHERE id = $1", 1, p1) / 1e3);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM sweep_members WHERE chunk_id = $1", 1, pv), 5);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM runs WHERE parent_id = $1 AND status = 'succeeded'", 1, p1),
                 6);
    expect_same_as_whole(id, whole, 30);
    unsetenv("TB_SWEEP_CHUNK");
    down();
}

Test(sweep_chunks, a_crashing_chunk_fails_its_sweep_and_cancel_stops_the_chunks)
{
    struct api_resp r;
    up(0, NULL);

    /* chunk_size is validated */
    api_call(&stack.srv, "POST", "/backtests", "{\"strategy\":\"trend_baseline\",\"chunk_size\":10}", NULL, NULL, &r);
    api_expect_field_error(&r, "chunk_size");
    api_resp_free(&r);
    api_call(&stack.srv, "POST", "/backtests", "{" DATA_SMALL ",\"chunk_size\":0," GRID_78 "}", NULL, NULL, &r);
    api_expect_field_error(&r, "chunk_size");
    api_resp_free(&r);

    /* cancel a split sweep nobody runs yet: it and its chunks are cancelled;
     * the members a stored chunk would have written (made here by hand:
     * its sweeps row and one unranked member of its first chunk) go too */
    json_t *run = post_sweep("{" DATA_SMALL ",\"chunk_size\":20," GRID_78 "}");
    long long cancelled = json_integer_value(json_object_get(run, "id"));
    json_decref(run);
    char cids[24];
    snprintf(cids, sizeof cids, "%lld", cancelled);
    const char *c1[1] = { cids };
    PQclear(api_sql(stack.db,
                    "INSERT INTO sweeps (run_id, strategy, freq, grid, n_combinations, n_members, n_skipped,"
                    "                    threads, members_seconds, n_symbols, n_bars)"
                    " VALUES ($1, 'trend_baseline', '1d', '{}', 80, 78, 2, 1, 0, 1, 1)",
                    1, c1));
    PQclear(api_sql(stack.db,
                    "INSERT INTO sweep_members (run_id, member, rank, params, metrics, n_orders, chunk_id)"
                    " SELECT $1, 0, NULL, '{}', '{}', 0, min(id) FROM runs WHERE parent_id = $1",
                    1, c1));
    char path[64];
    snprintf(path, sizeof path, "/runs/%lld/cancel", cancelled);
    api_call(&stack.srv, "POST", path, NULL, NULL, NULL, &r);
    api_expect(&r, 202);
    run = api_json(&r);
    api_resp_free(&r);
    cr_expect_str_eq(json_string_value(json_object_get(run, "status")), "cancelled");
    json_t *items = json_object_get(json_object_get(run, "chunks"), "items"), *it;
    size_t i;
    cr_expect_eq(json_array_size(items), 4);
    json_array_foreach(items, i, it)
        cr_expect_str_eq(json_string_value(json_object_get(it, "status")), "cancelled");
    json_decref(run);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM sweep_members WHERE run_id = $1", 1, c1), 0);

    /* a sweep whose second chunk crashes in its child */
    run = post_sweep("{" DATA_SMALL ",\"chunk_size\":20," GRID_78 "}");
    long long id = json_integer_value(json_object_get(run, "id"));
    items = json_object_get(json_object_get(run, "chunks"), "items");
    long long crash = json_integer_value(json_object_get(json_array_get(items, 1), "id"));
    json_decref(run);
    char fault[64];
    snprintf(fault, sizeof fault, "TB_FAULT_INJECT=crash:%lld", crash);
    const char *env[] = { "TB_WORKER_CONCURRENCY=1", "TB_WORKER_ML_THREADS=1", fault, NULL };
    char dburl[1024], log[256];
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", harness_db_url_or_skip());
    snprintf(log, sizeof log, "%s/tb-it-chunks-worker-%ld.log", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    snprintf(stack.worker_log, sizeof stack.worker_log, "%s", log);
    const char *wenv[] = { dburl, "TB_LOG_LEVEL=info", "TB_DATA=", env[0], env[1], env[2], NULL };
    char *argv[] = { (char *)TB_WORKER_BIN, NULL };
    stack.worker = harness_spawn(TB_WORKER_BIN, argv, wenv, stack.worker_log);
    cr_assert_gt(stack.worker, 0);

    run = poll_final(id, 240);
    cr_expect_str_eq(json_string_value(json_object_get(run, "status")), "failed");
    char want[64];
    snprintf(want, sizeof want, "chunk %lld (members 19..38", crash);
    const char *error = json_string_value(json_object_get(run, "error"));
    cr_expect(error && strstr(error, want) && strstr(error, "signal 6"), "error: %s", error ? error : "(null)");
    json_decref(run);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p1[1] = { ids };
    /* chunk 0 ran before the crash; 2 and 3 never run */
    cr_expect_eq(api_sql_int(stack.db,
                             "SELECT count(*) FROM runs WHERE parent_id = $1 AND status IN ('queued', 'running')", 1,
                             p1),
                 0);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM runs WHERE parent_id = $1 AND status = 'cancelled'", 1, p1),
                 2);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM artifacts WHERE run_id = $1", 1, p1), 0);
    /* chunk 0 was stored (its sweeps row stays), but the failed sweep keeps none of its members */
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM runs WHERE parent_id = $1 AND status = 'succeeded'", 1,
                             p1),
                 1);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM sweeps WHERE run_id = $1", 1, p1), 1);
    cr_expect_eq(api_sql_int(stack.db, "SELECT count(*) FROM sweep_members WHERE run_id = $1", 1, p1), 0);
    down();
}
