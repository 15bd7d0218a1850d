/* cmd_sweep.h — `tradebench backtest ... --grid NAME=V1,V2,...`: the
 * parameter sweep form of the backtest command. */
#ifndef TB_CLI_CMD_SWEEP_H
#define TB_CLI_CMD_SWEEP_H
#include "args.h"
#include "backtest.h"
#include "runinfo.h"

/* Run the sweep of c over the --grid flags of a (--threads N, default: the
 * online CPUs) and write out/sweep_results.csv, sweep_results.json and
 * sweep_report.md; print a summary. Returns the exit status. */
int cli_sweep(const cli_args *a, const tb_backtest_config *c, const char *out, const cli_clock *clk);

#endif
