/* test_jobspec.c — request validation shared by the API and the worker:
 * every bad field is reported with its path, defaults are filled in, and
 * the normalised params rebuild the same config. */
#include <criterion/criterion.h>
#include <string.h>

#include "jobspec.h"

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    return j;
}

static int has_error(const js_errors *e, const char *field)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->e[i].field, field)) return 1;
    return 0;
}

static void expect_bad(const char *body, const char *field)
{
    json_t *j = parse(body);
    tb_jobspec s;
    js_errors e;
    cr_assert_eq(jobspec_from_backtest_json(j, &s, &e), -1, "accepted: %s", body);
    cr_assert(has_error(&e, field), "no error for '%s' in %s (first: %s: %s)", field, body, e.n ? e.e[0].field : "",
              e.n ? e.e[0].message : "");
    json_decref(j);
}

Test(jobspec, rejects_bad_fields)
{
    expect_bad("{}", "strategy");
    expect_bad("{\"strategy\":\"nope\"}", "strategy");
    expect_bad("{\"strategy\":7}", "strategy");
    expect_bad("{\"strategy\":\"trend_baseline\",\"colour\":1}", "colour");
    expect_bad("{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":50,\"slow\":20}}", "params.fast");
    expect_bad("{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":0}}", "params.fast");
    expect_bad("{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":2.5}}", "params.fast");
    expect_bad("{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":\"20\"}}", "params.fast");
    expect_bad("{\"strategy\":\"trend_baseline\",\"params\":{\"speed\":1}}", "params.speed");
    expect_bad("{\"strategy\":\"trend_baseline\",\"capital\":-5}", "capital");
    expect_bad("{\"strategy\":\"trend_baseline\",\"capital\":\"100\"}", "capital");
    expect_bad("{\"strategy\":\"trend_baseline\",\"capital\":1e300}", "capital");
    expect_bad("{\"strategy\":\"trend_baseline\",\"max_weight\":0}", "max_weight");
    expect_bad("{\"strategy\":\"trend_baseline\",\"rebalance_band\":2}", "rebalance_band");
    expect_bad("{\"strategy\":\"trend_baseline\",\"symbols\":[]}", "symbols");
    expect_bad("{\"strategy\":\"trend_baseline\",\"symbols\":[\"A\",\"A\"]}", "symbols[1]");
    expect_bad("{\"strategy\":\"trend_baseline\",\"symbols\":[\"../etc\"]}", "symbols[0]");
    expect_bad("{\"strategy\":\"trend_baseline\",\"symbols\":[\"A\"],\"universe\":3}", "symbols");
    expect_bad("{\"strategy\":\"trend_baseline\",\"universe\":0}", "universe");
    expect_bad("{\"strategy\":\"trend_baseline\",\"start\":\"2020-02-30\"}", "start");
    expect_bad("{\"strategy\":\"trend_baseline\",\"start\":\"2021-01-01\",\"end\":\"2020-01-01\"}", "start");
    expect_bad("{\"strategy\":\"trend_baseline\",\"freq\":\"5m\"}", "freq");
    expect_bad("{\"strategy\":\"trend_baseline\",\"data\":\"/etc\"}", "data");
    expect_bad("{\"strategy\":\"trend_baseline\",\"costs\":\"cheap\"}", "costs");
    expect_bad("{\"strategy\":\"trend_baseline\",\"costs\":{\"commission_bps\":-1}}", "costs.commission_bps");
    expect_bad("{\"strategy\":\"trend_baseline\",\"costs\":{\"fee\":1}}", "costs.fee");
    expect_bad("{\"strategy\":\"trend_baseline\",\"last_bars\":1}", "last_bars");
    expect_bad("[1,2]", "");
}

Test(jobspec, defaults_and_round_trip)
{
    json_t *j = parse("{\"strategy\":\"ema_trend\",\"params\":{\"band\":0.25},\"universe\":20,\"data\":\"synthetic\","
                      "\"start\":\"2016-01-04\",\"costs\":\"none\"}");
    tb_jobspec s, s2;
    js_errors e;
    cr_assert_eq(jobspec_from_backtest_json(j, &s, &e), 0, "%s: %s", e.e[0].field, e.e[0].message);
    cr_assert_str_eq(s.bt.strategy.def->name, "ema_trend");
    cr_assert_eq(strategy_param(&s.bt.strategy, "band"), 0.25);
    cr_assert_eq(strategy_param(&s.bt.strategy, "n"), 50);
    cr_assert_eq(s.bt.n_symbols, 20);
    cr_assert_eq(s.bt.sim.costs.commission_bps, 0);
    cr_assert_eq(s.bt.sim.start_capital, 10000);
    cr_assert_str_eq(s.bt.source.data, "synthetic");
    /* the normalised params are a valid body giving the same config */
    tb_error err = {0};
    cr_assert_eq(jobspec_from_params(s.normalized, &s2, &err), 0, "%s", err.msg);
    cr_assert_eq(s2.bt.start, s.bt.start);
    cr_assert_eq(s2.bt.end, s.bt.end);
    cr_assert_eq(s2.bt.n_symbols, 20);
    cr_assert_eq(strategy_param(&s2.bt.strategy, "band"), 0.25);
    cr_assert(json_equal(s.normalized, s2.normalized));
    jobspec_free(&s);
    jobspec_free(&s2);
    json_decref(j);
}

Test(jobspec, standard_runs)
{
    json_t *j = parse("{\"job\":\"EOD_SMALL\",\"iterations\":3,\"phase\":\"before\",\"overrides\":{\"data\":\"synthetic\"}}");
    tb_jobspec s;
    js_errors e;
    int it;
    const char *phase;
    cr_assert_eq(jobspec_from_run_json(j, &s, &it, &phase, &e), 0, "%s: %s", e.e[0].field, e.e[0].message);
    cr_assert_eq(it, 3);
    cr_assert_str_eq(phase, "before");
    cr_assert_eq(s.job, JS_JOB_EOD_SMALL);
    cr_assert(s.with_targets);
    cr_assert_eq(s.bt.last_bars, 504);
    cr_assert_eq(s.bt.n_symbols, 100);
    cr_assert_str_eq(s.bt.strategy.def->name, "ema_trend");
    cr_assert_str_eq(json_string_value(json_object_get(s.normalized, "job")), "EOD_SMALL");
    tb_jobspec s2;
    tb_error err = {0};
    cr_assert_eq(jobspec_from_params(s.normalized, &s2, &err), 0, "%s", err.msg);
    cr_assert_eq(s2.job, JS_JOB_EOD_SMALL);
    cr_assert_eq(s2.bt.last_bars, 504);
    jobspec_free(&s);
    jobspec_free(&s2);
    json_decref(j);

    const char *bad[][2] = {
        {"{\"job\":\"NOPE\"}", "job"},
        {"{}", "job"},
        {"{\"job\":\"EOD_SMALL\",\"iterations\":0}", "iterations"},
        {"{\"job\":\"EOD_SMALL\",\"iterations\":\"2\"}", "iterations"},
        {"{\"job\":\"EOD_SMALL\",\"phase\":\"\"}", "phase"},
        {"{\"job\":\"EOD_SMALL\",\"extra\":1}", "extra"},
        {"{\"job\":\"BACKTEST_MEDIUM\",\"overrides\":{\"capital\":0}}", "overrides.capital"},
        {"{\"job\":\"BACKTEST_MEDIUM\",\"overrides\":{\"strategy\":\"ema_trend\"}}", "overrides.strategy"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *b = parse(bad[k][0]);
        cr_assert_eq(jobspec_from_run_json(b, &s, &it, &phase, &e), -1, "accepted %s", bad[k][0]);
        cr_assert(has_error(&e, bad[k][1]), "%s: want error on %s, got %s", bad[k][0], bad[k][1], e.e[0].field);
        json_decref(b);
    }
}

static void expect_bad_model(const char *body, const char *field)
{
    json_t *j = parse(body);
    tb_jobspec s;
    js_errors e;
    cr_assert_eq(jobspec_from_model_json(j, &s, &e), -1, "accepted: %s", body);
    cr_assert(has_error(&e, field), "no error for '%s' in %s (first: %s: %s)", field, body, e.n ? e.e[0].field : "",
              e.n ? e.e[0].message : "");
    json_decref(j);
}

Test(jobspec, model_bodies)
{
    json_t *j = parse("{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"data_seed\":7,\"universe\":30,"
                      "\"pt\":1.5,\"h\":10,\"n_rounds\":40,\"eta\":0.1,\"seed\":3,\"k_folds\":4,\"cv\":\"purged_kfold\"}");
    tb_jobspec s, s2;
    js_errors e;
    cr_assert_eq(jobspec_from_model_json(j, &s, &e), 0, "%s: %s", e.e[0].field, e.e[0].message);
    cr_assert_eq(s.job, JS_JOB_MODEL);
    cr_assert_eq(s.bt.source.seed, 7);
    cr_assert_eq(s.bt.n_symbols, 30);
    cr_assert_eq(s.ml.labels.pt, 1.5);
    cr_assert_eq(s.ml.labels.sl, 1.0);
    cr_assert_eq(s.ml.labels.h, 10);
    cr_assert_eq(s.ml.train.n_rounds, 40);
    cr_assert_eq(s.ml.train.eta, 0.1);
    cr_assert_eq(s.ml.train.seed, 3);
    cr_assert_eq(s.ml.train.max_depth, 4);
    cr_assert_eq(s.ml.k_folds, 4);
    cr_assert_eq(s.ml.cv, ML_CV_PURGED_KFOLD);
    /* stored params rebuild the same spec by the run's kind */
    tb_error err = {0};
    cr_assert_eq(jobspec_from_stored("model", s.normalized, &s2, &err), 0, "%s", err.msg);
    cr_assert(json_equal(s.normalized, s2.normalized));
    cr_assert_eq(s2.ml.train.n_rounds, 40);
    cr_assert_eq(s2.ml.cv, ML_CV_PURGED_KFOLD);
    jobspec_free(&s);
    jobspec_free(&s2);
    json_decref(j);

    expect_bad_model("{}", "strategy");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"capital\":5}", "capital");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"pt\":0}", "pt");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"sl\":\"1\"}", "sl");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"h\":0}", "h");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"h\":2.5}", "h");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"max_depth\":33}", "max_depth");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"eta\":0}", "eta");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"eta\":1.5}", "eta");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"n_rounds\":0}", "n_rounds");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"subsample\":0}", "subsample");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"colsample_bytree\":2}", "colsample_bytree");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"min_child_weight\":-1}", "min_child_weight");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"seed\":-1}", "seed");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"data_seed\":-1}", "data_seed");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"k_folds\":1}", "k_folds");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"k_folds\":11}", "k_folds");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"cv\":\"kfold\"}", "cv");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"tree_method\":\"gpu\"}", "tree_method");
    expect_bad_model("{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":60}}", "params.fast");
}

Test(jobspec, ml_job_and_meta_filter)
{
    json_t *j = parse("{\"job\":\"ML_JOB\",\"overrides\":{\"data\":\"synthetic\",\"universe\":40,\"n_rounds\":30}}");
    tb_jobspec s, s2;
    js_errors e;
    int it;
    const char *phase;
    cr_assert_eq(jobspec_from_run_json(j, &s, &it, &phase, &e), 0, "%s: %s", e.e[0].field, e.e[0].message);
    cr_assert_eq(s.job, JS_JOB_ML_JOB);
    cr_assert_str_eq(s.bt.strategy.def->name, "trend_baseline");
    cr_assert_eq(s.bt.n_symbols, 40);
    cr_assert_eq(s.ml.train.n_rounds, 30);
    cr_assert_eq(s.ml.k_folds, 5);
    tb_error err = {0};
    cr_assert_eq(jobspec_from_stored("run", s.normalized, &s2, &err), 0, "%s", err.msg);
    cr_assert_eq(s2.job, JS_JOB_ML_JOB);
    cr_assert_eq(s2.ml.train.n_rounds, 30);
    cr_assert(json_equal(s.normalized, s2.normalized));
    jobspec_free(&s);
    jobspec_free(&s2);
    json_decref(j);
    j = parse("{\"job\":\"ML_JOB\",\"overrides\":{\"eta\":7}}");
    cr_assert_eq(jobspec_from_run_json(j, &s, &it, &phase, &e), -1);
    cr_assert(has_error(&e, "overrides.eta"));
    json_decref(j);

    j = parse("{\"strategy\":\"ema_trend\",\"meta_filter\":{\"model_id\":12,\"threshold\":0.6}}");
    cr_assert_eq(jobspec_from_backtest_json(j, &s, &e), 0, "%s: %s", e.e[0].field, e.e[0].message);
    cr_assert_eq(s.bt.meta.model_id, 12);
    cr_assert_eq(s.bt.meta.threshold, 0.6);
    cr_assert_null(s.bt.meta.model);
    cr_assert_eq(jobspec_from_params(s.normalized, &s2, &err), 0, "%s", err.msg);
    cr_assert_eq(s2.bt.meta.model_id, 12);
    cr_assert_eq(s2.bt.meta.threshold, 0.6);
    jobspec_free(&s);
    jobspec_free(&s2);
    json_decref(j);
    expect_bad("{\"strategy\":\"ema_trend\",\"meta_filter\":{\"threshold\":0.5}}", "meta_filter.model_id");
    expect_bad("{\"strategy\":\"ema_trend\",\"meta_filter\":{\"model_id\":0}}", "meta_filter.model_id");
    expect_bad("{\"strategy\":\"ema_trend\",\"meta_filter\":{\"model_id\":\"3\"}}", "meta_filter.model_id");
    expect_bad("{\"strategy\":\"ema_trend\",\"meta_filter\":{\"model_id\":3,\"threshold\":1.5}}",
               "meta_filter.threshold");
    expect_bad("{\"strategy\":\"ema_trend\",\"meta_filter\":{\"model_id\":3,\"x\":1}}", "meta_filter.x");
    expect_bad("{\"strategy\":\"ema_trend\",\"meta_filter\":[1]}", "meta_filter");
    expect_bad("{\"strategy\":\"buy_and_hold\",\"meta_filter\":{\"model_id\":3}}", "meta_filter");
}
