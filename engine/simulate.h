/* simulate.h — the SPEC §4 portfolio simulation: targets at each close,
 * orders at the next open, sells before buys, cash-limited buys scaled by
 * one common factor, equity marked at every close. Fractional shares,
 * long-only, no leverage. Owns its result arrays (struct-of-arrays). */
#ifndef TB_SIMULATE_H
#define TB_SIMULATE_H
#include <stddef.h>
#include <stdint.h>

#include "costs.h"
#include "hooks.h"
#include "market.h"
#include "panel.h"
#include "tb_error.h"

typedef struct tb_sim_config {
    double start_capital;  /* default 10000 */
    double max_weight;     /* default 0.10 */
    double rebalance_band; /* default 0.02 */
    tb_costs costs;
} tb_sim_config;

typedef struct tb_orders {
    size_t n, cap;
    uint32_t *t;       /* panel index of execution */
    uint32_t *sym;     /* symbol index */
    uint8_t *sell;     /* 1 SELL, 0 BUY */
    double *qty;       /* > 0 */
    double *price;     /* execution open */
    double *cost;      /* currency */
} tb_orders;

typedef struct tb_sim_result {
    size_t T, N;
    double *equity;    /* T: E_t at the close */
    double *cash;      /* T */
    double *gross;     /* T: sum q*C */
    double *final_q;   /* N: shares held after the last bar */
    double *pnl;       /* N: P&L per symbol (sells - buys - costs + final value) */
    tb_orders orders;  /* in execution order: by t, sells before buys, then symbol */
    double traded_notional; /* sum |dq * price| */
    double total_costs;
} tb_sim_result;

void sim_config_defaults(tb_sim_config *c);
/* Validate the configuration; errors name the field (capital, max_weight, ...). */
int sim_config_validate(const tb_sim_config *c, tb_error *err);

/* Run the simulation. sig holds per-bar signals in market layout. The panel
 * may be compact (panel_build_compact). */
int simulate(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_config *cfg,
             const tb_hooks *hooks, tb_sim_result *out, tb_error *err);
/* A run's signals as their changes instead of one byte per bar (what a
 * sweep produces for many members at once): s0 the signal of every symbol
 * at panel time 0; then, symbol by symbol, its flips — the bars inside the
 * panel at panel time > 0 whose signal differs from the bar before (0 before
 * the first), ascending, with the new value. sim_signal_flips() makes them. */
typedef struct tb_sim_signals {
    const uint8_t *s0;    /* N */
    const size_t *first;  /* N + 1: symbol i's flips are first[i] .. first[i+1]-1 */
    const int32_t *bar;   /* the flip bar (index in the symbol's series) */
    const uint8_t *val;   /* the new signal */
} tb_sim_signals;

/* Symbol i's flips from its signals s (market layout, its own bars):
 * appended to bars/vals (room for panel hi - lo more), *n advanced; returns
 * its s0. */
uint8_t sim_signal_flips(const tb_panel *p, size_t i, const uint8_t *s, int32_t *bars, uint8_t *vals, size_t *n);

/* Options of simulate_with(). */
typedef struct tb_sim_opts {
    const tb_cost_table *stats; /* the cost statistics of every bar from each symbol's panel.lo - 1 on
                                   (costs.h); NULL: the run computes the ones it needs */
    const size_t *stats_offset; /* with stats: symbol i's bar k at stats->at[stats_offset[i] + k] (a table
                                   of the uncut load read by a market cut at `end`, factor_cache.h);
                                   NULL: the market's offsets */
    int threads;                /* > 1: without a table, the statistics of entries and exits are
                                   computed on a second thread while the simulation runs */
    const struct tb_sim_prices *prices; /* time-major prices of the whole panel (below), or NULL: the run
                                   fills a small block of rows as it goes */
    const tb_sim_signals *signals; /* the signals as flips; then sig is not read (may be NULL) */
    int no_orders;              /* 1: keep no order list (orders.n still counts them; pnl stays 0) —
                                   for callers that need the metrics only */
} tb_sim_opts;

/* The prices a simulation reads at every (panel time, symbol), time-major
 * (T*N, row t contiguous): built once for runs that share a panel (sweeps),
 * they turn the per-step gathers from N separate series into one row. */
typedef struct tb_sim_prices {
    double *at_open;   /* the open of a symbol with a bar at t, else its last close (NaN before its first bar) */
    double *at_close;  /* its last close at t (NaN before its first bar) */
    uint64_t *has;     /* T rows of (N + 63) / 64 words: bit i of row t set when symbol i has a bar at t */
} tb_sim_prices;

/* Build / free the time-major prices of (m, p). */
void sim_prices_build(const tb_market *m, const tb_panel *p, tb_sim_prices *out);
void sim_prices_free(tb_sim_prices *pr);

/* simulate() with options (opt may be NULL). Reads m, sig, p and the table
 * only, so any number of runs may share them from several threads. The
 * results are identical whatever the options. */
int simulate_with(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_config *cfg,
                  const tb_sim_opts *opt, const tb_hooks *hooks, tb_sim_result *out, tb_error *err);
void sim_result_free(tb_sim_result *r);

/* SPEC §4.1 buy scaling: the largest double k in [0, 1) with
 * k*lin + k^1.5*imp <= cash (0 when cash <= 0), lin = the buys' notional plus
 * linear costs at k = 1, imp = their impact costs at k = 1. sim_buys_scale
 * is the fast form the simulation uses; sim_buys_scale_bisect the plain
 * bisection it must agree with to the last bit (kept for tests). */
double sim_buys_scale(double lin, double imp, double cash);
double sim_buys_scale_bisect(double lin, double imp, double cash);

/* Signal of symbol i at panel time t (carried from its last bar; 0 before its first). */
static inline int sim_signal_at(const tb_market *m, const uint8_t *sig, const tb_panel *p, size_t t, size_t i)
{
    int32_t b = panel_last(p, t, i);
    return b >= 0 ? sig[m->offset[i] + (size_t)b] : 0;
}

#endif
