/* costs.c — SPEC §4.2 cost model (see costs.h). */
#include "costs.h"

#include <math.h>

#include "indicators.h"

tb_costs costs_default(void) { return (tb_costs){0.5, 0.25, 0.5}; }
tb_costs costs_none(void) { return (tb_costs){0, 0, 0}; }

/* The windows below repeat indicators.c's ind_spread_at / ind_vol_at /
 * ind_sma_at term by term, in the same order, from per-bar logs taken once:
 * lc[u] = ln C_u, eta[u] = (ln H_u + ln L_u) / 2, lr[u] = ln(C_u / C_{u-1}). */
enum { COSTS_W = 20 };

static inline void costs_logs_at(const double *h, const double *l, const double *c, size_t u, double *lc,
                                 double *eta, double *lr)
{
    lc[u] = log(c[u]);
    eta[u] = (log(h[u]) + log(l[u])) / 2;
    lr[u] = u ? log(c[u] / c[u - 1]) : NAN;
}

/* Needs lc, eta at t-20..t and lr at t-19..t when t >= 20. */
static inline tb_cost_stats costs_from_logs(const double *lc, const double *eta, const double *lr, const double *v,
                                            size_t t)
{
    enum { W = COSTS_W };
    tb_cost_stats st;
    if (t < W) {
        st.spread_bps = st.vol = NAN;
    } else {
        double s = 0;
        for (size_t u = t - W; u < t; u++) s += (lc[u] - eta[u]) * (lc[u] - eta[u + 1]);
        double m = 4 * (s / W);
        st.spread_bps = 1e4 * sqrt(m > 0 ? m : 0);
        s = 0;
        for (size_t u = t + 1 - W; u <= t; u++) s += lr[u];
        double mean = s / W, ss = 0;
        for (size_t u = t + 1 - W; u <= t; u++) ss += (lr[u] - mean) * (lr[u] - mean);
        st.vol = sqrt(ss / (W - 1));
    }
    if (t + 1 < W) {
        st.adv = NAN;
    } else {
        double s = 0;
        for (size_t u = t + 1 - W; u <= t; u++) s += v[u];
        st.adv = s / W;
    }
    return st;
}

void costs_table_fill(const double *h, const double *l, const double *c, const double *v, size_t len, size_t from,
                      tb_cost_stats *out, double *scratch)
{
    if (from >= len) return;
    double *lc = scratch, *eta = scratch + len, *lr = scratch + 2 * len;
    for (size_t u = from > COSTS_W ? from - COSTS_W : 0; u < len; u++) costs_logs_at(h, l, c, u, lc, eta, lr);
    for (size_t t = from; t < len; t++) out[t] = costs_from_logs(lc, eta, lr, v, t);
}

void costs_stats_list(const double *h, const double *l, const double *c, const double *v, size_t len,
                      const int32_t *bars, size_t n, tb_cost_stats *out, double *scratch)
{
    double *lc = scratch, *eta = scratch + len, *lr = scratch + 2 * len;
    size_t vlo = 0, vhi = 0; /* logs held for bars vlo..vhi-1 */
    for (size_t j = 0; j < n; j++) {
        size_t t = (size_t)bars[j];
        if (t >= COSTS_W) {
            size_t a = t - COSTS_W;
            if (a < vlo || a > vhi) vlo = vhi = a;
            for (size_t u = vhi > a ? vhi : a; u <= t; u++) costs_logs_at(h, l, c, u, lc, eta, lr);
            if (t + 1 > vhi) vhi = t + 1;
        }
        out[j] = costs_from_logs(lc, eta, lr, v, t);
    }
}

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
