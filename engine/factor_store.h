/* factor_store.h — the per-symbol indicator arrays the ML dataset needs
 * (SPEC §6.1): SMA20, SMA50, EMA20, EMA50, ATR14, RSI14, LOGRET1/5/20,
 * VOL20, ADV20, computed once over a market and kept, so that rebuilding a
 * dataset with other label parameters (pt, sl, h) or another base strategy
 * reads them instead of recomputing them. Layout follows the market: factor f
 * of symbol i is a contiguous run of market_len(m, i) doubles. The store
 * borrows the market (which must outlive it) and owns its arrays: one
 * allocation, or a mapping of the factor cache's file (fs_build_cached). */
#ifndef TB_FACTOR_STORE_H
#define TB_FACTOR_STORE_H
#include <stddef.h>

#include "datasource.h"
#include "factor_cache.h"
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
/* The same through the factor cache (factor_cache.h): with m's identity id
 * (source_load_id(), possibly cut by market_truncate_after) the factors are
 * mapped from a file an earlier run wrote, or computed on `threads` threads
 * and stored. Same values either way. st (may be NULL) says which. */
fs_store *fs_build_cached(const tb_market *m, const tb_data_id *id, int threads, fcache_status *st);
void fs_free(fs_store *fs);

/* The market the store was built over. */
const tb_market *fs_market(const fs_store *fs);
/* Factor f of symbol i: market_len(m, i) values, NaN where undefined. */
const double *fs_series(const fs_store *fs, fs_factor f, size_t i);
/* "sma20", "ema50", "logret5", ... */
const char *fs_factor_name(fs_factor f);
/* Bytes held by the store's arrays (for the report's memory figures). */
size_t fs_bytes(const fs_store *fs);

#endif
