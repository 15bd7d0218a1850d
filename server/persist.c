/*
 * persist — the results transaction (see persist.h).
 * Orders, equity points and metrics go through COPY ... FROM STDIN in binary
 * format: the child already wrote the complete streams (IEEE-754 doubles,
 * bit-exact), so the parent forwards bytes it never parses. Artifact bytes
 * travel as binary bytea parameters. Any failure rolls the whole
 * transaction back; the caller decides what becomes of the run.
 */
#include "persist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "logger.h"

static const char PERSIST_SQL_LOCK[] =
    "SELECT cancel_requested FROM runs"
    " WHERE id = $1 AND worker_id = $2 AND attempts = $3::int AND status = 'running'"
    " FOR UPDATE";

static const char PERSIST_SQL_CLEAR[] =
    "WITH o AS (DELETE FROM orders WHERE run_id = $1),"
    "     e AS (DELETE FROM equity_points WHERE run_id = $1),"
    "     m AS (DELETE FROM metrics WHERE run_id = $1),"
    "     d AS (DELETE FROM datasets WHERE run_id = $1)," /* cascades to dataset_rows and models */
    "     x AS (DELETE FROM models WHERE run_id = $1),"
    "     w AS (DELETE FROM sweeps WHERE run_id = $1)" /* cascades to sweep_members */
    " DELETE FROM artifacts WHERE run_id = $1";

/* A sweep's rows from the child's "sweep" JSON section ($2): the sweeps row,
 * then one sweep_members row per ranked member. Numbers travel as JSON text
 * with 17 significant digits, so the float8 columns get the engine's doubles. */
static const char PERSIST_SQL_SWEEP[] =
    "INSERT INTO sweeps (run_id, strategy, freq, grid, n_combinations, n_members, n_skipped, skip_reason,"
    "                    threads, members_seconds, n_symbols, n_bars, first_ts, last_ts)"
    " SELECT $1::bigint, d->>'strategy', d->>'freq', d->'grid', (d->>'combinations')::int,"
    "        (d->>'members')::int, (d->>'skipped')::int, d->>'skip_reason', (d->>'threads')::int,"
    "        (d->>'members_seconds')::float8, (d->>'symbols')::int, (d->>'bars')::int,"
    "        to_timestamp((d->>'first_unix')::bigint), to_timestamp((d->>'last_unix')::bigint)"
    "   FROM (SELECT $2::jsonb AS d) s";

static const char PERSIST_SQL_SWEEP_MEMBERS[] =
    "INSERT INTO sweep_members (run_id, member, rank, params, metrics, sharpe, cagr, max_drawdown, turnover,"
    "                           total_return, n_orders)"
    " SELECT $1::bigint, (e->>'member')::int, (e->>'rank')::int, e->'params', e->'metrics',"
    "        (e->>'sharpe')::float8, (e->>'cagr')::float8, (e->>'max_drawdown')::float8,"
    "        (e->>'turnover')::float8, (e->>'total_return')::float8, (e->>'n_orders')::int"
    "   FROM jsonb_array_elements($2::jsonb -> 'ranked') e";

/* A model training's rows: the dataset and the model share the run's id
 * (OVERRIDING SYSTEM VALUE; only this transaction inserts them), so the
 * child can write dataset_rows' dataset_id and clients use one number.
 * $2 is the child's "ml" JSON section. */
static const char PERSIST_SQL_DATASET[] =
    "INSERT INTO datasets (id, run_id, strategy, freq, params, n_rows, n_positive, first_ts, last_ts)"
    " OVERRIDING SYSTEM VALUE"
    " SELECT $1::bigint, $1::bigint, d->>'strategy', d->>'freq', d->'dataset'->'params',"
    "        (d->'dataset'->>'n_rows')::int, (d->'dataset'->>'n_positive')::int,"
    "        to_timestamp((d->'dataset'->>'first_ts')::bigint),"
    "        to_timestamp((d->'dataset'->>'last_ts')::bigint)"
    "   FROM (SELECT $2::jsonb AS d) s";

static const char PERSIST_SQL_COPY_DATASET[] =
    "COPY dataset_rows (dataset_id, seq, ts, symbol, ret_1, ret_5, ret_20, sma20_ratio, sma50_ratio,"
    " ema_spread, atr14_pct, rsi14, vol20, volume_ratio, label, t1, ret) FROM STDIN (FORMAT binary)";

static const char PERSIST_SQL_MODEL[] =
    "INSERT INTO models (id, run_id, dataset_id, strategy, freq, features, params, cv, importances,"
    "                    correlation, train_first_ts, train_last_ts, n_rows, model)"
    " OVERRIDING SYSTEM VALUE"
    " SELECT $1::bigint, $1::bigint, $1::bigint, d->>'strategy', d->>'freq',"
    "        ARRAY(SELECT jsonb_array_elements_text(d->'model'->'features')),"
    "        d->'model'->'params', d->'model'->'cv', d->'model'->'importances',"
    "        d->'model'->'correlation', to_timestamp((d->'model'->>'train_first_ts')::bigint),"
    "        to_timestamp((d->'model'->>'train_last_ts')::bigint), (d->'model'->>'n_rows')::int, $3::bytea"
    "   FROM (SELECT $2::jsonb AS d) s";

static const char PERSIST_SQL_COPY_ORDERS[] =
    "COPY orders (run_id, seq, ts, symbol, side, quantity, price, notional, cost)"
    " FROM STDIN (FORMAT binary)";
static const char PERSIST_SQL_COPY_EQUITY[] =
    "COPY equity_points (run_id, ts, equity, cash, exposure, drawdown, ret, benchmark)"
    " FROM STDIN (FORMAT binary)";
static const char PERSIST_SQL_COPY_METRICS[] =
    "COPY metrics (run_id, name, value) FROM STDIN (FORMAT binary)";

static const char PERSIST_SQL_ARTIFACT[] =
    "INSERT INTO artifacts (run_id, name, content_type, rows, bytes, content)"
    " VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::bytea)";

/* finished_at is the end of the work, not the transaction's start (now()). */
static const char PERSIST_SQL_SUCCEED[] =
    "UPDATE runs SET status = 'succeeded', progress = 1, stage = NULL, error = NULL,"
    "       finished_at = clock_timestamp(), heartbeat_at = now()"
    " WHERE id = $1 AND worker_id = $2 AND attempts = $3::int AND status = 'running'";

static double persist_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* COPY one section; 0 or -1 with err. */
static int persist_copy(PGconn *conn, const char *sql, const struct runexec_section *sec,
                        char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        db_error_copy(err, errlen, "COPY: ", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    int ok = 1;
    const size_t chunk = (size_t)1 << 20;
    for (size_t off = 0; ok && off < sec->len; off += chunk) {
        size_t n = sec->len - off < chunk ? sec->len - off : chunk;
        ok = PQputCopyData(conn, sec->data + off, (int)n) == 1;
    }
    if (PQputCopyEnd(conn, ok ? NULL : "sending COPY data failed") != 1)
        ok = 0;
    int rc = ok ? 0 : -1;
    if (!ok)
        db_error_copy(err, errlen, "COPY: ", PQerrorMessage(conn));
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            db_error_copy(err, errlen, "COPY: ", PQresultErrorMessage(res));
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

/* One artifact row; content may be NULL (rendered on request by the API). */
static int persist_artifact(PGconn *conn, const char *run_id, const char *name,
                            const char *content_type, long long rows,
                            const struct runexec_section *content, char *err, size_t errlen)
{
    char rows_s[32], bytes_s[32];
    snprintf(rows_s, sizeof rows_s, "%lld", rows);
    if (content)
        snprintf(bytes_s, sizeof bytes_s, "%zu", content->len);
    const char *values[6] = { run_id, name, content_type, rows >= 0 ? rows_s : NULL,
                              content ? bytes_s : NULL, content ? content->data : NULL };
    int lengths[6] = { 0, 0, 0, 0, 0, content ? (int)content->len : 0 };
    int formats[6] = { 0, 0, 0, 0, 0, 1 };
    if (content && !content->data)
        values[5] = ""; /* an empty artifact is still an artifact */
    PGresult *res = PQexecParams(conn, PERSIST_SQL_ARTIFACT, 6, NULL, values, lengths, formats, 0);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "artifact %s: ", name);
        db_error_copy(err, errlen, prefix, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static long long persist_count_lines(const struct runexec_section *s)
{
    long long n = 0;
    for (size_t i = 0; i < s->len; i++)
        n += s->data[i] == '\n';
    return n;
}

static void persist_rollback(PGconn *conn)
{
    char err[256];
    if (PQstatus(conn) == CONNECTION_OK && db_command(conn, "ROLLBACK", 0, NULL, err, sizeof err) < 0)
        log_warn("ROLLBACK failed: %s", err);
}

/* A model training's results: datasets row, dataset_rows (COPY), models
 * row with the model bytes, and the artifact rows — dataset_<s>_<f>.csv and
 * <s>_meta_model.json rendered on request from those rows, the report and
 * the small CSVs stored as the child wrote them. */
static int persist_ml(PGconn *conn, const char *id, const struct runexec_bundle *b, char *err,
                      size_t errlen)
{
    char name[160];
    char *doc = malloc(b->ml_doc.len + 1);
    if (!doc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(doc, b->ml_doc.data, b->ml_doc.len);
    doc[b->ml_doc.len] = '\0';
    const char *dargs[2] = { id, doc };
    int rc = db_command(conn, PERSIST_SQL_DATASET, 2, dargs, err, errlen);
    if (rc == 0)
        rc = persist_copy(conn, PERSIST_SQL_COPY_DATASET, &b->dataset, err, errlen);
    if (rc == 0) {
        const char *values[3] = { id, doc, b->model.data };
        int lengths[3] = { 0, 0, (int)b->model.len };
        int formats[3] = { 0, 0, 1 };
        PGresult *res = PQexecParams(conn, PERSIST_SQL_MODEL, 3, NULL, values, lengths, formats, 0);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            db_error_copy(err, errlen, "models: ", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
            rc = -1;
        }
        PQclear(res);
    }
    free(doc);
    if (rc < 0)
        return -1;
    snprintf(name, sizeof name, "dataset_%s_%s.csv", b->strategy, b->freq);
    if (persist_artifact(conn, id, name, "text/csv", b->n_rows, NULL, err, errlen) < 0)
        return -1;
    snprintf(name, sizeof name, "%s_meta_model.json", b->strategy);
    if (persist_artifact(conn, id, name, "application/json", -1, NULL, err, errlen) < 0 ||
        persist_artifact(conn, id, "ml_training_report.md", "text/markdown", -1, &b->report, err,
                         errlen) < 0 ||
        persist_artifact(conn, id, "cv_metrics.csv", "text/csv", persist_count_lines(&b->cv_metrics) - 1,
                         &b->cv_metrics, err, errlen) < 0 ||
        persist_artifact(conn, id, "cv_folds.csv", "text/csv", persist_count_lines(&b->cv_folds) - 1,
                         &b->cv_folds, err, errlen) < 0 ||
        persist_artifact(conn, id, "feature_importance.csv", "text/csv",
                         persist_count_lines(&b->importance) - 1, &b->importance, err, errlen) < 0)
        return -1;
    return 0;
}

/* A sweep's results: the sweeps and sweep_members rows, and its two
 * artifacts with the bytes the engine wrote. */
static int persist_sweep(PGconn *conn, const char *id, const struct runexec_bundle *b, char *err,
                         size_t errlen)
{
    char *doc = malloc(b->sweep_doc.len + 1);
    if (!doc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(doc, b->sweep_doc.data, b->sweep_doc.len);
    doc[b->sweep_doc.len] = '\0';
    const char *args[2] = { id, doc };
    int rc = db_command(conn, PERSIST_SQL_SWEEP, 2, args, err, errlen);
    if (rc == 0)
        rc = db_command(conn, PERSIST_SQL_SWEEP_MEMBERS, 2, args, err, errlen);
    free(doc);
    if (rc < 0)
        return -1;
    if (persist_artifact(conn, id, "sweep_results.csv", "text/csv", persist_count_lines(&b->sweep_csv) - 1,
                         &b->sweep_csv, err, errlen) < 0 ||
        persist_artifact(conn, id, "sweep_report.md", "text/markdown", -1, &b->report, err, errlen) < 0)
        return -1;
    return 0;
}

enum persist_outcome persist_run(PGconn *conn, const struct persist_input *in, double *persist_s,
                                 char *err, size_t errlen)
{
    const struct runexec_bundle *b = in->bundle;
    char id[24], att[16], name[64];
    double t0 = persist_now();
    PGresult *res = NULL;
    json_t *stages = NULL;
    char *stages_text = NULL;
    enum persist_outcome outcome = PERSIST_ERROR;
    snprintf(id, sizeof id, "%" PRId64, in->run_id);
    snprintf(att, sizeof att, "%d", in->attempt);
    const char *owner[] = { id, in->worker_id, att };
    const char *idp[] = { id };
    *persist_s = 0;

    if (db_command(conn, "BEGIN", 0, NULL, err, errlen) < 0)
        return PERSIST_ERROR;
    res = db_exec(conn, PERSIST_SQL_LOCK, 3, owner, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto rollback;
    if (PQntuples(res) == 0) {
        outcome = PERSIST_NOT_OURS;
        goto rollback;
    }
    if (PQgetvalue(res, 0, 0)[0] == 't') {
        outcome = PERSIST_CANCEL_PENDING;
        goto rollback;
    }
    PQclear(res);
    res = NULL;

    double t_lock = persist_now();
    if (db_command(conn, PERSIST_SQL_CLEAR, 1, idp, err, errlen) < 0)
        goto rollback;
    double t_clear = persist_now();
    if (b->ml) {
        if (persist_ml(conn, id, b, err, errlen) < 0)
            goto rollback;
        goto record;
    }
    if (b->sweep) {
        if (persist_sweep(conn, id, b, err, errlen) < 0)
            goto rollback;
        goto record;
    }
    if (persist_copy(conn, PERSIST_SQL_COPY_ORDERS, &b->orders, err, errlen) < 0)
        goto rollback;
    double t_orders = persist_now();
    if (in->inject_fault) {
        snprintf(err, errlen, "injected fault after the orders COPY (TB_FAULT_INJECT)");
        goto rollback;
    }
    if (persist_copy(conn, PERSIST_SQL_COPY_EQUITY, &b->equity, err, errlen) < 0 ||
        persist_copy(conn, PERSIST_SQL_COPY_METRICS, &b->metrics, err, errlen) < 0)
        goto rollback;

    snprintf(name, sizeof name, "orders_%s.csv", b->freq);
    if (persist_artifact(conn, id, name, "text/csv", b->n_orders, NULL, err, errlen) < 0)
        goto rollback;
    snprintf(name, sizeof name, "equity_curve_%s.csv", b->freq);
    if (persist_artifact(conn, id, name, "text/csv", b->n_equity, NULL, err, errlen) < 0)
        goto rollback;
    if (persist_artifact(conn, id, "metrics.json", "application/json", -1, NULL, err, errlen) < 0)
        goto rollback;
    snprintf(name, sizeof name, "performance_report_%s.md", b->freq);
    if (persist_artifact(conn, id, name, "text/markdown", -1, &b->report, err, errlen) < 0)
        goto rollback;
    if (b->targets.data) {
        long long rows = persist_count_lines(&b->targets) - 1; /* minus the header */
        snprintf(name, sizeof name, "targets_%s.csv", b->freq);
        if (persist_artifact(conn, id, name, "text/csv", rows < 0 ? 0 : rows, &b->targets, err,
                             errlen) < 0)
            goto rollback;
    }

    log_debug("run %s persist: lock %.1f ms, clear %.1f ms, orders %.1f ms, rest %.1f ms", id,
              (t_lock - t0) * 1e3, (t_clear - t_lock) * 1e3, (t_orders - t_clear) * 1e3,
              (persist_now() - t_orders) * 1e3);

record:
    /* The stored iteration's profile, persist included (up to here). */
    *persist_s = persist_now() - t0;
    struct queue_iteration it = in->iteration;
    it.wall_s += *persist_s;
    stages = in->stages ? json_deep_copy(in->stages) : json_array();
    json_array_append_new(stages, json_pack("{s:s, s:f}", "name", "persist", "wall_seconds",
                                            *persist_s));
    stages_text = json_dumps(stages, JSON_COMPACT | JSON_REAL_PRECISION(17));
    it.stages_json = stages_text;
    int rec = queue_record_iteration(conn, in->run_id, in->worker_id, in->attempt, &it, err, errlen);
    if (rec < 0)
        goto rollback;
    res = db_exec(conn, PERSIST_SQL_SUCCEED, 3, owner, PGRES_COMMAND_OK, err, errlen);
    if (!res)
        goto rollback;
    PQclear(res);
    res = NULL;
    if (db_command(conn, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out; /* a failed COMMIT has already ended the transaction */
    outcome = PERSIST_DONE;
    goto out;

rollback:
    persist_rollback(conn);
out:
    PQclear(res);
    json_decref(stages);
    free(stages_text);
    return outcome;
}
