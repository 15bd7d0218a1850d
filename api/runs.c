/*
 * runs — /runs handlers. Validation of what a run asks for is the engine's
 * (jobspec_from_run_json); the queue write is enqueue.c's; the JSON shape
 * of a run is runview.c's. What is left here: list filters and keyset
 * pagination over (created_at, id), the cancel state machine (queued ->
 * cancelled at once; running -> cancel_requested + NOTIFY tb_cancel, the
 * worker stops it; finished -> 409; a split sweep -> cancelled at once with
 * its queued chunks, its running chunks asked to stop), and the profile
 * summary (median wall time, max peak RSS, top-3 stages by median wall
 * time = hotspots). Lists leave out sweep chunks unless kind=sweep_chunk.
 */
#include "runs.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
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
#include "proftrack.h"
#include "runview.h"
#include "server/mem.h"

static const char RUNS_SQL_GET[] = "SELECT " RUNVIEW_COLS " FROM runs r WHERE r.id = $1::bigint";

/* GET /runs: newest first over (created_at, id), the filters that are given
 * (without a kind filter, sweep chunks are left out: their sweep stands for
 * them) and the keyset cursor. One statement text per filter shape (which of job,
 * status, kind, phase and cursor are present: 32 shapes), each prepared on
 * first use, so that every shape gets a plan of its own that uses the
 * matching (column, created_at DESC, id DESC) index, and later calls skip
 * parsing and planning. Values are always parameters ($1..), never text. */
#define RUNS_LIST_SHAPES 32
#define RUNS_LIST_SQL_MAX 1400
static char runs_list_sql[RUNS_LIST_SHAPES][RUNS_LIST_SQL_MAX];
static pthread_once_t runs_list_once = PTHREAD_ONCE_INIT;
static const char *const RUNS_LIST_FILTER_COLS[4] = { "job", "status", "kind", "phase" };

/* The page's keys; the items come from the cache or RUNS_SQL_LIST_ITEMS. */
#define RUNS_LIST_KEYS_SELECT                                                               \
    "SELECT r.id, (extract(epoch FROM r.created_at) * 1000000)::bigint, "                  \
    "r.status IN ('succeeded', 'failed', 'cancelled') FROM runs r WHERE true"

/* The items the cache does not have, by id ($1 = '{id,id,...}'). */
static const char RUNS_SQL_LIST_ITEMS[] =
    "SELECT " RUNVIEW_LIST_COLS " FROM runs r WHERE r.id = ANY($1::bigint[])";

static void runs_list_build(void)
{
    for (int shape = 0; shape < RUNS_LIST_SHAPES; shape++) {
        char *q = runs_list_sql[shape];
        size_t len = (size_t)snprintf(q, RUNS_LIST_SQL_MAX, "%s", RUNS_LIST_KEYS_SELECT);
        int p = 1;
        for (int f = 0; f < 4; f++) {
            if (shape & (1 << f))
                len += (size_t)snprintf(q + len, RUNS_LIST_SQL_MAX - len, " AND r.%s = $%d::text",
                                        RUNS_LIST_FILTER_COLS[f], p++);
        }
        if (!(shape & 4)) /* no kind filter */
            len += (size_t)snprintf(q + len, RUNS_LIST_SQL_MAX - len, " AND r.kind <> 'sweep_chunk'");
        if (shape & 16) {
            len += (size_t)snprintf(q + len, RUNS_LIST_SQL_MAX - len,
                                    " AND (r.created_at, r.id) < ($%d::timestamptz, $%d::bigint)",
                                    p, p + 1);
            p += 2;
        }
        len += (size_t)snprintf(q + len, RUNS_LIST_SQL_MAX - len,
                                " ORDER BY r.created_at DESC, r.id DESC LIMIT $%d::int", p);
        if (len >= RUNS_LIST_SQL_MAX)
            abort(); /* cannot happen: the texts are fixed */
    }
}

/* A growing byte buffer for the page text. */
struct runs_buf {
    char *p;
    size_t len, cap;
};

static void runs_buf_add(struct runs_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 65536;
        b->p = mem_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* ---- rendered list items of finished runs ------------------------------------
 * A run that has succeeded, failed or been cancelled never changes again
 * (every UPDATE of runs requires status queued or running), so its list item
 * is rendered once (jansson, JSON_COMPACT: the same bytes json_dumps of the
 * whole page would give) and kept here. Direct-mapped by id, bounded
 * (RUNS_CACHE_SLOTS items of at most RUNS_CACHE_ITEM_MAX bytes, ~4 MiB), one
 * mutex per stripe of slots; an entry also matches created_at so that a
 * different database behind the same id is never served from it. */
#define RUNS_CACHE_SLOTS 4096
#define RUNS_CACHE_LOCKS 64
#define RUNS_CACHE_ITEM_MAX 4096

struct runs_cache_slot {
    int64_t id, created_us;
    char *json;                  /* NULL: empty */
    size_t len;
};

static struct runs_cache_slot runs_cache[RUNS_CACHE_SLOTS];
static pthread_mutex_t runs_cache_locks[RUNS_CACHE_LOCKS] = {
#define RUNS_L4 PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, \
                PTHREAD_MUTEX_INITIALIZER
#define RUNS_L16 RUNS_L4, RUNS_L4, RUNS_L4, RUNS_L4
    RUNS_L16, RUNS_L16, RUNS_L16, RUNS_L16
#undef RUNS_L16
#undef RUNS_L4
};

static size_t runs_cache_index(int64_t id)
{
    return (size_t)((uint64_t)id % RUNS_CACHE_SLOTS);
}

/* Append the cached item of (id, created_us) to *buf; 1 on a hit. */
static int runs_cache_get(int64_t id, int64_t created_us, struct runs_buf *buf)
{
    size_t i = runs_cache_index(id);
    int hit = 0;
    pthread_mutex_lock(&runs_cache_locks[i % RUNS_CACHE_LOCKS]);
    const struct runs_cache_slot *sl = &runs_cache[i];
    if (sl->json && sl->id == id && sl->created_us == created_us) {
        runs_buf_add(buf, sl->json, sl->len);
        hit = 1;
    }
    pthread_mutex_unlock(&runs_cache_locks[i % RUNS_CACHE_LOCKS]);
    return hit;
}

static void runs_cache_put(int64_t id, int64_t created_us, const char *json, size_t len)
{
    if (len > RUNS_CACHE_ITEM_MAX)
        return;
    char *copy = mem_alloc(len + 1);
    memcpy(copy, json, len + 1);
    size_t i = runs_cache_index(id);
    pthread_mutex_lock(&runs_cache_locks[i % RUNS_CACHE_LOCKS]);
    struct runs_cache_slot *sl = &runs_cache[i];
    char *old = sl->json;
    sl->id = id;
    sl->created_us = created_us;
    sl->json = copy;
    sl->len = len;
    pthread_mutex_unlock(&runs_cache_locks[i % RUNS_CACHE_LOCKS]);
    free(old);
}

/* Queued, or a split sweep (queued or running: it has no worker of its own). */
static const char RUNS_SQL_CANCEL_QUEUED[] =
    "UPDATE runs r SET status = 'cancelled', finished_at = now(), stage = NULL "
    "WHERE r.id = $1::bigint AND (r.status = 'queued' OR (r.status = 'running' AND r.chunks IS NOT NULL)) "
    "RETURNING r.chunks IS NOT NULL";

/* A cancelled split sweep's chunks (after its own row: the lock order of
 * every transaction that touches both): queued ones cancelled, running ones
 * asked to stop; how many of those. The unranked members its stored chunks
 * wrote are deleted (this statement's snapshot follows the sweep's lock, so
 * it sees every chunk committed before; none stores after it). */
static const char RUNS_SQL_CANCEL_CHUNKS[] =
    "WITH m AS (DELETE FROM sweep_members WHERE run_id = $1::bigint),"
    "     q AS (UPDATE runs SET status = 'cancelled', finished_at = now(), stage = NULL"
    "            WHERE parent_id = $1::bigint AND status = 'queued' RETURNING id),"
    "     r AS (UPDATE runs SET cancel_requested = true"
    "            WHERE parent_id = $1::bigint AND status = 'running' RETURNING id)"
    " SELECT (SELECT count(*) FROM q), (SELECT count(*) FROM r)";

static const char RUNS_SQL_CANCEL_RUNNING[] =
    "UPDATE runs r SET cancel_requested = true "
    "WHERE r.id = $1::bigint AND r.status = 'running' RETURNING " RUNVIEW_COLS;

static const char RUNS_SQL_NOTIFY_CANCEL[] = "SELECT pg_notify('tb_cancel', $1)";

static const char RUNS_SQL_STATUS[] = "SELECT r.status FROM runs r WHERE r.id = $1::bigint";

/* One row per iteration (a single row of NULLs when there is none yet). */
static const char RUNS_SQL_PROFILE[] =
    "SELECT r.status, r.iterations, i.iteration, i.wall_seconds, i.cpu_seconds, "
    "i.peak_rss_bytes, i.stages::text, " RUNVIEW_TS("i.started_at") ", "
    RUNVIEW_TS("i.finished_at") ", i.hotspots::text, "
    "coalesce(r.params->>'profiler', 'stages') "
    "FROM runs r LEFT JOIN run_iterations i ON i.run_id = r.id "
    "WHERE r.id = $1::bigint ORDER BY i.iteration";

static const char *const RUNS_JOBS[] = { "EOD_SMALL", "BACKTEST_MEDIUM", "ML_JOB", NULL };
static const char *const RUNS_STATUSES[] = { "queued", "running", "succeeded", "failed",
                                             "cancelled", NULL };
static const char *const RUNS_KINDS[] = { "run", "backtest", "model", "sweep", "sweep_chunk", NULL };

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
    const char *filters[4] = { job, status, kind, phase };
    const char *args[7];
    int shape = 0, nargs = 0;
    for (int f = 0; f < 4; f++) {
        if (filters[f]) {
            shape |= 1 << f;
            args[nargs++] = filters[f];
        }
    }
    if (cursor) {
        shape |= 16;
        args[nargs++] = ts;
        args[nargs++] = id;
    }
    args[nargs++] = lim;
    pthread_once(&runs_list_once, runs_list_build);
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read_prepared(&conn, rep, runs_list_sql[shape], nargs, args, DBX_TEXT);
    if (!res)
        return;
    int n = PQntuples(res), shown = n > limit ? limit : n;
    /* Items in page order: cached ones now, the others after one more read. */
    struct runs_buf page = { NULL, 0, 0 }, ids = { NULL, 0, 0 };
    char **rendered = mem_zalloc((size_t)(shown ? shown : 1) * sizeof *rendered);
    int *hit = mem_zalloc((size_t)(shown ? shown : 1) * sizeof *hit);
    int misses = 0;
    struct runs_buf one = { NULL, 0, 0 };
    for (int i = 0; i < shown; i++) {
        int64_t rid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        int64_t cus = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        one.len = 0;
        if (PQgetvalue(res, i, 2)[0] == 't' && runs_cache_get(rid, cus, &one)) {
            rendered[i] = mem_alloc(one.len + 1);
            memcpy(rendered[i], one.p, one.len + 1);
            hit[i] = 1;
            continue;
        }
        runs_buf_add(&ids, misses++ ? "," : "{", 1);
        runs_buf_add(&ids, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
    }
    free(one.p);
    if (misses) {
        runs_buf_add(&ids, "}", 1);
        const char *iargs[1] = { ids.p };
        PGresult *items = dbx_read_prepared(&conn, rep, RUNS_SQL_LIST_ITEMS, 1, iargs, DBX_TEXT);
        if (!items)
            goto out;
        for (int k = 0; k < PQntuples(items); k++) {
            const char *rid = PQgetvalue(items, k, RUNVIEW_C_ID);
            for (int i = 0; i < shown; i++) {
                if (hit[i] || rendered[i] || strcmp(PQgetvalue(res, i, 0), rid) != 0)
                    continue;
                json_t *item = runview_list_json(items, k);
                rendered[i] = json_dumps(item, JSON_COMPACT);
                json_decref(item);
                const char *st = PQgetvalue(items, k, RUNVIEW_C_STATUS);
                if (rendered[i] && (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
                                    strcmp(st, "cancelled") == 0))
                    runs_cache_put(strtoll(rid, NULL, 10),
                                   strtoll(PQgetvalue(items, k, RUNVIEW_C_CREATED_US), NULL, 10),
                                   rendered[i], strlen(rendered[i]));
                break;
            }
        }
        PQclear(items);
    }
    /* The page, exactly as json_dumps(JSON_COMPACT) of {"items", "next_cursor"}. */
    runs_buf_add(&page, "{\"items\":[", 10);
    int first = 1;
    for (int i = 0; i < shown; i++) {
        if (!rendered[i])
            continue; /* vanished between the two reads */
        if (!first)
            runs_buf_add(&page, ",", 1);
        runs_buf_add(&page, rendered[i], strlen(rendered[i]));
        first = 0;
    }
    runs_buf_add(&page, "],\"next_cursor\":", 16);
    json_t *nc;
    if (n > limit) {
        page_cursor_encode(PAGE_RUNS, strtoll(PQgetvalue(res, shown - 1, 1), NULL, 10),
                           strtoll(PQgetvalue(res, shown - 1, 0), NULL, 10), next);
        nc = json_string(next);
    } else {
        nc = json_null();
    }
    char *nct = json_dumps(nc, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(nc);
    runs_buf_add(&page, nct, strlen(nct));
    free(nct);
    runs_buf_add(&page, "}", 1);
    http_reply_bytes_take(rep, 200, "application/json", page.p, page.len);
    page.p = NULL;
    http_reply_header(rep, "Cache-Control", "no-store");
out:
    for (int i = 0; i < shown; i++)
        free(rendered[i]);
    free(rendered);
    free(hit);
    free(ids.p);
    free(page.p);
    PQclear(res);
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
    /* Queued: nobody runs it, cancel it here (a split sweep: with its chunks). */
    res = dbx_tx_exec(conn, rep, RUNS_SQL_CANCEL_QUEUED, 1, args, PGRES_TUPLES_OK);
    if (!res)
        return;
    if (PQntuples(res) == 1) {
        int split = PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (split) {
            res = dbx_tx_exec(conn, rep, RUNS_SQL_CANCEL_CHUNKS, 1, args, PGRES_TUPLES_OK);
            if (!res)
                return;
            int stopping = atoi(PQgetvalue(res, 0, 1));
            PQclear(res);
            if (stopping > 0) {
                PGresult *n = dbx_tx_exec(conn, rep, RUNS_SQL_NOTIFY_CANCEL, 1, args, PGRES_TUPLES_OK);
                if (!n)
                    return;
                PQclear(n);
            }
        }
        res = dbx_tx_exec(conn, rep, RUNS_SQL_GET, 1, args, PGRES_TUPLES_OK);
        if (!res)
            return;
    } else {
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
    /* perf / callgrind runs: each iteration's top functions (hotspots column) */
    struct ptrack_iter *fn_iters = mem_zalloc((rows ? rows : 1) * sizeof *fn_iters);
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
        json_t *fns = PQgetisnull(res, r, 9) ? NULL : json_loads(PQgetvalue(res, r, 9), 0, NULL);
        if (fns && !json_is_array(fns)) {
            json_decref(fns);
            fns = NULL;
        }
        fn_iters[i] = (struct ptrack_iter){ .stages = stages, .functions = fns };
        json_array_append_new(
            iters, json_pack("{s:i, s:f, s:f, s:I, s:O, s:o, s:o, s:O?}", "iteration",
                             atoi(PQgetvalue(res, r, 2)), "wall_seconds", wall[i],
                             "cpu_seconds", cpu[i], "peak_rss_bytes", (json_int_t)rss, "stages",
                             stages, "started_at",
                             PQgetisnull(res, r, 7) ? json_null()
                                                    : json_string(PQgetvalue(res, r, 7)),
                             "finished_at",
                             PQgetisnull(res, r, 8) ? json_null()
                                                    : json_string(PQgetvalue(res, r, 8)),
                             "functions", fns));
    }
    /* Function hotspots: the top 3 by mean share over the iterations, as
     * GET /profiles and profile-job give them (empty for stage profiles). */
    struct ptrack_summary fsum;
    ptrack_summarize(fn_iters, rows, &fsum);
    json_t *fn_hot = json_array();
    for (size_t k = 0; k < fsum.n_fn; k++)
        json_array_append_new(fn_hot, json_pack("{s:s, s:s, s:f}", "function", fsum.fn[k].name, "module",
                                                fsum.fn[k].module, "share", fsum.fn[k].share));
    ptrack_summary_free(&fsum);
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
    json_t *doc = json_pack("{s:I, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o}", "run_id",
                            (json_int_t)strtoll(id, NULL, 10), "status", PQgetvalue(res, 0, 0),
                            "iterations_requested", atoi(PQgetvalue(res, 0, 1)), "profiler",
                            PQgetvalue(res, 0, 10), "iterations", iters, "summary", summary, "stages",
                            stages_json, "hotspots", hot, "function_hotspots", fn_hot);
    http_reply_json_take(rep, 200, doc);
    http_reply_header(rep, "Cache-Control", "no-store");

    for (size_t i = 0; i < set.n; i++)
        free(set.s[i].walls);
    free(set.s);
    free(order);
    for (size_t i = 0; i < rows; i++) {
        json_decref(stage_docs[i]);
        json_decref(fn_iters[i].functions);
    }
    free(stage_docs);
    free(fn_iters);
    free(wall);
    free(cpu);
    PQclear(res);
}
