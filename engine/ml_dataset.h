/* ml_dataset.h — the meta-labelling dataset (SPEC §6.1–6.2): entry events of
 * a base strategy, the ten §6.1 features at the signal bar, triple-barrier
 * labels with their decision bar t1 and return, rows ordered by ts then
 * symbol. Held as struct-of-arrays (one array per column, row r across all).
 * Built from a factor store (factor_store.h) plus the strategy's signals, or
 * read back from its CSV file. Owns its arrays; never prints, never exits. */
#ifndef TB_ML_DATASET_H
#define TB_ML_DATASET_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backtest.h"
#include "factor_store.h"
#include "hooks.h"
#include "market.h"
#include "tb_error.h"
#include "universe.h"

#define ML_N_FEATURES 10

/* ret_1, ret_5, ret_20, sma20_ratio, sma50_ratio, ema_spread, atr14_pct,
 * rsi14, vol20, volume_ratio — SPEC §6.1 order, also the model's columns. */
extern const char *const ml_feature_names[ML_N_FEATURES];

/* The CSV header, without a line end. */
extern const char ml_dataset_header[];

/* Triple-barrier parameters (SPEC §6.2). */
typedef struct ml_label_params {
    double pt;  /* upper barrier in ATR multiples, > 0 (default 2) */
    double sl;  /* lower barrier in ATR multiples, > 0 (default 1) */
    int h;      /* vertical barrier in bars, >= 1 (default 20) */
} ml_label_params;

void ml_label_defaults(ml_label_params *lp);
/* Bounds: pt, sl in (0, 1000], h in [1, 100000]; the error names the parameter. */
int ml_label_validate(const ml_label_params *lp, tb_error *err);

/* What the build saw, for the report. An entry is s_{t-1}=0, s_t=1 with t in
 * the range; it becomes an event when bar t+1 exists, and a row unless one of
 * the drop rules applies (counted in that order). */
typedef struct ml_build_stats {
    size_t n_entries;      /* entries of the base strategy within the range */
    size_t n_last_bar;     /* entries at the symbol's last bar (no t+1: not an event) */
    size_t n_undefined;    /* events dropped: a feature undefined (NaN or not finite) */
    size_t n_zero_atr;     /* events dropped: a = ATR(14)_t = 0 */
    size_t n_past_data;    /* events dropped: t + h past the symbol's last bar */
} ml_build_stats;

typedef struct ml_dataset {
    tb_freq freq;                 /* timestamps print as dates for 1d */
    size_t n;                     /* rows */
    size_t cap;                   /* allocated rows of every column */
    char **symbols;               /* n_symbols owned names; sym[] indexes them */
    size_t n_symbols;
    int64_t *ts;                  /* signal bar t (epoch seconds) */
    uint32_t *sym;                /* symbol index */
    double *x[ML_N_FEATURES];     /* feature columns, SPEC §6.1 order */
    uint8_t *label;               /* 0 / 1 */
    int64_t *t1;                  /* bar at which the label was decided */
    double *ret;                  /* exit price / P0 - 1 */
    ml_build_stats stats;         /* zero when read from a file */
} ml_dataset;

void ml_dataset_free(ml_dataset *d);

/* Features of symbol i at its bar t into out[ML_N_FEATURES]; returns 1 when
 * all are finite, 0 otherwise (out still filled). Reads nothing after t. */
int ml_features_at(const fs_store *fs, size_t i, size_t t, double *out);

/* Build the dataset from a factor store and the base strategy's signals
 * (market layout, sig[m->offset[i] + t]). Events are entries whose signal bar
 * has lo <= ts <= hi; earlier bars only feed indicators. Rows sorted by ts,
 * then symbol name (strcmp). *out is new; free with ml_dataset_free(). */
int ml_dataset_build(const fs_store *fs, const uint8_t *sig, int64_t lo, int64_t hi, const ml_label_params *lp,
                     ml_dataset *out, tb_error *err);

/* Everything a dataset build reads, kept alive so that several builds (other
 * label parameters) reuse the loaded bars, the signals and the factors. */
typedef struct ml_inputs {
    tb_universe universe;  /* symbols, in market order */
    tb_market *market;     /* bars up to `end` (warm-up included) */
    uint8_t *sig;          /* base strategy signals, market layout */
    fs_store *fs;          /* factors over market (through the factor cache) */
    tb_data_id id;         /* the load's identity (source_load_id), known or not */
    int64_t lo, hi;        /* the panel's first and last timestamp ([start, end] / last N bars) */
} ml_inputs;

/* Universe -> load (cut at c->end) -> signals -> factor store -> range.
 * The factor store comes through the factor cache (fs_build_cached with the
 * load's identity): mapped when an earlier run stored this load's factors,
 * else computed (and stored for an uncut load); the same values either way.
 * Uses c->source, c->strategy, the universe fields, start, end, last_bars
 * (c->sim is ignored). Records stages load_data, signals, factors into
 * stages (may be NULL). On failure *out is left empty. */
int ml_inputs_load(const tb_backtest_config *c, const tb_hooks *hooks, tb_stage_list *stages, ml_inputs *out,
                   tb_error *err);
void ml_inputs_free(ml_inputs *in);

/* CSV with ml_dataset_header; numbers via nf_double, times via tu_format.
 * Returns 0, or -1 when the stream reports a write error. */
int ml_dataset_write_csv(FILE *f, const ml_dataset *d);
/* Write to path (the directory must exist); errors name the file. */
int ml_dataset_save(const char *path, const ml_dataset *d, tb_error *err);

/* Read a dataset file written by ml_dataset_write_csv (or an equivalent).
 * Strict: exact header, 15 fields a row, valid timestamps (all dates or all
 * full timestamps), symbol names, label 0/1, t1 > ts, finite ret, rows in
 * (ts, symbol) order without duplicates; an empty feature field is missing
 * (NaN). Errors are TB_EINVAL naming "<path>:<line>" (TB_EIO when unreadable). */
int ml_dataset_load(const char *path, ml_dataset *out, tb_error *err);
/* Same on a buffer; path is only used in messages. */
int ml_dataset_parse(const char *path, const char *buf, size_t len, ml_dataset *out, tb_error *err);

#endif
