/*
 * persist — write a succeeded run's results in one transaction.
 * Inside one BEGIN … COMMIT: lock the run row (still ours, not cancelled?),
 * delete whatever an earlier attempt left (orders, equity_points, metrics,
 * datasets, models, artifacts), COPY the orders, equity points and metrics
 * from the child's result bundle — or, for a model training, insert the
 * dataset (its rows by COPY) and the model with its evaluation, both with
 * the run's id — insert the artifact rows, record the stored iteration in
 * run_iterations (with the `persist` stage appended), and mark the run
 * succeeded with progress 1. Readers see all of it or none of it; a
 * re-executed run never leaves duplicates. Uses the caller's connection.
 *
 * A chunk of a split sweep (kind sweep_chunk) has its own transaction,
 * persist_chunk(): the chunk's members become rows of its sweep, and the
 * transaction that stores the last chunk also finalises the sweep (ranks,
 * sweeps row, artifacts rendered by the engine's writers, succeeded).
 */
#ifndef TB_PERSIST_H
#define TB_PERSIST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "runexec.h"

enum persist_outcome {
    PERSIST_DONE = 0,            /* committed: the run is succeeded */
    PERSIST_NOT_OURS,            /* rolled back: the run is no longer this worker's */
    PERSIST_CANCEL_PENDING,      /* rolled back: a cancel was requested; caller marks cancelled */
    PERSIST_ERROR                /* rolled back (or connection lost): err says why */
};

struct persist_input {
    int64_t run_id;                       /* runs.id */
    const char *worker_id;                /* ownership: worker_id ... */
    int attempt;                          /* ... and attempts */
    const struct runexec_bundle *bundle;  /* what the child wrote (borrowed) */
    struct queue_iteration iteration;     /* the stored iteration; stages_json ignored */
    json_t *stages;                       /* the child's stages (borrowed; persist is appended to a copy) */
    int inject_fault;                     /* test-only: fail after the orders COPY */
    int64_t parent_id;                    /* persist_chunk: the chunk's sweep (runs.parent_id) */
    const tb_jobspec *spec;               /* persist_chunk: the chunk's spec (grid, config, member range) */
};

/* Run the transaction. *persist_s receives the persist stage's seconds. */
enum persist_outcome persist_run(PGconn *conn, const struct persist_input *in, double *persist_s,
                                 char *err, size_t errlen);

/* The results transaction of a sweep chunk. Locks the sweep's row first
 * (FOR UPDATE: the chunks of one sweep store one after another, so exactly
 * one of them sees no other chunk left) — a sweep no longer queued or
 * running gives PERSIST_CANCEL_PENDING — then the chunk's, as persist_run.
 * Deletes the sweep_members rows an earlier attempt of this chunk wrote,
 * inserts the sweep's sweeps row unless a chunk already has, the chunk's
 * members as sweep_members rows of the sweep (chunk_id = the chunk, rank
 * NULL), its timing (sweep_chunks), its iteration; the chunk succeeds and
 * the sweep's progress becomes chunks stored / chunks. If no chunk is left,
 * the same transaction finalises the sweep: every member ranked with
 * sweep_rank(), the sweeps row's threads and members_seconds, one
 * run_iterations row (the chunks' CPU and peak memory), sweep_results.csv
 * and sweep_report.md rendered by the engine's writers from the stored
 * members (the CSV byte-identical to one sweep_run's), and the sweep
 * succeeded. *left receives the sweep's chunks still to succeed (0: this
 * one finalised it; -1 before that is known). */
enum persist_outcome persist_chunk(PGconn *conn, const struct persist_input *in, double *persist_s,
                                   int *left, char *err, size_t errlen);

#endif
