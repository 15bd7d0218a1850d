/*
 * modelcache — loaded meta-models for POST /models/{id}/predict, shared by
 * the HTTP pool threads: at most MODELCACHE_MAX boosters, keyed by model id,
 * least recently used evicted first. Loading a model (parsing its XGBoost
 * JSON, ~0.4 MB for 300 rounds) costs milliseconds; predicting a few rows
 * costs microseconds, hence the cache. A booster predicts with one thread
 * (nthread 1: the HTTP threads are the parallelism) and serves one request
 * at a time (its own mutex); the cache's mutex guards only the table, never
 * a load or a prediction. An evicted or forgotten entry in use is freed by
 * its last user. Never touches the database: the caller supplies the bytes.
 */
#ifndef TB_API_MODELCACHE_H
#define TB_API_MODELCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"

#define MODELCACHE_MAX 8         /* boosters kept loaded */

struct modelcache;

/* A new, empty cache (modelcache_free() it); capacity 1..64. */
struct modelcache *modelcache_new(size_t capacity);
/* Free every booster (no request may be using the cache any more). */
void modelcache_free(struct modelcache *c);

/* Fetches the XGBoost JSON of a model on a cache miss: *bytes (new, caller
 * of fetch frees) and *len; 0, or -1 with err. */
typedef int (*modelcache_fetch_fn)(void *ud, char **bytes, size_t *len, tb_error *err);

/* prob[0..n) = the model's probabilities for X (row-major n x 10 float32).
 * On a miss the booster is loaded from fetch's bytes and cached. 0, or -1
 * with err (fetch's error, or XGBoost's). *hit (may be NULL) tells whether
 * the booster was already loaded. */
int modelcache_predict(struct modelcache *c, int64_t id, const float *X, size_t n, double *prob,
                       modelcache_fetch_fn fetch, void *ud, int *hit, tb_error *err);

/* Drop model id (deleted); in-flight predictions finish with it. */
void modelcache_forget(struct modelcache *c, int64_t id);

/* Boosters loaded now (for tests and /metrics). */
size_t modelcache_size(struct modelcache *c);

#endif
