/* ml_report.c — the ML artifacts (see ml_report.h). CSVs carry full
 * round-trip precision; the markdown report rounds for reading and adds a
 * short plain-language reading of the figures. Files are written whole or
 * not at all: each goes to "<name>.tmp" first and is renamed on success. */
#include "ml_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"
#include "timeutil.h"

#define NF ML_N_FEATURES

static void put_num(FILE *f, double x)
{
    char b[40];
    nf_double(b, x);
    fputs(b, f);
}

int ml_write_cv_metrics(FILE *f, const ml_train_result *r)
{
    fputs("fold,n_train,n_test,auc,logloss,accuracy,precision,recall,f1,base_rate\n", f);
    for (size_t j = 0; j < r->n_folds; j++) {
        const ml_fold_result *fr = &r->folds[j];
        fprintf(f, "%d,%zu,%zu", fr->fold, fr->n_train, fr->n_test);
        for (size_t m = 0; m < ML_N_METRICS; m++) {
            fputc(',', f);
            put_num(f, ml_metric_get(&fr->m, m));
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int ml_write_cv_folds(FILE *f, const ml_train_result *r, tb_freq freq)
{
    const int date_only = freq == TB_FREQ_1D;
    char a[32], b[32], c[32];
    fputs("fold,n_train,n_test,n_purged,n_embargoed,test_first_ts,test_last_ts,test_last_t1,train_base_rate,"
          "test_base_rate\n",
          f);
    for (size_t j = 0; j < r->n_folds; j++) {
        const ml_fold_result *fr = &r->folds[j];
        tu_format(fr->test_first_ts, date_only, a);
        tu_format(fr->test_last_ts, date_only, b);
        tu_format(fr->test_last_t1, date_only, c);
        fprintf(f, "%d,%zu,%zu,%zu,%zu,%s,%s,%s,", fr->fold, fr->n_train, fr->n_test, fr->n_purged, fr->n_embargoed, a,
                b, c);
        put_num(f, fr->train_base_rate);
        fputc(',', f);
        put_num(f, fr->m.base_rate);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int ml_write_importance(FILE *f, const ml_train_result *r)
{
    fputs("feature,gain,total_gain\n", f);
    for (size_t k = 0; k < NF; k++) {
        fprintf(f, "%s,", ml_feature_names[k]);
        put_num(f, r->gain[k]);
        fputc(',', f);
        put_num(f, r->total_gain[k]);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int ml_write_model(FILE *f, const ml_train_result *r)
{
    if (r->model_len) fwrite(r->model_json, 1, r->model_len, f);
    return ferror(f) ? -1 : 0;
}

/* "0.5216" or "–" for NaN */
static void put_fix(FILE *f, double x, int digits)
{
    if (isnan(x)) fputs("–", f);
    else fprintf(f, "%.*f", digits, x);
}

static void put_pm(FILE *f, double mu, double sd, int digits)
{
    put_fix(f, mu, digits);
    fputs(" ± ", f);
    put_fix(f, sd, digits);
}

/* entropy of a constant prediction at base rate b: the log-loss of "no skill" */
static double const_logloss(double b)
{
    if (!(b > 0 && b < 1)) return 0;
    return -(b * log(b) + (1 - b) * log(1 - b));
}

static void put_stages(FILE *f, const tb_stage_list *l, double *total)
{
    for (size_t i = 0; l && i < l->n; i++) {
        fprintf(f, "| %s | %.1f |\n", l->s[i].name, l->s[i].wall_s * 1e3);
        *total += l->s[i].wall_s;
    }
}

int ml_write_report(FILE *f, const ml_train_result *r, const ml_report_ctx *ctx, const tb_report_info *info)
{
    const int date_only = ctx->freq == TB_FREQ_1D;
    char a[32], b[32], c[32];
    tu_format(r->first_ts, date_only, a);
    tu_format(r->last_ts, date_only, b);
    tu_format(r->last_t1, date_only, c);
    const ml_train_params *p = &r->params;
    size_t n_neg = r->n_rows - r->n_pos;

    fprintf(f, "# Meta-model training report — %s (%s)\n\n", ctx->strategy, tb_freq_name(ctx->freq));
    fputs("| | |\n|---|---|\n", f);
    fprintf(f, "| run | %s |\n| job | %s |\n", info->run_id ? info->run_id : "cli", info->job ? info->job : "ML");
    fprintf(f, "| dataset | `%s` |\n", ctx->dataset ? ctx->dataset : "(in memory)");
    fprintf(f, "| rows | %zu events of %zu symbols |\n", r->n_rows, r->n_symbols);
    fprintf(f, "| signal dates | %s … %s (labels decided up to %s) |\n", a, b, c);
    fprintf(f, "| label balance | %zu positive (%.2f%%), %zu negative (%.2f%%) |\n", r->n_pos,
            100.0 * (double)r->n_pos / (double)r->n_rows, n_neg, 100.0 * (double)n_neg / (double)r->n_rows);
    if (r->cv == ML_CV_WALK_FORWARD)
        fprintf(f, "| validation | purged walk-forward, k = %zu (%zu blocks by row count) |\n", r->k, r->k + 1);
    else
        fprintf(f, "| validation | purged k-fold, k = %zu, embargo %zu rows after each test block |\n", r->k,
                (r->n_rows + 99) / 100);
    char eta[40], ss[40], cs[40], mcw[40];
    nf_double(eta, p->eta);
    nf_double(ss, p->subsample);
    nf_double(cs, p->colsample_bytree);
    nf_double(mcw, p->min_child_weight);
    fprintf(f,
            "| model | XGBoost binary:logistic, tree_method=%s, max_bin=%d, max_depth=%d, eta=%s, n_rounds=%d, "
            "subsample=%s, colsample_bytree=%s, min_child_weight=%s, seed=%lld, nthread=%d |\n\n",
            p->tree_method, p->max_bin, p->max_depth, eta, p->n_rounds, ss, cs, mcw, (long long)p->seed, p->nthread);

    if (ctx->build) {
        const ml_build_stats *s = ctx->build;
        fputs("## Dataset build\n\n| | count |\n|---|---|\n", f);
        fprintf(f, "| entries of the base strategy in range | %zu |\n", s->n_entries);
        fprintf(f, "| at the last bar (no t+1, not an event) | %zu |\n", s->n_last_bar);
        fprintf(f, "| dropped: a feature undefined | %zu |\n", s->n_undefined);
        fprintf(f, "| dropped: ATR(14) = 0 | %zu |\n", s->n_zero_atr);
        fprintf(f, "| dropped: horizon past the data | %zu |\n", s->n_past_data);
        fprintf(f, "| rows | %zu |\n\n", r->n_rows);
    }

    fputs("## Cross-validation\n\n", f);
    fputs("| fold | train | test | purged | embargoed | test span (first ts … latest t1) | AUC | log-loss | accuracy | "
          "precision | recall | F1 | base rate |\n",
          f);
    fputs("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n", f);
    double ll0 = 0;
    for (size_t j = 0; j < r->n_folds; j++) {
        const ml_fold_result *fr = &r->folds[j];
        tu_format(fr->test_first_ts, date_only, a);
        tu_format(fr->test_last_t1, date_only, b);
        fprintf(f, "| %d | %zu | %zu | %zu | %zu | %s … %s |", fr->fold, fr->n_train, fr->n_test, fr->n_purged,
                fr->n_embargoed, a, b);
        for (size_t m = 0; m < ML_N_METRICS; m++) {
            fputc(' ', f);
            put_fix(f, ml_metric_get(&fr->m, m), 4);
            fputs(" |", f);
        }
        fputc('\n', f);
        ll0 += const_logloss(fr->m.base_rate);
    }
    ll0 /= (double)(r->n_folds ? r->n_folds : 1);
    fputs("| **mean ± std** | | | | | |", f);
    for (size_t m = 0; m < ML_N_METRICS; m++) {
        fputc(' ', f);
        put_pm(f, ml_metric_get(&r->mean, m), ml_metric_get(&r->std, m), 4);
        fputs(" |", f);
    }
    fputs("\n\nstd is the sample standard deviation across folds (ddof 1).\n\n", f);

    fputs("## Feature importance\n\n", f);
    fputs("Gain: the final model's average (and total) loss reduction per split on the feature, over all rows. "
          "Permutation: the drop in test AUC when the feature's column is shuffled within each test block "
          "(fold models; mean ± std over folds).\n\n",
          f);
    fputs("| feature | gain | total gain | permutation ΔAUC |\n|---|---:|---:|---:|\n", f);
    for (size_t k = 0; k < NF; k++) {
        fprintf(f, "| %s | %.4f | %.2f | ", ml_feature_names[k], r->gain[k], r->total_gain[k]);
        put_pm(f, r->perm_mean[k], r->perm_std[k], 4);
        fputs(" |\n", f);
    }

    fputs("\n## Feature correlation (Pearson, all rows)\n\n|  |", f);
    for (size_t k = 0; k < NF; k++) fprintf(f, " %s |", ml_feature_names[k]);
    fputs("\n|---|", f);
    for (size_t k = 0; k < NF; k++) fputs("---:|", f);
    fputc('\n', f);
    for (size_t i = 0; i < NF; i++) {
        fprintf(f, "| %s |", ml_feature_names[i]);
        for (size_t k = 0; k < NF; k++) {
            fputc(' ', f);
            put_fix(f, r->corr[i * NF + k], 2);
            fputs(" |", f);
        }
        fputc('\n', f);
    }

    /* the reading */
    fputs("\n## What the numbers mean\n\n", f);
    double auc = r->mean.auc, se = r->std.auc / sqrt((double)(r->n_folds ? r->n_folds : 1));
    if (isnan(auc)) {
        fputs("- AUC is undefined: the test blocks hold a single class.\n", f);
    } else {
        fprintf(f, "- Mean out-of-sample AUC is %.4f (0.5 is a coin flip). ", auc);
        if (!isnan(se) && auc - 2 * se > 0.5)
            fputs("It is more than two standard errors above 0.5: the features carry some information about which "
                  "entries reach the upper barrier first.\n",
                  f);
        else
            fputs("Within two standard errors of 0.5, this is not distinguishable from no skill across the folds.\n", f);
    }
    if (!isnan(r->mean.logloss))
        fprintf(f,
                "- Mean log-loss %.4f against %.4f for always predicting each test block's base rate: %s.\n",
                r->mean.logloss, ll0,
                r->mean.logloss < ll0 ? "the probabilities are better calibrated than that constant"
                                      : "the probabilities are worse than that constant (over-confident or shifted)");
    if (!isnan(r->mean.precision))
        fprintf(f,
                "- At a 0.5 threshold the model's positive calls are right %.1f%% of the time against a base rate "
                "of %.1f%%; it calls %.1f%% of the actual positives. A meta-filter keeps only entries with p ≥ "
                "threshold, so precision above the base rate is what would improve a strategy.\n",
                100 * r->mean.precision, 100 * r->mean.base_rate, 100 * r->mean.recall);
    size_t best = 0, bestp = 0;
    for (size_t k = 1; k < NF; k++) {
        if (r->gain[k] > r->gain[best]) best = k;
        if (r->perm_mean[k] > r->perm_mean[bestp]) bestp = k;
    }
    fprintf(f,
            "- Highest gain: %s; largest permutation drop: %s. Gain is in-sample and favours features with many "
            "distinct split points; permutation importance is out-of-sample and is the better guide to what "
            "generalises (values near 0 or negative mean no measurable use).\n",
            ml_feature_names[best], ml_feature_names[bestp]);
    int any = 0;
    for (size_t i = 0; i < NF; i++)
        for (size_t k = i + 1; k < NF; k++)
            if (fabs(r->corr[i * NF + k]) >= 0.8) {
                fprintf(f, "%s%s/%s (%.2f)", any ? ", " : "- Strongly correlated pairs (|r| ≥ 0.8) share their importance: ",
                        ml_feature_names[i], ml_feature_names[k], r->corr[i * NF + k]);
                any = 1;
            }
    if (any) fputs(".\n", f);

    fputs("\n## Profile\n\n", f);
    fprintf(f, "runtime %.3f s, CPU %.3f s, peak memory %.1f MiB (process peak RSS).\n\n", info->runtime_s, info->cpu_s,
            (double)info->peak_rss_kb / 1024.0);
    fputs("| stage | wall ms |\n|---|---:|\n", f);
    double total = 0;
    put_stages(f, ctx->pre, &total);
    put_stages(f, &r->stages, &total);
    /* hotspots: top three stages */
    const tb_stage_time *top[3] = {NULL, NULL, NULL};
    const tb_stage_list *lists[2] = {ctx->pre, &r->stages};
    for (size_t li = 0; li < 2; li++)
        for (size_t i = 0; lists[li] && i < lists[li]->n; i++) {
            const tb_stage_time *s = &lists[li]->s[i];
            for (size_t t = 0; t < 3; t++)
                if (!top[t] || s->wall_s > top[t]->wall_s) {
                    for (size_t u = 2; u > t; u--) top[u] = top[u - 1];
                    top[t] = s;
                    break;
                }
        }
    fputs("\nHotspots:", f);
    for (size_t t = 0; t < 3 && top[t]; t++)
        fprintf(f, "%s%s (%.0f%%)", t ? ", " : " ", top[t]->name, total > 0 ? 100 * top[t]->wall_s / total : 0.0);
    fputs(".\n", f);
    return ferror(f) ? -1 : 0;
}

typedef int (*writer_fn)(FILE *f, const ml_train_result *r, const ml_report_ctx *ctx, const tb_report_info *info);

static int w_cv(FILE *f, const ml_train_result *r, const ml_report_ctx *c, const tb_report_info *i)
{
    (void)c, (void)i;
    return ml_write_cv_metrics(f, r);
}
static int w_imp(FILE *f, const ml_train_result *r, const ml_report_ctx *c, const tb_report_info *i)
{
    (void)c, (void)i;
    return ml_write_importance(f, r);
}
static int w_folds(FILE *f, const ml_train_result *r, const ml_report_ctx *c, const tb_report_info *i)
{
    (void)i;
    return ml_write_cv_folds(f, r, c->freq);
}
static int w_model(FILE *f, const ml_train_result *r, const ml_report_ctx *c, const tb_report_info *i)
{
    (void)c, (void)i;
    return ml_write_model(f, r);
}

static int write_one(const char *dir, const char *name, writer_fn fn, const ml_train_result *r,
                     const ml_report_ctx *ctx, const tb_report_info *info, tb_error *err)
{
    char path[4096], tmp[4100];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return tb_fail_field(err, TB_EINVAL, "out", "output path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return tb_fail_field(err, TB_EIO, "out", "cannot write %s: %s", tmp, strerror(errno));
    int rc = fn(f, r, ctx, info);
    if (fclose(f) || rc) {
        remove(tmp);
        return tb_fail_field(err, TB_EIO, "out", "write error on %s", path);
    }
    if (rename(tmp, path)) {
        remove(tmp);
        return tb_fail_field(err, TB_EIO, "out", "cannot rename %s: %s", tmp, strerror(errno));
    }
    return 0;
}

int ml_write_all(const char *dir, const ml_train_result *r, const ml_report_ctx *ctx, const tb_report_info *info,
                 tb_error *err)
{
    if (art_mkdirs(dir, err)) return -1;
    char model[160];
    snprintf(model, sizeof model, "%s_meta_model.json", ctx->strategy);
    if (write_one(dir, "cv_metrics.csv", w_cv, r, ctx, info, err) ||
        write_one(dir, "cv_folds.csv", w_folds, r, ctx, info, err) ||
        write_one(dir, "feature_importance.csv", w_imp, r, ctx, info, err) ||
        write_one(dir, model, w_model, r, ctx, info, err) ||
        write_one(dir, "ml_training_report.md", ml_write_report, r, ctx, info, err))
        return -1;
    return 0;
}
