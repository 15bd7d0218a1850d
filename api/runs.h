/*
 * runs — the /runs endpoints (SPEC §10): enqueue a standard job, list runs
 * (filters + keyset pagination, newest first), read one run, cancel it, and
 * its profile (per-iteration wall/CPU/peak RSS/stages, median, hotspots).
 * Handlers read req->app (struct api_context) and use the pool thread's
 * own PostgreSQL connection; they never execute a pipeline.
 */
#ifndef TB_API_RUNS_H
#define TB_API_RUNS_H

#include "server/http.h"

#define RUNS_LIST_DEFAULT_LIMIT 50
#define RUNS_LIST_MAX_LIMIT 200

/* POST /runs {"job", "iterations"?, "phase"?, "overrides"?} -> 202 + Location. */
void api_runs_post(const struct http_request *req, struct http_reply *rep);
/* GET /runs?job=&status=&kind=&phase=&limit=&cursor= -> {"items", "next_cursor"}. */
void api_runs_list(const struct http_request *req, struct http_reply *rep);
/* GET /runs/{id} -> the run (with "metrics" once succeeded). */
void api_runs_get(const struct http_request *req, struct http_reply *rep);
/* POST /runs/{id}/cancel -> 202 with the run; 409 when already finished. */
void api_runs_cancel(const struct http_request *req, struct http_reply *rep);
/* GET /runs/{id}/profile -> iterations, summary, hotspots. */
void api_runs_profile(const struct http_request *req, struct http_reply *rep);

#endif
