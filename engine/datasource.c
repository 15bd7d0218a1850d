/* datasource.c — synthetic or CSV-directory bars (see datasource.h). CSV
 * directories load through the panel cache (panel_cache.h). */
#include "datasource.h"

#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"
#include "panel_cache.h"
#include "synth.h"
#include "xalloc.h"

void source_defaults(tb_source *s)
{
    const char *env = getenv("TB_DATA");
    s->data = env && *env ? env : "synthetic";
    s->freq = TB_FREQ_1D;
    s->seed = 42;
    s->synth_symbols = 500;
    s->synth_bars = 2520;
}

int source_is_synthetic(const tb_source *s) { return !strcmp(s->data, "synthetic"); }

int source_list_symbols(const tb_source *s, char ***names, size_t *n, tb_error *err)
{
    if (!source_is_synthetic(s)) return csv_list_symbols(s->data, names, n, err);
    if (s->synth_symbols == 0) return tb_fail_field(err, TB_EINVAL, "symbols", "synthetic source has no symbols");
    char **v = xmalloc(xmul(s->synth_symbols, sizeof *v));
    char buf[32];
    for (size_t i = 0; i < s->synth_symbols; i++) {
        synth_symbol_name(i, s->synth_symbols, buf);
        v[i] = xstrdup(buf);
    }
    *names = v;
    *n = s->synth_symbols;
    return 0;
}

int source_load(const tb_source *s, const tb_universe *u, tb_market **out, tb_error *err)
{
    if (!source_is_synthetic(s))
        return pcache_csv_load(s->data, (const char *const *)u->names, u->n, s->freq, out, NULL, err);
    size_t *idx = xmalloc(xmul(u->n, sizeof *idx));
    for (size_t i = 0; i < u->n; i++) {
        long k = synth_symbol_index(u->names[i], s->synth_symbols);
        if (k < 0) {
            free(idx);
            return tb_fail_field(err, TB_EINVAL, "symbols", "symbol '%s' is not in the synthetic source", u->names[i]);
        }
        idx[i] = (size_t)k;
    }
    tb_synth_params sp = {s->seed, s->synth_symbols, s->synth_bars, s->freq};
    int rc = synth_generate(&sp, idx, u->n, out, err);
    free(idx);
    return rc;
}
