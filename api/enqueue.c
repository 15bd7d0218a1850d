/*
 * enqueue — INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING,
 * then pg_notify('tb_runs', id) and COMMIT: the notification is delivered
 * only if the run is committed, and workers that miss it find the run by
 * polling anyway. A conflicting key means an earlier request created the
 * run: ON CONFLICT waited for that transaction, so the next statement's
 * snapshot sees the row, which is returned as-is (200) when the request is
 * the same, or refused (409) when it differs. Nothing here waits on
 * workers: claimed runs are locked rows this INSERT never touches.
 *
 * A sweep with more valid combinations than its chunk size (the body's
 * chunk_size, else TB_SWEEP_CHUNK) is split here, in the same transaction:
 * the sweep's row gets chunks = N and N runs of kind sweep_chunk
 * (parent_id = the sweep, its params) are inserted with their member
 * ranges in sweep_chunks — N nearly equal ranges of the valid members in
 * grid order. Workers claim the chunks, never the sweep (queue.c), and the
 * transaction that stores the last chunk finalises the sweep (persist.c).
 */
#include "enqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "dbx.h"
#include "params.h"
#include "routes.h"
#include "runview.h"
#include "server/logger.h"
#include "sweep.h"

static const char ENQUEUE_SQL_INSERT[] =
    "INSERT INTO runs AS r (kind, job, status, params, iterations, phase, idempotency_key, chunks) "
    "VALUES ($1, $2, 'queued', $3::jsonb, $4::int, $5, $6, $7::int) "
    "ON CONFLICT (idempotency_key) DO NOTHING "
    "RETURNING " RUNVIEW_COLS;

/* The chunk runs of sweep $1: $2 of them over $3 valid members. Each
 * chunk's position (seq) is its rank by id among them, and its range
 * [seq * n / N, (seq + 1) * n / N). */
static const char ENQUEUE_SQL_CHUNKS[] =
    "WITH c AS (INSERT INTO runs (kind, status, params, iterations, parent_id, max_attempts)"
    "           SELECT 'sweep_chunk', 'queued', p.params, 1, p.id, p.max_attempts"
    "             FROM runs p, generate_series(1, $2::int) WHERE p.id = $1::bigint"
    "           RETURNING id),"
    "     n AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS seq FROM c)"
    " INSERT INTO sweep_chunks (run_id, parent_id, seq, member_lo, member_hi)"
    " SELECT id, $1::bigint, seq, (seq * $3::bigint / $2::int)::int, ((seq + 1) * $3::bigint / $2::int)::int"
    "   FROM n";

static const char ENQUEUE_SQL_GET[] = "SELECT " RUNVIEW_COLS " FROM runs r WHERE r.id = $1::bigint";

static const char ENQUEUE_SQL_NOTIFY[] = "SELECT pg_notify('tb_runs', $1)";

/* The run an earlier request with this key created, and whether it asked
 * for the same thing (last column). */
static const char ENQUEUE_SQL_REPLAY[] =
    "SELECT " RUNVIEW_COLS ", (r.kind = $1 AND r.job IS NOT DISTINCT FROM $2 "
    "AND r.params = $3::jsonb AND r.iterations = $4::int AND r.phase IS NOT DISTINCT FROM $5) "
    "FROM runs r WHERE r.idempotency_key = $6";

int enqueue_check_universe(const tb_jobspec *spec, const char *field_prefix,
                           struct http_reply *rep)
{
    tb_universe u = { 0 };
    tb_error err = { 0 };
    char field[96];
    if (backtest_select_universe(&spec->bt, &u, &err) == 0) {
        universe_free(&u);
        return 0;
    }
    if (err.code != TB_EINVAL || strcmp(err.field, "data") == 0) {
        /* The request only says "default" or "synthetic": a broken source is ours. */
        log_error("data source unusable: %s", err.msg);
        http_reply_error(rep, PROBLEM_INTERNAL, "the server's data source is unusable: %s",
                         err.msg);
        return -1;
    }
    snprintf(field, sizeof field, "%s%s", field_prefix,
             spec->bt.symbols ? "symbols" : "universe");
    params_reply_invalid(rep, field, "%s", err.msg);
    return -1;
}

/* Idempotency-Key: 1..ENQUEUE_KEY_MAX visible ASCII characters. */
static int enqueue_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > ENQUEUE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return 0;
    }
    return 1;
}

/* The params as compact JSON text with the fewest significant digits (15,
 * 16 or 17) that still parse back to the same doubles: jsonb stores numbers
 * as decimal numerics, so %.17g would show 0.2 as 0.20000000000000001 to
 * every client, while %.15g alone could change a value. Caller free()s. */
static char *enqueue_params_text(const json_t *params)
{
    for (int prec = 15; prec < 17; prec++) {
        char *text = json_dumps(params, JSON_COMPACT | JSON_REAL_PRECISION(prec));
        json_t *back = text ? json_loads(text, 0, NULL) : NULL;
        int same = back && json_equal(back, params);
        json_decref(back);
        if (same)
            return text;
        free(text);
    }
    return json_dumps(params, JSON_COMPACT | JSON_REAL_PRECISION(17));
}

/* A sweep (spec kind "sweep") with more valid members than its chunk
 * size: how many chunk runs it becomes (*n_valid: its valid members);
 * 0 when it runs whole. */
static int enqueue_sweep_chunks(const struct http_request *req, const struct enqueue_spec *spec,
                                long long *n_valid)
{
    const struct api_context *app = req->app;
    tb_jobspec js;
    tb_sweep_result plan;
    tb_error err;
    int chunks = 0;
    *n_valid = 0;
    if (strcmp(spec->kind, "sweep") != 0)
        return 0;
    tb_error_clear(&err);
    /* the stored params rebuild the spec, as the worker will: validated already */
    if (jobspec_from_params(spec->params, &js, &err) != 0)
        return 0;
    if (sweep_plan(&js.bt.strategy, &js.grid, &plan, &err) == 0) {
        size_t chunk = js.chunk_size ? js.chunk_size
                       : app && app->settings ? (size_t)app->settings->sweep_chunk
                                              : (size_t)SETTINGS_DEFAULT_SWEEP_CHUNK;
        if (chunk > 0 && plan.n_valid > chunk)
            chunks = (int)((plan.n_valid + chunk - 1) / chunk);
        *n_valid = (long long)plan.n_valid;
        sweep_result_free(&plan);
    }
    jobspec_free(&js);
    return chunks;
}

/* 202/200 with the run at row 0 and its Location. */
static void enqueue_reply_run(struct http_reply *rep, const PGresult *res, int status)
{
    json_t *run = runview_json(res, 0);
    char loc[64];
    snprintf(loc, sizeof loc, "%s", json_string_value(json_object_get(run, "url")));
    http_reply_json_take(rep, status, run);
    http_reply_header(rep, "Location", loc);
    http_reply_header(rep, "Cache-Control", "no-store");
    if (status == 200)
        http_reply_header(rep, "Idempotent-Replayed", "true");
}

void enqueue_run(const struct http_request *req, struct http_reply *rep,
                 const struct enqueue_spec *spec)
{
    const char *key = http_header(req, "Idempotency-Key");
    char iterations[16], chunks_s[16], valid_s[24];
    PGresult *res = NULL;
    char *params = NULL;
    long long n_valid = 0;
    int chunks = enqueue_sweep_chunks(req, spec, &n_valid);

    if (key && !enqueue_key_ok(key)) {
        params_reply_invalid(rep, "Idempotency-Key",
                             "must be 1 to %d visible ASCII characters", ENQUEUE_KEY_MAX);
        return;
    }
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    params = enqueue_params_text(spec->params);
    snprintf(iterations, sizeof iterations, "%d", spec->iterations);
    snprintf(chunks_s, sizeof chunks_s, "%d", chunks);
    snprintf(valid_s, sizeof valid_s, "%lld", n_valid);
    const char *args[7] = { spec->kind, spec->job, params, iterations, spec->phase, key,
                            chunks ? chunks_s : NULL };

    /* A replayed key whose run was deleted between the two statements
     * inserts again on the next round; three rounds cannot all race. */
    for (int round = 0; round < 3; round++) {
        if (dbx_begin(conn, rep) < 0)
            goto out;
        res = dbx_tx_exec(conn, rep, ENQUEUE_SQL_INSERT, 7, args, PGRES_TUPLES_OK);
        if (!res)
            goto out;
        if (PQntuples(res) == 1) {
            char id[24];
            snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, RUNVIEW_C_ID));
            const char *idp[1] = { id };
            if (chunks) { /* the chunk runs, then the sweep as it now is (with them) */
                const char *cargs[3] = { id, chunks_s, valid_s };
                PGresult *c = dbx_tx_exec(conn, rep, ENQUEUE_SQL_CHUNKS, 3, cargs, PGRES_COMMAND_OK);
                if (!c)
                    goto out;
                PQclear(c);
                PQclear(res);
                res = dbx_tx_exec(conn, rep, ENQUEUE_SQL_GET, 1, idp, PGRES_TUPLES_OK);
                if (!res)
                    goto out;
            }
            PGresult *n = dbx_tx_exec(conn, rep, ENQUEUE_SQL_NOTIFY, 1, idp, PGRES_TUPLES_OK);
            if (!n)
                goto out;
            PQclear(n);
            if (dbx_commit(conn, rep) < 0)
                goto out;
            enqueue_reply_run(rep, res, 202);
            goto out;
        }
        PQclear(res);
        res = dbx_tx_exec(conn, rep, ENQUEUE_SQL_REPLAY, 6, args, PGRES_TUPLES_OK);
        if (!res)
            goto out;
        dbx_rollback(conn); /* nothing was written */
        if (PQntuples(res) == 1) {
            if (PQgetvalue(res, 0, RUNVIEW_NCOLS)[0] != 't')
                http_reply_error(rep, PROBLEM_CONFLICT,
                                 "Idempotency-Key '%.64s' was used for a different request "
                                 "(run %s); use a new key",
                                 key, PQgetvalue(res, 0, RUNVIEW_C_ID));
            else
                enqueue_reply_run(rep, res, 200);
            goto out;
        }
        PQclear(res);
        res = NULL;
    }
    http_reply_error(rep, PROBLEM_CONFLICT,
                     "Idempotency-Key '%.64s' is contended by concurrent requests; retry",
                     key ? key : "");
out:
    PQclear(res);
    free(params);
}
