/* bench_ref.h — the reference implementation `tradebench bench` measures
 * the engine against (see bench_ref.c): BACKTEST_MEDIUM's engine work done
 * the previous phase's way, on an already loaded market. */
#ifndef TB_CLI_BENCH_REF_H
#define TB_CLI_BENCH_REF_H
#include "backtest.h"

typedef struct bench_ref_result {
    tb_sim_result sim;   /* owned */
    tb_metrics metrics;
    double signals_s, panel_s, simulate_s, metrics_s; /* wall seconds per stage */
} bench_ref_result;

/* Signals, panel, simulation and metrics of c (trend_baseline only) over m
 * (loaded and cut at c->end). 0, or -1 with err. */
int bench_reference_run(const tb_backtest_config *c, const tb_market *m, bench_ref_result *out, tb_error *err);
void bench_reference_free(bench_ref_result *r);

#endif
