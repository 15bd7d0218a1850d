/*
 * enqueue — the write path shared by POST /runs and POST /backtests: check
 * that the validated universe exists in the server's data source, insert
 * the queued run and NOTIFY tb_runs in one transaction, honour
 * Idempotency-Key, and answer 202 + Location (or 200 for a replay).
 * Validation of the body itself is the engine's (jobspec); this module only
 * adds what needs the server's data source or the database.
 */
#ifndef TB_API_ENQUEUE_H
#define TB_API_ENQUEUE_H

#include <jansson.h>

#include "jobspec.h"
#include "server/http.h"

#define ENQUEUE_KEY_MAX 255      /* longest Idempotency-Key accepted */

struct enqueue_spec {
    const char *kind;            /* "run" or "backtest" */
    const char *job;             /* EOD_SMALL | BACKTEST_MEDIUM | ML_JOB, or NULL */
    json_t *params;              /* normalised params (borrowed), stored as runs.params */
    int iterations;              /* >= 1 */
    const char *phase;           /* free tag or NULL (borrowed) */
};

/* Resolve the spec's universe against its data source (symbols exist, N not
 * larger than what the source has). Returns 0, or -1 after replying 400
 * naming field_prefix + "symbols"/"universe" (or 500 when the server's own
 * data source is unusable). */
int enqueue_check_universe(const tb_jobspec *spec, const char *field_prefix,
                           struct http_reply *rep);

/* Insert + NOTIFY + reply (202 with the run and Location; 200 with the
 * original run when Idempotency-Key repeats an identical request; 409 when
 * it repeats a different one; 400 for a malformed key; 503 when the
 * database is down). */
void enqueue_run(const struct http_request *req, struct http_reply *rep,
                 const struct enqueue_spec *spec);

#endif
