/* ml_train.c — XGBoost training, cross-validation, importances and
 * correlations (see ml_train.h). Owns every XGBoost handle it creates and
 * frees them on every path (one `out:` label per function). Buffers are
 * sized once per job (the full float32 matrix, one train and one test
 * gather buffer reused by every fold); nothing is allocated per row. The
 * permutation RNG is splitmix64 seeded from the training seed, the fold and
 * the feature, so importances are reproducible. XGBoost and OpenBLAS are
 * called through mllib's tables (loaded on first use). Never touches files. */
#include "ml_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mllib.h"
#include "numfmt.h"
#include "xalloc.h"

#define NF ML_N_FEATURES

/* ------------------------------------------------------------ parameters */

const char *const ml_train_param_names[] = {
    "max_depth", "eta", "n_rounds", "subsample", "colsample_bytree", "min_child_weight", "max_bin", "seed", "nthread",
    "tree_method", NULL,
};

typedef struct param_spec {
    const char *name;  /* as in ml_train_param_names */
    int integer;       /* 1: a whole number */
    double lo, hi;     /* bounds */
    int lo_open;       /* 1: lo itself is excluded */
} param_spec;

static const param_spec specs[] = {
    {"max_depth", 1, 1, 32, 0},         {"eta", 0, 0, 1, 1},           {"n_rounds", 1, 1, 100000, 0},
    {"subsample", 0, 0, 1, 1},          {"colsample_bytree", 0, 0, 1, 1}, {"min_child_weight", 0, 0, 1e6, 0},
    {"max_bin", 1, 2, 65536, 0},        {"seed", 1, 0, 2147483647.0, 0}, {"nthread", 1, 1, 64, 0},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

void ml_train_params_defaults(ml_train_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_depth = 4;
    p->eta = 0.05;
    p->n_rounds = 300;
    p->subsample = 0.8;
    p->colsample_bytree = 0.8;
    p->min_child_weight = 5;
    p->max_bin = 256;
    p->seed = 7;
    p->nthread = 1; /* a few thousand rows: XGBoost's per-node OpenMP regions do not pay (docs/ML.md, Threads) */
    snprintf(p->tree_method, sizeof p->tree_method, "hist");
}

static double spec_get(const ml_train_params *p, size_t i)
{
    switch (i) {
    case 0: return p->max_depth;
    case 1: return p->eta;
    case 2: return p->n_rounds;
    case 3: return p->subsample;
    case 4: return p->colsample_bytree;
    case 5: return p->min_child_weight;
    case 6: return p->max_bin;
    case 7: return (double)p->seed;
    default: return p->nthread;
    }
}

static void spec_put(ml_train_params *p, size_t i, double v)
{
    switch (i) {
    case 0: p->max_depth = (int)v; break;
    case 1: p->eta = v; break;
    case 2: p->n_rounds = (int)v; break;
    case 3: p->subsample = v; break;
    case 4: p->colsample_bytree = v; break;
    case 5: p->min_child_weight = v; break;
    case 6: p->max_bin = (int)v; break;
    case 7: p->seed = (int64_t)v; break;
    default: p->nthread = (int)v; break;
    }
}

static int spec_check(size_t i, double v, tb_error *err)
{
    const param_spec *s = &specs[i];
    int ok = isfinite(v) && (s->lo_open ? v > s->lo : v >= s->lo) && v <= s->hi && (!s->integer || v == floor(v));
    if (ok) return 0;
    if (s->integer)
        return tb_fail_field(err, TB_EINVAL, s->name, "parameter %s must be a whole number in [%.0f, %.0f], got %g",
                             s->name, s->lo, s->hi, v);
    return tb_fail_field(err, TB_EINVAL, s->name, "parameter %s must be in %s%g, %g], got %g", s->name,
                         s->lo_open ? "(" : "[", s->lo, s->hi, v);
}

static int tree_method_ok(const char *s) { return !strcmp(s, "hist") || !strcmp(s, "approx") || !strcmp(s, "exact"); }

int ml_train_params_set(ml_train_params *p, const char *name, const char *value, tb_error *err)
{
    if (!strcmp(name, "tree_method")) {
        if (!tree_method_ok(value))
            return tb_fail_field(err, TB_EINVAL, "tree_method", "parameter tree_method must be hist, approx or exact, got '%s'",
                                 value);
        snprintf(p->tree_method, sizeof p->tree_method, "%s", value);
        return 0;
    }
    for (size_t i = 0; i < N_SPECS; i++) {
        if (strcmp(name, specs[i].name)) continue;
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || *end || errno == ERANGE || !isfinite(v))
            return tb_fail_field(err, TB_EINVAL, name, "parameter %s: '%s' is not a finite number", name, value);
        if (spec_check(i, v, err)) return -1;
        spec_put(p, i, v);
        return 0;
    }
    return tb_fail_field(err, TB_EINVAL, name, "unknown training parameter '%s'", name);
}

int ml_train_params_validate(const ml_train_params *p, tb_error *err)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (spec_check(i, spec_get(p, i), err)) return -1;
    if (!tree_method_ok(p->tree_method))
        return tb_fail_field(err, TB_EINVAL, "tree_method", "parameter tree_method must be hist, approx or exact");
    return 0;
}

/* ------------------------------------------------------------ XGBoost wrappers */

struct ml_model {
    const mllib_xgb_fns *xgb;  /* the library that made b */
    BoosterHandle b;           /* owned booster */
};

static int xgb_fail(const mllib_xgb_fns *xgb, tb_error *err, const char *what)
{
    const char *m = xgb->XGBGetLastError();
    return tb_fail(err, TB_EINTERNAL, "xgboost %s failed: %s", what, m && *m ? m : "(no message)");
}

/* A DMatrix over n rows of X; labels when y != NULL. */
static int make_dmatrix(const mllib_xgb_fns *xgb, const float *X, size_t n, const uint8_t *y, int nthread,
                        DMatrixHandle *out, tb_error *err)
{
    *out = NULL;
    DMatrixHandle h = NULL;
    if (xgb->XGDMatrixCreateFromMat_omp(X, (bst_ulong)n, NF, NAN, &h, nthread))
        return xgb_fail(xgb, err, "XGDMatrixCreateFromMat");
    if (xgb->XGDMatrixSetStrFeatureInfo(h, "feature_name", (const char **)ml_feature_names, NF)) {
        xgb_fail(xgb, err, "XGDMatrixSetStrFeatureInfo");
        xgb->XGDMatrixFree(h);
        return -1;
    }
    if (y) {
        float *yf = xmalloc(xmul(n ? n : 1, sizeof *yf));
        for (size_t i = 0; i < n; i++) yf[i] = y[i] ? 1.0f : 0.0f;
        int rc = xgb->XGDMatrixSetFloatInfo(h, "label", yf, (bst_ulong)n);
        free(yf);
        if (rc) {
            xgb_fail(xgb, err, "XGDMatrixSetFloatInfo(label)");
            xgb->XGDMatrixFree(h);
            return -1;
        }
    }
    *out = h;
    return 0;
}

static int set_param(const mllib_xgb_fns *xgb, BoosterHandle b, const char *k, const char *v, tb_error *err)
{
    if (xgb->XGBoosterSetParam(b, k, v)) {
        const char *m = xgb->XGBGetLastError();
        return tb_fail_field(err, TB_EINVAL, k, "xgboost rejected parameter %s=%s: %s", k, v, m ? m : "");
    }
    return 0;
}

static int set_params(const mllib_xgb_fns *xgb, BoosterHandle b, const ml_train_params *p, tb_error *err)
{
    char v[8][40];
    snprintf(v[0], sizeof v[0], "%d", p->max_bin);
    snprintf(v[1], sizeof v[1], "%d", p->max_depth);
    nf_double(v[2], p->eta);
    nf_double(v[3], p->subsample);
    nf_double(v[4], p->colsample_bytree);
    nf_double(v[5], p->min_child_weight);
    snprintf(v[6], sizeof v[6], "%lld", (long long)p->seed);
    snprintf(v[7], sizeof v[7], "%d", p->nthread);
    const struct { const char *k, *v; } kv[] = { /* in this order */
        {"objective", "binary:logistic"}, {"tree_method", p->tree_method}, {"max_bin", v[0]},
        {"max_depth", v[1]},              {"eta", v[2]},                   {"subsample", v[3]},
        {"colsample_bytree", v[4]},       {"min_child_weight", v[5]},      {"seed", v[6]},
        {"nthread", v[7]},                {"verbosity", "0"},              {"validate_parameters", "1"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (set_param(xgb, b, kv[i].k, kv[i].v, err)) return -1;
    return 0;
}

int ml_model_train(const float *X, const uint8_t *y, size_t n, const ml_train_params *p, const tb_hooks *hooks,
                   ml_model **out, tb_error *err)
{
    *out = NULL;
    if (ml_train_params_validate(p, err)) return -1;
    if (n == 0) return tb_fail_field(err, TB_EINVAL, "dataset", "no training rows");
    const mllib_xgb_fns *xgb = mllib_xgb(err);
    if (!xgb) return -1;
    int rc = -1;
    DMatrixHandle d = NULL;
    BoosterHandle b = NULL;
    if (make_dmatrix(xgb, X, n, y, p->nthread, &d, err)) goto out;
    if (xgb->XGBoosterCreate(&d, 1, &b)) {
        xgb_fail(xgb, err, "XGBoosterCreate");
        goto out;
    }
    if (set_params(xgb, b, p, err)) goto out;
    if (xgb->XGBoosterSetStrFeatureInfo(b, "feature_name", (const char **)ml_feature_names, NF)) {
        xgb_fail(xgb, err, "XGBoosterSetStrFeatureInfo");
        goto out;
    }
    for (int it = 0; it < p->n_rounds; it++) {
        if (xgb->XGBoosterUpdateOneIter(b, it, d)) {
            xgb_fail(xgb, err, "XGBoosterUpdateOneIter");
            goto out;
        }
        if (hooks_cancelled(hooks)) {
            tb_fail(err, TB_ECANCEL, "cancelled");
            goto out;
        }
    }
    *out = xmalloc(sizeof **out);
    (*out)->xgb = xgb;
    (*out)->b = b;
    b = NULL;
    rc = 0;
out:
    if (b) xgb->XGBoosterFree(b);
    if (d) xgb->XGDMatrixFree(d);
    return rc;
}

int ml_model_predict(ml_model *m, const float *X, size_t n, double *prob, tb_error *err)
{
    if (n == 0) return 0;
    static const char cfg[] =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}";
    const mllib_xgb_fns *xgb = m->xgb;
    DMatrixHandle d = NULL;
    if (make_dmatrix(xgb, X, n, NULL, 1, &d, err)) return -1;
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    int rc = 0;
    if (xgb->XGBoosterPredictFromDMatrix(m->b, d, cfg, &shape, &dim, &res)) {
        rc = xgb_fail(xgb, err, "XGBoosterPredictFromDMatrix");
    } else if (dim < 1 || shape[0] != (bst_ulong)n) {
        rc = tb_fail(err, TB_EINTERNAL, "xgboost returned %llu predictions for %zu rows",
                     dim ? (unsigned long long)shape[0] : 0ULL, n);
    } else {
        for (size_t i = 0; i < n; i++) prob[i] = (double)res[i];
    }
    xgb->XGDMatrixFree(d);
    return rc;
}

static long feature_index(const char *name)
{
    for (long k = 0; k < NF; k++)
        if (!strcmp(name, ml_feature_names[k])) return k;
    if (name[0] == 'f') { /* unnamed model: f0, f1, ... */
        char *end;
        long k = strtol(name + 1, &end, 10);
        if (name[1] && !*end && k >= 0 && k < NF) return k;
    }
    return -1;
}

static int feature_score(ml_model *m, const char *type, double *out, tb_error *err)
{
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"importance_type\": \"%s\"}", type);
    bst_ulong nfeat = 0, dim = 0;
    const char **names = NULL;
    const bst_ulong *shape = NULL;
    const float *scores = NULL;
    if (m->xgb->XGBoosterFeatureScore(m->b, cfg, &nfeat, &names, &dim, &shape, &scores))
        return xgb_fail(m->xgb, err, "XGBoosterFeatureScore");
    for (size_t k = 0; k < NF; k++) out[k] = 0.0;
    for (bst_ulong i = 0; i < nfeat; i++) {
        long k = feature_index(names[i]);
        if (k < 0) return tb_fail(err, TB_EINTERNAL, "xgboost reported an unknown feature '%s'", names[i]);
        out[k] = (double)scores[i];
    }
    return 0;
}

int ml_model_gain(ml_model *m, double *gain, double *total_gain, tb_error *err)
{
    if (feature_score(m, "gain", gain, err) || feature_score(m, "total_gain", total_gain, err)) return -1;
    return 0;
}

int ml_model_save_json(ml_model *m, char **buf, size_t *len, tb_error *err)
{
    *buf = NULL;
    *len = 0;
    bst_ulong n = 0;
    const char *p = NULL;
    if (m->xgb->XGBoosterSaveModelToBuffer(m->b, "{\"format\": \"json\"}", &n, &p))
        return xgb_fail(m->xgb, err, "XGBoosterSaveModelToBuffer");
    *buf = xmalloc((size_t)n + 1);
    memcpy(*buf, p, (size_t)n);
    (*buf)[n] = 0;
    *len = (size_t)n;
    return 0;
}

int ml_model_load_json(const char *buf, size_t len, int nthread, ml_model **out, tb_error *err)
{
    *out = NULL;
    const mllib_xgb_fns *xgb = mllib_xgb(err);
    if (!xgb) return -1;
    BoosterHandle b = NULL;
    char nt[16];
    snprintf(nt, sizeof nt, "%d", nthread < 1 ? 1 : nthread);
    if (xgb->XGBoosterCreate(NULL, 0, &b)) return xgb_fail(xgb, err, "XGBoosterCreate");
    if (xgb->XGBoosterLoadModelFromBuffer(b, buf, (bst_ulong)len)) {
        const char *m = xgb->XGBGetLastError();
        tb_fail_field(err, TB_EINVAL, "model", "not an XGBoost model: %s", m ? m : "");
        xgb->XGBoosterFree(b);
        return -1;
    }
    if (set_param(xgb, b, "nthread", nt, err)) {
        xgb->XGBoosterFree(b);
        return -1;
    }
    *out = xmalloc(sizeof **out);
    (*out)->xgb = xgb;
    (*out)->b = b;
    return 0;
}

void ml_model_free(ml_model *m)
{
    if (!m) return;
    m->xgb->XGBoosterFree(m->b);
    free(m);
}

/* ------------------------------------------------------------ matrices */

void ml_dataset_to_f32(const ml_dataset *d, float *X)
{
    for (size_t r = 0; r < d->n; r++)
        for (size_t k = 0; k < NF; k++) X[r * NF + k] = (float)d->x[k][r];
}

int ml_feature_corr(const ml_dataset *d, double *corr, tb_error *err)
{
    const mllib_blas_fns *blas = mllib_blas(err); /* also sets OpenBLAS to one thread: a 10x10 result */
    if (!blas) return -1;
    const size_t n = d->n;
    double mean[NF], sd[NF];
    for (size_t k = 0; k < NF; k++) {
        double s = 0;
        size_t m = 0;
        for (size_t r = 0; r < n; r++)
            if (!isnan(d->x[k][r])) {
                s += d->x[k][r];
                m++;
            }
        mean[k] = m ? s / (double)m : 0.0;
        double ss = 0;
        for (size_t r = 0; r < n; r++)
            if (!isnan(d->x[k][r])) ss += (d->x[k][r] - mean[k]) * (d->x[k][r] - mean[k]);
        sd[k] = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
    }
    if (n < 2) {
        for (size_t i = 0; i < NF * NF; i++) corr[i] = NAN;
        return 0;
    }
    double *z = xmalloc(xmul(n, NF * sizeof *z));
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0; k < NF; k++) {
            double v = d->x[k][r];
            z[r * NF + k] = isnan(v) || sd[k] == 0 ? 0.0 : (v - mean[k]) / sd[k];
        }
    blas->cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, NF, (blasint)n, 1.0 / (double)(n - 1), z, NF, 0.0, corr,
                      NF);
    free(z);
    for (size_t i = 0; i < NF; i++)
        for (size_t j = 0; j < i; j++) corr[i * NF + j] = corr[j * NF + i];
    for (size_t i = 0; i < NF; i++)
        for (size_t j = 0; j < NF; j++)
            if (sd[i] == 0 || sd[j] == 0) corr[i * NF + j] = NAN;
    return 0;
}

/* ------------------------------------------------------------ the job */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Copy rows idx[0..m) (or begin..begin+m when idx is NULL) of X/y into Xo/yo. */
static void gather(const float *X, const uint8_t *y, const size_t *idx, size_t begin, size_t m, float *Xo, uint8_t *yo)
{
    for (size_t i = 0; i < m; i++) {
        size_t r = idx ? idx[i] : begin + i;
        memcpy(Xo + i * NF, X + r * NF, NF * sizeof *Xo);
        yo[i] = y[r];
    }
}

static void metric_set(ml_metrics *x, size_t i, double v)
{
    double *slot[ML_N_METRICS] = {&x->auc, &x->logloss, &x->accuracy, &x->precision, &x->recall, &x->f1, &x->base_rate};
    *slot[i] = v;
}

void ml_train_result_free(ml_train_result *r)
{
    if (!r) return;
    free(r->folds);
    free(r->model_json);
    memset(r, 0, sizeof *r);
}

int ml_train_run(const ml_dataset *d, const ml_train_params *p, ml_cv_kind cv, size_t k, const tb_hooks *hooks,
                 ml_train_result *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (ml_train_params_validate(p, err)) return -1;
    const size_t n = d->n;
    int rc = -1;
    ml_cv_plan plan = {0};
    ml_model **models = NULL, *final = NULL;
    float *X = NULL, *Xa = NULL, *Xb = NULL;
    uint8_t *ya = NULL, *yb = NULL;
    double *prob = NULL;
    uint8_t *seen = NULL;
    if (n == 0) return tb_fail_field(err, TB_EINVAL, "dataset", "the dataset has no rows");
    /* both libraries now, so a missing one fails before minutes of training */
    if (!mllib_xgb(err) || !mllib_blas(err)) return -1;
    if (ml_cv_plan_make(d->ts, d->t1, n, cv, k, &plan, err)) return -1;

    out->params = *p;
    out->cv = cv;
    out->k = k;
    out->n_rows = n;
    out->first_ts = d->ts[0];
    out->last_ts = d->ts[n - 1];
    out->last_t1 = d->t1[0];
    seen = xcalloc(d->n_symbols ? d->n_symbols : 1, 1);
    for (size_t r = 0; r < n; r++) {
        out->n_pos += d->label[r];
        if (d->t1[r] > out->last_t1) out->last_t1 = d->t1[r];
        if (!seen[d->sym[r]]) out->n_symbols++;
        seen[d->sym[r]] = 1;
    }
    out->n_folds = plan.n_folds;
    out->folds = xcalloc(plan.n_folds, sizeof *out->folds);
    models = xcalloc(plan.n_folds, sizeof *models);

    X = xmalloc(xmul(n, NF * sizeof *X));
    Xa = xmalloc(xmul(n, NF * sizeof *Xa));
    Xb = xmalloc(xmul(n, NF * sizeof *Xb));
    ya = xmalloc(n);
    yb = xmalloc(n);
    prob = xmalloc(xmul(n, sizeof *prob));
    ml_dataset_to_f32(d, X);

    const double steps = (double)plan.n_folds + 2.0;
    for (size_t j = 0; j < plan.n_folds; j++) {
        const ml_fold *f = &plan.folds[j];
        ml_fold_result *fr = &out->folds[j];
        char stage[32];
        snprintf(stage, sizeof stage, "cv_fold_%d", f->fold);
        hooks_progress(hooks, stage, (double)j / steps);
        double t0 = stage_now();
        gather(X, d->label, f->train, 0, f->n_train, Xa, ya);
        if (ml_model_train(Xa, ya, f->n_train, p, hooks, &models[j], err)) goto out;
        size_t nt = f->test_end - f->test_begin;
        gather(X, d->label, NULL, f->test_begin, nt, Xb, yb);
        if (ml_model_predict(models[j], Xb, nt, prob, err)) goto out;
        ml_metrics_compute(prob, yb, nt, &fr->m);
        fr->fold = f->fold;
        fr->n_train = f->n_train;
        fr->n_test = nt;
        fr->n_purged = f->n_purged;
        fr->n_embargoed = f->n_embargoed;
        fr->test_first_ts = f->span_first;
        fr->test_last_ts = f->test_last_ts;
        fr->test_last_t1 = f->span_last;
        size_t pos = 0;
        for (size_t i = 0; i < f->n_train; i++) pos += ya[i];
        fr->train_base_rate = (double)pos / (double)f->n_train;
        stage_record(&out->stages, hooks, stage, t0);
    }
    for (size_t m = 0; m < ML_N_METRICS; m++) {
        double v[ML_CV_MAX_K], mu, sd;
        for (size_t j = 0; j < plan.n_folds; j++) v[j] = ml_metric_get(&out->folds[j].m, m);
        ml_mean_std(v, plan.n_folds, &mu, &sd);
        metric_set(&out->mean, m, mu);
        metric_set(&out->std, m, sd);
    }

    hooks_progress(hooks, "train_final", (double)plan.n_folds / steps);
    double t0 = stage_now();
    if (ml_model_train(X, d->label, n, p, hooks, &final, err)) goto out;
    if (ml_model_save_json(final, &out->model_json, &out->model_len, err)) goto out;
    stage_record(&out->stages, hooks, "train_final", t0);

    hooks_progress(hooks, "importance", ((double)plan.n_folds + 1.0) / steps);
    t0 = stage_now();
    if (ml_model_gain(final, out->gain, out->total_gain, err)) goto out;
    for (size_t fi = 0; fi < NF; fi++) {
        double drop[ML_CV_MAX_K];
        for (size_t j = 0; j < plan.n_folds; j++) {
            const ml_fold *f = &plan.folds[j];
            size_t nt = f->test_end - f->test_begin;
            drop[j] = NAN;
            if (isnan(out->folds[j].m.auc)) continue;
            gather(X, d->label, NULL, f->test_begin, nt, Xb, yb);
            uint64_t s = ((uint64_t)p->seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)f->fold << 32) ^ (uint64_t)(fi + 1);
            for (size_t i = nt - 1; i > 0; i--) { /* Fisher-Yates on column fi */
                size_t r = (size_t)(splitmix64(&s) % (uint64_t)(i + 1));
                float tmp = Xb[i * NF + fi];
                Xb[i * NF + fi] = Xb[r * NF + fi];
                Xb[r * NF + fi] = tmp;
            }
            if (ml_model_predict(models[j], Xb, nt, prob, err)) goto out;
            drop[j] = out->folds[j].m.auc - ml_auc(prob, yb, nt);
        }
        ml_mean_std(drop, plan.n_folds, &out->perm_mean[fi], &out->perm_std[fi]);
        if (hooks_cancelled(hooks)) {
            tb_fail(err, TB_ECANCEL, "cancelled");
            goto out;
        }
    }
    if (ml_feature_corr(d, out->corr, err)) goto out;
    stage_record(&out->stages, hooks, "importance", t0);
    hooks_progress(hooks, "importance", 1.0);
    rc = 0;
out:
    if (models)
        for (size_t j = 0; j < plan.n_folds; j++) ml_model_free(models[j]);
    free(models);
    ml_model_free(final);
    ml_cv_plan_free(&plan);
    free(X);
    free(Xa);
    free(Xb);
    free(ya);
    free(yb);
    free(prob);
    free(seen);
    if (rc) ml_train_result_free(out);
    return rc;
}
