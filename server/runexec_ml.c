/*
 * runexec_ml — a model training inside the worker's child (ML_JOB and runs
 * of kind "model"): the engine's dataset build (ml_inputs_load →
 * ml_dataset_build) and training (ml_train_run: CV folds, final model,
 * importances, correlation), then the bundle the parent persists in one
 * transaction (persist.c):
 *   "dataset"    binary COPY of dataset_rows (dataset_id = run id), the exact
 *                doubles ml_dataset_write_csv prints, so the API renders the
 *                CLI's dataset CSV byte for byte;
 *   "model"      the final model's XGBoost JSON bytes;
 *   "ml"         JSON with the datasets / models rows' values (params, CV per
 *                fold and mean ± std, importances, correlation, data range);
 *   "report", "cv_metrics", "cv_folds", "importance"  the artifacts' bytes
 *                from the engine's ml_write_* writers.
 * XGBoost (and its OpenMP pool) and OpenBLAS only ever run here, in the
 * child, with the XGBoost thread count the parent chose (task->xgb_nthread,
 * TB_WORKER_XGB_THREADS, default 1: on a few thousand rows XGBoost's
 * per-node parallel regions do not pay for a second thread, docs/ML.md
 * "Threads").
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "engine/ml_dataset.h"
#include "engine/ml_report.h"
#include "engine/ml_train.h"
#include "engine/timeutil.h"
#include "runexec.h"
#include "runexec_child.h"

/* Training progress (ml_train_run reports 0..1 of itself) mapped into the
 * iteration's band after the dataset build. */
#define RUNEXEC_ML_TRAIN_LO 0.32

struct runexec_ml_band {
    struct runexec_progress *outer;
    double lo, hi;
};

static void runexec_ml_band_progress(void *ud, const char *stage, double f)
{
    const struct runexec_ml_band *b = ud;
    runexec_on_progress(b->outer, stage, b->lo + (b->hi - b->lo) * f);
}

static void runexec_ml_band_stage(void *ud, const char *stage, double wall_s)
{
    const struct runexec_ml_band *b = ud;
    runexec_on_stage(b->outer, stage, wall_s);
}

static json_t *runexec_ml_num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *runexec_ml_ts(int64_t ts, int date_only)
{
    char b[24];
    tu_format(ts, date_only, b);
    return json_string(b);
}

static json_t *runexec_ml_metrics(const ml_metrics *m)
{
    json_t *o = json_object();
    for (size_t k = 0; k < ML_N_METRICS; k++)
        json_object_set_new(o, ml_metric_names[k], runexec_ml_num(ml_metric_get(m, k)));
    return o;
}

/* The "ml" section: what persist.c inserts into datasets and models. */
static json_t *runexec_ml_doc(const struct runexec_task *t, const ml_dataset *d, const ml_train_result *r,
                              const ml_train_params *tp)
{
    const tb_jobspec *s = t->spec;
    const int date_only = d->freq == TB_FREQ_1D;
    static const char *const training_keys[] = { "max_depth", "eta", "n_rounds", "subsample",
                                                 "colsample_bytree", "min_child_weight", "max_bin",
                                                 "seed", "tree_method", "k_folds", "cv", "job", NULL };
    /* datasets.params: the data fields and label parameters of the request, and the build counts */
    json_t *dp = json_deep_copy(s->normalized);
    for (size_t i = 0; training_keys[i]; i++)
        json_object_del(dp, training_keys[i]);
    json_object_set_new(dp, "build",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "n_entries", (json_int_t)d->stats.n_entries,
                                  "n_last_bar", (json_int_t)d->stats.n_last_bar, "n_undefined",
                                  (json_int_t)d->stats.n_undefined, "n_zero_atr", (json_int_t)d->stats.n_zero_atr,
                                  "n_past_data", (json_int_t)d->stats.n_past_data));
    /* models.params: XGBoost's parameters and the validation scheme */
    json_t *mp = json_pack("{s:s, s:s, s:i, s:i, s:f, s:i, s:f, s:f, s:f, s:I, s:i, s:s, s:I}", "objective",
                           "binary:logistic", "tree_method", tp->tree_method, "max_bin", tp->max_bin, "max_depth",
                           tp->max_depth, "eta", tp->eta, "n_rounds", tp->n_rounds, "subsample", tp->subsample,
                           "colsample_bytree", tp->colsample_bytree, "min_child_weight", tp->min_child_weight,
                           "seed", (json_int_t)tp->seed, "nthread", tp->nthread, "cv", ml_cv_name(r->cv), "k_folds",
                           (json_int_t)r->k);
    json_t *folds = json_array();
    for (size_t j = 0; j < r->n_folds; j++) {
        const ml_fold_result *f = &r->folds[j];
        json_t *o = json_pack("{s:i, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "fold", f->fold, "n_train",
                              (json_int_t)f->n_train, "n_test", (json_int_t)f->n_test, "n_purged",
                              (json_int_t)f->n_purged, "n_embargoed", (json_int_t)f->n_embargoed, "test_first_ts",
                              runexec_ml_ts(f->test_first_ts, date_only), "test_last_ts",
                              runexec_ml_ts(f->test_last_ts, date_only), "test_last_t1",
                              runexec_ml_ts(f->test_last_t1, date_only), "train_base_rate",
                              runexec_ml_num(f->train_base_rate));
        json_object_update_new(o, runexec_ml_metrics(&f->m));
        json_array_append_new(folds, o);
    }
    json_t *cv = json_pack("{s:s, s:I, s:o, s:o, s:o}", "method", ml_cv_name(r->cv), "k", (json_int_t)r->k, "folds",
                           folds, "mean", runexec_ml_metrics(&r->mean), "std", runexec_ml_metrics(&r->std));
    json_t *imp = json_array(), *features = json_array(), *matrix = json_array();
    for (size_t k = 0; k < ML_N_FEATURES; k++) {
        json_array_append_new(imp, json_pack("{s:s, s:o, s:o, s:o, s:o}", "feature", ml_feature_names[k], "gain",
                                             runexec_ml_num(r->gain[k]), "total_gain",
                                             runexec_ml_num(r->total_gain[k]), "permutation_mean",
                                             runexec_ml_num(r->perm_mean[k]), "permutation_std",
                                             runexec_ml_num(r->perm_std[k])));
        json_array_append_new(features, json_string(ml_feature_names[k]));
        json_t *row = json_array();
        for (size_t l = 0; l < ML_N_FEATURES; l++)
            json_array_append_new(row, runexec_ml_num(r->corr[k * ML_N_FEATURES + l]));
        json_array_append_new(matrix, row);
    }
    json_t *corr = json_pack("{s:O, s:o}", "features", features, "matrix", matrix);
    return json_pack("{s:s, s:s, s:{s:o, s:I, s:I, s:I, s:I}, s:{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I}}",
                     "strategy", s->bt.strategy.def->name, "freq", tb_freq_name(d->freq), "dataset", "params", dp,
                     "n_rows", (json_int_t)r->n_rows, "n_positive", (json_int_t)r->n_pos, "first_ts",
                     (json_int_t)r->first_ts, "last_ts", (json_int_t)r->last_ts, "model", "features", features,
                     "params", mp, "cv", cv, "importances", imp, "correlation", corr, "train_first_ts",
                     (json_int_t)r->first_ts, "train_last_ts", (json_int_t)r->last_t1, "n_rows",
                     (json_int_t)r->n_rows);
}

/* dataset_rows (dataset_id, seq, ts, symbol, 10 features, label, t1, ret) as a binary COPY stream. */
static void runexec_ml_rows(FILE *f, const ml_dataset *d, int64_t dataset_id)
{
    runexec_copy_header(f);
    for (size_t r = 0; r < d->n; r++) {
        runexec_copy_tuple(f, 4 + ML_N_FEATURES + 3);
        runexec_copy_int8(f, dataset_id);
        runexec_copy_int4(f, (int32_t)r);
        runexec_copy_ts(f, d->ts[r]);
        runexec_copy_text(f, d->symbols[d->sym[r]]);
        for (size_t k = 0; k < ML_N_FEATURES; k++)
            runexec_copy_float8(f, d->x[k][r]);
        runexec_copy_int2(f, (int16_t)d->label[r]);
        runexec_copy_ts(f, d->t1[r]);
        runexec_copy_float8(f, d->ret[r]);
    }
    runexec_copy_trailer(f);
}

/* JSON text with the fewest digits (15..17) that round-trip every number. */
static char *runexec_ml_dumps(const json_t *doc)
{
    for (int prec = 15; prec < 17; prec++) {
        char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(prec));
        json_t *back = text ? json_loads(text, 0, NULL) : NULL;
        int same = back && json_equal(back, doc);
        json_decref(back);
        if (same)
            return text;
        free(text);
    }
    return json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
}

int runexec_ml(const struct runexec_task *t, tb_error *err)
{
    const tb_jobspec *s = t->spec;
    double t0 = stage_now();
    struct runexec_progress prog = { .fd = t->msg_fd, .sent = 0, .sent_at = 0 };
    tb_hooks hooks = { .ud = &prog, .progress = runexec_on_progress, .stage_done = runexec_on_stage };
    tb_stage_list pre = { 0 };
    ml_inputs in;
    ml_dataset d;
    ml_train_result r;
    char id[32], source[160];
    int rc = -1;

    /* load_data, signals, factors, build_dataset */
    if (ml_inputs_load(&s->bt, &hooks, &pre, &in, err))
        return -1;
    double tb = stage_now();
    hooks_progress(&hooks, "build_dataset", 0.3);
    int brc = ml_dataset_build(in.fs, in.sig, in.lo, in.hi, &s->ml.labels, &d, err);
    stage_record(&pre, &hooks, "build_dataset", tb);
    size_t n_symbols = in.market->n_symbols;
    ml_inputs_free(&in); /* bars and factors are not needed for training: lower peak memory */
    if (brc)
        return -1;

    /* cv_fold_<k>, train_final, importance */
    ml_train_params tp = s->ml.train;
    tp.nthread = t->xgb_nthread > 0 ? t->xgb_nthread : 1;
    struct runexec_ml_band band = { &prog, RUNEXEC_ML_TRAIN_LO, 1.0 };
    tb_hooks train_hooks = { .ud = &band, .progress = runexec_ml_band_progress,
                             .stage_done = runexec_ml_band_stage };
    if (ml_train_run(&d, &tp, s->ml.cv, s->ml.k_folds, &train_hooks, &r, err)) {
        ml_dataset_free(&d);
        return -1;
    }

    /* render_artifacts: the bundle */
    double t_render = stage_now();
    runexec_on_progress(&prog, "render_artifacts", 1.0);
    struct rusage ru;
    snprintf(id, sizeof id, "%lld", (long long)t->run_id);
    getrusage(RUSAGE_SELF, &ru);
    tb_report_info info = { id, t->job_name, stage_now() - t0,
                            runexec_seconds(ru.ru_utime) + runexec_seconds(ru.ru_stime), ru.ru_maxrss };
    if (source_is_synthetic(&s->bt.source))
        snprintf(source, sizeof source, "built in run %s: synthetic (seed %llu), %zu symbols", id,
                 (unsigned long long)s->bt.source.seed, n_symbols);
    else
        snprintf(source, sizeof source, "built in run %s: %.80s, %zu symbols", id, s->bt.source.data, n_symbols);
    ml_report_ctx ctx = { s->bt.strategy.def->name, d.freq, source, &d.stats, &pre };

    struct runexec_mem m;
    json_t *meta = json_pack("{s:s, s:s, s:s, s:I}", "kind", "ml", "freq", tb_freq_name(d.freq), "strategy",
                             s->bt.strategy.def->name, "rows", (json_int_t)d.n);
    json_t *doc = runexec_ml_doc(t, &d, &r, &tp);
    char *doc_text = doc ? runexec_ml_dumps(doc) : NULL;
    int bad = 0;
    runexec_mem_open(&m);
    if (!meta || json_dumpf(meta, m.f, JSON_COMPACT) != 0)
        bad = 1;
    bad |= runexec_mem_emit(&m, t->bundle, "meta");
    runexec_mem_open(&m);
    runexec_ml_rows(m.f, &d, t->run_id);
    bad |= runexec_mem_emit(&m, t->bundle, "dataset");
    runexec_mem_open(&m);
    bad |= ml_write_model(m.f, &r);
    bad |= runexec_mem_emit(&m, t->bundle, "model");
    runexec_mem_open(&m);
    if (!doc_text)
        bad = 1;
    else
        fputs(doc_text, m.f);
    bad |= runexec_mem_emit(&m, t->bundle, "ml");
    runexec_mem_open(&m);
    bad |= ml_write_report(m.f, &r, &ctx, &info);
    bad |= runexec_mem_emit(&m, t->bundle, "report");
    runexec_mem_open(&m);
    bad |= ml_write_cv_metrics(m.f, &r);
    bad |= runexec_mem_emit(&m, t->bundle, "cv_metrics");
    runexec_mem_open(&m);
    bad |= ml_write_cv_folds(m.f, &r, d.freq);
    bad |= runexec_mem_emit(&m, t->bundle, "cv_folds");
    runexec_mem_open(&m);
    bad |= ml_write_importance(m.f, &r);
    bad |= runexec_mem_emit(&m, t->bundle, "importance");
    fputs("end 0\n", t->bundle);
    stage_record(&r.stages, &hooks, "render_artifacts", t_render);
    json_decref(meta);
    json_decref(doc);
    free(doc_text);
    ml_train_result_free(&r);
    ml_dataset_free(&d);
    if (bad || fflush(t->bundle) != 0)
        return tb_fail(err, TB_EIO, "writing the run's results failed: %s", strerror(errno));
    rc = 0;
    return rc;
}
