/*
 * artifacts — GET /runs/{id}/artifacts (the run's list: name, content
 * type, rows, bytes, url) and GET /runs/{id}/artifacts/{name} (download).
 * A name is looked up in the run's `artifacts` rows and nowhere else: it is
 * never a file path. Stored bytes are served as stored; orders_<f>.csv,
 * equity_curve_<f>.csv and metrics.json are rendered from the result rows,
 * byte-identical to what the command line writes.
 */
#ifndef TB_API_ARTIFACTS_H
#define TB_API_ARTIFACTS_H

#include "server/http.h"

void api_artifacts_list(const struct http_request *req, struct http_reply *rep);
void api_artifacts_get(const struct http_request *req, struct http_reply *rep);

#endif
