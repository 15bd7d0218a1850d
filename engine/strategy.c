/* strategy.c — the registry and parameter handling (see strategy.h). */
#include "strategy.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "strategies/strategies.h"
#include "xalloc.h"

static const tb_strategy_def *const registry[] = {
    &strategy_trend_baseline,
    &strategy_ema_trend,
    &strategy_buy_and_hold,
    NULL,
};

const tb_strategy_def *const *strategy_all(void) { return registry; }

const tb_strategy_def *strategy_find(const char *name)
{
    for (size_t i = 0; registry[i]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

void strategy_params_defaults(const tb_strategy_def *def, tb_strategy_params *out)
{
    memset(out, 0, sizeof *out);
    out->def = def;
    for (size_t i = 0; i < def->n_params; i++) out->v[i] = def->params[i].def;
}

int strategy_params_set_num(tb_strategy_params *p, const char *name, double value, tb_error *err)
{
    const tb_strategy_def *d = p->def;
    for (size_t i = 0; i < d->n_params; i++) {
        const tb_param_def *pd = &d->params[i];
        if (strcmp(pd->name, name)) continue;
        if (!isfinite(value))
            return tb_fail_field(err, TB_EINVAL, name, "parameter %s must be a finite number", name);
        if (pd->integer && value != floor(value))
            return tb_fail_field(err, TB_EINVAL, name, "parameter %s must be a whole number, got %.17g", name,
                                 value);
        if (value < pd->min || value > pd->max)
            return tb_fail_field(err, TB_EINVAL, name, "parameter %s must be in [%g, %g], got %.17g", name,
                                 pd->min, pd->max, value);
        p->v[i] = value;
        return 0;
    }
    return tb_fail_field(err, TB_EINVAL, name, "strategy %s has no parameter '%s'", d->name, name);
}

int strategy_params_set(tb_strategy_params *p, const char *name, const char *value, tb_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (!*value || *end || errno == ERANGE)
        return tb_fail_field(err, TB_EINVAL, name, "parameter %s: '%s' is not a number", name, value);
    return strategy_params_set_num(p, name, v, err);
}

int strategy_params_validate(const tb_strategy_params *p, tb_error *err)
{
    return p->def->validate ? p->def->validate(p->v, err) : 0;
}

double strategy_param(const tb_strategy_params *p, const char *name)
{
    for (size_t i = 0; i < p->def->n_params; i++)
        if (!strcmp(p->def->params[i].name, name)) return p->v[i];
    return NAN;
}

typedef struct signals_job {
    const tb_strategy_params *p;
    const tb_market *m;
    uint8_t *sig;
    size_t from, to; /* symbols */
} signals_job;

static void *signals_run(void *arg)
{
    const signals_job *jb = arg;
    const tb_market *m = jb->m;
    size_t maxlen = 0;
    for (size_t i = jb->from; i < jb->to; i++)
        if (market_len(m, i) > maxlen) maxlen = market_len(m, i);
    double *scratch = xmalloc(xmul(maxlen ? maxlen : 1, (jb->p->def->scratch_per_bar + 1) * sizeof(double)));
    for (size_t i = jb->from; i < jb->to; i++) {
        tb_series s = market_series(m, i);
        jb->p->def->signal(jb->p->v, &s, jb->sig + m->offset[i], scratch);
    }
    free(scratch);
    return NULL;
}

void strategy_signals_mt(const tb_strategy_params *p, const tb_market *m, uint8_t *sig, int threads)
{
    signals_job jobs[2] = {{p, m, sig, 0, m->n_symbols}, {p, m, sig, m->n_symbols, m->n_symbols}};
    pthread_t helper;
    int helped = 0;
    if (threads > 1 && m->n_symbols > 1) { /* two halves by bar count */
        size_t mid = 0;
        while (mid < m->n_symbols && m->offset[mid] < m->n_bars / 2) mid++;
        jobs[0].to = jobs[1].from = mid;
        helped = pthread_create(&helper, NULL, signals_run, &jobs[1]) == 0;
        if (!helped) jobs[0].to = m->n_symbols;
    }
    signals_run(&jobs[0]);
    if (helped) pthread_join(helper, NULL);
}

void strategy_signals(const tb_strategy_params *p, const tb_market *m, uint8_t *sig)
{
    strategy_signals_mt(p, m, sig, 1);
}
