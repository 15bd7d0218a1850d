/* metrics.c — SPEC §5 metrics (see metrics.h). Straight two-pass formulas;
 * sample statistics use ddof = 1. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

#include "xalloc.h"

const char *const metrics_names[15] = {
    "total_return", "cagr",      "volatility", "sharpe",   "sortino",     "max_drawdown", "max_drawdown_duration",
    "calmar",       "turnover",  "exposure",   "n_orders", "total_costs", "hit_rate",     "beta",
    "correlation",
};

double metrics_get(const tb_metrics *mt, size_t k)
{
    const double v[15] = {mt->total_return, mt->cagr,      mt->volatility, mt->sharpe,   mt->sortino,
                          mt->max_drawdown, mt->max_drawdown_duration,     mt->calmar,   mt->turnover,
                          mt->exposure,     mt->n_orders,  mt->total_costs, mt->hit_rate, mt->beta,
                          mt->correlation};
    return k < 15 ? v[k] : NAN;
}

/* Symbol by symbol over each one's bars inside the panel: acc[t] receives
 * the symbols' returns in ascending symbol order, the order of the
 * definition's sum over symbols at t, so the means are the same doubles. */
void metrics_benchmark(const tb_market *m, const tb_panel *p, double *b)
{
    const size_t T = p->T;
    if (!T) return;
    uint32_t *cnt = xcalloc(T, sizeof *cnt);
    for (size_t t = 0; t < T; t++) b[t] = 0;
    for (size_t i = 0; i < p->N; i++) {
        const double *c = m->close + m->offset[i];
        int32_t lo = p->lo[i], hi = p->hi[i], k0 = lo > 1 ? lo : 1;
        if (p->tmap_off[i] < 0) { /* bar k at time t0 + k - lo: a plain (vectorisable) loop */
            const int32_t d = p->t0[i] - lo;
            for (int32_t k = k0; k < hi; k++) {
                b[k + d] += c[k] / c[k - 1] - 1;
                cnt[k + d]++;
            }
            continue;
        }
        for (int32_t k = k0; k < hi; k++) {
            int32_t t = panel_bar_time(p, i, k - lo);
            b[t] += c[k] / c[k - 1] - 1;
            cnt[t]++;
        }
    }
    b[0] = NAN;
    for (size_t t = 1; t < T; t++) b[t] = cnt[t] ? b[t] / (double)cnt[t] : 0;
    free(cnt);
}

static double mean_of(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

void metrics_compute(const tb_sim_result *r, const double *bench, int P, tb_metrics *out)
{
    const size_t T = r->T;
    const double *E = r->equity;
    const size_t N = T ? T - 1 : 0; /* number of returns */
    const double sqp = sqrt((double)P);
    double years = (double)N / P;

    out->total_return = T ? E[T - 1] / E[0] - 1 : NAN;
    out->cagr = N ? pow(E[T - 1] / E[0], 1.0 / years) - 1 : NAN;

    /* returns: mean, std, downside, hit rate */
    double sr = 0;
    size_t pos = 0, nonzero = 0;
    for (size_t t = 1; t < T; t++) {
        double rt = E[t] / E[t - 1] - 1;
        sr += rt;
        pos += rt > 0;
        nonzero += rt != 0;
    }
    double mr = N ? sr / (double)N : NAN;
    double ss = 0, dd2 = 0;
    for (size_t t = 1; t < T; t++) {
        double rt = E[t] / E[t - 1] - 1;
        ss += (rt - mr) * (rt - mr);
        double d = rt < 0 ? rt : 0;
        dd2 += d * d;
    }
    double sd = N >= 2 ? sqrt(ss / (double)(N - 1)) : NAN;
    out->volatility = N >= 2 ? sd * sqp : NAN;
    out->sharpe = N >= 2 ? (sd == 0 ? 0 : mr / sd * sqp) : NAN;
    double dden = N ? sqrt(dd2 / (double)N) : NAN;
    out->sortino = N ? (dden == 0 ? 0 : mr / dden * sqp) : NAN;
    out->hit_rate = nonzero ? (double)pos / (double)nonzero : NAN;

    /* drawdown */
    double peak = T ? E[0] : NAN, mdd = 0;
    size_t run = 0, longest = 0;
    for (size_t t = 0; t < T; t++) {
        if (E[t] > peak) peak = E[t];
        double dd = 1 - E[t] / peak;
        if (dd > mdd) mdd = dd;
        if (E[t] < peak) {
            if (++run > longest) longest = run;
        } else {
            run = 0;
        }
    }
    out->max_drawdown = T ? mdd : NAN;
    out->max_drawdown_duration = T ? (double)longest : NAN;
    out->calmar = isnan(out->cagr) ? NAN : (mdd == 0 ? 0 : out->cagr / mdd);

    double meanE = T ? mean_of(E, T) : NAN;
    out->turnover = N ? r->traded_notional / meanE / years : NAN;
    double ex = 0;
    for (size_t t = 0; t < T; t++) ex += r->gross[t] / E[t];
    out->exposure = T ? ex / (double)T : NAN;
    out->n_orders = (double)r->orders.n;
    out->total_costs = r->total_costs;

    /* beta and correlation against the universe benchmark */
    out->beta = out->correlation = NAN;
    if (N >= 2) {
        double mb = mean_of(bench + 1, N), sxy = 0, sbb = 0;
        for (size_t t = 1; t < T; t++) {
            double rt = E[t] / E[t - 1] - 1;
            sxy += (rt - mr) * (bench[t] - mb);
            sbb += (bench[t] - mb) * (bench[t] - mb);
        }
        double cov = sxy / (double)(N - 1), vb = sbb / (double)(N - 1);
        if (vb > 0) out->beta = cov / vb;
        if (vb > 0 && ss > 0) out->correlation = sxy / sqrt(ss * sbb);
    }
}

json_t *metrics_to_json(const tb_metrics *mt)
{
    json_t *o = json_object();
    for (size_t k = 0; k < 15; k++) {
        double v = metrics_get(mt, k);
        json_t *jv;
        if (isnan(v) || isinf(v)) jv = json_null();
        else if (k == 6 || k == 10) jv = json_integer((json_int_t)v); /* counts */
        else jv = json_real(v);
        json_object_set_new(o, metrics_names[k], jv);
    }
    return o;
}
