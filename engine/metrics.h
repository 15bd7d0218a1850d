/* metrics.h — SPEC §5 performance metrics of an equity curve, plus the
 * universe benchmark used for beta and correlation. Undefined metrics are
 * NaN here and `null` in metrics.json. */
#ifndef TB_METRICS_H
#define TB_METRICS_H
#include <jansson.h>
#include <stddef.h>

#include "market.h"
#include "panel.h"
#include "simulate.h"

typedef struct tb_metrics {
    double total_return, cagr, volatility, sharpe, sortino, max_drawdown;
    double max_drawdown_duration; /* bars */
    double calmar, turnover, exposure;
    double n_orders, total_costs, hit_rate, beta, correlation;
} tb_metrics;

/* Metric names in SPEC order, and their values by index (for tables). */
extern const char *const metrics_names[15];
double metrics_get(const tb_metrics *mt, size_t k);

/* Universe benchmark b_t (t >= 1): mean over symbols with a bar at t and a
 * previous bar of C_t / C_prev - 1; 0 when none. b[0] = NaN. */
void metrics_benchmark(const tb_market *m, const tb_panel *p, double *b);

void metrics_compute(const tb_sim_result *r, const double *bench, int periods_per_year, tb_metrics *out);

/* New JSON object with every metric (null when undefined). Caller decrefs. */
json_t *metrics_to_json(const tb_metrics *mt);

#endif
