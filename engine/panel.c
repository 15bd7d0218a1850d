/* panel.c — union calendar and bar lookup table (see panel.h). The union is
 * built by merging each symbol's sorted timestamps into the running union
 * (linear per symbol; no sort). */
#include "panel.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

int panel_build(const tb_market *m, int64_t start, int64_t end, size_t last_bars, tb_panel *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
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
    out->last = xmalloc(xmul(xmul(T, N), sizeof *out->last));
    out->has = xcalloc(xmul(T, N), 1);
    for (size_t i = 0; i < N; i++) {
        const int64_t *ts = m->ts + m->offset[i];
        size_t n = market_len(m, i);
        long k = -1; /* last bar index <= current panel time */
        for (size_t t = 0; t < T; t++) {
            while ((size_t)(k + 1) < n && ts[k + 1] <= out->ts[t]) k++;
            out->last[t * N + i] = (int32_t)k;
            out->has[t * N + i] = k >= 0 && ts[k] == out->ts[t];
        }
    }
    return 0;
}

void panel_free(tb_panel *p)
{
    if (!p) return;
    free(p->ts);
    free(p->last);
    free(p->has);
    memset(p, 0, sizeof *p);
}
