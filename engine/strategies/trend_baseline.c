/* strategies/trend_baseline.c — EMA crossover: s_t = 1 iff
 * EMA(C,fast)_t > EMA(C,slow)_t, both defined (SPEC §3). The signal runs both
 * EMA recursions in one loop (two independent chains keep the FPU busy), with
 * ind_ema's exact expressions, so the values are ind_ema's. */
#include <math.h>
#include <string.h>

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

/* EMA(x, n) from its seed at n-1 advanced to index `to` (>= n-1). */
static double ema_to(const double *x, int n, size_t to)
{
    const double a = 2.0 / (n + 1.0);
    size_t first = (size_t)n - 1;
    double e = ind_sma_at(x, first, n);
    for (size_t t = first + 1; t <= to; t++) e = a * x[t] + (1.0 - a) * e;
    return e;
}

static void tb_signal(const double *p, const tb_series *s, uint8_t *sig, double *scratch)
{
    const int nf = (int)p[0], ns = (int)p[1];
    const size_t n = s->n;
    const double *x = s->close;
    if (nf >= ns) { /* never after validation; the plain form keeps the function total */
        double *ef = scratch, *es = scratch + n;
        ind_ema(x, n, nf, ef);
        ind_ema(x, n, ns, es);
        for (size_t t = 0; t < n; t++) sig[t] = ef[t] > es[t];
        return;
    }
    size_t first = (size_t)ns - 1; /* both defined from here on */
    if (first >= n) {
        memset(sig, 0, n);
        return;
    }
    memset(sig, 0, first);
    const double af = 2.0 / (nf + 1.0), as = 2.0 / (ns + 1.0);
    double ef = ema_to(x, nf, first), es = ind_sma_at(x, first, ns);
    sig[first] = ef > es;
    for (size_t t = first + 1; t < n; t++) {
        ef = af * x[t] + (1.0 - af) * ef;
        es = as * x[t] + (1.0 - as) * es;
        sig[t] = ef > es;
    }
}

static size_t tb_inputs(const double *p, ind_key *keys)
{
    keys[0] = (ind_key){IND_EMA, (int)p[0]};
    keys[1] = (ind_key){IND_EMA, (int)p[1]};
    return 2;
}

static void tb_signal_from(const double *p, const tb_series *s, const double *const *in, uint8_t *sig)
{
    (void)p;
    const double *restrict ef = in[0], *restrict es = in[1];
    uint8_t *restrict out = sig; /* no aliasing: the compiler vectorises the comparison */
    const size_t n = s->n;
    for (size_t t = 0; t < n; t++) out[t] = ef[t] > es[t]; /* NaN compares false */
}

static void tb_compare_from(const double *p, const tb_series *s, const double *const *in, double *tmp,
                            const double **left, const double **right)
{
    (void)p, (void)s, (void)tmp;
    *left = in[0]; /* EMA(fast) > EMA(slow) */
    *right = in[1];
}

const tb_strategy_def strategy_trend_baseline = {
    "trend_baseline", "EMA crossover: long while EMA(fast) > EMA(slow)", tb_params, 2, tb_validate, 2, tb_signal,
    tb_inputs,        tb_signal_from, tb_compare_from,
};
