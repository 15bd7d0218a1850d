/* costs.h — the SPEC §4.2 transaction cost model. The per-order statistics
 * (SPREAD(20), VOL(20), ADV(20) at the signal bar) are taken once per order
 * from their window definitions; cost_amount is then a pure function. */
#ifndef TB_COSTS_H
#define TB_COSTS_H
#include <stddef.h>

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

/* cost_bps for an order of |dq| shares (SPEC §4.2). */
double costs_bps(const tb_costs *cm, const tb_cost_stats *st, double abs_dq);
/* Currency cost of |dq| shares at price px. */
double costs_amount(const tb_costs *cm, const tb_cost_stats *st, double abs_dq, double px);

#endif
