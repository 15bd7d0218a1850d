/* cmd_ml.c — `tradebench build-ml-dataset` and `tradebench train-meta-model`
 * (SPEC §6, §12): turn flags into engine calls (ml_inputs_load →
 * ml_dataset_build → CSV; dataset CSV → ml_train_run → artifacts) and print
 * a one-line summary with the stage timings. Wiring only: every number comes
 * from engine/ml_*.c. Errors name the flag, file and line (exit 2).
 * train-meta-model's --nthread is XGBoost's thread count: default 1 (the
 * engine's; a second thread does not pay on these data sets, docs/ML.md),
 * and the model bytes are the same for any value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "artifacts.h"
#include "cmd_ml.h"
#include "flags_run.h"
#include "ml_dataset.h"
#include "ml_report.h"
#include "ml_train.h"
#include "runinfo.h"

static const cli_flag dataset_flags[] = {
    {"strategy", 1, 0}, {"freq", 1, 0},  {"data", 1, 0},      {"symbols", 1, 0}, {"universe", 1, 0},
    {"param", 1, 1},    {"pt", 1, 0},    {"sl", 1, 0},        {"h", 1, 0},       {"start", 1, 0},
    {"end", 1, 0},      {"last-bars", 1, 0}, {"seed", 1, 0},  {"out", 1, 0},     {NULL, 0, 0},
};

static const cli_flag train_flags[] = {
    {"strategy", 1, 0},  {"freq", 1, 0},      {"dataset", 1, 0},          {"cv", 1, 0},
    {"k-folds", 1, 0},   {"max-depth", 1, 0}, {"eta", 1, 0},              {"n-rounds", 1, 0},
    {"subsample", 1, 0}, {"colsample-bytree", 1, 0}, {"min-child-weight", 1, 0}, {"max-bin", 1, 0},
    {"seed", 1, 0},      {"nthread", 1, 0},   {"tree-method", 1, 0},      {"out", 1, 0},
    {NULL, 0, 0},
};

static void print_stages(const char *label, const tb_stage_list *a, const tb_stage_list *b)
{
    printf("%s:", label);
    const tb_stage_list *l[2] = {a, b};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; l[k] && i < l[k]->n; i++) printf(" %s %.0f ms", l[k]->s[i].name, l[k]->s[i].wall_s * 1e3);
    putchar('\n');
}

static int get_freq(const cli_args *a, tb_freq *f, tb_error *err)
{
    const char *v = cli_get(a, "freq");
    if (v && tb_freq_parse(v, f)) return tb_fail_field(err, TB_EINVAL, "freq", "--freq must be 1d or 1h, got '%s'", v);
    return 0;
}

static int apply_dataset_flags(const cli_args *a, tb_backtest_config *c, ml_label_params *lp, tb_error *err)
{
    const char *v;
    if (flags_apply_source(a, c, err) || flags_apply_strategy(a, &c->strategy, err) ||
        flags_apply_universe_range(a, c, err))
        return -1;
    ml_label_defaults(lp);
    if (cli_get_double(a, "pt", &lp->pt, err) || cli_get_double(a, "sl", &lp->sl, err)) return -1;
    if ((v = cli_get(a, "h"))) {
        uint64_t h = 0;
        if (cli_get_u64(a, "h", &h, err)) return -1;
        if (h < 1 || h > 100000) return tb_fail_field(err, TB_EINVAL, "h", "--h must be between 1 and 100000, got '%s'", v);
        lp->h = (int)h;
    }
    if (ml_label_validate(lp, err)) {
        char m[sizeof err->msg], fl[sizeof err->field];
        snprintf(m, sizeof m, "%s", err->msg);
        snprintf(fl, sizeof fl, "%s", err->field);
        return tb_fail_field(err, TB_EINVAL, fl, "--%s: %s", fl, m);
    }
    return 0;
}

/* --out FILE.csv, or a directory (existing, or given with a trailing '/'),
 * or output/ by default: the file then is dataset_<strategy>_<f>.csv. Creates
 * the parent directory. */
static int dataset_path(const char *out, const char *strategy, tb_freq f, char *path, size_t cap, tb_error *err)
{
    struct stat st;
    size_t len = out ? strlen(out) : 0;
    int is_dir = !out || (len && out[len - 1] == '/') || (stat(out, &st) == 0 && S_ISDIR(st.st_mode));
    if (is_dir) {
        const char *dir = out ? out : "output";
        if (art_mkdirs(dir, err)) return -1;
        int dl = (int)(out ? len : strlen(dir));
        while (dl > 1 && dir[dl - 1] == '/') dl--;
        if (snprintf(path, cap, "%.*s/dataset_%s_%s.csv", dl, dir, strategy, tb_freq_name(f)) >= (int)cap)
            return tb_fail_field(err, TB_EINVAL, "out", "--out path too long");
        return 0;
    }
    if (snprintf(path, cap, "%s", out) >= (int)cap) return tb_fail_field(err, TB_EINVAL, "out", "--out path too long");
    char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        *slash = 0;
        int rc = art_mkdirs(path, err);
        *slash = '/';
        if (rc) return -1;
    }
    return 0;
}

int cmd_build_ml_dataset(int argc, char **argv)
{
    cli_clock clk;
    cli_clock_start(&clk);
    tb_error err = {0};
    cli_args a;
    tb_backtest_config c;
    ml_label_params lp;
    backtest_config_defaults(&c);
    if (cli_parse(argc, argv, dataset_flags, &a, &err) || apply_dataset_flags(&a, &c, &lp, &err))
        return cli_report(&err);
    char path[4096];
    if (dataset_path(cli_get(&a, "out"), c.strategy.def->name, c.source.freq, path, sizeof path, &err))
        return cli_report(&err);

    tb_stage_list stages = {0};
    ml_inputs in;
    ml_dataset d;
    if (ml_inputs_load(&c, NULL, &stages, &in, &err)) return cli_report(&err);
    double t0 = stage_now();
    int rc = ml_dataset_build(in.fs, in.sig, in.lo, in.hi, &lp, &d, &err);
    stage_record(&stages, NULL, "build_dataset", t0);
    if (rc) {
        ml_inputs_free(&in);
        return cli_report(&err);
    }
    t0 = stage_now();
    rc = ml_dataset_save(path, &d, &err);
    stage_record(&stages, NULL, "render_artifacts", t0);
    if (!rc) {
        size_t pos = 0;
        for (size_t r = 0; r < d.n; r++) pos += d.label[r];
        double wall, cpu;
        long rss;
        cli_clock_read(&clk, &wall, &cpu, &rss);
        printf("build-ml-dataset: %zu rows (%zu labelled 1) from %zu entries of %zu symbols -> %s (%.0f ms, peak RSS "
               "%.1f MiB)\n",
               d.n, pos, d.stats.n_entries, in.market->n_symbols, path, wall * 1e3, (double)rss / 1024.0);
        print_stages("stages", &stages, NULL);
    }
    ml_dataset_free(&d);
    ml_inputs_free(&in);
    return rc ? cli_report(&err) : 0;
}

/* Training flags -> parameters; errors name the flag. */
static int apply_train_flags(const cli_args *a, ml_train_params *p, ml_cv_kind *cv, size_t *k, tb_error *err)
{
    const char *v;
    ml_train_params_defaults(p);
    *cv = ML_CV_WALK_FORWARD;
    *k = 5;
    if ((v = cli_get(a, "cv")) && ml_cv_parse(v, cv))
        return tb_fail_field(err, TB_EINVAL, "cv", "--cv must be walk_forward or purged_kfold, got '%s'", v);
    if ((v = cli_get(a, "k-folds"))) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (!*v || *end || v[0] == '-' || x < ML_CV_MIN_K || x > ML_CV_MAX_K)
            return tb_fail_field(err, TB_EINVAL, "k-folds", "--k-folds must be a whole number in [%d, %d], got '%s'",
                                 ML_CV_MIN_K, ML_CV_MAX_K, v);
        *k = x;
    }
    static const char *const flags[] = {"max-depth", "eta",     "n-rounds", "subsample", "colsample-bytree",
                                        "min-child-weight", "max-bin", "seed", "nthread", "tree-method"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!(v = cli_get(a, flags[i]))) continue;
        char name[32];
        snprintf(name, sizeof name, "%s", flags[i]);
        for (char *q = name; *q; q++)
            if (*q == '-') *q = '_';
        if (ml_train_params_set(p, name, v, err)) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            return tb_fail_field(err, TB_EINVAL, flags[i], "--%s: %s", flags[i], m);
        }
    }
    return 0;
}

int cmd_train_meta_model(int argc, char **argv)
{
    cli_clock clk;
    cli_clock_start(&clk);
    tb_error err = {0};
    cli_args a;
    tb_strategy_params sp;
    tb_freq freq = TB_FREQ_1D;
    ml_train_params p;
    ml_cv_kind cv;
    size_t k;
    if (cli_parse(argc, argv, train_flags, &a, &err) || flags_apply_strategy(&a, &sp, &err) || get_freq(&a, &freq, &err) ||
        apply_train_flags(&a, &p, &cv, &k, &err))
        return cli_report(&err);
    const char *path = cli_get(&a, "dataset");
    if (!path) {
        tb_fail_field(&err, TB_EINVAL, "dataset", "--dataset FILE.csv is required");
        return cli_report(&err);
    }
    const char *out = cli_get(&a, "out");
    if (!out) out = "output";

    tb_stage_list pre = {0};
    ml_dataset d;
    double t0 = stage_now();
    if (ml_dataset_load(path, &d, &err)) {
        if (err.code == TB_EINVAL && !strncmp(err.msg, "cannot open", 11)) {
            char m[sizeof err.msg];
            snprintf(m, sizeof m, "%s", err.msg);
            tb_fail_field(&err, TB_EINVAL, "dataset", "--dataset: %s", m);
        }
        return cli_report(&err);
    }
    stage_record(&pre, NULL, "load_dataset", t0);
    if (d.freq != freq) {
        tb_fail_field(&err, TB_EINVAL, "freq", "%s holds %s rows but --freq is %s", path, tb_freq_name(d.freq),
                      tb_freq_name(freq));
        ml_dataset_free(&d);
        return cli_report(&err);
    }
    ml_train_result r;
    if (ml_train_run(&d, &p, cv, k, NULL, &r, &err)) {
        ml_dataset_free(&d);
        return cli_report(&err);
    }
    tb_report_info info = {"cli", "train-meta-model", 0, 0, 0};
    cli_clock_read(&clk, &info.runtime_s, &info.cpu_s, &info.peak_rss_kb);
    ml_report_ctx ctx = {sp.def->name, freq, path, NULL, &pre};
    t0 = stage_now();
    int rc = ml_write_all(out, &r, &ctx, &info, &err);
    stage_record(&r.stages, NULL, "render_artifacts", t0);
    if (!rc) {
        printf("train-meta-model: %zu rows, %s k=%zu, mean AUC %.4f ± %.4f, log-loss %.4f -> %s/ (%.0f ms, peak RSS "
               "%.1f MiB)\n",
               r.n_rows, ml_cv_name(cv), k, r.mean.auc, r.std.auc, r.mean.logloss, out, info.runtime_s * 1e3,
               (double)info.peak_rss_kb / 1024.0);
        print_stages("stages", &pre, &r.stages);
    }
    ml_train_result_free(&r);
    ml_dataset_free(&d);
    return rc ? cli_report(&err) : 0;
}
