/* ml_report.h — rendering a finished meta-model training into the SPEC §8
 * ML artifacts: cv_metrics.csv, feature_importance.csv,
 * <strategy>_meta_model.json and ml_training_report.md, plus cv_folds.csv
 * (how each fold was cut: sizes, purged/embargoed counts, test spans). Writers take a FILE*
 * so the CLI writes files and the server streams the same bytes. Numbers via
 * nf_double, times via tu_format. Nothing here computes results. */
#ifndef TB_ML_REPORT_H
#define TB_ML_REPORT_H
#include <stdio.h>

#include "artifacts.h"
#include "ml_train.h"

/* What the report says beyond the training result. */
typedef struct ml_report_ctx {
    const char *strategy;         /* base strategy name (file name prefix) */
    tb_freq freq;                 /* dates print as YYYY-MM-DD for 1d */
    const char *dataset;          /* where the rows came from (file path or source), for the report */
    const ml_build_stats *build;  /* event/drop counts when the dataset was built in this run, else NULL */
    const tb_stage_list *pre;     /* stages before training (load_dataset / build_dataset ...), or NULL */
} ml_report_ctx;

/* fold,n_train,n_test,auc,logloss,accuracy,precision,recall,f1,base_rate — one row per fold. */
int ml_write_cv_metrics(FILE *f, const ml_train_result *r);
/* fold,n_train,n_test,n_purged,n_embargoed,test_first_ts,test_last_ts,
 * test_last_t1,train_base_rate,test_base_rate — how each fold was cut (the
 * columns of the golden folds_walk_forward.csv). */
int ml_write_cv_folds(FILE *f, const ml_train_result *r, tb_freq freq);
/* feature,gain,total_gain — one row per feature, SPEC §6.1 order. */
int ml_write_importance(FILE *f, const ml_train_result *r);
/* The model bytes as XGBoost wrote them. */
int ml_write_model(FILE *f, const ml_train_result *r);
int ml_write_report(FILE *f, const ml_train_result *r, const ml_report_ctx *ctx, const tb_report_info *info);

/* Write the five artifacts into dir (created if missing); errors name the file. */
int ml_write_all(const char *dir, const ml_train_result *r, const ml_report_ctx *ctx, const tb_report_info *info,
                 tb_error *err);

#endif
