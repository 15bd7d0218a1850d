/* indicators.c — SPEC §2 indicators (see indicators.h for conventions).
 * Windowed sums are taken left to right over the window (no running
 * add/subtract), so every value equals its textbook definition to the last
 * few ulps, whatever came before it in the series. */
#include "indicators.h"

#include <math.h>
#include <stdio.h>

static void fill_nan(double *out, size_t from, size_t to)
{
    for (size_t t = from; t < to; t++) out[t] = NAN;
}

double ind_sma_at(const double *x, size_t t, int n)
{
    if (n < 1 || t + 1 < (size_t)n) return NAN;
    double s = 0;
    for (size_t u = t + 1 - (size_t)n; u <= t; u++) s += x[u];
    return s / n;
}

void ind_sma(const double *x, size_t len, int n, double *out)
{
    size_t first = (size_t)n - 1;
    fill_nan(out, 0, first < len ? first : len);
    for (size_t t = first; t < len; t++) out[t] = ind_sma_at(x, t, n);
}

void ind_ema(const double *x, size_t len, int n, double *out)
{
    size_t first = (size_t)n - 1;
    if (first >= len) {
        fill_nan(out, 0, len);
        return;
    }
    fill_nan(out, 0, first);
    const double a = 2.0 / (n + 1.0);
    double e = ind_sma_at(x, first, n);
    out[first] = e;
    for (size_t t = first + 1; t < len; t++) {
        e = a * x[t] + (1.0 - a) * e;
        out[t] = e;
    }
}

/* EMA(x, n) up to index `to` (n - 1 <= to < len): NaN before n - 1, the
 * SMA seed at n - 1, then ind_ema's recursion; returns the value at `to`. */
static double ema_head(const double *x, int n, size_t to, double *out)
{
    size_t first = (size_t)n - 1;
    fill_nan(out, 0, first);
    const double a = 2.0 / (n + 1.0);
    double e = ind_sma_at(x, first, n);
    out[first] = e;
    for (size_t t = first + 1; t <= to; t++) {
        e = a * x[t] + (1.0 - a) * e;
        out[t] = e;
    }
    return e;
}

void ind_ema2(const double *x, size_t len, int n1, int n2, double *out1, double *out2)
{
    if (n1 > n2) { /* the shorter period first: it is defined from the earlier bar */
        int tn = n1;
        n1 = n2, n2 = tn;
        double *to = out1;
        out1 = out2, out2 = to;
    }
    if (n1 < 1 || (size_t)n2 - 1 >= len) { /* at most one defined value: nothing to pair */
        ind_ema(x, len, n1, out1);
        ind_ema(x, len, n2, out2);
        return;
    }
    const size_t first = (size_t)n2 - 1; /* both defined from here on */
    double e1 = ema_head(x, n1, first, out1), e2 = ema_head(x, n2, first, out2);
    const double a1 = 2.0 / (n1 + 1.0), a2 = 2.0 / (n2 + 1.0);
    for (size_t t = first + 1; t < len; t++) { /* two independent chains, each exactly ind_ema's */
        e1 = a1 * x[t] + (1.0 - a1) * e1;
        e2 = a2 * x[t] + (1.0 - a2) * e2;
        out1[t] = e1;
        out2[t] = e2;
    }
}

void ind_ema4(const double *x, size_t len, const int *n, double *const *out)
{
    int p[4];
    double *o[4];
    for (size_t k = 0; k < 4; k++) { /* by period: the longest decides where all four are defined */
        size_t q = k;
        for (; q > 0 && p[q - 1] > n[k]; q--) p[q] = p[q - 1], o[q] = o[q - 1];
        p[q] = n[k];
        o[q] = out[k];
    }
    if (p[0] < 1 || (size_t)p[3] - 1 >= len) { /* a period never or barely defined: no four chains to run */
        ind_ema2(x, len, p[0], p[1], o[0], o[1]);
        ind_ema2(x, len, p[2], p[3], o[2], o[3]);
        return;
    }
    const size_t first = (size_t)p[3] - 1;
    double e0 = ema_head(x, p[0], first, o[0]), e1 = ema_head(x, p[1], first, o[1]);
    double e2 = ema_head(x, p[2], first, o[2]), e3 = ema_head(x, p[3], first, o[3]);
    const double a0 = 2.0 / (p[0] + 1.0), a1 = 2.0 / (p[1] + 1.0), a2 = 2.0 / (p[2] + 1.0), a3 = 2.0 / (p[3] + 1.0);
    double *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
    for (size_t t = first + 1; t < len; t++) { /* four independent chains, each exactly ind_ema's */
        e0 = a0 * x[t] + (1.0 - a0) * e0;
        e1 = a1 * x[t] + (1.0 - a1) * e1;
        e2 = a2 * x[t] + (1.0 - a2) * e2;
        e3 = a3 * x[t] + (1.0 - a3) * e3;
        o0[t] = e0;
        o1[t] = e1;
        o2[t] = e2;
        o3[t] = e3;
    }
}

static inline double tr_at(const double *h, const double *l, const double *c, size_t t)
{
    double a = h[t] - l[t], b = fabs(h[t] - c[t - 1]), d = fabs(l[t] - c[t - 1]);
    double m = a > b ? a : b;
    return m > d ? m : d;
}

void ind_tr(const double *h, const double *l, const double *c, size_t len, double *out)
{
    if (len) out[0] = NAN;
    for (size_t t = 1; t < len; t++) out[t] = tr_at(h, l, c, t);
}

void ind_atr(const double *h, const double *l, const double *c, size_t len, int n, double *out)
{
    size_t first = (size_t)n;
    if (first >= len) {
        fill_nan(out, 0, len);
        return;
    }
    fill_nan(out, 0, first);
    double s = 0;
    for (size_t t = 1; t <= first; t++) s += tr_at(h, l, c, t);
    double a = s / n;
    out[first] = a;
    for (size_t t = first + 1; t < len; t++) {
        a = ((n - 1) * a + tr_at(h, l, c, t)) / n;
        out[t] = a;
    }
}

static inline double rsi_value(double ag, double al)
{
    if (al == 0) return ag == 0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + ag / al);
}

void ind_rsi(const double *c, size_t len, int n, double *out)
{
    size_t first = (size_t)n;
    if (first >= len) {
        fill_nan(out, 0, len);
        return;
    }
    fill_nan(out, 0, first);
    double sg = 0, sl = 0;
    for (size_t t = 1; t <= first; t++) {
        double d = c[t] - c[t - 1];
        sg += d > 0 ? d : 0;
        sl += d < 0 ? -d : 0;
    }
    double ag = sg / n, al = sl / n;
    out[first] = rsi_value(ag, al);
    for (size_t t = first + 1; t < len; t++) {
        double d = c[t] - c[t - 1];
        ag = ((n - 1) * ag + (d > 0 ? d : 0)) / n;
        al = ((n - 1) * al + (d < 0 ? -d : 0)) / n;
        out[t] = rsi_value(ag, al);
    }
}

void ind_logret(const double *c, size_t len, int k, double *out)
{
    size_t first = (size_t)k;
    fill_nan(out, 0, first < len ? first : len);
    for (size_t t = first; t < len; t++) out[t] = log(c[t] / c[t - first]);
}

double ind_vol_at(const double *c, size_t t, int n)
{
    if (n < 2 || t < (size_t)n) return NAN;
    double rp[512], s = 0; /* windows longer than 512 take the logs twice instead of storing them */
    size_t a = t + 1 - (size_t)n;
    if (n <= 512) {
        for (size_t u = a; u <= t; u++) {
            rp[u - a] = log(c[u] / c[u - 1]);
            s += rp[u - a];
        }
        double mean = s / n, ss = 0;
        for (int k = 0; k < n; k++) ss += (rp[k] - mean) * (rp[k] - mean);
        return sqrt(ss / (n - 1));
    }
    for (size_t u = a; u <= t; u++) s += log(c[u] / c[u - 1]);
    double mean = s / n, ss = 0;
    for (size_t u = a; u <= t; u++) {
        double d = log(c[u] / c[u - 1]) - mean;
        ss += d * d;
    }
    return sqrt(ss / (n - 1));
}

void ind_vol(const double *c, size_t len, int n, double *out)
{
    size_t first = (size_t)n;
    fill_nan(out, 0, first < len ? first : len);
    for (size_t t = first; t < len; t++) out[t] = ind_vol_at(c, t, n);
}

void ind_adv(const double *v, size_t len, int n, double *out) { ind_sma(v, len, n, out); }

double ind_spread_at(const double *h, const double *l, const double *c, size_t t, int n)
{
    if (n < 1 || t < (size_t)n) return NAN;
    /* the textbook form, term by term; eta_{u+1} is carried to the next u so
     * each bar's logs are taken once */
    double s = 0;
    size_t u0 = t - (size_t)n;
    double eta_next = (log(h[u0]) + log(l[u0])) / 2;
    for (size_t u = u0; u < t; u++) {
        double cu = log(c[u]);
        double eu = eta_next;
        eta_next = (log(h[u + 1]) + log(l[u + 1])) / 2;
        s += (cu - eu) * (cu - eta_next);
    }
    double m = 4 * (s / n);
    return 1e4 * sqrt(m > 0 ? m : 0);
}

void ind_spread(const double *h, const double *l, const double *c, size_t len, int n, double *out)
{
    size_t first = (size_t)n;
    fill_nan(out, 0, first < len ? first : len);
    for (size_t t = first; t < len; t++) out[t] = ind_spread_at(h, l, c, t, n);
}

void ind_compute(ind_key k, const double *h, const double *l, const double *c, size_t len, double *out)
{
    switch (k.kind) {
    case IND_EMA: ind_ema(c, len, k.n, out); break;
    case IND_SMA: ind_sma(c, len, k.n, out); break;
    case IND_ATR: ind_atr(h, l, c, len, k.n, out); break;
    default: fill_nan(out, 0, len);
    }
}

const char *ind_key_name(ind_key k, char *buf, size_t n)
{
    const char *name = k.kind == IND_EMA ? "ema" : k.kind == IND_SMA ? "sma" : k.kind == IND_ATR ? "atr" : "?";
    snprintf(buf, n, "%s(%d)", name, k.n);
    return buf;
}
