/*
 * openapi — GET /openapi.json: the OpenAPI 3.0 description of the API as
 * it exists now. The document is the file api/openapi.json, embedded into
 * the binary at build time (server/embed.cmake); served as-is.
 */
#ifndef TB_API_OPENAPI_H
#define TB_API_OPENAPI_H

#include "server/http.h"

/* 200 application/json with the embedded document (no allocation). */
void api_openapi_get(const struct http_request *req, struct http_reply *rep);

#endif
