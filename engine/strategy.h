/* strategy.h — the strategy registry (SPEC §3): name -> parameter schema
 * (defaults, bounds, integer-ness) -> signal function. A signal function
 * maps one symbol's bars to s_t in {0,1} for every bar, reading no bar after
 * t. Adding a strategy is one file in strategies/ plus one registry line. */
#ifndef TB_STRATEGY_H
#define TB_STRATEGY_H
#include <stddef.h>
#include <stdint.h>

#include "indicators.h"
#include "market.h"
#include "tb_error.h"

#define TB_MAX_PARAMS 8
#define TB_MAX_INPUTS 4

typedef struct tb_param_def {
    const char *name;   /* parameter name as used in --param k=v and JSON */
    double def;         /* default value */
    double min;         /* smallest allowed value (inclusive) */
    double max;         /* largest allowed value (inclusive) */
    int integer;        /* 1: must be a whole number (a period) */
    const char *help;   /* one line for docs and errors */
} tb_param_def;

typedef struct tb_strategy_def {
    const char *name;
    const char *summary;
    const tb_param_def *params;  /* n_params entries */
    size_t n_params;
    /* cross-parameter checks (e.g. fast < slow); NULL when none */
    int (*validate)(const double *p, tb_error *err);
    /* doubles of scratch the signal function needs per bar of the series */
    size_t scratch_per_bar;
    /* write sig[0..s->n) from the bars; scratch holds scratch_per_bar*s->n doubles */
    void (*signal)(const double *p, const tb_series *s, uint8_t *sig, double *scratch);
    /* Optional, for callers that compute indicator arrays once and share them
     * between runs (sweeps, the factor store): the arrays the signal reads
     * with parameters p (at most TB_MAX_INPUTS into keys; returns how many),
     * and the signal computed from them, in[k] holding s->n values of
     * keys[k]. Gives the same signals as `signal`. NULL: reads bars only. */
    size_t (*inputs)(const double *p, ind_key *keys);
    void (*signal_from)(const double *p, const tb_series *s, const double *const *in, uint8_t *sig);
    /* Optional, with inputs: the signal as a comparison s_t = left[t] > right[t]
     * of two arrays of s->n values (in[] itself, the bars, or tmp, which has
     * room for s->n doubles): sweeps then find its changes without a per-bar
     * signal. Must agree with signal_from bar for bar. NULL: not that shape. */
    void (*compare_from)(const double *p, const tb_series *s, const double *const *in, double *tmp,
                         const double **left, const double **right);
} tb_strategy_def;

const tb_strategy_def *strategy_find(const char *name);
/* All registered strategies, NULL-terminated. */
const tb_strategy_def *const *strategy_all(void);

/* Resolved parameters of one strategy: values in schema order. */
typedef struct tb_strategy_params {
    const tb_strategy_def *def;
    double v[TB_MAX_PARAMS];
} tb_strategy_params;

/* Start from the defaults. */
void strategy_params_defaults(const tb_strategy_def *def, tb_strategy_params *out);
/* Set one parameter from text ("20"); the error names the parameter. */
int strategy_params_set(tb_strategy_params *p, const char *name, const char *value, tb_error *err);
/* Set one parameter from a number; checks bounds and integer-ness. */
int strategy_params_set_num(tb_strategy_params *p, const char *name, double value, tb_error *err);
/* Cross-parameter validation; call after all sets. */
int strategy_params_validate(const tb_strategy_params *p, tb_error *err);
/* Value by name (NaN when unknown). */
double strategy_param(const tb_strategy_params *p, const char *name);

/* Compute signals for every symbol of m into sig[0..m->n_bars) (market layout). */
void strategy_signals(const tb_strategy_params *p, const tb_market *m, uint8_t *sig);
/* The same with the symbols split over `threads` (1 or 2) threads; identical signals. */
void strategy_signals_mt(const tb_strategy_params *p, const tb_market *m, uint8_t *sig, int threads);

#endif
