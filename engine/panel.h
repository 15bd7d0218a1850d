/* panel.h — the aligned panel (SPEC §1.3): the ascending union of the
 * universe's timestamps within [start, end] (optionally only the last N of
 * them), and for every (panel time, symbol) the symbol's last bar at or
 * before that time — which may be a warm-up bar before the range. Time-major
 * so the simulation's inner loop over symbols is contiguous. Owns its arrays. */
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
    int32_t *last;     /* T*N: last[t*N+i] = symbol i's bar index (within its series) at or before ts[t], -1 if none */
    uint8_t *has;      /* T*N: 1 when symbol i has a bar exactly at ts[t] */
} tb_panel;

/* Build the panel over m (already cut at `end`). start/end inclusive; use
 * INT64_MIN / INT64_MAX for open bounds; last_bars 0 = no limit. An empty
 * panel is an error naming the range. */
int panel_build(const tb_market *m, int64_t start, int64_t end, size_t last_bars, tb_panel *out, tb_error *err);
void panel_free(tb_panel *p);

static inline int32_t panel_last(const tb_panel *p, size_t t, size_t i) { return p->last[t * p->N + i]; }
static inline int panel_has(const tb_panel *p, size_t t, size_t i) { return p->has[t * p->N + i]; }

#endif
