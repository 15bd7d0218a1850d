/* ml_train.h — the meta-model (SPEC §6.3): XGBoost binary:logistic through
 * its C API, cross-validated per ml_cv.h, then a final model on all rows;
 * gain and permutation importances, the feature correlation matrix (OpenBLAS
 * dsyrk on standardised features) and the model in XGBoost's JSON format.
 * Features go to XGBoost as float32, row-major, missing = NaN. Thread counts
 * of XGBoost and OpenBLAS are set explicitly. Both libraries are loaded on
 * the first call that needs them (mllib.h); when one is missing, that call
 * fails with a tb_error naming it. Every XGBoost return code is checked; its
 * message lands in tb_error. Never prints, never exits. */
#ifndef TB_ML_TRAIN_H
#define TB_ML_TRAIN_H
#include <stddef.h>
#include <stdint.h>

#include "backtest.h"
#include "hooks.h"
#include "ml_cv.h"
#include "ml_dataset.h"
#include "tb_error.h"

/* Training parameters; defaults are SPEC §6.3's plus nthread = 1. */
typedef struct ml_train_params {
    int max_depth;            /* [1, 32], default 4 */
    double eta;               /* (0, 1], default 0.05 */
    int n_rounds;             /* [1, 100000], default 300 */
    double subsample;         /* (0, 1], default 0.8 */
    double colsample_bytree;  /* (0, 1], default 0.8 */
    double min_child_weight;  /* [0, 1e6], default 5 */
    int max_bin;              /* [2, 65536], default 256 */
    int64_t seed;             /* [0, 2147483647], default 7 (also seeds permutation importance) */
    int nthread;              /* [1, 64], default 1 (XGBoost threads; the model bytes do not depend on it) */
    char tree_method[8];      /* hist | approx | exact, default hist */
} ml_train_params;

void ml_train_params_defaults(ml_train_params *p);
/* Set one parameter by name (max_depth, eta, n_rounds, subsample,
 * colsample_bytree, min_child_weight, max_bin, seed, nthread, tree_method)
 * from text; checks type and bounds; the error names the parameter. */
int ml_train_params_set(ml_train_params *p, const char *name, const char *value, tb_error *err);
int ml_train_params_validate(const ml_train_params *p, tb_error *err);
/* Parameter names, NULL-terminated (for usage text and API schemas). */
extern const char *const ml_train_param_names[];

/* ------------------------------------------------------------ one model */

/* A trained (or loaded) booster. Not thread-safe: one thread at a time. */
typedef struct ml_model ml_model;

/* Train on n rows of X (row-major n x ML_N_FEATURES float32, NaN = missing)
 * with labels y (0/1). hooks (may be NULL) is polled for cancellation. */
int ml_model_train(const float *X, const uint8_t *y, size_t n, const ml_train_params *p, const tb_hooks *hooks,
                   ml_model **out, tb_error *err);
/* Probabilities for n rows of X into prob[0..n). */
int ml_model_predict(ml_model *m, const float *X, size_t n, double *prob, tb_error *err);
/* Gain (average) and total gain per feature in ML_N_FEATURES order (0 for
 * a feature no split uses). */
int ml_model_gain(ml_model *m, double *gain, double *total_gain, tb_error *err);
/* The model in XGBoost's JSON format: *buf is a new NUL-terminated buffer of
 * *len bytes (caller frees). Same data and parameters give the same bytes. */
int ml_model_save_json(ml_model *m, char **buf, size_t *len, tb_error *err);
/* Load a model saved by ml_model_save_json; predictions use nthread threads. */
int ml_model_load_json(const char *buf, size_t len, int nthread, ml_model **out, tb_error *err);
void ml_model_free(ml_model *m);

/* Dataset rows as the model's input: X[r * ML_N_FEATURES + k] = (float)d->x[k][r]. */
void ml_dataset_to_f32(const ml_dataset *d, float *X);

/* Pearson correlation of the feature columns into corr[ML_N_FEATURES^2]
 * (row-major): columns standardised (ddof 1) then one cblas_dsyrk. A missing
 * value counts as its column's mean; a constant column gives NaN. Fails
 * only when OpenBLAS cannot be loaded (mllib.h). */
int ml_feature_corr(const ml_dataset *d, double *corr, tb_error *err);

/* ------------------------------------------------------------ the job */

typedef struct ml_fold_result {
    int fold;                  /* 1-based */
    size_t n_train, n_test;    /* after purging / embargo */
    size_t n_purged, n_embargoed;
    int64_t test_first_ts;     /* span of the test block */
    int64_t test_last_ts;
    int64_t test_last_t1;
    double train_base_rate;
    ml_metrics m;              /* on the test block */
} ml_fold_result;

typedef struct ml_train_result {
    ml_train_params params;
    ml_cv_kind cv;
    size_t k;
    size_t n_rows, n_pos;          /* dataset rows, rows labelled 1 */
    size_t n_symbols;              /* distinct symbols among the rows */
    int64_t first_ts, last_ts;     /* first and last row ts */
    int64_t last_t1;               /* latest t1 */
    size_t n_folds;
    ml_fold_result *folds;         /* n_folds */
    ml_metrics mean, std;          /* across folds (std: ddof 1; NaN entries skipped) */
    double gain[ML_N_FEATURES];    /* final model, average gain per split */
    double total_gain[ML_N_FEATURES];
    double perm_mean[ML_N_FEATURES]; /* AUC drop when the column is shuffled, mean over folds */
    double perm_std[ML_N_FEATURES];
    double corr[ML_N_FEATURES * ML_N_FEATURES];
    char *model_json;              /* the final model, XGBoost JSON */
    size_t model_len;
    tb_stage_list stages;          /* cv_fold_<k>..., train_final, importance */
} ml_train_result;

/* Cross-validate (k folds of kind cv), train the final model on all rows,
 * compute importances and correlations. Stages go to out->stages and hooks.
 * On failure *out is left empty. */
int ml_train_run(const ml_dataset *d, const ml_train_params *p, ml_cv_kind cv, size_t k, const tb_hooks *hooks,
                 ml_train_result *out, tb_error *err);
void ml_train_result_free(ml_train_result *r);

#endif
