/* strategies/ema_trend.c — close above an ATR band over its EMA: s_t = 1 iff
 * C_t > EMA(C,n)_t + band * ATR(atr_n)_t, both defined (SPEC §3). The signal
 * runs the EMA and the ATR recursions in one loop with ind_ema's and
 * ind_atr's exact expressions (the ATR's division hides the EMA's latency). */
#include <math.h>
#include <string.h>

#include "indicators.h"
#include "strategies.h"

static const tb_param_def et_params[] = {
    {"n", 50, 1, 100000, 1, "EMA period (bars)"},
    {"atr_n", 14, 1, 100000, 1, "ATR period (bars)"},
    {"band", 0.5, -1000, 1000, 0, "ATR multiple above the EMA"},
};

static inline double et_tr(const double *h, const double *l, const double *c, size_t t)
{
    double a = h[t] - l[t], b = fabs(h[t] - c[t - 1]), d = fabs(l[t] - c[t - 1]);
    double m = a > b ? a : b;
    return m > d ? m : d;
}

static void et_signal(const double *p, const tb_series *s, uint8_t *sig, double *scratch)
{
    (void)scratch;
    const int ne = (int)p[0], n = (int)p[1];
    const double band = p[2];
    const double *h = s->high, *l = s->low, *c = s->close;
    const size_t len = s->n, e_first = (size_t)ne - 1, a_first = (size_t)n;
    const size_t first = e_first > a_first ? e_first : a_first; /* both defined from here on */
    if (first >= len) {
        memset(sig, 0, len);
        return;
    }
    memset(sig, 0, first);
    const double a = 2.0 / (ne + 1.0);
    double e = ind_sma_at(c, e_first, ne);
    for (size_t t = e_first + 1; t <= first; t++) e = a * c[t] + (1.0 - a) * e;
    double sum = 0;
    for (size_t t = 1; t <= a_first; t++) sum += et_tr(h, l, c, t);
    double atr = sum / n;
    for (size_t t = a_first + 1; t <= first; t++) atr = ((n - 1) * atr + et_tr(h, l, c, t)) / n;
    sig[first] = c[first] > e + band * atr;
    for (size_t t = first + 1; t < len; t++) {
        e = a * c[t] + (1.0 - a) * e;
        atr = ((n - 1) * atr + et_tr(h, l, c, t)) / n;
        sig[t] = c[t] > e + band * atr;
    }
}

static size_t et_inputs(const double *p, ind_key *keys)
{
    keys[0] = (ind_key){IND_EMA, (int)p[0]};
    keys[1] = (ind_key){IND_ATR, (int)p[1]};
    return 2;
}

static void et_signal_from(const double *p, const tb_series *s, const double *const *in, uint8_t *sig)
{
    const double band = p[2], *restrict ema = in[0], *restrict atr = in[1], *restrict c = s->close;
    uint8_t *restrict out = sig;
    const size_t n = s->n;
    for (size_t t = 0; t < n; t++) out[t] = c[t] > ema[t] + band * atr[t];
}

static void et_compare_from(const double *p, const tb_series *s, const double *const *in, double *tmp,
                            const double **left, const double **right)
{
    const double band = p[2], *restrict ema = in[0], *restrict atr = in[1];
    double *restrict r = tmp;
    for (size_t t = 0; t < s->n; t++) r[t] = ema[t] + band * atr[t]; /* et_signal_from's right-hand side */
    *left = s->close;
    *right = tmp;
}

const tb_strategy_def strategy_ema_trend = {
    "ema_trend", "trend filter: long while close > EMA(n) + band * ATR(atr_n)", et_params, 3, NULL, 2, et_signal,
    et_inputs,   et_signal_from, et_compare_from,
};
