/* meta_filter.h — filtering a base strategy's entries with a trained
 * meta-model (SPEC §3): f_t = 0 when s_t = 0; on an entry event
 * (s_{t-1} = 0, s_t = 1) f_t = [p_t >= threshold], p_t being the model's
 * probability for the §6.1 features at t; f_t = f_{t-1} otherwise. An entry
 * whose features are undefined (NaN or not finite) never passes. The step
 * runs between signals and panel in backtest_run(), over every bar of each
 * symbol (warm-up bars included, like the signals themselves), and writes
 * the "Meta-model filter" section of the performance report. Never prints,
 * never exits; the model is borrowed. */
#ifndef TB_META_FILTER_H
#define TB_META_FILTER_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backtest.h"
#include "datasource.h"
#include "market.h"
#include "ml_train.h"
#include "tb_error.h"

/* The rule on one series: s[0..n) base signals, p[0..n) probabilities (read
 * only at entry events; NaN = undefined, never passes) -> f[0..n). s_{-1} is
 * 0, so s_0 = 1 is an entry. f may not alias s. */
void meta_filter_series(const uint8_t *s, const double *p, size_t n, double threshold, uint8_t *f);

/* Filter sig (market layout, sig[m->offset[i] + t]) in place: compute the
 * §6.1 features at every entry event (one factor store over m), predict them
 * in one call, apply meta_filter_series per symbol. id is m's identity
 * (source_load_id(), m possibly cut at `end` since) or NULL: the factor
 * store then comes through the factor cache (fs_build_cached), mapped when
 * an earlier run stored it; the same values either way. Counts go to out
 * (n_entries, n_undefined, n_passed; applied = 1). 0, or -1 with err. */
int meta_filter_apply(const tb_market *m, const tb_data_id *id, ml_model *model, double threshold, uint8_t *sig,
                      tb_meta_result *out, tb_error *err);

/* Does the model's training span overlap the panel range [lo, hi]? 1 yes,
 * 0 no, -1 unknown (train span INT64_MIN). */
int meta_filter_overlap(const tb_meta_config *c, int64_t lo, int64_t hi);

/* The report section (markdown): model, threshold, entry counts, training
 * span and whether it overlaps the backtest range, and the filtered run
 * against the unfiltered base strategy. Nothing when no filter ran. */
int meta_filter_write_report(FILE *f, const tb_backtest *bt, const tb_backtest_config *c);

#endif
