/* factor_store.c — compute-once indicator arrays for the ML dataset (see
 * factor_store.h). FS_N_FACTORS planes of n_bars doubles, filled symbol by
 * symbol by the SPEC §2 indicator functions (VOL20 from the stored LOGRET1
 * with ind_vol's exact arithmetic), so a factor equals the value
 * `tradebench indicators` prints, bit for bit. The planes come from the
 * factor cache (factor_cache.h): computed here, or mapped from a file an
 * earlier run wrote. Never touches signals or labels. */
#include "factor_store.h"

#include <math.h>
#include <stdlib.h>

#include "factor_cache.h"
#include "indicators.h"
#include "xalloc.h"

/* Bump whenever a factor's computation could give other bits: cached stores
 * of the old computation are then ignored. */
#define FS_VERSION 1

struct fs_store {
    const tb_market *m;          /* borrowed market */
    fcache_arrays *arr;          /* the FS_N_FACTORS planes, computed or mapped */
};

static const char *const factor_names[FS_N_FACTORS] = {
    "sma20", "sma50", "ema20", "ema50", "atr14", "rsi14", "logret1", "logret5", "logret20", "vol20", "adv20",
};

const char *fs_factor_name(fs_factor f) { return (unsigned)f < FS_N_FACTORS ? factor_names[f] : "?"; }

/* VOL(n) from the LOGRET(1) array: the same sums in the same order as
 * ind_vol_at (which takes the logs itself), so the values are bit-identical
 * and each log is taken once per bar instead of n times. */
static void vol_from_logret(const double *lr, size_t len, int n, double *out)
{
    for (size_t t = 0; t < len && t < (size_t)n; t++) out[t] = NAN;
    for (size_t t = (size_t)n; t < len; t++) {
        size_t a = t + 1 - (size_t)n;
        double s = 0;
        for (size_t u = a; u <= t; u++) s += lr[u];
        double mean = s / n, ss = 0;
        for (size_t u = a; u <= t; u++) ss += (lr[u] - mean) * (lr[u] - mean);
        out[t] = sqrt(ss / (n - 1));
    }
}

/* Every factor of symbol i: f[k] is plane k at the symbol's first bar. */
static void fs_fill(const fcache_spec *sp, const tb_market *m, size_t i, double *const *f, double *scratch)
{
    (void)sp, (void)scratch;
    size_t o = m->offset[i], n = market_len(m, i);
    const double *h = m->high + o, *l = m->low + o, *c = m->close + o, *v = m->volume + o;
    ind_sma(c, n, 20, f[FS_SMA20]);
    ind_sma(c, n, 50, f[FS_SMA50]);
    ind_ema(c, n, 20, f[FS_EMA20]);
    ind_ema(c, n, 50, f[FS_EMA50]);
    ind_atr(h, l, c, n, 14, f[FS_ATR14]);
    ind_rsi(c, n, 14, f[FS_RSI14]);
    ind_logret(c, n, 1, f[FS_LOGRET1]);
    ind_logret(c, n, 5, f[FS_LOGRET5]);
    ind_logret(c, n, 20, f[FS_LOGRET20]);
    vol_from_logret(f[FS_LOGRET1], n, 20, f[FS_VOL20]);
    ind_adv(v, n, 20, f[FS_ADV20]);
}

fs_store *fs_build_cached(const tb_market *m, const tb_data_id *id, int threads, fcache_status *st)
{
    const fcache_spec sp = {"factors", FCACHE_KIND_FACTORS, 0, 0, FS_VERSION, FS_N_FACTORS, 1, 0, fs_fill};
    fs_store *fs = xcalloc(1, sizeof *fs);
    fs->m = m;
    fs->arr = fcache_get(&sp, m, id, threads, st);
    return fs;
}

fs_store *fs_build(const tb_market *m) { return fs_build_cached(m, NULL, 1, NULL); }

void fs_free(fs_store *fs)
{
    if (!fs) return;
    fcache_release(fs->arr);
    free(fs);
}

const tb_market *fs_market(const fs_store *fs) { return fs->m; }

const double *fs_series(const fs_store *fs, fs_factor f, size_t i) { return fcache_series(fs->arr, f, i); }

size_t fs_bytes(const fs_store *fs) { return sizeof *fs + (fs->m->n_bars ? fs->m->n_bars : 1) * FS_N_FACTORS * sizeof(double); }
