/* costs.c — SPEC §4.2 cost model (see costs.h). */
#include "costs.h"

#include <math.h>

#include "indicators.h"

tb_costs costs_default(void) { return (tb_costs){0.5, 0.25, 0.5}; }
tb_costs costs_none(void) { return (tb_costs){0, 0, 0}; }

tb_cost_stats costs_stats_at(const double *h, const double *l, const double *c, const double *v, long b)
{
    tb_cost_stats st = {NAN, NAN, NAN};
    if (b < 0) return st;
    size_t t = (size_t)b;
    st.spread_bps = ind_spread_at(h, l, c, t, 20);
    st.vol = ind_vol_at(c, t, 20);
    st.adv = ind_sma_at(v, t, 20);
    return st;
}

double costs_bps(const tb_costs *cm, const tb_cost_stats *st, double abs_dq)
{
    double spread = isnan(st->spread_bps) ? 0 : st->spread_bps;
    double impact = 0;
    if (!isnan(st->vol) && !isnan(st->adv) && st->adv != 0) impact = 1e4 * st->vol * sqrt(abs_dq / st->adv);
    return cm->commission_bps + cm->spread_w * spread + cm->impact_w * impact;
}

double costs_amount(const tb_costs *cm, const tb_cost_stats *st, double abs_dq, double px)
{
    return abs_dq * px * costs_bps(cm, st, abs_dq) / 1e4;
}
