/* cmd_bench.c — `tradebench bench`: the engine benchmark (BACKTEST_MEDIUM:
 * trend_baseline, 200 symbols, all bars, default costs). For each data set
 * (the public CSV set when present, and synthetic 200 x 2520) it runs the
 * pipeline N times in this process and prints the median of each stage,
 * engine time after load, and peak RSS. Figures, not pass/fail: goals live
 * in docs/PERFORMANCE.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "backtest.h"
#include "commands.h"
#include "runinfo.h"

static const cli_flag bench_flags[] = {
    {"data", 1, 0}, {"iterations", 1, 0}, {"symbols", 1, 0}, {NULL, 0, 0},
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

static double stage_ms(const tb_backtest *bt, const char *name)
{
    for (size_t i = 0; i < bt->stages.n; i++)
        if (!strcmp(bt->stages.s[i].name, name)) return bt->stages.s[i].wall_s * 1e3;
    return 0;
}

/* One data set: print a table row of medians. */
static int bench_one(const char *label, const char *data, size_t n_symbols, size_t iters)
{
    enum { LOAD, SIG, PANEL, SIM, MET, ENGINE, TOTAL, K };
    double *v[K];
    for (int k = 0; k < K; k++) v[k] = calloc(iters, sizeof(double));
    tb_error err = {0};
    size_t orders = 0;
    for (size_t it = 0; it < iters; it++) {
        tb_backtest_config c;
        backtest_config_defaults(&c);
        c.source.data = data;
        c.n_symbols = n_symbols;
        tb_backtest bt;
        double t0 = stage_now();
        if (backtest_run(&c, NULL, &bt, &err)) {
            for (int k = 0; k < K; k++) free(v[k]);
            return cli_report(&err);
        }
        v[TOTAL][it] = (stage_now() - t0) * 1e3;
        v[LOAD][it] = stage_ms(&bt, "load_data");
        v[SIG][it] = stage_ms(&bt, "signals");
        v[PANEL][it] = stage_ms(&bt, "panel");
        v[SIM][it] = stage_ms(&bt, "simulate");
        v[MET][it] = stage_ms(&bt, "metrics");
        v[ENGINE][it] = v[SIG][it] + v[PANEL][it] + v[SIM][it] + v[MET][it];
        orders = bt.sim.orders.n;
        backtest_free(&bt);
    }
    double med[K];
    for (int k = 0; k < K; k++) {
        med[k] = median(v[k], iters);
        free(v[k]);
    }
    printf("| %s | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** | %.2f | %zu |\n", label, n_symbols, med[LOAD],
           med[SIG], med[PANEL], med[SIM], med[MET], med[ENGINE], med[TOTAL], orders);
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    tb_error err = {0};
    cli_args a;
    size_t iters = 7, n = 200;
    if (cli_parse(argc, argv, bench_flags, &a, &err) || cli_get_size(&a, "iterations", &iters, &err) ||
        cli_get_size(&a, "symbols", &n, &err))
        return cli_report(&err);
    const char *real = cli_get(&a, "data");
    if (!real) real = "../shared/data/ohlcv_1d";
    printf("BACKTEST_MEDIUM engine benchmark: trend_baseline, %zu symbols, median of %zu runs (ms)\n\n", n, iters);
    printf("| data | symbols | load | indicators+signals | panel | simulate | metrics | engine after load | total | "
           "orders |\n|---|---|---|---|---|---|---|---|---|---|\n");
    struct stat st;
    int rc = 0;
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) rc |= bench_one(real, real, n, iters);
    else printf("| %s | - | skipped: directory not found | | | | | | | |\n", real);
    rc |= bench_one("synthetic 2520 bars", "synthetic", n, iters);
    cli_clock clk = {0};
    double wall, cpu;
    long rss;
    cli_clock_read(&clk, &wall, &cpu, &rss);
    printf("\npeak RSS of the benchmark process: %.1f MiB\n", (double)rss / 1024.0);
    return rc;
}
