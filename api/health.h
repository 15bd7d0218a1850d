/*
 * health — GET /health: liveness plus database readiness. Opens a fresh
 * PostgreSQL connection on every call (no cached state), so it reports the
 * database truthfully and recovers by itself when PostgreSQL comes back.
 */
#ifndef TB_API_HEALTH_H
#define TB_API_HEALTH_H

#include "server/http.h"

/* 200 {"status":"ok","database":"up",...} or 503 problem+json with
 * "database":"down". req->app is a struct api_context. */
void api_health_get(const struct http_request *req, struct http_reply *rep);

#endif
