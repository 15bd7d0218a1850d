/*
 * routes — the table itself. Order matters only for readability: the
 * router scans every row, and a path known under another method yields 405
 * with an Allow header. Keep api/openapi.json in step (a unit test checks
 * that every row here is documented there).
 */
#include "routes.h"

#include "artifacts.h"
#include "backtests.h"
#include "health.h"
#include "metrics_prom.h"
#include "models.h"
#include "openapi.h"
#include "profiles.h"
#include "runs.h"
#include "static.h"

const struct route api_routes[] = {
    { "GET", "/health", api_health_get },
    { "GET", "/openapi.json", api_openapi_get },
    { "GET", "/metrics", api_metrics_get },
    { "POST", "/runs", api_runs_post },
    { "GET", "/runs", api_runs_list },
    { "GET", "/runs/{id}", api_runs_get },
    { "POST", "/runs/{id}/cancel", api_runs_cancel },
    { "GET", "/runs/{id}/profile", api_runs_profile },
    { "GET", "/runs/{id}/artifacts", api_artifacts_list },
    { "GET", "/runs/{id}/artifacts/{name}", api_artifacts_get },
    { "POST", "/backtests", api_backtests_post },
    { "GET", "/backtests/{id}", api_backtests_get },
    { "GET", "/backtests/{id}/orders", api_backtests_orders },
    { "GET", "/backtests/{id}/equity", api_backtests_equity },
    { "POST", "/models", api_models_post },
    { "GET", "/models", api_models_list },
    { "GET", "/models/{id}", api_models_get },
    { "DELETE", "/models/{id}", api_models_delete },
    { "GET", "/models/{id}/report", api_models_report },
    { "GET", "/models/{id}/artifacts/{name}", api_models_artifact },
    { "POST", "/models/{id}/predict", api_models_predict },
    { "GET", "/profiles", api_profiles_list },
    { "GET", "/profiles/report.md", api_profiles_report },
    { "GET", "/", api_static_index },
    { "GET", "/assets/{name}", api_static_asset },
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
