/* bench_ref.c — the reference `tradebench bench` compares the engine with:
 * BACKTEST_MEDIUM's engine work computed the previous phase's way (the
 * engine before the P3 work of issue 6), kept here so the comparison runs
 * in the same process on the same loaded data. Signals: each EMA as its own
 * array (ind_ema), then the comparison. Panel: the T*N last/has matrices.
 * Simulation: at every step the signals gathered over all symbols, equity
 * at the open and at the close over the held list, each order's SPREAD /
 * VOL / ADV(20) computed from its window (costs_stats_at), cash-short buys
 * scaled by bisection. Benchmark: time-major over the matrix. Its results
 * are the engine's to the last bit (the bench checks), so the ratio of the
 * two timings is the speed-up and nothing else. */
#include "bench_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "indicators.h"
#include "xalloc.h"

typedef struct ref_trade {
    uint32_t sym;
    double dq, px;
    int exit;
    tb_cost_stats st;
} ref_trade;

static void ref_push(tb_orders *o, uint32_t t, uint32_t sym, int sell, double qty, double px, double cost)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 1024;
        o->t = xrealloc(o->t, xmul(o->cap, sizeof *o->t));
        o->sym = xrealloc(o->sym, xmul(o->cap, sizeof *o->sym));
        o->sell = xrealloc(o->sell, xmul(o->cap, sizeof *o->sell));
        o->qty = xrealloc(o->qty, xmul(o->cap, sizeof *o->qty));
        o->price = xrealloc(o->price, xmul(o->cap, sizeof *o->price));
        o->cost = xrealloc(o->cost, xmul(o->cap, sizeof *o->cost));
    }
    size_t k = o->n++;
    o->t[k] = t, o->sym[k] = sym, o->sell[k] = (uint8_t)sell;
    o->qty[k] = qty, o->price[k] = px, o->cost[k] = cost;
}

static void ref_signals(const tb_strategy_params *sp, const tb_market *m, uint8_t *sig)
{
    size_t maxlen = 1;
    for (size_t i = 0; i < m->n_symbols; i++)
        if (market_len(m, i) > maxlen) maxlen = market_len(m, i);
    double *ef = xmalloc(xmul(maxlen, sizeof *ef)), *es = xmalloc(xmul(maxlen, sizeof *es));
    for (size_t i = 0; i < m->n_symbols; i++) {
        size_t o = m->offset[i], n = market_len(m, i);
        ind_ema(m->close + o, n, (int)sp->v[0], ef);
        ind_ema(m->close + o, n, (int)sp->v[1], es);
        for (size_t t = 0; t < n; t++) sig[o + t] = ef[t] > es[t];
    }
    free(ef);
    free(es);
}

static void ref_simulate(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_config *cfg,
                         tb_sim_result *out)
{
    const size_t T = p->T, N = p->N;
    memset(out, 0, sizeof *out);
    out->T = T, out->N = N;
    out->equity = xmalloc(xmul(T, sizeof(double)));
    out->cash = xmalloc(xmul(T, sizeof(double)));
    out->gross = xmalloc(xmul(T, sizeof(double)));
    out->final_q = xcalloc(N, sizeof(double));
    out->pnl = xcalloc(N, sizeof(double));
    double *q = out->final_q;
    uint8_t *s_prev = xcalloc(N, 1);
    uint32_t *held = xmalloc(xmul(N, sizeof *held));
    size_t n_held = 0;
    ref_trade *sells = xmalloc(xmul(N, sizeof *sells)), *buys = xmalloc(xmul(N, sizeof *buys));
    const tb_costs *cm = &cfg->costs;
    double cash = cfg->start_capital;
    out->equity[0] = out->cash[0] = cash;
    out->gross[0] = 0;
    for (size_t t = 1; t < T; t++) {
        const int32_t *lp = p->last + (t - 1) * N, *lt = p->last + t * N;
        const uint8_t *ht = p->has + t * N;
        size_t n_long = 0;
        for (size_t i = 0; i < N; i++) {
            s_prev[i] = lp[i] >= 0 ? sig[m->offset[i] + (size_t)lp[i]] : 0;
            n_long += s_prev[i];
        }
        double wt = 0;
        if (n_long) {
            wt = 1.0 / (double)n_long;
            if (wt > cfg->max_weight) wt = cfg->max_weight;
        }
        double eo = cash;
        for (size_t h = 0; h < n_held; h++) {
            size_t i = held[h], b = m->offset[i] + (size_t)lt[i];
            eo += q[i] * (ht[i] ? m->open[b] : m->close[b]);
        }
        size_t ns = 0, nb = 0;
        for (size_t i = 0; i < N; i++) {
            if (!ht[i]) continue;
            int s = s_prev[i];
            if (!s && q[i] == 0) continue;
            double px = m->open[m->offset[i] + (size_t)lt[i]];
            double wstar = s ? wt : 0;
            int exit = 0;
            if (s && q[i] > 0) {
                double w = q[i] * px / eo;
                if (!(fabs(w - wstar) > cfg->rebalance_band)) continue;
            } else if (!s) {
                exit = 1;
            }
            double dq = exit ? -q[i] : wstar * eo / px - q[i];
            if (fabs(dq * px) < 0.01) continue;
            size_t o = m->offset[i];
            ref_trade tr = {(uint32_t)i, dq, px, exit,
                            costs_stats_at(m->high + o, m->low + o, m->close + o, m->volume + o, (long)lt[i] - 1)};
            if (dq < 0) sells[ns++] = tr;
            else buys[nb++] = tr;
        }
        for (size_t j = 0; j < ns; j++) {
            ref_trade *tr = &sells[j];
            double qty = -tr->dq, cost = costs_amount(cm, &tr->st, qty, tr->px);
            cash += qty * tr->px - cost;
            q[tr->sym] = tr->exit ? 0 : q[tr->sym] + tr->dq;
            if (tr->exit) {
                size_t k = 0;
                while (held[k] != tr->sym) k++;
                memmove(held + k, held + k + 1, (n_held - k - 1) * sizeof *held);
                n_held--;
            }
            ref_push(&out->orders, (uint32_t)t, tr->sym, 1, qty, tr->px, cost);
            out->traded_notional += qty * tr->px;
            out->total_costs += cost;
        }
        if (nb) {
            double k = 1, need = 0;
            for (size_t j = 0; j < nb; j++)
                need += buys[j].dq * buys[j].px + costs_amount(cm, &buys[j].st, buys[j].dq, buys[j].px);
            if (need > cash) {
                double lin = 0, imp = 0;
                for (size_t j = 0; j < nb; j++) {
                    const tb_cost_stats *st = &buys[j].st;
                    double notional = buys[j].dq * buys[j].px, spread = isnan(st->spread_bps) ? 0 : st->spread_bps;
                    lin += notional + notional * (cm->commission_bps + cm->spread_w * spread) / 1e4;
                    if (!isnan(st->vol) && !isnan(st->adv) && st->adv != 0)
                        imp += notional * cm->impact_w * 1e4 * st->vol * sqrt(buys[j].dq / st->adv) / 1e4;
                }
                k = sim_buys_scale_bisect(lin, imp, cash);
            }
            for (size_t j = 0; j < nb; j++) {
                ref_trade *tr = &buys[j];
                double qty = k == 1 ? tr->dq : k * tr->dq;
                if (qty * tr->px < 0.01) continue;
                double cost = costs_amount(cm, &tr->st, qty, tr->px);
                cash -= qty * tr->px + cost;
                if (q[tr->sym] == 0) {
                    size_t h = n_held;
                    while (h > 0 && held[h - 1] > tr->sym) held[h] = held[h - 1], h--;
                    held[h] = tr->sym;
                    n_held++;
                }
                q[tr->sym] += qty;
                ref_push(&out->orders, (uint32_t)t, tr->sym, 0, qty, tr->px, cost);
                out->traded_notional += qty * tr->px;
                out->total_costs += cost;
            }
        }
        double gross = 0;
        for (size_t h = 0; h < n_held; h++) {
            size_t i = held[h];
            gross += q[i] * m->close[m->offset[i] + (size_t)lt[i]];
        }
        out->cash[t] = cash;
        out->gross[t] = gross;
        out->equity[t] = cash + gross;
    }
    for (size_t k = 0; k < out->orders.n; k++) {
        double flow = out->orders.qty[k] * out->orders.price[k];
        out->pnl[out->orders.sym[k]] += (out->orders.sell[k] ? flow : -flow) - out->orders.cost[k];
    }
    for (size_t i = 0; i < N; i++) {
        int32_t b = p->last[(T - 1) * N + i];
        if (q[i] != 0 && b >= 0) out->pnl[i] += q[i] * m->close[m->offset[i] + (size_t)b];
    }
    free(s_prev), free(held), free(sells), free(buys);
}

static void ref_benchmark(const tb_market *m, const tb_panel *p, double *b)
{
    const size_t N = p->N;
    b[0] = NAN;
    for (size_t t = 1; t < p->T; t++) {
        double s = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < N; i++) {
            int32_t k = p->last[t * N + i];
            if (!p->has[t * N + i] || k < 1) continue;
            const double *c = m->close + m->offset[i];
            s += c[k] / c[k - 1] - 1;
            cnt++;
        }
        b[t] = cnt ? s / (double)cnt : 0;
    }
}

int bench_reference_run(const tb_backtest_config *c, const tb_market *m, bench_ref_result *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (strcmp(c->strategy.def->name, "trend_baseline"))
        return tb_fail_field(err, TB_EINVAL, "strategy", "the reference implements trend_baseline only");
    double t0 = stage_now();
    uint8_t *sig = xmalloc(m->n_bars ? m->n_bars : 1);
    ref_signals(&c->strategy, m, sig);
    double t1 = stage_now();
    tb_panel p;
    if (panel_build(m, c->start, c->end, c->last_bars, &p, err)) {
        free(sig);
        return -1;
    }
    double t2 = stage_now();
    ref_simulate(m, sig, &p, &c->sim, &out->sim);
    double t3 = stage_now();
    double *bench = xmalloc(xmul(p.T, sizeof *bench));
    ref_benchmark(m, &p, bench);
    metrics_compute(&out->sim, bench, tb_freq_periods_per_year(m->freq), &out->metrics);
    double t4 = stage_now();
    out->signals_s = t1 - t0, out->panel_s = t2 - t1, out->simulate_s = t3 - t2, out->metrics_s = t4 - t3;
    free(bench);
    free(sig);
    panel_free(&p);
    return 0;
}

void bench_reference_free(bench_ref_result *r)
{
    sim_result_free(&r->sim);
}
