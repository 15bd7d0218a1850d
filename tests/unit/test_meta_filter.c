/* test_meta_filter.c — the SPEC §3 meta_filter: the rule on hand-built
 * series (entries pass or not, holding, exits, re-entries, undefined
 * features), and the engine step inside backtest_run with a small model
 * trained on synthetic data: threshold 0 gives the base run's orders,
 * threshold 1 trades nothing, anything between keeps a subset of entries;
 * the report states the training span's overlap with the backtest range. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "backtest.h"
#include "meta_filter.h"
#include "ml_dataset.h"
#include "ml_train.h"
#include "timeutil.h"

Test(meta_filter, rule_on_a_hand_built_series)
{
    /*            t:  0  1  2  3  4  5  6  7  8  9 10 11 12 */
    const uint8_t s[] = {1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1};
    const double p[] = {0.9, 0.1, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9, NAN, 0.9, 0.5, 0.5, 0.0};
    /* t0: entry (s_{-1}=0), p .9 >= .5 -> 1; t1 holds 1 although p is low;
     * t2 exit; t3 entry with p .3 -> 0 and t4, t5 hold 0 (no new entry);
     * t8 entry with undefined features -> 0, t9 holds 0; t11 entry with
     * p = threshold passes (>=), t12 holds. */
    const uint8_t want[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    uint8_t f[13];
    meta_filter_series(s, p, 13, 0.5, f);
    for (size_t t = 0; t < 13; t++) cr_assert_eq(f[t], want[t], "t=%zu: f=%d, want %d", t, f[t], want[t]);

    /* threshold 0: every defined entry passes, so f = s except where the entry was undefined */
    const uint8_t want0[] = {1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1};
    meta_filter_series(s, p, 13, 0.0, f);
    cr_assert_arr_eq(f, want0, 13);
    /* threshold 1: nothing below 1 passes */
    meta_filter_series(s, p, 13, 1.0, f);
    for (size_t t = 0; t < 13; t++) cr_assert_eq(f[t], 0);
    /* f <= s everywhere, whatever the threshold */
    for (double th = 0; th <= 1.0; th += 0.05) {
        meta_filter_series(s, p, 13, th, f);
        for (size_t t = 0; t < 13; t++) cr_assert(f[t] <= s[t]);
    }
}

/* A small model on a synthetic dataset (fast: few rounds). */
static ml_model *train_small(const tb_backtest_config *c, int64_t *first, int64_t *last)
{
    tb_error err = {0};
    ml_inputs in;
    ml_dataset d;
    ml_label_params lp;
    ml_label_defaults(&lp);
    cr_assert_eq(ml_inputs_load(c, NULL, NULL, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(ml_dataset_build(in.fs, in.sig, in.lo, in.hi, &lp, &d, &err), 0, "%s", err.msg);
    cr_assert_gt(d.n, 100);
    ml_train_params p;
    ml_train_params_defaults(&p);
    p.n_rounds = 20;
    p.nthread = 1;
    float *X = malloc(d.n * ML_N_FEATURES * sizeof *X);
    ml_dataset_to_f32(&d, X);
    ml_model *m = NULL;
    cr_assert_eq(ml_model_train(X, d.label, d.n, &p, NULL, &m, &err), 0, "%s", err.msg);
    *first = d.ts[0];
    *last = d.t1[0];
    for (size_t r = 0; r < d.n; r++)
        if (d.t1[r] > *last) *last = d.t1[r];
    free(X);
    ml_dataset_free(&d);
    ml_inputs_free(&in);
    return m;
}

static void config(tb_backtest_config *c)
{
    backtest_config_defaults(c);
    c->source.data = "synthetic";
    c->n_symbols = 12;
}

/* The entries (BUY orders of a symbol without a position) of a run. */
static size_t count_buys(const tb_backtest *bt)
{
    size_t n = 0;
    for (size_t k = 0; k < bt->sim.orders.n; k++) n += !bt->sim.orders.sell[k];
    return n;
}

Test(meta_filter, inside_the_backtest, .timeout = 120)
{
    tb_backtest_config c;
    tb_error err = {0};
    int64_t first, last;
    config(&c);
    ml_model *m = train_small(&c, &first, &last);

    tb_backtest base, b0, b1, bmid;
    cr_assert_eq(backtest_run(&c, NULL, &base, &err), 0, "%s", err.msg);
    cr_assert_eq(base.meta.applied, 0);

    c.meta.model = m;
    c.meta.source = "test model";
    c.meta.threshold = 0.0;
    cr_assert_eq(backtest_run(&c, NULL, &b0, &err), 0, "%s", err.msg);
    cr_assert_eq(b0.meta.applied, 1);
    cr_assert_gt(b0.meta.n_entries, 0);
    cr_assert_eq(b0.meta.n_undefined, 0, "trend_baseline 20/50 entries all have defined features");
    cr_assert_eq(b0.meta.n_passed, b0.meta.n_entries);
    /* threshold 0 = the base run, order for order */
    cr_assert_eq(b0.sim.orders.n, base.sim.orders.n);
    for (size_t k = 0; k < base.sim.orders.n; k++) {
        cr_assert_eq(b0.sim.orders.qty[k], base.sim.orders.qty[k]);
        cr_assert_eq(b0.sim.orders.sym[k], base.sim.orders.sym[k]);
    }
    cr_assert_eq(b0.metrics.total_return, base.metrics.total_return);
    cr_assert_eq(b0.meta.base.total_return, base.metrics.total_return, "the comparison run is the base run");

    /* threshold 1 trades nothing */
    c.meta.threshold = 1.0;
    cr_assert_eq(backtest_run(&c, NULL, &b1, &err), 0, "%s", err.msg);
    cr_assert_eq(b1.meta.n_passed, 0);
    cr_assert_eq(b1.sim.orders.n, 0);
    cr_assert_eq(b1.meta.base.n_orders, base.metrics.n_orders);

    /* a threshold in between keeps a subset of the entries */
    c.meta.threshold = 0.5;
    c.meta.train_first_ts = first;
    c.meta.train_last_ts = last;
    cr_assert_eq(backtest_run(&c, NULL, &bmid, &err), 0, "%s", err.msg);
    cr_assert_leq(bmid.meta.n_passed, bmid.meta.n_entries);
    cr_assert_leq(count_buys(&bmid), count_buys(&base));
    cr_assert_eq(meta_filter_overlap(&c.meta, bmid.panel.ts[0], bmid.panel.ts[bmid.panel.T - 1]), 1);

    /* the report says so */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tb_report_info info = {"t", "backtest", 0, 0, 0};
    cr_assert_eq(art_write_report(f, &bmid, &c, &info), 0);
    fclose(f);
    cr_assert(strstr(text, "## Meta-model filter"), "%s", text);
    cr_assert(strstr(text, "| overlaps the backtest range | **yes** |"), "%s", text);
    cr_assert(strstr(text, "Filtered against the unfiltered base strategy"));
    free(text);

    /* a training span before the backtest range does not overlap */
    tb_meta_config before = c.meta;
    before.train_first_ts = bmid.panel.ts[0] - 10 * TU_DAY;
    before.train_last_ts = bmid.panel.ts[0] - TU_DAY;
    cr_assert_eq(meta_filter_overlap(&before, bmid.panel.ts[0], bmid.panel.ts[bmid.panel.T - 1]), 0);
    before.train_last_ts = INT64_MIN;
    cr_assert_eq(meta_filter_overlap(&before, bmid.panel.ts[0], bmid.panel.ts[bmid.panel.T - 1]), -1);

    /* a model id without a loaded model is refused */
    tb_backtest bx;
    c.meta.model = NULL;
    c.meta.model_id = 7;
    cr_assert_eq(backtest_run(&c, NULL, &bx, &err), -1);
    cr_assert_str_eq(err.field, "meta_filter.model_id");

    backtest_free(&base);
    backtest_free(&b0);
    backtest_free(&b1);
    backtest_free(&bmid);
    ml_model_free(m);
}
