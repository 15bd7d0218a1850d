/* datasource.h — where bars come from: "synthetic" (the embedded,
 * deterministic default, SPEC §1.1) or a CSV directory. Lists the available
 * symbols and loads a universe of them into a market. */
#ifndef TB_DATASOURCE_H
#define TB_DATASOURCE_H
#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "tb_error.h"
#include "universe.h"

typedef struct tb_source {
    const char *data;      /* "synthetic" or a directory */
    tb_freq freq;
    uint64_t seed;         /* synthetic: default 42 */
    size_t synth_symbols;  /* synthetic: default 500 */
    size_t synth_bars;     /* synthetic: default 2520 */
} tb_source;

/* Defaults: data = $TB_DATA or "synthetic", 1d, seed 42, 500 x 2520. */
void source_defaults(tb_source *s);
int source_is_synthetic(const tb_source *s);

/* Sorted list of available symbols (free with csv_free_names). */
int source_list_symbols(const tb_source *s, char ***names, size_t *n, tb_error *err);
/* Load the universe's symbols, in universe order. */
int source_load(const tb_source *s, const tb_universe *u, tb_market **out, tb_error *err);

/* What identifies the bars of a load, for caches of arrays computed from
 * them (factor_cache.h) — without hashing the bars:
 *   CSV directory: the panel cache file they are exactly the contents of
 *     (panel_cache.h: its key and the checksum of its body, which covers the
 *     source files' stat records and every bar); unknown when the panel
 *     cache is off or did not hold them (files modified in the last 2 s);
 *   synthetic: the generator's parameters (seed, universe size, bars,
 *     frequency), the symbol indices, and each symbol's first and last bar
 *     as generated (a guard against a changed generator).
 * The id determines every bar of the load, hence its offsets. The market may
 * then be cut by market_truncate_after() (each symbol keeps a prefix of its
 * bars, so it still reads arrays of the whole load whose values at a bar
 * depend on earlier bars only); any other change to its bars makes the id
 * wrong. */
typedef struct tb_data_id {
    int known;        /* 0: no safe identity; derived caches are not used */
    uint64_t w[4];    /* source kind (1 CSV, 2 synthetic) and three identifying words */
    uint64_t n_bars;  /* bars of the load before any cut (a market with fewer was cut) */
} tb_data_id;

/* source_load() that also fills *id (id->known = 0 when there is none). */
int source_load_id(const tb_source *s, const tb_universe *u, tb_market **out, tb_data_id *id, tb_error *err);

#endif
