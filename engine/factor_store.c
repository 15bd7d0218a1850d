/* factor_store.c — compute-once indicator arrays for the ML dataset (see
 * factor_store.h). One allocation of FS_N_FACTORS x n_bars doubles; every
 * array is filled by the SPEC §2 indicator functions (VOL20 from the stored
 * LOGRET1 with ind_vol's exact arithmetic), so a factor equals the value
 * `tradebench indicators` prints, bit for bit. Never touches signals or labels. */
#include "factor_store.h"

#include <math.h>
#include <stdlib.h>

#include "indicators.h"
#include "xalloc.h"

struct fs_store {
    const tb_market *m;        /* borrowed market; layout of every factor array */
    double *data;              /* FS_N_FACTORS * n_bars doubles, one allocation */
    double *f[FS_N_FACTORS];   /* f[k] = data + k * n_bars, market layout */
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

fs_store *fs_build(const tb_market *m)
{
    fs_store *fs = xcalloc(1, sizeof *fs);
    fs->m = m;
    size_t nb = m->n_bars ? m->n_bars : 1;
    fs->data = xmalloc(xmul(xmul(nb, FS_N_FACTORS), sizeof(double)));
    for (size_t k = 0; k < FS_N_FACTORS; k++) fs->f[k] = fs->data + k * nb;
    for (size_t i = 0; i < m->n_symbols; i++) {
        size_t o = m->offset[i], n = market_len(m, i);
        const double *h = m->high + o, *l = m->low + o, *c = m->close + o, *v = m->volume + o;
        ind_sma(c, n, 20, fs->f[FS_SMA20] + o);
        ind_sma(c, n, 50, fs->f[FS_SMA50] + o);
        ind_ema(c, n, 20, fs->f[FS_EMA20] + o);
        ind_ema(c, n, 50, fs->f[FS_EMA50] + o);
        ind_atr(h, l, c, n, 14, fs->f[FS_ATR14] + o);
        ind_rsi(c, n, 14, fs->f[FS_RSI14] + o);
        ind_logret(c, n, 1, fs->f[FS_LOGRET1] + o);
        ind_logret(c, n, 5, fs->f[FS_LOGRET5] + o);
        ind_logret(c, n, 20, fs->f[FS_LOGRET20] + o);
        vol_from_logret(fs->f[FS_LOGRET1] + o, n, 20, fs->f[FS_VOL20] + o);
        ind_adv(v, n, 20, fs->f[FS_ADV20] + o);
    }
    return fs;
}

void fs_free(fs_store *fs)
{
    if (!fs) return;
    free(fs->data);
    free(fs);
}

const tb_market *fs_market(const fs_store *fs) { return fs->m; }

const double *fs_series(const fs_store *fs, fs_factor f, size_t i) { return fs->f[f] + fs->m->offset[i]; }

size_t fs_bytes(const fs_store *fs) { return sizeof *fs + (fs->m->n_bars ? fs->m->n_bars : 1) * FS_N_FACTORS * sizeof(double); }
