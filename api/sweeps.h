/*
 * sweeps — the read side of parameter sweeps (runs of kind "sweep", POST
 * /backtests with a grid): the "sweep" object GET /backtests/{id} adds once
 * the sweep has succeeded — what ran (grid, combinations, skipped and why,
 * threads, timing) and the ranked table, best Sharpe first, each member with
 * its parameters, the headline metrics and all SPEC §5 metrics. Read from
 * the sweeps and sweep_members tables (sql/005_sweeps.sql) in one query.
 */
#ifndef TB_API_SWEEPS_H
#define TB_API_SWEEPS_H

#include <jansson.h>

#include "server/http.h"

/* The sweep object of run `id` (decimal text): a new reference (the caller
 * owns it), json null when the run has no sweeps row, or NULL after
 * replying 503/500. */
json_t *sweeps_json(const struct http_request *req, struct http_reply *rep, const char *id);

#endif
