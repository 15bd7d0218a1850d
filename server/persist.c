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
    "     m AS (DELETE FROM metrics WHERE run_id = $1)"
    " DELETE FROM artifacts WHERE run_id = $1";

static const char PERSIST_SQL_COPY_ORDERS[] =
    "COPY orders (run_id, seq, ts, symbol, side, quantity, price, notional, cost)"
    " FROM STDIN (FORMAT binary)";
static const char PERSIST_SQL_COPY_EQUITY[] =
    "COPY equity_points (run_id, ts, equity, cash, exposure, drawdown, ret)"
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

    /* The stored iteration's profile, persist included (up to here). */
    *persist_s = persist_now() - t0;
    log_debug("run %s persist: lock %.1f ms, clear %.1f ms, orders %.1f ms, rest %.1f ms", id,
              (t_lock - t0) * 1e3, (t_clear - t_lock) * 1e3, (t_orders - t_clear) * 1e3,
              (t0 + *persist_s - t_orders) * 1e3);
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
