/* costs.h — the SPEC §4.2 transaction cost model. The per-order statistics
 * (SPREAD(20), VOL(20), ADV(20) at the signal bar) are taken once per order
 * from their window definitions (or read from a precomputed table, below);
 * cost_amount is then a pure function. */
#ifndef TB_COSTS_H
#define TB_COSTS_H
#include <stddef.h>
#include <stdint.h>

typedef struct tb_costs {
    double commission_bps; /* flat, in basis points of notional */
    double spread_w;       /* weight on SPREAD(20) bps */
    double impact_w;       /* weight on the square-root impact bps */
} tb_costs;

/* Defaults 0.5 / 0.25 / 0.5; "none" is all zero. */
tb_costs costs_default(void);
tb_costs costs_none(void);

/* Statistics of one symbol at its bar b (NaN when undefined). */
typedef struct tb_cost_stats {
    double spread_bps; /* SPREAD(20)_b */
    double vol;        /* VOL(20)_b */
    double adv;        /* ADV(20)_b */
} tb_cost_stats;

tb_cost_stats costs_stats_at(const double *h, const double *l, const double *c, const double *v, long b);

/* The same statistics at every bar of a range, for callers that need many of
 * them (a sweep's members all trade on the same bars): each bar's logs are
 * taken once and every window is summed left to right exactly as
 * costs_stats_at() does, so table values equal its results bit for bit.
 * Arrays are in market layout (bar k of symbol i at offset[i] + k). */
typedef struct tb_cost_table {
    tb_cost_stats *at; /* one record per bar: an order's three values share a cache line or two */
} tb_cost_table;

/* Fill bars from..len-1 of one symbol's series (h, l, c, v and out point at
 * its first bar). scratch holds 3 * len doubles. */
void costs_table_fill(const double *h, const double *l, const double *c, const double *v, size_t len, size_t from,
                      tb_cost_stats *out, double *scratch);

/* Statistics at bars[0..n) of one symbol (ascending; h, l, c, v point at its
 * first bar, len bars) into out[0..n): a bar shared by overlapping windows
 * has its logs taken once. scratch holds 3 * len doubles. Same values as
 * costs_stats_at(). */
void costs_stats_list(const double *h, const double *l, const double *c, const double *v, size_t len,
                      const int32_t *bars, size_t n, tb_cost_stats *out, double *scratch);

/* The per-bar logs the statistics are made of, for callers that keep them
 * between orders: lc = ln C_u, eta = (ln H_u + ln L_u) / 2, lr = ln(C_u / C_{u-1})
 * (NaN at u = 0). */
typedef struct tb_cost_logs {
    double lc, eta, lr;
} tb_cost_logs;
tb_cost_logs costs_logs(const double *h, const double *l, const double *c, size_t u);
/* The statistics at bar t from the logs of bars a..t (a = t - 20, or 0 when
 * t < 20) in logs[0..t-a] and the symbol's volumes v (its first bar at v[0]);
 * the logs are not read when t < 20. Same values as costs_stats_at(). */
tb_cost_stats costs_stats_from_logs(const tb_cost_logs *logs, const double *v, size_t t);

/* cost_bps for an order of |dq| shares (SPEC §4.2). */
double costs_bps(const tb_costs *cm, const tb_cost_stats *st, double abs_dq);
/* Currency cost of |dq| shares at price px. */
double costs_amount(const tb_costs *cm, const tb_cost_stats *st, double abs_dq, double px);

#endif
