/* factor_store.c — compute-once indicator arrays for the ML dataset (see
 * factor_store.h). One allocation of FS_N_FACTORS x n_bars doubles; every
 * array is filled by the SPEC §2 indicator functions (VOL20 from the stored
 * LOGRET1 with ind_vol's exact arithmetic), so a factor equals the value
 * `tradebench indicators` prints, bit for bit. Keyed arrays (fs_new,
 * fs_ensure) are whole ind_compute() arrays, computed on a few threads split
 * by symbol. Never touches signals or labels. */
#include "factor_store.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "indicators.h"
#include "xalloc.h"

typedef struct fs_entry {
    ind_key k;                 /* indicator and period */
    double *a;                 /* n_bars doubles, market layout, owned */
} fs_entry;

struct fs_store {
    const tb_market *m;        /* borrowed market; layout of every factor array */
    double *data;              /* FS_N_FACTORS * n_bars doubles, one allocation; NULL from fs_new */
    double *f[FS_N_FACTORS];   /* f[k] = data + k * n_bars, market layout */
    fs_entry *keyed;           /* keyed arrays, n_keyed of cap_keyed */
    size_t n_keyed, cap_keyed;
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
    for (size_t j = 0; j < fs->n_keyed; j++) free(fs->keyed[j].a);
    free(fs->keyed);
    free(fs);
}

const tb_market *fs_market(const fs_store *fs) { return fs->m; }

const double *fs_series(const fs_store *fs, fs_factor f, size_t i) { return fs->f[f] + fs->m->offset[i]; }

size_t fs_bytes(const fs_store *fs)
{
    size_t nb = fs->m->n_bars ? fs->m->n_bars : 1;
    return sizeof *fs + (fs->data ? nb * FS_N_FACTORS * sizeof(double) : 0) + fs->n_keyed * nb * sizeof(double);
}

/* ---- keyed arrays ---------------------------------------------------------------- */

fs_store *fs_new(const tb_market *m)
{
    fs_store *fs = xcalloc(1, sizeof *fs);
    fs->m = m;
    return fs;
}

static int fs_key_eq(ind_key a, ind_key b) { return a.kind == b.kind && a.n == b.n; }

const double *fs_keyed(const fs_store *fs, ind_key k)
{
    for (size_t j = 0; j < fs->n_keyed; j++)
        if (fs_key_eq(fs->keyed[j].k, k)) return fs->keyed[j].a;
    return NULL;
}

size_t fs_n_keyed(const fs_store *fs) { return fs->n_keyed; }

typedef struct fs_job {
    const tb_market *m;
    const fs_entry *todo;      /* the new entries */
    size_t n_todo;
    size_t from, to;           /* symbols */
} fs_job;

static void *fs_job_run(void *arg)
{
    const fs_job *jb = arg;
    const tb_market *m = jb->m;
    for (size_t i = jb->from; i < jb->to; i++) {
        size_t o = m->offset[i], n = market_len(m, i);
        for (size_t j = 0; j < jb->n_todo; j++)
            ind_compute(jb->todo[j].k, m->high + o, m->low + o, m->close + o, n, jb->todo[j].a + o);
    }
    return NULL;
}

size_t fs_ensure(fs_store *fs, const ind_key *keys, size_t n, int threads)
{
    const tb_market *m = fs->m;
    size_t first_new = fs->n_keyed;
    for (size_t j = 0; j < n; j++) {
        if (fs_keyed(fs, keys[j])) continue;
        if (fs->n_keyed == fs->cap_keyed) {
            fs->cap_keyed = fs->cap_keyed ? 2 * fs->cap_keyed : 8;
            fs->keyed = xrealloc(fs->keyed, xmul(fs->cap_keyed, sizeof *fs->keyed));
        }
        fs->keyed[fs->n_keyed++] = (fs_entry){keys[j], xmalloc(xmul(m->n_bars ? m->n_bars : 1, sizeof(double)))};
    }
    size_t n_new = fs->n_keyed - first_new;
    if (!n_new) return 0;
    enum { FS_MAX_THREADS = 64 };
    if (threads < 1) threads = 1;
    if (threads > FS_MAX_THREADS) threads = FS_MAX_THREADS;
    if ((size_t)threads > m->n_symbols) threads = m->n_symbols ? (int)m->n_symbols : 1;
    fs_job jobs[FS_MAX_THREADS];
    pthread_t tid[FS_MAX_THREADS];
    int started[FS_MAX_THREADS] = {0};
    /* split the symbols into runs of about equal bar counts */
    size_t from = 0;
    for (int t = 0; t < threads; t++) {
        size_t to = m->n_symbols;
        if (t < threads - 1) {
            size_t goal = m->n_bars * (size_t)(t + 1) / (size_t)threads;
            for (to = from; to < m->n_symbols && m->offset[to] < goal;) to++;
        }
        jobs[t] = (fs_job){m, fs->keyed + first_new, n_new, from, to};
        from = to;
    }
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&tid[t], NULL, fs_job_run, &jobs[t]) == 0;
    for (int t = 1; t < threads; t++)
        if (!started[t]) fs_job_run(&jobs[t]); /* no thread: do it here */
    fs_job_run(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    return n_new;
}

void fs_drop_except(fs_store *fs, const ind_key *keep, size_t n_keep)
{
    size_t w = 0;
    for (size_t j = 0; j < fs->n_keyed; j++) {
        int kept = 0;
        for (size_t k = 0; k < n_keep && !kept; k++) kept = fs_key_eq(fs->keyed[j].k, keep[k]);
        if (kept) fs->keyed[w++] = fs->keyed[j];
        else free(fs->keyed[j].a);
    }
    fs->n_keyed = w;
}
