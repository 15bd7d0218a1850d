/* main.c — `tradebench`, the command line: dispatch to a subcommand. Wiring
 * only; every command lives in its own cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "cmd_migrate.h"
#include "cmd_ml.h"
#include "commands.h"

static const char usage[] =
    "usage: tradebench <command> [flags]\n"
    "\n"
    "  backtest --data DIR|synthetic --strategy NAME [--param k=v]... [--freq 1d|1h]\n"
    "           [--symbols N | --universe FILE] [--start YYYY-MM-DD] [--end YYYY-MM-DD]\n"
    "           [--last-bars N] [--capital X] [--costs default|none] [--commission-bps X]\n"
    "           [--spread-w X] [--impact-w X] [--max-weight X] [--rebalance-band X] --out DIR\n"
    "  run-daily [--data DIR|synthetic] [--out DIR]          EOD_SMALL\n"
    "  build-ml-dataset --strategy NAME [--freq 1d] [--data DIR|synthetic] [--symbols N] [--param k=v]...\n"
    "           [--pt X] [--sl X] [--h N] --out FILE.csv\n"
    "  train-meta-model --strategy NAME [--freq 1d] --dataset FILE.csv [--cv walk_forward|purged_kfold]\n"
    "           [--k-folds N] [--max-depth N] [--eta X] [--n-rounds N] [--subsample X] [--colsample-bytree X]\n"
    "           [--min-child-weight X] [--max-bin N] [--seed N] [--tree-method hist|approx|exact]\n"
    "           [--nthread N (XGBoost threads, default 1)] --out DIR\n"
    "  indicators [--data DIR] --symbol SYM --out FILE.csv\n"
    "  data synth --symbols N --bars N [--freq 1d|1h] [--seed S] --out DIR\n"
    "  data import --from DIR\n"
    "  migrate\n"
    "  bench [--data DIR] [--iterations N] [--symbols N]    engine benchmark (BACKTEST_MEDIUM)\n"
    "  bench --sweep | --numfmt                             sweep throughput | number formatting\n"
    "  profile-job --job EOD_SMALL|BACKTEST_MEDIUM|ML_JOB [--iterations N] [--profiler stages|perf|callgrind]\n"
    "           [--phase NAME] [--data DIR|synthetic] [--notes TEXT] [--update-doc [--doc FILE]]\n"
    "\n"
    "Strategies: trend_baseline (fast=20 slow=50), ema_trend (n=50 atr_n=14 band=0.5), buy_and_hold.\n"
    "Without --data the source is $TB_DATA or the synthetic market (seed 42, 500 symbols x 2520 bars).\n"
    "Exit status: 0 success, 2 bad usage or input, 1 other failure.\n";

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
} cli_command;

static const cli_command commands[] = {
    {"backtest", cmd_backtest}, {"run-daily", cmd_run_daily}, {"indicators", cmd_indicators},
    {"data", cmd_data},         {"migrate", cmd_migrate}, {"bench", cmd_bench},
    {"build-ml-dataset", cmd_build_ml_dataset}, {"train-meta-model", cmd_train_meta_model},
    {"profile-job", cmd_profile_job},
};

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "tradebench: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
