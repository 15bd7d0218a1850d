/*
 * routes — the HTTP API's route table, as data: one {method, pattern,
 * handler} row per endpoint, and the context every handler receives as
 * req->app. Adding an endpoint = a handler in api/<area>.c, its header,
 * one row here, and its description in api/openapi.json.
 */
#ifndef TB_API_ROUTES_H
#define TB_API_ROUTES_H

#include <stddef.h>
#include <time.h>

#include "server/router.h"
#include "server/settings.h"

struct prom_registry;
struct modelcache;

/* Shared state for handlers (set up once in main_server.c): read-only,
 * except the metrics registry, whose counters are atomics. */
struct api_context {
    const struct settings *settings; /* database URL etc.; read-only */
    time_t started;                  /* process start, for uptime */
    struct prom_registry *metrics;   /* request counters for GET /metrics (api/metrics_prom.h) */
    struct modelcache *models;       /* loaded meta-models for predict (api/modelcache.h; own locking) */
};

extern const struct route api_routes[];
extern const size_t api_routes_count;

#endif
