/*
 * test_profile — the profiling workflow against the real binaries and
 * PostgreSQL: `tradebench profile-job` records a run and one run_iterations
 * row per iteration with sane wall / CPU / RSS and stage lists; perf (when
 * permitted here) stores function hotspots or is reported plainly as not
 * available; an unreachable database is said so while the figures are still
 * printed; bad flags exit 2. GET /profiles filters by job and phase and
 * summarises exactly (seeded rows with known medians), worker runs of POST
 * /runs with iterations and a phase appear in it, GET /profiles/report.md
 * renders the Before/After table, and --update-doc rewrites only the marked
 * part of a temporary copy of a doc. Each test runs in its own schema
 * (api_schema_enter: PGOPTIONS is inherited by the server, worker and CLI).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "server/logger.h"
#include "server/migrate.h"
#include "test_api_client.h"

#ifndef TB_CLI_BIN
#error "TB_CLI_BIN must be defined by CMake"
#endif

static struct tb_server srv;
static PGconn *db;
static char schema[64];
static char tmpdir[256];
static pid_t worker;

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    logger_init("test_profile", LOG_LEVEL_WARN); /* migrate_apply's per-file lines */
}

static void fini(void)
{
    api_teardown(&worker, &srv, &db, schema, tmpdir);
    curl_global_cleanup();
}

TestSuite(profile, .init = init, .fini = fini, .timeout = 240);

static void up(const char *tag)
{
    harness_db_url_or_skip();
    db = api_schema_enter(tag, schema, sizeof schema);
    char err[512];
    cr_assert_eq(migrate_apply(db, NULL, NULL, NULL, err, sizeof err), 0, "%s", err);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/tb-it-profile-XXXXXX", tmp);
    cr_assert_not_null(mkdtemp(tmpdir));
}

/* Run the CLI: exit status, with stdout+stderr in *out (caller frees). */
static int cli(char *const argv[], const char *db_url, char **out)
{
    char log[400], dburl[1100];
    snprintf(log, sizeof log, "%s/cli.log", tmpdir);
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", db_url ? db_url : getenv("TB_TEST_DATABASE_URL"));
    const char *env[] = { dburl, "TB_DATA=", "TB_LOG_LEVEL=", NULL };
    pid_t pid = harness_spawn(TB_CLI_BIN, argv, env, log);
    int rc = harness_wait(pid, 200000);
    *out = harness_slurp(log);
    if (!*out)
        *out = calloc(1, 1);
    return rc;
}

static long long one_int(const char *sql, const char *p1)
{
    const char *params[] = { p1 };
    return api_sql_int(db, sql, p1 ? 1 : 0, params);
}

/* ---- profile-job records -------------------------------------------------------- */

Test(profile, profile_job_records_every_iteration)
{
    up("prof_cli");
    char *out;
    char *argv[] = { (char *)TB_CLI_BIN, "profile-job", "--job", "EOD_SMALL", "--iterations", "3", "--data",
                     "synthetic", "--phase", "before", "--notes", "integration test", NULL };
    int rc = cli(argv, NULL, &out);
    cr_assert_eq(rc, 0, "profile-job exit %d:\n%s", rc, out);
    cr_assert(strstr(out, "iteration 3/3"), "%s", out);
    cr_assert(strstr(out, "median runtime"), "%s", out);
    cr_assert(strstr(out, "peak memory"), "%s", out);
    cr_assert(strstr(out, "top-3 hotspots"), "%s", out);
    cr_assert(strstr(out, "recorded as run"), "%s", out);
    free(out);

    PGresult *r = api_sql(db,
                          "SELECT id, kind, job, status, phase, iterations, params->>'profiler', params->>'data',"
                          " params->>'origin', params->>'notes', params->>'command', started_at <= finished_at"
                          " FROM runs",
                          0, NULL);
    cr_assert_eq(PQntuples(r), 1);
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "run");
    cr_assert_str_eq(PQgetvalue(r, 0, 2), "EOD_SMALL");
    cr_assert_str_eq(PQgetvalue(r, 0, 3), "succeeded");
    cr_assert_str_eq(PQgetvalue(r, 0, 4), "before");
    cr_assert_str_eq(PQgetvalue(r, 0, 5), "3");
    cr_assert_str_eq(PQgetvalue(r, 0, 6), "stages");
    cr_assert_str_eq(PQgetvalue(r, 0, 7), "synthetic");
    cr_assert_str_eq(PQgetvalue(r, 0, 8), "profile-job");
    cr_assert_str_eq(PQgetvalue(r, 0, 9), "integration test");
    cr_assert(strstr(PQgetvalue(r, 0, 10), "profile-job --job EOD_SMALL"));
    cr_assert_str_eq(PQgetvalue(r, 0, 11), "t");
    PQclear(r);

    const char *p[] = { id };
    r = api_sql(db,
                "SELECT iteration, wall_seconds, cpu_seconds, peak_rss_bytes, jsonb_array_length(stages),"
                " (SELECT string_agg(s->>'name', ',') FROM jsonb_array_elements(stages) s), hotspots IS NULL,"
                " started_at <= finished_at"
                " FROM run_iterations WHERE run_id = $1::bigint ORDER BY iteration",
                1, p);
    cr_assert_eq(PQntuples(r), 3);
    for (int i = 0; i < 3; i++) {
        double wall = strtod(PQgetvalue(r, i, 1), NULL), cpu = strtod(PQgetvalue(r, i, 2), NULL);
        long long rss = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        cr_assert_eq(atoi(PQgetvalue(r, i, 0)), i + 1);
        cr_assert(wall > 0.001 && wall < 120, "wall %g", wall);
        cr_assert(cpu > 0 && cpu < wall * 2 + 0.05, "cpu %g vs wall %g", cpu, wall);
        cr_assert(rss > (1 << 20) && rss < (8LL << 30), "rss %lld", rss);
        cr_assert_geq(atoi(PQgetvalue(r, i, 4)), 5);
        const char *names = PQgetvalue(r, i, 5);
        cr_assert(strstr(names, "load_data") && strstr(names, "signals") && strstr(names, "simulate") &&
                      strstr(names, "metrics") && strstr(names, "render_artifacts"),
                  "stages %s", names);
        cr_assert_str_eq(PQgetvalue(r, i, 6), "t", "no function hotspots with the stage profiler");
        cr_assert_str_eq(PQgetvalue(r, i, 7), "t");
    }
    PQclear(r);
}

Test(profile, an_unreachable_database_is_said_plainly_and_the_figures_printed)
{
    up("prof_nodb");
    char *out;
    char *argv[] = { (char *)TB_CLI_BIN, "profile-job", "--job", "EOD_SMALL", "--data", "synthetic", NULL };
    int rc = cli(argv, "postgresql://nobody:x@127.0.0.1:1/nothing?connect_timeout=2", &out);
    cr_assert_eq(rc, 1, "exit %d:\n%s", rc, out);
    cr_assert(strstr(out, "database is unreachable"), "%s", out);
    cr_assert(strstr(out, "NOT recorded"), "%s", out);
    cr_assert(strstr(out, "median runtime"), "%s", out);
    free(out);
}

Test(profile, bad_flags_exit_2_naming_them)
{
    up("prof_bad");
    static const char *const cases[][3] = {
        { "--job", "FOO", "--job" },
        { "--profiler", "gprof", "--profiler" },
        { "--iterations", "0", "--iterations" },
        { "--data", "/nonexistent/dir", "--data" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        char *argv[] = { (char *)TB_CLI_BIN, "profile-job", "--job", "EOD_SMALL", (char *)cases[i][0],
                         (char *)cases[i][1], NULL };
        if (!strcmp(cases[i][0], "--job"))
            argv[2] = "--iterations", argv[3] = "1";
        int rc = cli(argv, NULL, &out);
        cr_assert_eq(rc, 2, "%s %s: exit %d:\n%s", cases[i][0], cases[i][1], rc, out);
        cr_assert(strstr(out, cases[i][2]), "%s: message does not name it:\n%s", cases[i][0], out);
        free(out);
    }
    cr_assert_eq(one_int("SELECT count(*) FROM runs", NULL), 0, "nothing recorded");
}

Test(profile, perf_stores_function_hotspots_or_says_it_is_not_available)
{
    up("prof_perf");
    char *out;
    char *argv[] = { (char *)TB_CLI_BIN, "profile-job", "--job", "EOD_SMALL", "--data", "synthetic", "--profiler",
                     "perf", "--out", tmpdir, NULL };
    int rc = cli(argv, NULL, &out);
    if (strstr(out, "perf is not available:")) {
        cr_assert_eq(rc, 1, "%s", out);
        cr_assert_eq(one_int("SELECT count(*) FROM runs", NULL), 0);
        free(out);
        return;
    }
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert(strstr(out, "top-3 functions (perf"), "%s", out);
    free(out);
    cr_assert_eq(one_int("SELECT count(*) FROM runs WHERE params->>'profiler' = 'perf'", NULL), 1);
    cr_assert_geq(one_int("SELECT jsonb_array_length(hotspots) FROM run_iterations", NULL), 1);
    cr_assert_eq(one_int("SELECT count(*) FROM run_iterations, jsonb_array_elements(hotspots) h"
                         " WHERE (h->>'share')::float8 <= 0 OR (h->>'share')::float8 > 1 OR h->>'function' = ''",
                         NULL),
                 0);
    char raw[400];
    struct stat st;
    snprintf(raw, sizeof raw, "%s/EOD_SMALL.perf.data", tmpdir);
    cr_assert_eq(stat(raw, &st), 0, "the last raw profile is kept in --out");
}

/* ---- the tracking table ------------------------------------------------------------ */

/* A run with iterations; walls/cpus/rss per iteration, stage seconds per
 * iteration for load_data, simulate, render_artifacts; returns its id. */
static long long seed_run(const char *job, const char *phase, const char *params, int hours_ago, int n,
                          const double *walls, const double *load, const double *sim, const char *functions)
{
    char ago[16], iters[16];
    snprintf(ago, sizeof ago, "%d", hours_ago);
    snprintf(iters, sizeof iters, "%d", n);
    const char *p[] = { job, phase, params, ago, iters };
    long long id = api_sql_int(db,
                               "INSERT INTO runs (kind, job, status, phase, params, iterations, progress, created_at,"
                               " started_at, finished_at) VALUES ('run', $1, 'succeeded', $2, $3::jsonb, $5::int, 1,"
                               " now() - make_interval(hours => $4::int), now() - make_interval(hours => $4::int),"
                               " now() - make_interval(hours => $4::int) + interval '1 minute') RETURNING id",
                               5, p);
    for (int i = 0; i < n; i++) {
        char sid[24], it[16], wall[32], cpu[32], rss[32], stages[256];
        snprintf(sid, sizeof sid, "%lld", id);
        snprintf(it, sizeof it, "%d", i + 1);
        snprintf(wall, sizeof wall, "%.17g", walls[i]);
        snprintf(cpu, sizeof cpu, "%.17g", walls[i] / 2);
        snprintf(rss, sizeof rss, "%lld", (100LL + 10 * i) << 20);
        snprintf(stages, sizeof stages,
                 "[{\"name\":\"load_data\",\"wall_seconds\":%.17g},{\"name\":\"simulate\",\"wall_seconds\":%.17g},"
                 "{\"name\":\"metrics\",\"wall_seconds\":0.001},{\"name\":\"render_artifacts\",\"wall_seconds\":0.03}]",
                 load[i], sim[i]);
        const char *q[] = { sid, it, wall, cpu, rss, stages, functions };
        PQclear(api_sql(db,
                        "INSERT INTO run_iterations (run_id, iteration, wall_seconds, cpu_seconds, peak_rss_bytes,"
                        " stages, hotspots) VALUES ($1::bigint, $2::int, $3::float8, $4::float8, $5::bigint,"
                        " $6::jsonb, $7::jsonb)",
                        7, q));
    }
    return id;
}

static long long id_a, id_b, id_c, id_d;

/* A: BACKTEST_MEDIUM before (profile-job), medians wall 0.2, load 0.08, simulate 0.06;
 * B: BACKTEST_MEDIUM after (worker), wall 0.1, load 0.003, simulate 0.05;
 * C: EOD_SMALL before (worker); D: EOD_SMALL without phase, perf (profile-job). */
static void seed(void)
{
    static const double wa[] = { 0.30, 0.10, 0.20 }, la[] = { 0.07, 0.09, 0.08 }, sa[] = { 0.06, 0.06, 0.06 };
    static const double wb[] = { 0.10, 0.10 }, lb[] = { 0.003, 0.003 }, sb[] = { 0.05, 0.05 };
    static const double wc[] = { 0.05 }, lc[] = { 0.02 }, sc[] = { 0.01 };
    id_a = seed_run("BACKTEST_MEDIUM", "before",
                    "{\"profiler\":\"stages\",\"data\":\"/srv/data/ohlcv_1d\",\"origin\":\"profile-job\","
                    "\"command\":\"tradebench profile-job --job BACKTEST_MEDIUM --phase before\",\"notes\":\"seed A\","
                    "\"strategy\":\"trend_baseline\",\"universe\":200}",
                    4, 3, wa, la, sa, NULL);
    id_b = seed_run("BACKTEST_MEDIUM", "after", "{\"data\":\"default\",\"strategy\":\"trend_baseline\"}", 3, 2, wb,
                    lb, sb, NULL);
    id_c = seed_run("EOD_SMALL", "before", "{\"data\":\"synthetic\"}", 2, 1, wc, lc, sc, NULL);
    id_d = seed_run("EOD_SMALL", NULL, "{\"profiler\":\"perf\",\"data\":\"synthetic\",\"origin\":\"profile-job\"}", 1, 1,
                    wc, lc, sc,
                    "[{\"function\":\"simulate\",\"module\":\"tradebench\",\"share\":0.4},"
                    "{\"function\":\"nf_parse\",\"module\":\"tradebench\",\"share\":0.2}]");
}

static json_t *get_items(const char *path, size_t want)
{
    struct api_resp r;
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *doc = api_json(&r);
    api_resp_free(&r);
    json_t *items = json_incref(json_object_get(doc, "items"));
    json_decref(doc);
    cr_assert_eq(json_array_size(items), want, "%s: %zu items, want %zu", path, json_array_size(items), want);
    return items;
}

static double num(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

Test(profile, profiles_filters_by_job_and_phase_and_summarises_exactly)
{
    up("prof_api");
    seed();
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0);

    json_t *all = get_items("/profiles", 4);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 0), "run_id")), id_d, "newest first");
    json_decref(all);
    json_decref(get_items("/profiles?job=EOD_SMALL", 2));
    json_decref(get_items("/profiles?phase=after", 1));
    json_decref(get_items("/profiles?job=EOD_SMALL&phase=after", 0));
    json_decref(get_items("/profiles?limit=1", 1));

    json_t *items = get_items("/profiles?job=BACKTEST_MEDIUM&phase=before", 1);
    json_t *a = json_array_get(items, 0);
    cr_assert_eq(json_integer_value(json_object_get(a, "run_id")), id_a);
    cr_assert_str_eq(json_string_value(json_object_get(a, "phase")), "before");
    cr_assert_eq(json_integer_value(json_object_get(a, "iterations")), 3);
    cr_assert_float_eq(num(a, "median_wall_seconds"), 0.2, 1e-12);
    cr_assert_float_eq(num(a, "median_cpu_seconds"), 0.1, 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(a, "peak_rss_bytes")), 120LL << 20, "max over iterations");
    json_t *hot = json_object_get(a, "hotspots");
    cr_assert_eq(json_array_size(hot), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hot, 0), "name")), "load_data");
    cr_assert_float_eq(num(json_array_get(hot, 0), "wall_seconds"), 0.08, 1e-12);
    cr_assert_float_eq(num(json_array_get(hot, 0), "share"), 0.4, 1e-12);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hot, 1), "name")), "simulate");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hot, 2), "name")), "render_artifacts");
    cr_assert_str_eq(json_string_value(json_object_get(a, "profiler")), "stages");
    cr_assert_str_eq(json_string_value(json_object_get(a, "origin")), "profile-job");
    cr_assert_str_eq(json_string_value(json_object_get(a, "notes")), "seed A");
    cr_assert_str_eq(json_string_value(json_object_get(a, "data")), "/srv/data/ohlcv_1d");
    json_decref(items);

    items = get_items("/profiles?job=EOD_SMALL", 2);
    json_t *d = json_array_get(items, 0), *c = json_array_get(items, 1);
    cr_assert_str_eq(json_string_value(json_object_get(d, "profiler")), "perf");
    json_t *fn = json_object_get(d, "function_hotspots");
    cr_assert_eq(json_array_size(fn), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(fn, 0), "function")), "simulate");
    cr_assert_str_eq(json_string_value(json_object_get(c, "origin")), "worker", "worker runs count too");
    cr_assert_str_eq(json_string_value(json_object_get(c, "profiler")), "stages");
    cr_assert(json_is_null(json_object_get(c, "notes")));
    json_decref(items);

    struct api_resp r;
    api_call(&srv, "GET", "/profiles?job=NOPE", NULL, NULL, NULL, &r);
    api_expect_field_error(&r, "job");
    api_resp_free(&r);
    api_call(&srv, "GET", "/profiles?status=succeeded", NULL, NULL, NULL, &r);
    api_expect(&r, 400);
    api_resp_free(&r);
    api_call(&srv, "GET", "/profiles?limit=0", NULL, NULL, NULL, &r);
    api_expect_field_error(&r, "limit");
    api_resp_free(&r);
    cr_assert_eq(harness_server_stop(&srv), 0);
}

Test(profile, report_md_renders_the_tables_and_before_after)
{
    up("prof_md");
    seed();
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0);
    struct api_resp r;
    api_call(&srv, "GET", "/profiles/report.md", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strncmp(r.content_type, "text/markdown", 13) == 0, "%s", r.content_type);
    char row[128];
    cr_assert(strstr(r.body, "### Runtime Benchmarks"), "%s", r.body);
    cr_assert(strstr(r.body, "### Top-3 Hotspots"), "%s", r.body);
    cr_assert(strstr(r.body, "### Before/After"), "%s", r.body);
    cr_assert(strstr(r.body, "#### `before` → `after`"), "%s", r.body);
    snprintf(row, sizeof row, "| BACKTEST_MEDIUM | %lld → %lld | 200.0 ms → 100.0 ms | ×2.00 |", id_a, id_b);
    cr_assert(strstr(r.body, row), "no '%s' in:\n%s", row, r.body);
    cr_assert(strstr(r.body, "load_data 80.0 ms → 3.00 ms"), "%s", r.body);
    cr_assert(strstr(r.body, "simulate 40.0 % [tradebench]"), "%s", r.body);
    cr_assert(strstr(r.body, "| seed A |"), "%s", r.body);
    api_resp_free(&r);

    api_call(&srv, "GET", "/profiles/report.md?job=EOD_SMALL", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strstr(r.body, "EOD_SMALL") && !strstr(r.body, "BACKTEST_MEDIUM"), "%s", r.body);
    api_resp_free(&r);
    cr_assert_eq(harness_server_stop(&srv), 0);
}

Test(profile, update_doc_rewrites_only_between_the_markers_of_a_copy)
{
    up("prof_doc");
    seed();
    char doc[400];
    snprintf(doc, sizeof doc, "%s/PERFORMANCE.md", tmpdir);
    FILE *f = fopen(doc, "w");
    cr_assert_not_null(f);
    fputs("# Performance\n\nHand-written intro.\n\n<!-- profile-job:begin -->\nSTALE TABLE\n<!-- profile-job:end -->\n\n"
          "## Engine benchmark\n\nkept text\n",
          f);
    fclose(f);
    char *out;
    char *argv[] = { (char *)TB_CLI_BIN, "profile-job", "--update-doc", "--doc", doc, NULL };
    for (int pass = 0; pass < 2; pass++) { /* idempotent: one marked block after two passes */
        int rc = cli(argv, NULL, &out);
        cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
        free(out);
    }
    char *text = harness_slurp(doc);
    const char *head = "# Performance\n\nHand-written intro.\n\n<!-- profile-job:begin -->\n";
    cr_assert(strncmp(text, head, strlen(head)) == 0, "%s", text);
    cr_assert(strstr(text, "<!-- profile-job:end -->\n\n## Engine benchmark\n\nkept text\n"), "%s", text);
    cr_assert_null(strstr(text, "STALE TABLE"));
    cr_assert_null(strstr(strstr(text, "profile-job:begin") + 1, "profile-job:begin"), "one block");
    cr_assert(strstr(text, "### The three standard runs"), "%s", text);
    cr_assert(strstr(text, "`tradebench profile-job --job BACKTEST_MEDIUM --phase before`"), "%s", text);
    cr_assert(strstr(text, "### Runtime Benchmarks"));
    cr_assert(strstr(text, "### Top-3 Hotspots"));
    cr_assert(strstr(text, "×2.00"), "%s", text);
    free(text);

    /* A doc without markers gets the block appended. */
    f = fopen(doc, "w");
    fputs("# Bare\n", f);
    fclose(f);
    int rc = cli(argv, NULL, &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    text = harness_slurp(doc);
    const char *bare = "# Bare\n\n<!-- profile-job:begin -->\n";
    cr_assert(strncmp(text, bare, strlen(bare)) == 0, "%s", text);
    cr_assert(strstr(text, "<!-- profile-job:end -->\n"));
    free(text);
}

Test(profile, worker_runs_with_iterations_and_a_phase_appear)
{
    up("prof_worker");
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0);
    char wlog[400], dburl[1100];
    snprintf(wlog, sizeof wlog, "%s/worker.log", tmpdir);
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", getenv("TB_TEST_DATABASE_URL"));
    const char *env[] = { dburl, "TB_DATA=", "TB_LOG_LEVEL=info", NULL };
    char *wargv[] = { (char *)TB_WORKER_BIN, NULL };
    worker = harness_spawn(TB_WORKER_BIN, wargv, env, wlog);
    cr_assert_gt(worker, 0);

    struct api_resp r;
    api_call(&srv, "POST", "/runs",
             "{\"job\":\"EOD_SMALL\",\"iterations\":2,\"phase\":\"after\",\"overrides\":{\"data\":\"synthetic\"}}", NULL,
             NULL, &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", id);
    for (int i = 0; i < 1500; i++) { /* up to 60 s under the sanitizers */
        const char *p[] = { sid };
        PGresult *s = api_sql(db, "SELECT status FROM runs WHERE id = $1::bigint", 1, p);
        int done = strcmp(PQgetvalue(s, 0, 0), "succeeded") == 0 || strcmp(PQgetvalue(s, 0, 0), "failed") == 0;
        PQclear(s);
        if (done)
            break;
        struct timespec ts = { 0, 40 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    json_t *items = get_items("/profiles?phase=after", 1);
    json_t *w = json_array_get(items, 0);
    cr_assert_eq(json_integer_value(json_object_get(w, "run_id")), id);
    cr_assert_str_eq(json_string_value(json_object_get(w, "status")), "succeeded");
    cr_assert_eq(json_integer_value(json_object_get(w, "iterations")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(w, "origin")), "worker");
    cr_assert_gt(num(w, "median_wall_seconds"), 0);
    cr_assert_gt(json_integer_value(json_object_get(w, "peak_rss_bytes")), 1 << 20);
    cr_assert_eq(json_array_size(json_object_get(w, "hotspots")), 3);
    json_decref(items);

    kill(worker, SIGTERM);
    cr_assert_eq(harness_wait(worker, 20000), 0);
    worker = 0;
    cr_assert_eq(harness_server_stop(&srv), 0);
}
