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
    tb_data_id id;
    return source_load_id(s, u, out, &id, err);
}

/* FNV-1a over 64-bit words, for the synthetic id. */
static uint64_t id_mix(uint64_t h, uint64_t w)
{
    for (int b = 0; b < 64; b += 8) h = (h ^ ((w >> b) & 0xff)) * 0x100000001b3ULL;
    return h;
}

static uint64_t id_mix_double(uint64_t h, double x)
{
    uint64_t w;
    memcpy(&w, &x, sizeof w);
    return id_mix(h, w);
}

int source_load_id(const tb_source *s, const tb_universe *u, tb_market **out, tb_data_id *id, tb_error *err)
{
    memset(id, 0, sizeof *id);
    if (!source_is_synthetic(s)) {
        pcache_status st;
        int rc = pcache_csv_load(s->data, (const char *const *)u->names, u->n, s->freq, out, &st, err);
        if (rc == 0 && st.identified) *id = (tb_data_id){1, {1, st.key_hash, st.checksum, 0}, (*out)->n_bars};
        return rc;
    }
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
    if (rc == 0) {
        const tb_market *m = *out;
        uint64_t params = 0xcbf29ce484222325ULL, syms = params, ends = params;
        params = id_mix(id_mix(id_mix(id_mix(params, sp.seed), sp.n_symbols), sp.n_bars), (uint64_t)sp.freq);
        for (size_t i = 0; i < u->n; i++) syms = id_mix(syms, idx[i]);
        for (size_t i = 0; i < m->n_symbols; i++) {
            if (!market_len(m, i)) continue;
            size_t k[2] = {m->offset[i], m->offset[i + 1] - 1};
            for (int e = 0; e < 2; e++) {
                ends = id_mix(ends, (uint64_t)m->ts[k[e]]);
                ends = id_mix_double(ends, m->open[k[e]]);
                ends = id_mix_double(ends, m->high[k[e]]);
                ends = id_mix_double(ends, m->low[k[e]]);
                ends = id_mix_double(ends, m->close[k[e]]);
                ends = id_mix_double(ends, m->volume[k[e]]);
            }
        }
        *id = (tb_data_id){1, {2, params, syms, ends}, m->n_bars};
    }
    free(idx);
    return rc;
}
