/* flags_run.h — the flags every run-shaped command shares (backtest,
 * run-daily, build-ml-dataset): data source, strategy and its --param k=v,
 * universe and date range. One implementation so every command names the
 * same flags the same way in its errors. */
#ifndef TB_CLI_FLAGS_RUN_H
#define TB_CLI_FLAGS_RUN_H
#include "args.h"
#include "backtest.h"

/* --data, --freq, --seed */
int flags_apply_source(const cli_args *a, tb_backtest_config *c, tb_error *err);
/* --strategy (required) and --param k=v..., validated */
int flags_apply_strategy(const cli_args *a, tb_strategy_params *sp, tb_error *err);
/* --symbols N | --universe FILE, --start, --end, --last-bars (after the source: --freq sets the end-of-day rule) */
int flags_apply_universe_range(const cli_args *a, tb_backtest_config *c, tb_error *err);

#endif
