/* cmd_bench.c — `tradebench bench`: the engine benchmark (BACKTEST_MEDIUM:
 * trend_baseline, 200 symbols, all bars, default costs). For each data set
 * (the public CSV set when present, and synthetic 200 x 2520) it runs the
 * pipeline N times in this process and prints the median of each stage,
 * engine time after load, and peak RSS; then, in the same run, the previous
 * phase's implementation (bench_ref.c) on the same loaded data, its runs
 * alternated with the engine's, with the ratio and whether both gave the
 * same bits. `--sweep` measures parameter sweeps instead: a 16-member and a
 * 200-member grid, backtests per second of the member phase and of the
 * whole sweep, against running the members one by one through
 * backtest_run() (the straightforward way), with the ratio. `--numfmt`
 * times nf_double() against the printf/strtod formatter it replaced (kept
 * below as the reference) on the numbers a BACKTEST_MEDIUM run writes, on
 * few-digit prices and on random bit patterns, alternated in one process.
 * Figures, not pass/fail: goals live in docs/PERFORMANCE.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "backtest.h"
#include "bench_ref.h"
#include "commands.h"
#include "numfmt.h"
#include "numfmt_ref.h"
#include "runinfo.h"
#include "sweep.h"
#include "xalloc.h"

static const cli_flag bench_flags[] = {
    {"data", 1, 0}, {"iterations", 1, 0}, {"symbols", 1, 0}, {"sweep", 0, 0}, {"threads", 1, 0}, {"numfmt", 0, 0},
    {NULL, 0, 0},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double stage_ms(const tb_stage_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->s[i].name, name)) return l->s[i].wall_s * 1e3;
    return 0;
}

static int same_bits(const void *a, const void *b, size_t n) { return n == 0 || !memcmp(a, b, n); }

/* The engine's and the reference's results agree to the last bit. */
static int same_results(const tb_sim_result *a, const tb_metrics *ma, const tb_sim_result *b, const tb_metrics *mb)
{
    const tb_orders *x = &a->orders, *y = &b->orders;
    return a->T == b->T && x->n == y->n && same_bits(a->equity, b->equity, a->T * sizeof(double)) &&
           same_bits(a->cash, b->cash, a->T * sizeof(double)) && same_bits(x->qty, y->qty, x->n * sizeof(double)) &&
           same_bits(x->cost, y->cost, x->n * sizeof(double)) && same_bits(x->sym, y->sym, x->n * sizeof *x->sym) &&
           same_bits(x->t, y->t, x->n * sizeof *x->t) && same_bits(ma, mb, sizeof *ma);
}

static int same_metrics(const tb_metrics *a, const tb_metrics *b) { return same_bits(a, b, sizeof *a); }

/* ---- BACKTEST_MEDIUM --------------------------------------------------------------- */

typedef struct bench_row {
    double med[8];  /* load, signals, panel, simulate, metrics, engine, total, reference engine */
    size_t orders;
    int identical;
} bench_row;

/* One data set: iters engine runs, each followed (or preceded, alternately)
 * by the reference on the run's own loaded market. */
static int bench_one(const char *data, size_t n_symbols, size_t iters, bench_row *row)
{
    enum { LOAD, SIG, PANEL, SIM, MET, ENGINE, TOTAL, REF, K };
    double *v[K];
    for (int k = 0; k < K; k++) v[k] = xcalloc(iters, sizeof(double));
    tb_error err = {0};
    int rc = 0;
    row->identical = 1;
    for (size_t it = 0; it < iters && !rc; it++) {
        tb_backtest_config c;
        backtest_config_defaults(&c);
        c.source.data = data;
        c.n_symbols = n_symbols;
        tb_backtest bt;
        double t0 = stage_now();
        if (backtest_run(&c, NULL, &bt, &err)) {
            rc = cli_report(&err);
            break;
        }
        v[TOTAL][it] = (stage_now() - t0) * 1e3;
        v[LOAD][it] = stage_ms(&bt.stages, "load_data");
        v[SIG][it] = stage_ms(&bt.stages, "signals");
        v[PANEL][it] = stage_ms(&bt.stages, "panel");
        v[SIM][it] = stage_ms(&bt.stages, "simulate");
        v[MET][it] = stage_ms(&bt.stages, "metrics");
        v[ENGINE][it] = v[SIG][it] + v[PANEL][it] + v[SIM][it] + v[MET][it];
        row->orders = bt.sim.orders.n;
        bench_ref_result ref;
        if (bench_reference_run(&c, bt.market, &ref, &err)) {
            backtest_free(&bt);
            rc = cli_report(&err);
            break;
        }
        v[REF][it] = (ref.signals_s + ref.panel_s + ref.simulate_s + ref.metrics_s) * 1e3;
        row->identical &= same_results(&bt.sim, &bt.metrics, &ref.sim, &ref.metrics);
        bench_reference_free(&ref);
        backtest_free(&bt);
    }
    for (int k = 0; k < K; k++) {
        if (!rc) row->med[k] = median(v[k], iters);
        free(v[k]);
    }
    return rc;
}

static int bench_medium(const char *real, size_t n, size_t iters)
{
    struct stat st;
    const char *sets[2] = {NULL, "synthetic"};
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) sets[0] = real;
    bench_row rows[2];
    for (int s = 0; s < 2; s++)
        if (sets[s] && bench_one(sets[s], n, iters, &rows[s])) return 1;
    printf("BACKTEST_MEDIUM engine benchmark: trend_baseline, %zu symbols, median of %zu runs (ms)\n\n", n, iters);
    printf("| data | symbols | load | indicators+signals | panel | simulate | metrics | engine after load | total | "
           "orders |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < 2; s++) {
        if (!sets[s]) {
            printf("| %s | - | skipped: directory not found | | | | | | | |\n", real);
            continue;
        }
        const double *m = rows[s].med;
        printf("| %s | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** | %.2f | %zu |\n",
               s ? "synthetic 2520 bars" : sets[s], n, m[0], m[1], m[2], m[3], m[4], m[5], m[6], rows[s].orders);
    }
    printf("\nSame runs, the previous phase's engine (cli/bench_ref.c) on each run's loaded data, alternated with the "
           "engine's:\n\n| data | previous phase, engine after load | engine after load | speed-up | identical results "
           "|\n|---|---|---|---|---|\n");
    for (int s = 0; s < 2; s++) {
        if (!sets[s]) continue;
        const double *m = rows[s].med;
        printf("| %s | %.2f | %.2f | %.2fx | %s |\n", s ? "synthetic 2520 bars" : sets[s], m[7], m[5],
               m[5] > 0 ? m[7] / m[5] : 0.0, rows[s].identical ? "yes (every bit)" : "**NO**");
    }
    return 0;
}

/* ---- sweeps ------------------------------------------------------------------------ */

typedef struct bench_grid {
    const char *label;
    const double *fast, *slow;
    size_t n_fast, n_slow;
} bench_grid;

static const double g16_fast[] = {5, 10, 20, 30}, g16_slow[] = {50, 100, 150, 200};
static const double g200_fast[] = {5, 10, 15, 20, 25, 30, 35, 40, 45, 50};
static const double g200_slow[] = {60, 70, 80, 90, 100, 110, 120, 130, 140, 150,
                                   160, 170, 180, 190, 200, 210, 220, 230, 240, 250};

static const bench_grid bench_grids[] = {
    {"16 (fast 5,10,20,30 x slow 50,100,150,200)", g16_fast, g16_slow, 4, 4},
    {"200 (fast 5..50 step 5 x slow 60..250 step 10)", g200_fast, g200_slow, 10, 20},
};

static int bench_sweeps(const char *data, size_t n, size_t iters, int threads)
{
    enum { REF_MAX = 32 }; /* members run one by one per grid, for the reference */
    printf("Parameter sweeps: trend_baseline on %s, %zu symbols, default costs; median of %zu sweeps per grid\n\n", data,
           n, iters);
    printf("| grid | members | threads | load | shared setup | members | backtests/s, members | backtests/s, whole "
           "sweep | one by one (backtest_run), backtests/s | speed-up, whole sweep | identical |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t gi = 0; gi < sizeof bench_grids / sizeof bench_grids[0]; gi++) {
        const bench_grid *bg = &bench_grids[gi];
        tb_sweep_grid g;
        memset(&g, 0, sizeof g);
        tb_error gerr = {0};
        const tb_strategy_def *def = strategy_find("trend_baseline");
        if (sweep_grid_add(&g, def, "fast", bg->fast, bg->n_fast, &gerr) ||
            sweep_grid_add(&g, def, "slow", bg->slow, bg->n_slow, &gerr))
            return cli_report(&gerr);
        tb_backtest_config c;
        backtest_config_defaults(&c);
        c.source.data = data;
        c.n_symbols = n;
        double *total = xcalloc(iters, sizeof *total), *mem = xcalloc(iters, sizeof *mem),
               *load = xcalloc(iters, sizeof *load);
        tb_sweep_result r;
        memset(&r, 0, sizeof r);
        tb_error err = {0};
        int rc = 0;
        for (size_t it = 0; it < iters && !rc; it++) {
            if (it) sweep_result_free(&r);
            double t0 = stage_now();
            rc = sweep_run(&c, &g, threads, NULL, &r, &err);
            total[it] = stage_now() - t0;
            if (!rc) {
                mem[it] = r.members_s;
                load[it] = stage_ms(&r.stages, "load_data") / 1e3;
            }
        }
        if (rc) {
            free(total), free(mem), free(load);
            sweep_grid_free(&g);
            return cli_report(&err);
        }
        double m_total = median(total, iters), m_mem = median(mem, iters), m_load = median(load, iters);
        /* the straightforward way: each member its own backtest_run(), load included */
        size_t n_ref = r.n_members < REF_MAX ? r.n_members : REF_MAX;
        int identical = 1;
        double t0 = stage_now();
        for (size_t j = 0; j < n_ref; j++) {
            tb_backtest_config cj = c;
            cj.strategy = r.members[j].params;
            tb_backtest bt;
            if (backtest_run(&cj, NULL, &bt, &err)) {
                sweep_result_free(&r);
                return cli_report(&err);
            }
            identical &= same_metrics(&bt.metrics, &r.members[j].metrics);
            backtest_free(&bt);
        }
        double ref_rate = (double)n_ref / (stage_now() - t0), whole_rate = (double)r.n_members / m_total;
        printf("| %s | %zu | %d | %.1f ms | %.1f ms | %.1f ms | **%.0f** | **%.0f** | %.0f%s | %.1fx | %s |\n",
               bench_grids[gi].label, r.n_members, r.threads, m_load * 1e3, (m_total - m_load - m_mem) * 1e3, m_mem * 1e3,
               (double)r.n_members / m_mem, whole_rate, ref_rate, n_ref < r.n_members ? " (first 32)" : "",
               whole_rate / ref_rate, identical ? "yes" : "**NO**");
        free(total), free(mem), free(load);
        sweep_result_free(&r);
        sweep_grid_free(&g);
    }
    printf("\nshared setup = panel and benchmark, cost-statistics table, time-major prices, indicator arrays; "
           "identical = every member compared has the metrics of its own backtest_run(), bit for bit\n");
    return 0;
}

/* ---- number formatting (--numfmt) ------------------------------------------------ */

typedef int (*bench_fmt_fn)(char *buf, double x);

/* Seconds to format v[0..n); the bytes written go to *bytes so the loop stays. */
static double bench_fmt_pass(bench_fmt_fn fn, const double *v, size_t n, size_t *bytes)
{
    char b[40];
    size_t total = 0;
    double t0 = stage_now();
    for (size_t i = 0; i < n; i++) total += (size_t)fn(b, v[i]);
    double dt = stage_now() - t0;
    *bytes += total;
    return dt;
}

static uint64_t bench_rng(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The numbers art_write_orders() and art_write_equity() write for one run,
 * repeated up to n values (new array, caller frees). */
static double *bench_artifact_values(const char *data, size_t n_symbols, size_t n, size_t *distinct, tb_error *err)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = data;
    c.n_symbols = n_symbols;
    tb_backtest bt;
    if (backtest_run(&c, NULL, &bt, err)) return NULL;
    const tb_orders *o = &bt.sim.orders;
    const tb_sim_result *r = &bt.sim;
    size_t m = 4 * o->n + 5 * r->T, k = 0;
    double *one = xcalloc(m ? m : 1, sizeof *one);
    for (size_t j = 0; j < o->n; j++) {
        one[k++] = o->qty[j];
        one[k++] = o->price[j];
        one[k++] = o->qty[j] * o->price[j];
        one[k++] = o->cost[j];
    }
    double peak = r->T ? r->equity[0] : 0;
    for (size_t t = 0; t < r->T; t++) {
        double e = r->equity[t];
        if (e > peak) peak = e;
        one[k++] = e;
        one[k++] = r->cash[t];
        one[k++] = r->gross[t] / e;
        one[k++] = 1 - e / peak;
        if (t) one[k++] = e / r->equity[t - 1] - 1;
    }
    backtest_free(&bt);
    double *v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = k ? one[i % k] : 0;
    free(one);
    *distinct = k;
    return v;
}

static int bench_numfmt(const char *data, size_t n_symbols, size_t iters)
{
    enum { SETS = 3, N_BIG = 1000000, N_RANDOM = 250000 };
    tb_error err = {0};
    struct stat st;
    const char *src = stat(data, &st) == 0 && S_ISDIR(st.st_mode) ? data : "synthetic";
    size_t distinct = 0;
    double *v[SETS] = {bench_artifact_values(src, n_symbols, N_BIG, &distinct, &err), NULL, NULL};
    if (!v[0]) return cli_report(&err);
    size_t n[SETS] = {N_BIG, N_BIG, N_RANDOM};
    v[1] = xcalloc(N_BIG, sizeof(double));
    v[2] = xcalloc(N_RANDOM, sizeof(double));
    uint64_t seed = 42;
    for (size_t i = 0; i < N_BIG; i++) v[1][i] = (double)((int64_t)(bench_rng(&seed) % 200000001) - 100000000) / 100;
    for (size_t i = 0; i < N_RANDOM; i++) {
        double x;
        do {
            uint64_t b = bench_rng(&seed);
            memcpy(&x, &b, sizeof x);
        } while (!isfinite(x));
        v[2][i] = x;
    }
    char label0[160];
    snprintf(label0, sizeof label0, "BACKTEST_MEDIUM artifact numbers (%zu from orders and equity on %s, repeated)",
             distinct, src);
    const char *label[SETS] = {label0, "prices k/100, abs < 1e6", "random bit patterns (finite)"};
    printf("nf_double() against the printf/strtod formatter it replaced, median of %zu alternated passes\n\n", iters);
    printf("| values | count | old, ns/value | new, ns/value | speed-up | texts that differ |\n"
           "|---|---|---|---|---|---|\n");
    double *t_old = xcalloc(iters, sizeof(double)), *t_new = xcalloc(iters, sizeof(double));
    for (int s = 0; s < SETS; s++) {
        size_t bytes = 0, differ = 0;
        for (size_t it = 0; it < iters; it++) {
            if (it % 2) {
                t_new[it] = bench_fmt_pass(nf_double, v[s], n[s], &bytes);
                t_old[it] = bench_fmt_pass(nf_double_ref, v[s], n[s], &bytes);
            } else {
                t_old[it] = bench_fmt_pass(nf_double_ref, v[s], n[s], &bytes);
                t_new[it] = bench_fmt_pass(nf_double, v[s], n[s], &bytes);
            }
        }
        for (size_t i = 0; i < n[s]; i++) {
            char a[40], b[40];
            nf_double_ref(a, v[s][i]);
            nf_double(b, v[s][i]);
            differ += strcmp(a, b) != 0;
        }
        double mo = median(t_old, iters) * 1e9 / (double)n[s], mn = median(t_new, iters) * 1e9 / (double)n[s];
        printf("| %s | %zu | %.1f | **%.1f** | %.1fx | %zu |\n", label[s], n[s], mo, mn, mn > 0 ? mo / mn : 0.0,
               differ);
        (void)bytes;
    }
    free(t_old), free(t_new);
    for (int s = 0; s < SETS; s++) free(v[s]);
    printf("\ntexts that differ: the same double, fewer digits (numfmt.h: some powers of two, subnormals)\n");
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    tb_error err = {0};
    cli_args a;
    size_t iters = 7, n = 200, threads = 0;
    if (cli_parse(argc, argv, bench_flags, &a, &err) || cli_get_size(&a, "iterations", &iters, &err) ||
        cli_get_size(&a, "symbols", &n, &err) || cli_get_size(&a, "threads", &threads, &err))
        return cli_report(&err);
    if (iters < 1) iters = 1;
    const char *real = cli_get(&a, "data");
    if (!real) real = "../shared/data/ohlcv_1d";
    int rc;
    if (cli_has(&a, "numfmt")) {
        rc = bench_numfmt(real, n, iters);
    } else if (cli_has(&a, "sweep")) {
        struct stat st;
        rc = bench_sweeps(stat(real, &st) == 0 && S_ISDIR(st.st_mode) ? real : "synthetic", n, iters, (int)threads);
    } else {
        rc = bench_medium(real, n, iters);
    }
    cli_clock clk = {0};
    double wall, cpu;
    long rss;
    cli_clock_read(&clk, &wall, &cpu, &rss);
    printf("\npeak RSS of the benchmark process: %.1f MiB\n", (double)rss / 1024.0);
    return rc;
}
