/* test_ml.c — the ML_JOB engine on hand-built data: the triple barrier
 * (upper, lower, both in one bar, vertical barrier, horizon past the data,
 * a = 0), event detection and row order, the factor store, the dataset CSV
 * round trip and its file:line errors, the CV fold plan (block boundaries
 * floor(b n / (k+1)), purging, the purged_kfold embargo), AUC / log-loss by
 * hand, the correlation matrix, parameter validation, and determinism of the
 * XGBoost model bytes. Every expected number is worked out in a comment. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factor_store.h"
#include "indicators.h"
#include "ml_cv.h"
#include "ml_dataset.h"
#include "ml_train.h"
#include "xalloc.h"

#define T0 1293840000LL /* 2011-01-01 */
#define DAY 86400LL

/* ------------------------------------------------------------ market builders */

/* One flat bar: O = C = 100, H = 101, L = 99, V = 1000. TR = 2 on every bar
 * after the first, so ATR(14) = 2 exactly from t = 14 on; RSI = 50; VOL20 = 0;
 * every feature is defined from t = 49 (SMA50). */
static void push_flat(tb_market *m, size_t t) { market_push_bar(m, T0 + (int64_t)t * DAY, 100, 101, 99, 100, 1000); }

/* A symbol of `n` bars: bars 0..60 flat, then `tail` (after bar 60) as given. */
typedef struct bar {
    double o, h, l, c;
} bar;

static void add_symbol(tb_market *m, const char *name, size_t n, const bar *tail, size_t n_tail)
{
    market_add_symbol(m, name);
    for (size_t t = 0; t < n; t++) {
        if (t > 60 && t - 61 < n_tail) {
            const bar *b = &tail[t - 61];
            market_push_bar(m, T0 + (int64_t)t * DAY, b->o, b->h, b->l, b->c, 1000);
        } else {
            push_flat(m, t);
        }
    }
}

/* Signals: an entry at bar 60 only (s_59 = 0, s_60.. = 1). */
static uint8_t *entry_at(const tb_market *m, size_t t_entry)
{
    uint8_t *sig = xcalloc(m->n_bars, 1);
    for (size_t i = 0; i < m->n_symbols; i++)
        for (size_t t = t_entry; t < market_len(m, i); t++) sig[m->offset[i] + t] = 1;
    return sig;
}

/* Build a one-event dataset from one symbol with the given tail. */
static void one_event(const bar *tail, size_t n_tail, size_t n_bars, int h, ml_dataset *d)
{
    tb_market *m = market_new(TB_FREQ_1D, 1, n_bars);
    add_symbol(m, "AAA", n_bars, tail, n_tail);
    market_finish(m);
    fs_store *fs = fs_build(m);
    uint8_t *sig = entry_at(m, 60);
    ml_label_params lp = {2, 1, h};
    tb_error err = {0};
    cr_assert_eq(ml_dataset_build(fs, sig, INT64_MIN, INT64_MAX, &lp, d, &err), 0, "%s", err.msg);
    free(sig);
    fs_free(fs);
    market_free(m);
}

/* P0 = O_61 = 100, a = 2: upper = 104, lower = 98. */
#define QUIET {100, 101, 99, 100}

Test(ml_label, upper_barrier)
{
    bar tail[] = {QUIET, {100, 104.5, 99.5, 104}, QUIET};
    ml_dataset d;
    one_event(tail, 3, 90, 20, &d);
    cr_assert_eq(d.n, 1);
    cr_expect_eq(d.label[0], 1);
    cr_expect_eq(d.ts[0], T0 + 60 * DAY);
    cr_expect_eq(d.t1[0], T0 + 62 * DAY, "t1 is the bar that touched");
    cr_expect_float_eq(d.ret[0], 104.0 / 100.0 - 1.0, 1e-15, "filled at the barrier 104, not the high");
    ml_dataset_free(&d);
}

Test(ml_label, lower_barrier_gap_fills_at_barrier)
{
    bar tail[] = {QUIET, QUIET, {95, 96, 94, 95}}; /* gaps through 98 */
    ml_dataset d;
    one_event(tail, 3, 90, 20, &d);
    cr_assert_eq(d.n, 1);
    cr_expect_eq(d.label[0], 0);
    cr_expect_eq(d.t1[0], T0 + 63 * DAY);
    cr_expect_float_eq(d.ret[0], 98.0 / 100.0 - 1.0, 1e-15, "a gap still fills at the barrier 98");
    ml_dataset_free(&d);
}

Test(ml_label, both_in_one_bar_is_zero)
{
    bar tail[] = {QUIET, {100, 105, 97, 101}};
    ml_dataset d;
    one_event(tail, 2, 90, 20, &d);
    cr_assert_eq(d.n, 1);
    cr_expect_eq(d.label[0], 0);
    cr_expect_eq(d.t1[0], T0 + 62 * DAY);
    cr_expect_float_eq(d.ret[0], -0.02, 1e-15, "exit at the lower barrier");
    ml_dataset_free(&d);
}

Test(ml_label, vertical_barrier)
{
    /* h = 3: bars 61..63 stay inside (98, 104); C_63 = 101 > P0 = 100 -> 1 */
    bar up[] = {QUIET, QUIET, {100, 102, 99, 101}};
    ml_dataset d;
    one_event(up, 3, 90, 3, &d);
    cr_assert_eq(d.n, 1);
    cr_expect_eq(d.label[0], 1);
    cr_expect_eq(d.t1[0], T0 + 63 * DAY);
    cr_expect_float_eq(d.ret[0], 0.01, 1e-15, "ret = C_{t+h} / P0 - 1");
    ml_dataset_free(&d);
    /* C_63 = P0 exactly -> 0 (strictly greater is required) */
    bar flat[] = {QUIET, QUIET, QUIET};
    one_event(flat, 3, 90, 3, &d);
    cr_assert_eq(d.n, 1);
    cr_expect_eq(d.label[0], 0);
    cr_expect_eq(d.ret[0], 0.0);
    ml_dataset_free(&d);
}

Test(ml_label, horizon_past_data_dropped)
{
    /* 75 bars: t + h = 80 > 74. The upper barrier is touched at 62, but the
     * event is still dropped: its horizon runs past the data. */
    bar tail[] = {QUIET, {100, 110, 99, 104}};
    ml_dataset d;
    one_event(tail, 2, 75, 20, &d);
    cr_expect_eq(d.n, 0);
    cr_expect_eq(d.stats.n_entries, 1);
    cr_expect_eq(d.stats.n_past_data, 1);
    ml_dataset_free(&d);
    /* exactly enough data: t + h = 80 = last bar */
    one_event(tail, 2, 81, 20, &d);
    cr_expect_eq(d.n, 1);
    ml_dataset_free(&d);
}

Test(ml_label, zero_atr_dropped)
{
    /* O = H = L = C on every bar: TR = 0, ATR = 0 */
    tb_market *m = market_new(TB_FREQ_1D, 1, 100);
    market_add_symbol(m, "ZZZ");
    for (size_t t = 0; t < 100; t++) market_push_bar(m, T0 + (int64_t)t * DAY, 50, 50, 50, 50, 10);
    market_finish(m);
    fs_store *fs = fs_build(m);
    uint8_t *sig = entry_at(m, 60);
    ml_label_params lp;
    ml_label_defaults(&lp);
    ml_dataset d;
    tb_error err = {0};
    cr_assert_eq(ml_dataset_build(fs, sig, INT64_MIN, INT64_MAX, &lp, &d, &err), 0);
    cr_expect_eq(d.n, 0);
    cr_expect_eq(d.stats.n_zero_atr, 1);
    ml_dataset_free(&d);
    free(sig);
    fs_free(fs);
    market_free(m);
}

Test(ml_label, undefined_feature_and_last_bar)
{
    /* entry at 40: SMA50 undefined -> dropped; entry at the last bar: no t+1 */
    tb_market *m = market_new(TB_FREQ_1D, 1, 100);
    add_symbol(m, "AAA", 100, NULL, 0);
    market_finish(m);
    fs_store *fs = fs_build(m);
    uint8_t *sig = xcalloc(m->n_bars, 1);
    sig[40] = 1;
    sig[99] = 1;
    ml_label_params lp;
    ml_label_defaults(&lp);
    ml_dataset d;
    tb_error err = {0};
    cr_assert_eq(ml_dataset_build(fs, sig, INT64_MIN, INT64_MAX, &lp, &d, &err), 0);
    cr_expect_eq(d.n, 0);
    cr_expect_eq(d.stats.n_entries, 2);
    cr_expect_eq(d.stats.n_undefined, 1);
    cr_expect_eq(d.stats.n_last_bar, 1);
    ml_dataset_free(&d);
    free(sig);
    fs_free(fs);
    market_free(m);
}

Test(ml_dataset, features_order_and_range)
{
    /* two symbols added as BBB, AAA with entries at 55 and 60 on the same
     * calendar: rows ordered by ts, then name -> (55,AAA) (55,BBB) (60,AAA) (60,BBB) */
    tb_market *m = market_new(TB_FREQ_1D, 2, 200);
    add_symbol(m, "BBB", 100, NULL, 0);
    add_symbol(m, "AAA", 100, NULL, 0);
    market_finish(m);
    fs_store *fs = fs_build(m);
    uint8_t *sig = xcalloc(m->n_bars, 1);
    for (size_t i = 0; i < 2; i++) {
        sig[m->offset[i] + 55] = 1;
        sig[m->offset[i] + 60] = 1;
    }
    ml_label_params lp;
    ml_label_defaults(&lp);
    ml_dataset d;
    tb_error err = {0};
    cr_assert_eq(ml_dataset_build(fs, sig, INT64_MIN, INT64_MAX, &lp, &d, &err), 0);
    cr_assert_eq(d.n, 4);
    const char *want_sym[4] = {"AAA", "BBB", "AAA", "BBB"};
    const int64_t want_ts[4] = {55, 55, 60, 60};
    for (size_t r = 0; r < 4; r++) {
        cr_expect_str_eq(d.symbols[d.sym[r]], want_sym[r], "row %zu", r);
        cr_expect_eq(d.ts[r], T0 + want_ts[r] * DAY, "row %zu", r);
    }
    /* flat bars: ret_* = 0, ratios 0, atr14_pct = 2/100, rsi 50, vol 0, volume_ratio 1 */
    const double want_x[ML_N_FEATURES] = {0, 0, 0, 0, 0, 0, 0.02, 50, 0, 1};
    for (size_t k = 0; k < ML_N_FEATURES; k++) cr_expect_float_eq(d.x[k][0], want_x[k], 1e-15, "%s", ml_feature_names[k]);
    ml_dataset_free(&d);
    /* the range keeps only the events whose signal bar lies in [lo, hi] */
    cr_assert_eq(ml_dataset_build(fs, sig, T0 + 56 * DAY, T0 + 60 * DAY, &lp, &d, &err), 0);
    cr_expect_eq(d.n, 2);
    cr_expect_eq(d.ts[0], T0 + 60 * DAY);
    ml_dataset_free(&d);
    /* label parameters are validated, naming the parameter */
    ml_label_params bad = {2, 0, 20};
    cr_expect_eq(ml_dataset_build(fs, sig, INT64_MIN, INT64_MAX, &bad, &d, &err), -1);
    cr_expect_str_eq(err.field, "sl");
    free(sig);
    fs_free(fs);
    market_free(m);
}

Test(ml_dataset, factor_store_matches_indicators)
{
    tb_market *m = market_new(TB_FREQ_1D, 1, 120);
    market_add_symbol(m, "AAA");
    for (size_t t = 0; t < 120; t++) {
        double c = 100 + 10 * sin((double)t / 7.0) + (double)(t % 5);
        market_push_bar(m, T0 + (int64_t)t * DAY, c - 0.5, c + 1.5, c - 2, c, 1000 + 37.0 * (double)(t % 11));
    }
    market_finish(m);
    fs_store *fs = fs_build(m);
    double want[120];
    ind_ema(m->close, 120, 50, want);
    const double *got = fs_series(fs, FS_EMA50, 0);
    for (size_t t = 0; t < 120; t++) {
        if (isnan(want[t])) cr_expect(isnan(got[t]));
        else cr_expect_eq(got[t], want[t], "EMA50[%zu]", t);
    }
    ind_vol(m->close, 120, 20, want);
    got = fs_series(fs, FS_VOL20, 0);
    for (size_t t = 20; t < 120; t++) cr_expect_eq(got[t], want[t], "VOL20[%zu]", t);
    cr_expect_str_eq(fs_factor_name(FS_ADV20), "adv20");
    fs_free(fs);
    market_free(m);
}

/* ------------------------------------------------------------ CSV */

static const char csv_ok[] =
    "ts,symbol,ret_1,ret_5,ret_20,sma20_ratio,sma50_ratio,ema_spread,atr14_pct,rsi14,vol20,volume_ratio,label,t1,ret\n"
    "2020-01-02,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55.5,0.01,1.5,1,2020-01-10,0.04\n"
    "2020-01-02,BBB,-0.1,,0.3,0.4,0.5,0.6,0.7,45,0.02,0.5,0,2020-01-06,-0.02\n"
    "2020-01-03,AAA,1e-3,0.2,0.3,0.4,0.5,0.6,0.7,50,0.03,1,0,2020-01-31,0.001\n";

Test(ml_csv, parse_write_roundtrip)
{
    ml_dataset d;
    tb_error err = {0};
    cr_assert_eq(ml_dataset_parse("mem.csv", csv_ok, strlen(csv_ok), &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.n, 3);
    cr_expect_eq(d.n_symbols, 2);
    cr_expect(isnan(d.x[1][1]), "an empty feature is missing");
    cr_expect_eq(d.label[0], 1);
    cr_expect_eq(d.x[0][2], 1e-3);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(ml_dataset_write_csv(f, &d), 0);
    fclose(f);
    cr_expect_str_eq(buf, "ts,symbol,ret_1,ret_5,ret_20,sma20_ratio,sma50_ratio,ema_spread,atr14_pct,rsi14,vol20,"
                          "volume_ratio,label,t1,ret\n"
                          "2020-01-02,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55.5,0.01,1.5,1,2020-01-10,0.04\n"
                          "2020-01-02,BBB,-0.1,,0.3,0.4,0.5,0.6,0.7,45,0.02,0.5,0,2020-01-06,-0.02\n"
                          "2020-01-03,AAA,0.001,0.2,0.3,0.4,0.5,0.6,0.7,50,0.03,1,0,2020-01-31,0.001\n");
    free(buf);
    ml_dataset_free(&d);
}

static void expect_parse_error(const char *text, const char *want)
{
    ml_dataset d;
    tb_error err = {0};
    cr_expect_eq(ml_dataset_parse("ds.csv", text, strlen(text), &d, &err), -1, "accepted: %s", text);
    cr_expect_eq(err.code, TB_EINVAL);
    cr_expect(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

#define HDR "ts,symbol,ret_1,ret_5,ret_20,sma20_ratio,sma50_ratio,ema_spread,atr14_pct,rsi14,vol20,volume_ratio,label,t1,ret\n"
#define ROW_A "2020-01-02,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,1,2020-01-10,0.04\n"

Test(ml_csv, errors_name_file_and_line)
{
    expect_parse_error("ts,symbol\n", "ds.csv:1:");
    expect_parse_error("", "ds.csv:1:");
    expect_parse_error(HDR, "ds.csv:2: the dataset has no rows");
    expect_parse_error(HDR ROW_A "2020-01-03,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,2,2020-01-10,0.04\n",
                       "ds.csv:3: label");
    expect_parse_error(HDR ROW_A ROW_A, "ds.csv:3: rows must be ordered");
    expect_parse_error(HDR "2020-01-02,BBB,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,1,2020-01-10,0.04\n" ROW_A,
                       "ds.csv:3: rows must be ordered");
    expect_parse_error(HDR "2020-01-02,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,1,2020-01-02,0.04\n",
                       "ds.csv:2: t1 must be after ts");
    expect_parse_error(HDR "2020-01-02,AAA,x,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,1,2020-01-10,0.04\n",
                       "ds.csv:2: ret_1 'x'");
    expect_parse_error(HDR "2020-01-02,AAA,0.1,0.2\n", "ds.csv:2: expected 15 fields, found 4");
    expect_parse_error(HDR "2020-02-30,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,1,2020-03-10,0.04\n",
                       "ds.csv:2: ts");
    expect_parse_error(HDR "2020-01-02,AAA,0.1,0.2,0.3,0.4,0.5,0.6,0.7,55,0.01,1.5,1,2020-01-10,\n", "ds.csv:2: ret");
}

Test(ml_csv, missing_file_names_it)
{
    ml_dataset d;
    tb_error err = {0};
    cr_expect_eq(ml_dataset_load("/nonexistent/ds.csv", &d, &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent/ds.csv") != NULL, "%s", err.msg);
}

/* ------------------------------------------------------------ CV plan */

Test(ml_cv, block_boundaries)
{
    /* n = 17, k = 5: 6 blocks start at floor(b*17/6) = 0, 2, 5, 8, 11, 14, 17 */
    const size_t want[7] = {0, 2, 5, 8, 11, 14, 17};
    for (size_t b = 0; b <= 6; b++) cr_expect_eq(ml_cv_block_start(b, 17, 6), want[b], "block %zu", b);
    int64_t ts[17], t1[17];
    for (size_t r = 0; r < 17; r++) {
        ts[r] = (int64_t)r * 10;
        t1[r] = ts[r] + 1; /* no overlaps across rows: nothing purged */
    }
    ml_cv_plan p;
    tb_error err = {0};
    cr_assert_eq(ml_cv_plan_make(ts, t1, 17, ML_CV_WALK_FORWARD, 5, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.n_folds, 5);
    for (size_t j = 0; j < 5; j++) {
        cr_expect_eq(p.folds[j].test_begin, want[j + 1]);
        cr_expect_eq(p.folds[j].test_end, want[j + 2]);
        cr_expect_eq(p.folds[j].n_train, want[j + 1], "fold %zu trains on blocks 0..j-1", j + 1);
        cr_expect_eq(p.folds[j].n_purged, 0);
        for (size_t i = 0; i < p.folds[j].n_train; i++) cr_expect_eq(p.folds[j].train[i], i);
    }
    ml_cv_plan_free(&p);
    /* purged k-fold cuts k blocks: floor(b*17/5) = 0, 3, 6, 10, 13, 17 */
    cr_assert_eq(ml_cv_plan_make(ts, t1, 17, ML_CV_PURGED_KFOLD, 5, &p, &err), 0, "%s", err.msg);
    const size_t wk[6] = {0, 3, 6, 10, 13, 17};
    for (size_t j = 0; j < 5; j++) {
        cr_expect_eq(p.folds[j].test_begin, wk[j]);
        cr_expect_eq(p.folds[j].test_end, wk[j + 1]);
    }
    cr_expect_eq(p.embargo, 1, "ceil(0.01 * 17) = 1");
    ml_cv_plan_free(&p);
    /* too few rows, bad k */
    cr_expect_eq(ml_cv_plan_make(ts, t1, 5, ML_CV_WALK_FORWARD, 5, &p, &err), -1);
    cr_expect_str_eq(err.field, "k_folds");
    cr_expect_eq(ml_cv_plan_make(ts, t1, 17, ML_CV_WALK_FORWARD, 1, &p, &err), -1);
}

/* Rows with overlapping label intervals: ts = r, t1 = r + len(r). */
static void overlapping_rows(int64_t *ts, int64_t *t1, size_t n)
{
    for (size_t r = 0; r < n; r++) {
        ts[r] = (int64_t)(r / 3) * DAY; /* three rows per day */
        t1[r] = ts[r] + (int64_t)(1 + (r * 7) % 13) * DAY;
    }
}

static int overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1) { return a0 <= b1 && a1 >= b0; }

Test(ml_cv, purging_walk_forward)
{
    enum { N = 300 };
    int64_t ts[N], t1[N];
    overlapping_rows(ts, t1, N);
    ml_cv_plan p;
    tb_error err = {0};
    cr_assert_eq(ml_cv_plan_make(ts, t1, N, ML_CV_WALK_FORWARD, 5, &p, &err), 0, "%s", err.msg);
    size_t total_purged = 0;
    for (size_t j = 0; j < p.n_folds; j++) {
        const ml_fold *f = &p.folds[j];
        /* the span: first ts of the block, latest t1 among its rows */
        int64_t s0 = ts[f->test_begin], s1 = t1[f->test_begin];
        for (size_t r = f->test_begin; r < f->test_end; r++)
            if (t1[r] > s1) s1 = t1[r];
        cr_expect_eq(f->span_first, s0);
        cr_expect_eq(f->span_last, s1);
        size_t purged = 0;
        for (size_t r = 0; r < f->test_begin; r++) purged += overlaps(ts[r], t1[r], s0, s1);
        cr_expect_eq(f->n_purged, purged, "fold %d", f->fold);
        cr_expect_eq(f->n_train + f->n_purged, f->test_begin);
        for (size_t i = 0; i < f->n_train; i++) {
            size_t r = f->train[i];
            cr_expect(r < f->test_begin, "walk-forward trains only on earlier blocks");
            cr_expect(!overlaps(ts[r], t1[r], s0, s1), "fold %d: training row %zu overlaps the test span", f->fold, r);
        }
        total_purged += f->n_purged;
    }
    cr_expect_gt(total_purged, 0, "the fixture must exercise purging");
    ml_cv_plan_free(&p);
}

Test(ml_cv, purged_kfold_embargo)
{
    enum { N = 250 }; /* embargo ceil(2.5) = 3 rows */
    int64_t ts[N], t1[N];
    for (size_t r = 0; r < N; r++) {
        ts[r] = (int64_t)r * DAY;
        t1[r] = ts[r] + DAY / 2; /* no overlaps: only the embargo removes rows */
    }
    ml_cv_plan p;
    tb_error err = {0};
    cr_assert_eq(ml_cv_plan_make(ts, t1, N, ML_CV_PURGED_KFOLD, 5, &p, &err), 0, "%s", err.msg);
    cr_expect_eq(p.embargo, 3);
    for (size_t j = 0; j < p.n_folds; j++) {
        const ml_fold *f = &p.folds[j];
        uint8_t in_train[N] = {0};
        for (size_t i = 0; i < f->n_train; i++) in_train[f->train[i]] = 1;
        for (size_t r = f->test_begin; r < f->test_end; r++) cr_expect(!in_train[r], "test row %zu in training", r);
        size_t emb = 0;
        for (size_t r = f->test_end; r < f->test_end + 3 && r < N; r++) {
            cr_expect(!in_train[r], "fold %d: embargoed row %zu is in the training set", f->fold, r);
            emb++;
        }
        cr_expect_eq(f->n_embargoed, emb);
        if (f->test_end + 3 < N) cr_expect(in_train[f->test_end + 3], "the row after the embargo trains");
        if (f->test_begin > 0) cr_expect(in_train[f->test_begin - 1], "rows before the block are not embargoed");
        cr_expect_eq(f->n_train, N - (f->test_end - f->test_begin) - emb);
    }
    ml_cv_plan_free(&p);
    /* with overlaps, purged rows on both sides of the block are removed too */
    int64_t ts2[N], t12[N];
    overlapping_rows(ts2, t12, N);
    cr_assert_eq(ml_cv_plan_make(ts2, t12, N, ML_CV_PURGED_KFOLD, 5, &p, &err), 0, "%s", err.msg);
    for (size_t j = 0; j < p.n_folds; j++) {
        const ml_fold *f = &p.folds[j];
        for (size_t i = 0; i < f->n_train; i++) {
            size_t r = f->train[i];
            cr_expect(!overlaps(ts2[r], t12[r], f->span_first, f->span_last));
            cr_expect(r < f->test_begin || r >= f->test_end + p.embargo);
        }
        cr_expect_eq(f->n_train + f->n_purged + f->n_embargoed, N - (f->test_end - f->test_begin));
    }
    ml_cv_plan_free(&p);
}

/* ------------------------------------------------------------ metrics */

Test(ml_metrics, auc_ties_and_hand_case)
{
    const double same[4] = {0.3, 0.3, 0.3, 0.3};
    const uint8_t y4[4] = {0, 1, 0, 1};
    cr_expect_eq(ml_auc(same, y4, 4), 0.5, "all tied: every pair counts half");
    /* positives 0.35, 0.8; negatives 0.1, 0.4: pairs (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) = 3/4 */
    const double p[4] = {0.1, 0.4, 0.35, 0.8};
    const uint8_t y[4] = {0, 0, 1, 1};
    cr_expect_eq(ml_auc(p, y, 4), 0.75);
    /* positives 0.5, 0.9; negatives 0.5, 0.2: 0.5 (tie) + 1 + 1 + 1 = 3.5 / 4 */
    const double pt[4] = {0.5, 0.5, 0.2, 0.9};
    const uint8_t yt[4] = {1, 0, 0, 1};
    cr_expect_eq(ml_auc(pt, yt, 4), 0.875);
    const uint8_t one_class[4] = {1, 1, 1, 1};
    cr_expect(isnan(ml_auc(p, one_class, 4)), "one class: undefined");
}

Test(ml_metrics, logloss_clipping)
{
    /* p = 0 with y = 1 costs -ln(1e-15); p = 1 with y = 0 costs -ln(1 - (1 - 1e-15))
     * where 1 - 1e-15 is the nearest double (so 1 - it is 9.992e-16, not 1e-15) */
    const double p[2] = {0.0, 1.0};
    const uint8_t y[2] = {1, 0};
    const double hi = 1.0 - 1e-15;
    double want = (-log(1e-15) - log(1.0 - hi)) / 2;
    cr_expect_float_eq(ml_logloss(p, y, 2), want, 1e-12);
    cr_expect(isfinite(ml_logloss(p, y, 2)));
    /* a perfect prediction costs -ln(1 - 1e-15), not 0 or -inf */
    const double q[1] = {1.0};
    const uint8_t y1[1] = {1};
    cr_expect_eq(ml_logloss(q, y1, 1), -log(1.0 - 1e-15));
    /* one unclipped case: -(ln 0.8 + ln 0.6) / 2 */
    const double r[2] = {0.8, 0.4};
    const uint8_t yr[2] = {1, 0};
    cr_expect_float_eq(ml_logloss(r, yr, 2), -(log(0.8) + log(0.6)) / 2, 1e-15);
}

Test(ml_metrics, classification_at_half)
{
    /* p >= 0.5 predicts 1: tp = 2 (0.5, 0.9), fp = 1 (0.7), fn = 1 (0.2), tn = 1 (0.1) */
    const double p[5] = {0.5, 0.9, 0.7, 0.2, 0.1};
    const uint8_t y[5] = {1, 1, 0, 1, 0};
    ml_metrics m;
    ml_metrics_compute(p, y, 5, &m);
    cr_expect_float_eq(m.accuracy, 3.0 / 5, 1e-15);
    cr_expect_float_eq(m.precision, 2.0 / 3, 1e-15);
    cr_expect_float_eq(m.recall, 2.0 / 3, 1e-15);
    cr_expect_float_eq(m.f1, 2.0 / 3, 1e-15);
    cr_expect_float_eq(m.base_rate, 3.0 / 5, 1e-15);
    double mu, sd;
    const double v[3] = {1, NAN, 3};
    ml_mean_std(v, 3, &mu, &sd);
    cr_expect_eq(mu, 2.0);
    cr_expect_float_eq(sd, sqrt(2.0), 1e-15, "ddof 1 over the defined entries");
}

/* ------------------------------------------------------------ training */

/* A deterministic toy dataset: the label leans on ret_1 and rsi14. */
static void toy_dataset(ml_dataset *d, size_t n)
{
    memset(d, 0, sizeof *d);
    d->freq = TB_FREQ_1D;
    d->n = d->cap = n;
    d->n_symbols = 1;
    d->symbols = xmalloc(sizeof *d->symbols);
    d->symbols[0] = xstrdup("TOY");
    d->ts = xmalloc(n * sizeof *d->ts);
    d->t1 = xmalloc(n * sizeof *d->t1);
    d->sym = xcalloc(n, sizeof *d->sym);
    d->label = xmalloc(n);
    d->ret = xcalloc(n, sizeof *d->ret);
    for (size_t k = 0; k < ML_N_FEATURES; k++) d->x[k] = xmalloc(n * sizeof(double));
    uint64_t s = 12345;
    for (size_t r = 0; r < n; r++) {
        d->ts[r] = T0 + (int64_t)r * DAY;
        d->t1[r] = d->ts[r] + 3 * DAY;
        for (size_t k = 0; k < ML_N_FEATURES; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            d->x[k][r] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        }
        d->label[r] = d->x[0][r] + 0.5 * d->x[7][r] + 0.3 * (double)((s >> 7) % 3) - 0.3 > 0;
    }
}

Test(ml_train, deterministic_model_bytes, .timeout = 120)
{
    ml_dataset d;
    toy_dataset(&d, 400);
    ml_train_params p;
    ml_train_params_defaults(&p);
    p.n_rounds = 25;
    ml_train_result a, b;
    tb_error err = {0};
    cr_assert_eq(ml_train_run(&d, &p, ML_CV_WALK_FORWARD, 3, NULL, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(ml_train_run(&d, &p, ML_CV_WALK_FORWARD, 3, NULL, &b, &err), 0, "%s", err.msg);
    cr_assert_gt(a.model_len, 100);
    cr_expect_eq(a.model_len, b.model_len);
    cr_expect(a.model_len == b.model_len && !memcmp(a.model_json, b.model_json, a.model_len),
              "same seed and data must give the same model bytes");
    cr_expect(strstr(a.model_json, "\"feature_names\":[\"ret_1\"") != NULL, "feature names saved in the model");
    for (size_t j = 0; j < a.n_folds; j++) {
        cr_expect_eq(a.folds[j].m.auc, b.folds[j].m.auc);
        cr_expect_gt(a.folds[j].m.auc, 0.5, "the toy label is learnable (fold %zu)", j + 1);
    }
    for (size_t k = 0; k < ML_N_FEATURES; k++) cr_expect_eq(a.perm_mean[k], b.perm_mean[k], "permutation RNG seeded");
    cr_expect_gt(a.perm_mean[0], a.perm_mean[3], "shuffling the informative ret_1 hurts more than noise");
    cr_expect_gt(a.total_gain[0], 0);
    cr_expect_eq(a.stages.n, 3 + 2, "cv_fold_1..3, train_final, importance");
    cr_expect_str_eq(a.stages.s[0].name, "cv_fold_1");

    /* another seed changes the model; another thread count does not */
    cr_assert_eq(p.nthread, 1, "the engine's default: one XGBoost thread");
    ml_train_params p2 = p;
    p2.nthread = 2;
    ml_train_result c;
    cr_assert_eq(ml_train_run(&d, &p2, ML_CV_WALK_FORWARD, 3, NULL, &c, &err), 0, "%s", err.msg);
    cr_expect(c.model_len == a.model_len && !memcmp(c.model_json, a.model_json, a.model_len), "nthread 2 vs 1");
    ml_train_result_free(&c);
    p2 = p;
    p2.seed = 8;
    cr_assert_eq(ml_train_run(&d, &p2, ML_CV_WALK_FORWARD, 3, NULL, &c, &err), 0, "%s", err.msg);
    cr_expect(c.model_len != a.model_len || memcmp(c.model_json, a.model_json, a.model_len), "seed matters");
    ml_train_result_free(&c);

    /* the final model is ml_model_train on all rows; its saved form loads and
     * predicts exactly like it */
    float *X = xmalloc(d.n * ML_N_FEATURES * sizeof *X);
    ml_dataset_to_f32(&d, X);
    ml_model *direct = NULL, *loaded = NULL;
    cr_assert_eq(ml_model_train(X, d.label, d.n, &p, NULL, &direct, &err), 0, "%s", err.msg);
    char *json = NULL;
    size_t len = 0;
    cr_assert_eq(ml_model_save_json(direct, &json, &len, &err), 0, "%s", err.msg);
    cr_expect(len == a.model_len && !memcmp(json, a.model_json, len), "final model = train on all rows");
    cr_assert_eq(ml_model_load_json(json, len, 1, &loaded, &err), 0, "%s", err.msg);
    double *pa = xmalloc(d.n * sizeof *pa), *pb = xmalloc(d.n * sizeof *pb);
    cr_assert_eq(ml_model_predict(direct, X, d.n, pa, &err), 0, "%s", err.msg);
    cr_assert_eq(ml_model_predict(loaded, X, d.n, pb, &err), 0, "%s", err.msg);
    cr_expect(!memcmp(pa, pb, d.n * sizeof *pa), "loaded model predicts identically");
    cr_expect(pa[0] > 0 && pa[0] < 1);
    ml_model_free(loaded);
    cr_expect_eq(ml_model_load_json("{not a model", 12, 1, &loaded, &err), -1);
    cr_expect_eq(err.code, TB_EINVAL);
    free(pa);
    free(pb);
    free(json);
    free(X);
    ml_model_free(direct);
    ml_train_result_free(&a);
    ml_train_result_free(&b);
    ml_dataset_free(&d);
}

Test(ml_train, params_validated_by_name)
{
    ml_train_params p;
    ml_train_params_defaults(&p);
    tb_error err = {0};
    cr_expect_eq(ml_train_params_set(&p, "eta", "0", &err), -1);
    cr_expect_str_eq(err.field, "eta");
    cr_expect_eq(ml_train_params_set(&p, "max_depth", "2.5", &err), -1);
    cr_expect_str_eq(err.field, "max_depth");
    cr_expect_eq(ml_train_params_set(&p, "subsample", "1.01", &err), -1);
    cr_expect_eq(ml_train_params_set(&p, "n_rounds", "abc", &err), -1);
    cr_expect_str_eq(err.field, "n_rounds");
    cr_expect_eq(ml_train_params_set(&p, "tree_method", "gpu_hist", &err), -1);
    cr_expect_eq(ml_train_params_set(&p, "booster", "dart", &err), -1);
    cr_expect_eq(ml_train_params_set(&p, "min_child_weight", "0", &err), 0);
    cr_expect_eq(ml_train_params_set(&p, "seed", "123", &err), 0);
    cr_expect_eq(p.seed, 123);
    cr_expect_eq(ml_train_params_validate(&p, &err), 0);
    p.colsample_bytree = 0;
    cr_expect_eq(ml_train_params_validate(&p, &err), -1);
    cr_expect_str_eq(err.field, "colsample_bytree");
}

Test(ml_train, correlation_matrix)
{
    ml_dataset d;
    toy_dataset(&d, 200);
    for (size_t r = 0; r < d.n; r++) {
        d.x[1][r] = 2 * d.x[0][r] + 1; /* r = +1 */
        d.x[2][r] = -3 * d.x[0][r];    /* r = -1 */
        d.x[9][r] = 4.0;               /* constant: undefined */
    }
    double c[ML_N_FEATURES * ML_N_FEATURES];
    tb_error err = {0};
    cr_assert_eq(ml_feature_corr(&d, c, &err), 0, "%s", err.msg);
    for (size_t k = 0; k < 9; k++) cr_expect_float_eq(c[k * ML_N_FEATURES + k], 1.0, 1e-12, "diagonal %zu", k);
    cr_expect_float_eq(c[0 * ML_N_FEATURES + 1], 1.0, 1e-12);
    cr_expect_float_eq(c[2 * ML_N_FEATURES + 0], -1.0, 1e-12);
    cr_expect_eq(c[3 * ML_N_FEATURES + 4], c[4 * ML_N_FEATURES + 3], "symmetric");
    cr_expect(fabs(c[3 * ML_N_FEATURES + 4]) < 0.3, "independent noise columns");
    cr_expect(isnan(c[9 * ML_N_FEATURES + 0]) && isnan(c[9 * ML_N_FEATURES + 9]));
    ml_dataset_free(&d);
}
