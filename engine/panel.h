/* panel.h — the aligned panel (SPEC §1.3): the ascending union of the
 * universe's timestamps within [start, end] (optionally only the last N of
 * them), and for every (panel time, symbol) the symbol's last bar at or
 * before that time — which may be a warm-up bar before the range.
 *
 * Two representations of that lookup, the same answers:
 *  - per symbol (always): the bars inside the panel are lo..hi-1 of its own
 *    series; when they sit at consecutive panel times t0, t0+1, ... (every
 *    symbol with no gap in its calendar) the lookup is arithmetic, otherwise
 *    tmap lists each such bar's panel time. A few ints per symbol: nothing
 *    per (time, symbol) cell, so building it touches almost no fresh memory.
 *  - the time-major matrices last/has (T*N): built by panel_build() for
 *    callers that index cells directly; panel_build_compact() leaves them
 *    NULL, and panel_last()/panel_has() answer from the per-symbol form.
 * Owns its arrays. */
#ifndef TB_PANEL_H
#define TB_PANEL_H
#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "tb_error.h"

typedef struct tb_panel {
    size_t T;          /* panel timestamps */
    size_t N;          /* symbols (same order as the market) */
    int64_t *ts;       /* T timestamps, ascending */
    int32_t *last;     /* T*N: last[t*N+i] = symbol i's bar index (within its series) at or before ts[t], -1 if none;
                          NULL in a compact panel */
    uint8_t *has;      /* T*N: 1 when symbol i has a bar exactly at ts[t]; NULL in a compact panel */
    int32_t *lo;       /* N: first bar of symbol i with ts >= ts[0] */
    int32_t *hi;       /* N: one past its last bar with ts <= ts[T-1]; lo == hi when none is inside */
    int32_t *t0;       /* N: panel index of bar lo (when lo < hi) */
    int32_t *tmap_off; /* N: -1 when bars lo..hi-1 sit at panel times t0, t0+1, ...; else where they start in tmap */
    int32_t *tmap;     /* panel time of every inside bar of the symbols with gaps (NULL when there are none) */
} tb_panel;

/* Build the panel over m (already cut at `end`). start/end inclusive; use
 * INT64_MIN / INT64_MAX for open bounds; last_bars 0 = no limit. An empty
 * panel is an error naming the range. panel_build() also fills last/has. */
int panel_build(const tb_market *m, int64_t start, int64_t end, size_t last_bars, tb_panel *out, tb_error *err);
int panel_build_compact(const tb_market *m, int64_t start, int64_t end, size_t last_bars, tb_panel *out,
                        tb_error *err);
void panel_free(tb_panel *p);

/* Panel time of the k-th inside bar of symbol i (k < hi - lo). */
static inline int32_t panel_bar_time(const tb_panel *p, size_t i, int32_t k)
{
    return p->tmap_off[i] < 0 ? p->t0[i] + k : p->tmap[p->tmap_off[i] + k];
}

/* The per-symbol answer for one cell (binary search for symbols with gaps). */
int32_t panel_last_compact(const tb_panel *p, size_t t, size_t i);

static inline int32_t panel_last(const tb_panel *p, size_t t, size_t i)
{
    return p->last ? p->last[t * p->N + i] : panel_last_compact(p, t, i);
}

static inline int panel_has(const tb_panel *p, size_t t, size_t i)
{
    if (p->has) return p->has[t * p->N + i];
    int32_t b = panel_last_compact(p, t, i);
    return b >= p->lo[i] && b < p->hi[i] && panel_bar_time(p, i, b - p->lo[i]) == (int32_t)t;
}

#endif
