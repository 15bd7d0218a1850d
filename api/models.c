/*
 * models — /models handlers (see models.h). Validation of a training
 * request is the engine's (jobspec_from_model_json), the queue write is
 * enqueue.c's. Reads join runs (status), models and datasets on the shared
 * id: a model-training run without a models row is still training (or
 * failed), or its model was deleted. Prediction loads the stored model
 * bytes into a booster once (modelcache, bounded, per model id) and scores
 * rows in the HTTP thread with one XGBoost thread.
 */
#include "models.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "dbx.h"
#include "enqueue.h"
#include "ml_dataset.h"
#include "modelcache.h"
#include "pagination.h"
#include "params.h"
#include "routes.h"
#include "runview.h"
#include "server/db.h"
#include "server/logger.h"
#include "server/mem.h"
#include "timeutil.h"

/* Epoch seconds of a timestamptz column, NULL stays NULL. */
#define MODELS_EPOCH(col) "extract(epoch FROM " col ")::bigint"

/* Newest first; $1 strategy filter, $2/$3 keyset cursor (µs since the epoch, id). */
static const char MODELS_SQL_LIST[] =
    "SELECT m.id, m.run_id, m.strategy, m.freq, m.n_rows, " RUNVIEW_TS("m.created_at") ", "
    "(extract(epoch FROM m.created_at) * 1000000)::bigint, m.cv->>'method', m.cv->>'k', "
    "(m.cv->'mean')::text, (m.cv->'std')::text, " MODELS_EPOCH("m.train_first_ts") ", "
    MODELS_EPOCH("m.train_last_ts") " "
    "FROM models m WHERE ($1::text IS NULL OR m.strategy = $1::text) "
    "AND ($2::bigint IS NULL OR (m.created_at, m.id) < "
    "(timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::bigint)) "
    "ORDER BY m.created_at DESC, m.id DESC LIMIT $4::int";

enum {
    MODELS_L_ID = 0, MODELS_L_RUN, MODELS_L_STRATEGY, MODELS_L_FREQ, MODELS_L_ROWS, MODELS_L_CREATED,
    MODELS_L_CREATED_US, MODELS_L_METHOD, MODELS_L_K, MODELS_L_MEAN, MODELS_L_STD, MODELS_L_FIRST,
    MODELS_L_LAST
};

/* One model-training run with its model and dataset when they exist. */
static const char MODELS_SQL_GET[] =
    "SELECT r.id, r.status, r.progress, r.stage, r.error, " RUNVIEW_TS("r.created_at") ", "
    RUNVIEW_TS("r.finished_at") ", r.params::text, m.id IS NOT NULL, m.strategy, m.freq, m.n_rows, "
    "m.params::text, m.cv::text, m.importances::text, m.correlation::text, "
    MODELS_EPOCH("m.train_first_ts") ", " MODELS_EPOCH("m.train_last_ts") ", "
    RUNVIEW_TS("m.created_at") ", d.params::text, d.n_positive, " MODELS_EPOCH("d.first_ts") ", "
    MODELS_EPOCH("d.last_ts") ", octet_length(m.model), "
    "(SELECT json_agg(a.name ORDER BY a.name) FROM artifacts a WHERE a.run_id = r.id)::text "
    "FROM runs r LEFT JOIN models m ON m.id = r.id LEFT JOIN datasets d ON d.id = r.id "
    "WHERE r.id = $1::bigint AND " RUNVIEW_SQL_IS_MODEL;

enum {
    MODELS_G_ID = 0, MODELS_G_STATUS, MODELS_G_PROGRESS, MODELS_G_STAGE, MODELS_G_ERROR, MODELS_G_RUN_CREATED,
    MODELS_G_RUN_FINISHED, MODELS_G_REQUEST, MODELS_G_HAS_MODEL, MODELS_G_STRATEGY, MODELS_G_FREQ, MODELS_G_ROWS,
    MODELS_G_PARAMS, MODELS_G_CV, MODELS_G_IMPORTANCES, MODELS_G_CORRELATION, MODELS_G_TRAIN_FIRST,
    MODELS_G_TRAIN_LAST, MODELS_G_CREATED, MODELS_G_DATASET_PARAMS, MODELS_G_POSITIVE, MODELS_G_FIRST,
    MODELS_G_LAST, MODELS_G_MODEL_BYTES, MODELS_G_ARTIFACTS
};

/* Does the model exist; else what its run is doing. No row: no such run. */
static const char MODELS_SQL_STATE[] =
    "SELECT r.status, EXISTS (SELECT 1 FROM models m WHERE m.id = r.id) "
    "FROM runs r WHERE r.id = $1::bigint AND " RUNVIEW_SQL_IS_MODEL;

static const char MODELS_SQL_EXISTS[] = "SELECT 1 FROM models WHERE id = $1::bigint";

static const char MODELS_SQL_REPORT[] =
    "SELECT a.content FROM artifacts a WHERE a.run_id = $1::bigint AND a.name = 'ml_training_report.md'";

/* Binary format: the bytes as stored. */
static const char MODELS_SQL_BYTES[] = "SELECT model FROM models WHERE id = $1::bigint";

/* DELETE: lock the model, look for backtests that still need it, then drop
 * the model, its dataset (rows by trigger) and the two artifacts rendered
 * from them. The run, its profile and its stored artifacts stay. */
static const char MODELS_SQL_LOCK[] = "SELECT id FROM models WHERE id = $1::bigint FOR UPDATE";
static const char MODELS_SQL_USERS[] =
    "SELECT id FROM runs WHERE status IN ('queued', 'running') "
    "AND params->'meta_filter'->>'model_id' = $1::text ORDER BY id LIMIT 1";
static const char MODELS_SQL_DELETE[] =
    "WITH m AS (DELETE FROM models WHERE id = $1::bigint),"
    "     d AS (DELETE FROM datasets WHERE id = $1::bigint)"
    " DELETE FROM artifacts WHERE run_id = $1::bigint"
    " AND (name LIKE 'dataset\\_%.csv' OR name LIKE '%\\_meta\\_model.json')";

/* ---- helpers ------------------------------------------------------------------ */

static json_t *models_text_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    json_t *v = json_loads(PQgetvalue(res, row, col), 0, NULL);
    return v ? v : json_null();
}

/* jsonb stores object keys sorted by length; give clients the documented
 * order: a new object with keys[] first (those present), then the rest.
 * Takes the reference to o. */
static json_t *models_ordered(json_t *o, const char *const *keys)
{
    if (!json_is_object(o))
        return o;
    json_t *out = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (v)
            json_object_set(out, keys[i], v);
    }
    json_object_update_missing(out, o);
    json_decref(o);
    return out;
}

static const char *const models_metric_keys[] = { "auc", "logloss", "accuracy", "precision", "recall", "f1",
                                                  "base_rate", NULL };

/* models.cv in its documented key order (folds, mean and std included). */
static json_t *models_cv_json(json_t *cv)
{
    static const char *const top[] = { "method", "k", "folds", "mean", "std", NULL };
    static const char *const fold[] = { "fold", "n_train", "n_test", "n_purged", "n_embargoed", "test_first_ts",
                                        "test_last_ts", "test_last_t1", "train_base_rate", "auc", "logloss",
                                        "accuracy", "precision", "recall", "f1", "base_rate", NULL };
    if (!json_is_object(cv))
        return cv;
    json_t *folds = json_object_get(cv, "folds");
    for (size_t i = 0; i < json_array_size(folds); i++)
        json_array_set_new(folds, i, models_ordered(json_incref(json_array_get(folds, i)), fold));
    static const char *const parts[] = { "mean", "std" };
    for (size_t i = 0; i < 2; i++) {
        json_t *m = json_object_get(cv, parts[i]);
        if (m)
            json_object_set_new(cv, parts[i], models_ordered(json_incref(m), models_metric_keys));
    }
    return models_ordered(cv, top);
}

static json_t *models_importances_json(json_t *imp)
{
    static const char *const keys[] = { "feature", "gain", "total_gain", "permutation_mean", "permutation_std",
                                        NULL };
    for (size_t i = 0; i < json_array_size(imp); i++)
        json_array_set_new(imp, i, models_ordered(json_incref(json_array_get(imp, i)), keys));
    return imp;
}

static json_t *models_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

/* An epoch-seconds column as a bar timestamp (date for 1d). */
static json_t *models_bar_ts(const PGresult *res, int row, int col, int date_only)
{
    char b[24];
    if (PQgetisnull(res, row, col))
        return json_null();
    tu_format(strtoll(PQgetvalue(res, row, col), NULL, 10), date_only, b);
    return json_string(b);
}

static json_t *models_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null()
                                      : json_integer((json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *models_links(int64_t id)
{
    char a[96], b[96], c[96], d[96], e[96];
    snprintf(a, sizeof a, "/models/%" PRId64, id);
    snprintf(b, sizeof b, "/models/%" PRId64 "/report", id);
    snprintf(c, sizeof c, "/models/%" PRId64 "/predict", id);
    snprintf(d, sizeof d, "/runs/%" PRId64, id);
    snprintf(e, sizeof e, "/runs/%" PRId64 "/profile", id);
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "self", a, "report", b, "predict", c, "run", d, "profile", e);
}

/* The model behind {id} must exist: 0, or -1 after replying 404 (no such
 * model, or deleted) / 409 (still training) / 503. *id_out is the id. */
static int models_require(const struct http_request *req, struct http_reply *rep, int64_t *id_out)
{
    char id[24];
    if (params_id(req, rep, "id", id_out) < 0)
        return -1;
    snprintf(id, sizeof id, "%" PRId64, *id_out);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return -1;
    PGresult *res = dbx_read_prepared(&conn, rep, MODELS_SQL_STATE, 1, args, DBX_TEXT);
    if (!res)
        return -1;
    int rc = -1;
    if (PQntuples(res) == 0)
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no model with id %s", id);
    else if (PQgetvalue(res, 0, 1)[0] == 't')
        rc = 0;
    else if (strcmp(PQgetvalue(res, 0, 0), "queued") == 0 || strcmp(PQgetvalue(res, 0, 0), "running") == 0)
        http_reply_error(rep, PROBLEM_CONFLICT, "model %s is still being trained (run %s is %s); poll /models/%s",
                         id, id, PQgetvalue(res, 0, 0), id);
    else if (strcmp(PQgetvalue(res, 0, 0), "succeeded") == 0)
        http_reply_error(rep, PROBLEM_NOT_FOUND, "model %s was deleted", id);
    else
        http_reply_error(rep, PROBLEM_NOT_FOUND, "model %s does not exist: its training run %s", id,
                         PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/* ---- POST /models ---------------------------------------------------------------- */

void api_models_post(const struct http_request *req, struct http_reply *rep)
{
    tb_jobspec spec;
    js_errors errs;
    if (jobspec_from_model_json(req->body, &spec, &errs) < 0) {
        params_reply_js_errors(rep, &errs);
        return;
    }
    if (enqueue_check_universe(&spec, "", rep) == 0) {
        struct enqueue_spec es = { "model", NULL, spec.normalized, 1, NULL };
        enqueue_run(req, rep, &es);
    }
    jobspec_free(&spec);
}

/* ---- GET /models ------------------------------------------------------------------------ */

void api_models_list(const struct http_request *req, struct http_reply *rep)
{
    static const char *const known[] = { "strategy", "limit", "cursor", NULL };
    const char *strategy, *cursor = http_query(req, "cursor");
    int limit;
    int64_t cur_us = 0, cur_id = 0;
    char us[24], idb[24], lim[16], next[PAGE_CURSOR_MAX];
    if (params_query_known(req, rep, known) < 0 || params_string(req, rep, "strategy", 64, &strategy) < 0 ||
        params_limit(req, rep, MODELS_LIST_DEFAULT_LIMIT, MODELS_LIST_MAX_LIMIT, &limit) < 0)
        return;
    if (cursor && page_cursor_decode(PAGE_MODELS, cursor, &cur_us, &cur_id) < 0) {
        params_reply_invalid(rep, "cursor", "is not a cursor of this list (use next_cursor "
                                            "from the previous page as-is)");
        return;
    }
    snprintf(us, sizeof us, "%" PRId64, cur_us);
    snprintf(idb, sizeof idb, "%" PRId64, cur_id);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *args[4] = { strategy, cursor ? us : NULL, cursor ? idb : NULL, lim };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read(&conn, rep, MODELS_SQL_LIST, 4, args, DBX_TEXT);
    if (!res)
        return;
    int n = PQntuples(res), shown = n > limit ? limit : n;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++) {
        int64_t id = strtoll(PQgetvalue(res, i, MODELS_L_ID), NULL, 10);
        int date_only = strcmp(PQgetvalue(res, i, MODELS_L_FREQ), "1d") == 0;
        char url[64];
        snprintf(url, sizeof url, "/models/%" PRId64, id);
        json_t *cv = json_pack("{s:o, s:o, s:o, s:o}", "method", models_str(res, i, MODELS_L_METHOD), "k",
                               models_int(res, i, MODELS_L_K), "mean",
                               models_ordered(models_text_json(res, i, MODELS_L_MEAN), models_metric_keys), "std",
                               models_ordered(models_text_json(res, i, MODELS_L_STD), models_metric_keys));
        json_array_append_new(
            items, json_pack("{s:I, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s}", "id", (json_int_t)id, "run_id",
                             models_int(res, i, MODELS_L_RUN), "strategy", PQgetvalue(res, i, MODELS_L_STRATEGY),
                             "freq", PQgetvalue(res, i, MODELS_L_FREQ), "n_rows", models_int(res, i, MODELS_L_ROWS),
                             "created_at", models_str(res, i, MODELS_L_CREATED), "cv", cv, "train_first_ts",
                             models_bar_ts(res, i, MODELS_L_FIRST, date_only), "train_last_ts",
                             models_bar_ts(res, i, MODELS_L_LAST, date_only), "url", url));
    }
    json_t *doc = json_pack("{s:o}", "items", items);
    if (n > limit) {
        page_cursor_encode(PAGE_MODELS, strtoll(PQgetvalue(res, shown - 1, MODELS_L_CREATED_US), NULL, 10),
                           strtoll(PQgetvalue(res, shown - 1, MODELS_L_ID), NULL, 10), next);
        json_object_set_new(doc, "next_cursor", json_string(next));
    } else {
        json_object_set_new(doc, "next_cursor", json_null());
    }
    PQclear(res);
    http_reply_json_take(rep, 200, doc);
    http_reply_header(rep, "Cache-Control", "no-store");
}

/* ---- GET /models/{id} ------------------------------------------------------------------------ */

static json_t *models_detail(const PGresult *res, int64_t id)
{
    const int r = 0;
    int date_only = strcmp(PQgetvalue(res, r, MODELS_G_FREQ), "1d") == 0;
    json_t *artifacts = json_array(), *names = models_text_json(res, r, MODELS_G_ARTIFACTS);
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm) {
        char url[256];
        snprintf(url, sizeof url, "/models/%" PRId64 "/artifacts/%s", id, json_string_value(nm));
        json_array_append_new(artifacts, json_pack("{s:O, s:s}", "name", nm, "url", url));
    }
    json_decref(names);
    json_t *range = json_pack("{s:o, s:o, s:o, s:o}", "first_ts", models_bar_ts(res, r, MODELS_G_FIRST, date_only),
                              "last_ts", models_bar_ts(res, r, MODELS_G_LAST, date_only), "train_first_ts",
                              models_bar_ts(res, r, MODELS_G_TRAIN_FIRST, date_only), "train_last_ts",
                              models_bar_ts(res, r, MODELS_G_TRAIN_LAST, date_only));
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    json_object_set_new(o, "run_id", json_integer((json_int_t)id));
    json_object_set_new(o, "status", json_string("trained"));
    json_object_set_new(o, "strategy", json_string(PQgetvalue(res, r, MODELS_G_STRATEGY)));
    json_object_set_new(o, "freq", json_string(PQgetvalue(res, r, MODELS_G_FREQ)));
    json_object_set_new(o, "created_at", models_str(res, r, MODELS_G_CREATED));
    json_object_set_new(o, "n_rows", models_int(res, r, MODELS_G_ROWS));
    json_object_set_new(o, "n_positive", models_int(res, r, MODELS_G_POSITIVE));
    json_object_set_new(o, "features", json_array());
    for (size_t k = 0; k < ML_N_FEATURES; k++)
        json_array_append_new(json_object_get(o, "features"), json_string(ml_feature_names[k]));
    json_object_set_new(o, "data_range", range);
    json_object_set_new(o, "params", models_text_json(res, r, MODELS_G_PARAMS));
    json_object_set_new(o, "dataset", json_pack("{s:I, s:o}", "id", (json_int_t)id, "params",
                                                models_text_json(res, r, MODELS_G_DATASET_PARAMS)));
    json_object_set_new(o, "request", models_text_json(res, r, MODELS_G_REQUEST));
    json_object_set_new(o, "cv", models_cv_json(models_text_json(res, r, MODELS_G_CV)));
    json_object_set_new(o, "importances", models_importances_json(models_text_json(res, r, MODELS_G_IMPORTANCES)));
    json_object_set_new(o, "correlation", models_text_json(res, r, MODELS_G_CORRELATION));
    json_object_set_new(o, "model_bytes", models_int(res, r, MODELS_G_MODEL_BYTES));
    json_object_set_new(o, "artifacts", artifacts);
    json_object_set_new(o, "links", models_links(id));
    return o;
}

void api_models_get(const struct http_request *req, struct http_reply *rep)
{
    char id[24];
    PGresult *res = dbx_read_by_id(req, rep, MODELS_SQL_GET, "model", id);
    if (!res)
        return;
    int64_t model_id = strtoll(id, NULL, 10);
    const char *status = PQgetvalue(res, 0, MODELS_G_STATUS);
    if (PQgetvalue(res, 0, MODELS_G_HAS_MODEL)[0] == 't') {
        http_reply_json_take(rep, 200, models_detail(res, model_id));
        http_reply_header(rep, "Cache-Control", "no-store");
    } else if (strcmp(status, "succeeded") == 0) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "model %s was deleted", id);
    } else {
        /* Not trained (yet): what its run is doing. */
        json_t *o = json_pack("{s:I, s:I, s:s, s:f, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)model_id,
                              "run_id", (json_int_t)model_id, "status", status, "progress",
                              strtod(PQgetvalue(res, 0, MODELS_G_PROGRESS), NULL), "stage",
                              models_str(res, 0, MODELS_G_STAGE), "error", models_str(res, 0, MODELS_G_ERROR),
                              "created_at", models_str(res, 0, MODELS_G_RUN_CREATED), "request",
                              models_text_json(res, 0, MODELS_G_REQUEST), "links", models_links(model_id));
        http_reply_json_take(rep, 200, o);
        http_reply_header(rep, "Cache-Control", "no-store");
    }
    PQclear(res);
}

/* ---- GET /models/{id}/report and artifacts ------------------------------------------------ */

void api_models_report(const struct http_request *req, struct http_reply *rep)
{
    int64_t model_id;
    char id[24];
    if (models_require(req, rep, &model_id) < 0)
        return;
    snprintf(id, sizeof id, "%" PRId64, model_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read(&conn, rep, MODELS_SQL_REPORT, 1, args, DBX_BINARY);
    if (!res)
        return;
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "model %s has no training report", id);
    } else {
        size_t len = (size_t)PQgetlength(res, 0, 0);
        char *copy = mem_alloc(len ? len : 1);
        memcpy(copy, PQgetvalue(res, 0, 0), len);
        http_reply_bytes_take(rep, 200, "text/markdown; charset=utf-8", copy, len);
        http_reply_header(rep, "Content-Disposition", "inline; filename=\"ml_training_report.md\"");
    }
    PQclear(res);
}

void api_models_artifact(const struct http_request *req, struct http_reply *rep)
{
    int64_t model_id;
    if (models_require(req, rep, &model_id) < 0)
        return;
    artifacts_reply(req, rep, model_id, http_param(req, "name"));
}

void models_reply_model_json(const struct http_request *req, struct http_reply *rep, int64_t run_id,
                             const char *filename)
{
    char id[24], disposition[192];
    snprintf(id, sizeof id, "%" PRId64, run_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read(&conn, rep, MODELS_SQL_BYTES, 1, args, DBX_BINARY);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "model %s was deleted", id);
    } else {
        size_t len = (size_t)PQgetlength(res, 0, 0);
        char *copy = mem_alloc(len ? len : 1);
        memcpy(copy, PQgetvalue(res, 0, 0), len);
        http_reply_bytes_take(rep, 200, "application/json", copy, len);
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
        http_reply_header(rep, "Content-Disposition", disposition);
    }
    PQclear(res);
}

/* ---- POST /models/{id}/predict ------------------------------------------------------------- */

/* The rows of a predict body: a JSON array, or {"rows": [...]}. NULL after
 * replying 400 / 413. */
static json_t *models_predict_rows(const struct http_request *req, struct http_reply *rep)
{
    json_t *body = req->body, *rows = body;
    if (json_is_object(body)) {
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            if (strcmp(key, "rows") != 0) {
                params_reply_invalid(rep, key, "unknown field (the body is [rows...] or {\"rows\": [...]})");
                return NULL;
            }
        }
        rows = json_object_get(body, "rows");
    }
    if (!json_is_array(rows)) {
        params_reply_invalid(rep, body && json_is_object(body) ? "rows" : "body",
                             "must be an array of feature objects {\"ret_1\": x, ...}");
        return NULL;
    }
    if (json_array_size(rows) == 0) {
        params_reply_invalid(rep, "rows", "must hold at least one row");
        return NULL;
    }
    if (json_array_size(rows) > MODELS_PREDICT_MAX_ROWS) {
        http_reply_error(rep, PROBLEM_PAYLOAD_TOO_LARGE, "%zu rows; at most %d rows per request",
                         json_array_size(rows), MODELS_PREDICT_MAX_ROWS);
        return NULL;
    }
    return rows;
}

/* Every row's ten features into X (row-major float32). 0, or -1 after
 * replying 400 listing the bad fields (rows[i].name). */
static int models_predict_matrix(struct http_reply *rep, json_t *rows, float *X)
{
    struct problem p;
    size_t i, bad = 0;
    json_t *row;
    problem_set(&p, PROBLEM_VALIDATION, NULL);
    json_array_foreach(rows, i, row) {
        char field[64];
        if (!json_is_object(row)) {
            snprintf(field, sizeof field, "rows[%zu]", i);
            problem_add_error(&p, field, "must be an object of the ten features");
            bad++;
            continue;
        }
        const char *key;
        json_t *v;
        json_object_foreach(row, key, v) {
            size_t k = 0;
            while (k < ML_N_FEATURES && strcmp(ml_feature_names[k], key) != 0)
                k++;
            if (k == ML_N_FEATURES) {
                snprintf(field, sizeof field, "rows[%zu].%.32s", i, key);
                problem_add_error(&p, field, "unknown feature");
                bad++;
            }
        }
        for (size_t k = 0; k < ML_N_FEATURES; k++) {
            v = json_object_get(row, ml_feature_names[k]);
            snprintf(field, sizeof field, "rows[%zu].%s", i, ml_feature_names[k]);
            double x = v && json_is_number(v) ? json_number_value(v) : NAN;
            if (!v) {
                problem_add_error(&p, field, "is required");
                bad++;
            } else if (!json_is_number(v)) {
                problem_add_error(&p, field, "must be a number");
                bad++;
            } else if (!isfinite(x) || fabs(x) > FLT_MAX) {
                problem_add_error(&p, field, "must be a finite number within float32 range");
                bad++;
            } else {
                X[i * ML_N_FEATURES + k] = (float)x;
            }
        }
    }
    if (!bad)
        return 0;
    snprintf(p.detail, sizeof p.detail, "%zu invalid feature value%s: %s: %s%s", bad, bad == 1 ? "" : "s",
             p.errors[0].field, p.errors[0].message, bad > 1 ? " (and more in errors[])" : "");
    http_reply_problem(rep, &p);
    return -1;
}

struct models_fetch {
    const struct http_request *req;
    int64_t id;
};

/* modelcache_fetch_fn: the model bytes from this thread's connection. */
static int models_fetch_bytes(void *ud, char **bytes, size_t *len, tb_error *err)
{
    const struct models_fetch *f = ud;
    const struct api_context *app = f->req->app;
    char id[24], e[512];
    snprintf(id, sizeof id, "%" PRId64, f->id);
    const char *args[1] = { id };
    PGconn *conn = db_thread_conn(app->settings->database_url, "tradebench-server", e, sizeof e);
    PGresult *res = conn ? PQexecParams(conn, MODELS_SQL_BYTES, 1, NULL, args, NULL, NULL, 1) : NULL;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        tb_fail(err, TB_EIO, "reading model %s: %s", id,
                res ? (PQntuples(res) == 0 ? "deleted" : PQresultErrorMessage(res)) : e);
        PQclear(res);
        return -1;
    }
    *len = (size_t)PQgetlength(res, 0, 0);
    *bytes = mem_alloc(*len + 1);
    memcpy(*bytes, PQgetvalue(res, 0, 0), *len);
    (*bytes)[*len] = '\0';
    PQclear(res);
    return 0;
}

void api_models_predict(const struct http_request *req, struct http_reply *rep)
{
    const struct api_context *app = req->app;
    int64_t model_id;
    if (models_require(req, rep, &model_id) < 0)
        return;
    json_t *rows = models_predict_rows(req, rep);
    if (!rows)
        return;
    size_t n = json_array_size(rows);
    float *X = mem_alloc(n * ML_N_FEATURES * sizeof *X);
    double *prob = NULL;
    if (models_predict_matrix(rep, rows, X) < 0)
        goto out;
    prob = mem_alloc(n * sizeof *prob);
    struct models_fetch f = { req, model_id };
    tb_error err = { 0 };
    int hit = 0;
    if (modelcache_predict(app->models, model_id, X, n, prob, models_fetch_bytes, &f, &hit, &err) < 0) {
        log_error("model %" PRId64 ": prediction failed: %s", model_id, err.msg);
        http_reply_error(rep, err.code == TB_EIO ? PROBLEM_DB_UNAVAILABLE : PROBLEM_INTERNAL,
                         "model %" PRId64 ": %s", model_id, err.msg);
        goto out;
    }
    json_t *p = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(p, json_real(prob[i]));
    http_reply_json_take(rep, 200, json_pack("{s:I, s:I, s:o}", "model_id", (json_int_t)model_id, "n",
                                             (json_int_t)n, "probabilities", p));
    http_reply_header(rep, "X-Model-Cache", hit ? "hit" : "miss");
out:
    free(X);
    free(prob);
}

/* ---- DELETE /models/{id} ------------------------------------------------------------------------- */

void api_models_delete(const struct http_request *req, struct http_reply *rep)
{
    const struct api_context *app = req->app;
    int64_t model_id;
    char id[24];
    PGresult *res = NULL;
    if (params_id(req, rep, "id", &model_id) < 0)
        return;
    snprintf(id, sizeof id, "%" PRId64, model_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn || dbx_begin(conn, rep) < 0)
        return;
    res = dbx_tx_exec(conn, rep, MODELS_SQL_LOCK, 1, args, PGRES_TUPLES_OK);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        dbx_rollback(conn);
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no model with id %s", id);
        goto out;
    }
    PQclear(res);
    res = dbx_tx_exec(conn, rep, MODELS_SQL_USERS, 1, args, PGRES_TUPLES_OK);
    if (!res)
        return;
    if (PQntuples(res) > 0) {
        dbx_rollback(conn);
        http_reply_error(rep, PROBLEM_CONFLICT,
                         "model %s is used by backtest run %s, which is queued or running; retry when it "
                         "has finished (or cancel it)",
                         id, PQgetvalue(res, 0, 0));
        goto out;
    }
    PQclear(res);
    res = dbx_tx_exec(conn, rep, MODELS_SQL_DELETE, 1, args, PGRES_COMMAND_OK);
    if (!res)
        return;
    if (dbx_commit(conn, rep) < 0)
        goto out;
    modelcache_forget(app->models, model_id);
    http_reply_static(rep, 204, NULL, "", 0);
out:
    PQclear(res);
}

/* ---- meta_filter check -------------------------------------------------------------------------- */

int models_check_meta_filter(const struct http_request *req, struct http_reply *rep,
                             const tb_jobspec *spec, const char *field_prefix)
{
    char id[24], field[96];
    if (spec->bt.meta.model_id <= 0)
        return 0;
    snprintf(id, sizeof id, "%" PRId64, spec->bt.meta.model_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return -1;
    PGresult *res = dbx_read_prepared(&conn, rep, MODELS_SQL_EXISTS, 1, args, DBX_TEXT);
    if (!res)
        return -1;
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (found)
        return 0;
    snprintf(field, sizeof field, "%smeta_filter.model_id", field_prefix);
    params_reply_invalid(rep, field, "no model with id %s (see GET /models)", id);
    return -1;
}
