/*
 * runview — the one JSON shape of a run, shared by every endpoint that
 * returns runs (POST /runs, /backtests, GET /runs, /runs/{id}, cancel).
 * RUNVIEW_COLS is the select list (text format, table alias `r`) that
 * runview_json() reads, so the SQL and the reader cannot drift apart.
 * Also turns stored metrics rows into the SPEC §5 metrics object.
 */
#ifndef TB_API_RUNVIEW_H
#define TB_API_RUNVIEW_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

/* ISO-8601 UTC with milliseconds, NULL stays NULL. */
#define RUNVIEW_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Select list over `runs r`; column indexes are the RUNVIEW_C_* below. */
#define RUNVIEW_COLS                                                                          \
    "r.id, r.kind, r.job, r.status, r.progress, r.stage, r.phase, r.iterations, r.attempts, " \
    "r.max_attempts, r.cancel_requested, r.params::text, r.error, " RUNVIEW_TS("r.created_at") \
    ", " RUNVIEW_TS("r.started_at") ", " RUNVIEW_TS("r.heartbeat_at") ", "                    \
    RUNVIEW_TS("r.finished_at") ", "                                                          \
    "(extract(epoch FROM r.created_at) * 1000000)::bigint, "                                  \
    "(SELECT json_agg(json_build_array(m.name, m.value)) FROM metrics m "                     \
    "WHERE m.run_id = r.id AND r.status = 'succeeded'), r.parent_id, " RUNVIEW_CHUNKS

/* A split sweep's chunk runs (runs.chunks set; NULL for every other run):
 * {"total", "succeeded", "items": [{"id", "seq", "status", "worker_id",
 * "attempts", "members": [lo, hi)}]} in chunk order, as JSON text. */
#define RUNVIEW_CHUNKS                                                                        \
    "CASE WHEN r.chunks IS NOT NULL THEN (SELECT json_build_object('total', r.chunks, "       \
    "'succeeded', count(*) FILTER (WHERE c.status = 'succeeded'), 'items', "                  \
    "json_agg(json_build_object('id', c.id, 'seq', sc.seq, 'status', c.status, "              \
    "'worker_id', c.worker_id, 'attempts', c.attempts, "                                      \
    "'members', json_build_array(sc.member_lo, sc.member_hi)) ORDER BY sc.seq)) "             \
    "FROM sweep_chunks sc JOIN runs c ON c.id = sc.run_id WHERE sc.parent_id = r.id)::text END"

/* The select list of a list item (GET /runs): the same columns at the same
 * indexes as RUNVIEW_COLS, except that RUNVIEW_C_PARAMS holds only
 * params->>'strategy' (text, NULL when absent) and RUNVIEW_C_METRICS is
 * "name value name value ..." text (float8 as PostgreSQL prints it, which
 * round-trips), parsed without a JSON parser, and RUNVIEW_C_CHUNKS is NULL
 * (a list item has no chunk table). */
#define RUNVIEW_LIST_COLS                                                                     \
    "r.id, r.kind, r.job, r.status, r.progress, r.stage, r.phase, r.iterations, r.attempts, " \
    "r.max_attempts, r.cancel_requested, r.params->>'strategy', r.error, "                    \
    RUNVIEW_TS("r.created_at") ", " RUNVIEW_TS("r.started_at") ", "                           \
    RUNVIEW_TS("r.heartbeat_at") ", " RUNVIEW_TS("r.finished_at") ", "                        \
    "(extract(epoch FROM r.created_at) * 1000000)::bigint, "                                  \
    "CASE WHEN r.status = 'succeeded' THEN (SELECT string_agg(m.name || ' ' || m.value::text, " \
    "' ') FROM metrics m WHERE m.run_id = r.id) END, r.parent_id, NULL::text"

enum {
    RUNVIEW_C_ID = 0,
    RUNVIEW_C_KIND,
    RUNVIEW_C_JOB,
    RUNVIEW_C_STATUS,
    RUNVIEW_C_PROGRESS,
    RUNVIEW_C_STAGE,
    RUNVIEW_C_PHASE,
    RUNVIEW_C_ITERATIONS,
    RUNVIEW_C_ATTEMPTS,
    RUNVIEW_C_MAX_ATTEMPTS,
    RUNVIEW_C_CANCEL_REQUESTED,
    RUNVIEW_C_PARAMS,
    RUNVIEW_C_ERROR,
    RUNVIEW_C_CREATED_AT,
    RUNVIEW_C_STARTED_AT,
    RUNVIEW_C_HEARTBEAT_AT,
    RUNVIEW_C_FINISHED_AT,
    RUNVIEW_C_CREATED_US,        /* keyset cursor: created_at in µs since the epoch */
    RUNVIEW_C_METRICS,           /* [[name, value], ...] when succeeded, else NULL */
    RUNVIEW_C_PARENT,            /* a sweep chunk's sweep, else NULL */
    RUNVIEW_C_CHUNKS,            /* a split sweep's chunks (RUNVIEW_CHUNKS), else NULL */
    RUNVIEW_NCOLS
};

/* The run at `row` of a RUNVIEW_COLS result: a new object the caller
 * json_decref()s. Includes "metrics" (SPEC §5 order, null when undefined)
 * once a backtest run has succeeded, "parent_id" for a sweep chunk,
 * "chunks" for a split sweep, and "url"/"links" to its resources ("model"
 * for a model training). */
json_t *runview_json(const PGresult *res, int row);

/* The list item of the run at `row` of a RUNVIEW_LIST_COLS result: the
 * run's object with "strategy" (params.strategy or null) in place of the
 * full "params" object, which only GET /runs/{id} (and the other
 * single-run replies) carry. New reference. */
json_t *runview_list_json(const PGresult *res, int row);

/* The public URL of a run: /backtests/{id} for kinds backtest and sweep,
 * /models/{id} for kind model, else /runs/{id}. */
void runview_url(const char *kind, int64_t id, char *out, size_t n);

/* Does a run of this kind/job (job may be NULL) produce a backtest result
 * (orders, equity curve, metrics)? kind backtest, or the standard jobs
 * EOD_SMALL and BACKTEST_MEDIUM. */
int runview_is_backtest(const char *kind, const char *job);

/* Does a run of this kind/job train a meta-model (kind model, or ML_JOB)?
 * Its model, when stored, has the run's id. */
int runview_is_model(const char *kind, const char *job);

/* SQL twin of runview_is_model() over `runs r`. */
#define RUNVIEW_SQL_IS_MODEL "(r.kind = 'model' OR (r.kind = 'run' AND r.job = 'ML_JOB'))"

/* SQL twin of runview_is_backtest() over `runs r`. */
#define RUNVIEW_SQL_IS_BACKTEST \
    "(r.kind = 'backtest' OR (r.kind = 'run' AND r.job IN ('EOD_SMALL', 'BACKTEST_MEDIUM')))"

/* SPEC §5 metrics object from [[name, value], ...] JSON text (as built by
 * RUNVIEW_COLS); names not in SPEC §5 are ignored, missing ones are null.
 * New reference. */
json_t *runview_metrics_json(const char *pairs_json);

/* The same from "name value name value ..." text (RUNVIEW_LIST_COLS);
 * NULL gives every metric null. New reference. */
json_t *runview_metrics_text(const char *pairs);

/* The same from parallel arrays (NaN = undefined). New reference. */
json_t *runview_metrics_from(const char *const *names, const double *values, size_t n);

#endif
