/* backtest.c — the backtest pipeline (see backtest.h). */
#include "backtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csv_reader.h"
#include "factor_cache.h"
#include "meta_filter.h"
#include "xalloc.h"

double stage_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void stage_record(tb_stage_list *l, const tb_hooks *hooks, const char *name, double t0)
{
    double dt = stage_now() - t0;
    if (l->n < TB_MAX_STAGES) {
        snprintf(l->s[l->n].name, sizeof l->s[l->n].name, "%s", name);
        l->s[l->n].wall_s = dt;
        l->n++;
    }
    if (hooks && hooks->stage_done) hooks->stage_done(hooks->ud, name, dt);
}

void backtest_config_defaults(tb_backtest_config *c)
{
    memset(c, 0, sizeof *c);
    source_defaults(&c->source);
    strategy_params_defaults(strategy_find("trend_baseline"), &c->strategy);
    c->start = INT64_MIN;
    c->end = INT64_MAX;
    sim_config_defaults(&c->sim);
    c->meta.threshold = 0.5;
    c->meta.train_first_ts = c->meta.train_last_ts = INT64_MIN;
}

int backtest_select_universe(const tb_backtest_config *c, tb_universe *u, tb_error *err)
{
    char **avail = NULL;
    size_t n_avail = 0;
    int rc = -1;
    if (source_list_symbols(&c->source, &avail, &n_avail, err)) return -1;
    if (c->universe_file) {
        if (universe_from_watchlist(c->universe_file, u, err)) goto out;
    } else if (c->symbols) {
        if (universe_from_list(c->symbols, c->n_list, u, err)) goto out;
    } else {
        rc = universe_first_n((const char *const *)avail, n_avail, c->n_symbols ? c->n_symbols : n_avail, u, err);
        goto out;
    }
    rc = universe_check_available(u, (const char *const *)avail, n_avail, err);
    if (rc) universe_free(u);
out:
    csv_free_names(avail, n_avail);
    return rc;
}

/* simulate() reports the fraction of its own work; the pipeline's callers see
 * overall progress, so the simulation's share is mapped into [0.5, 0.9]. */
typedef struct band_hooks {
    const tb_hooks *outer;
    double lo, hi;
} band_hooks;

static void band_progress(void *ud, const char *stage, double f)
{
    const band_hooks *b = ud;
    hooks_progress(b->outer, stage, b->lo + (b->hi - b->lo) * f);
}

static int band_cancelled(void *ud) { return hooks_cancelled(((const band_hooks *)ud)->outer); }

/* Whether the strategy's signal should read its input arrays from the
 * factor cache: it can (inputs + signal_from) and one of them is worth it. */
static int bt_inputs_pay(const tb_strategy_params *sp)
{
    if (!sp->def->inputs || !sp->def->signal_from) return 0;
    ind_key keys[TB_MAX_INPUTS];
    size_t nk = sp->def->inputs(sp->v, keys);
    for (size_t k = 0; k < nk; k++)
        if (fcache_indicator_pays(keys[k])) return 1;
    return 0;
}

/* Signals from the strategy's input arrays taken from the factor cache
 * (mapped, or computed and stored for the next run): the same signals as
 * strategy_signals_mt(), which computes the arrays in place. -1 (nothing
 * done) when the cache cannot give every input. */
static int bt_signals_cached(const tb_strategy_params *sp, const tb_market *m, const tb_data_id *id, int threads,
                             uint8_t *sig)
{
    ind_key keys[TB_MAX_INPUTS];
    size_t nk = sp->def->inputs(sp->v, keys), got = 0;
    fcache_arrays *arr[TB_MAX_INPUTS];
    for (; got < nk; got++) {
        fcache_spec spec = fcache_spec_indicator(keys[got]);
        if (!(arr[got] = fcache_lookup(&spec, m, id, threads, NULL))) break;
    }
    for (size_t i = 0; got == nk && i < m->n_symbols; i++) {
        tb_series s = market_series(m, i);
        const double *in[TB_MAX_INPUTS];
        for (size_t k = 0; k < nk; k++) in[k] = fcache_series(arr[k], 0, i);
        sp->def->signal_from(sp->v, &s, in, sig + m->offset[i]);
    }
    for (size_t k = 0; k < got; k++) fcache_release(arr[k]);
    return got == nk ? 0 : -1;
}

int backtest_run(const tb_backtest_config *c, const tb_hooks *hooks, tb_backtest *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (c->start > c->end) return tb_fail_field(err, TB_EINVAL, "start", "start is after end");
    if (strategy_params_validate(&c->strategy, err)) return -1;
    if (sim_config_validate(&c->sim, err)) return -1;
    if (c->meta.model_id && !c->meta.model)
        return tb_fail_field(err, TB_EINVAL, "meta_filter.model_id", "meta-model %lld is not loaded",
                             (long long)c->meta.model_id);
    uint8_t *base_sig = NULL; /* the unfiltered signals, for the comparison run */
    tb_data_id id;            /* the bars' identity, for the factor cache */
    fcache_arrays *tab_hold = NULL; /* the cost table's arrays, when the cache has them */
    tb_cost_table tab = {NULL};
    const size_t *tab_offset = NULL; /* the table's layout when the market was cut */

    double t0 = stage_now();
    hooks_progress(hooks, "load_data", 0.0);
    if (backtest_select_universe(c, &out->universe, err)) goto fail;
    if (source_load_id(&c->source, &out->universe, &out->market, &id, err)) goto fail;
    if (c->end != INT64_MAX) market_truncate_after(out->market, c->end);
    stage_record(&out->stages, hooks, "load_data", t0);
    if (hooks_cancelled(hooks)) goto cancelled;

    /* With a cache for these bars, the cost statistics and the indicator arrays
     * worth it come from it (the first run computes and stores them); without,
     * they are computed where they are used, only as far as needed. */
    const int cached = fcache_usable(&id);
    t0 = stage_now();
    hooks_progress(hooks, "signals", 0.3);
    out->sig = xmalloc(out->market->n_bars ? out->market->n_bars : 1);
    const int threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1; /* signals and entry/exit statistics */
    if (!cached || !bt_inputs_pay(&c->strategy) || bt_signals_cached(&c->strategy, out->market, &id, threads, out->sig))
        strategy_signals_mt(&c->strategy, out->market, out->sig, threads);
    stage_record(&out->stages, hooks, "signals", t0);
    if (hooks_cancelled(hooks)) goto cancelled;

    if (c->meta.model) { /* SPEC §3: filter entries with the meta-model */
        t0 = stage_now();
        hooks_progress(hooks, "meta_filter", 0.35);
        base_sig = xmalloc(out->market->n_bars ? out->market->n_bars : 1);
        memcpy(base_sig, out->sig, out->market->n_bars);
        if (meta_filter_apply(out->market, &id, c->meta.model, c->meta.threshold, out->sig, &out->meta, err)) goto fail;
        stage_record(&out->stages, hooks, "meta_filter", t0);
    }

    t0 = stage_now();
    if (panel_build_compact(out->market, c->start, c->end, c->last_bars, &out->panel, err)) goto fail;
    stage_record(&out->stages, hooks, "panel", t0);

    t0 = stage_now();
    band_hooks band = {hooks, 0.5, 0.9};
    tb_hooks sim_hooks = {&band, band_progress, NULL, band_cancelled};
    hooks_progress(hooks, "simulate", 0.5);
    if (cached) tab_hold = fcache_cost_table(out->market, &id, threads, &tab, &tab_offset, NULL); /* NULL: as needed */
    tb_sim_opts sim_opts = {.stats = tab_hold ? &tab : NULL, .stats_offset = tab_offset, .threads = threads};
    if (simulate_with(out->market, out->sig, &out->panel, &c->sim, &sim_opts, &sim_hooks, &out->sim, err)) goto fail;
    stage_record(&out->stages, hooks, "simulate", t0);

    t0 = stage_now();
    hooks_progress(hooks, "metrics", 0.9);
    out->bench = xmalloc(xmul(out->panel.T, sizeof(double)));
    metrics_benchmark(out->market, &out->panel, out->bench);
    metrics_compute(&out->sim, out->bench, tb_freq_periods_per_year(c->source.freq), &out->metrics);
    stage_record(&out->stages, hooks, "metrics", t0);

    if (base_sig) { /* the same backtest without the filter, for the report's comparison */
        t0 = stage_now();
        hooks_progress(hooks, "simulate_base", 0.95);
        tb_sim_result base;
        tb_sim_opts base_opts = {.stats = tab_hold ? &tab : NULL, .stats_offset = tab_offset, .threads = 1};
        if (simulate_with(out->market, base_sig, &out->panel, &c->sim, &base_opts, NULL, &base, err)) goto fail;
        metrics_compute(&base, out->bench, tb_freq_periods_per_year(c->source.freq), &out->meta.base);
        sim_result_free(&base);
        stage_record(&out->stages, hooks, "simulate_base", t0);
    }
    free(base_sig);
    fcache_release(tab_hold);
    hooks_progress(hooks, "metrics", 1.0);
    return 0;
cancelled:
    tb_fail(err, TB_ECANCEL, "cancelled");
fail:
    free(base_sig);
    fcache_release(tab_hold);
    backtest_free(out);
    return -1;
}

void backtest_free(tb_backtest *bt)
{
    if (!bt) return;
    universe_free(&bt->universe);
    market_free(bt->market);
    free(bt->sig);
    panel_free(&bt->panel);
    sim_result_free(&bt->sim);
    free(bt->bench);
    memset(bt, 0, sizeof *bt);
}
