/*
 * profiles — GET /profiles and GET /profiles/report.md: the performance
 * tracking table (issue 6) over every run of a standard job that has
 * recorded iterations — worker runs (POST /runs with iterations / phase) and
 * `tradebench profile-job` runs alike — per run: job, phase, date,
 * iterations, median wall and CPU time, peak RSS, top-3 hotspots (stages;
 * functions for perf / callgrind runs), profiler, data and notes. The
 * summaries and the markdown are proftrack's; this file reads the query
 * and the database. Never executes a pipeline.
 */
#ifndef TB_API_PROFILES_H
#define TB_API_PROFILES_H

#include "server/http.h"

#define PROFILES_DEFAULT_LIMIT 50
#define PROFILES_MAX_LIMIT 500

/* GET /profiles?job=&phase=&limit= -> {"items": [...]}, newest first. */
void api_profiles_list(const struct http_request *req, struct http_reply *rep);
/* GET /profiles/report.md?job=&phase=&limit= -> the same as markdown
 * (Runtime Benchmarks, Top-3 Hotspots, Before/After per pair of phases). */
void api_profiles_report(const struct http_request *req, struct http_reply *rep);

#endif
