/* backtest.h — the backtest pipeline as one library call: choose the
 * universe, load bars (cut at `end`; earlier history only warms indicators
 * up), compute signals, build the panel over [start, end] / last N bars,
 * simulate, compute metrics. Times every stage and reports progress through
 * the caller's hooks. Never prints, never exits. Owns everything in the result. */
#ifndef TB_BACKTEST_H
#define TB_BACKTEST_H
#include <stddef.h>
#include <stdint.h>

#include "datasource.h"
#include "hooks.h"
#include "market.h"
#include "metrics.h"
#include "panel.h"
#include "simulate.h"
#include "strategy.h"
#include "tb_error.h"
#include "universe.h"

#define TB_MAX_STAGES 16

struct ml_model;

/* The optional meta-model filter of a backtest's entries (SPEC §3, see
 * meta_filter.h): off while model is NULL and model_id is 0. */
typedef struct tb_meta_config {
    struct ml_model *model;        /* loaded booster, borrowed; NULL = no filter */
    int64_t model_id;              /* registry id (API), 0 when the model came from a file */
    double threshold;              /* an entry passes when p >= threshold, in [0, 1] */
    const char *source;            /* where the model came from, for the report ("model 12", a path) */
    int64_t train_first_ts;        /* the model's training span; INT64_MIN when unknown */
    int64_t train_last_ts;         /* (first row ts ... latest label t1) */
} tb_meta_config;

/* What the filter did, and the unfiltered base run for the report. */
typedef struct tb_meta_result {
    int applied;                   /* 1 when the filter ran */
    size_t n_entries;              /* entry events of the base signal (warm-up bars included) */
    size_t n_undefined;            /* entries with an undefined feature: never pass */
    size_t n_passed;               /* entries with p >= threshold */
    tb_metrics base;               /* metrics of the same backtest without the filter */
} tb_meta_result;

typedef struct tb_stage_time {
    char name[32];  /* e.g. load_data, signals, simulate, metrics */
    double wall_s;  /* wall seconds */
} tb_stage_time;

typedef struct tb_stage_list {
    tb_stage_time s[TB_MAX_STAGES];
    size_t n;
} tb_stage_list;

typedef struct tb_backtest_config {
    tb_source source;             /* data, freq, synthetic parameters */
    tb_strategy_params strategy;  /* resolved, validated strategy parameters */
    size_t n_symbols;             /* first N symbols (0 = all) unless a list or file is given */
    const char *universe_file;    /* watchlist file, or NULL */
    const char *const *symbols;   /* explicit list, or NULL */
    size_t n_list;
    int64_t start, end;           /* inclusive; INT64_MIN / INT64_MAX when open */
    size_t last_bars;             /* 0 = no limit */
    tb_sim_config sim;
    tb_meta_config meta;          /* meta_filter (SPEC §3); zero = none */
} tb_backtest_config;

typedef struct tb_backtest {
    tb_universe universe;   /* the symbols traded, in market order */
    tb_market *market;      /* bars up to `end` (warm-up included) */
    uint8_t *sig;           /* per-bar signals in market layout */
    tb_panel panel;         /* [start, end] */
    tb_sim_result sim;
    double *bench;          /* panel.T universe benchmark returns */
    tb_metrics metrics;
    tb_meta_result meta;    /* meta_filter counts and the unfiltered comparison */
    tb_stage_list stages;
} tb_backtest;

/* Defaults: synthetic source, trend_baseline defaults, all symbols, open range, SPEC §4 defaults, no meta filter. */
void backtest_config_defaults(tb_backtest_config *c);
int backtest_run(const tb_backtest_config *c, const tb_hooks *hooks, tb_backtest *out, tb_error *err);
void backtest_free(tb_backtest *bt);

/* Stage timing helpers shared by the engine's pipelines. */
double stage_now(void);
void stage_record(tb_stage_list *l, const tb_hooks *hooks, const char *name, double t0);

/* Resolve the universe of a config against its source (shared with the ML dataset build). */
int backtest_select_universe(const tb_backtest_config *c, tb_universe *u, tb_error *err);

#endif
