/* market.h — market data in memory: per-symbol bar sequences stored as
 * struct-of-arrays, one contiguous allocation per field for all symbols.
 * Symbol i's bars are indices [offset[i], offset[i+1]) of every field array,
 * ascending in time. Built by the CSV reader and the synthetic generator;
 * read by the panel, indicators and simulation. Owns all of its memory: the
 * field arrays are either malloc'd or, for a market loaded from the panel
 * cache (panel_cache.h), point into one private file mapping it unmaps. */
#ifndef TB_MARKET_H
#define TB_MARKET_H
#include <stddef.h>
#include <stdint.h>

typedef enum { TB_FREQ_1D = 0, TB_FREQ_1H = 1 } tb_freq;

const char *tb_freq_name(tb_freq f);           /* "1d" / "1h" */
int tb_freq_parse(const char *s, tb_freq *out); /* 0 ok, -1 unknown */
int tb_freq_periods_per_year(tb_freq f);       /* 252 / 1764 */

typedef struct tb_market {
    tb_freq freq;      /* bar frequency */
    size_t n_symbols;  /* number of symbols */
    char **symbols;    /* n_symbols owned names, in the order they were added */
    size_t *offset;    /* n_symbols + 1 entries */
    size_t n_bars;     /* offset[n_symbols] once finished */
    size_t cap_bars;   /* allocated capacity of each field array */
    size_t cap_syms;   /* allocated capacity of symbols/offset */
    int64_t *ts;       /* seconds since epoch, UTC */
    double *open, *high, *low, *close, *volume;
    void *map;         /* non-NULL: ts..volume point into this MAP_PRIVATE mapping (copy-on-write) */
    size_t map_len;    /* its length in bytes */
} tb_market;

/* A read-only view of one symbol's bars (pointers into the market arrays). */
typedef struct tb_series {
    const char *symbol;
    size_t n;
    const int64_t *ts;
    const double *open, *high, *low, *close, *volume;
} tb_series;

tb_market *market_new(tb_freq freq, size_t reserve_symbols, size_t reserve_bars);
/* A finished market whose field arrays live in `map` (map_len bytes, from
 * mmap(MAP_PRIVATE)): takes ownership of the mapping (market_free unmaps it;
 * growing the market first copies the arrays to the heap). names[n_symbols]
 * are copied; offset[n_symbols + 1] is copied and must end at n_bars. */
tb_market *market_new_mapped(tb_freq freq, size_t n_symbols, const char *const *names, const uint64_t *offset,
                             size_t n_bars, void *map, size_t map_len, int64_t *ts, double *open, double *high,
                             double *low, double *close, double *volume);
void market_free(tb_market *m);
/* Start a new symbol; the bars pushed next belong to it. Returns its index. */
size_t market_add_symbol(tb_market *m, const char *name);
/* Make room for n more bars (amortised; callers that know counts call it once). */
void market_reserve(tb_market *m, size_t n_more);
void market_push_bar(tb_market *m, int64_t ts, double o, double h, double l, double c, double v);
/* Close the last symbol's bar range. Call after the last push. */
void market_finish(tb_market *m);
/* Drop every bar with ts > end (keeps the arrays contiguous). */
void market_truncate_after(tb_market *m, int64_t end);

static inline size_t market_len(const tb_market *m, size_t i) { return m->offset[i + 1] - m->offset[i]; }
tb_series market_series(const tb_market *m, size_t i);
/* Index of a symbol by name, or -1. Linear; call outside hot loops. */
long market_find(const tb_market *m, const char *name);

#endif
