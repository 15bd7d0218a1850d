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

#endif
