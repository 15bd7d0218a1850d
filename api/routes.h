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

/* Shared, read-only state for handlers (set up once in main_server.c). */
struct api_context {
    const struct settings *settings; /* database URL etc.; read-only */
    time_t started;                  /* process start, for uptime */
};

extern const struct route api_routes[];
extern const size_t api_routes_count;

#endif
