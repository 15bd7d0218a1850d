/* strategies/ema_trend.c — close above an ATR band over its EMA: s_t = 1 iff
 * C_t > EMA(C,n)_t + band * ATR(atr_n)_t, both defined (SPEC §3). */
#include <math.h>

#include "indicators.h"
#include "strategies.h"

static const tb_param_def et_params[] = {
    {"n", 50, 1, 100000, 1, "EMA period (bars)"},
    {"atr_n", 14, 1, 100000, 1, "ATR period (bars)"},
    {"band", 0.5, -1000, 1000, 0, "ATR multiple above the EMA"},
};

static void et_signal(const double *p, const tb_series *s, uint8_t *sig, double *scratch)
{
    double *ema = scratch, *atr = scratch + s->n;
    ind_ema(s->close, s->n, (int)p[0], ema);
    ind_atr(s->high, s->low, s->close, s->n, (int)p[1], atr);
    const double band = p[2];
    for (size_t t = 0; t < s->n; t++) sig[t] = s->close[t] > ema[t] + band * atr[t];
}

const tb_strategy_def strategy_ema_trend = {
    "ema_trend", "trend filter: long while close > EMA(n) + band * ATR(atr_n)", et_params, 3, NULL, 2, et_signal,
};
