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

typedef enum { JS_JOB_BACKTEST = 0, JS_JOB_EOD_SMALL, JS_JOB_BACKTEST_MEDIUM, JS_JOB_ML_JOB } js_job;

typedef struct tb_jobspec {
    js_job job;                  /* BACKTEST for POST /backtests */
    tb_backtest_config bt;       /* ready for backtest_run(); strings point into `normalized` */
    int with_targets;            /* EOD_SMALL writes targets_<f>.csv */
    json_t *normalized;          /* owned: the params to store (defaults filled) */
} tb_jobspec;

/* Validate a backtest body (POST /backtests, or stored params). On success
 * returns 0 and fills *out (free with jobspec_free). On failure returns -1
 * and errs lists every bad field. */
int jobspec_from_backtest_json(json_t *body, tb_jobspec *out, js_errors *errs);

/* Validate a POST /runs body {"job", "iterations"?, "phase"?, "overrides"?}.
 * For EOD_SMALL / BACKTEST_MEDIUM the job's standard config with the
 * overrides (any backtest field) applied is validated like a backtest.
 * ML_JOB is accepted here (spec->job = JS_JOB_ML_JOB, normalized holds the
 * job's params); *iterations and *phase (borrowed from body, may be NULL) are
 * filled. */
int jobspec_from_run_json(json_t *body, tb_jobspec *out, int *iterations, const char **phase, js_errors *errs);

/* Rebuild a spec from stored params (the worker). Errors come back as text. */
int jobspec_from_params(json_t *params, tb_jobspec *out, tb_error *err);

void jobspec_free(tb_jobspec *s);
const char *jobspec_job_name(js_job j); /* "EOD_SMALL", ..., "backtest" */

#endif
