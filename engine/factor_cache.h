/* factor_cache.h — arrays computed from a market's bars (indicator arrays,
 * the cost statistics table, the ML factor store) kept in files beside the
 * panel cache, so that later runs — other worker children, other strategies,
 * other sweeps and sweep chunks — map them instead of computing them again
 * (issue 6, P3 item 3).
 *
 * Key: what the arrays are (a spec: kind, parameters, the computation's
 * version, shape) and which bars they come from: the load's tb_data_id
 * (datasource.h: the checked panel cache file's checksum, or the synthetic
 * generator's parameters). Nothing re-hashes the bars: a changed CSV file
 * gives a new panel cache file, a new checksum, a new key. A file holds the
 * arrays of the whole load; a market cut at `end` reads each symbol's prefix
 * of them (a spec's value at a bar depends on that bar and earlier ones only).
 *
 * A file `<cache dir>/fact-<hash>.tbf` holds the key, the load's offsets, one
 * checksum per symbol and the values in the load's market layout. A hit maps
 * it read-only and shared (zero copies; its pages are the page cache's,
 * shared by every process that maps it) after checking the header and key
 * against the request, the offsets against the market, every symbol's
 * checksum (split over the caller's threads), and one symbol recomputed from
 * the bars and compared bit for bit (a guard against a changed computation
 * whose version was not bumped). Anything off, or no file: the arrays of an
 * uncut market are computed and the file (re)written atomically (a private
 * temporary file, then rename); a cut market is not stored. A cache problem
 * never fails a run.
 *
 * Where: pcache_dir() ($TB_CACHE_DIR, default var/cache; "off" disables
 * both caches), bounded together with the panel files by TB_CACHE_MAX_MB.
 * TB_FACTOR_CACHE=off disables only this one. Never prints. */
#ifndef TB_FACTOR_CACHE_H
#define TB_FACTOR_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "costs.h"
#include "datasource.h"
#include "indicators.h"
#include "market.h"

#define FCACHE_FORMAT_VERSION 1
#define FCACHE_MAX_PLANES 16

/* What the arrays are and how one symbol's values are computed. */
typedef struct fcache_spec {
    const char *name;        /* for reasons: "cost_stats", "ema(20)", "factors" */
    uint32_t kind;           /* FCACHE_KIND_* */
    int32_t a, b;            /* parameters (an indicator's kind and period) */
    uint32_t version;        /* of the computation: bump whenever it could give other bits */
    size_t planes;           /* arrays, each n_bars * width doubles in market layout */
    size_t width;            /* doubles per bar in a plane */
    size_t scratch_per_bar;  /* doubles of scratch fill() needs per bar of the symbol */
    /* Symbol i's values: out[k] = plane k at the symbol's first bar (market_len * width doubles).
     * The values at a bar must depend on that bar and earlier ones only. */
    void (*fill)(const struct fcache_spec *sp, const tb_market *m, size_t i, double *const *out, double *scratch);
} fcache_spec;

enum { FCACHE_KIND_COST_STATS = 1, FCACHE_KIND_INDICATOR = 2, FCACHE_KIND_FACTORS = 3 };

/* SPREAD/VOL/ADV(20) at every bar (costs.h: one tb_cost_stats per bar, so
 * plane 0 is a tb_cost_table); and ind_compute(k) of every symbol. */
fcache_spec fcache_spec_cost_stats(void);
fcache_spec fcache_spec_indicator(ind_key k);

typedef enum {
    FCACHE_OFF = 0,       /* disabled, or the bars have no safe identity */
    FCACHE_HIT,           /* mapped from the cache file */
    FCACHE_MISS_ABSENT,   /* no file for this key */
    FCACHE_MISS_INVALID   /* a file that failed a check: ignored (and rewritten when computed) */
} fcache_outcome;

typedef struct fcache_status {
    fcache_outcome outcome;
    int stored;              /* a cache file was written */
    char path[4096];         /* the file of this key ("" when off) */
    char reason[256];        /* why the file was not used or not written ("" otherwise) */
} fcache_status;

/* The arrays of one spec over one market: mapped or owned. */
typedef struct fcache_arrays fcache_arrays;

/* 1 when arrays over bars with this identity can come from / go to files. */
int fcache_usable(const tb_data_id *id);

/* Whether taking indicator k from the cache beats computing it where it is
 * used: not for an EMA (a multiply-add per bar, computed beside the signal
 * faster than 4 MB are mapped and verified: trend_baseline's signals stage
 * took 1.3 ms computed and 1.7-1.9 ms from the cache), yes for the others
 * (ATR's division, SMA's window sums: ema_trend 1.8 -> 1.1 ms). */
int fcache_indicator_pays(ind_key k);

/* The arrays of sp over m (id: m's identity from source_load_id(), m
 * possibly cut by market_truncate_after since) when the cache can give
 * them: mapped from the file, or — for an uncut market — computed on
 * `threads` threads (1 or more) and stored. NULL when it cannot (off, no
 * identity, a cut market without a file): the caller computes what it needs
 * its own way. st (may be NULL) says which. The caller fcache_release()s
 * the result; m must outlive it. */
fcache_arrays *fcache_lookup(const fcache_spec *sp, const tb_market *m, const tb_data_id *id, int threads,
                             fcache_status *st);
/* fcache_lookup(), else the arrays computed here (not stored): never NULL.
 * id may be NULL (no cache). */
fcache_arrays *fcache_get(const fcache_spec *sp, const tb_market *m, const tb_data_id *id, int threads,
                          fcache_status *st);
/* Plane k of symbol i: market_len(m, i) * width doubles (more may follow). */
const double *fcache_series(const fcache_arrays *a, size_t k, size_t i);
void fcache_release(fcache_arrays *a);

/* The cost statistics table of m through fcache_lookup(): NULL, or the
 * arrays tab->at points into, which the caller releases after the last read
 * of tab. *offset is for tb_sim_opts.stats_offset: NULL when the table is in
 * m's layout, else where each symbol's rows start (m was cut). */
fcache_arrays *fcache_cost_table(const tb_market *m, const tb_data_id *id, int threads, tb_cost_table *tab,
                                 const size_t **offset, fcache_status *st);

/* "off", "hit", "absent", "invalid". */
const char *fcache_outcome_name(fcache_outcome o);

#endif
