/* test_invariants.c — properties every backtest must keep, on synthetic data
 * and (when ../shared is present) on the public real data: cash never below
 * zero, E = cash + sum q*C at every bar, no order at the first bar, orders only
 * where the symbol has a bar and at its open, no look-ahead, and buy_and_hold
 * of one symbol without costs tracking its price exactly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backtest.h"
#include "csv_reader.h"
#include "panel.h"
#include "simulate.h"
#include "strategy.h"
#include "synth.h"
#include "xalloc.h"

static tb_market *synth_market(size_t n_sym, size_t n_bars)
{
    tb_synth_params sp = {42, n_sym, n_bars, TB_FREQ_1D};
    tb_market *m = NULL;
    tb_error err = {0};
    cr_assert_eq(synth_generate(&sp, NULL, 0, &m, &err), 0, "%s", err.msg);
    return m;
}

static tb_market *real_market(size_t n_sym)
{
    const char *dir = TB_SHARED_DIR "/data/ohlcv_1d";
    struct stat st;
    if (stat(dir, &st) != 0) return NULL;
    char **names = NULL;
    size_t n = 0;
    tb_error err = {0};
    cr_assert_eq(csv_list_symbols(dir, &names, &n, &err), 0, "%s", err.msg);
    tb_market *m = NULL;
    cr_assert_eq(csv_load(dir, (const char *const *)names, n_sym < n ? n_sym : n, TB_FREQ_1D, &m, &err), 0, "%s",
                 err.msg);
    csv_free_names(names, n);
    return m;
}

typedef struct run {
    uint8_t *sig;
    tb_panel p;
    tb_sim_result r;
} run;

static void run_sim(const tb_market *m, const char *strategy, const tb_sim_config *cfg, size_t last_bars, run *out)
{
    tb_error err = {0};
    tb_strategy_params sp;
    strategy_params_defaults(strategy_find(strategy), &sp);
    out->sig = xmalloc(m->n_bars);
    strategy_signals(&sp, m, out->sig);
    cr_assert_eq(panel_build(m, INT64_MIN, INT64_MAX, last_bars, &out->p, &err), 0, "%s", err.msg);
    cr_assert_eq(simulate(m, out->sig, &out->p, cfg, NULL, &out->r, &err), 0, "%s", err.msg);
}

static void run_free(run *x)
{
    free(x->sig);
    panel_free(&x->p);
    sim_result_free(&x->r);
}

/* Replays the orders and checks every accounting invariant. */
static void check_invariants(const tb_market *m, const run *x)
{
    const tb_panel *p = &x->p;
    const tb_sim_result *r = &x->r;
    const tb_orders *o = &r->orders;
    double *q = xcalloc(p->N, sizeof(double));
    size_t k = 0;
    cr_assert_gt(o->n, 0, "the run should trade");
    for (size_t t = 0; t < p->T; t++) {
        for (; k < o->n && o->t[k] == t; k++) {
            cr_assert_neq(t, 0, "no order at the first bar");
            size_t i = o->sym[k];
            cr_assert(panel_has(p, t, i), "order for %s at t=%zu where it has no bar", m->symbols[i], t);
            double open = m->open[m->offset[i] + (size_t)panel_last(p, t, i)];
            cr_assert_eq(o->price[k], open, "orders execute at the bar's open");
            cr_assert_gt(o->qty[k], 0);
            q[i] += o->sell[k] ? -o->qty[k] : o->qty[k];
            if (q[i] < 1e-9 * o->qty[k]) q[i] = 0; /* an exit */
        }
        double gross = 0;
        for (size_t i = 0; i < p->N; i++) {
            int32_t b = panel_last(p, t, i);
            if (q[i] != 0) gross += q[i] * m->close[m->offset[i] + (size_t)b];
        }
        cr_assert_geq(r->cash[t], -1e-9, "cash %.17g < 0 at t=%zu", r->cash[t], t);
        cr_assert_leq(fabs(r->equity[t] - (r->cash[t] + gross)), 1e-9 * fabs(r->equity[t]),
                      "E != cash + sum q*C at t=%zu: %.17g vs %.17g", t, r->equity[t], r->cash[t] + gross);
    }
    cr_assert_eq(k, o->n, "orders are in time order");
    for (size_t i = 0; i < p->N; i++) cr_assert_leq(fabs(q[i] - r->final_q[i]), 1e-9 * (1 + fabs(q[i])));
    free(q);
}

Test(invariants, synthetic_trend_baseline)
{
    tb_market *m = synth_market(40, 800);
    tb_sim_config cfg;
    sim_config_defaults(&cfg);
    run x;
    run_sim(m, "trend_baseline", &cfg, 0, &x);
    check_invariants(m, &x);
    run_free(&x);
    market_free(m);
}

Test(invariants, synthetic_ema_trend_tight_cash)
{
    /* max_weight 1 and a wide band: buys regularly need scaling */
    tb_market *m = synth_market(25, 600);
    tb_sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.max_weight = 1;
    cfg.costs.commission_bps = 20;
    run x;
    run_sim(m, "ema_trend", &cfg, 300, &x);
    check_invariants(m, &x);
    run_free(&x);
    market_free(m);
}

Test(invariants, real_data)
{
    tb_market *m = real_market(60);
    if (!m) cr_skip("../shared/data/ohlcv_1d not present");
    tb_sim_config cfg;
    sim_config_defaults(&cfg);
    run x;
    run_sim(m, "trend_baseline", &cfg, 0, &x);
    check_invariants(m, &x);
    run_free(&x);
    market_free(m);
}

/* Changing bars after t*+1 must not change any order up to t*+1. */
Test(invariants, no_look_ahead)
{
    tb_market *m = synth_market(30, 700);
    tb_sim_config cfg;
    sim_config_defaults(&cfg);
    run a, b;
    run_sim(m, "trend_baseline", &cfg, 0, &a);
    size_t cut = a.p.T / 2; /* orders at <= cut+1 may only depend on bars <= cut+1 */
    for (size_t i = 0; i < m->n_symbols; i++) {
        for (size_t k = m->offset[i]; k < m->offset[i + 1]; k++) {
            if ((size_t)(k - m->offset[i]) <= cut + 1) continue;
            double f = 1.0 + 0.3 * sin((double)k); /* a different future */
            m->open[k] *= f, m->high[k] *= f, m->low[k] *= f, m->close[k] *= f;
            m->volume[k] *= 2;
        }
    }
    run_sim(m, "trend_baseline", &cfg, 0, &b);
    size_t na = 0, nb = 0;
    while (na < a.r.orders.n && a.r.orders.t[na] <= cut + 1) na++;
    while (nb < b.r.orders.n && b.r.orders.t[nb] <= cut + 1) nb++;
    cr_assert_eq(na, nb, "order count up to t*+1 changed with the future");
    cr_assert_gt(na, 0);
    for (size_t k = 0; k < na; k++) {
        cr_assert_eq(a.r.orders.sym[k], b.r.orders.sym[k]);
        cr_assert_eq(a.r.orders.qty[k], b.r.orders.qty[k], "order %zu quantity changed", k);
        cr_assert_eq(a.r.orders.cost[k], b.r.orders.cost[k]);
    }
    for (size_t t = 0; t <= cut; t++) cr_assert_eq(a.r.equity[t], b.r.equity[t]);
    run_free(&a);
    run_free(&b);
    market_free(m);
}

/* buy_and_hold of one symbol, no costs, max_weight 1: E_t = capital * C_t / O_1. */
Test(invariants, buy_and_hold_tracks_price)
{
    tb_market *m = synth_market(1, 500);
    tb_sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.costs = costs_none();
    cfg.max_weight = 1;
    run x;
    run_sim(m, "buy_and_hold", &cfg, 0, &x);
    cr_assert_eq(x.r.orders.n, 1, "one entry, never a rebalance");
    const double *o = m->open, *c = m->close;
    cr_assert_eq(x.r.equity[0], 10000);
    for (size_t t = 1; t < x.p.T; t++) {
        double want = 10000 * c[t] / o[1];
        cr_assert_leq(fabs(x.r.equity[t] - want), 1e-12 * want, "t=%zu: %.17g vs %.17g", t, x.r.equity[t], want);
    }
    run_free(&x);
    market_free(m);
}

/* The whole pipeline through backtest_run, with a date range cut in the middle
 * of the data: history before start only warms indicators up. */
Test(invariants, warm_up_and_range)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = "synthetic";
    c.source.synth_symbols = 20;
    c.source.synth_bars = 600;
    c.n_symbols = 20;
    tb_backtest full, part;
    tb_error err = {0};
    cr_assert_eq(backtest_run(&c, NULL, &full, &err), 0, "%s", err.msg);
    c.start = full.panel.ts[300];
    cr_assert_eq(backtest_run(&c, NULL, &part, &err), 0, "%s", err.msg);
    cr_assert_eq(part.panel.T, full.panel.T - 300);
    cr_assert_eq(part.sim.equity[0], 10000, "the portfolio starts flat at the range's first bar");
    cr_assert_eq(part.sim.cash[0], 10000);
    /* signals at the first bar come from warmed-up indicators, so entries happen at bar 1 */
    cr_assert_gt(part.sim.orders.n, 0);
    cr_assert_eq(part.sim.orders.t[0], 1);
    backtest_free(&full);
    backtest_free(&part);
}

Test(invariants, bad_config_names_the_field)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = "synthetic";
    c.source.synth_symbols = 5;
    c.source.synth_bars = 100;
    c.n_symbols = 6;
    tb_backtest bt;
    tb_error err = {0};
    cr_assert_neq(backtest_run(&c, NULL, &bt, &err), 0);
    cr_assert_eq(err.code, TB_EINVAL);
    cr_assert(strstr(err.msg, "6") && strstr(err.msg, "5"), "names both counts: %s", err.msg);
    c.n_symbols = 5;
    c.sim.start_capital = -1;
    cr_assert_neq(backtest_run(&c, NULL, &bt, &err), 0);
    cr_assert_str_eq(err.field, "capital");
    c.sim.start_capital = 1000;
    cr_assert_eq(strategy_params_set(&c.strategy, "fast", "60", &err), 0);
    cr_assert_neq(backtest_run(&c, NULL, &bt, &err), 0);
    cr_assert_str_eq(err.field, "fast");
}
