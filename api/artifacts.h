/*
 * artifacts — GET /runs/{id}/artifacts (the run's list: name, content
 * type, rows, bytes, url) and GET /runs/{id}/artifacts/{name} (download).
 * A name is looked up in the run's `artifacts` rows and nowhere else: it is
 * never a file path. Stored bytes are served as stored; orders_<f>.csv,
 * equity_curve_<f>.csv and metrics.json are rendered from the result rows,
 * dataset_<strategy>_<f>.csv from dataset_rows and <strategy>_meta_model.json
 * from models.model, byte-identical to what the command line writes.
 */
#ifndef TB_API_ARTIFACTS_H
#define TB_API_ARTIFACTS_H

#include <stdint.h>

#include "server/http.h"

void api_artifacts_list(const struct http_request *req, struct http_reply *rep);
void api_artifacts_get(const struct http_request *req, struct http_reply *rep);
/* The download behind GET /runs/{id}/artifacts/{name} (and
 * /models/{id}/artifacts/{name}): 404 for a name not in the run's list. */
void artifacts_reply(const struct http_request *req, struct http_reply *rep, int64_t run_id,
                     const char *name);

#endif
