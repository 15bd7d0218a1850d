/* commands.h — the `tradebench` subcommands (SPEC §12). Each takes the
 * arguments after its name and returns the process exit status
 * (0 success, 2 bad usage or input, 1 other failure). */
#ifndef TB_CLI_COMMANDS_H
#define TB_CLI_COMMANDS_H

int cmd_backtest(int argc, char **argv);
int cmd_run_daily(int argc, char **argv);
int cmd_indicators(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_profile_job(int argc, char **argv);

#endif
