/*
 * runs — /runs handlers. Validation of what a run asks for is the engine's
 * (jobspec_from_run_json); the queue write is enqueue.c's; the JSON shape
 * of a run is runview.c's. What is left here: list filters and keyset
 * pagination over (created_at, id), the cancel state machine (queued ->
 * cancelled at once; running -> cancel_requested + NOTIFY tb_cancel, the
 * worker stops it; finished -> 409), and the profile summary (median wall
 * time, max peak RSS, top-3 stages by median wall time = hotspots).
 */
#include "runs.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbx.h"
#include "enqueue.h"
#include "jobspec.h"
#include "models.h"
#include "pagination.h"
#include "params.h"
#include "runview.h"
#include "server/mem.h"

static const char RUNS_SQL_GET[] = "SELECT " RUNVIEW_COLS " FROM runs r WHERE r.id = $1::bigint";

/* Newest first; NULL filters match everything; $5/$6 is the keyset cursor. */
static const char RUNS_SQL_LIST[] =
    "SELECT " RUNVIEW_COLS " FROM runs r "
    "WHERE ($1::text IS NULL OR r.job = $1::text) AND ($2::text IS NULL OR r.status = $2::text) "
    "AND ($3::text IS NULL OR r.kind = $3::text) AND ($4::text IS NULL OR r.phase = $4::text) "
    "AND ($5::timestamptz IS NULL OR (r.created_at, r.id) < ($5::timestamptz, $6::bigint)) "
    "ORDER BY r.created_at DESC, r.id DESC LIMIT $7::int";

static const char RUNS_SQL_CANCEL_QUEUED[] =
    "UPDATE runs r SET status = 'cancelled', finished_at = now(), stage = NULL "
    "WHERE r.id = $1::bigint AND r.status = 'queued' RETURNING " RUNVIEW_COLS;

static const char RUNS_SQL_CANCEL_RUNNING[] =
    "UPDATE runs r SET cancel_requested = true "
    "WHERE r.id = $1::bigint AND r.status = 'running' RETURNING " RUNVIEW_COLS;

static const char RUNS_SQL_NOTIFY_CANCEL[] = "SELECT pg_notify('tb_cancel', $1)";

static const char RUNS_SQL_STATUS[] = "SELECT r.status FROM runs r WHERE r.id = $1::bigint";

/* One row per iteration (a single row of NULLs when there is none yet). */
static const char RUNS_SQL_PROFILE[] =
    "SELECT r.status, r.iterations, i.iteration, i.wall_seconds, i.cpu_seconds, "
    "i.peak_rss_bytes, i.stages::text, " RUNVIEW_TS("i.started_at") ", "
    RUNVIEW_TS("i.finished_at") " "
    "FROM runs r LEFT JOIN run_iterations i ON i.run_id = r.id "
    "WHERE r.id = $1::bigint ORDER BY i.iteration";

static const char *const RUNS_JOBS[] = { "EOD_SMALL", "BACKTEST_MEDIUM", "ML_JOB", NULL };
static const char *const RUNS_STATUSES[] = { "queued", "running", "succeeded", "failed",
                                             "cancelled", NULL };
static const char *const RUNS_KINDS[] = { "run", "backtest", "model", "sweep", NULL };

/* ---- POST /runs ------------------------------------------------------------ */

void api_runs_post(const struct http_request *req, struct http_reply *rep)
{
    tb_jobspec spec;
    js_errors errs;
    int iterations = 1;
    const char *phase = NULL;

    if (jobspec_from_run_json(req->body, &spec, &iterations, &phase, &errs) < 0) {
        params_reply_js_errors(rep, &errs);
        return;
    }
    if (enqueue_check_universe(&spec, "overrides.", rep) < 0 ||
        models_check_meta_filter(req, rep, &spec, "overrides.") < 0)
        goto out;
    struct enqueue_spec es = { "run", jobspec_job_name(spec.job), spec.normalized, iterations,
                               phase };
    enqueue_run(req, rep, &es);
out:
    jobspec_free(&spec);
}

/* ---- GET /runs ----------------------------------------------------------------- */

/* µs since the epoch -> "YYYY-MM-DD HH:MM:SS.ffffff+00" (exact, for $5). */
static void runs_us_to_text(int64_t us, char *out, size_t n)
{
    int64_t s = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d.%06" PRId64 "+00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void api_runs_list(const struct http_request *req, struct http_reply *rep)
{
    static const char *const known[] = { "job", "status", "kind", "phase", "limit", "cursor",
                                         NULL };
    const char *job, *status, *kind, *phase, *cursor = http_query(req, "cursor");
    int limit;
    int64_t cur_us = 0, cur_id = 0;
    char ts[48], id[24], lim[16], next[PAGE_CURSOR_MAX];

    if (params_query_known(req, rep, known) < 0 ||
        params_enum(req, rep, "job", RUNS_JOBS, &job) < 0 ||
        params_enum(req, rep, "status", RUNS_STATUSES, &status) < 0 ||
        params_enum(req, rep, "kind", RUNS_KINDS, &kind) < 0 ||
        params_string(req, rep, "phase", 64, &phase) < 0 ||
        params_limit(req, rep, RUNS_LIST_DEFAULT_LIMIT, RUNS_LIST_MAX_LIMIT, &limit) < 0)
        return;
    if (cursor && page_cursor_decode(PAGE_RUNS, cursor, &cur_us, &cur_id) < 0) {
        params_reply_invalid(rep, "cursor", "is not a cursor of this list (use next_cursor "
                                            "from the previous page as-is)");
        return;
    }
    runs_us_to_text(cur_us, ts, sizeof ts);
    snprintf(id, sizeof id, "%" PRId64, cur_id);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *args[7] = { job, status, kind, phase, cursor ? ts : NULL, cursor ? id : NULL,
                            lim };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read(&conn, rep, RUNS_SQL_LIST, 7, args, DBX_TEXT);
    if (!res)
        return;
    int n = PQntuples(res), shown = n > limit ? limit : n;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++)
        json_array_append_new(items, runview_json(res, i));
    json_t *doc = json_pack("{s:o}", "items", items);
    if (n > limit) {
        page_cursor_encode(PAGE_RUNS,
                           strtoll(PQgetvalue(res, shown - 1, RUNVIEW_C_CREATED_US), NULL, 10),
                           strtoll(PQgetvalue(res, shown - 1, RUNVIEW_C_ID), NULL, 10), next);
        json_object_set_new(doc, "next_cursor", json_string(next));
    } else {
        json_object_set_new(doc, "next_cursor", json_null());
    }
    PQclear(res);
    http_reply_json_take(rep, 200, doc);
    http_reply_header(rep, "Cache-Control", "no-store");
}

/* ---- GET /runs/{id} -------------------------------------------------------------- */

void api_runs_get(const struct http_request *req, struct http_reply *rep)
{
    char id[24];
    PGresult *res = dbx_read_by_id(req, rep, RUNS_SQL_GET, "run", id);
    if (!res)
        return;
    http_reply_json_take(rep, 200, runview_json(res, 0));
    http_reply_header(rep, "Cache-Control", "no-store");
    PQclear(res);
}

/* ---- POST /runs/{id}/cancel -------------------------------------------------------- */

void api_runs_cancel(const struct http_request *req, struct http_reply *rep)
{
    int64_t run_id;
    char id[24];
    PGresult *res = NULL;
    if (params_id(req, rep, "id", &run_id) < 0)
        return;
    snprintf(id, sizeof id, "%" PRId64, run_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn || dbx_begin(conn, rep) < 0)
        return;
    /* Queued: nobody runs it, cancel it here. */
    res = dbx_tx_exec(conn, rep, RUNS_SQL_CANCEL_QUEUED, 1, args, PGRES_TUPLES_OK);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        /* Running: ask its worker (it kills the child and marks it cancelled). */
        PQclear(res);
        res = dbx_tx_exec(conn, rep, RUNS_SQL_CANCEL_RUNNING, 1, args, PGRES_TUPLES_OK);
        if (!res)
            return;
        if (PQntuples(res) == 1) {
            PGresult *n = dbx_tx_exec(conn, rep, RUNS_SQL_NOTIFY_CANCEL, 1, args,
                                      PGRES_TUPLES_OK);
            if (!n)
                goto out;
            PQclear(n);
        }
    }
    if (PQntuples(res) == 1) {
        if (dbx_commit(conn, rep) == 0) {
            http_reply_json_take(rep, 202, runview_json(res, 0));
            http_reply_header(rep, "Cache-Control", "no-store");
        }
        goto out;
    }
    PQclear(res);
    res = dbx_tx_exec(conn, rep, RUNS_SQL_STATUS, 1, args, PGRES_TUPLES_OK);
    if (!res)
        return;
    dbx_rollback(conn);
    if (PQntuples(res) == 0)
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no run with id %s", id);
    else
        http_reply_error(rep, PROBLEM_CONFLICT, "run %s has already finished (status %s)", id,
                         PQgetvalue(res, 0, 0));
out:
    PQclear(res);
}

/* ---- GET /runs/{id}/profile ---------------------------------------------------------- */

static int runs_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v); NaN when n == 0. */
static double runs_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, runs_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static json_t *runs_num_or_null(double x)
{
    return isnan(x) ? json_null() : json_real(x);
}

/* A stage name and its wall time in each iteration that ran it. */
struct runs_stage {
    const char *name;            /* borrowed from the parsed stages JSON */
    double *walls;               /* one entry per iteration that has the stage */
    size_t n;
    double median;
};

struct runs_stage_set {
    struct runs_stage *s;
    size_t n, cap, iters;        /* iters: rows seen, bounds each walls[] */
};

/* Add wall seconds of `name` in iteration `it` (summed within an iteration). */
static void runs_stage_add(struct runs_stage_set *set, const char *name, double wall, size_t it)
{
    struct runs_stage *st = NULL;
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->s[i].name, name) == 0)
            st = &set->s[i];
    }
    if (!st) {
        if (set->n == set->cap) {
            set->cap = set->cap ? set->cap * 2 : 16;
            set->s = mem_realloc(set->s, set->cap * sizeof *set->s);
        }
        st = &set->s[set->n++];
        st->name = name;
        st->walls = mem_zalloc(set->iters * sizeof *st->walls);
        st->n = 0;
        for (size_t k = 0; k < set->iters; k++)
            st->walls[k] = NAN;
    }
    st->walls[it] = isnan(st->walls[it]) ? wall : st->walls[it] + wall;
}

static int runs_cmp_stage_desc(const void *a, const void *b)
{
    double x = (*(const struct runs_stage *const *)a)->median;
    double y = (*(const struct runs_stage *const *)b)->median;
    return x < y ? 1 : x > y ? -1 : 0;
}

void api_runs_profile(const struct http_request *req, struct http_reply *rep)
{
    char id[24];
    PGresult *res = dbx_read_by_id(req, rep, RUNS_SQL_PROFILE, "run", id);
    if (!res)
        return;
    size_t rows = PQgetisnull(res, 0, 2) ? 0 : (size_t)PQntuples(res);
    double *wall = mem_alloc((rows ? rows : 1) * sizeof *wall);
    double *cpu = mem_alloc((rows ? rows : 1) * sizeof *cpu);
    json_t **stage_docs = mem_zalloc((rows ? rows : 1) * sizeof *stage_docs);
    struct runs_stage_set set = { NULL, 0, 0, rows };
    long long max_rss = -1;
    double wmin = NAN, wmax = NAN;
    json_t *iters = json_array();

    for (size_t i = 0; i < rows; i++) {
        int r = (int)i;
        wall[i] = strtod(PQgetvalue(res, r, 3), NULL);
        cpu[i] = strtod(PQgetvalue(res, r, 4), NULL);
        long long rss = strtoll(PQgetvalue(res, r, 5), NULL, 10);
        if (rss > max_rss)
            max_rss = rss;
        if (isnan(wmin) || wall[i] < wmin)
            wmin = wall[i];
        if (isnan(wmax) || wall[i] > wmax)
            wmax = wall[i];
        json_t *stages = json_loads(PQgetvalue(res, r, 6), 0, NULL);
        if (!json_is_array(stages)) {
            json_decref(stages);
            stages = json_array();
        }
        stage_docs[i] = stages;
        size_t k;
        json_t *st;
        json_array_foreach(stages, k, st) {
            const char *name = json_string_value(json_object_get(st, "name"));
            json_t *w = json_object_get(st, "wall_seconds");
            if (name && json_is_number(w))
                runs_stage_add(&set, name, json_number_value(w), i);
        }
        json_array_append_new(
            iters, json_pack("{s:i, s:f, s:f, s:I, s:O, s:o, s:o}", "iteration",
                             atoi(PQgetvalue(res, r, 2)), "wall_seconds", wall[i],
                             "cpu_seconds", cpu[i], "peak_rss_bytes", (json_int_t)rss, "stages",
                             stages, "started_at",
                             PQgetisnull(res, r, 7) ? json_null()
                                                    : json_string(PQgetvalue(res, r, 7)),
                             "finished_at",
                             PQgetisnull(res, r, 8) ? json_null()
                                                    : json_string(PQgetvalue(res, r, 8))));
    }
    double med_wall = runs_median(wall, rows), med_cpu = runs_median(cpu, rows);

    /* Per stage: median over the iterations that ran it; hotspots = top 3. */
    struct runs_stage **order = mem_alloc((set.n ? set.n : 1) * sizeof *order);
    json_t *stages_json = json_array();
    for (size_t i = 0; i < set.n; i++) {
        struct runs_stage *st = &set.s[i];
        size_t m = 0;
        for (size_t k = 0; k < rows; k++) {
            if (!isnan(st->walls[k]))
                st->walls[m++] = st->walls[k];
        }
        st->median = runs_median(st->walls, m);
        order[i] = st;
        json_array_append_new(stages_json,
                              json_pack("{s:s, s:f, s:i}", "name", st->name,
                                        "median_wall_seconds", st->median, "iterations", (int)m));
    }
    qsort(order, set.n, sizeof *order, runs_cmp_stage_desc);
    json_t *hot = json_array();
    for (size_t i = 0; i < set.n && i < 3; i++) {
        json_array_append_new(
            hot, json_pack("{s:s, s:f, s:o}", "name", order[i]->name, "wall_seconds",
                           order[i]->median, "share",
                           med_wall > 0 ? json_real(order[i]->median / med_wall) : json_null()));
    }
    json_t *summary = json_pack(
        "{s:i, s:o, s:o, s:o, s:o, s:o}", "iterations_recorded", (int)rows,
        "median_wall_seconds", runs_num_or_null(med_wall), "min_wall_seconds",
        runs_num_or_null(wmin), "max_wall_seconds", runs_num_or_null(wmax),
        "median_cpu_seconds", runs_num_or_null(med_cpu), "max_peak_rss_bytes",
        max_rss >= 0 ? json_integer((json_int_t)max_rss) : json_null());
    json_t *doc = json_pack("{s:I, s:s, s:i, s:o, s:o, s:o, s:o}", "run_id",
                            (json_int_t)strtoll(id, NULL, 10), "status", PQgetvalue(res, 0, 0),
                            "iterations_requested", atoi(PQgetvalue(res, 0, 1)), "iterations",
                            iters, "summary", summary, "stages", stages_json, "hotspots", hot);
    http_reply_json_take(rep, 200, doc);
    http_reply_header(rep, "Cache-Control", "no-store");

    for (size_t i = 0; i < set.n; i++)
        free(set.s[i].walls);
    free(set.s);
    free(order);
    for (size_t i = 0; i < rows; i++)
        json_decref(stage_docs[i]);
    free(stage_docs);
    free(wall);
    free(cpu);
    PQclear(res);
}
