/*
 * artifacts — list and download. The download path: validate the name's
 * characters (anything else is 404 without a query), find the (run, name)
 * row, then either send its stored content (bytea, read in binary format)
 * or pick the renderer the name implies. Every response carries
 * Content-Disposition: attachment with the artifact's own name.
 */
#include "artifacts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "dbx.h"
#include "models.h"
#include "params.h"
#include "results.h"
#include "runview.h"
#include "server/mem.h"

#define ARTIFACTS_NAME_MAX 128

/* The run's artifacts; one row with NULL name when it has none, no rows
 * when the run does not exist. */
static const char ARTIFACTS_SQL_LIST[] =
    "SELECT a.name, a.content_type, a.rows, a.bytes, " RUNVIEW_TS("a.created_at") ", r.status "
    "FROM runs r LEFT JOIN artifacts a ON a.run_id = r.id "
    "WHERE r.id = $1::bigint ORDER BY a.name";

/* Binary format: content arrives as raw bytes. Row 0 = the artifact (NULL
 * name when the run exists without it); no rows = no such run. */
static const char ARTIFACTS_SQL_GET[] =
    "SELECT a.name, a.content_type, a.content FROM runs r "
    "LEFT JOIN artifacts a ON a.run_id = r.id AND a.name = $2::text WHERE r.id = $1::bigint";

/* Names the worker writes: letters, digits, '.', '_', '-'; never "." or "..". */
static int artifacts_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > ARTIFACTS_NAME_MAX || name[0] == '.')
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

void api_artifacts_list(const struct http_request *req, struct http_reply *rep)
{
    char id[24], url[256];
    PGresult *res = dbx_read_by_id(req, rep, ARTIFACTS_SQL_LIST, "run", id);
    if (!res)
        return;
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 0))
            continue;
        const char *name = PQgetvalue(res, i, 0);
        snprintf(url, sizeof url, "/runs/%s/artifacts/%s", id, name);
        json_array_append_new(
            items,
            json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "name", name, "content_type",
                      PQgetvalue(res, i, 1), "rows",
                      PQgetisnull(res, i, 2) ? json_null()
                                             : json_integer(strtoll(PQgetvalue(res, i, 2), NULL, 10)),
                      "bytes",
                      PQgetisnull(res, i, 3) ? json_null()
                                             : json_integer(strtoll(PQgetvalue(res, i, 3), NULL, 10)),
                      "url", url, "created_at",
                      PQgetisnull(res, i, 4) ? json_null() : json_string(PQgetvalue(res, i, 4))));
    }
    json_t *doc = json_pack("{s:I, s:s, s:o}", "run_id", (json_int_t)strtoll(id, NULL, 10), "status",
                            PQgetvalue(res, 0, 5), "items", items);
    PQclear(res);
    http_reply_json_take(rep, 200, doc);
    http_reply_header(rep, "Cache-Control", "no-store");
}

/* "orders_1d.csv" with prefix "orders_" -> "1d" in freq; 0 when the name
 * is <prefix><freq>.csv, else -1. */
static int artifacts_freq_of(const char *name, const char *prefix, char *freq, size_t n)
{
    size_t plen = strlen(prefix), len = strlen(name);
    if (len <= plen + 4 || strncmp(name, prefix, plen) != 0 ||
        strcmp(name + len - 4, ".csv") != 0 || len - plen - 4 >= n)
        return -1;
    memcpy(freq, name + plen, len - plen - 4);
    freq[len - plen - 4] = '\0';
    return 0;
}

/* name ends with suffix (and has more before it) */
static int artifacts_ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcmp(name + n - k, suffix) == 0;
}

void api_artifacts_get(const struct http_request *req, struct http_reply *rep)
{
    int64_t run_id;
    if (params_id(req, rep, "id", &run_id) < 0)
        return;
    artifacts_reply(req, rep, run_id, http_param(req, "name"));
}

void artifacts_reply(const struct http_request *req, struct http_reply *rep, int64_t run_id,
                     const char *name)
{
    char id[24], disposition[192], freq[16];
    snprintf(id, sizeof id, "%" PRId64, run_id);
    if (!name || !artifacts_name_ok(name)) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "run %s has no artifact with that name", id);
        return;
    }
    const char *args[2] = { id, name };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read_prepared(&conn, rep, ARTIFACTS_SQL_GET, 2, args, DBX_BINARY);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no run with id %s", id);
        goto out;
    }
    if (PQgetisnull(res, 0, 0)) {
        http_reply_error(rep, PROBLEM_NOT_FOUND,
                         "run %s has no artifact named %s (see /runs/%s/artifacts)", id, name, id);
        goto out;
    }
    /* Content types are the worker's, from a fixed set; anything else is bytes. */
    const char *stored_type = PQgetvalue(res, 0, 1);
    const char *type = strcmp(stored_type, "text/csv") == 0        ? "text/csv; charset=utf-8"
                       : strcmp(stored_type, "text/markdown") == 0 ? "text/markdown; charset=utf-8"
                       : strcmp(stored_type, "application/json") == 0 ? "application/json"
                                                                      : "application/octet-stream";
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", name);
    if (!PQgetisnull(res, 0, 2)) {
        size_t len = (size_t)PQgetlength(res, 0, 2);
        char *copy = mem_alloc(len ? len : 1);
        memcpy(copy, PQgetvalue(res, 0, 2), len);
        http_reply_bytes_take(rep, 200, type, copy, len);
    } else if (artifacts_freq_of(name, "orders_", freq, sizeof freq) == 0) {
        results_reply_csv(req, rep, RESULTS_ORDERS, run_id, strcmp(freq, "1d") == 0, NULL, name);
        goto out; /* results_reply_csv set its own Content-Disposition */
    } else if (artifacts_freq_of(name, "equity_curve_", freq, sizeof freq) == 0) {
        results_reply_csv(req, rep, RESULTS_EQUITY, run_id, strcmp(freq, "1d") == 0, NULL, name);
        goto out;
    } else if (strncmp(name, "dataset_", 8) == 0 && artifacts_ends_with(name, ".csv")) {
        datasets_reply_csv(req, rep, run_id, name); /* the dataset has its run's id */
        goto out;
    } else if (artifacts_ends_with(name, "_meta_model.json")) {
        models_reply_model_json(req, rep, run_id, name);
        goto out;
    } else if (strcmp(name, "metrics.json") == 0) {
        size_t len = 0;
        char *text = results_metrics_json(req, rep, run_id, &len);
        if (!text)
            goto out;
        http_reply_bytes_take(rep, 200, "application/json", text, len);
    } else {
        http_reply_error(rep, PROBLEM_INTERNAL,
                         "artifact %s of run %s has neither stored content nor a renderer", name,
                         id);
        goto out;
    }
    http_reply_header(rep, "Content-Disposition", disposition);
out:
    PQclear(res);
}
