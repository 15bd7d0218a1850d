/*
 * metrics_prom — lock-free request metrics and their text exposition.
 * Layout: one slot per route row plus one for requests that matched no
 * route; each slot holds a counter per HTTP status (100..599, exact codes,
 * so no status is ever folded into "other"), a non-cumulative histogram
 * (cumulated when rendered), the count and the sum of durations in
 * microseconds. All updates are memory_order_relaxed increments: a scrape
 * may see a request in the counter a moment before its histogram bucket,
 * which Prometheus tolerates; nothing is ever lost or torn.
 */
#include "metrics_prom.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routes.h"
#include "server/buf.h"
#include "server/db.h"
#include "server/mem.h"

#define PROM_STATUS_MIN 100
#define PROM_STATUS_COUNT 500    /* 100..599 */

/* Upper bounds of the latency buckets, seconds (+Inf is implicit). */
static const double prom_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define PROM_NBUCKETS (sizeof prom_buckets / sizeof prom_buckets[0])

struct prom_slot {
    atomic_uint_least64_t status[PROM_STATUS_COUNT]; /* requests by exact status code */
    atomic_uint_least64_t bucket[PROM_NBUCKETS + 1]; /* by latency bucket, last = +Inf */
    atomic_uint_least64_t count;                     /* requests observed */
    atomic_uint_least64_t sum_us;                    /* their total duration, µs */
};

struct prom_registry {
    const struct route *routes;  /* the route table (borrowed) */
    size_t nroutes;
    struct prom_slot *slots;     /* nroutes + 1 (last: unmatched) */
};

static const char PROM_SQL_RUNS[] =
    "SELECT s.status, count(r.id), "
    "coalesce(extract(epoch FROM now() - min(r.created_at)), 0)::float8 "
    "FROM unnest(ARRAY['queued', 'running', 'succeeded', 'failed', 'cancelled']) AS s(status) "
    "LEFT JOIN runs r ON r.status = s.status GROUP BY s.status ORDER BY s.status";

/* Worker liveness, read per scrape. Counters: what the stale-run check did
 * (sql/008, bumped by the check's own statement). Heartbeats: running runs
 * by worker through the partial index runs_heartbeat_idx, so the cost is
 * the number of running runs, not of runs; at most PROM_MAX_WORKERS series,
 * the stalest first. A worker heartbeats all its runs together, so its
 * newest heartbeat is its own last sign of life. */
static const char PROM_SQL_COUNTERS[] = "SELECT name, value FROM run_counters ORDER BY name";
static const char PROM_SQL_HEARTBEATS[] =
    "SELECT coalesce(worker_id, ''), count(*),"
    "       extract(epoch FROM now() - max(heartbeat_at))::float8,"
    "       extract(epoch FROM now() - min(heartbeat_at))::float8"
    "  FROM runs WHERE status = 'running' AND heartbeat_at IS NOT NULL"
    " GROUP BY worker_id ORDER BY 3 DESC, 1";
#define PROM_MAX_WORKERS 64

struct prom_registry *prom_new(const struct route *routes, size_t nroutes)
{
    struct prom_registry *reg = mem_zalloc(sizeof *reg);
    reg->routes = routes;
    reg->nroutes = nroutes;
    reg->slots = mem_alloc((nroutes + 1) * sizeof *reg->slots);
    for (size_t i = 0; i <= nroutes; i++) {
        struct prom_slot *s = &reg->slots[i];
        for (size_t k = 0; k < PROM_STATUS_COUNT; k++)
            atomic_init(&s->status[k], 0);
        for (size_t k = 0; k <= PROM_NBUCKETS; k++)
            atomic_init(&s->bucket[k], 0);
        atomic_init(&s->count, 0);
        atomic_init(&s->sum_us, 0);
    }
    return reg;
}

void prom_free(struct prom_registry *reg)
{
    if (!reg)
        return;
    free(reg->slots);
    free(reg);
}

void prom_observe(void *cls, const struct route *route, const char *method, int status,
                  double ms)
{
    struct prom_registry *reg = cls;
    size_t slot = reg->nroutes;
    (void)method; /* the route row's method is the label: bounded cardinality */
    if (route && route >= reg->routes && route < reg->routes + reg->nroutes)
        slot = (size_t)(route - reg->routes);
    struct prom_slot *s = &reg->slots[slot];
    if (status >= PROM_STATUS_MIN && status < PROM_STATUS_MIN + PROM_STATUS_COUNT)
        atomic_fetch_add_explicit(&s->status[status - PROM_STATUS_MIN], 1, memory_order_relaxed);
    double sec = ms / 1000.0;
    size_t b = 0;
    while (b < PROM_NBUCKETS && sec > prom_buckets[b])
        b++;
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint_least64_t)(ms > 0 ? ms * 1000.0 + 0.5 : 0),
                              memory_order_relaxed);
}

/* ---- rendering -------------------------------------------------------------- */

static void prom_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void prom_printf(struct buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (buf_append(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
        abort(); /* the buffer's maximum is far beyond any exposition */
}

/* The route and method labels of slot i: `route="...",method="..."`. */
static void prom_labels(const struct prom_registry *reg, size_t i, char *out, size_t n)
{
    if (i == reg->nroutes) {
        snprintf(out, n, "route=\"unmatched\",method=\"\"");
        return;
    }
    /* Route patterns are static ASCII without quotes or backslashes. */
    snprintf(out, n, "route=\"%s\",method=\"%s\"", reg->routes[i].pattern, reg->routes[i].method);
}

static void prom_render_into(const struct prom_registry *reg, struct buf *b)
{
    char labels[192];
    prom_printf(b, "# HELP tradebench_http_requests_total HTTP requests answered, by route "
                   "pattern, method and status.\n"
                   "# TYPE tradebench_http_requests_total counter\n");
    for (size_t i = 0; i <= reg->nroutes; i++) {
        prom_labels(reg, i, labels, sizeof labels);
        for (size_t k = 0; k < PROM_STATUS_COUNT; k++) {
            uint_least64_t v = atomic_load_explicit(&reg->slots[i].status[k], memory_order_relaxed);
            if (v)
                prom_printf(b, "tradebench_http_requests_total{%s,status=\"%zu\"} %llu\n", labels,
                            k + PROM_STATUS_MIN, (unsigned long long)v);
        }
    }
    prom_printf(b, "# HELP tradebench_http_request_duration_seconds Time from the first byte "
                   "of a request to the end of its response.\n"
                   "# TYPE tradebench_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= reg->nroutes; i++) {
        const struct prom_slot *s = &reg->slots[i];
        uint_least64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
        if (!count)
            continue;
        prom_labels(reg, i, labels, sizeof labels);
        uint_least64_t cum = 0;
        for (size_t k = 0; k <= PROM_NBUCKETS; k++) {
            cum += atomic_load_explicit(&s->bucket[k], memory_order_relaxed);
            if (k < PROM_NBUCKETS)
                prom_printf(b, "tradebench_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                            labels, prom_buckets[k], (unsigned long long)cum);
            else
                prom_printf(b, "tradebench_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
                            labels, (unsigned long long)cum);
        }
        prom_printf(b, "tradebench_http_request_duration_seconds_sum{%s} %.6f\n", labels,
                    (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6);
        /* _count equals the +Inf bucket, as the format requires. */
        prom_printf(b, "tradebench_http_request_duration_seconds_count{%s} %llu\n", labels,
                    (unsigned long long)cum);
    }
}

/* A label value in the exposition format: backslash, quote and newline escaped. */
static void prom_label_value(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 3 < n; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* The liveness part of a scrape (see PROM_SQL_COUNTERS / _HEARTBEATS).
 * 0, or -1 with err (nothing appended). */
static int prom_render_liveness(PGconn *conn, struct buf *b, char *err, size_t errlen)
{
    PGresult *cnt = db_exec(conn, PROM_SQL_COUNTERS, 0, NULL, PGRES_TUPLES_OK, err, errlen);
    if (!cnt)
        return -1;
    PGresult *hb = db_exec(conn, PROM_SQL_HEARTBEATS, 0, NULL, PGRES_TUPLES_OK, err, errlen);
    if (!hb) {
        PQclear(cnt);
        return -1;
    }
    const char *requeued = "0", *lost = "0";
    for (int i = 0; i < PQntuples(cnt); i++) {
        if (strcmp(PQgetvalue(cnt, i, 0), "runs_requeued") == 0)
            requeued = PQgetvalue(cnt, i, 1);
        else if (strcmp(PQgetvalue(cnt, i, 0), "runs_worker_lost") == 0)
            lost = PQgetvalue(cnt, i, 1);
    }
    prom_printf(b, "# HELP tradebench_runs_requeued_total Runs given back to the queue because "
                   "their worker stopped heartbeating (stale-run check).\n"
                   "# TYPE tradebench_runs_requeued_total counter\n"
                   "tradebench_runs_requeued_total %s\n"
                   "# HELP tradebench_runs_worker_lost_total Runs failed because their worker "
                   "stopped heartbeating on the last allowed attempt.\n"
                   "# TYPE tradebench_runs_worker_lost_total counter\n"
                   "tradebench_runs_worker_lost_total %s\n",
                requeued, lost);
    double oldest = 0;
    for (int i = 0; i < PQntuples(hb); i++) {
        double a = strtod(PQgetvalue(hb, i, 3), NULL);
        if (a > oldest)
            oldest = a;
    }
    prom_printf(b, "# HELP tradebench_running_heartbeat_age_seconds Age of the oldest heartbeat "
                   "among running runs (0 when none runs); above TB_WORKER_STALE_SECONDS for "
                   "long, no worker is running the stale-run check.\n"
                   "# TYPE tradebench_running_heartbeat_age_seconds gauge\n"
                   "tradebench_running_heartbeat_age_seconds %.3f\n",
                oldest < 0 ? 0 : oldest);
    prom_printf(b, "# HELP tradebench_worker_heartbeat_age_seconds Seconds since the worker's "
                   "last heartbeat, for workers with running runs.\n"
                   "# TYPE tradebench_worker_heartbeat_age_seconds gauge\n");
    char worker[300];
    for (int i = 0; i < PQntuples(hb) && i < PROM_MAX_WORKERS; i++) {
        double age = strtod(PQgetvalue(hb, i, 2), NULL);
        prom_label_value(PQgetvalue(hb, i, 0), worker, sizeof worker);
        prom_printf(b, "tradebench_worker_heartbeat_age_seconds{worker=\"%s\"} %.3f\n", worker,
                    age < 0 ? 0 : age);
    }
    prom_printf(b, "# HELP tradebench_worker_running_runs Running runs per worker.\n"
                   "# TYPE tradebench_worker_running_runs gauge\n");
    for (int i = 0; i < PQntuples(hb) && i < PROM_MAX_WORKERS; i++) {
        prom_label_value(PQgetvalue(hb, i, 0), worker, sizeof worker);
        prom_printf(b, "tradebench_worker_running_runs{worker=\"%s\"} %s\n", worker,
                    PQgetvalue(hb, i, 1));
    }
    PQclear(hb);
    PQclear(cnt);
    return 0;
}

char *prom_render_http(const struct prom_registry *reg, size_t *len)
{
    struct buf b;
    buf_init(&b, (size_t)1 << 26);
    prom_render_into(reg, &b);
    if (!b.data)
        prom_printf(&b, "\n");
    *len = b.len;
    return b.data; /* the buffer's bytes, handed over */
}

void api_metrics_get(const struct http_request *req, struct http_reply *rep)
{
    const struct api_context *app = req->app;
    struct buf b;
    char err[512];
    buf_init(&b, (size_t)1 << 26);
    prom_render_into(app->metrics, &b);

    /* Run gauges: a failed read is reported as database_up 0, not as an error,
     * so the scrape still carries the request counters. */
    PGconn *conn = db_thread_conn(app->settings->database_url, "tradebench-server", err,
                                  sizeof err);
    PGresult *res = conn ? db_exec(conn, PROM_SQL_RUNS, 0, NULL, PGRES_TUPLES_OK, err, sizeof err)
                         : NULL;
    if (!res && conn && PQstatus(conn) != CONNECTION_OK) {
        PQreset(conn); /* a dead thread connection after a database restart */
        if (PQstatus(conn) == CONNECTION_OK)
            res = db_exec(conn, PROM_SQL_RUNS, 0, NULL, PGRES_TUPLES_OK, err, sizeof err);
    }
    int db_up = res != NULL;
    if (res) {
        double queued = 0, age = 0;
        prom_printf(&b, "# HELP tradebench_runs Runs in the database, by status.\n"
                        "# TYPE tradebench_runs gauge\n");
        for (int i = 0; i < PQntuples(res); i++) {
            prom_printf(&b, "tradebench_runs{status=\"%s\"} %s\n", PQgetvalue(res, i, 0),
                        PQgetvalue(res, i, 1));
            if (strcmp(PQgetvalue(res, i, 0), "queued") == 0) {
                queued = strtod(PQgetvalue(res, i, 1), NULL);
                age = strtod(PQgetvalue(res, i, 2), NULL);
            }
        }
        prom_printf(&b, "# HELP tradebench_queue_depth Runs waiting for a worker.\n"
                        "# TYPE tradebench_queue_depth gauge\n"
                        "tradebench_queue_depth %.0f\n"
                        "# HELP tradebench_queue_oldest_age_seconds Age of the oldest queued run "
                        "(0 when the queue is empty).\n"
                        "# TYPE tradebench_queue_oldest_age_seconds gauge\n"
                        "tradebench_queue_oldest_age_seconds %.3f\n",
                    queued, age);
        PQclear(res);
        if (prom_render_liveness(conn, &b, err, sizeof err) < 0)
            db_up = 0;
    }
    prom_printf(&b, "# HELP tradebench_database_up Whether this scrape could read PostgreSQL.\n"
                    "# TYPE tradebench_database_up gauge\n"
                    "tradebench_database_up %d\n"
                    "# HELP tradebench_uptime_seconds Seconds since the server started.\n"
                    "# TYPE tradebench_uptime_seconds gauge\n"
                    "tradebench_uptime_seconds %lld\n",
                db_up, (long long)(time(NULL) - app->started));
    http_reply_bytes_take(rep, 200, PROM_CONTENT_TYPE, b.data, b.len);
    http_reply_header(rep, "Cache-Control", "no-store");
}
