/*
 * routes — the table itself. Order matters only for readability: the
 * router scans every row, and a path known under another method yields 405
 * with an Allow header. Keep api/openapi.json in step (a unit test checks
 * that every row here is documented there).
 */
#include "routes.h"

#include "health.h"
#include "openapi.h"
#include "static.h"

const struct route api_routes[] = {
    { "GET", "/health", api_health_get },
    { "GET", "/openapi.json", api_openapi_get },
    { "GET", "/", api_static_index },
    { "GET", "/assets/{name}", api_static_asset },
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
