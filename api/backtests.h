/*
 * backtests — the /backtests endpoints (SPEC §10): enqueue a custom
 * backtest with every engine option, read it back with its metrics, and
 * page through its orders and equity curve as JSON, or download them as
 * CSV (?format=csv or Accept: text/csv) with the same bytes as the
 * orders_<f>.csv / equity_curve_<f>.csv artifacts. The read endpoints also
 * serve the standard runs that are backtests (EOD_SMALL, BACKTEST_MEDIUM).
 */
#ifndef TB_API_BACKTESTS_H
#define TB_API_BACKTESTS_H

#include "server/http.h"

#define BACKTESTS_PAGE_DEFAULT_LIMIT 500
#define BACKTESTS_PAGE_MAX_LIMIT 5000

/* POST /backtests {strategy, params, freq, data, symbols|universe, start, end,
 * last_bars, capital, costs, max_weight, rebalance_band, seed} -> 202 + Location. */
void api_backtests_post(const struct http_request *req, struct http_reply *rep);
/* GET /backtests/{id} -> the run (with "metrics" once succeeded). */
void api_backtests_get(const struct http_request *req, struct http_reply *rep);
/* GET /backtests/{id}/orders?limit=&cursor=&symbol=&format= */
void api_backtests_orders(const struct http_request *req, struct http_reply *rep);
/* GET /backtests/{id}/equity?limit=&cursor=&format= */
void api_backtests_equity(const struct http_request *req, struct http_reply *rep);

#endif
