/* cmd_backtest.c — `tradebench backtest` and `tradebench run-daily`: turn
 * flags into a backtest config, run the engine, write the artifacts, print a
 * one-line summary. All numbers come from the engine; this file only wires. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "artifacts.h"
#include "backtest.h"
#include "cmd_sweep.h"
#include "commands.h"
#include "flags_run.h"
#include "ml_train.h"
#include "runinfo.h"

static const cli_flag backtest_flags[] = {
    {"data", 1, 0},         {"strategy", 1, 0},     {"param", 1, 1},          {"freq", 1, 0},
    {"symbols", 1, 0},      {"universe", 1, 0},     {"start", 1, 0},          {"end", 1, 0},
    {"last-bars", 1, 0},    {"capital", 1, 0},      {"costs", 1, 0},          {"commission-bps", 1, 0},
    {"spread-w", 1, 0},     {"impact-w", 1, 0},     {"max-weight", 1, 0},     {"rebalance-band", 1, 0},
    {"out", 1, 0},          {"seed", 1, 0},         {"meta-model", 1, 0},     {"meta-threshold", 1, 0},
    {"grid", 1, 1},         {"threads", 1, 0},      {NULL, 0, 0},
};

static const cli_flag daily_flags[] = {
    {"data", 1, 0}, {"out", 1, 0}, {"seed", 1, 0}, {NULL, 0, 0},
};

static int apply_backtest_flags(const cli_args *a, tb_backtest_config *c, tb_error *err)
{
    const char *v;
    if (flags_apply_source(a, c, err) || flags_apply_strategy(a, &c->strategy, err) ||
        flags_apply_universe_range(a, c, err))
        return -1;
    if (cli_get_double(a, "capital", &c->sim.start_capital, err)) return -1;
    if ((v = cli_get(a, "costs"))) {
        if (!strcmp(v, "none")) c->sim.costs = costs_none();
        else if (!strcmp(v, "default")) c->sim.costs = costs_default();
        else return tb_fail_field(err, TB_EINVAL, "costs", "--costs must be default or none, got '%s'", v);
    }
    if (cli_get_double(a, "commission-bps", &c->sim.costs.commission_bps, err) ||
        cli_get_double(a, "spread-w", &c->sim.costs.spread_w, err) ||
        cli_get_double(a, "impact-w", &c->sim.costs.impact_w, err) ||
        cli_get_double(a, "max-weight", &c->sim.max_weight, err) ||
        cli_get_double(a, "rebalance-band", &c->sim.rebalance_band, err))
        return -1;
    return sim_config_validate(&c->sim, err);
}

/* --meta-model FILE (an XGBoost JSON model, e.g. train-meta-model's
 * <strategy>_meta_model.json) and --meta-threshold X (default 0.5): the
 * SPEC §3 meta_filter. *model is new (ml_model_free) or stays NULL. */
static int apply_meta_flags(const cli_args *a, tb_backtest_config *c, ml_model **model, tb_error *err)
{
    const char *path = cli_get(a, "meta-model");
    *model = NULL;
    if (cli_get_double(a, "meta-threshold", &c->meta.threshold, err)) return -1;
    if (!(c->meta.threshold >= 0 && c->meta.threshold <= 1))
        return tb_fail_field(err, TB_EINVAL, "meta-threshold", "--meta-threshold must be in [0, 1], got %g",
                             c->meta.threshold);
    if (!path) {
        if (cli_get(a, "meta-threshold"))
            return tb_fail_field(err, TB_EINVAL, "meta-threshold", "--meta-threshold needs --meta-model FILE");
        return 0;
    }
    if (strcmp(c->strategy.def->name, "trend_baseline") && strcmp(c->strategy.def->name, "ema_trend"))
        return tb_fail_field(err, TB_EINVAL, "meta-model",
                             "--meta-model filters trend_baseline or ema_trend entries, not %s", c->strategy.def->name);
    FILE *f = fopen(path, "rb");
    if (!f) return tb_fail_field(err, TB_EINVAL, "meta-model", "--meta-model: cannot open %s", path);
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(buf, cap);
            if (!nb) abort();
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? tb_fail_field(err, TB_EINVAL, "meta-model", "--meta-model: cannot read %s", path)
                 : ml_model_load_json(buf, len, 1, model, err);
    free(buf);
    if (rc) { /* not a model: TB_EINVAL (exit 2); XGBoost missing: TB_EINTERNAL (exit 1) */
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        return tb_fail_field(err, err->code, "meta-model", "--meta-model %s: %s", path, m);
    }
    c->meta.model = *model;
    c->meta.source = path;
    return 0;
}

/* Run, write, summarise. */
static int run_and_write(const tb_backtest_config *c, const char *out, const char *job, int with_targets,
                         const cli_clock *clk)
{
    tb_error err = {0};
    tb_backtest bt;
    if (backtest_run(c, NULL, &bt, &err)) return cli_report(&err);
    tb_report_info info = {"cli", job, 0, 0, 0};
    double t_render = stage_now();
    cli_clock_read(clk, &info.runtime_s, &info.cpu_s, &info.peak_rss_kb);
    int rc = art_write_all(out, &bt, c, &info, with_targets, &err);
    stage_record(&bt.stages, NULL, "render_artifacts", t_render);
    if (rc) {
        backtest_free(&bt);
        return cli_report(&err);
    }
    const tb_metrics *m = &bt.metrics;
    printf("%s: %zu symbols, %zu bars, %zu orders, total_return %.6f, sharpe %.4f, max_drawdown %.4f -> %s/ "
           "(%.0f ms, peak RSS %.1f MiB)\n",
           job, bt.market->n_symbols, bt.panel.T, bt.sim.orders.n, m->total_return, m->sharpe, m->max_drawdown, out,
           info.runtime_s * 1e3, (double)info.peak_rss_kb / 1024.0);
    backtest_free(&bt);
    return 0;
}

int cmd_backtest(int argc, char **argv)
{
    cli_clock clk;
    cli_clock_start(&clk);
    tb_error err = {0};
    cli_args a;
    tb_backtest_config c;
    backtest_config_defaults(&c);
    ml_model *model = NULL;
    if (cli_parse(argc, argv, backtest_flags, &a, &err) || apply_backtest_flags(&a, &c, &err) ||
        apply_meta_flags(&a, &c, &model, &err))
        return cli_report(&err);
    const char *out = cli_get(&a, "out");
    int rc;
    if (cli_has(&a, "grid") && model) {
        tb_fail_field(&err, TB_EINVAL, "grid", "--grid cannot be combined with --meta-model");
        rc = cli_report(&err);
    } else if (cli_has(&a, "threads") && !cli_has(&a, "grid")) {
        tb_fail_field(&err, TB_EINVAL, "threads", "--threads applies to a sweep (--grid)");
        rc = cli_report(&err);
    } else if (cli_has(&a, "grid")) {
        rc = cli_sweep(&a, &c, out ? out : "output", &clk);
    } else {
        rc = run_and_write(&c, out ? out : "output", "backtest", 0, &clk);
    }
    ml_model_free(model);
    return rc;
}

/* EOD_SMALL (SPEC §7): ema_trend, 1d, first 100 symbols, last 2 x 252 bars, default costs, plus targets. */
int cmd_run_daily(int argc, char **argv)
{
    cli_clock clk;
    cli_clock_start(&clk);
    tb_error err = {0};
    cli_args a;
    tb_backtest_config c;
    backtest_config_defaults(&c);
    if (cli_parse(argc, argv, daily_flags, &a, &err) || flags_apply_source(&a, &c, &err)) return cli_report(&err);
    strategy_params_defaults(strategy_find("ema_trend"), &c.strategy);
    c.n_symbols = 100;
    c.last_bars = 2 * 252;
    const char *out = cli_get(&a, "out");
    return run_and_write(&c, out ? out : "output", "EOD_SMALL", 1, &clk);
}
