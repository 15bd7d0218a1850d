/* sweep.h — parameter sweeps: one strategy on one data set, run for every
 * valid combination of a grid of parameter values (`fast=5,10,20` x
 * `slow=50,100`), ranked by Sharpe.
 *
 * Everything that does not depend on the parameters is done once and shared,
 * read-only, by the members: the loaded market, the panel, the universe
 * benchmark, the cost statistics of every bar (a table: an order's statistics
 * depend on (symbol, bar) only), the time-major prices, and each distinct
 * indicator array the strategy reads (EMA(10) is computed once per symbol
 * for every member that uses it). Members then run on a pool of threads
 * (pthreads), each with its own simulation state; the only shared writes
 * are the members' own result slots and atomic counters. A member's metrics
 * are exactly those of backtest_run() with the same parameters.
 *
 * A combination the strategy rejects (trend_baseline's fast >= slow) is
 * skipped and counted; a value outside a parameter's bounds, a name that is
 * not a parameter, or a grid over SWEEP_MAX_MEMBERS combinations is an error
 * naming the field ("grid.fast[2]"). Never prints, never exits.
 *
 * A sweep split over several processes (the service's chunk runs) runs
 * sweep_run_range() per chunk — a range of the valid members, in grid
 * order — and puts the pieces back together with sweep_plan() (the same
 * expansion, nothing loaded), the members' metrics and sweep_rank(): the
 * ranked table and the artifacts are then those of one sweep_run(). */
#ifndef TB_SWEEP_H
#define TB_SWEEP_H
#include <jansson.h>
#include <stdio.h>

#include "backtest.h"

#define SWEEP_MAX_MEMBERS 1000 /* combinations in one grid */

typedef struct tb_sweep_dim {
    char name[32];  /* a parameter of the strategy */
    size_t param;   /* its index in the strategy's schema */
    size_t n;       /* values, in the order given */
    double *v;      /* owned */
} tb_sweep_dim;

typedef struct tb_sweep_grid {
    size_t n_dims;
    tb_sweep_dim dim[TB_MAX_PARAMS];
} tb_sweep_grid;

/* Add a dimension `name` with values v[0..n) for strategy def: name must be
 * one of its parameters (not already in the grid), every value within the
 * parameter's bounds (a whole number for periods), n >= 1, and the grid at
 * most SWEEP_MAX_MEMBERS combinations. Errors name "grid.<name>" or
 * "grid.<name>[k]". */
int sweep_grid_add(tb_sweep_grid *g, const tb_strategy_def *def, const char *name, const double *v, size_t n,
                   tb_error *err);
/* The command-line form "fast=5,10,20". */
int sweep_grid_parse(tb_sweep_grid *g, const tb_strategy_def *def, const char *arg, tb_error *err);
/* Number of combinations (the product of the dimensions' sizes; 1 for an empty grid). */
size_t sweep_grid_combinations(const tb_sweep_grid *g);
void sweep_grid_free(tb_sweep_grid *g);

typedef struct tb_sweep_member {
    tb_strategy_params params; /* base parameters with this combination's values */
    size_t combo;              /* index in the full grid: row-major, the first dimension slowest */
    tb_metrics metrics;        /* SPEC §5 */
    double wall_s;             /* this member's signals + simulation + metrics */
    size_t rank;               /* 1 = highest Sharpe; undefined Sharpe ranks last */
} tb_sweep_member;

typedef struct tb_sweep_result {
    const tb_strategy_def *def;
    tb_sweep_grid grid;        /* a copy of the grid (owned) */
    size_t n_combinations;     /* grid size */
    size_t n_skipped;          /* combinations the strategy rejected */
    char skip_reason[192];     /* why the first of them was rejected ("" when none) */
    size_t n_members;          /* the valid combinations, run (of a range: the range's) */
    size_t n_valid;            /* valid combinations in the whole grid (n_members unless a range ran) */
    size_t first_member;       /* a range: the valid member members[0] is (0 otherwise) */
    tb_sweep_member *members;  /* in grid order */
    size_t *ranked;            /* member indices, best first */
    size_t n_symbols, T;       /* universe size and panel length */
    int64_t first_ts, last_ts; /* panel range */
    tb_freq freq;
    int threads;               /* threads the members ran on */
    size_t n_indicators;       /* distinct indicator arrays computed (per batch, over all symbols) */
    double members_s;          /* wall seconds of the member phase */
    double total_s;            /* wall seconds of the whole sweep, load included */
    tb_stage_list stages;      /* load_data, panel, cost_stats, prices, signals, members, rank */
    /* A sweep assembled from chunk runs (0 / 0.0 otherwise): the report
     * adds a line with these; members_s, stages and total_s are then sums
     * over the chunks and threads the largest chunk's. */
    size_t n_chunks;           /* chunk runs */
    size_t n_workers;          /* distinct workers that ran them */
    double chunks_wall_s;      /* first chunk claimed .. last chunk stored */
} tb_sweep_result;

/* Run the sweep of base (its strategy, data, range, costs; its strategy
 * parameters are the defaults of every parameter not in the grid) over g on
 * `threads` threads (0: the online CPUs). Hooks are called from the calling
 * thread only; progress reports the fraction of members done, cancellation
 * is checked between members. On success fills *out (sweep_result_free). */
int sweep_run(const tb_backtest_config *base, const tb_sweep_grid *g, int threads, const tb_hooks *hooks,
              tb_sweep_result *out, tb_error *err);
/* sweep_run() over the valid members [lo, hi) only (in grid order; hi is
 * clamped to their count, lo must be below it): out->members holds those
 * hi - lo members (n_members), first_member = lo, n_valid = all valid
 * members of the grid; ranks are within the range. A member's metrics do
 * not depend on the range it ran in. A range with nothing to run — empty
 * (lo == hi), reversed (lo > hi), or starting at or past the valid count —
 * is rejected, never an empty result: -1, a TB_EINVAL on "grid" whose
 * message names the range as requested ("member range [20, 25) is outside
 * the grid's 9 valid combinations"), *out left cleared. */
int sweep_run_range(const tb_backtest_config *base, const tb_sweep_grid *g, size_t lo, size_t hi, int threads,
                    const tb_hooks *hooks, tb_sweep_result *out, tb_error *err);
/* The expansion alone, nothing loaded or run: def, a copy of g,
 * n_combinations, n_skipped, skip_reason, and every valid member's params
 * and combo (metrics NaN, rank 0); n_members = n_valid. -1 with err (naming
 * "grid") when no combination is valid. sweep_result_free() it. */
int sweep_plan(const tb_strategy_params *base, const tb_sweep_grid *g, tb_sweep_result *out, tb_error *err);
/* Rank r->members (Sharpe descending, undefined last, ties by grid
 * position) into r->ranked and each member's rank: what sweep_run() does
 * last, for a result assembled from chunks. */
void sweep_rank(tb_sweep_result *r);
void sweep_result_free(tb_sweep_result *r);

/* ---- artifacts (sweep_report.c) ------------------------------------------------- */

/* sweep_results.csv: rank, the grid's parameters, sharpe, cagr,
 * max_drawdown, turnover, total_return, n_orders, volatility, total_costs;
 * best first; numbers round-trip (empty when undefined). */
int sweep_write_csv(FILE *f, const tb_sweep_result *r);
/* sweep_report.md: what ran (strategy, data, range, grid, skipped), timing
 * and throughput, the ranked table, and for a 2-D grid a Sharpe heat map
 * (rows: the first parameter, columns: the second). */
int sweep_write_report(FILE *f, const tb_sweep_result *r, const tb_backtest_config *base);
/* {"strategy", "freq", "symbols", "bars", "first_ts", "last_ts", "grid",
 *  "combinations", "members", "skipped", "skip_reason", "threads",
 *  "members_seconds", "backtests_per_second", "ranked": [{"rank", "member"
 *  (grid position), "params", the ranked columns, "metrics" (all of §5)}]}
 * — a new reference. */
json_t *sweep_to_json(const tb_sweep_result *r);
/* The inverse of a member's "metrics" object (metrics_to_json): every
 * SPEC §5 metric by name, NaN when null or absent. */
void sweep_metrics_from_json(const json_t *o, tb_metrics *out);

#endif
