/* ml_cv.c — fold planning and classification metrics (see ml_cv.h). The
 * plan is two passes over the rows per fold (count, then fill one pool), so
 * its memory is exact; AUC sorts (score, label) pairs once and sums the
 * Mann–Whitney count in 64-bit integers, so ties and rounding are exact up to
 * the final division. */
#include "ml_cv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

const char *ml_cv_name(ml_cv_kind k) { return k == ML_CV_PURGED_KFOLD ? "purged_kfold" : "walk_forward"; }

int ml_cv_parse(const char *s, ml_cv_kind *out)
{
    if (!strcmp(s, "walk_forward")) *out = ML_CV_WALK_FORWARD;
    else if (!strcmp(s, "purged_kfold")) *out = ML_CV_PURGED_KFOLD;
    else return -1;
    return 0;
}

size_t ml_cv_block_start(size_t b, size_t n, size_t nb)
{
    /* floor(b n / nb); b <= nb <= 11 so b n cannot overflow */
    return (size_t)(((uint64_t)b * (uint64_t)n) / nb);
}

/* Is row r a training row of fold f? 0 = yes, 1 = purged, 2 = embargoed, 3 = not a candidate. */
static int row_role(const ml_cv_plan *p, const ml_fold *f, const int64_t *ts, const int64_t *t1, size_t r)
{
    if (r >= f->test_begin && r < f->test_end) return 3;
    if (p->kind == ML_CV_WALK_FORWARD && r >= f->test_end) return 3;
    if (ts[r] <= f->span_last && t1[r] >= f->span_first) return 1;
    if (p->kind == ML_CV_PURGED_KFOLD && r >= f->test_end && r < f->test_end + p->embargo) return 2;
    return 0;
}

int ml_cv_plan_make(const int64_t *ts, const int64_t *t1, size_t n, ml_cv_kind kind, size_t k, ml_cv_plan *out,
                    tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (k < ML_CV_MIN_K || k > ML_CV_MAX_K)
        return tb_fail_field(err, TB_EINVAL, "k_folds", "k_folds must be a whole number in [%d, %d], got %zu",
                             ML_CV_MIN_K, ML_CV_MAX_K, k);
    const size_t nb = kind == ML_CV_WALK_FORWARD ? k + 1 : k;
    if (n < nb)
        return tb_fail_field(err, TB_EINVAL, "k_folds", "%zu dataset rows cannot be cut into %zu blocks (%s, k=%zu)",
                             n, nb, ml_cv_name(kind), k);
    for (size_t r = 0; r < n; r++) {
        if (t1[r] < ts[r])
            return tb_fail_field(err, TB_EINVAL, "dataset", "row %zu: t1 is before ts", r + 1);
        if (r > 0 && ts[r] < ts[r - 1])
            return tb_fail_field(err, TB_EINVAL, "dataset", "row %zu: rows are not in ts order", r + 1);
    }
    out->kind = kind;
    out->k = k;
    out->n = n;
    out->embargo = kind == ML_CV_PURGED_KFOLD ? (n + 99) / 100 : 0; /* ceil(0.01 n) */
    out->n_folds = k;
    out->folds = xcalloc(k, sizeof *out->folds);
    size_t total = 0;
    for (size_t j = 0; j < k; j++) {
        ml_fold *f = &out->folds[j];
        size_t b = kind == ML_CV_WALK_FORWARD ? j + 1 : j; /* the test block */
        f->fold = (int)j + 1;
        f->test_begin = ml_cv_block_start(b, n, nb);
        f->test_end = ml_cv_block_start(b + 1, n, nb);
        f->span_first = ts[f->test_begin];
        f->span_last = t1[f->test_begin];
        for (size_t r = f->test_begin; r < f->test_end; r++)
            if (t1[r] > f->span_last) f->span_last = t1[r];
        f->test_last_ts = ts[f->test_end - 1];
        for (size_t r = 0; r < n; r++) {
            int role = row_role(out, f, ts, t1, r);
            if (role == 3) continue;
            f->n_candidates++;
            if (role == 1) f->n_purged++;
            else if (role == 2) f->n_embargoed++;
            else f->n_train++;
        }
        if (f->n_train == 0) {
            tb_fail_field(err, TB_EINVAL, "k_folds",
                          "fold %d has no training rows left after purging (%zu rows, %s, k=%zu): use fewer folds or "
                          "more data",
                          f->fold, n, ml_cv_name(kind), k);
            ml_cv_plan_free(out);
            return -1;
        }
        total += f->n_train;
    }
    out->pool = xmalloc(xmul(total, sizeof *out->pool));
    size_t at = 0;
    for (size_t j = 0; j < k; j++) {
        ml_fold *f = &out->folds[j];
        f->train = out->pool + at;
        size_t m = 0;
        for (size_t r = 0; r < n; r++)
            if (row_role(out, f, ts, t1, r) == 0) f->train[m++] = r;
        at += m;
    }
    return 0;
}

void ml_cv_plan_free(ml_cv_plan *p)
{
    if (!p) return;
    free(p->folds);
    free(p->pool);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ metrics */

typedef struct scored {
    double p;   /* score */
    uint8_t y;  /* label */
} scored;

static int scored_cmp(const void *a, const void *b)
{
    double x = ((const scored *)a)->p, z = ((const scored *)b)->p;
    return (x > z) - (x < z);
}

double ml_auc(const double *p, const uint8_t *y, size_t n)
{
    if (n == 0) return NAN;
    scored *s = xmalloc(xmul(n, sizeof *s));
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        s[i] = (scored){p[i], y[i] ? 1 : 0};
        pos += s[i].y;
    }
    uint64_t neg = n - pos;
    if (pos == 0 || neg == 0) {
        free(s);
        return NAN;
    }
    qsort(s, n, sizeof *s, scored_cmp);
    /* twice the Mann-Whitney U: each (pos, neg) pair scores 2 when the
     * positive ranks higher, 1 when tied */
    uint64_t u2 = 0; /* <= n^2 / 2: fits for n < 2^32 */
    uint64_t neg_below = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t gp = 0, gn = 0;
        while (j < n && s[j].p == s[i].p) {
            if (s[j].y) gp++;
            else gn++;
            j++;
        }
        u2 += gp * (2 * neg_below + gn);
        neg_below += gn;
        i = j;
    }
    free(s);
    return (double)u2 / (2.0 * (double)pos * (double)neg);
}

double ml_logloss(const double *p, const uint8_t *y, size_t n)
{
    if (n == 0) return NAN;
    const double lo = 1e-15, hi = 1.0 - 1e-15;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double q = p[i] < lo ? lo : p[i] > hi ? hi : p[i];
        s += y[i] ? -log(q) : -log(1.0 - q);
    }
    return s / (double)n;
}

const char *const ml_metric_names[ML_N_METRICS] = {"auc", "logloss", "accuracy", "precision", "recall", "f1",
                                                   "base_rate"};

double ml_metric_get(const ml_metrics *m, size_t i)
{
    switch (i) {
    case 0: return m->auc;
    case 1: return m->logloss;
    case 2: return m->accuracy;
    case 3: return m->precision;
    case 4: return m->recall;
    case 5: return m->f1;
    case 6: return m->base_rate;
    default: return NAN;
    }
}

void ml_metrics_compute(const double *p, const uint8_t *y, size_t n, ml_metrics *out)
{
    size_t tp = 0, fp = 0, tn = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        int pred = p[i] >= 0.5;
        if (pred && y[i]) tp++;
        else if (pred) fp++;
        else if (y[i]) fn++;
        else tn++;
    }
    out->auc = ml_auc(p, y, n);
    out->logloss = ml_logloss(p, y, n);
    if (n == 0) {
        out->accuracy = out->precision = out->recall = out->f1 = out->base_rate = NAN;
        return;
    }
    out->accuracy = (double)(tp + tn) / (double)n;
    out->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    out->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    out->f1 = 2 * tp + fp + fn ? (double)(2 * tp) / (double)(2 * tp + fp + fn) : 0.0;
    out->base_rate = (double)(tp + fn) / (double)n;
}

void ml_mean_std(const double *v, size_t n, double *mean, double *std)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) {
            s += v[i];
            m++;
        }
    *mean = m ? s / (double)m : NAN;
    if (m < 2) {
        *std = NAN;
        return;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(ss / (double)(m - 1));
}
