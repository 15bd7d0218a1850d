/*
 * profiles — the tracking table endpoints (see profiles.h). One statement
 * (PTRACK_SQL_TABLE: the newest `limit` runs matching job / phase, one row
 * per iteration) read with one reconnect-and-retry; proftrack turns the rows
 * into summaries and those into JSON or markdown.
 */
#include "profiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbx.h"
#include "params.h"
#include "proftrack.h"
#include "server/mem.h"

static const char *const PROFILES_JOBS[] = { "EOD_SMALL", "BACKTEST_MEDIUM", "ML_JOB", NULL };

/* Parse the query and read the table; 0, or -1 after replying. */
static int profiles_load(const struct http_request *req, struct http_reply *rep, struct ptrack_table *out)
{
    static const char *const known[] = { "job", "phase", "limit", NULL };
    const char *job, *phase;
    int limit;
    char lim[16];
    if (params_query_known(req, rep, known) < 0 || params_enum(req, rep, "job", PROFILES_JOBS, &job) < 0 ||
        params_string(req, rep, "phase", 64, &phase) < 0 ||
        params_limit(req, rep, PROFILES_DEFAULT_LIMIT, PROFILES_MAX_LIMIT, &limit) < 0)
        return -1;
    snprintf(lim, sizeof lim, "%d", limit);
    const char *args[3] = { job, phase, lim };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return -1;
    PGresult *res = dbx_read(&conn, rep, PTRACK_SQL_TABLE, 3, args, DBX_TEXT);
    if (!res)
        return -1;
    ptrack_table_from_result(res, out);
    PQclear(res);
    return 0;
}

void api_profiles_list(const struct http_request *req, struct http_reply *rep)
{
    struct ptrack_table t;
    if (profiles_load(req, rep, &t) < 0)
        return;
    http_reply_json_take(rep, 200, ptrack_table_json(&t));
    http_reply_header(rep, "Cache-Control", "no-store");
    ptrack_table_free(&t);
}

void api_profiles_report(const struct http_request *req, struct http_reply *rep)
{
    struct ptrack_table t;
    char when[48], source[160];
    if (profiles_load(req, rep, &t) < 0)
        return;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(source, sizeof source, "GET /profiles/report.md at %s: %zu run%s, newest first.", when, t.n,
             t.n == 1 ? "" : "s");
    static const char title[] = "# Performance tracking\n\n";
    char *md = ptrack_markdown(&t, 0, source);
    size_t len = strlen(md), dlen = sizeof title - 1 + len;
    char *doc = mem_alloc(dlen + 1);
    memcpy(doc, title, sizeof title - 1);
    memcpy(doc + sizeof title - 1, md, len + 1);
    free(md);
    http_reply_bytes_take(rep, 200, "text/markdown; charset=utf-8", doc, dlen);
    http_reply_header(rep, "Cache-Control", "no-store");
    ptrack_table_free(&t);
}
