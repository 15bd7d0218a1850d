/* market.c — growable struct-of-arrays bar storage (see market.h). */
#include "market.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "xalloc.h"

const char *tb_freq_name(tb_freq f) { return f == TB_FREQ_1H ? "1h" : "1d"; }

int tb_freq_parse(const char *s, tb_freq *out)
{
    if (!strcmp(s, "1d")) *out = TB_FREQ_1D;
    else if (!strcmp(s, "1h")) *out = TB_FREQ_1H;
    else return -1;
    return 0;
}

int tb_freq_periods_per_year(tb_freq f) { return f == TB_FREQ_1H ? 252 * 7 : 252; }

/* Copy mapped field arrays to the heap (before anything reallocs them). */
static void market_unmap(tb_market *m)
{
    if (!m->map) return;
    size_t n = m->n_bars ? m->n_bars : 1;
    int64_t *ts = xmalloc(xmul(n, sizeof *ts));
    memcpy(ts, m->ts, m->n_bars * sizeof *ts);
    double **f[5] = {&m->open, &m->high, &m->low, &m->close, &m->volume};
    double *copy[5];
    for (int k = 0; k < 5; k++) {
        copy[k] = xmalloc(xmul(n, sizeof(double)));
        memcpy(copy[k], *f[k], m->n_bars * sizeof(double));
    }
    munmap(m->map, m->map_len);
    m->map = NULL;
    m->map_len = 0;
    m->ts = ts;
    for (int k = 0; k < 5; k++) *f[k] = copy[k];
    m->cap_bars = n;
}

static void market_grow_bars(tb_market *m, size_t cap)
{
    market_unmap(m);
    m->ts = xrealloc(m->ts, xmul(cap, sizeof *m->ts));
    m->open = xrealloc(m->open, xmul(cap, sizeof(double)));
    m->high = xrealloc(m->high, xmul(cap, sizeof(double)));
    m->low = xrealloc(m->low, xmul(cap, sizeof(double)));
    m->close = xrealloc(m->close, xmul(cap, sizeof(double)));
    m->volume = xrealloc(m->volume, xmul(cap, sizeof(double)));
    m->cap_bars = cap;
}

tb_market *market_new(tb_freq freq, size_t reserve_symbols, size_t reserve_bars)
{
    tb_market *m = xcalloc(1, sizeof *m);
    m->freq = freq;
    m->cap_syms = reserve_symbols ? reserve_symbols : 16;
    m->symbols = xcalloc(m->cap_syms, sizeof *m->symbols);
    m->offset = xcalloc(m->cap_syms + 1, sizeof *m->offset);
    market_grow_bars(m, reserve_bars ? reserve_bars : 1024);
    return m;
}

tb_market *market_new_mapped(tb_freq freq, size_t n_symbols, const char *const *names, const uint64_t *offset,
                             size_t n_bars, void *map, size_t map_len, int64_t *ts, double *open, double *high,
                             double *low, double *close, double *volume)
{
    tb_market *m = xcalloc(1, sizeof *m);
    m->freq = freq;
    m->n_symbols = n_symbols;
    m->cap_syms = n_symbols ? n_symbols : 1;
    m->symbols = xcalloc(m->cap_syms, sizeof *m->symbols);
    m->offset = xcalloc(m->cap_syms + 1, sizeof *m->offset);
    for (size_t i = 0; i < n_symbols; i++) m->symbols[i] = xstrdup(names[i]);
    for (size_t i = 0; i <= n_symbols; i++) m->offset[i] = (size_t)offset[i];
    m->n_bars = m->cap_bars = n_bars;
    m->map = map;
    m->map_len = map_len;
    m->ts = ts;
    m->open = open;
    m->high = high;
    m->low = low;
    m->close = close;
    m->volume = volume;
    return m;
}

void market_free(tb_market *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_symbols; i++) free(m->symbols[i]);
    free(m->symbols);
    free(m->offset);
    if (m->map) {
        munmap(m->map, m->map_len);
        free(m);
        return;
    }
    free(m->ts);
    free(m->open);
    free(m->high);
    free(m->low);
    free(m->close);
    free(m->volume);
    free(m);
}

size_t market_add_symbol(tb_market *m, const char *name)
{
    if (m->n_symbols == m->cap_syms) {
        m->cap_syms *= 2;
        m->symbols = xrealloc(m->symbols, xmul(m->cap_syms, sizeof *m->symbols));
        m->offset = xrealloc(m->offset, xmul(m->cap_syms + 1, sizeof *m->offset));
    }
    size_t i = m->n_symbols++;
    m->symbols[i] = xstrdup(name);
    m->offset[i] = m->n_bars;
    m->offset[i + 1] = m->n_bars;
    return i;
}

void market_reserve(tb_market *m, size_t n_more)
{
    size_t need = m->n_bars + n_more;
    if (need <= m->cap_bars) return;
    size_t cap = m->cap_bars * 2;
    if (cap < need) cap = need;
    market_grow_bars(m, cap);
}

void market_push_bar(tb_market *m, int64_t ts, double o, double h, double l, double c, double v)
{
    if (m->n_bars == m->cap_bars) market_reserve(m, 1);
    size_t k = m->n_bars++;
    m->ts[k] = ts;
    m->open[k] = o;
    m->high[k] = h;
    m->low[k] = l;
    m->close[k] = c;
    m->volume[k] = v;
    m->offset[m->n_symbols] = m->n_bars;
}

void market_finish(tb_market *m)
{
    m->offset[m->n_symbols] = m->n_bars;
}

void market_truncate_after(tb_market *m, int64_t end)
{
    size_t w = 0;
    for (size_t i = 0; i < m->n_symbols; i++) {
        size_t a = m->offset[i], b = m->offset[i + 1];
        m->offset[i] = w;
        for (size_t k = a; k < b && m->ts[k] <= end; k++, w++) {
            if (w == k) continue;
            m->ts[w] = m->ts[k];
            m->open[w] = m->open[k];
            m->high[w] = m->high[k];
            m->low[w] = m->low[k];
            m->close[w] = m->close[k];
            m->volume[w] = m->volume[k];
        }
    }
    m->n_bars = w;
    m->offset[m->n_symbols] = w;
}

tb_series market_series(const tb_market *m, size_t i)
{
    size_t a = m->offset[i];
    tb_series s = {m->symbols[i], market_len(m, i), m->ts + a,  m->open + a,
                   m->high + a,   m->low + a,        m->close + a, m->volume + a};
    return s;
}

long market_find(const tb_market *m, const char *name)
{
    for (size_t i = 0; i < m->n_symbols; i++)
        if (!strcmp(m->symbols[i], name)) return (long)i;
    return -1;
}
