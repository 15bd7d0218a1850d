/*
 * metrics_prom — GET /metrics in the Prometheus text exposition format
 * (version 0.0.4): requests by route pattern, method and status, a latency
 * histogram per route, runs by status, queue depth and the age of the
 * oldest queued run, and worker liveness: runs requeued or lost by the
 * stale-run check (counters kept in PostgreSQL, sql/008), the oldest
 * heartbeat of running runs and each working worker's last heartbeat.
 * The request counters live in a registry fed by the HTTP layer's observe
 * hook; every counter is a relaxed atomic, so pool threads update them
 * without locks and /metrics reads them without stopping anyone. The run
 * and worker figures are read from PostgreSQL on each scrape.
 */
#ifndef TB_API_METRICS_PROM_H
#define TB_API_METRICS_PROM_H

#include <stddef.h>

#include "server/http.h"
#include "server/router.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct prom_registry;

/* A registry for the given route table (borrowed; must outlive it). Never NULL. */
struct prom_registry *prom_new(const struct route *routes, size_t nroutes);
void prom_free(struct prom_registry *reg);

/* The http_observe_fn: count one answered request (cls is the registry). */
void prom_observe(void *cls, const struct route *route, const char *method, int status,
                  double ms);

/* The exposition text of the request counters (no database part): a new
 * NUL-terminated buffer the caller free()s, its length in *len. */
char *prom_render_http(const struct prom_registry *reg, size_t *len);

/* GET /metrics (req->app is a struct api_context with a registry). */
void api_metrics_get(const struct http_request *req, struct http_reply *rep);

#endif
