/*
 * queue — run-queue statements (see queue.h for the ownership rule).
 * Arrays travel as PostgreSQL array literals in one text parameter each
 * (unnest() on the server), so a tick is one round trip for all of a
 * worker's runs. Numbers are formatted with %.17g (exact) or as integers.
 */
#include "queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "logger.h"
#include "mem.h"

/* The kinds this worker executes: every kind there is, except a sweep
 * split into chunks (runs.chunks set), which no worker claims: its chunk
 * runs (kind sweep_chunk) are claimed instead, each with its member range. */
static const char QUEUE_SQL_CLAIM[] =
    "WITH c AS ("
    "  UPDATE runs SET status = 'running', worker_id = $1, started_at = now(),"
    "         heartbeat_at = now(), attempts = attempts + 1, progress = 0, stage = NULL,"
    "         error = NULL, finished_at = NULL"
    "   WHERE id = (SELECT id FROM runs WHERE status = 'queued'"
    "                  AND kind IN ('run', 'backtest', 'model', 'sweep', 'sweep_chunk') AND chunks IS NULL"
    "               ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1)"
    "     AND status = 'queued'"
    "  RETURNING id, kind, coalesce(job, '') AS job, params::text AS params, iterations,"
    "            attempts, max_attempts, coalesce(parent_id, 0) AS parent_id),"
    " d AS (DELETE FROM run_iterations WHERE run_id IN (SELECT id FROM c))"
    " SELECT c.id, c.kind, c.job, c.params, c.iterations, c.attempts, c.max_attempts, c.parent_id,"
    "        coalesce(sc.seq, 0), coalesce(sc.member_lo, 0), coalesce(sc.member_hi, 0)"
    "   FROM c LEFT JOIN sweep_chunks sc ON sc.run_id = c.id";

static const char QUEUE_SQL_SWEEP_STARTED[] =
    "UPDATE runs SET status = 'running', started_at = now(), stage = 'chunks'"
    " WHERE id = $1::bigint AND status = 'queued' AND chunks IS NOT NULL";

/* Split sweeps, still queued or running, with a failed or cancelled chunk
 * (a failed one named first): the sweep ends, its queued chunks are
 * cancelled, its running ones are asked to stop. The sweep's row is locked
 * first (this UPDATE), then its chunks' — the order of every transaction
 * that locks both (the API's cancel, the last chunk's results). */
static const char QUEUE_SQL_SETTLE[] =
    "WITH bad AS ("
    "  SELECT DISTINCT ON (c.parent_id) c.parent_id, c.id, c.status, c.error, sc.member_lo, sc.member_hi"
    "    FROM runs c JOIN sweep_chunks sc ON sc.run_id = c.id"
    "   WHERE c.parent_id IN (SELECT id FROM runs WHERE chunks IS NOT NULL"
    "                            AND status IN ('queued', 'running')"
    "                            AND ($1::bigint = 0 OR id = $1::bigint))"
    "     AND c.status IN ('failed', 'cancelled')"
    "   ORDER BY c.parent_id, c.status = 'failed' DESC, c.id),"
    " p AS ("
    "  UPDATE runs p SET status = CASE WHEN bad.status = 'failed' THEN 'failed' ELSE 'cancelled' END,"
    "         error = CASE WHEN bad.status = 'failed'"
    "                 THEN format('chunk %s (members %s..%s of the grid''s valid ones) failed: %s',"
    "                             bad.id, bad.member_lo, bad.member_hi - 1, coalesce(bad.error, 'no message'))"
    "                 END,"
    "         finished_at = now(), stage = NULL"
    "    FROM bad WHERE p.id = bad.parent_id AND p.status IN ('queued', 'running')"
    "  RETURNING p.id, p.status),"
    " q AS (UPDATE runs c SET status = 'cancelled', finished_at = now()"
    "        FROM p WHERE c.parent_id = p.id AND c.status = 'queued' RETURNING c.id),"
    " r AS (UPDATE runs c SET cancel_requested = true"
    "        FROM p WHERE c.parent_id = p.id AND c.status = 'running' AND NOT c.cancel_requested"
    "        RETURNING c.id)"
    " SELECT p.id, p.status, (SELECT count(*) FROM q), (SELECT count(*) FROM r) FROM p";

static const char QUEUE_SQL_NOTIFY_CANCEL[] = "SELECT pg_notify('" QUEUE_CHANNEL_CANCEL "', $1)";

/* The unranked members a settled sweep's stored chunks wrote. A statement of
 * its own after QUEUE_SQL_SETTLE, in its transaction: that statement's
 * snapshot predates its wait for the sweep's lock, so a chunk that committed
 * members while it waited would escape a DELETE inside it; this one sees
 * them, and no chunk stores more once the sweep is no longer running. */
static const char QUEUE_SQL_SETTLE_MEMBERS[] = "DELETE FROM sweep_members WHERE run_id = $1::bigint";

static const char QUEUE_SQL_TICK_WRITE[] =
    "UPDATE runs r SET heartbeat_at = now(), progress = u.progress,"
    "       stage = coalesce(u.stage, r.stage)"
    "  FROM unnest($2::bigint[], $3::int[], $4::float8[], $5::text[])"
    "       AS u(id, attempt, progress, stage)"
    " WHERE r.id = u.id AND r.attempts = u.attempt AND r.status = 'running' AND r.worker_id = $1"
    " RETURNING r.id, r.cancel_requested";

static const char QUEUE_SQL_TICK_READ[] =
    "SELECT r.id, r.cancel_requested FROM runs r"
    "  JOIN unnest($2::bigint[], $3::int[]) AS u(id, attempt)"
    "    ON r.id = u.id AND r.attempts = u.attempt"
    " WHERE r.status = 'running' AND r.worker_id = $1";

/* Rows another worker is finishing right now are locked: skipped, and a
 * heartbeat that commits first is re-checked (READ COMMITTED re-evaluates
 * the WHERE clause on the new row version) so a live run is never reaped.
 * The same statement counts the requeued and the lost runs in run_counters
 * (sql/008; GET /metrics), writing only when there are any. */
static const char QUEUE_SQL_REAP[] =
    "WITH stale AS ("
    "  SELECT id FROM runs"
    "   WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::int)"
    "   FOR UPDATE SKIP LOCKED),"
    " u AS (UPDATE runs r SET"
    "   status = CASE WHEN r.cancel_requested THEN 'cancelled'"
    "                 WHEN r.attempts < r.max_attempts THEN 'queued' ELSE 'failed' END,"
    "   error = CASE WHEN NOT r.cancel_requested AND r.attempts >= r.max_attempts"
    "                THEN format('worker lost after %s attempts (worker %s stopped heartbeating)',"
    "                            r.attempts, r.worker_id)"
    "                ELSE r.error END,"
    "   finished_at = CASE WHEN r.cancel_requested OR r.attempts >= r.max_attempts"
    "                      THEN now() END,"
    "   started_at = CASE WHEN r.cancel_requested OR r.attempts >= r.max_attempts"
    "                     THEN r.started_at END,"
    "   worker_id = CASE WHEN r.cancel_requested OR r.attempts >= r.max_attempts"
    "                    THEN r.worker_id END,"
    "   progress = CASE WHEN r.cancel_requested OR r.attempts >= r.max_attempts"
    "                   THEN r.progress ELSE 0 END,"
    "   stage = CASE WHEN r.cancel_requested OR r.attempts >= r.max_attempts"
    "                THEN r.stage END,"
    "   heartbeat_at = CASE WHEN r.cancel_requested OR r.attempts >= r.max_attempts"
    "                       THEN r.heartbeat_at END"
    "  FROM stale WHERE r.id = stale.id AND r.status = 'running'"
    "  RETURNING r.id, r.status, r.attempts),"
    " n AS (UPDATE run_counters k SET value = k.value + c.n"
    "        FROM (SELECT CASE WHEN status = 'queued' THEN 'runs_requeued' ELSE 'runs_worker_lost' END"
    "                     AS name, count(*) AS n FROM u WHERE status IN ('queued', 'failed') GROUP BY 1) c"
    "       WHERE k.name = c.name)"
    " SELECT id, status, attempts FROM u";

static const char QUEUE_SQL_NOTIFY[] = "SELECT pg_notify('" QUEUE_CHANNEL_RUNS "', $1)";

#define QUEUE_OWNED "id = $1 AND worker_id = $2 AND attempts = $3::int AND status = 'running'"

static const char QUEUE_SQL_FAIL[] =
    "UPDATE runs SET status = 'failed', error = $4, finished_at = now(), heartbeat_at = now()"
    " WHERE " QUEUE_OWNED;

static const char QUEUE_SQL_CANCELLED[] =
    "UPDATE runs SET status = 'cancelled', finished_at = now(), heartbeat_at = now()"
    " WHERE " QUEUE_OWNED;

static const char QUEUE_SQL_RELEASE[] =
    "UPDATE runs SET"
    "   status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,"
    "   attempts = CASE WHEN cancel_requested THEN attempts ELSE greatest(attempts - 1, 0) END,"
    "   worker_id = CASE WHEN cancel_requested THEN worker_id END,"
    "   started_at = CASE WHEN cancel_requested THEN started_at END,"
    "   finished_at = CASE WHEN cancel_requested THEN now() END,"
    "   heartbeat_at = CASE WHEN cancel_requested THEN now() END,"
    "   progress = CASE WHEN cancel_requested THEN progress ELSE 0 END,"
    "   stage = CASE WHEN cancel_requested THEN stage END"
    " WHERE " QUEUE_OWNED
    " RETURNING status";

static const char QUEUE_SQL_ITERATION[] =
    "INSERT INTO run_iterations (run_id, iteration, wall_seconds, cpu_seconds, peak_rss_bytes,"
    "                            stages, started_at, finished_at, hotspots)"
    " SELECT $1::bigint, $4::int, $5::float8, $6::float8, $7::bigint, $8::jsonb,"
    "        to_timestamp($9::float8), to_timestamp($10::float8), $11::jsonb"
    "  WHERE EXISTS (SELECT 1 FROM runs WHERE " QUEUE_OWNED ")"
    " ON CONFLICT (run_id, iteration) DO UPDATE SET wall_seconds = EXCLUDED.wall_seconds,"
    "   cpu_seconds = EXCLUDED.cpu_seconds, peak_rss_bytes = EXCLUDED.peak_rss_bytes,"
    "   stages = EXCLUDED.stages, started_at = EXCLUDED.started_at,"
    "   finished_at = EXCLUDED.finished_at, hotspots = EXCLUDED.hotspots";

int queue_listen(PGconn *conn, char *err, size_t errlen)
{
    if (db_command(conn, "LISTEN " QUEUE_CHANNEL_RUNS, 0, NULL, err, errlen) < 0 ||
        db_command(conn, "LISTEN " QUEUE_CHANNEL_CANCEL, 0, NULL, err, errlen) < 0)
        return -1;
    return 0;
}

static void queue_copy(char *dst, size_t dstlen, const char *src)
{
    snprintf(dst, dstlen, "%s", src ? src : "");
}

int queue_claim(PGconn *conn, const char *worker_id, struct queue_claim *out, char *err,
                size_t errlen)
{
    const char *params[] = { worker_id };
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(conn, QUEUE_SQL_CLAIM, 1, params, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    out->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    queue_copy(out->kind, sizeof out->kind, PQgetvalue(res, 0, 1));
    queue_copy(out->job, sizeof out->job, PQgetvalue(res, 0, 2));
    out->params = mem_strdup(PQgetvalue(res, 0, 3));
    out->iterations = atoi(PQgetvalue(res, 0, 4));
    out->attempt = atoi(PQgetvalue(res, 0, 5));
    out->max_attempts = atoi(PQgetvalue(res, 0, 6));
    out->parent_id = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
    out->chunk_seq = atoi(PQgetvalue(res, 0, 8));
    out->member_lo = atoi(PQgetvalue(res, 0, 9));
    out->member_hi = atoi(PQgetvalue(res, 0, 10));
    PQclear(res);
    return 1;
}

int queue_sweep_started(PGconn *conn, int64_t parent_id, char *err, size_t errlen)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, parent_id);
    const char *params[] = { ids };
    return db_command(conn, QUEUE_SQL_SWEEP_STARTED, 1, params, err, errlen) < 0 ? -1 : 0;
}

int queue_settle_sweeps(PGconn *conn, int64_t parent_id, int *settled, char *err, size_t errlen)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, parent_id);
    const char *params[] = { ids };
    if (settled)
        *settled = 0;
    if (db_command(conn, "BEGIN", 0, NULL, err, errlen) < 0)
        return -1;
    PGresult *res = db_exec(conn, QUEUE_SQL_SETTLE, 1, params, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto rollback;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        const char *np[] = { id };
        if (db_command(conn, QUEUE_SQL_SETTLE_MEMBERS, 1, np, err, errlen) < 0)
            goto rollback;
        /* delivered at COMMIT, with the sweep's new state */
        if (atoi(PQgetvalue(res, r, 3)) > 0 &&
            db_command(conn, QUEUE_SQL_NOTIFY_CANCEL, 1, np, err, errlen) < 0)
            goto rollback;
    }
    if (db_command(conn, "COMMIT", 0, NULL, err, errlen) < 0)
        goto fail; /* a failed COMMIT has already ended the transaction */
    for (int r = 0; r < PQntuples(res); r++)
        log_warn("sweep %s %s: a chunk %s; %s queued chunk(s) cancelled, %s running chunk(s) "
                 "asked to stop; its stored chunks' members deleted",
                 PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                 strcmp(PQgetvalue(res, r, 1), "failed") == 0 ? "failed" : "was cancelled",
                 PQgetvalue(res, r, 2), PQgetvalue(res, r, 3));
    if (settled)
        *settled = PQntuples(res);
    PQclear(res);
    return 0;

rollback:
    {
        char rerr[256];
        if (db_command(conn, "ROLLBACK", 0, NULL, rerr, sizeof rerr) < 0)
            log_warn("ROLLBACK failed: %s", rerr);
    }
fail:
    PQclear(res);
    return -1;
}

void queue_claim_free(struct queue_claim *c)
{
    free(c->params);
    c->params = NULL;
}

/* Append a text[] element literal: "..." with " and \ escaped, or NULL. */
static void queue_array_text(FILE *f, const char *s)
{
    if (!s) {
        fputs("NULL", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* An array literal under construction (open_memstream). */
struct queue_array {
    FILE *f;
    char *text;
    size_t len;
};

static void queue_array_open(struct queue_array *a)
{
    a->text = NULL;
    a->len = 0;
    a->f = open_memstream(&a->text, &a->len);
    if (!a->f) {
        log_error("out of memory building an array literal");
        abort();
    }
    fputc('{', a->f);
}

/* Finish the literal: a->text is then a NUL-terminated string to free(). */
static void queue_array_close(struct queue_array *a)
{
    fputc('}', a->f);
    if (fclose(a->f) != 0 || !a->text) {
        log_error("out of memory building an array literal");
        abort();
    }
    a->f = NULL;
}

int queue_tick(PGconn *conn, const char *worker_id, struct queue_beat *runs, size_t n, int write,
               char *err, size_t errlen)
{
    struct queue_array ids, atts, progs, stages;
    PGresult *res = NULL;
    if (n == 0)
        return 0;
    queue_array_open(&ids);
    queue_array_open(&atts);
    queue_array_open(&progs);
    queue_array_open(&stages);
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        double p = runs[i].progress;
        if (!(p >= 0))
            p = 0;
        if (p > 1)
            p = 1;
        fprintf(ids.f, "%s%" PRId64, sep, runs[i].id);
        fprintf(atts.f, "%s%d", sep, runs[i].attempt);
        fprintf(progs.f, "%s%.17g", sep, p);
        fputs(sep, stages.f);
        queue_array_text(stages.f, runs[i].stage);
    }
    queue_array_close(&ids);
    queue_array_close(&atts);
    queue_array_close(&progs);
    queue_array_close(&stages);

    const char *params[] = { worker_id, ids.text, atts.text, progs.text, stages.text };
    if (write)
        res = db_exec(conn, QUEUE_SQL_TICK_WRITE, 5, params, PGRES_TUPLES_OK, err, errlen);
    else
        res = db_exec(conn, QUEUE_SQL_TICK_READ, 3, params, PGRES_TUPLES_OK, err, errlen);
    free(ids.text);
    free(atts.text);
    free(progs.text);
    free(stages.text);
    if (!res)
        return -1;
    for (size_t i = 0; i < n; i++) {
        runs[i].owned = 0;
        runs[i].cancel_requested = 0;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        for (size_t i = 0; i < n; i++) {
            if (runs[i].id == id) {
                runs[i].owned = 1;
                runs[i].cancel_requested = PQgetvalue(res, r, 1)[0] == 't';
            }
        }
    }
    PQclear(res);
    return 0;
}

int queue_reap_stale(PGconn *conn, int stale_seconds, struct queue_reaped *out, char *err,
                     size_t errlen)
{
    char secs[16];
    snprintf(secs, sizeof secs, "%d", stale_seconds);
    const char *params[] = { secs };
    memset(out, 0, sizeof *out);
    PGresult *res = db_exec(conn, QUEUE_SQL_REAP, 1, params, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0), *status = PQgetvalue(res, r, 1);
        const char *attempts = PQgetvalue(res, r, 2);
        if (strcmp(status, "queued") == 0) {
            out->requeued++;
            log_warn("run %s: its worker stopped heartbeating; requeued after %s attempt(s)", id,
                     attempts);
            const char *np[] = { id };
            char nerr[256];
            if (db_command(conn, QUEUE_SQL_NOTIFY, 1, np, nerr, sizeof nerr) < 0)
                log_warn("run %s: NOTIFY failed: %s", id, nerr);
        } else if (strcmp(status, "failed") == 0) {
            out->failed++;
            log_warn("run %s: its worker stopped heartbeating; failed after %s attempts", id,
                     attempts);
        } else {
            out->cancelled++;
            log_info("run %s: its worker stopped heartbeating with a cancel pending; cancelled", id);
        }
    }
    PQclear(res);
    return 0;
}

/* Run a guarded statement with (id, worker_id, attempt[, extra]); returns
 * 1 when a row changed, 0 when none did, -1 on error. */
static int queue_guarded(PGconn *conn, const char *sql, int64_t id, const char *worker_id,
                         int attempt, const char *extra, PGresult **keep, char *err, size_t errlen)
{
    char ids[24], att[16];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    snprintf(att, sizeof att, "%d", attempt);
    const char *params[] = { ids, worker_id, att, extra };
    ExecStatusType want = keep ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
    PGresult *res = db_exec(conn, sql, extra ? 4 : 3, params, want, err, errlen);
    if (!res)
        return -1;
    const char *n = PQcmdTuples(res);
    int changed = n && atoi(n) > 0;
    if (keep)
        *keep = res;
    else
        PQclear(res);
    return changed;
}

int queue_fail(PGconn *conn, int64_t id, const char *worker_id, int attempt, const char *error,
               char *err, size_t errlen)
{
    return queue_guarded(conn, QUEUE_SQL_FAIL, id, worker_id, attempt, error, NULL, err, errlen);
}

int queue_cancelled(PGconn *conn, int64_t id, const char *worker_id, int attempt, char *err,
                    size_t errlen)
{
    return queue_guarded(conn, QUEUE_SQL_CANCELLED, id, worker_id, attempt, NULL, NULL, err,
                         errlen);
}

int queue_release(PGconn *conn, int64_t id, const char *worker_id, int attempt, char *err,
                  size_t errlen)
{
    PGresult *res = NULL;
    int rc = queue_guarded(conn, QUEUE_SQL_RELEASE, id, worker_id, attempt, NULL, &res, err,
                           errlen);
    if (rc == 1 && strcmp(PQgetvalue(res, 0, 0), "queued") == 0) {
        char ids[24];
        snprintf(ids, sizeof ids, "%" PRId64, id);
        const char *np[] = { ids };
        if (db_command(conn, QUEUE_SQL_NOTIFY, 1, np, err, errlen) < 0)
            log_warn("run %s: NOTIFY after release failed: %s", ids, err);
    }
    PQclear(res);
    return rc;
}

int queue_record_iteration(PGconn *conn, int64_t id, const char *worker_id, int attempt,
                           const struct queue_iteration *it, char *err, size_t errlen)
{
    char ids[24], att[16], iter[16], wall[32], cpu[32], rss[32], t0[32], t1[32];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    snprintf(att, sizeof att, "%d", attempt);
    snprintf(iter, sizeof iter, "%d", it->iteration);
    snprintf(wall, sizeof wall, "%.17g", it->wall_s);
    snprintf(cpu, sizeof cpu, "%.17g", it->cpu_s);
    snprintf(rss, sizeof rss, "%lld", it->peak_rss_bytes);
    snprintf(t0, sizeof t0, "%.6f", it->started);
    snprintf(t1, sizeof t1, "%.6f", it->finished);
    const char *params[] = { ids, worker_id, att, iter, wall, cpu, rss, it->stages_json, t0, t1,
                             it->hotspots_json };
    PGresult *res = db_exec(conn, QUEUE_SQL_ITERATION, 11, params, PGRES_COMMAND_OK, err, errlen);
    if (!res)
        return -1;
    int changed = atoi(PQcmdTuples(res)) > 0;
    PQclear(res);
    return changed;
}

/* Binary result format: model arrives as raw bytes, the epochs as int8. */
static const char QUEUE_SQL_MODEL[] =
    "SELECT model, extract(epoch FROM train_first_ts)::bigint,"
    "       extract(epoch FROM train_last_ts)::bigint"
    "  FROM models WHERE id = $1::bigint";

static int64_t queue_be_i8(const PGresult *res, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(res, 0, col);
    uint64_t v = 0;
    if (PQgetisnull(res, 0, col) || PQgetlength(res, 0, col) != 8)
        return INT64_MIN;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

int queue_model_fetch(PGconn *conn, int64_t id, char **model, size_t *len, int64_t *first_ts,
                      int64_t *last_ts, char *err, size_t errlen)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    const char *params[] = { ids };
    *model = NULL;
    *len = 0;
    PGresult *res = PQexecParams(conn, QUEUE_SQL_MODEL, 1, NULL, params, NULL, NULL, 1);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_error_copy(err, errlen, "reading the meta-model: ",
                      res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    size_t n = (size_t)PQgetlength(res, 0, 0);
    *model = mem_alloc(n + 1);
    memcpy(*model, PQgetvalue(res, 0, 0), n);
    (*model)[n] = '\0';
    *len = n;
    *first_ts = queue_be_i8(res, 1);
    *last_ts = queue_be_i8(res, 2);
    PQclear(res);
    return 1;
}
