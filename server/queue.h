/*
 * queue — the run queue in PostgreSQL, as the worker sees it: claim the
 * oldest queued run (FOR UPDATE SKIP LOCKED), heartbeat and report progress,
 * notice cancellation and lost ownership, requeue runs whose worker stopped
 * heartbeating, and the terminal transitions (failed, cancelled, released).
 *
 * Ownership: a claimed run belongs to (worker_id, attempts). Every write
 * about a run is guarded by "status = 'running' AND worker_id = $me AND
 * attempts = $attempt", so a worker that lost a run (requeued by another
 * worker's reaper, or already finished) changes nothing: the guarded
 * functions answer 0 and the caller drops the run.
 * All statements are named constants in queue.c, values travel as $n
 * parameters; one connection, used by one thread.
 */
#ifndef TB_QUEUE_H
#define TB_QUEUE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* NOTIFY channels: the API sends the run id on each. */
#define QUEUE_CHANNEL_RUNS "tb_runs"     /* a run was queued (or requeued) */
#define QUEUE_CHANNEL_CANCEL "tb_cancel" /* cancel_requested was set on a running run */

/* A run this worker just claimed. */
struct queue_claim {
    int64_t id;                  /* runs.id */
    char kind[16];               /* run | backtest | model | sweep | sweep_chunk */
    char job[32];                /* EOD_SMALL | BACKTEST_MEDIUM | ML_JOB, "" for custom backtests */
    char *params;                /* runs.params as JSON text; owned, queue_claim_free() */
    int iterations;              /* how many times to execute the job (>= 1) */
    int attempt;                 /* runs.attempts after this claim: the ownership token */
    int max_attempts;            /* runs.max_attempts */
    int64_t parent_id;           /* a sweep_chunk: its sweep (runs.parent_id); 0 otherwise */
    int chunk_seq;               /* a sweep_chunk: 0-based position among its sweep's chunks */
    int member_lo, member_hi;    /* a sweep_chunk: the valid members [lo, hi) it runs (sweep_chunks) */
};

/* LISTEN on both channels. 0, or -1 with err. */
int queue_listen(PGconn *conn, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Claim the oldest queued run of a kind this worker executes (run,
 * backtest, model, sweep, sweep_chunk — but never a sweep split into
 * chunks, runs.chunks set: its chunks are the work): status running,
 * worker_id, started_at, heartbeat_at = now(), attempts + 1, progress 0;
 * run_iterations left by an earlier attempt are deleted in the same
 * statement. A chunk comes with its sweep and member range. Returns 1 with
 * *out filled (free with queue_claim_free), 0 when nothing is queued, -1
 * with err. */
int queue_claim(PGconn *conn, const char *worker_id, struct queue_claim *out, char *err,
                size_t errlen) __attribute__((warn_unused_result));
void queue_claim_free(struct queue_claim *c);

/* One of this worker's running runs, for queue_tick(). */
struct queue_beat {
    int64_t id;                  /* in */
    int attempt;                 /* in: ownership token */
    double progress;             /* in: 0..1 (written when write != 0) */
    const char *stage;           /* in: current stage, NULL keeps the stored one */
    int owned;                   /* out: still running and ours */
    int cancel_requested;        /* out: the API asked to stop it */
};

/* For every run: with write, set heartbeat_at = now(), progress and stage;
 * without, only read. Either way fill owned and cancel_requested.
 * 0, or -1 with err (then the out fields are untouched). */
int queue_tick(PGconn *conn, const char *worker_id, struct queue_beat *runs, size_t n, int write,
               char *err, size_t errlen) __attribute__((warn_unused_result));

struct queue_reaped {
    int requeued;                /* back to queued (attempts < max_attempts) */
    int failed;                  /* "worker lost after N attempts" */
    int cancelled;               /* a cancel was pending when its worker vanished */
};

/* Requeue (or fail, or cancel) every running run whose heartbeat is older
 * than stale_seconds, whoever owned it; NOTIFY tb_runs for each requeued
 * one. Safe to run from any number of workers at once (SKIP LOCKED).
 * 0 with *out, or -1 with err. */
int queue_reap_stale(PGconn *conn, int stale_seconds, struct queue_reaped *out, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* A chunk of sweep `parent_id` was claimed: the sweep becomes running
 * (started_at now) if it was still queued. Its own statement, after the
 * claim committed: the claim never waits for the sweep's row lock, which
 * a cancel or another chunk's results transaction may hold while it waits
 * for chunk rows. 0, or -1 with err. */
int queue_sweep_started(PGconn *conn, int64_t parent_id, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Settle split sweeps whose chunks can no longer all succeed: a queued or
 * running sweep with a failed chunk becomes failed (error names the chunk,
 * its members and its message), with a cancelled one cancelled; its queued
 * chunks are cancelled and its running ones get cancel_requested (NOTIFY
 * tb_cancel); the unranked sweep_members its stored chunks wrote are
 * deleted in the same transaction. parent_id 0: every such sweep (the
 * periodic check, which also covers chunks failed by the stale-run reaper);
 * else only that one.
 * *settled (may be NULL) receives how many sweeps changed. 0, or -1. */
int queue_settle_sweeps(PGconn *conn, int64_t parent_id, int *settled, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Guarded terminal transitions. Each returns 1 when the run changed, 0 when
 * it is no longer this worker's, -1 with err. */
int queue_fail(PGconn *conn, int64_t id, const char *worker_id, int attempt, const char *error,
               char *err, size_t errlen) __attribute__((warn_unused_result));
int queue_cancelled(PGconn *conn, int64_t id, const char *worker_id, int attempt, char *err,
                    size_t errlen) __attribute__((warn_unused_result));
/* Give a run back on shutdown: queued again with this attempt not counted
 * (NOTIFY tb_runs), or cancelled when a cancel was already requested. */
int queue_release(PGconn *conn, int64_t id, const char *worker_id, int attempt, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

/* One executed iteration, for run_iterations. */
struct queue_iteration {
    int iteration;               /* 1-based */
    double wall_s;               /* fork to exit (+ persist for the stored iteration) */
    double cpu_s;                /* user + system of the child (wait4) */
    long long peak_rss_bytes;    /* ru_maxrss of the child (wait4), bytes */
    const char *stages_json;     /* [{"name","wall_seconds"}...] in execution order */
    const char *hotspots_json;   /* perf / callgrind: [{"function","module","share"}...], else NULL */
    double started, finished;    /* wall clock, seconds since the epoch */
};

/* Insert (or, for a re-executed attempt, replace) the iteration's row,
 * guarded by ownership. 1 recorded, 0 not ours, -1 with err. */
int queue_record_iteration(PGconn *conn, int64_t id, const char *worker_id, int attempt,
                           const struct queue_iteration *it, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A meta_filter's model (models row `id`): its XGBoost JSON bytes (*model:
 * new, NUL-terminated, caller frees) and its training span in seconds since
 * the epoch (INT64_MIN when NULL). 1 found, 0 no such model, -1 with err. */
int queue_model_fetch(PGconn *conn, int64_t id, char **model, size_t *len, int64_t *first_ts,
                      int64_t *last_ts, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
