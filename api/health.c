/*
 * health — readiness check: connect (5 s timeout), read the schema version,
 * disconnect. Costs one connection per call, which is what makes it
 * trustworthy after a database restart; never reuses request-thread
 * connections and never writes.
 */
#include "health.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "routes.h"
#include "server/db.h"
#include "server/version.h"

static const char HEALTH_SQL_VERSION[] =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";

static double health_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void api_health_get(const struct http_request *req, struct http_reply *rep)
{
    const struct api_context *app = req->app;
    char err[512];
    double t0 = health_now_ms();
    PGconn *conn = db_connect(app->settings->database_url, "tradebench-health", err, sizeof err);
    PGresult *res = NULL;
    json_t *body;

    if (!conn) {
        body = http_reply_error(rep, PROBLEM_DB_UNAVAILABLE, "database unreachable: %s", err);
        goto down;
    }
    res = db_exec(conn, HEALTH_SQL_VERSION, 0, NULL, PGRES_TUPLES_OK, err, sizeof err);
    if (!res) {
        body = http_reply_error(rep, PROBLEM_DB_UNAVAILABLE, "database query failed: %s", err);
        goto down;
    }
    body = json_pack("{s:s, s:s, s:i, s:s, s:I, s:f}", "status", "ok", "database", "up",
                     "schema_version", atoi(PQgetvalue(res, 0, 0)), "version", TB_VERSION,
                     "uptime_seconds", (json_int_t)(time(NULL) - app->started),
                     "database_latency_ms", round((health_now_ms() - t0) * 10.0) / 10.0);
    http_reply_json_take(rep, 200, body);
    http_reply_header(rep, "Cache-Control", "no-store");
    PQclear(res);
    PQfinish(conn);
    return;

down:
    json_object_set_new(body, "database", json_string("down"));
    http_reply_header(rep, "Retry-After", "5");
    http_reply_header(rep, "Cache-Control", "no-store");
    PQfinish(conn);
}
