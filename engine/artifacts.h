/* artifacts.h — rendering a finished backtest into the SPEC §8 files:
 * orders_<f>.csv, equity_curve_<f>.csv, metrics.json, targets_<f>.csv and
 * performance_report_<f>.md. Writers take a FILE* so the same code writes
 * files for the CLI and streams for the server. Numbers use nf_double
 * (shortest round-trip). Nothing here computes results; it only formats them. */
#ifndef TB_ARTIFACTS_H
#define TB_ARTIFACTS_H
#include <stdio.h>

#include "backtest.h"

/* What the report says about the run itself (beyond the backtest). */
typedef struct tb_report_info {
    const char *run_id;       /* "cli" for command-line runs */
    const char *job;          /* EOD_SMALL, BACKTEST_MEDIUM, or "backtest" */
    double runtime_s;         /* wall seconds of the whole run */
    double cpu_s;             /* CPU seconds (user + system) */
    long peak_rss_kb;         /* peak resident set, KiB */
} tb_report_info;

/* Order indices in artifact order (ts, sells before buys, symbol name): a new
 * array of bt->sim.orders.n entries, caller frees. */
size_t *art_order_perm(const tb_backtest *bt);

int art_write_orders(FILE *f, const tb_backtest *bt);
int art_write_equity(FILE *f, const tb_backtest *bt);
int art_write_targets(FILE *f, const tb_backtest *bt, const tb_backtest_config *c);
int art_write_metrics_json(FILE *f, const tb_backtest *bt);
int art_write_report(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *info);

/* Write the standard set into dir (created if missing); with_targets adds
 * targets_<f>.csv. Errors name the file. */
int art_write_all(const char *dir, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *info,
                  int with_targets, tb_error *err);

/* mkdir -p */
int art_mkdirs(const char *dir, tb_error *err);

#endif
