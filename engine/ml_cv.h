/* ml_cv.h — validation for the meta-model (SPEC §6.3): the fold plan
 * (purged walk-forward, or purged k-fold with an embargo) computed from the
 * rows' label intervals [ts, t1] alone, and the per-fold classification
 * metrics (AUC with ties counted half, clipped log-loss, accuracy, precision,
 * recall, F1 at 0.5, base rate) plus mean ± std across folds. Pure
 * computation: no XGBoost, no I/O. A plan owns its index arrays. */
#ifndef TB_ML_CV_H
#define TB_ML_CV_H
#include <stddef.h>
#include <stdint.h>

#include "tb_error.h"

typedef enum ml_cv_kind { ML_CV_WALK_FORWARD = 0, ML_CV_PURGED_KFOLD = 1 } ml_cv_kind;

const char *ml_cv_name(ml_cv_kind k);                /* "walk_forward" / "purged_kfold" */
int ml_cv_parse(const char *s, ml_cv_kind *out);     /* 0 ok, -1 unknown */

#define ML_CV_MIN_K 2
#define ML_CV_MAX_K 10

typedef struct ml_fold {
    int fold;              /* 1-based fold number */
    size_t test_begin;     /* test rows are [test_begin, test_end) in dataset order */
    size_t test_end;
    int64_t span_first;    /* test span: first ts of the block ... */
    int64_t span_last;     /* ... latest t1 among the block's rows */
    int64_t test_last_ts;  /* ts of the block's last row */
    size_t n_candidates;   /* training rows before purging/embargo */
    size_t n_purged;       /* candidates whose [ts, t1] overlaps the span */
    size_t n_embargoed;    /* not purged, but in the embargo after the block (purged_kfold) */
    size_t n_train;        /* what is left: n_candidates - n_purged - n_embargoed */
    size_t *train;         /* n_train row indices, ascending (points into the plan's pool) */
} ml_fold;

typedef struct ml_cv_plan {
    ml_cv_kind kind;
    size_t k;              /* folds requested (walk_forward cuts k+1 blocks, purged_kfold k) */
    size_t n;              /* rows */
    size_t embargo;        /* ceil(0.01 n) for purged_kfold, 0 for walk_forward */
    size_t n_folds;        /* = k */
    ml_fold *folds;
    size_t *pool;          /* storage of every fold's train[] */
} ml_cv_plan;

/* Block b of n rows cut into nb blocks starts at floor(b n / nb). */
size_t ml_cv_block_start(size_t b, size_t n, size_t nb);

/* Plan the folds over n rows with label intervals [ts[r], t1[r]] in dataset
 * order (ts non-decreasing). k in [ML_CV_MIN_K, ML_CV_MAX_K]; every block must
 * hold at least one row. A training row is purged when ts <= span_last and
 * t1 >= span_first. A fold left without training rows is an error (field
 * "k_folds"). *out is new; free with ml_cv_plan_free(). */
int ml_cv_plan_make(const int64_t *ts, const int64_t *t1, size_t n, ml_cv_kind kind, size_t k, ml_cv_plan *out,
                    tb_error *err);
void ml_cv_plan_free(ml_cv_plan *p);

/* ------------------------------------------------------------ metrics */

/* Area under the ROC curve of scores p against labels y (0/1): the
 * Mann–Whitney statistic with tied scores counted half, computed exactly in
 * integers. NaN when y holds only one class (or n = 0). */
double ml_auc(const double *p, const uint8_t *y, size_t n);
/* Mean of -[y ln p + (1-y) ln(1-p)], p clipped to [1e-15, 1-1e-15]. NaN when n = 0. */
double ml_logloss(const double *p, const uint8_t *y, size_t n);

typedef struct ml_metrics {
    double auc, logloss;
    double accuracy, precision, recall, f1;  /* predicted 1 iff p >= 0.5; 0/0 counts as 0 */
    double base_rate;                        /* mean of y */
} ml_metrics;

#define ML_N_METRICS 7
extern const char *const ml_metric_names[ML_N_METRICS]; /* auc, logloss, accuracy, precision, recall, f1, base_rate */
/* The i-th metric of m in ml_metric_names order. */
double ml_metric_get(const ml_metrics *m, size_t i);

void ml_metrics_compute(const double *p, const uint8_t *y, size_t n, ml_metrics *out);

/* Mean and sample standard deviation (ddof 1) of v[0..n) ignoring NaN
 * entries; NaN mean when none, NaN std when fewer than two. */
void ml_mean_std(const double *v, size_t n, double *mean, double *std);

#endif
