/*
 * test_api_models — the model registry end to end: the real
 * tradebench-server and tradebench-worker against PostgreSQL. POST /models
 * on a small synthetic universe trains a model; GET /models/{id} has its
 * per-fold CV metrics, importances, correlation matrix and data range; the
 * dataset CSV and the model JSON downloaded over HTTP are byte-identical to
 * `tradebench build-ml-dataset` / `train-meta-model` for the same
 * configuration; predict agrees with the engine (1e-6) and names bad rows;
 * meta-filtered backtests (threshold 0 = the base run, 1 = no trade, 0.5 =
 * fewer entries); DELETE (409 while a backtest waits for the model, then
 * 204 and 404). A second test runs POST /runs {"job":"ML_JOB"} and checks
 * its cv_fold_* stages. Each test lives in its own schema.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/ml_dataset.h"
#include "engine/ml_train.h"
#include "harness.h"
#include "test_api_client.h"

#ifndef TB_WORKER_BIN
#error "TB_WORKER_BIN must be defined by CMake"
#endif

static struct api_stack stack;

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    api_stack_fini(&stack);
    curl_global_cleanup();
}

TestSuite(api_models, .init = init, .fini = fini, .timeout = 300);

static void up(const char *tag)
{
    api_stack_up(&stack, tag,
                 (const char *const[]){ "TB_WORKER_CONCURRENCY=1", "OMP_WAIT_POLICY=passive", NULL });
    mkdir(stack.outdir, 0700);
}

static void down(void)
{
    api_stack_down(&stack);
}

/* Poll GET /runs/{id} until final; the run must have succeeded. */
static void wait_succeeded(long long id, double timeout_s)
{
    json_t *run = api_poll_run(&stack, "/runs", id, NULL, timeout_s, NULL, NULL);
    const char *st = json_string_value(json_object_get(run, "status"));
    if (strcmp(st, "succeeded")) {
        char *log = harness_slurp(stack.worker_log);
        cr_assert_fail("run %lld is %s (%s); worker log:\n%s", id, st, json_string_value(json_object_get(run, "error")),
                       log ? log : "");
    }
    json_decref(run);
}

static long long post(const char *path, const char *body, const char *want_location_prefix)
{
    struct api_resp r;
    api_call(&stack.srv, "POST", path, body, NULL, NULL, &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    if (want_location_prefix) {
        char loc[64];
        snprintf(loc, sizeof loc, "%s%lld", want_location_prefix, id);
        cr_assert_str_eq(r.location, loc);
    }
    api_resp_free(&r);
    return id;
}

/* Count order rows of a backtest's orders CSV (header excluded). */
static long orders_rows(long long id)
{
    struct api_resp r;
    char path[96];
    snprintf(path, sizeof path, "/backtests/%lld/orders?format=csv", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    long n = -1;
    for (size_t i = 0; i < r.len; i++)
        n += r.body[i] == '\n';
    api_resp_free(&r);
    return n;
}

/* "| passed (p ≥ threshold) | N |" and "| entry signals ... | N |" of a report. */
static long report_count(const char *text, const char *label)
{
    const char *p = strstr(text, label);
    cr_assert_not_null(p, "report has no '%s'", label);
    p = strchr(p + strlen(label), '|');
    cr_assert_not_null(p);
    return strtol(p + 1, NULL, 10);
}

#define MODEL_BODY "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":36,\"n_rounds\":40}"

Test(api_models, train_describe_download_predict_filter_delete)
{
    struct api_resp r;
    char path[160], file[512];
    up("api_models");

    /* bad bodies: 400 naming the field, nothing stored */
    static const char *const bad[][2] = {
        { "{\"strategy\":\"trend_baseline\",\"eta\":0}", "eta" },
        { "{\"strategy\":\"trend_baseline\",\"k_folds\":1}", "k_folds" },
        { "{\"strategy\":\"trend_baseline\",\"cv\":\"kfold\"}", "cv" },
        { "{\"strategy\":\"trend_baseline\",\"pt\":-1}", "pt" },
        { "{\"strategy\":\"trend_baseline\",\"capital\":5}", "capital" },
        { "{\"strategy\":\"trend_baseline\",\"universe\":501,\"data\":\"synthetic\"}", "universe" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        api_call(&stack.srv, "POST", "/models", bad[i][0], NULL, NULL, &r);
        api_expect_field_error(&r, bad[i][1]);
        api_resp_free(&r);
    }
    cr_assert_eq(api_sql_int(stack.db, "SELECT count(*) FROM runs", 0, NULL), 0);

    /* train */
    long long id = post("/models", MODEL_BODY, "/models/");
    char *bargv[] = { (char *)TB_CLI_BIN, "build-ml-dataset", "--strategy", "trend_baseline", "--data", "synthetic",
                      "--symbols", "36", "--out", stack.outdir, NULL };
    api_stack_cli(&stack, bargv, 180000);
    snprintf(file, sizeof file, "%s/dataset_trend_baseline_1d.csv", stack.outdir);
    char trdir[300];
    snprintf(trdir, sizeof trdir, "%s/train", stack.outdir);
    char *targv[] = { (char *)TB_CLI_BIN, "train-meta-model", "--strategy", "trend_baseline", "--dataset", file,
                      "--n-rounds", "40", "--out", trdir, NULL };
    api_stack_cli(&stack, targv, 180000);
    wait_succeeded(id, 120);

    /* describe */
    snprintf(path, sizeof path, "/models/%lld", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *m = api_json(&r);
    api_resp_free(&r);
    cr_assert_str_eq(json_string_value(json_object_get(m, "status")), "trained");
    cr_assert_eq(json_integer_value(json_object_get(m, "run_id")), id);
    json_t *cv = json_object_get(m, "cv");
    cr_assert_str_eq(json_string_value(json_object_get(cv, "method")), "walk_forward");
    cr_assert_eq(json_array_size(json_object_get(cv, "folds")), 5);
    json_t *f1 = json_array_get(json_object_get(cv, "folds"), 0);
    cr_assert(json_is_number(json_object_get(f1, "auc")));
    cr_assert(json_is_number(json_object_get(f1, "logloss")));
    cr_assert_gt(json_integer_value(json_object_get(f1, "n_train")), 0);
    cr_assert(json_is_number(json_object_get(json_object_get(cv, "mean"), "auc")));
    cr_assert(json_is_number(json_object_get(json_object_get(cv, "std"), "auc")));
    json_t *imp = json_object_get(m, "importances");
    cr_assert_eq(json_array_size(imp), ML_N_FEATURES);
    for (size_t k = 0; k < ML_N_FEATURES; k++) {
        json_t *e = json_array_get(imp, k);
        cr_assert_str_eq(json_string_value(json_object_get(e, "feature")), ml_feature_names[k]);
        cr_assert(json_is_number(json_object_get(e, "gain")));
        cr_assert(json_is_number(json_object_get(e, "permutation_mean")));
    }
    json_t *corr = json_object_get(json_object_get(m, "correlation"), "matrix");
    cr_assert_eq(json_array_size(corr), ML_N_FEATURES);
    cr_assert_float_eq(json_number_value(json_array_get(json_array_get(corr, 3), 3)), 1.0, 1e-9);
    json_t *range = json_object_get(m, "data_range");
    cr_assert(json_is_string(json_object_get(range, "train_first_ts")));
    cr_assert(json_is_string(json_object_get(range, "train_last_ts")));
    cr_assert_eq(json_array_size(json_object_get(m, "artifacts")), 6);
    cr_assert(json_is_string(json_object_get(m, "created_at")));
    json_decref(m);

    /* the list, with CV means; a cursor of another list is refused */
    api_call(&stack.srv, "GET", "/models?limit=1", NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *list = api_json(&r);
    api_resp_free(&r);
    json_t *item = json_array_get(json_object_get(list, "items"), 0);
    cr_assert_eq(json_integer_value(json_object_get(item, "id")), id);
    cr_assert(json_is_number(json_object_get(json_object_get(json_object_get(item, "cv"), "mean"), "auc")));
    cr_assert(json_is_null(json_object_get(list, "next_cursor")));
    json_decref(list);
    api_call(&stack.srv, "GET", "/models?cursor=cjE6MTc5NTczNjgxODYyMDMzNzoxNzY", NULL, NULL, NULL, &r);
    api_expect_field_error(&r, "cursor");
    api_resp_free(&r);

    /* downloads: byte for byte what the command line writes */
    snprintf(path, sizeof path, "/models/%lld/artifacts/dataset_trend_baseline_1d.csv", id);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/runs/%lld/artifacts/dataset_trend_baseline_1d.csv", id);
    api_same_as_file(&stack.srv, path, file);
    char mfile[512];
    snprintf(mfile, sizeof mfile, "%s/trend_baseline_meta_model.json", trdir);
    snprintf(path, sizeof path, "/models/%lld/artifacts/trend_baseline_meta_model.json", id);
    api_same_as_file(&stack.srv, path, mfile);
    snprintf(file, sizeof file, "%s/cv_metrics.csv", trdir);
    snprintf(path, sizeof path, "/models/%lld/artifacts/cv_metrics.csv", id);
    api_same_as_file(&stack.srv, path, file);
    snprintf(file, sizeof file, "%s/feature_importance.csv", trdir);
    snprintf(path, sizeof path, "/models/%lld/artifacts/feature_importance.csv", id);
    api_same_as_file(&stack.srv, path, file);
    snprintf(path, sizeof path, "/models/%lld/artifacts/nope.csv", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 404, "not-found");
    api_resp_free(&r);
    snprintf(path, sizeof path, "/models/%lld/report", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strncmp(r.content_type, "text/markdown", 13) == 0, "%s", r.content_type);
    cr_assert(strncmp(r.body, "# Meta-model training report", 28) == 0, "%.80s", r.body);
    cr_assert(strstr(r.body, "cv_fold_3"), "the report's profile lists the folds");
    api_resp_free(&r);

    /* predict: the engine's probabilities for the first rows of the dataset */
    ml_dataset d;
    tb_error err = { 0 };
    snprintf(file, sizeof file, "%s/dataset_trend_baseline_1d.csv", stack.outdir);
    cr_assert_eq(ml_dataset_load(file, &d, &err), 0, "%s", err.msg);
    enum { NP = 5 };
    cr_assert_geq(d.n, NP);
    char *model_text = harness_slurp(mfile);
    ml_model *mm = NULL;
    cr_assert_eq(ml_model_load_json(model_text, strlen(model_text), 1, &mm, &err), 0, "%s", err.msg);
    float X[NP * ML_N_FEATURES];
    double want[NP];
    json_t *rows = json_array();
    for (size_t i = 0; i < NP; i++) {
        json_t *row = json_object();
        for (size_t k = 0; k < ML_N_FEATURES; k++) {
            X[i * ML_N_FEATURES + k] = (float)d.x[k][i];
            json_object_set_new(row, ml_feature_names[k], json_real(d.x[k][i]));
        }
        json_array_append_new(rows, row);
    }
    cr_assert_eq(ml_model_predict(mm, X, NP, want, &err), 0, "%s", err.msg);
    char *body = json_dumps(rows, JSON_COMPACT | JSON_REAL_PRECISION(17));
    snprintf(path, sizeof path, "/models/%lld/predict", id);
    for (int round = 0; round < 2; round++) { /* a cache miss, then a hit */
        api_call(&stack.srv, "POST", path, body, NULL, NULL, &r);
        api_expect(&r, 200);
        json_t *res = api_json(&r);
        json_t *p = json_object_get(res, "probabilities");
        cr_assert_eq(json_array_size(p), NP);
        for (size_t i = 0; i < NP; i++)
            cr_assert(fabs(json_number_value(json_array_get(p, i)) - want[i]) <= 1e-6, "row %zu: %g vs %g", i,
                      json_number_value(json_array_get(p, i)), want[i]);
        json_decref(res);
        api_resp_free(&r);
    }
    free(body);
    /* the same rows as {"rows": [...]} */
    json_t *wrapped = json_pack("{s:O}", "rows", rows);
    body = json_dumps(wrapped, JSON_COMPACT | JSON_REAL_PRECISION(17));
    api_call(&stack.srv, "POST", path, body, NULL, NULL, &r);
    api_expect(&r, 200);
    api_resp_free(&r);
    free(body);
    json_decref(wrapped);
    /* bad rows: 400 naming rows[i].field */
    json_t *bad_rows = json_deep_copy(rows);
    json_object_del(json_array_get(bad_rows, 3), "rsi14");
    json_object_set_new(json_array_get(bad_rows, 1), "vol20", json_string("high"));
    json_object_set_new(json_array_get(bad_rows, 4), "colour", json_integer(1));
    body = json_dumps(bad_rows, JSON_COMPACT);
    api_call(&stack.srv, "POST", path, body, NULL, NULL, &r);
    api_expect_field_error(&r, "rows[3].rsi14");
    api_expect_field_error(&r, "rows[1].vol20");
    api_expect_field_error(&r, "rows[4].colour");
    api_resp_free(&r);
    free(body);
    json_decref(bad_rows);
    api_call(&stack.srv, "POST", path, "[]", NULL, NULL, &r);
    api_expect_field_error(&r, "rows");
    api_resp_free(&r);
    api_call(&stack.srv, "POST", path, "{\"rows\":[{}],\"extra\":1}", NULL, NULL, &r);
    api_expect_field_error(&r, "extra");
    api_resp_free(&r);
    /* more than 10,000 rows: 413 */
    size_t big_n = 10001, blen = 0;
    char *big = malloc(big_n * 3 + 3);
    big[blen++] = '[';
    for (size_t i = 0; i < big_n; i++) {
        memcpy(big + blen, i ? ",{}" : "{}", i ? 3 : 2);
        blen += i ? 3 : 2;
    }
    big[blen++] = ']';
    big[blen] = '\0';
    api_call(&stack.srv, "POST", path, big, NULL, NULL, &r);
    api_expect_problem(&r, 413, "payload-too-large");
    api_resp_free(&r);
    free(big);
    api_call(&stack.srv, "POST", "/models/999999/predict", "[{}]", NULL, NULL, &r);
    api_expect_problem(&r, 404, "not-found");
    api_resp_free(&r);
    json_decref(rows);
    ml_model_free(mm);
    free(model_text);
    ml_dataset_free(&d);

    /* meta-filtered backtests on the training universe */
    char bt[400];
    long long base = post("/backtests", "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":36}",
                          "/backtests/");
    snprintf(bt, sizeof bt,
             "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":36,"
             "\"meta_filter\":{\"model_id\":%lld,\"threshold\":0}}",
             id);
    long long th0 = post("/backtests", bt, NULL);
    snprintf(bt, sizeof bt,
             "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":36,"
             "\"meta_filter\":{\"model_id\":%lld,\"threshold\":1}}",
             id);
    long long th1 = post("/backtests", bt, NULL);
    snprintf(bt, sizeof bt,
             "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":36,"
             "\"meta_filter\":{\"model_id\":%lld,\"threshold\":0.3}}",
             id);
    long long mid = post("/backtests", bt, NULL);
    wait_succeeded(base, 60);
    wait_succeeded(th0, 60);
    wait_succeeded(th1, 60);
    wait_succeeded(mid, 60);
    /* threshold 0: the base run's orders, byte for byte */
    snprintf(path, sizeof path, "/backtests/%lld/orders?format=csv", base);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    char *base_orders = strdup(r.body);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/backtests/%lld/orders?format=csv", th0);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert_str_eq(r.body, base_orders, "threshold 0 must trade like the unfiltered run");
    api_resp_free(&r);
    free(base_orders);
    /* threshold 1: no trade at all */
    cr_assert_eq(orders_rows(th1), 0);
    cr_assert_gt(orders_rows(base), 0);
    /* in between: fewer entries, and the report says what happened */
    snprintf(path, sizeof path, "/runs/%lld/artifacts/performance_report_1d.md", mid);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    long entries = report_count(r.body, "| entry signals of the base strategy (warm-up bars included) ");
    long passed = report_count(r.body, "| passed (p ≥ threshold) ");
    cr_assert_gt(entries, 0);
    cr_assert_leq(passed, entries);
    cr_assert(strstr(r.body, "| overlaps the backtest range | **yes** |"), "the model saw this range");
    cr_assert(strstr(r.body, "Filtered against the unfiltered base strategy"));
    api_resp_free(&r);
    fprintf(stderr, "meta_filter threshold 0.3: %ld of %ld entries passed; orders %ld vs %ld unfiltered\n", passed,
            entries, orders_rows(mid), orders_rows(base));

    /* DELETE: 409 while a backtest waits for the model (a sweep row no worker claims), then 204 */
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *pp[] = { ids };
    PGresult *ins = api_sql(stack.db,
                            "INSERT INTO runs (kind, status, params) VALUES ('sweep', 'queued', "
                            "jsonb_build_object('meta_filter', jsonb_build_object('model_id', $1::bigint))) "
                            "RETURNING id",
                            1, pp);
    char waiting[24];
    snprintf(waiting, sizeof waiting, "%s", PQgetvalue(ins, 0, 0));
    PQclear(ins);
    snprintf(path, sizeof path, "/models/%lld", id);
    api_call(&stack.srv, "DELETE", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 409, "conflict");
    api_resp_free(&r);
    const char *wp[] = { waiting };
    PQclear(api_sql(stack.db, "DELETE FROM runs WHERE id = $1::bigint", 1, wp));
    api_call(&stack.srv, "DELETE", path, NULL, NULL, NULL, &r);
    api_expect(&r, 204);
    api_resp_free(&r);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 404, "not-found");
    api_resp_free(&r);
    api_call(&stack.srv, "DELETE", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 404, "not-found");
    api_resp_free(&r);
    snprintf(path, sizeof path, "/models/%lld/predict", id);
    api_call(&stack.srv, "POST", path, "[{}]", NULL, NULL, &r);
    api_expect_problem(&r, 404, "not-found");
    api_resp_free(&r);
    cr_assert_eq(api_sql_int(stack.db, "SELECT count(*) FROM dataset_rows WHERE dataset_id = $1::bigint", 1, pp), 0);
    cr_assert_eq(api_sql_int(stack.db, "SELECT count(*) FROM datasets WHERE id = $1::bigint", 1, pp), 0);
    /* the run stays, with its report; the dataset and model files are gone */
    snprintf(path, sizeof path, "/runs/%lld/artifacts", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strstr(r.body, "ml_training_report.md"));
    cr_assert_null(strstr(r.body, "meta_model.json"));
    cr_assert_null(strstr(r.body, "dataset_"));
    api_resp_free(&r);
    /* and a backtest can no longer name it */
    api_call(&stack.srv, "POST", "/backtests", bt, NULL, NULL, &r);
    api_expect_field_error(&r, "meta_filter.model_id");
    api_resp_free(&r);
    down();
}

Test(api_models, ml_job_through_post_runs)
{
    struct api_resp r;
    char path[96];
    up("api_ml_job");
    double t0 = api_now_s();
    long long id = post("/runs", "{\"job\":\"ML_JOB\"}", "/runs/");
    wait_succeeded(id, 240);
    fprintf(stderr, "ML_JOB (200 synthetic symbols, 300 rounds, 5 folds) through the API: %.2f s\n", api_now_s() - t0);
    snprintf(path, sizeof path, "/runs/%lld/profile", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *prof = api_json(&r);
    api_resp_free(&r);
    json_t *stages = json_object_get(json_array_get(json_object_get(prof, "iterations"), 0), "stages");
    static const char *const want[] = { "load_data", "signals", "factors", "build_dataset", "cv_fold_1",
                                        "cv_fold_2", "cv_fold_3", "cv_fold_4", "cv_fold_5", "train_final",
                                        "importance", "render_artifacts", "persist" };
    cr_assert_eq(json_array_size(stages), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(stages, i), "name")), want[i]);
    json_decref(prof);
    /* its three SPEC §8 artifacts download, and it is a registered model */
    static const char *const files[] = { "dataset_trend_baseline_1d.csv", "ml_training_report.md",
                                         "trend_baseline_meta_model.json" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/runs/%lld/artifacts/%s", id, files[i]);
        api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        cr_assert_gt(r.len, 100);
        api_resp_free(&r);
    }
    snprintf(path, sizeof path, "/models/%lld", id);
    api_call(&stack.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *m = api_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(m, "status")), "trained");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "params"), "n_rounds")), 300);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "dataset"), "params")
                                        ? json_object_get(json_object_get(json_object_get(m, "dataset"), "params"),
                                                          "universe")
                                        : NULL),
                 200);
    json_decref(m);
    api_resp_free(&r);
    down();
}
