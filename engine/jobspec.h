/* jobspec.h — what a run asks for, from JSON to a validated engine config.
 * One validator serves the HTTP API (POST /backtests, POST /runs) and the
 * worker (which re-reads the normalised params stored in runs.params): a
 * body is checked field by field (unknown fields, wrong types, ranges,
 * strategy parameters) and every problem is reported with its field path.
 * The normalised JSON has every default filled in and is itself a valid body,
 * so stored params always rebuild the same config. Never touches HTTP or SQL. */
#ifndef TB_JOBSPEC_H
#define TB_JOBSPEC_H
#include <jansson.h>
#include <stddef.h>

#include "backtest.h"
#include "ml_cv.h"
#include "ml_dataset.h"
#include "ml_train.h"
#include "sweep.h"

#define JS_MAX_ERRORS 16
#define JS_MAX_SYMBOLS 5000

typedef struct js_field_error {
    char field[64];
    char message[192];
} js_field_error;

typedef struct js_errors {
    size_t n;
    js_field_error e[JS_MAX_ERRORS];
} js_errors;

typedef enum {
    JS_JOB_BACKTEST = 0,         /* POST /backtests */
    JS_JOB_EOD_SMALL,
    JS_JOB_BACKTEST_MEDIUM,
    JS_JOB_ML_JOB,               /* POST /runs {"job":"ML_JOB"}: a model training with the standard config */
    JS_JOB_MODEL,                /* POST /models: a model training (run kind "model") */
    JS_JOB_SWEEP                 /* POST /backtests with a "grid": a parameter sweep (run kind "sweep") */
} js_job;

/* What a model training asks for beyond the data (ML_JOB, POST /models). */
typedef struct js_ml {
    ml_label_params labels;      /* pt, sl, h (SPEC §6.2) */
    ml_train_params train;       /* XGBoost parameters; nthread stays the engine default (the worker sets it) */
    ml_cv_kind cv;               /* walk_forward (default) | purged_kfold */
    size_t k_folds;              /* [ML_CV_MIN_K, ML_CV_MAX_K], default 5 */
} js_ml;

typedef struct tb_jobspec {
    js_job job;                  /* BACKTEST for POST /backtests */
    tb_backtest_config bt;       /* ready for backtest_run() (ML: source, strategy, universe, range);
                                    strings point into `normalized`; bt.meta.model_id > 0 asks for a
                                    meta_filter whose model the caller must load into bt.meta.model */
    int with_targets;            /* EOD_SMALL writes targets_<f>.csv */
    js_ml ml;                    /* ML_JOB and JS_JOB_MODEL only */
    tb_sweep_grid grid;          /* JS_JOB_SWEEP only (owned): bt.strategy holds the parameters not in it */
    size_t chunk_size;           /* JS_JOB_SWEEP: "chunk_size", valid members per chunk run; 0 = the server's default */
    size_t member_lo, member_hi; /* a chunk run: only valid members [lo, hi) run (hi 0: all); set by the
                                    worker from the chunk's row, never from JSON */
    json_t *normalized;          /* owned: the params to store (defaults filled) */
} tb_jobspec;

/* Validate a backtest body (POST /backtests, or stored params). On success
 * returns 0 and fills *out (free with jobspec_free). On failure returns -1
 * and errs lists every bad field. An optional "meta_filter": {"model_id",
 * "threshold"} (trend_baseline / ema_trend only) sets bt.meta.model_id and
 * threshold; whether the model exists is the caller's check. An optional
 * "grid": {"fast": [5, 10], "slow": [50, 100]} makes it a sweep (job
 * JS_JOB_SWEEP): names must be parameters of the strategy not also in
 * "params", values numbers within the parameter's bounds (errors name
 * "grid.fast[2]"), at most SWEEP_MAX_MEMBERS combinations of which at least
 * one the strategy accepts (the others are skipped when it runs); no
 * meta_filter. An optional "chunk_size" (1..SWEEP_MAX_MEMBERS, only with a
 * grid) sets chunk_size: the service splits a sweep with more valid
 * combinations than that into chunk runs. */
int jobspec_from_backtest_json(json_t *body, tb_jobspec *out, js_errors *errs);

/* Validate a model-training body (POST /models): the data fields of a
 * backtest body (strategy, params, freq, data, symbols | universe, start,
 * end, last_bars) with the synthetic seed named "data_seed", the label
 * parameters pt, sl, h, the training parameters max_depth, eta, n_rounds,
 * subsample, colsample_bytree, min_child_weight, max_bin, seed (XGBoost's),
 * tree_method, and k_folds, cv. spec->job = JS_JOB_MODEL. */
int jobspec_from_model_json(json_t *body, tb_jobspec *out, js_errors *errs);

/* Validate a POST /runs body {"job", "iterations"?, "phase"?, "overrides"?}.
 * For EOD_SMALL / BACKTEST_MEDIUM the job's standard config with the
 * overrides (any backtest field) applied is validated like a backtest; for
 * ML_JOB (trend_baseline, 200 symbols, all data, SPEC §6 defaults) the
 * overrides are any model-body field but the strategy. *iterations and
 * *phase (borrowed from body, may be NULL) are filled. */
int jobspec_from_run_json(json_t *body, tb_jobspec *out, int *iterations, const char **phase, js_errors *errs);

/* Rebuild a spec from stored params (the worker): a backtest body, a
 * standard run's params ("job" set), ML_JOB's included. Errors come back as text. */
int jobspec_from_params(json_t *params, tb_jobspec *out, tb_error *err);
/* The same by the run's kind: "model" params are a model body, anything
 * else goes to jobspec_from_params(). */
int jobspec_from_stored(const char *kind, json_t *params, tb_jobspec *out, tb_error *err);

void jobspec_free(tb_jobspec *s);
const char *jobspec_job_name(js_job j); /* "EOD_SMALL", ..., "ML_JOB", "model", "backtest" */

#endif
