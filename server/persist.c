/*
 * persist — the results transaction (see persist.h).
 * Orders, equity points and metrics go through COPY ... FROM STDIN in binary
 * format: the child already wrote the complete streams (IEEE-754 doubles,
 * bit-exact), so the parent forwards bytes it never parses. Artifact bytes
 * travel as binary bytea parameters. Any failure rolls the whole
 * transaction back; the caller decides what becomes of the run.
 * A sweep chunk's members travel as JSON with 17 significant digits (jsonb
 * keeps the decimal digits), so the last chunk's transaction reads back the
 * engine's doubles and renders the sweep's artifacts with the engine's own
 * writers, in this process — formatting only, no engine run.
 */
#include "persist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "engine/sweep.h"
#include "logger.h"
#include "mem.h"

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

/* Lock the run's row for this attempt (PERSIST_SQL_LOCK; owner = id,
 * worker id, attempt). 0 when the run is ours and not asked to cancel;
 * otherwise -1 with *outcome set to PERSIST_NOT_OURS or
 * PERSIST_CANCEL_PENDING, or left as it was on a database error (err filled). */
static int persist_lock_run(PGconn *conn, const char *const *owner, enum persist_outcome *outcome, char *err,
                            size_t errlen)
{
    PGresult *res = db_exec(conn, PERSIST_SQL_LOCK, 3, owner, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -1;
    int rc = -1;
    if (PQntuples(res) == 0)
        *outcome = PERSIST_NOT_OURS;
    else if (PQgetvalue(res, 0, 0)[0] == 't')
        *outcome = PERSIST_CANCEL_PENDING;
    else
        rc = 0;
    PQclear(res);
    return rc;
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

/* The stored iteration's profile (the persist stage appended, up to
 * now) and the run succeeded, both guarded by ownership (owner = id,
 * worker_id, attempt). 0, or -1 with err. */
static int persist_record_succeed(PGconn *conn, const struct persist_input *in, const char *const *owner,
                                  double t0, double *persist_s, char *err, size_t errlen)
{
    *persist_s = persist_now() - t0;
    struct queue_iteration it = in->iteration;
    it.wall_s += *persist_s;
    json_t *stages = in->stages ? json_deep_copy(in->stages) : json_array();
    json_array_append_new(stages, json_pack("{s:s, s:f}", "name", "persist", "wall_seconds",
                                            *persist_s));
    char *stages_text = json_dumps(stages, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(stages);
    it.stages_json = stages_text;
    int rc = queue_record_iteration(conn, in->run_id, in->worker_id, in->attempt, &it, err, errlen) < 0 ||
                     db_command(conn, PERSIST_SQL_SUCCEED, 3, owner, err, errlen) < 0
                 ? -1
                 : 0;
    free(stages_text);
    return rc;
}

enum persist_outcome persist_run(PGconn *conn, const struct persist_input *in, double *persist_s,
                                 char *err, size_t errlen)
{
    const struct runexec_bundle *b = in->bundle;
    char id[24], att[16], name[64];
    double t0 = persist_now();
    PGresult *res = NULL;
    enum persist_outcome outcome = PERSIST_ERROR;
    snprintf(id, sizeof id, "%" PRId64, in->run_id);
    snprintf(att, sizeof att, "%d", in->attempt);
    const char *owner[] = { id, in->worker_id, att };
    const char *idp[] = { id };
    *persist_s = 0;

    if (db_command(conn, "BEGIN", 0, NULL, err, errlen) < 0)
        return PERSIST_ERROR;
    if (persist_lock_run(conn, owner, &outcome, err, errlen) < 0)
        goto rollback;

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
    if (persist_record_succeed(conn, in, owner, t0, persist_s, err, errlen) < 0)
        goto rollback;
    if (db_command(conn, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out; /* a failed COMMIT has already ended the transaction */
    outcome = PERSIST_DONE;
    goto out;

rollback:
    persist_rollback(conn);
out:
    PQclear(res);
    return outcome;
}

/* ---- sweep chunks ------------------------------------------------------------------- */

/* The sweep's row first: every transaction that locks a sweep and its
 * chunks does so in this order (the API's cancel, queue_settle_sweeps). */
static const char PERSIST_SQL_LOCK_SWEEP[] =
    "SELECT status FROM runs WHERE id = $1::bigint AND chunks IS NOT NULL FOR UPDATE";

static const char PERSIST_SQL_CHUNK_CLEAR[] =
    "DELETE FROM sweep_members WHERE run_id = $1::bigint AND chunk_id = $2::bigint";

/* The sweep's sweeps row from the first chunk stored (every chunk expands
 * the same grid over the same data, so any of them knows these values);
 * threads and members_seconds become the chunks' figures at the end. */
static const char PERSIST_SQL_CHUNK_SWEEP[] =
    "INSERT INTO sweeps (run_id, strategy, freq, grid, n_combinations, n_members, n_skipped, skip_reason,"
    "                    threads, members_seconds, n_symbols, n_bars, first_ts, last_ts)"
    " SELECT $1::bigint, d->>'strategy', d->>'freq', d->'grid', (d->>'combinations')::int,"
    "        (d->>'valid')::int, (d->>'skipped')::int, d->>'skip_reason', (d->>'threads')::int,"
    "        (d->>'members_seconds')::float8, (d->>'symbols')::int, (d->>'bars')::int,"
    "        to_timestamp((d->>'first_unix')::bigint), to_timestamp((d->>'last_unix')::bigint)"
    "   FROM (SELECT $2::jsonb AS d) s"
    " ON CONFLICT (run_id) DO NOTHING";

/* The chunk's members as rows of the sweep ($1), unranked, tagged with the chunk ($3). */
static const char PERSIST_SQL_CHUNK_MEMBERS[] =
    "INSERT INTO sweep_members (run_id, member, rank, params, metrics, sharpe, cagr, max_drawdown, turnover,"
    "                           total_return, n_orders, chunk_id)"
    " SELECT $1::bigint, (e->>'member')::int, NULL, e->'params', e->'metrics',"
    "        (e->>'sharpe')::float8, (e->>'cagr')::float8, (e->>'max_drawdown')::float8,"
    "        (e->>'turnover')::float8, (e->>'total_return')::float8, (e->>'n_orders')::int, $3::bigint"
    "   FROM jsonb_array_elements($2::jsonb -> 'ranked') e";

static const char PERSIST_SQL_CHUNK_TIMING[] =
    "UPDATE sweep_chunks SET threads = (d->>'threads')::int, members_seconds = (d->>'members_seconds')::float8,"
    "       total_seconds = (d->>'total_seconds')::float8, stages = d->'stages'"
    "  FROM (SELECT $2::jsonb AS d) s WHERE run_id = $1::bigint";

/* Chunks not yet succeeded (this one counts as succeeded: its UPDATE came first), and all. */
static const char PERSIST_SQL_CHUNKS_LEFT[] =
    "SELECT count(*) FILTER (WHERE status <> 'succeeded'), count(*) FROM runs WHERE parent_id = $1::bigint";

/* Never heartbeat_at: the sweep's row has no worker, and the stale-run
 * reaper only looks at running rows with a heartbeat. */
static const char PERSIST_SQL_SWEEP_PROGRESS[] =
    "UPDATE runs SET progress = $2::float8, stage = $3, status = 'running',"
    "       started_at = coalesce(started_at, now())"
    " WHERE id = $1::bigint AND status IN ('queued', 'running')";

/* ---- the last chunk: the sweep's finalisation ---- */

static const char PERSIST_SQL_SWEEP_MEMBERS_READ[] =
    "SELECT member, metrics::text FROM sweep_members WHERE run_id = $1::bigint ORDER BY member";

/* The chunks' figures: largest thread count, summed member and engine
 * seconds, chunk count, distinct workers, first claim (the sweep's
 * started_at) to now. */
static const char PERSIST_SQL_SWEEP_CHUNKS_SUM[] =
    "SELECT coalesce(max(sc.threads), 1), coalesce(sum(sc.members_seconds), 0),"
    "       coalesce(sum(sc.total_seconds), 0), count(*), count(DISTINCT c.worker_id),"
    "       greatest(extract(epoch FROM clock_timestamp()"
    "                - coalesce((SELECT started_at FROM runs WHERE id = $1::bigint), min(c.started_at))), 0)::float8"
    "  FROM sweep_chunks sc JOIN runs c ON c.id = sc.run_id WHERE sc.parent_id = $1::bigint";

/* The engine stages summed over the chunks, in the order they ran. */
static const char PERSIST_SQL_SWEEP_STAGES[] =
    "SELECT e->>'name', sum((e->>'wall_seconds')::float8), min(k)"
    "  FROM sweep_chunks sc, jsonb_array_elements(coalesce(sc.stages, '[]')) WITH ORDINALITY AS a(e, k)"
    " WHERE sc.parent_id = $1::bigint GROUP BY 1 ORDER BY 3, 1";

static const char PERSIST_SQL_SWEEP_RANKS[] =
    "UPDATE sweep_members m SET rank = u.rank FROM unnest($2::int[], $3::int[]) AS u(member, rank)"
    " WHERE m.run_id = $1::bigint AND m.member = u.member";

static const char PERSIST_SQL_SWEEP_FINAL[] =
    "UPDATE sweeps SET threads = $2::int, members_seconds = $3::float8 WHERE run_id = $1::bigint";

static const char PERSIST_SQL_SWEEP_CLEAR[] =
    "WITH i AS (DELETE FROM run_iterations WHERE run_id = $1::bigint)"
    " DELETE FROM artifacts WHERE run_id = $1::bigint";

/* The sweep's profile: one iteration, first claim to now, with its chunks'
 * CPU time summed and their largest peak memory. */
static const char PERSIST_SQL_SWEEP_ITERATION[] =
    "INSERT INTO run_iterations (run_id, iteration, wall_seconds, cpu_seconds, peak_rss_bytes, stages,"
    "                            started_at, finished_at)"
    " SELECT $1::bigint, 1, $2::float8, coalesce(sum(i.cpu_seconds), 0), coalesce(max(i.peak_rss_bytes), 0),"
    "        $3::jsonb, (SELECT started_at FROM runs WHERE id = $1::bigint), clock_timestamp()"
    "   FROM runs c JOIN run_iterations i ON i.run_id = c.id WHERE c.parent_id = $1::bigint";

static const char PERSIST_SQL_SWEEP_SUCCEED[] =
    "UPDATE runs SET status = 'succeeded', progress = 1, stage = NULL, error = NULL,"
    "       started_at = coalesce(started_at, now()), finished_at = clock_timestamp()"
    " WHERE id = $1::bigint AND status IN ('queued', 'running')";

/* A memstream's bytes as a section (owned by the caller: free(data)). */
static int persist_mem_close(FILE *f, char **data, size_t *len, struct runexec_section *sec)
{
    int bad = ferror(f) != 0;
    if (fclose(f) != 0)
        bad = 1;
    sec->data = *data;
    sec->len = *len;
    return bad ? -1 : 0;
}

/* Two memstreams: *f over (*a, *alen), *g over (*b, *blen). 0, or -1 with
 * neither open and err saying "out of memory". */
static int persist_mem_open2(FILE **f, char **a, size_t *alen, FILE **g, char **b, size_t *blen, char *err,
                             size_t errlen)
{
    *f = open_memstream(a, alen);
    *g = *f ? open_memstream(b, blen) : NULL;
    if (*g)
        return 0;
    if (*f)
        fclose(*f);
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* Rank every member of the sweep and render its artifacts (see
 * persist_chunk). doc is the last chunk's "sweep" JSON: the data's shape
 * (symbols, bars, range, frequency) every chunk shares. */
static int persist_sweep_finalise(PGconn *conn, const char *sweep_id, const struct persist_input *in,
                                  const json_t *doc, char *err, size_t errlen)
{
    const char *idp[] = { sweep_id };
    tb_sweep_result r;
    tb_error terr;
    PGresult *res = NULL;
    char *csv = NULL, *md = NULL, *ids = NULL, *ranks = NULL, *stages_text = NULL;
    size_t csv_len = 0, md_len = 0, ids_len = 0, ranks_len = 0;
    json_t *stages = NULL;
    int rc = -1;
    tb_error_clear(&terr);
    if (sweep_plan(&in->spec->bt.strategy, &in->spec->grid, &r, &terr) < 0) {
        snprintf(err, errlen, "sweep %s: the grid does not expand: %s", sweep_id, terr.msg);
        return -1;
    }

    /* every valid member exactly once, in grid order like the plan's */
    res = db_exec(conn, PERSIST_SQL_SWEEP_MEMBERS_READ, 1, idp, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto out;
    if ((size_t)PQntuples(res) != r.n_members) {
        snprintf(err, errlen, "sweep %s: %d members stored by its chunks, the grid has %zu valid ones",
                 sweep_id, PQntuples(res), r.n_members);
        goto out;
    }
    for (size_t j = 0; j < r.n_members; j++) {
        int row = (int)j;
        long long member = strtoll(PQgetvalue(res, row, 0), NULL, 10);
        if (member != (long long)r.members[j].combo) {
            snprintf(err, errlen, "sweep %s: stored member %lld where the grid has %zu", sweep_id, member,
                     r.members[j].combo);
            goto out;
        }
        json_t *mj = json_loads(PQgetvalue(res, row, 1), 0, NULL);
        if (!json_is_object(mj)) {
            json_decref(mj);
            snprintf(err, errlen, "sweep %s: member %lld has unreadable metrics", sweep_id, member);
            goto out;
        }
        sweep_metrics_from_json(mj, &r.members[j].metrics);
        json_decref(mj);
    }
    PQclear(res);

    /* the chunks' figures and stages */
    res = db_exec(conn, PERSIST_SQL_SWEEP_CHUNKS_SUM, 1, idp, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto out;
    r.threads = atoi(PQgetvalue(res, 0, 0));
    r.members_s = strtod(PQgetvalue(res, 0, 1), NULL);
    r.total_s = strtod(PQgetvalue(res, 0, 2), NULL);
    r.n_chunks = (size_t)strtoull(PQgetvalue(res, 0, 3), NULL, 10);
    r.n_workers = (size_t)strtoull(PQgetvalue(res, 0, 4), NULL, 10);
    r.chunks_wall_s = strtod(PQgetvalue(res, 0, 5), NULL);
    PQclear(res);
    res = db_exec(conn, PERSIST_SQL_SWEEP_STAGES, 1, idp, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto out;
    stages = json_array();
    for (int k = 0; k < PQntuples(res) && r.stages.n < TB_MAX_STAGES; k++) {
        tb_stage_time *st = &r.stages.s[r.stages.n++];
        snprintf(st->name, sizeof st->name, "%s", PQgetvalue(res, k, 0));
        st->wall_s = strtod(PQgetvalue(res, k, 1), NULL);
        json_array_append_new(stages, json_pack("{s:s, s:f}", "name", st->name, "wall_seconds", st->wall_s));
    }
    PQclear(res);
    res = NULL;

    /* what the engine's one call would have produced */
    const char *freq = json_string_value(json_object_get(doc, "freq"));
    if (!freq || tb_freq_parse(freq, &r.freq) != 0) {
        snprintf(err, errlen, "sweep %s: the chunk's results name no frequency", sweep_id);
        goto out;
    }
    r.n_symbols = (size_t)json_integer_value(json_object_get(doc, "symbols"));
    r.T = (size_t)json_integer_value(json_object_get(doc, "bars"));
    r.first_ts = json_integer_value(json_object_get(doc, "first_unix"));
    r.last_ts = json_integer_value(json_object_get(doc, "last_unix"));
    sweep_rank(&r);

    FILE *f, *g;
    if (persist_mem_open2(&f, &ids, &ids_len, &g, &ranks, &ranks_len, err, errlen) < 0)
        goto out;
    for (size_t j = 0; j < r.n_members; j++) {
        fprintf(f, "%s%zu", j ? "," : "{", r.members[j].combo);
        fprintf(g, "%s%zu", j ? "," : "{", r.members[j].rank);
    }
    fputc('}', f);
    fputc('}', g);
    struct runexec_section ids_sec, ranks_sec;
    int bad = persist_mem_close(f, &ids, &ids_len, &ids_sec) | persist_mem_close(g, &ranks, &ranks_len, &ranks_sec);
    if (bad) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const char *rargs[3] = { sweep_id, ids, ranks };
    char threads[16], members_s[32], wall[32];
    snprintf(threads, sizeof threads, "%d", r.threads);
    snprintf(members_s, sizeof members_s, "%.17g", r.members_s);
    snprintf(wall, sizeof wall, "%.17g", r.chunks_wall_s);
    const char *fargs[3] = { sweep_id, threads, members_s };
    stages_text = json_dumps(stages, JSON_COMPACT | JSON_REAL_PRECISION(17));
    const char *iargs[3] = { sweep_id, wall, stages_text };
    if (db_command(conn, PERSIST_SQL_SWEEP_RANKS, 3, rargs, err, errlen) < 0 ||
        db_command(conn, PERSIST_SQL_SWEEP_FINAL, 3, fargs, err, errlen) < 0 ||
        db_command(conn, PERSIST_SQL_SWEEP_CLEAR, 1, idp, err, errlen) < 0 ||
        db_command(conn, PERSIST_SQL_SWEEP_ITERATION, 3, iargs, err, errlen) < 0)
        goto out;

    /* the artifacts, by the engine's writers */
    struct runexec_section csv_sec, md_sec;
    if (persist_mem_open2(&f, &csv, &csv_len, &g, &md, &md_len, err, errlen) < 0)
        goto out;
    bad = sweep_write_csv(f, &r) | sweep_write_report(g, &r, &in->spec->bt);
    bad |= persist_mem_close(f, &csv, &csv_len, &csv_sec) | persist_mem_close(g, &md, &md_len, &md_sec);
    if (bad) {
        snprintf(err, errlen, "sweep %s: rendering its artifacts failed", sweep_id);
        goto out;
    }
    if (persist_artifact(conn, sweep_id, "sweep_results.csv", "text/csv", persist_count_lines(&csv_sec) - 1,
                         &csv_sec, err, errlen) < 0 ||
        persist_artifact(conn, sweep_id, "sweep_report.md", "text/markdown", -1, &md_sec, err, errlen) < 0)
        goto out;
    res = db_exec(conn, PERSIST_SQL_SWEEP_SUCCEED, 1, idp, PGRES_COMMAND_OK, err, errlen);
    if (!res)
        goto out;
    if (atoi(PQcmdTuples(res)) != 1) {
        snprintf(err, errlen, "sweep %s is no longer queued or running", sweep_id);
        goto out;
    }
    log_info("sweep %s succeeded: %zu members from %zu chunk runs on %zu worker(s), %.1f s from the first "
             "claim",
             sweep_id, r.n_members, r.n_chunks, r.n_workers, r.chunks_wall_s);
    rc = 0;
out:
    PQclear(res);
    json_decref(stages);
    free(stages_text);
    free(ids);
    free(ranks);
    free(csv);
    free(md);
    sweep_result_free(&r);
    return rc;
}

enum persist_outcome persist_chunk(PGconn *conn, const struct persist_input *in, double *persist_s,
                                   int *left, char *err, size_t errlen)
{
    const struct runexec_bundle *b = in->bundle;
    char id[24], att[16], sweep_id[24];
    double t0 = persist_now();
    PGresult *res = NULL;
    json_t *doc = NULL;
    char *doc_text = NULL;
    enum persist_outcome outcome = PERSIST_ERROR;
    snprintf(id, sizeof id, "%" PRId64, in->run_id);
    snprintf(att, sizeof att, "%d", in->attempt);
    snprintf(sweep_id, sizeof sweep_id, "%" PRId64, in->parent_id);
    const char *owner[] = { id, in->worker_id, att };
    const char *sweep_p[] = { sweep_id };
    *persist_s = 0;
    *left = -1;

    /* the chunk's results: its range, as claimed */
    json_error_t je;
    doc = b->sweep ? json_loadb(b->sweep_doc.data, b->sweep_doc.len, 0, &je) : NULL;
    json_t *ranked = json_object_get(doc, "ranked");
    size_t lo = in->spec->member_lo, hi = in->spec->member_hi;
    if (!json_is_array(ranked) || json_array_size(ranked) != hi - lo ||
        (size_t)json_integer_value(json_object_get(doc, "first_member")) != lo) {
        snprintf(err, errlen, "chunk %s: its results are not members %zu..%zu of sweep %s", id, lo, hi - 1,
                 sweep_id);
        json_decref(doc);
        return PERSIST_ERROR;
    }
    doc_text = mem_alloc(b->sweep_doc.len + 1);
    memcpy(doc_text, b->sweep_doc.data, b->sweep_doc.len);
    doc_text[b->sweep_doc.len] = '\0';

    if (db_command(conn, "BEGIN", 0, NULL, err, errlen) < 0)
        goto out;
    res = db_exec(conn, PERSIST_SQL_LOCK_SWEEP, 1, sweep_p, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto rollback;
    if (PQntuples(res) == 0) {
        outcome = PERSIST_NOT_OURS; /* deleted: its chunks went with it */
        goto rollback;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "queued") != 0 && strcmp(PQgetvalue(res, 0, 0), "running") != 0) {
        outcome = PERSIST_CANCEL_PENDING; /* cancelled, or failed by another chunk */
        goto rollback;
    }
    PQclear(res);
    res = NULL;
    if (persist_lock_run(conn, owner, &outcome, err, errlen) < 0)
        goto rollback;

    const char *clear[] = { sweep_id, id };
    const char *sweep_doc[] = { sweep_id, doc_text };
    const char *members[] = { sweep_id, doc_text, id };
    const char *timing[] = { id, doc_text };
    if (db_command(conn, PERSIST_SQL_CHUNK_CLEAR, 2, clear, err, errlen) < 0 ||
        db_command(conn, PERSIST_SQL_CHUNK_SWEEP, 2, sweep_doc, err, errlen) < 0 ||
        db_command(conn, PERSIST_SQL_CHUNK_MEMBERS, 3, members, err, errlen) < 0 ||
        db_command(conn, PERSIST_SQL_CHUNK_TIMING, 2, timing, err, errlen) < 0 ||
        persist_record_succeed(conn, in, owner, t0, persist_s, err, errlen) < 0)
        goto rollback;

    res = db_exec(conn, PERSIST_SQL_CHUNKS_LEFT, 1, sweep_p, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto rollback;
    int n_left = atoi(PQgetvalue(res, 0, 0)), n_all = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    res = NULL;
    if (n_left > 0) {
        char progress[32], stage[48];
        snprintf(progress, sizeof progress, "%.17g", n_all > 0 ? (double)(n_all - n_left) / n_all : 0.0);
        snprintf(stage, sizeof stage, "chunks %d/%d", n_all - n_left, n_all);
        const char *pargs[3] = { sweep_id, progress, stage };
        if (db_command(conn, PERSIST_SQL_SWEEP_PROGRESS, 3, pargs, err, errlen) < 0)
            goto rollback;
    } else if (persist_sweep_finalise(conn, sweep_id, in, doc, err, errlen) < 0) {
        goto rollback;
    }
    *persist_s = persist_now() - t0;
    if (db_command(conn, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out; /* a failed COMMIT has already ended the transaction */
    *left = n_left;
    outcome = PERSIST_DONE;
    goto out;

rollback:
    persist_rollback(conn);
out:
    PQclear(res);
    json_decref(doc);
    free(doc_text);
    return outcome;
}
