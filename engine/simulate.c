/* simulate.c — SPEC §4 portfolio simulation (see simulate.h).
 * One pass over panel time. At step t (t >= 1) orders decided at the close
 * of t-1 execute at the open of t for symbols that have a bar at t. Scratch
 * arrays are allocated once per run; nothing allocates per bar (the order
 * list grows geometrically). */
#include "simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void sim_config_defaults(tb_sim_config *c)
{
    c->start_capital = 10000;
    c->max_weight = 0.10;
    c->rebalance_band = 0.02;
    c->costs = costs_default();
}

int sim_config_validate(const tb_sim_config *c, tb_error *err)
{
    if (!isfinite(c->start_capital) || c->start_capital <= 0)
        return tb_fail_field(err, TB_EINVAL, "capital", "start capital must be a finite number > 0");
    if (!isfinite(c->max_weight) || c->max_weight <= 0 || c->max_weight > 1)
        return tb_fail_field(err, TB_EINVAL, "max_weight", "max_weight must be in (0, 1]");
    if (!isfinite(c->rebalance_band) || c->rebalance_band < 0 || c->rebalance_band > 1)
        return tb_fail_field(err, TB_EINVAL, "rebalance_band", "rebalance_band must be in [0, 1]");
    const struct { const char *name; double v; } cs[] = {
        {"commission_bps", c->costs.commission_bps}, {"spread_w", c->costs.spread_w}, {"impact_w", c->costs.impact_w}};
    for (size_t k = 0; k < 3; k++)
        if (!isfinite(cs[k].v) || cs[k].v < 0 || cs[k].v > 1e4)
            return tb_fail_field(err, TB_EINVAL, cs[k].name, "%s must be in [0, 10000]", cs[k].name);
    return 0;
}

static void orders_push(tb_orders *o, uint32_t t, uint32_t sym, int sell, double qty, double px, double cost)
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
    o->t[k] = t;
    o->sym[k] = sym;
    o->sell[k] = (uint8_t)sell;
    o->qty[k] = qty;
    o->price[k] = px;
    o->cost[k] = cost;
}

/* One pending trade at the current open. */
typedef struct sim_trade {
    uint32_t sym;
    double dq;     /* signed share change */
    double px;     /* open */
    int exit;      /* sell everything: q becomes exactly 0 */
    tb_cost_stats st;
} sim_trade;

/* Cash spent by the buys scaled by k: notional plus cost at the scaled size.
 * Each buy's cost is linear in k except the square-root impact term, so
 * spend(k) = k * lin + k^1.5 * imp with two sums taken once per bar; the
 * bisection then costs O(1) per step. */
typedef struct buys_spend_fn {
    double lin; /* sum of notional + commission + spread cost at k = 1 */
    double imp; /* sum of impact cost at k = 1 */
} buys_spend_fn;

static buys_spend_fn buys_spend_prepare(const sim_trade *b, size_t nb, const tb_costs *cm)
{
    buys_spend_fn f = {0, 0};
    for (size_t j = 0; j < nb; j++) {
        const tb_cost_stats *st = &b[j].st;
        double notional = b[j].dq * b[j].px;
        double spread = isnan(st->spread_bps) ? 0 : st->spread_bps;
        f.lin += notional + notional * (cm->commission_bps + cm->spread_w * spread) / 1e4;
        if (!isnan(st->vol) && !isnan(st->adv) && st->adv != 0)
            f.imp += notional * cm->impact_w * 1e4 * st->vol * sqrt(b[j].dq / st->adv) / 1e4;
    }
    return f;
}

static double buys_spend(const buys_spend_fn *f, double k) { return k * f->lin + k * sqrt(k) * f->imp; }

/* Largest k in [0,1) with spend(k) <= cash, by bisection to machine precision. */
static double buys_scale(const buys_spend_fn *f, double cash)
{
    if (cash <= 0) return 0;
    double lo = 0, hi = 1;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (buys_spend(f, mid) <= cash) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* The held list: symbols with a position, kept in ascending index order so
 * sums over it add in the same order as a sweep over all symbols. */
static size_t held_insert(uint32_t *held, size_t n, uint32_t sym)
{
    size_t k = n;
    while (k > 0 && held[k - 1] > sym) {
        held[k] = held[k - 1];
        k--;
    }
    held[k] = sym;
    return n + 1;
}

static size_t held_remove(uint32_t *held, size_t n, uint32_t sym)
{
    size_t k = 0;
    while (k < n && held[k] != sym) k++;
    if (k == n) return n;
    memmove(held + k, held + k + 1, (n - k - 1) * sizeof *held);
    return n - 1;
}

int simulate(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_config *cfg,
             const tb_hooks *hooks, tb_sim_result *out, tb_error *err)
{
    const size_t T = p->T, N = p->N;
    memset(out, 0, sizeof *out);
    out->T = T;
    out->N = N;
    out->equity = xmalloc(xmul(T, sizeof(double)));
    out->cash = xmalloc(xmul(T, sizeof(double)));
    out->gross = xmalloc(xmul(T, sizeof(double)));
    out->final_q = xcalloc(N, sizeof(double));
    out->pnl = xcalloc(N, sizeof(double));
    double *q = out->final_q;
    uint8_t *s_prev = xcalloc(N ? N : 1, 1);
    uint32_t *held = xmalloc(xmul(N ? N : 1, sizeof *held)); /* symbols with q != 0, ascending */
    size_t n_held = 0;
    sim_trade *sells = xmalloc(xmul(N, sizeof *sells)), *buys = xmalloc(xmul(N, sizeof *buys));
    const tb_costs *cm = &cfg->costs;
    double cash = cfg->start_capital;

    out->equity[0] = cash;
    out->cash[0] = cash;
    out->gross[0] = 0;
    for (size_t t = 1; t < T; t++) {
        if ((t & 255) == 0) {
            if (hooks_cancelled(hooks)) {
                free(s_prev), free(held), free(sells), free(buys);
                sim_result_free(out);
                return tb_fail(err, TB_ECANCEL, "cancelled");
            }
            hooks_progress(hooks, "simulate", (double)t / (double)T);
        }
        const int32_t *lp = p->last + (t - 1) * N, *lt = p->last + t * N;
        const uint8_t *ht = p->has + t * N;
        /* targets at the close of t-1 */
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
        /* equity at the open */
        double eo = cash;
        for (size_t h = 0; h < n_held; h++) {
            size_t i = held[h];
            size_t b = m->offset[i] + (size_t)lt[i];
            eo += q[i] * (ht[i] ? m->open[b] : m->close[b]);
        }
        /* decide trades */
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
            sim_trade tr = {(uint32_t)i, dq, px, exit,
                            costs_stats_at(m->high + o, m->low + o, m->close + o, m->volume + o, (long)lt[i] - 1)};
            if (dq < 0) sells[ns++] = tr;
            else buys[nb++] = tr;
        }
        /* sells first */
        for (size_t j = 0; j < ns; j++) {
            sim_trade *tr = &sells[j];
            double qty = -tr->dq;
            double cost = costs_amount(cm, &tr->st, qty, tr->px);
            cash += qty * tr->px - cost;
            q[tr->sym] = tr->exit ? 0 : q[tr->sym] + tr->dq;
            if (tr->exit) n_held = held_remove(held, n_held, tr->sym);
            orders_push(&out->orders, (uint32_t)t, tr->sym, 1, qty, tr->px, cost);
            out->traded_notional += qty * tr->px;
            out->total_costs += cost;
        }
        /* then buys, scaled down together when cash is short */
        if (nb) {
            double k = 1;
            double need = 0;
            for (size_t j = 0; j < nb; j++)
                need += buys[j].dq * buys[j].px + costs_amount(cm, &buys[j].st, buys[j].dq, buys[j].px);
            if (need > cash) {
                buys_spend_fn f = buys_spend_prepare(buys, nb, cm);
                k = buys_scale(&f, cash);
            }
            for (size_t j = 0; j < nb; j++) {
                sim_trade *tr = &buys[j];
                double qty = k == 1 ? tr->dq : k * tr->dq;
                if (qty * tr->px < 0.01) continue;
                double cost = costs_amount(cm, &tr->st, qty, tr->px);
                cash -= qty * tr->px + cost;
                if (q[tr->sym] == 0) n_held = held_insert(held, n_held, tr->sym);
                q[tr->sym] += qty;
                orders_push(&out->orders, (uint32_t)t, tr->sym, 0, qty, tr->px, cost);
                out->traded_notional += qty * tr->px;
                out->total_costs += cost;
            }
        }
        /* mark to market at the close */
        double gross = 0;
        for (size_t h = 0; h < n_held; h++) {
            size_t i = held[h];
            gross += q[i] * m->close[m->offset[i] + (size_t)lt[i]];
        }
        out->cash[t] = cash;
        out->gross[t] = gross;
        out->equity[t] = cash + gross;
    }
    /* P&L per symbol: cash flows plus what is still held at the last close */
    for (size_t k = 0; k < out->orders.n; k++) {
        double flow = out->orders.qty[k] * out->orders.price[k];
        out->pnl[out->orders.sym[k]] += (out->orders.sell[k] ? flow : -flow) - out->orders.cost[k];
    }
    for (size_t i = 0; i < N; i++) {
        int32_t b = panel_last(p, T - 1, i);
        if (q[i] != 0 && b >= 0) out->pnl[i] += q[i] * m->close[m->offset[i] + (size_t)b];
    }
    free(s_prev);
    free(held);
    free(sells);
    free(buys);
    hooks_progress(hooks, "simulate", 1.0);
    return 0;
}

void sim_result_free(tb_sim_result *r)
{
    if (!r) return;
    free(r->equity);
    free(r->cash);
    free(r->gross);
    free(r->final_q);
    free(r->pnl);
    free(r->orders.t);
    free(r->orders.sym);
    free(r->orders.sell);
    free(r->orders.qty);
    free(r->orders.price);
    free(r->orders.cost);
    memset(r, 0, sizeof *r);
}
