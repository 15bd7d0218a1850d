/*
 * test_api_client — helpers shared by the test_api*.c integration tests
 * (header-only: every function is static inline, so each test binary takes
 * what it uses). A libcurl call that captures the headers the API tests
 * look at (Location, Content-Disposition, Idempotent-Replayed, ...) and the
 * total time; a private schema per test process (PGOPTIONS search_path,
 * inherited by the server and worker it starts) and a libpq connection in
 * it for seeding and checking rows.
 */
#ifndef TB_TEST_API_CLIENT_H
#define TB_TEST_API_CLIENT_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <signal.h>
#include <time.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

struct api_resp {
    long status;                 /* 0 when the transfer failed */
    char *body;                  /* NUL-terminated (free with api_resp_free) */
    size_t len;
    char content_type[128];
    char disposition[256];       /* Content-Disposition */
    char location[256];
    char replayed[16];           /* Idempotent-Replayed */
    char retry_after[16];
    char transfer_encoding[32];
    double seconds;              /* libcurl's total time */
    char error[256];
};

static inline size_t api_write_cb(char *data, size_t size, size_t n, void *ud)
{
    struct api_resp *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, data, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static inline void api_header_copy(CURL *c, const char *name, char *out, size_t n)
{
    struct curl_header *h = NULL;
    out[0] = '\0';
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
        snprintf(out, n, "%s", h->value);
}

/* One request. body (JSON text) may be NULL; h1/h2 are optional raw header
 * lines ("Accept: text/csv"). Asserts nothing about the answer. */
static inline void api_call(const struct tb_server *s, const char *method, const char *path,
                            const char *body, const char *h1, const char *h2, struct api_resp *r)
{
    char url[1024];
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();
    memset(r, 0, sizeof *r);
    cr_assert_not_null(c);
    snprintf(url, sizeof url, "%s%s", s->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "../" as written */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        hl = curl_slist_append(hl, "Content-Type: application/json");
    }
    hl = curl_slist_append(hl, "Expect:");
    if (h1)
        hl = curl_slist_append(hl, h1);
    if (h2)
        hl = curl_slist_append(hl, h2);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
        snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
        api_header_copy(c, "Content-Disposition", r->disposition, sizeof r->disposition);
        api_header_copy(c, "Location", r->location, sizeof r->location);
        api_header_copy(c, "Idempotent-Replayed", r->replayed, sizeof r->replayed);
        api_header_copy(c, "Retry-After", r->retry_after, sizeof r->retry_after);
        api_header_copy(c, "Transfer-Encoding", r->transfer_encoding, sizeof r->transfer_encoding);
    } else {
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
    }
    if (!r->body)
        r->body = calloc(1, 1);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static inline void api_resp_free(struct api_resp *r)
{
    free(r->body);
    r->body = NULL;
}

static inline json_t *api_json(const struct api_resp *r)
{
    json_error_t e;
    json_t *doc = json_loadb(r->body, r->len, 0, &e);
    cr_assert_not_null(doc, "not JSON (%s): %.300s", e.text, r->body);
    return doc;
}

/* Assert the status; on mismatch show the body. */
#define api_expect(r, want)                                                                    \
    cr_assert_eq((r)->status, (want), "status %ld, want %d (%s): %.600s", (r)->status, (want), \
                 (r)->error, (r)->body ? (r)->body : "")

/* Assert a 400 validation problem whose errors[] names `field`. */
static inline void api_expect_field_error(const struct api_resp *r, const char *field)
{
    cr_assert_eq(r->status, 400, "status %ld, want 400 naming %s: %.400s", r->status, field,
                 r->body);
    cr_assert_str_eq(r->content_type, "application/problem+json");
    json_t *doc = api_json(r);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "urn:tradebench:problem:validation-failed");
    json_t *errs = json_object_get(doc, "errors"), *e;
    size_t i;
    int found = 0;
    json_array_foreach(errs, i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        cr_assert_not_null(f);
        cr_assert_not_null(json_string_value(json_object_get(e, "message")));
        if (strcmp(f, field) == 0)
            found = 1;
    }
    cr_assert(found, "errors[] does not name %s: %.400s", field, r->body);
    json_decref(doc);
}

/* Assert problem+json with status and type code. */
static inline void api_expect_problem(const struct api_resp *r, long status, const char *code)
{
    char type[128];
    cr_assert_eq(r->status, status, "status %ld, want %ld: %.400s", r->status, status, r->body);
    cr_assert_str_eq(r->content_type, "application/problem+json");
    json_t *doc = api_json(r);
    snprintf(type, sizeof type, "urn:tradebench:problem:%s", code);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), type);
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), status);
    cr_assert(json_is_string(json_object_get(doc, "title")));
    cr_assert(json_is_string(json_object_get(doc, "detail")));
    json_decref(doc);
}

/* ---- database ------------------------------------------------------------- */

/* A connection to the test database (in the test's schema once
 * api_schema_enter() has run: it sets PGOPTIONS). */
static inline PGconn *api_db(void)
{
    const char *url = harness_db_url_or_skip();
    PGconn *db = PQconnectdb(url);
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    PGresult *r = PQexec(db, "SET client_min_messages = warning");
    PQclear(r);
    return db;
}

/* The test process's own schema, "tbtest_<tag>_<pid>": created empty, and
 * PGOPTIONS set so that every connection made from now on — this process's,
 * and the server's, worker's and CLI's it starts, which inherit the
 * environment — uses it (the server applies the migrations into it). Runs
 * of parallel tests, of other test binaries and of any worker outside the
 * schema never meet. Returns a connection inside the schema. */
static inline PGconn *api_schema_enter(const char *tag, char *schema, size_t n)
{
    char sql[256], opts[128];
    PGconn *db = api_db();
    snprintf(schema, n, "tbtest_%s_%ld", tag, (long)getpid());
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
             schema);
    PGresult *r = PQexec(db, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    snprintf(opts, sizeof opts, "-c search_path=%s", schema);
    setenv("PGOPTIONS", opts, 1);
    PQfinish(db);
    return api_db();
}

/* Drop the schema (and everything in it); closes db. Safe to call twice. */
static inline void api_schema_leave(PGconn *db, const char *schema)
{
    char sql[128];
    if (!db)
        return;
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "dropping %s: %s", schema, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(db);
    unsetenv("PGOPTIONS");
}

/* PQexecParams (text) that must succeed; caller PQclear()s. */
static inline PGresult *api_sql(PGconn *db, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    return r;
}

/* A single integer result (count(*), id, ...). */
static inline long long api_sql_int(PGconn *db, const char *sql, int n, const char *const *params)
{
    PGresult *r = api_sql(db, sql, n, params);
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* The id of the run in a 200/202 body. */
static inline long long api_run_id(const struct api_resp *r)
{
    json_t *doc = api_json(r);
    long long id = json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    cr_assert_gt(id, 0, "no id in %.300s", r->body);
    return id;
}

/* Whatever a test left (also after a failed assertion): SIGKILL the worker
 * (*worker > 0), kill the server, drop the schema (*db closed and cleared),
 * remove the scratch directory dir ("" when none). For a suite's .fini. */
static inline void api_teardown(pid_t *worker, struct tb_server *srv, PGconn **db, const char *schema,
                                const char *dir)
{
    if (*worker > 0) {
        kill(*worker, SIGKILL);
        harness_wait(*worker, 5000);
        *worker = 0;
    }
    harness_server_kill(srv);
    api_schema_leave(*db, schema);
    *db = NULL;
    if (dir[0]) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

#ifdef TB_WORKER_BIN
/* ---- a whole stack per test: private schema, server, optional worker ---- */

struct api_stack {
    struct tb_server srv;        /* the real tradebench-server */
    PGconn *db;                  /* in the private schema */
    pid_t worker;                /* tradebench-worker, 0 when none */
    char schema[64];
    char worker_log[256];
    char outdir[256];            /* scratch directory, removed by api_stack_fini */
};

static inline double api_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Enter a private schema tagged `tag`, start the server and, when
 * worker_env is not NULL, a worker with TB_DATABASE_URL, TB_LOG_LEVEL=info,
 * TB_DATA= and the given extra variables (NULL-terminated, at most 8).
 * outdir is named but not created. */
static inline void api_stack_up(struct api_stack *st, const char *tag, const char *const *worker_env)
{
    const char *url = harness_db_url_or_skip();
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    st->db = api_schema_enter(tag, st->schema, sizeof st->schema);
    cr_assert_eq(harness_server_start(&st->srv, NULL, NULL), 0, "tradebench-server did not start");
    snprintf(st->outdir, sizeof st->outdir, "%s/tb-it-%s-%ld", tmp, tag, (long)getpid());
    if (!worker_env)
        return;
    snprintf(st->worker_log, sizeof st->worker_log, "%s/tb-it-%s-worker-%ld.log", tmp, tag, (long)getpid());
    char dburl[1024];
    snprintf(dburl, sizeof dburl, "TB_DATABASE_URL=%s", url);
    const char *env[12] = { dburl, "TB_LOG_LEVEL=info", "TB_DATA=" };
    size_t n = 3;
    for (size_t i = 0; worker_env[i] && n < 11; i++)
        env[n++] = worker_env[i];
    env[n] = NULL;
    char *argv[] = { (char *)TB_WORKER_BIN, NULL };
    st->worker = harness_spawn(TB_WORKER_BIN, argv, env, st->worker_log);
    cr_assert_gt(st->worker, 0);
}

/* Stop what api_stack_up started: SIGTERM to the worker (exit 0 expected,
 * its log printed otherwise) and to the server (exit 0 expected). */
static inline void api_stack_down(struct api_stack *st)
{
    if (st->worker > 0) {
        kill(st->worker, SIGTERM);
        int wrc = harness_wait(st->worker, 20000);
        st->worker = 0;
        if (wrc != 0) {
            char *log = harness_slurp(st->worker_log);
            fprintf(stderr, "---- worker log ----\n%s\n", log ? log : "");
            free(log);
        }
        cr_assert_eq(wrc, 0, "tradebench-worker exit status %d after SIGTERM", wrc);
        unlink(st->worker_log);
    }
    int rc = harness_server_stop(&st->srv);
    cr_assert_eq(rc, 0, "tradebench-server exit status %d", rc);
}

/* Poll GET <collection>/<id> ("/runs" or "/backtests") every 20 ms until
 * the run's status is final (succeeded, failed, cancelled) or is `until`
 * (may be NULL); returns that answer (caller json_decref()s). Every answer
 * must be 200 with a progress in [0, 1]; *saw_running (may be NULL) is set
 * when one said "running". After timeout_s the test fails with the stack's
 * worker log, on_timeout (may be NULL) called first (more logs, say). */
static inline json_t *api_poll_run(struct api_stack *st, const char *collection, long long id, const char *until,
                                   double timeout_s, int *saw_running, void (*on_timeout)(void))
{
    char path[64];
    double t0 = api_now_s();
    snprintf(path, sizeof path, "%s/%lld", collection, id);
    for (;;) {
        struct api_resp r;
        api_call(&st->srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        json_t *run = api_json(&r);
        api_resp_free(&r);
        const char *status = json_string_value(json_object_get(run, "status"));
        double progress = json_real_value(json_object_get(run, "progress"));
        cr_assert(progress >= 0 && progress <= 1);
        if (saw_running && !strcmp(status, "running"))
            *saw_running = 1;
        if ((until && !strcmp(status, until)) || !strcmp(status, "succeeded") || !strcmp(status, "failed") ||
            !strcmp(status, "cancelled"))
            return run;
        if (api_now_s() - t0 > timeout_s) {
            if (on_timeout)
                on_timeout();
            char *log = harness_slurp(st->worker_log);
            cr_assert_fail("run %lld still %s after %.0f s; worker log:\n%s", id, status, timeout_s,
                           log ? log : "");
        }
        json_decref(run);
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* api_teardown of a stack. */
static inline void api_stack_fini(struct api_stack *st)
{
    api_teardown(&st->worker, &st->srv, &st->db, st->schema, st->outdir);
}

/* Run the command line (argv NULL-terminated, argv[0] the binary; TB_DATA
 * unset, so "synthetic" and --data are what the arguments say) with its
 * output in a log beside the stack's scratch directory; it must exit 0
 * within timeout_ms. */
static inline void api_stack_cli(const struct api_stack *st, char *const argv[], int timeout_ms)
{
    char log[300];
    snprintf(log, sizeof log, "%s.cli.log", st->outdir);
    const char *env[] = { "TB_DATA=", NULL };
    pid_t pid = harness_spawn(argv[0], argv, env, log);
    int rc = harness_wait(pid, timeout_ms);
    char *text = harness_slurp(log);
    cr_assert_eq(rc, 0, "tradebench exit %d: %s", rc, text ? text : "");
    free(text);
    unlink(log);
}

#endif /* TB_WORKER_BIN */

/* GET path; the body must equal the file's bytes (the first difference is
 * shown). For "over HTTP = on the command line" checks. */
static inline void api_same_as_file(const struct tb_server *s, const char *path, const char *file)
{
    struct api_resp r;
    char *want = harness_slurp(file);
    cr_assert_not_null(want, "%s missing", file);
    api_call(s, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    size_t n = strlen(want);
    if (r.len != n || memcmp(r.body, want, n) != 0) {
        size_t i = 0;
        while (i < n && i < r.len && r.body[i] == want[i])
            i++;
        cr_assert_fail("%s != %s (%zu vs %zu bytes), first difference at byte %zu: '%.60s' vs '%.60s'", path,
                       file, r.len, n, i, r.body + (i < r.len ? i : r.len), want + i);
    }
    free(want);
    api_resp_free(&r);
}
#endif
