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

/* Needs lc, eta at t-20..t and lr at t-19..t when t >= 20. The three sums
 * run in one loop (independent chains, each still left to right). */
static inline tb_cost_stats costs_from_logs(const double *lc, const double *eta, const double *lr, const double *v,
                                            size_t t)
{
    enum { W = COSTS_W };
    tb_cost_stats st;
    if (t < W) {
        st.spread_bps = st.vol = NAN;
        if (t + 1 < W) {
            st.adv = NAN;
        } else {
            double sv = 0;
            for (size_t u = t + 1 - W; u <= t; u++) sv += v[u];
            st.adv = sv / W;
        }
        return st;
    }
    double sp = 0, sl = 0, sv = 0;
    for (size_t u = t - W; u < t; u++) {
        sp += (lc[u] - eta[u]) * (lc[u] - eta[u + 1]);
        sl += lr[u + 1];
        sv += v[u + 1];
    }
    double m = 4 * (sp / W);
    st.spread_bps = 1e4 * sqrt(m > 0 ? m : 0);
    double mean = sl / W, ss = 0;
    for (size_t u = t + 1 - W; u <= t; u++) ss += (lr[u] - mean) * (lr[u] - mean);
    st.vol = sqrt(ss / (W - 1));
    st.adv = sv / W;
    return st;
}

/* Four consecutive bars t..t+3 (t >= 20) at once from the spread terms
 * term[u] = (lc[u] - eta[u]) * (lc[u] - eta[u+1]): every lane sums its own
 * window in costs_from_logs()'s order, the lanes only run side by side. */
static void costs_block4(const double *term, const double *lr, const double *v, size_t t, tb_cost_stats *out)
{
    enum { W = COSTS_W, L = 4 };
    double sp[L] = {0, 0, 0, 0}, sl[L] = {0, 0, 0, 0}, sv[L] = {0, 0, 0, 0}, ss[L] = {0, 0, 0, 0}, mean[L];
    for (size_t k = 0; k < W; k++)
        for (size_t j = 0; j < L; j++) {
            size_t u = t + j - W + k;
            sp[j] += term[u];
            sl[j] += lr[u + 1];
            sv[j] += v[u + 1];
        }
    for (size_t j = 0; j < L; j++) mean[j] = sl[j] / W;
    for (size_t k = 0; k < W; k++)
        for (size_t j = 0; j < L; j++) {
            double d = lr[t + j + 1 - W + k] - mean[j];
            ss[j] += d * d;
        }
    for (size_t j = 0; j < L; j++) {
        double m = 4 * (sp[j] / W);
        out[t + j].spread_bps = 1e4 * sqrt(m > 0 ? m : 0);
        out[t + j].vol = sqrt(ss[j] / (W - 1));
        out[t + j].adv = sv[j] / W;
    }
}

/* One bar t >= 20 from the spread terms: costs_block4() with one lane. */
static void costs_one(const double *term, const double *lr, const double *v, size_t t, tb_cost_stats *out)
{
    enum { W = COSTS_W };
    double sp = 0, sl = 0, sv = 0, ss = 0;
    for (size_t k = 0; k < W; k++) {
        size_t u = t - W + k;
        sp += term[u];
        sl += lr[u + 1];
        sv += v[u + 1];
    }
    double mean = sl / W;
    for (size_t k = 0; k < W; k++) {
        double d = lr[t + 1 - W + k] - mean;
        ss += d * d;
    }
    double m = 4 * (sp / W);
    out[t].spread_bps = 1e4 * sqrt(m > 0 ? m : 0);
    out[t].vol = sqrt(ss / (W - 1));
    out[t].adv = sv / W;
}

void costs_table_fill(const double *h, const double *l, const double *c, const double *v, size_t len, size_t from,
                      tb_cost_stats *out, double *scratch)
{
    if (from >= len) return;
    double *lc = scratch, *eta = scratch + len, *lr = scratch + 2 * len;
    size_t u0 = from > COSTS_W ? from - COSTS_W : 0;
    for (size_t u = u0; u < len; u++) costs_logs_at(h, l, c, u, lc, eta, lr);
    size_t t = from;
    for (; t < len && t < COSTS_W; t++) out[t] = costs_from_logs(lc, eta, lr, v, t);
    if (t + 4 <= len) {
        double *term = lc; /* each term once; lc[u] is not read again after term[u] */
        for (size_t u = t - COSTS_W; u + 1 < len; u++) term[u] = (lc[u] - eta[u]) * (lc[u] - eta[u + 1]);
        for (; t + 4 <= len; t += 4) costs_block4(term, lr, v, t, out);
        for (; t < len; t++) costs_one(term, lr, v, t, out); /* the last few */
        return;
    }
    for (; t < len; t++) out[t] = costs_from_logs(lc, eta, lr, v, t);
}

tb_cost_logs costs_logs(const double *h, const double *l, const double *c, size_t u)
{
    tb_cost_logs g; /* costs_logs_at()'s expressions */
    g.lc = log(c[u]);
    g.eta = (log(h[u]) + log(l[u])) / 2;
    g.lr = u ? log(c[u] / c[u - 1]) : NAN;
    return g;
}

tb_cost_stats costs_stats_from_logs(const tb_cost_logs *logs, const double *v, size_t t)
{
    enum { W = COSTS_W };
    if (t < W) return costs_from_logs(NULL, NULL, NULL, v, t); /* ADV only: no log is read */
    double lc[W + 1], eta[W + 1], lr[W + 1];
    for (size_t k = 0; k <= W; k++) lc[k] = logs[k].lc, eta[k] = logs[k].eta, lr[k] = logs[k].lr;
    /* window-local indices: bar t - W + k at k, so t becomes W; v likewise */
    return costs_from_logs(lc, eta, lr, v + (t - W), W);
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
