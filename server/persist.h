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
};

/* Run the transaction. *persist_s receives the persist stage's seconds. */
enum persist_outcome persist_run(PGconn *conn, const struct persist_input *in, double *persist_s,
                                 char *err, size_t errlen);

#endif
