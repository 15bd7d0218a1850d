/* factor_store.h — the per-symbol indicator arrays the ML dataset needs
 * (SPEC §6.1): SMA20, SMA50, EMA20, EMA50, ATR14, RSI14, LOGRET1/5/20,
 * VOL20, ADV20, computed once over a market and kept, so that rebuilding a
 * dataset with other label parameters (pt, sl, h) or another base strategy
 * reads them instead of recomputing them; plus keyed arrays of any indicator
 * and period, the indicator cache shared by a sweep's members (below).
 * Layout follows the market: factor f
 * of symbol i is a contiguous run of market_len(m, i) doubles. The store
 * borrows the market (which must outlive it) and owns one allocation. */
#ifndef TB_FACTOR_STORE_H
#define TB_FACTOR_STORE_H
#include <stddef.h>

#include "indicators.h"
#include "market.h"

typedef enum fs_factor {
    FS_SMA20 = 0,
    FS_SMA50,
    FS_EMA20,
    FS_EMA50,
    FS_ATR14,
    FS_RSI14,
    FS_LOGRET1,
    FS_LOGRET5,
    FS_LOGRET20,
    FS_VOL20,
    FS_ADV20,
    FS_N_FACTORS
} fs_factor;

typedef struct fs_store fs_store;

/* Compute every factor for every symbol of m. Never fails (allocation
 * aborts). Returns a new store; the caller fs_free()s it. m is borrowed and
 * must stay alive and unchanged while the store is used. */
fs_store *fs_build(const tb_market *m);
void fs_free(fs_store *fs);

/* The market the store was built over. */
const tb_market *fs_market(const fs_store *fs);
/* Factor f of symbol i: market_len(m, i) values, NaN where undefined. */
const double *fs_series(const fs_store *fs, fs_factor f, size_t i);
/* "sma20", "ema50", "logret5", ... */
const char *fs_factor_name(fs_factor f);
/* Bytes held by the store's arrays (for the report's memory figures). */
size_t fs_bytes(const fs_store *fs);

/* ---- keyed arrays: any indicator and period (indicators.h ind_key) ----------
 * The shared indicator cache of sweeps: each distinct (indicator, period) a
 * strategy reads is computed once over the market and read by every member.
 * Writers (fs_ensure, fs_drop) and readers must not overlap: a caller adds
 * what a batch of work needs, then any number of threads read. */

/* An empty store over m (no standard factors): only keyed arrays. */
fs_store *fs_new(const tb_market *m);
/* The market-layout array of k (bar b of symbol i at offset[i] + b), or NULL when absent. */
const double *fs_keyed(const fs_store *fs, ind_key k);
/* Compute every absent key of keys[0..n) for every symbol, on `threads`
 * threads (>= 1; work is split by symbol). Returns how many were computed. */
size_t fs_ensure(fs_store *fs, const ind_key *keys, size_t n, int threads);
/* Free the keyed arrays not in keep[0..n_keep). */
void fs_drop_except(fs_store *fs, const ind_key *keep, size_t n_keep);
/* Number of keyed arrays held. */
size_t fs_n_keyed(const fs_store *fs);

#endif
