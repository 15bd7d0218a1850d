/* meta_filter.c — the SPEC §3 meta-model filter (see meta_filter.h).
 * Entry events are few (a few per symbol and year), so the features are
 * gathered for entries only and predicted in one XGBoost call; the factor
 * store is taken once over the market (mapped from the factor cache when an
 * earlier run stored it, else computed) and dropped afterwards. The rule
 * itself (meta_filter_series) is a pure loop, unit-tested on its own. */
#include "meta_filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factor_store.h"
#include "ml_dataset.h"
#include "timeutil.h"
#include "xalloc.h"

void meta_filter_series(const uint8_t *s, const double *p, size_t n, double threshold, uint8_t *f)
{
    uint8_t prev_s = 0, prev_f = 0;
    for (size_t t = 0; t < n; t++) {
        uint8_t v;
        if (!s[t]) v = 0;
        else if (!prev_s) v = p[t] >= threshold; /* NaN compares false: undefined never passes */
        else v = prev_f;
        f[t] = v;
        prev_s = s[t];
        prev_f = v;
    }
}

int meta_filter_apply(const tb_market *m, const tb_data_id *id, ml_model *model, double threshold, uint8_t *sig,
                      tb_meta_result *out, tb_error *err)
{
    out->applied = 1;
    out->n_entries = out->n_undefined = out->n_passed = 0;
    size_t nb = m->n_bars;
    /* entry events, in market order */
    size_t n_ev = 0;
    for (size_t i = 0; i < m->n_symbols; i++) {
        const uint8_t *s = sig + m->offset[i];
        for (size_t t = 0; t < market_len(m, i); t++) n_ev += s[t] && (t == 0 || !s[t - 1]);
    }
    out->n_entries = n_ev;
    if (n_ev == 0) return 0;

    double *p = xmalloc(xmul(nb, sizeof *p));
    float *X = xmalloc(xmul(n_ev, ML_N_FEATURES * sizeof *X));
    size_t *at = xmalloc(xmul(n_ev, sizeof *at)); /* market index of each defined entry */
    double *prob = NULL;
    uint8_t *f = NULL;
    int rc = -1;
    fs_store *fs = fs_build_cached(m, id, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1, NULL);
    size_t n_def = 0;
    for (size_t i = 0; i < m->n_symbols; i++) {
        const uint8_t *s = sig + m->offset[i];
        for (size_t t = 0; t < market_len(m, i); t++) {
            p[m->offset[i] + t] = NAN;
            if (!s[t] || (t > 0 && s[t - 1])) continue;
            double x[ML_N_FEATURES];
            if (!ml_features_at(fs, i, t, x)) {
                out->n_undefined++;
                continue;
            }
            for (size_t k = 0; k < ML_N_FEATURES; k++) X[n_def * ML_N_FEATURES + k] = (float)x[k];
            at[n_def++] = m->offset[i] + t;
        }
    }
    fs_free(fs);
    prob = xmalloc(xmul(n_def ? n_def : 1, sizeof *prob));
    if (n_def && ml_model_predict(model, X, n_def, prob, err)) goto out;
    for (size_t r = 0; r < n_def; r++) {
        p[at[r]] = prob[r];
        out->n_passed += prob[r] >= threshold;
    }
    f = xmalloc(nb ? nb : 1);
    for (size_t i = 0; i < m->n_symbols; i++)
        meta_filter_series(sig + m->offset[i], p + m->offset[i], market_len(m, i), threshold, f + m->offset[i]);
    memcpy(sig, f, nb);
    rc = 0;
out:
    free(p);
    free(X);
    free(at);
    free(prob);
    free(f);
    return rc;
}

int meta_filter_overlap(const tb_meta_config *c, int64_t lo, int64_t hi)
{
    if (c->train_first_ts == INT64_MIN || c->train_last_ts == INT64_MIN) return -1;
    return c->train_first_ts <= hi && c->train_last_ts >= lo;
}

static void md_num(FILE *f, double x, int pct)
{
    if (!isfinite(x)) fputs("–", f);
    else if (pct) fprintf(f, "%.2f%%", x * 100.0);
    else fprintf(f, "%.4f", x);
}

int meta_filter_write_report(FILE *f, const tb_backtest *bt, const tb_backtest_config *c)
{
    const tb_meta_result *r = &bt->meta;
    if (!r->applied) return 0;
    const int date_only = bt->market->freq == TB_FREQ_1D;
    const int64_t lo = bt->panel.ts[0], hi = bt->panel.ts[bt->panel.T - 1];
    char a[24], b[24];
    fputs("\n## Meta-model filter\n\n| | |\n|---|---|\n", f);
    fprintf(f, "| model | %s |\n| threshold | %g |\n", c->meta.source ? c->meta.source : "(unnamed)", c->meta.threshold);
    fprintf(f, "| entry signals of the base strategy (warm-up bars included) | %zu |\n", r->n_entries);
    fprintf(f, "| passed (p ≥ threshold) | %zu |\n", r->n_passed);
    fprintf(f, "| features undefined (never pass) | %zu |\n", r->n_undefined);
    int ov = meta_filter_overlap(&c->meta, lo, hi);
    if (ov < 0) {
        fputs("| model training data | unknown (a model file carries no data range) |\n", f);
        fputs("| overlaps the backtest range | unknown |\n", f);
    } else {
        tu_format(c->meta.train_first_ts, date_only, a);
        tu_format(c->meta.train_last_ts, date_only, b);
        fprintf(f, "| model training data | %s … %s (signal bars to the last label) |\n", a, b);
        fprintf(f, "| overlaps the backtest range | %s |\n", ov ? "**yes**" : "no");
    }
    if (ov == 1)
        fputs("\n**Warning:** the model was trained on data that overlaps this backtest's range, so the filtered "
              "figures are partly in-sample and overstate what the filter would have done live.\n",
              f);
    else if (ov < 0)
        fputs("\nThe model's training range is unknown: check that it does not overlap this backtest's range "
              "before trusting the filtered figures.\n",
              f);
    fputs("\n### Filtered against the unfiltered base strategy\n\n| metric | filtered | base |\n|---|---|---|\n",
          f);
    static const struct {
        const char *name;
        size_t k;
        int pct;
    } rows[] = {{"sharpe", 3, 0}, {"cagr", 1, 1}, {"total_return", 0, 1}, {"max_drawdown", 5, 1},
                {"n_orders (trades)", 10, 0}, {"hit_rate", 12, 1}, {"exposure", 9, 1}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fprintf(f, "| %s | ", rows[i].name);
        double x = metrics_get(&bt->metrics, rows[i].k), y = metrics_get(&r->base, rows[i].k);
        if (rows[i].k == 10) fprintf(f, "%.0f | %.0f |\n", x, y);
        else {
            md_num(f, x, rows[i].pct);
            fputs(" | ", f);
            md_num(f, y, rows[i].pct);
            fputs(" |\n", f);
        }
    }
    return ferror(f) ? -1 : 0;
}
