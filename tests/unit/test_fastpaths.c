/* test_fastpaths.c — the engine's fast paths give the very same doubles as
 * the plain definitions they replace: the compact panel answers every cell
 * as the T*N matrix does; cost statistics from a table or a flip list equal
 * costs_stats_at() bit for bit; the simulation is identical with per-order
 * statistics, a second thread, or a table; the Newton buy scaling equals the
 * bisection; the symbol-major benchmark equals the time-major sum; two or
 * four EMAs in one pass (ind_ema2, ind_ema4: the sweeps' indicator arrays)
 * equal ind_ema. Markets
 * with gaps, late starts and early ends (random, seeded) exercise the
 * per-symbol cursors; the public real data, when present, the common case. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backtest.h"
#include "costs.h"
#include "csv_reader.h"
#include "indicators.h"
#include "metrics.h"
#include "panel.h"
#include "simulate.h"
#include "strategy.h"
#include "xalloc.h"

#define DAY0 19723 /* 2024-01-01 in days since the epoch */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

/* n_sym symbols over a calendar of n_days: each starts and ends at a random
 * day and skips about one day in `gap_every` (0: none); a random walk with
 * consistent OHLC and random volume. */
static tb_market *gappy_market(uint64_t seed, size_t n_sym, int n_days, int gap_every)
{
    uint64_t s = seed * 2654435761u + 1;
    tb_market *m = market_new(TB_FREQ_1D, n_sym, n_sym * (size_t)n_days);
    for (size_t i = 0; i < n_sym; i++) {
        char name[32];
        snprintf(name, sizeof name, "G%03u", (unsigned)i);
        market_add_symbol(m, name);
        int d0 = (int)(rng_next(&s) % (uint64_t)(n_days / 3)), d1 = n_days - (int)(rng_next(&s) % (uint64_t)(n_days / 4));
        if (i % 3 == 0) d0 = 0, d1 = n_days; /* some full calendars: the common case */
        double c = 50 + 50 * rng_unit(&s);
        for (int d = d0; d < d1; d++) {
            if (gap_every && i % 3 && rng_next(&s) % (uint64_t)gap_every == 0) continue;
            double o = c * (1 + 0.02 * (rng_unit(&s) - 0.5));
            c = o * (1 + 0.04 * (rng_unit(&s) - 0.5));
            double h = fmax(o, c) * (1 + 0.01 * rng_unit(&s)), l = fmin(o, c) * (1 - 0.01 * rng_unit(&s));
            market_push_bar(m, (int64_t)(DAY0 + d) * 86400, o, h, l, c, 1000 + 100000 * rng_unit(&s));
        }
    }
    market_finish(m);
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

static int same_bits(double a, double b) { return !memcmp(&a, &b, sizeof a); }

static int same_stats(tb_cost_stats a, tb_cost_stats b)
{
    return same_bits(a.spread_bps, b.spread_bps) && same_bits(a.vol, b.vol) && same_bits(a.adv, b.adv);
}

/* ================================================================ panel */

static void check_panel(const tb_market *m, int64_t start, int64_t end, size_t last_bars)
{
    tb_error err = {0};
    tb_panel a, b;
    cr_assert_eq(panel_build(m, start, end, last_bars, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(panel_build_compact(m, start, end, last_bars, &b, &err), 0, "%s", err.msg);
    cr_assert(b.last == NULL && b.has == NULL);
    cr_assert_eq(a.T, b.T);
    cr_assert(!memcmp(a.ts, b.ts, a.T * sizeof *a.ts));
    for (size_t t = 0; t < a.T; t++)
        for (size_t i = 0; i < a.N; i++) {
            cr_assert_eq(panel_last(&b, t, i), a.last[t * a.N + i], "last(%zu, %zu)", t, i);
            cr_assert_eq(panel_has(&b, t, i), a.has[t * a.N + i], "has(%zu, %zu)", t, i);
        }
    /* every inside bar's panel time is where the matrix says the bar is */
    for (size_t i = 0; i < a.N; i++)
        for (int32_t k = b.lo[i]; k < b.hi[i]; k++) {
            int32_t t = panel_bar_time(&b, i, k - b.lo[i]);
            cr_assert(a.has[(size_t)t * a.N + i] && a.last[(size_t)t * a.N + i] == k, "bar %d of %zu", k, i);
        }
    panel_free(&a);
    panel_free(&b);
}

Test(fastpaths, compact_panel_equals_matrix)
{
    tb_market *m = gappy_market(1, 23, 300, 5);
    check_panel(m, INT64_MIN, INT64_MAX, 0);
    check_panel(m, (int64_t)(DAY0 + 40) * 86400, (int64_t)(DAY0 + 250) * 86400, 0);
    check_panel(m, INT64_MIN, INT64_MAX, 37);
    check_panel(m, (int64_t)(DAY0 + 290) * 86400, INT64_MAX, 0); /* symbols that ended before the range */
    market_free(m);
}

/* ================================================================ cost statistics */

Test(fastpaths, cost_table_and_list_equal_stats_at)
{
    tb_market *m = gappy_market(2, 6, 400, 0);
    double *scratch = xmalloc(3 * 400 * sizeof(double));
    for (size_t i = 0; i < m->n_symbols; i++) {
        size_t o = m->offset[i], n = market_len(m, i);
        const double *h = m->high + o, *l = m->low + o, *c = m->close + o, *v = m->volume + o;
        tb_cost_stats *tab = xmalloc(n * sizeof *tab);
        size_t from = i % 2 ? 0 : n / 3;
        costs_table_fill(h, l, c, v, n, from, tab + 0, scratch);
        for (size_t t = from; t < n; t++)
            cr_assert(same_stats(tab[t], costs_stats_at(h, l, c, v, (long)t)), "table, symbol %zu bar %zu", i, t);
        /* a list with repeats, neighbours, overlapping and distant windows */
        int32_t bars[64];
        size_t nb = 0;
        for (int32_t k = 0; k < (int32_t)n && nb < 64; k += 1 + (int32_t)((k * 7 + (int32_t)i) % 23)) {
            bars[nb++] = k;
            if (k % 5 == 0 && nb < 64) bars[nb++] = k;
        }
        tb_cost_stats out[64];
        costs_stats_list(h, l, c, v, n, bars, nb, out, scratch);
        for (size_t j = 0; j < nb; j++)
            cr_assert(same_stats(out[j], costs_stats_at(h, l, c, v, bars[j])), "list, symbol %zu bar %d", i, bars[j]);
        free(tab);
    }
    free(scratch);
    market_free(m);
}

/* ================================================================ buy scaling */

Test(fastpaths, newton_buy_scale_equals_bisection)
{
    uint64_t s = 99;
    for (int it = 0; it < 200000; it++) {
        double lin = pow(10, 6 * rng_unit(&s) - 1) * (1 + rng_unit(&s));
        double imp = (it % 7 == 0) ? 0 : lin * pow(10, -4 * rng_unit(&s));
        double spend1 = lin + imp;
        double cash = spend1 * (it % 11 == 0 ? pow(10, -15 * rng_unit(&s)) : rng_unit(&s));
        if (it % 13 == 0) cash = spend1 * (1 - pow(2, -50 * rng_unit(&s)));
        double a = sim_buys_scale(lin, imp, cash), b = sim_buys_scale_bisect(lin, imp, cash);
        cr_assert(same_bits(a, b), "lin %.17g imp %.17g cash %.17g: %.17g vs %.17g", lin, imp, cash, a, b);
    }
    cr_assert(sim_buys_scale(100, 1, 0) == 0 && sim_buys_scale(100, 1, -5) == 0);
    cr_assert(same_bits(sim_buys_scale(100, 1, 1e-300), sim_buys_scale_bisect(100, 1, 1e-300)));
    cr_assert(same_bits(sim_buys_scale(100, 1, 1e300), sim_buys_scale_bisect(100, 1, 1e300)));
}

/* ================================================================ simulation */

static void expect_same_result(const tb_sim_result *a, const tb_sim_result *b, const char *what)
{
    cr_assert_eq(a->T, b->T);
    cr_assert(!memcmp(a->equity, b->equity, a->T * sizeof(double)), "%s: equity", what);
    cr_assert(!memcmp(a->cash, b->cash, a->T * sizeof(double)), "%s: cash", what);
    cr_assert(!memcmp(a->gross, b->gross, a->T * sizeof(double)), "%s: gross", what);
    cr_assert(!memcmp(a->pnl, b->pnl, a->N * sizeof(double)), "%s: pnl", what);
    cr_assert_eq(a->orders.n, b->orders.n, "%s: %zu vs %zu orders", what, a->orders.n, b->orders.n);
    size_t n = a->orders.n;
    cr_assert(!memcmp(a->orders.t, b->orders.t, n * sizeof *a->orders.t), "%s: order times", what);
    cr_assert(!memcmp(a->orders.sym, b->orders.sym, n * sizeof *a->orders.sym), "%s: order symbols", what);
    cr_assert(!memcmp(a->orders.qty, b->orders.qty, n * sizeof(double)), "%s: quantities", what);
    cr_assert(!memcmp(a->orders.cost, b->orders.cost, n * sizeof(double)), "%s: costs", what);
    cr_assert(same_bits(a->traded_notional, b->traded_notional) && same_bits(a->total_costs, b->total_costs));
}

/* The time-major reference of metrics_benchmark (SPEC §5 as written). */
static void bench_reference(const tb_market *m, const tb_panel *p, double *b)
{
    b[0] = NAN;
    for (size_t t = 1; t < p->T; t++) {
        double s = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < p->N; i++) {
            int32_t k = panel_last(p, t, i);
            if (!panel_has(p, t, i) || k < 1) continue;
            const double *c = m->close + m->offset[i];
            s += c[k] / c[k - 1] - 1;
            cnt++;
        }
        b[t] = cnt ? s / (double)cnt : 0;
    }
}

static void check_sim_variants(const tb_market *m, const char *strategy, double fast, double slow, size_t last_bars,
                               double capital)
{
    tb_error err = {0};
    tb_strategy_params sp;
    strategy_params_defaults(strategy_find(strategy), &sp);
    if (fast > 0) {
        cr_assert_eq(strategy_params_set_num(&sp, "fast", fast, &err), 0);
        cr_assert_eq(strategy_params_set_num(&sp, "slow", slow, &err), 0);
    }
    uint8_t *sig = xmalloc(m->n_bars);
    strategy_signals(&sp, m, sig);
    tb_panel p, pm;
    cr_assert_eq(panel_build_compact(m, INT64_MIN, INT64_MAX, last_bars, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(panel_build(m, INT64_MIN, INT64_MAX, last_bars, &pm, &err), 0, "%s", err.msg);
    tb_sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.start_capital = capital;
    tb_cost_table tab = {xmalloc(m->n_bars * sizeof(tb_cost_stats))};
    double *scratch = xmalloc(3 * (m->n_bars + 1) * sizeof(double));
    for (size_t i = 0; i < m->n_symbols; i++) {
        size_t o = m->offset[i], lo = (size_t)p.lo[i];
        costs_table_fill(m->high + o, m->low + o, m->close + o, m->volume + o, market_len(m, i), lo ? lo - 1 : 0,
                         tab.at + o, scratch);
    }
    tb_sim_prices prices;
    sim_prices_build(m, &p, &prices);
    tb_sim_result r1, r2, r3, r4, r5;
    tb_sim_opts two = {.threads = 2}, table = {.stats = &tab, .threads = 1},
                shared = {.stats = &tab, .threads = 1, .prices = &prices};
    cr_assert_eq(simulate(m, sig, &p, &cfg, NULL, &r1, &err), 0, "%s", err.msg);
    cr_assert_eq(simulate_with(m, sig, &p, &cfg, &two, NULL, &r2, &err), 0, "%s", err.msg);
    cr_assert_eq(simulate_with(m, sig, &p, &cfg, &table, NULL, &r3, &err), 0, "%s", err.msg);
    cr_assert_eq(simulate(m, sig, &pm, &cfg, NULL, &r4, &err), 0, "%s", err.msg);
    cr_assert_eq(simulate_with(m, sig, &p, &cfg, &shared, NULL, &r5, &err), 0, "%s", err.msg);
    cr_assert(r1.orders.n > 0, "the test needs orders");
    expect_same_result(&r1, &r2, "two threads");
    expect_same_result(&r1, &r3, "table");
    expect_same_result(&r1, &r4, "matrix panel");
    expect_same_result(&r1, &r5, "table and time-major prices");
    double *b1 = xmalloc(p.T * sizeof(double)), *b2 = xmalloc(p.T * sizeof(double));
    metrics_benchmark(m, &p, b1);
    bench_reference(m, &pm, b2);
    cr_assert(!memcmp(b1, b2, p.T * sizeof(double)), "benchmark");
    free(b1), free(b2);
    sim_result_free(&r1), sim_result_free(&r2), sim_result_free(&r3), sim_result_free(&r4), sim_result_free(&r5);
    sim_prices_free(&prices);
    free(tab.at), free(scratch), free(sig);
    panel_free(&p), panel_free(&pm);
}

Test(fastpaths, simulation_variants_identical_with_gaps)
{
    tb_market *m = gappy_market(3, 150, 700, 9);
    check_sim_variants(m, "trend_baseline", 3, 9, 0, 10000);     /* many flips, tight cash */
    check_sim_variants(m, "trend_baseline", 5, 30, 0, 1e7);
    check_sim_variants(m, "trend_baseline", 4, 11, 250, 10000);  /* last bars: warm-up signals */
    check_sim_variants(m, "ema_trend", 0, 0, 0, 10000);
    check_sim_variants(m, "buy_and_hold", 0, 0, 300, 10000);
    market_free(m);
}

Test(fastpaths, simulation_variants_identical_real_data)
{
    tb_market *m = real_market(120);
    if (!m) cr_skip_test("../shared data not present");
    check_sim_variants(m, "trend_baseline", 0, 0, 0, 10000);
    check_sim_variants(m, "ema_trend", 0, 0, 504, 10000);
    market_free(m);
}

/* ================================================================ signals */

/* Every strategy's signal from cached indicator arrays, and as the
 * comparison sweeps read, equals its own signal function (the fused loops),
 * on every bar. */
Test(fastpaths, signal_from_inputs_equals_signal)
{
    tb_market *m = gappy_market(4, 12, 500, 7);
    const struct {
        const char *name;
        double p[3];
    } cases[] = {
        {"trend_baseline", {20, 50, 0}}, {"trend_baseline", {1, 2, 0}}, {"trend_baseline", {30, 400, 0}},
        {"trend_baseline", {5, 600, 0}}, {"ema_trend", {50, 14, 0.5}},  {"ema_trend", {3, 40, -1.5}},
        {"ema_trend", {100, 1, 2}},      {"ema_trend", {700, 3, 0}},
    };
    uint8_t *a = xmalloc(m->n_bars), *b = xmalloc(m->n_bars);
    double *in_data = xmalloc(TB_MAX_INPUTS * 500 * sizeof(double));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tb_strategy_params sp;
        strategy_params_defaults(strategy_find(cases[c].name), &sp);
        for (size_t k = 0; k < sp.def->n_params; k++) sp.v[k] = cases[c].p[k];
        strategy_signals(&sp, m, a);
        ind_key keys[TB_MAX_INPUTS];
        size_t nk = sp.def->inputs(sp.v, keys);
        for (size_t i = 0; i < m->n_symbols; i++) {
            tb_series s = market_series(m, i);
            const double *in[TB_MAX_INPUTS];
            for (size_t k = 0; k < nk; k++) {
                ind_compute(keys[k], s.high, s.low, s.close, s.n, in_data + k * 500);
                in[k] = in_data + k * 500;
            }
            sp.def->signal_from(sp.v, &s, in, b + m->offset[i]);
            /* and as the comparison sweeps use */
            const double *left, *right;
            double tmp[500];
            sp.def->compare_from(sp.v, &s, in, tmp, &left, &right);
            for (size_t t = 0; t < s.n; t++)
                cr_assert_eq(left[t] > right[t], b[m->offset[i] + t], "%s case %zu: compare_from at %zu", cases[c].name,
                             c, t);
        }
        cr_assert(!memcmp(a, b, m->n_bars), "%s case %zu", cases[c].name, c);
    }
    free(a), free(b), free(in_data);
    market_free(m);
}

/* ind_ema2 and ind_ema4 against ind_ema, every value bit for bit (NaN
 * warm-ups included): periods in any order, equal, 1, longer than the
 * series, a series shorter than all, an empty one; random walks and the
 * real closes. */
static void check_ema_group(const double *x, size_t len, const int *n, size_t k, const char *what)
{
    size_t cap = len ? len : 1;
    double *want[4], *got[4];
    for (size_t q = 0; q < k; q++) {
        want[q] = xmalloc(cap * sizeof(double));
        got[q] = xmalloc(cap * sizeof(double));
        for (size_t t = 0; t < len; t++) got[q][t] = 12345.0; /* every value must be written */
        ind_ema(x, len, n[q], want[q]);
    }
    if (k == 2) ind_ema2(x, len, n[0], n[1], got[0], got[1]);
    else ind_ema4(x, len, n, got);
    for (size_t q = 0; q < k; q++) {
        for (size_t t = 0; t < len; t++)
            cr_assert(same_bits(want[q][t], got[q][t]), "%s len %zu EMA(%d), #%zu of %zu (%d, %d%s) at %zu: %.17g vs %.17g",
                      what, len, n[q], q, k, n[0], n[1], k == 4 ? ", ..." : "", t, want[q][t], got[q][t]);
        free(want[q]), free(got[q]);
    }
}

static void check_ema2(const double *x, size_t len, int n1, int n2, const char *what)
{
    const int n[2] = {n1, n2};
    check_ema_group(x, len, n, 2, what);
}

Test(fastpaths, paired_emas_equal_single_emas)
{
    uint64_t s = 77;
    double x[700];
    double c = 100;
    for (size_t t = 0; t < 700; t++) x[t] = c *= 1 + 0.04 * (rng_unit(&s) - 0.5);
    const int periods[][2] = {{5, 50},  {50, 5},  {20, 20},  {1, 2},   {1, 1},     {2, 1},   {10, 699},
                              {10, 700}, {10, 701}, {699, 700}, {700, 701}, {701, 900}, {3, 250}};
    const size_t lens[] = {0, 1, 2, 9, 10, 11, 49, 50, 51, 300, 699, 700};
    for (size_t p = 0; p < sizeof periods / sizeof periods[0]; p++)
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
            check_ema2(x, lens[l], periods[p][0], periods[p][1], "random walk");
    for (int n1 = 1; n1 <= 40; n1 += 3)
        for (int n2 = 1; n2 <= 60; n2 += 7) check_ema2(x, 120, n1, n2, "grid");
    const int fours[][4] = {{5, 10, 20, 30}, {200, 50, 150, 100}, {20, 20, 20, 20}, {1, 1, 2, 3},  {9, 1, 700, 30},
                            {3, 701, 10, 2}, {699, 700, 698, 697}, {0, 5, 10, 20}, {30, 5, 12, 7}};
    for (size_t p = 0; p < sizeof fours / sizeof fours[0]; p++)
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) check_ema_group(x, lens[l], fours[p], 4, "four");
    /* the real data: the 16-member sweep's periods, in the pairs a sweep forms */
    tb_market *m = real_market(5);
    if (m) {
        const int grid[] = {5, 10, 20, 30, 50, 100, 150, 200};
        for (size_t i = 0; i < m->n_symbols; i++) {
            tb_series sr = market_series(m, i);
            for (size_t k = 0; k + 1 < 8; k++) check_ema2(sr.close, sr.n, grid[k], grid[k + 1], m->symbols[i]);
            for (size_t k = 0; k + 3 < 8; k++) check_ema_group(sr.close, sr.n, grid + k, 4, m->symbols[i]);
        }
        market_free(m);
    }
}
