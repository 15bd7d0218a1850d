/* strategies/trend_baseline.c — EMA crossover: s_t = 1 iff
 * EMA(C,fast)_t > EMA(C,slow)_t, both defined (SPEC §3). */
#include <math.h>

#include "indicators.h"
#include "strategies.h"

static const tb_param_def tb_params[] = {
    {"fast", 20, 1, 100000, 1, "fast EMA period (bars)"},
    {"slow", 50, 1, 100000, 1, "slow EMA period (bars), > fast"},
};

static int tb_validate(const double *p, tb_error *err)
{
    if (p[0] >= p[1])
        return tb_fail_field(err, TB_EINVAL, "fast", "parameter fast (%g) must be < slow (%g)", p[0], p[1]);
    return 0;
}

static void tb_signal(const double *p, const tb_series *s, uint8_t *sig, double *scratch)
{
    double *ef = scratch, *es = scratch + s->n;
    ind_ema(s->close, s->n, (int)p[0], ef);
    ind_ema(s->close, s->n, (int)p[1], es);
    for (size_t t = 0; t < s->n; t++) sig[t] = ef[t] > es[t]; /* NaN compares false */
}

const tb_strategy_def strategy_trend_baseline = {
    "trend_baseline", "EMA crossover: long while EMA(fast) > EMA(slow)", tb_params, 2, tb_validate, 2, tb_signal,
};
