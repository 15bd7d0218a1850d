/*
 * worker — the tradebench-worker event loop: claim queued runs, execute
 * each iteration in a forked child (runexec), follow its progress, heartbeat,
 * honour cancellation, requeue stale runs, persist results (persist), and
 * shut down gracefully. One thread, one PostgreSQL connection, one poll()
 * over the signal self-pipe, the connection's socket (LISTEN/NOTIFY) and the
 * children's progress pipes. Owns every child it forks; never leaves one
 * behind (children also die with it through PR_SET_PDEATHSIG).
 */
#ifndef TB_WORKER_H
#define TB_WORKER_H

#include <stddef.h>

#include "settings.h"

#define WORKER_DEFAULT_STALE_SECONDS 15
#define WORKER_DEFAULT_GRACE_SECONDS 8
#define WORKER_ML_THREADS_MAX_DEFAULT 4
#define WORKER_XGB_THREADS_DEFAULT 1

/* The worker's own TB_WORKER_* settings (TB_WORKER_CONCURRENCY lives in
 * struct settings, shared with the other binaries). */
struct worker_options {
    int concurrency;             /* TB_WORKER_CONCURRENCY: runs executed at once */
    int stale_seconds;           /* TB_WORKER_STALE_SECONDS: heartbeat age that counts as lost, 2..86400 */
    int grace_seconds;           /* TB_WORKER_GRACE_SECONDS: on SIGTERM, how long running runs may finish, 0..3600 */
    int ml_threads;              /* TB_WORKER_ML_THREADS: threads of a sweep's members, 1..64;
                                    default online CPUs / concurrency, clamped to 1..4 */
    int xgb_threads;             /* TB_WORKER_XGB_THREADS: XGBoost threads of a model training and of a
                                    meta-filter's prediction, 1..64; default 1 (docs/ML.md, Threads) */
    char *fault;                 /* TB_FAULT_INJECT (tests only): "crash[:id]", "hang:id", "persist:id", comma-separated; NULL = none */
    int chunk_delay_ms;          /* TB_TEST_CHUNK_DELAY_MS (tests only), 0..600000: a sweep chunk's child sleeps this long
                                    before it starts (read by the child, runexec_sweep.c); 0 = none */
};

/* Read the TB_WORKER_* variables through lookup (getenv in production);
 * concurrency is taken from the already validated settings. Returns 0, or
 * -1 with err naming the variable (the binary exits 2). */
int worker_options_load(struct worker_options *o, int concurrency, settings_lookup_fn lookup,
                        void *ud, char *err, size_t errlen) __attribute__((warn_unused_result));
void worker_options_free(struct worker_options *o);

/* Run until SIGTERM/SIGINT and every run has finished or been released.
 * Installs handlers for SIGTERM, SIGINT and SIGCHLD (a self-pipe) and
 * unblocks them in the calling thread for the duration; call it from the
 * main thread. worker_id is "host:pid". Returns the exit status: 0 after a
 * graceful stop, 1 when the loop could not start. */
int worker_run(const char *database_url, const char *worker_id, const struct worker_options *opt);

#endif
