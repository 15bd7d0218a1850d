/* panel.c — union calendar and bar lookup (see panel.h). The union is
 * built by merging each symbol's sorted timestamps into the running union
 * (linear per symbol; no sort). The per-symbol form is then found by one
 * merge walk per symbol; the T*N matrices, when asked for, are filled from it
 * row by row (time-major writes). */
#include "panel.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* The union of the symbols' timestamps in [start, end]; *nu values, caller frees. */
static int64_t *panel_union(const tb_market *m, int64_t start, int64_t end, size_t *nu_out)
{
    size_t cap = 0;
    for (size_t i = 0; i < m->n_symbols; i++)
        if (market_len(m, i) > cap) cap = market_len(m, i);
    int64_t *u = xmalloc(xmul(cap + 1, sizeof *u));
    int64_t *tmp = NULL;
    size_t nu = 0;
    for (size_t i = 0; i < m->n_symbols; i++) {
        const int64_t *ts = m->ts + m->offset[i];
        size_t n = market_len(m, i), a = 0, b = n;
        while (a < n && ts[a] < start) a++;
        while (b > a && ts[b - 1] > end) b--;
        if (a == b) continue;
        /* fast path: same calendar as the union so far */
        if (b - a == nu && !memcmp(ts + a, u, nu * sizeof *u)) continue;
        size_t need = nu + (b - a);
        tmp = xrealloc(tmp, xmul(need, sizeof *tmp));
        size_t x = 0, y = a, k = 0;
        while (x < nu || y < b) {
            if (y == b || (x < nu && u[x] < ts[y])) tmp[k++] = u[x++];
            else if (x == nu || ts[y] < u[x]) tmp[k++] = ts[y++];
            else { tmp[k++] = u[x++]; y++; }
        }
        if (k > cap) {
            cap = k;
            u = xrealloc(u, xmul(cap, sizeof *u));
        }
        memcpy(u, tmp, k * sizeof *u);
        nu = k;
    }
    free(tmp);
    *nu_out = nu;
    return u;
}

static int panel_build_ex(const tb_market *m, int64_t start, int64_t end, size_t last_bars, int matrix,
                          tb_panel *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nu = 0;
    int64_t *u = panel_union(m, start, end, &nu);
    if (nu == 0) {
        free(u);
        return tb_fail_field(err, TB_EINVAL, "start", "no bars in the requested date range");
    }
    size_t off = 0;
    if (last_bars && last_bars < nu) off = nu - last_bars;
    size_t T = nu - off, N = m->n_symbols;
    out->T = T;
    out->N = N;
    out->ts = xmalloc(xmul(T, sizeof *out->ts));
    memcpy(out->ts, u + off, T * sizeof *out->ts);
    free(u);
    const int64_t *pts = out->ts;

    size_t n_sym = N ? N : 1;
    out->lo = xmalloc(xmul(n_sym, sizeof *out->lo));
    out->hi = xmalloc(xmul(n_sym, sizeof *out->hi));
    out->t0 = xmalloc(xmul(n_sym, sizeof *out->t0));
    out->tmap_off = xmalloc(xmul(n_sym, sizeof *out->tmap_off));
    size_t n_tmap = 0, cap_tmap = 0;
    for (size_t i = 0; i < N; i++) {
        const int64_t *ts = m->ts + m->offset[i];
        size_t n = market_len(m, i), a = 0, b;
        while (a < n && ts[a] < pts[0]) a++;
        b = a;
        while (b < n && ts[b] <= pts[T - 1]) b++;
        out->lo[i] = (int32_t)a;
        out->hi[i] = (int32_t)b;
        out->t0[i] = 0;
        out->tmap_off[i] = -1;
        if (a == b) continue;
        /* every bar inside [ts[0], ts[T-1]] is in the union: find the first one's time */
        size_t t = 0;
        while (pts[t] < ts[a]) t++;
        out->t0[i] = (int32_t)t;
        /* consecutive panel times iff the last inside bar sits cnt-1 steps later */
        size_t cnt = b - a;
        if (t + cnt - 1 < T && pts[t + cnt - 1] == ts[b - 1]) continue;
        if (n_tmap + cnt > cap_tmap) {
            cap_tmap = (n_tmap + cnt) * 2;
            out->tmap = xrealloc(out->tmap, xmul(cap_tmap, sizeof *out->tmap));
        }
        out->tmap_off[i] = (int32_t)n_tmap;
        for (size_t k = a; k < b; k++) {
            while (pts[t] < ts[k]) t++;
            out->tmap[n_tmap++] = (int32_t)t;
        }
    }
    if (!matrix) return 0;

    /* time-major matrices: one cursor per symbol, rows written in order */
    out->last = xmalloc(xmul(xmul(T, N), sizeof *out->last));
    out->has = xmalloc(xmul(T, N) ? xmul(T, N) : 1);
    int32_t *cur = xmalloc(xmul(n_sym, sizeof *cur)); /* inside bars passed so far */
    memset(cur, 0, n_sym * sizeof *cur);
    for (size_t t = 0; t < T; t++) {
        int32_t *row = out->last + t * N;
        uint8_t *hrow = out->has + t * N;
        for (size_t i = 0; i < N; i++) {
            int32_t c = cur[i], cnt = out->hi[i] - out->lo[i];
            int h = c < cnt && panel_bar_time(out, i, c) == (int32_t)t;
            if (h) cur[i] = ++c;
            row[i] = out->lo[i] + c - 1;
            hrow[i] = (uint8_t)h;
        }
    }
    free(cur);
    return 0;
}

int panel_build(const tb_market *m, int64_t start, int64_t end, size_t last_bars, tb_panel *out, tb_error *err)
{
    return panel_build_ex(m, start, end, last_bars, 1, out, err);
}

int panel_build_compact(const tb_market *m, int64_t start, int64_t end, size_t last_bars, tb_panel *out,
                        tb_error *err)
{
    return panel_build_ex(m, start, end, last_bars, 0, out, err);
}

int32_t panel_last_compact(const tb_panel *p, size_t t, size_t i)
{
    int32_t lo = p->lo[i], cnt = p->hi[i] - lo;
    if (cnt == 0 || (int32_t)t < p->t0[i]) return lo - 1;
    if (p->tmap_off[i] < 0) {
        int32_t k = (int32_t)t - p->t0[i];
        return lo + (k < cnt ? k : cnt - 1);
    }
    /* largest k with tmap[k] <= t (tmap[0] = t0 <= t) */
    const int32_t *tm = p->tmap + p->tmap_off[i];
    int32_t a = 0, b = cnt; /* tm[a] <= t < tm[b] (tm[cnt] = +inf) */
    while (b - a > 1) {
        int32_t mid = a + (b - a) / 2;
        if (tm[mid] <= (int32_t)t) a = mid;
        else b = mid;
    }
    return lo + a;
}

void panel_free(tb_panel *p)
{
    if (!p) return;
    free(p->ts);
    free(p->last);
    free(p->has);
    free(p->lo);
    free(p->hi);
    free(p->t0);
    free(p->tmap_off);
    free(p->tmap);
    memset(p, 0, sizeof *p);
}
