/* test_costs_sim.c — the SPEC §4.2 cost model and the §4.1/§4.3 simulation
 * rules on small hand-built markets whose every number is worked out in the
 * comments. Each simulation is also replayed from its order list (cash, q,
 * gross, E_t = cash_t + gross_t, sells before buys, prices at the execution
 * bar's open, trade direction implied by the previous bar's signal), so every
 * test checks the bookkeeping as well as its own rule. Every market, panel
 * and result is freed in the test that made it (ASan/LSan clean). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "costs.h"
#include "indicators.h"
#include "market.h"
#include "panel.h"
#include "simulate.h"
#include "tb_error.h"

#define DAY0 19723 /* 2024-01-01 in days since the epoch */

static int close_rel(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fmax(1.0, fabs(want));
}

/* ================================================================ costs */

Test(costs, defaults_and_none)
{
    tb_costs d = costs_default(), z = costs_none();
    cr_expect(d.commission_bps == 0.5 && d.spread_w == 0.25 && d.impact_w == 0.5,
              "defaults must be 0.5 / 0.25 / 0.5");
    cr_expect(z.commission_bps == 0 && z.spread_w == 0 && z.impact_w == 0, "none must be all zero");
}

Test(costs, full_formula)
{
    /* spread 20 bps, VOL 0.02, ADV 10000, |dq| 2500:
     *   impact = 1e4 * 0.02 * sqrt(2500/10000) = 200 * 0.5 = 100 bps
     *   cost_bps = 0.5 + 0.25*20 + 0.5*100 = 0.5 + 5 + 50 = 55.5
     *   cost at O = 40: 2500 * 40 * 55.5 / 1e4 = 100000 * 0.00555 = 555 */
    tb_costs cm = costs_default();
    tb_cost_stats st = {20, 0.02, 10000};
    cr_expect(close_rel(costs_bps(&cm, &st, 2500), 55.5, 1e-12), "bps %.17g", costs_bps(&cm, &st, 2500));
    cr_expect(close_rel(costs_amount(&cm, &st, 2500, 40), 555, 1e-12), "amount %.17g",
              costs_amount(&cm, &st, 2500, 40));
    /* other weights: commission 3, spread_w 1, impact_w 2, |dq| = 100:
     *   impact = 1e4 * 0.02 * sqrt(0.01) = 20 bps; bps = 3 + 20 + 40 = 63;
     *   cost at 10: 1000 * 63e-4 = 6.3 */
    tb_costs c2 = {3, 1, 2};
    cr_expect(close_rel(costs_bps(&c2, &st, 100), 63, 1e-12));
    cr_expect(close_rel(costs_amount(&c2, &st, 100, 10), 6.3, 1e-12));
}

Test(costs, undefined_spread_is_zero)
{
    /* spread NaN -> 0: bps = 0.5 + 0 + 0.5*100 = 50.5 */
    tb_costs cm = costs_default();
    tb_cost_stats st = {NAN, 0.02, 10000};
    cr_expect(close_rel(costs_bps(&cm, &st, 2500), 50.5, 1e-12), "bps %.17g", costs_bps(&cm, &st, 2500));
}

Test(costs, impact_zero_when_undefined_or_adv_zero)
{
    tb_costs cm = costs_default();
    /* ADV = 0 -> no impact: 0.5 + 0.25*20 = 5.5 (not inf, not NaN) */
    tb_cost_stats a = {20, 0.02, 0};
    cr_expect(close_rel(costs_bps(&cm, &a, 2500), 5.5, 1e-12), "ADV=0: %.17g", costs_bps(&cm, &a, 2500));
    tb_cost_stats b = {20, NAN, 10000}; /* VOL undefined */
    cr_expect(close_rel(costs_bps(&cm, &b, 2500), 5.5, 1e-12), "VOL NaN: %.17g", costs_bps(&cm, &b, 2500));
    tb_cost_stats c = {20, 0.02, NAN}; /* ADV undefined */
    cr_expect(close_rel(costs_bps(&cm, &c, 2500), 5.5, 1e-12), "ADV NaN: %.17g", costs_bps(&cm, &c, 2500));
    tb_cost_stats d = {NAN, NAN, NAN}; /* nothing defined: commission only */
    cr_expect(costs_bps(&cm, &d, 2500) == 0.5);
    /* 2500 * 40 * 0.5 / 1e4 = 5 */
    cr_expect(close_rel(costs_amount(&cm, &d, 2500, 40), 5, 1e-12));
}

Test(costs, none_costs_nothing)
{
    tb_costs z = costs_none();
    tb_cost_stats st = {20, 0.02, 10000};
    cr_expect(costs_bps(&z, &st, 2500) == 0);
    cr_expect(costs_amount(&z, &st, 2500, 40) == 0);
}

Test(costs, stats_at_hand_values)
{
    /* 22 bars, every one (H, L, C) = (10, 9, 10): each Abdi-Ranaldo product is
     * d^2 with d = ln(10/9)/2, so SPREAD(20) = 1e4 * 2d = 1e4 ln(10/9) = 1053.6051565782634
     * from b = 20. Volume v_u = u + 1: ADV(20)_b = mean(b-18 .. b+1) = b - 8.5,
     * first defined at 19 (10.5). VOL(20) of a constant close = 0 from b = 20. */
    enum { NB = 22 };
    double h[NB], l[NB], c[NB], v[NB];
    for (int u = 0; u < NB; u++) h[u] = 10, l[u] = 9, c[u] = 10, v[u] = u + 1;
    tb_cost_stats s19 = costs_stats_at(h, l, c, v, 19);
    cr_expect(isnan(s19.spread_bps) && isnan(s19.vol), "SPREAD(20), VOL(20) undefined at 19");
    cr_expect(close_rel(s19.adv, 10.5, 1e-12), "ADV(20)_19 = %.17g, expected 10.5", s19.adv);
    tb_cost_stats s20 = costs_stats_at(h, l, c, v, 20);
    cr_expect(close_rel(s20.spread_bps, 1053.6051565782634, 1e-12), "SPREAD %.17g", s20.spread_bps);
    cr_expect(s20.vol == 0, "VOL %.17g", s20.vol);
    cr_expect(close_rel(s20.adv, 11.5, 1e-12), "ADV %.17g", s20.adv);
    tb_cost_stats s21 = costs_stats_at(h, l, c, v, 21);
    cr_expect(close_rel(s21.adv, 12.5, 1e-12));
    tb_cost_stats sm = costs_stats_at(h, l, c, v, -1);
    cr_expect(isnan(sm.spread_bps) && isnan(sm.vol) && isnan(sm.adv), "bar -1: all undefined");
    /* VOL = 0 makes impact 0 even though ADV is defined: cost = commission + spread only:
     *   bps = 0.5 + 0.25 * 1053.6051565782634 = 263.90128914456585 */
    tb_costs cm = costs_default();
    cr_expect(close_rel(costs_bps(&cm, &s20, 5), 0.5 + 0.25 * 1053.6051565782634, 1e-12));
}

Test(costs, stats_at_vol_alternating)
{
    /* Closes 1, 2, 1, 2, ... (H = L = C): r = +-ln2 alternating, 20 returns with mean 0:
     * VOL(20) = sqrt(20 ln2^2 / 19) = ln2 * sqrt(20/19) = 0.71115... ; c = eta on every
     * bar so SPREAD = 0 exactly. With ADV = 1000 and |dq| = 250:
     *   impact = 1e4 * VOL * 0.5, cost_bps = 0.5 + 0 + 0.5 * impact */
    enum { NB = 21 };
    double h[NB], l[NB], c[NB], v[NB];
    for (int u = 0; u < NB; u++) h[u] = l[u] = c[u] = (u % 2) ? 2 : 1, v[u] = 1000;
    tb_cost_stats st = costs_stats_at(h, l, c, v, 20);
    double vol = 0.69314718055994531 * sqrt(20.0 / 19.0);
    cr_expect(close_rel(st.vol, vol, 1e-12), "VOL %.17g vs %.17g", st.vol, vol);
    cr_expect(st.spread_bps == 0, "SPREAD %.17g", st.spread_bps);
    cr_expect(st.adv == 1000);
    tb_costs cm = costs_default();
    cr_expect(close_rel(costs_bps(&cm, &st, 250), 0.5 + 0.5 * 1e4 * vol * 0.5, 1e-12));
}

/* ================================================================ simulation helpers */

/* One symbol's bars. days NULL = 0..n-1; h, l NULL = max/min(o, c); v NULL = 1000. */
static void add_sym(tb_market *m, const char *name, size_t n, const int *days, const double *o, const double *h,
                    const double *l, const double *c, const double *v)
{
    market_add_symbol(m, name);
    for (size_t k = 0; k < n; k++) {
        double hh = h ? h[k] : fmax(o[k], c[k]), ll = l ? l[k] : fmin(o[k], c[k]);
        int64_t ts = (int64_t)(DAY0 + (days ? days[k] : (int)k)) * 86400;
        market_push_bar(m, ts, o[k], hh, ll, c[k], v ? v[k] : 1000);
    }
}

static tb_sim_config cfg_make(double capital, double max_weight, double band, tb_costs costs)
{
    tb_sim_config c;
    sim_config_defaults(&c);
    c.start_capital = capital;
    c.max_weight = max_weight;
    c.rebalance_band = band;
    c.costs = costs;
    return c;
}

/* Replay r's orders from scratch and check the book at every close:
 * - no order at t = 0; orders sorted by t, sells before buys, then symbol;
 * - each order at a bar the symbol has, at that bar's open; qty > 0, cost >= 0;
 * - a BUY needs s_{t-1} = 1; a SELL to q = 0 needs s_{t-1} = 0, a partial SELL s_{t-1} = 1;
 * - cash_t and gross_t (last known close) match; E_t = cash_t + gross_t; cash >= -1e-9;
 * - E_0 = start capital; final_q equals the replayed q exactly. */
static void check_book(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_result *r,
                       double capital)
{
    const size_t T = p->T, N = p->N;
    const tb_orders *o = &r->orders;
    double *q = calloc(N, sizeof *q);
    cr_assert(q);
    double cash = capital;
    size_t k = 0;
    cr_expect(r->T == T && r->N == N);
    cr_expect(r->equity[0] == capital, "E_0 = %.17g, expected start capital %.17g", r->equity[0], capital);
    for (size_t j = 0; j < o->n; j++) cr_expect(o->t[j] >= 1 && o->t[j] < T, "order %zu at t = %u", j, o->t[j]);
    for (size_t t = 0; t < T; t++) {
        int seen_buy = 0;
        long last_sym = -1;
        for (; k < o->n && o->t[k] == t; k++) {
            size_t i = o->sym[k];
            cr_expect(panel_has(p, t, i), "order %zu: symbol %zu has no bar at t = %zu", k, i, t);
            size_t b = m->offset[i] + (size_t)panel_last(p, t, i);
            cr_expect(o->price[k] == m->open[b], "order %zu price %.17g != open %.17g", k, o->price[k], m->open[b]);
            cr_expect(o->qty[k] > 0 && o->cost[k] >= 0, "order %zu qty %.17g cost %.17g", k, o->qty[k], o->cost[k]);
            int s_prev = t ? sim_signal_at(m, sig, p, t - 1, i) : -1;
            if (o->sell[k]) {
                cr_expect(!seen_buy, "t = %zu: a SELL after a BUY (sells must come first)", t);
                cr_expect((long)i > last_sym, "t = %zu: sells not in symbol order", t);
                cash += o->qty[k] * o->price[k] - o->cost[k];
                q[i] -= o->qty[k];
                cr_expect(q[i] == 0 ? s_prev == 0 : s_prev == 1, "t = %zu sym %zu: SELL vs signal %d", t, i, s_prev);
            } else {
                if (!seen_buy) last_sym = -1;
                seen_buy = 1;
                cr_expect((long)i > last_sym, "t = %zu: buys not in symbol order", t);
                cash -= o->qty[k] * o->price[k] + o->cost[k];
                q[i] += o->qty[k];
                cr_expect(s_prev == 1, "t = %zu sym %zu: BUY but s_{t-1} = 0", t, i);
            }
            last_sym = (long)i;
        }
        double gross = 0;
        for (size_t i = 0; i < N; i++)
            if (q[i] != 0) gross += q[i] * m->close[m->offset[i] + (size_t)panel_last(p, t, i)];
        cr_expect(fabs(r->cash[t] - cash) <= 1e-9 * fmax(1, fabs(cash)), "cash[%zu] = %.17g, replay %.17g", t,
                  r->cash[t], cash);
        cr_expect(fabs(r->gross[t] - gross) <= 1e-9 * fmax(1, gross), "gross[%zu] = %.17g, replay %.17g", t,
                  r->gross[t], gross);
        cr_expect(close_rel(r->equity[t], r->cash[t] + r->gross[t], 1e-12), "E[%zu] %.17g != cash + gross %.17g",
                  t, r->equity[t], r->cash[t] + r->gross[t]);
        cr_expect(r->cash[t] >= -1e-9, "cash[%zu] = %.17g < -1e-9", t, r->cash[t]);
    }
    cr_expect(k == o->n, "orders out of time order");
    for (size_t i = 0; i < N; i++) cr_expect(r->final_q[i] == q[i], "final_q[%zu] %.17g vs replay %.17g", i, r->final_q[i], q[i]);
    free(q);
}

/* Build the full-range panel and simulate; asserts success. */
static void run(const tb_market *m, const uint8_t *sig, const tb_sim_config *cfg, tb_panel *p, tb_sim_result *r)
{
    tb_error err = {0};
    cr_assert_eq(panel_build(m, INT64_MIN, INT64_MAX, 0, p, &err), 0, "panel: %s", err.msg);
    cr_assert_eq(simulate(m, sig, p, cfg, NULL, r, &err), 0, "simulate: %s", err.msg);
    check_book(m, sig, p, r, cfg->start_capital);
}

static void done(tb_market *m, tb_panel *p, tb_sim_result *r)
{
    sim_result_free(r);
    panel_free(p);
    market_free(m);
}

/* The one-symbol series of several tests:
 *   t : 0   1   2   3   4
 *   O : 10  20  40  50  60
 *   C : 15  25  45  55  65 */
static const double O1[5] = {10, 20, 40, 50, 60}, C1[5] = {15, 25, 45, 55, 65};

/* ================================================================ §4.1 rules */

Test(simulate, executes_at_next_open)
{
    /* s = 0 1 0 0 0, max_weight 1, no costs, capital 10000.
     * Signal 1 at the close of t1 -> BUY at the open of t2: q = 10000/40 = 250, cash 0.
     * Signal 0 at t2 -> SELL all 250 at the open of t3 (50): cash 12500.
     * E = 10000, 10000, 250*45 = 11250, 12500, 12500. */
    tb_market *m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 5, NULL, O1, NULL, NULL, C1, NULL);
    market_finish(m);
    const uint8_t sig[5] = {0, 1, 0, 0, 0};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, costs_none());
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 2);
    cr_expect(r.orders.t[0] == 2 && !r.orders.sell[0] && r.orders.qty[0] == 250 && r.orders.price[0] == 40,
              "BUY 250 @ 40 at t2; got t%u qty %.17g @ %.17g", r.orders.t[0], r.orders.qty[0], r.orders.price[0]);
    cr_expect(r.orders.t[1] == 3 && r.orders.sell[1] && r.orders.qty[1] == 250 && r.orders.price[1] == 50,
              "SELL 250 @ 50 at t3; got t%u qty %.17g @ %.17g", r.orders.t[1], r.orders.qty[1], r.orders.price[1]);
    const double E[5] = {10000, 10000, 11250, 12500, 12500};
    for (int t = 0; t < 5; t++) cr_expect(close_rel(r.equity[t], E[t], 1e-12), "E[%d] = %.17g, expected %.17g", t, r.equity[t], E[t]);
    cr_expect(r.final_q[0] == 0);
    done(m, &p, &r);
}

Test(simulate, no_order_at_first_bar_nor_after_last_close)
{
    /* s = 1 everywhere: the t0 signal buys at the open of t1 (20): q = 500; nothing at t0.
     * Afterwards w = 1 = w* (all in), no rebalance. E = 10000, 12500, 22500, 27500, 32500. */
    tb_market *m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 5, NULL, O1, NULL, NULL, C1, NULL);
    market_finish(m);
    const uint8_t sig[5] = {1, 1, 1, 1, 1};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, costs_none());
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 1);
    cr_expect(r.orders.t[0] == 1 && r.orders.qty[0] == 500 && r.orders.price[0] == 20);
    cr_expect(r.cash[0] == 10000 && r.gross[0] == 0, "all cash at the first bar");
    const double E[5] = {10000, 12500, 22500, 27500, 32500};
    for (int t = 0; t < 5; t++) cr_expect(close_rel(r.equity[t], E[t], 1e-12), "E[%d] = %.17g", t, r.equity[t]);
    done(m, &p, &r);

    /* A signal only at the last bar is never executed (no order at the last bar). */
    m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 5, NULL, O1, NULL, NULL, C1, NULL);
    market_finish(m);
    const uint8_t sig2[5] = {0, 0, 0, 0, 1};
    run(m, sig2, &cfg, &p, &r);
    cr_expect_eq(r.orders.n, 0, "the last bar's signal must not trade");
    cr_expect(r.equity[4] == 10000 && r.final_q[0] == 0);
    done(m, &p, &r);
}

Test(simulate, first_bar_of_range_is_all_cash)
{
    /* Range starts at day 2 (days 0, 1 only warm up). The signal is already 1 at
     * days 1 and 2: the portfolio is all cash at day 2 (t0 of the panel) and enters at
     * the next open, day 3 (50): q = 10000/50 = 200. E = 10000, 200*55 = 11000, 13000. */
    tb_market *m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 5, NULL, O1, NULL, NULL, C1, NULL);
    market_finish(m);
    const uint8_t sig[5] = {0, 1, 1, 1, 1};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, costs_none());
    tb_panel p;
    tb_sim_result r;
    tb_error err = {0};
    cr_assert_eq(panel_build(m, (int64_t)(DAY0 + 2) * 86400, INT64_MAX, 0, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.T, 3);
    cr_assert_eq(simulate(m, sig, &p, &cfg, NULL, &r, &err), 0, "%s", err.msg);
    check_book(m, sig, &p, &r, 10000);
    cr_assert_eq(r.orders.n, 1);
    cr_expect(r.orders.t[0] == 1 && r.orders.price[0] == 50 && r.orders.qty[0] == 200);
    const double E[3] = {10000, 11000, 13000};
    for (int t = 0; t < 3; t++) cr_expect(close_rel(r.equity[t], E[t], 1e-12), "E[%d] = %.17g", t, r.equity[t]);
    done(m, &p, &r);
}

Test(simulate, exit_sells_exactly_everything)
{
    /* Two symbols, max_weight 1, band 0.02, commission 1 bps (so q is an awkward float).
     *   A: O = 3, 3, 7, 7, 11, 11   s_A = 1 1 1 0 0 0
     *   B: O = 9, 9, 13, 13, 6, 6   s_B = 0 1 1 1 0 0      (C = O)
     * t1: buy A at 3 (w* = 1); t2: n = 2 -> w* = .5: sell part of A, buy B (scaled);
     * t4: exit A (s_A,3 = 0): the SELL quantity is exactly q_A and q_A becomes 0;
     * t5: exit B the same way. final_q is exactly 0 for both; E_5 = cash_5. */
    tb_market *m = market_new(TB_FREQ_1D, 2, 16);
    const double oa[6] = {3, 3, 7, 7, 11, 11}, ob[6] = {9, 9, 13, 13, 6, 6};
    add_sym(m, "A", 6, NULL, oa, NULL, NULL, oa, NULL);
    add_sym(m, "B", 6, NULL, ob, NULL, NULL, ob, NULL);
    market_finish(m);
    const uint8_t sig[12] = {1, 1, 1, 0, 0, 0, /* A */ 0, 1, 1, 1, 0, 0 /* B */};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, (tb_costs){1, 0, 0});
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    double qa = 0, qb = 0;
    int exits = 0;
    for (size_t k = 0; k < r.orders.n; k++) {
        double *q = r.orders.sym[k] ? &qb : &qa;
        if (r.orders.sell[k] && r.orders.t[k] >= 4) {
            cr_expect(r.orders.qty[k] == *q, "exit of sym %u sells %.17g, held %.17g", r.orders.sym[k],
                      r.orders.qty[k], *q);
            exits++;
        }
        *q += r.orders.sell[k] ? -r.orders.qty[k] : r.orders.qty[k];
    }
    cr_expect_eq(exits, 2);
    cr_expect(r.final_q[0] == 0.0 && r.final_q[1] == 0.0, "final_q %.17g %.17g must be exactly 0", r.final_q[0],
              r.final_q[1]);
    cr_expect(r.gross[5] == 0 && r.equity[5] == r.cash[5]);
    done(m, &p, &r);
}

Test(simulate, rebalance_band_is_strict)
{
    /* One symbol, max_weight 0.5, band 0.25, no costs, capital 10000, s = 1 1 1.
     * t1: buy at 100: q = 0.5*10000/100 = 50, cash 5000.
     * t2 open 300: q*O = 15000, E^o = 20000, w = 0.75 exactly; |0.75 - 0.5| = 0.25 is
     * NOT > 0.25 -> no order. With open 301 instead: w = 15050/20050 > 0.75 -> SELL to
     * q* = 0.5*20050/301, i.e. 50 - 10025/301 shares. */
    const double o300[3] = {100, 100, 300}, o301[3] = {100, 100, 301};
    const uint8_t sig[3] = {1, 1, 1};
    tb_sim_config cfg = cfg_make(10000, 0.5, 0.25, costs_none());
    tb_panel p;
    tb_sim_result r;
    tb_market *m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 3, NULL, o300, NULL, NULL, o300, NULL);
    market_finish(m);
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 1, "w - w* == band exactly must not trade (strict >)");
    cr_expect(r.orders.qty[0] == 50 && r.cash[1] == 5000);
    done(m, &p, &r);

    m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 3, NULL, o301, NULL, NULL, o301, NULL);
    market_finish(m);
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 2, "w - w* > band must trade");
    cr_expect(r.orders.t[1] == 2 && r.orders.sell[1]);
    cr_expect(close_rel(r.orders.qty[1], 50 - 0.5 * 20050 / 301, 1e-12), "qty %.17g", r.orders.qty[1]);
    done(m, &p, &r);

    /* band 0 and w == w* exactly (open unchanged at 100: w = 5000/10000 = 0.5): no order */
    tb_sim_config cfg0 = cfg_make(10000, 0.5, 0, costs_none());
    const double o100[3] = {100, 100, 100};
    m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 3, NULL, o100, NULL, NULL, o100, NULL);
    market_finish(m);
    run(m, sig, &cfg0, &p, &r);
    cr_expect_eq(r.orders.n, 1, "band 0 with w == w* must not trade");
    done(m, &p, &r);
}

Test(simulate, tiny_orders_dropped)
{
    const uint8_t sig[3] = {1, 1, 1};
    tb_panel p;
    tb_sim_result r;
    /* (a) capital 0.015, max_weight 0.5: the entry is 0.0075 < 0.01 -> dropped; E stays 0.015 */
    const double o100[3] = {100, 100, 100};
    tb_sim_config ca = cfg_make(0.015, 0.5, 0.02, costs_none());
    tb_market *m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 3, NULL, o100, NULL, NULL, o100, NULL);
    market_finish(m);
    run(m, sig, &ca, &p, &r);
    cr_expect_eq(r.orders.n, 0, "an entry of 0.0075 must be dropped");
    cr_expect(r.equity[2] == 0.015 && r.cash[2] == 0.015);
    done(m, &p, &r);

    /* (b) band 0, max_weight 0.5: t1 buys 50 at 100 (cash 5000). At t2 the open is
     * 100.0001: q*O = 5000.005, E^o = 10000.005, w - w* = 2.5e-7 > 0 (band passed) but
     * |dq*O| = 5000.005 - 0.5*10000.005 = 0.0025 < 0.01 -> dropped.
     * With open 100.001 the same order is 0.025 >= 0.01 -> kept (a SELL of 0.025/100.001). */
    tb_sim_config cb = cfg_make(10000, 0.5, 0, costs_none());
    const double ob1[3] = {100, 100, 100.0001}, ob2[3] = {100, 100, 100.001};
    m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 3, NULL, ob1, NULL, NULL, ob1, NULL);
    market_finish(m);
    run(m, sig, &cb, &p, &r);
    cr_expect_eq(r.orders.n, 1, "a 0.0025 rebalance must be dropped");
    done(m, &p, &r);
    m = market_new(TB_FREQ_1D, 1, 8);
    add_sym(m, "A", 3, NULL, ob2, NULL, NULL, ob2, NULL);
    market_finish(m);
    run(m, sig, &cb, &p, &r);
    cr_assert_eq(r.orders.n, 2, "a 0.025 rebalance must be kept");
    cr_expect(r.orders.sell[1] && close_rel(r.orders.qty[1] * r.orders.price[1], 0.025, 1e-6), "notional %.17g",
              r.orders.qty[1] * r.orders.price[1]);
    done(m, &p, &r);

    /* (c) scaled buys below 0.01 are dropped and their cash stays: capital 0.03, two
     * symbols at w* = 0.5 (0.015 each, kept at first), commission 1e4 bps (100%):
     * need 0.06 > 0.03 -> k = 0.5 -> 0.0075 each < 0.01 -> both dropped, cash 0.03. */
    tb_sim_config cc = cfg_make(0.03, 1, 0.02, (tb_costs){1e4, 0, 0});
    const uint8_t sig2[6] = {1, 1, 1, 1, 1, 1};
    m = market_new(TB_FREQ_1D, 2, 8);
    add_sym(m, "A", 3, NULL, o100, NULL, NULL, o100, NULL);
    add_sym(m, "B", 3, NULL, o100, NULL, NULL, o100, NULL);
    market_finish(m);
    run(m, sig2, &cc, &p, &r);
    cr_expect_eq(r.orders.n, 0, "scaled buys of 0.0075 must be dropped");
    cr_expect(r.cash[2] == 0.03, "their cash stays: %.17g", r.cash[2]);
    done(m, &p, &r);
}

Test(simulate, sells_before_buys)
{
    /* max_weight 1, no costs. A (index 0): O = 10 10 20 20; B (index 1): O = 5 5 8 8 (C = O).
     * s_A = 0 1 1 1, s_B = 1 0 0 0.
     * t1: buy B at 5: 2000 shares, cash 0.
     * t2: SELL B 2000 at 8 (cash 16000) first, then BUY A 16000/20 = 800 in full.
     * (Buys first would find no cash.) The SELL of symbol 1 precedes the BUY of symbol 0. */
    tb_market *m = market_new(TB_FREQ_1D, 2, 16);
    const double oa[4] = {10, 10, 20, 20}, ob[4] = {5, 5, 8, 8};
    add_sym(m, "A", 4, NULL, oa, NULL, NULL, oa, NULL);
    add_sym(m, "B", 4, NULL, ob, NULL, NULL, ob, NULL);
    market_finish(m);
    const uint8_t sig[8] = {0, 1, 1, 1, /* B */ 1, 0, 0, 0};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, costs_none());
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 3);
    cr_expect(r.orders.t[0] == 1 && r.orders.sym[0] == 1 && !r.orders.sell[0] && r.orders.qty[0] == 2000);
    cr_expect(r.orders.t[1] == 2 && r.orders.sym[1] == 1 && r.orders.sell[1] && r.orders.qty[1] == 2000,
              "first at t2: SELL B 2000");
    cr_expect(r.orders.t[2] == 2 && r.orders.sym[2] == 0 && !r.orders.sell[2] && r.orders.qty[2] == 800,
              "then BUY A 800 (unscaled), got %.17g", r.orders.qty[2]);
    cr_expect(r.cash[2] == 0 && r.equity[3] == 16000);
    done(m, &p, &r);
}

/* Spend of a set of buys (notional + cost) at their recorded sizes. */
static double spend_of(const tb_costs *cm, const tb_cost_stats *st, const double *qty, const double *px, size_t n,
                       double k)
{
    double s = 0;
    for (size_t j = 0; j < n; j++) s += k * qty[j] * px[j] + costs_amount(cm, &st[j], k * qty[j], px[j]);
    return s;
}

Test(simulate, buys_scaled_commission_only)
{
    /* Two symbols, max_weight 1 -> w* = 0.5 each; commission 10 bps (3 bars: SPREAD,
     * VOL, ADV undefined, so only the commission applies). Capital 10000.
     * At t1: A at 40 wants 5000/40 = 125 shares, B at 25 wants 200: spend(1) = 10000 +
     * 10 > 10000 -> k with k * 10000 * 1.001 = 10000, k = 1/1.001. */
    tb_market *m = market_new(TB_FREQ_1D, 2, 16);
    const double oa[3] = {40, 40, 40}, ob[3] = {25, 25, 25};
    add_sym(m, "A", 3, NULL, oa, NULL, NULL, oa, NULL);
    add_sym(m, "B", 3, NULL, ob, NULL, NULL, ob, NULL);
    market_finish(m);
    const uint8_t sig[6] = {1, 1, 1, 1, 1, 1};
    tb_costs cm = {10, 0.25, 0.5};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, cm);
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 2);
    cr_expect(r.orders.t[0] == 1 && r.orders.t[1] == 1 && !r.orders.sell[0] && !r.orders.sell[1]);
    double ka = r.orders.qty[0] / 125, kb = r.orders.qty[1] / 200;
    cr_expect(close_rel(ka, kb, 1e-12), "one common factor: %.17g vs %.17g", ka, kb);
    cr_expect(ka < 1 && close_rel(ka, 1 / 1.001, 1e-12), "k = %.17g, expected 1/1.001", ka);
    /* costs recorded = qty * px * 10 / 1e4 */
    for (int j = 0; j < 2; j++)
        cr_expect(close_rel(r.orders.cost[j], r.orders.qty[j] * r.orders.price[j] * 1e-3, 1e-12), "cost %d", j);
    double spend = 0;
    for (int j = 0; j < 2; j++) spend += r.orders.qty[j] * r.orders.price[j] + r.orders.cost[j];
    cr_expect(fabs(spend - 10000) <= 1e-9, "spend(k) = %.17g, expected 10000 within 1e-9", spend);
    cr_expect(fabs(r.cash[1]) <= 1e-9 && r.cash[1] >= -1e-9, "cash after the buys %.17g", r.cash[1]);
    done(m, &p, &r);
}

/* A deterministic series with well-defined SPREAD/VOL/ADV(20) from bar 20: a slow
 * sine mid m_t, the close alternating 0.4% below/above it (a bid-ask bounce, so the
 * Abdi-Ranaldo estimate is positive, ~80 bps), open near the mid, high/low ~0.6%
 * around it, volume vol0 + 10*(t%4). */
static void wavy(double base, double amp, double phase, double vol0, double *o, double *h, double *l, double *c,
                 double *v, int n)
{
    for (int t = 0; t < n; t++) {
        double mid = base * (1 + amp * sin(0.3 * t + phase));
        c[t] = mid * (1 + ((t % 2) ? 0.004 : -0.004));
        o[t] = mid * (1 + 0.002 * cos(1.7 * t + phase));
        h[t] = mid * (1.006 + 0.001 * (t % 3));
        l[t] = mid * (0.994 - 0.001 * (t % 2));
        v[t] = vol0 + 10 * (t % 4);
    }
}

Test(simulate, buys_scaled_with_sqrt_impact)
{
    /* Two symbols, 23 bars, default costs, max_weight 1, capital 10000. Signals are 1 from
     * bar 21 only, so both enter at the open of bar 22 with bar-21 statistics (SPREAD,
     * VOL, ADV(20) all defined; ADV ~ 60 shares vs orders ~ 50-100 shares: the sqrt
     * impact is large and spend(k) is non-linear). The checks: one common k < 1 for both
     * buys; each cost equals the §4.2 formula at the scaled size with bar-21 stats; the
     * recomputed spend(k) equals the cash within 1e-9 and k is the largest such factor;
     * the cash ends at 0 within 1e-9 and never below -1e-9. */
    enum { NB = 23 };
    double oa[NB], ha[NB], la[NB], ca[NB], va[NB], ob[NB], hb[NB], lb[NB], cb[NB], vb[NB];
    wavy(100, 0.03, 0.0, 50, oa, ha, la, ca, va, NB);
    wavy(50, 0.05, 1.3, 120, ob, hb, lb, cb, vb, NB);
    tb_cost_stats st[2] = {costs_stats_at(ha, la, ca, va, 21), costs_stats_at(hb, lb, cb, vb, 21)};
    for (int j = 0; j < 2; j++)
        cr_assert(!isnan(st[j].spread_bps) && !isnan(st[j].vol) && !isnan(st[j].adv) && st[j].spread_bps > 0 &&
                      st[j].vol > 0,
                  "fixture: bar-21 stats must be defined");
    tb_market *m = market_new(TB_FREQ_1D, 2, 64);
    add_sym(m, "A", NB, NULL, oa, ha, la, ca, va);
    add_sym(m, "B", NB, NULL, ob, hb, lb, cb, vb);
    market_finish(m);
    uint8_t sig[2 * NB] = {0};
    sig[21] = sig[22] = sig[NB + 21] = sig[NB + 22] = 1;
    tb_costs cm = costs_default();
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, cm);
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 2);
    const double full[2] = {0.5 * 10000 / oa[22], 0.5 * 10000 / ob[22]}; /* unscaled dq */
    const double px[2] = {oa[22], ob[22]};
    double k[2], qty[2];
    for (int j = 0; j < 2; j++) {
        cr_expect(r.orders.t[j] == 22 && !r.orders.sell[j] && r.orders.sym[j] == (uint32_t)j);
        qty[j] = r.orders.qty[j];
        k[j] = qty[j] / full[j];
        double want = costs_amount(&cm, &st[j], qty[j], px[j]);
        cr_expect(close_rel(r.orders.cost[j], want, 1e-12), "cost[%d] %.17g, §4.2 with bar-21 stats %.17g", j,
                  r.orders.cost[j], want);
        /* make sure the test can tell the signal bar's stats from the execution bar's */
        tb_cost_stats s22 = j ? costs_stats_at(hb, lb, cb, vb, 22) : costs_stats_at(ha, la, ca, va, 22);
        cr_expect(!close_rel(costs_amount(&cm, &s22, qty[j], px[j]), want, 1e-9), "fixture: stats 21 vs 22");
    }
    cr_expect(k[0] < 1 && close_rel(k[0], k[1], 1e-12), "common k: %.17g vs %.17g", k[0], k[1]);
    double spend1 = spend_of(&cm, st, full, px, 2, 1.0);
    cr_expect(spend1 > 10000, "fixture: unscaled buys (%.17g) must exceed the cash", spend1);
    double spendk = spend_of(&cm, st, full, px, 2, k[0]);
    cr_expect(fabs(spendk - 10000) <= 1e-9, "spend(k) = %.17g, expected 10000 within 1e-9", spendk);
    cr_expect(spend_of(&cm, st, full, px, 2, k[0] * (1 + 1e-10)) > 10000, "k = %.17g is not the largest", k[0]);
    cr_expect(fabs(r.cash[22]) <= 1e-9 && r.cash[22] >= -1e-9, "cash after the scaled buys: %.17g", r.cash[22]);
    done(m, &p, &r);
}

Test(simulate, scaled_after_sells_with_commission)
{
    /* The sells-before-buys case with commission 10 bps: t2 sells B 2000 at 8 ->
     * cash 16000 - 16 = 15984; A wants E^o/20 = 800 shares costing 16000 + 16 = 16016 >
     * 15984 -> k = 15984/16016, q_A = 800k, cash ends at 0 within 1e-9. */
    tb_market *m = market_new(TB_FREQ_1D, 2, 16);
    const double oa[4] = {10, 10, 20, 20}, ob[4] = {5, 5, 8, 8};
    add_sym(m, "A", 4, NULL, oa, NULL, NULL, oa, NULL);
    add_sym(m, "B", 4, NULL, ob, NULL, NULL, ob, NULL);
    market_finish(m);
    const uint8_t sig[8] = {0, 1, 1, 1, 1, 0, 0, 0};
    tb_sim_config cfg = cfg_make(10000, 1, 0.02, (tb_costs){10, 0, 0});
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(r.orders.n, 3);
    /* t1: 10000 buys B at 5 with 10 bps: k*10000*1.001 = 10000 -> q_B = 2000/1.001 */
    cr_expect(close_rel(r.orders.qty[0], 2000 / 1.001, 1e-12), "q_B %.17g", r.orders.qty[0]);
    double qb = r.orders.qty[0], eo = qb * 8, cash2 = eo - eo * 1e-3;
    cr_expect(r.orders.sell[1] && r.orders.qty[1] == qb);
    double k = cash2 / (eo * 1.001);
    cr_expect(!r.orders.sell[2] && close_rel(r.orders.qty[2], k * eo / 20, 1e-12), "q_A %.17g vs %.17g",
              r.orders.qty[2], k * eo / 20);
    cr_expect(fabs(r.cash[2]) <= 1e-9 && r.cash[2] >= -1e-9, "cash %.17g", r.cash[2]);
    done(m, &p, &r);
}

Test(simulate, missing_bar_no_trade_valued_at_last_close)
{
    /* max_weight 0.25, band 0.02, no costs, capital 10000. Days 0..4.
     *   A: every day, O = C = 5,                                s = 0 1 1 1 1
     *   B: days 0 1 3 4 (none on day 2), O = 10 20 . 40 50, C = 12 22 . 44 55, s = 1 0 0 0
     *   D: days 0 1 3 4,                  O = 1 2 . 80 88,  C = 1 2 . 88 99,  s = 0 1 1 1
     * t1 (n0 = 1, w* = .25): BUY B .25*10000/20 = 125; cash 7500; E1 = 7500 + 125*22 = 10250.
     * t2 (n1 = 2 with A, D; w* = .25): B wants to exit and D to enter, but neither has a
     *    bar: no order for them. A enters with E^o = 7500 + 125*22 (B at its last close)
     *    = 10250: BUY A .25*10250/5 = 512.5; cash 4937.5.
     *    E2 = 4937.5 + 512.5*5 + 125*22 = 10250 (gross 5312.5).
     * t3 (carried: B 0, D 1, A 1; n = 2): E^o = 4937.5 + 2562.5 + 125*40 = 12500.
     *    SELL B 125 @ 40 (cash 9937.5); A: w = 2562.5/12500 = .205, |.205-.25| > .02:
     *    BUY A 625 - 512.5 = 112.5 @ 5; D: BUY .25*12500/80 = 39.0625 @ 80; cash 6250.
     *    E3 = 6250 + 625*5 + 39.0625*88 = 12812.5.
     * t4: w_A = 3125/12812.5 = .2439, w_D = 3437.5/12812.5 = .2683: both within the band.
     *    E4 = 6250 + 3125 + 39.0625*99 = 13242.1875. */
    tb_market *m = market_new(TB_FREQ_1D, 3, 16);
    const double o5[5] = {5, 5, 5, 5, 5};
    const int dd[4] = {0, 1, 3, 4};
    const double ob[4] = {10, 20, 40, 50}, cb[4] = {12, 22, 44, 55};
    const double od[4] = {1, 2, 80, 88}, cd[4] = {1, 2, 88, 99};
    add_sym(m, "A", 5, NULL, o5, NULL, NULL, o5, NULL);
    add_sym(m, "B", 4, dd, ob, NULL, NULL, cb, NULL);
    add_sym(m, "D", 4, dd, od, NULL, NULL, cd, NULL);
    market_finish(m);
    const uint8_t sig[13] = {0, 1, 1, 1, 1, /* B */ 1, 0, 0, 0, /* D */ 0, 1, 1, 1};
    tb_sim_config cfg = cfg_make(10000, 0.25, 0.02, costs_none());
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_assert_eq(p.T, 5);
    cr_assert_eq(r.orders.n, 5);
    const struct { unsigned t, sym, sell; double qty, px; } want[5] = {
        {1, 1, 0, 125, 20}, {2, 0, 0, 512.5, 5}, {3, 1, 1, 125, 40}, {3, 0, 0, 112.5, 5}, {3, 2, 0, 39.0625, 80}};
    for (size_t k = 0; k < 5; k++)
        cr_expect(r.orders.t[k] == want[k].t && r.orders.sym[k] == want[k].sym && r.orders.sell[k] == want[k].sell &&
                      close_rel(r.orders.qty[k], want[k].qty, 1e-12) && r.orders.price[k] == want[k].px,
                  "order %zu: got t%u sym %u %s %.17g @ %.17g; expected t%u sym %u %s %.17g @ %.17g", k,
                  r.orders.t[k], r.orders.sym[k], r.orders.sell[k] ? "SELL" : "BUY", r.orders.qty[k],
                  r.orders.price[k], want[k].t, want[k].sym, want[k].sell ? "SELL" : "BUY", want[k].qty, want[k].px);
    cr_expect(close_rel(r.gross[2], 5312.5, 1e-12), "t2 gross values B at its last close 22: %.17g", r.gross[2]);
    const double E[5] = {10000, 10250, 10250, 12812.5, 13242.1875};
    for (int t = 0; t < 5; t++) cr_expect(close_rel(r.equity[t], E[t], 1e-12), "E[%d] = %.17g, expected %.17g", t, r.equity[t], E[t]);
    done(m, &p, &r);
}

Test(simulate, equity_identity_long_run)
{
    /* 3 symbols x 40 bars with signal flips, default costs, max_weight 0.4, band 0.02;
     * symbol C skips every 7th day. check_book() replays all orders: cash and gross at
     * every close, E_t = cash_t + gross_t, order placement and ordering, cash >= -1e-9. */
    enum { NB = 40 };
    double o[3][NB], h[3][NB], l[3][NB], c[3][NB], v[3][NB];
    wavy(100, 0.04, 0.0, 60, o[0], h[0], l[0], c[0], v[0], NB);
    wavy(30, 0.06, 2.0, 200, o[1], h[1], l[1], c[1], v[1], NB);
    wavy(70, 0.05, 4.0, 80, o[2], h[2], l[2], c[2], v[2], NB);
    int days[NB];
    double oc[NB], hc[NB], lc[NB], cc[NB], vc[NB];
    size_t nc = 0;
    for (int t = 0; t < NB; t++) {
        if (t % 7 == 3) continue;
        days[nc] = t, oc[nc] = o[2][t], hc[nc] = h[2][t], lc[nc] = l[2][t], cc[nc] = c[2][t], vc[nc] = v[2][t];
        nc++;
    }
    tb_market *m = market_new(TB_FREQ_1D, 3, 128);
    add_sym(m, "A", NB, NULL, o[0], h[0], l[0], c[0], v[0]);
    add_sym(m, "B", NB, NULL, o[1], h[1], l[1], c[1], v[1]);
    add_sym(m, "C", nc, days, oc, hc, lc, cc, vc);
    market_finish(m);
    uint8_t *sig = calloc(m->n_bars, 1);
    cr_assert(sig);
    for (size_t i = 0; i < 3; i++)
        for (size_t b = 0; b < market_len(m, i); b++) sig[m->offset[i] + b] = ((b / (3 + 2 * i)) % 2) == 0;
    tb_sim_config cfg = cfg_make(10000, 0.4, 0.02, costs_default());
    tb_panel p;
    tb_sim_result r;
    run(m, sig, &cfg, &p, &r);
    cr_expect(r.orders.n > 10, "fixture should trade (got %zu orders)", r.orders.n);
    for (size_t t = 0; t < r.T; t++)
        cr_expect(r.equity[t] == r.cash[t] + r.gross[t], "E[%zu] %.17g != %.17g + %.17g", t, r.equity[t], r.cash[t],
                  r.gross[t]);
    double costs = 0;
    for (size_t k = 0; k < r.orders.n; k++) costs += r.orders.cost[k];
    cr_expect(close_rel(r.total_costs, costs, 1e-12));
    free(sig);
    done(m, &p, &r);
}
