/* simulate.c — SPEC §4 portfolio simulation (see simulate.h).
 * One pass over panel time. At step t (t >= 1) orders decided at the close
 * of t-1 execute at the open of t for symbols that have a bar at t. Before
 * the pass: the signals' changes (flips) by time and, without a cost table,
 * the statistics of the orders they cause. During it: prices as time-major
 * rows, the long and held symbols as bitsets. Scratch arrays are allocated
 * once per run; nothing allocates per bar (the order list grows
 * geometrically). Every shortcut gives the double the plain definition
 * gives: see docs/ENGINE.md, and tests/unit/test_fastpaths.c. */
#include "simulate.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void sim_config_defaults(tb_sim_config *c)
{
    c->start_capital = 10000;
    c->max_weight = 0.10;
    c->rebalance_band = 0.02;
    c->costs = costs_default();
}

int sim_config_validate(const tb_sim_config *c, tb_error *err)
{
    if (!isfinite(c->start_capital) || c->start_capital <= 0)
        return tb_fail_field(err, TB_EINVAL, "capital", "start capital must be a finite number > 0");
    if (!isfinite(c->max_weight) || c->max_weight <= 0 || c->max_weight > 1)
        return tb_fail_field(err, TB_EINVAL, "max_weight", "max_weight must be in (0, 1]");
    if (!isfinite(c->rebalance_band) || c->rebalance_band < 0 || c->rebalance_band > 1)
        return tb_fail_field(err, TB_EINVAL, "rebalance_band", "rebalance_band must be in [0, 1]");
    const struct { const char *name; double v; } cs[] = {
        {"commission_bps", c->costs.commission_bps}, {"spread_w", c->costs.spread_w}, {"impact_w", c->costs.impact_w}};
    for (size_t k = 0; k < 3; k++)
        if (!isfinite(cs[k].v) || cs[k].v < 0 || cs[k].v > 1e4)
            return tb_fail_field(err, TB_EINVAL, cs[k].name, "%s must be in [0, 10000]", cs[k].name);
    return 0;
}

/* Room for cap orders (the list still grows past it when needed). */
static void orders_reserve(tb_orders *o, size_t cap)
{
    if (cap <= o->cap) return;
    o->cap = cap;
    o->t = xrealloc(o->t, xmul(o->cap, sizeof *o->t));
    o->sym = xrealloc(o->sym, xmul(o->cap, sizeof *o->sym));
    o->sell = xrealloc(o->sell, xmul(o->cap, sizeof *o->sell));
    o->qty = xrealloc(o->qty, xmul(o->cap, sizeof *o->qty));
    o->price = xrealloc(o->price, xmul(o->cap, sizeof *o->price));
    o->cost = xrealloc(o->cost, xmul(o->cap, sizeof *o->cost));
}

static void orders_push(tb_orders *o, uint32_t t, uint32_t sym, int sell, double qty, double px, double cost)
{
    if (o->n == o->cap) orders_reserve(o, o->cap ? o->cap * 2 : 1024);
    size_t k = o->n++;
    o->t[k] = t;
    o->sym[k] = sym;
    o->sell[k] = (uint8_t)sell;
    o->qty[k] = qty;
    o->price[k] = px;
    o->cost[k] = cost;
}

/* One pending trade at the current open. */
typedef struct sim_trade {
    uint32_t sym;
    double dq;     /* signed share change */
    double px;     /* open */
    int exit;      /* sell everything: q becomes exactly 0 */
    tb_cost_stats st;
} sim_trade;

/* Cash spent by the buys scaled by k: notional plus cost at the scaled size.
 * Each buy's cost is linear in k except the square-root impact term, so
 * spend(k) = k * lin + k^1.5 * imp with two sums taken once per bar; the
 * bisection then costs O(1) per step. */
typedef struct buys_spend_fn {
    double lin; /* sum of notional + commission + spread cost at k = 1 */
    double imp; /* sum of impact cost at k = 1 */
} buys_spend_fn;

static buys_spend_fn buys_spend_prepare(const sim_trade *b, size_t nb, const tb_costs *cm)
{
    buys_spend_fn f = {0, 0};
    for (size_t j = 0; j < nb; j++) {
        const tb_cost_stats *st = &b[j].st;
        double notional = b[j].dq * b[j].px;
        double spread = isnan(st->spread_bps) ? 0 : st->spread_bps;
        f.lin += notional + notional * (cm->commission_bps + cm->spread_w * spread) / 1e4;
        if (!isnan(st->vol) && !isnan(st->adv) && st->adv != 0)
            f.imp += notional * cm->impact_w * 1e4 * st->vol * sqrt(b[j].dq / st->adv) / 1e4;
    }
    return f;
}

static double buys_spend(const buys_spend_fn *f, double k) { return k * f->lin + k * sqrt(k) * f->imp; }

double sim_buys_scale_bisect(double lin, double imp, double cash)
{
    buys_spend_fn f = {lin, imp};
    if (cash <= 0) return 0;
    double lo = 0, hi = 1;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (buys_spend(&f, mid) <= cash) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* The bisection above ends with lo and hi adjacent doubles, spend(lo) <= cash
 * < spend(hi) (or hi = 1): its result is the largest double k < 1 with
 * spend(k) <= cash. spend is non-decreasing in k even as rounded (every
 * operation in it is monotone for lin > 0, imp >= 0), so that k is also
 * found by Newton's method on the real equation followed by a walk over
 * neighbouring doubles to the exact boundary: the same double in ~5 square
 * roots instead of ~53. Anything unusual (tiny k, where the bisection's
 * iteration cap could bind; non-finite sums; a long walk) takes the bisection. */
/* The neighbouring doubles of a positive finite x (IEEE-754 order is the
 * integer order of the bit patterns for positive values). */
static inline double next_up(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u++;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline double next_down(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u--;
    memcpy(&x, &u, sizeof x);
    return x;
}

double sim_buys_scale(double lin, double imp, double cash)
{
    if (cash <= 0) return 0;
    if (!(lin > 0 && imp >= 0 && isfinite(lin) && isfinite(imp) && isfinite(cash)))
        return sim_buys_scale_bisect(lin, imp, cash);
    buys_spend_fn f = {lin, imp};
    double k = cash / (lin + imp); /* below the root (k^1.5 <= k on [0, 1]); Newton then closes in from above */
    if (k > 1) k = 1;
    for (int it = 0; it < 30; it++) {
        double sk = sqrt(k);
        double g = k * lin + k * sk * imp - cash, dg = lin + 1.5 * sk * imp;
        double nk = k - g / dg;
        if (!(nk > 0)) break;
        int close_enough = fabs(nk - k) <= 4e-16 * k; /* within a few ulps: the walk below finishes */
        k = nk;
        if (close_enough) break;
    }
    if (!(k > 1e-12)) return sim_buys_scale_bisect(lin, imp, cash);
    const double below1 = 0.99999999999999989; /* the largest double below 1 */
    if (k > below1) k = below1;
    int steps = 0;
    if (buys_spend(&f, k) <= cash) {
        for (;;) {
            double up = next_up(k);
            if (up >= 1 || !(buys_spend(&f, up) <= cash)) break;
            k = up;
            if (++steps > 64) return sim_buys_scale_bisect(lin, imp, cash);
        }
    } else {
        do {
            k = next_down(k);
            if (++steps > 64) return sim_buys_scale_bisect(lin, imp, cash);
        } while (!(buys_spend(&f, k) <= cash));
    }
    return k;
}

/* ---- per-run state -------------------------------------------------------------
 *
 * Which symbols need looking at in a step: those long at the previous close
 * or holding shares. Both sets are bitsets over the symbol index, walked in
 * ascending order, so every sum over them adds in the same order as a sweep
 * over all symbols would (the results do not depend on this layout).
 * Signals are not gathered per step: a symbol's signal at panel time t is the
 * signal of its last bar, which changes only at its own bars, so the run
 * first lists those changes ("flips") by panel time and applies them as time
 * passes; n_long follows them. */

#define SIM_LOOKAHEAD 4 /* steps between prefetching a flip's data and using it */

typedef uint64_t sim_word;
#define SIM_WBITS 64

static inline void bit_set(sim_word *b, size_t i) { b[i / SIM_WBITS] |= (sim_word)1 << (i % SIM_WBITS); }
static inline void bit_clear(sim_word *b, size_t i) { b[i / SIM_WBITS] &= ~((sim_word)1 << (i % SIM_WBITS)); }

/* Signal changes ("flips") at panel times t >= 1, stored symbol by symbol
 * (j = 0..n-1) and indexed by time: the flips of time t are
 * idx[at[t]] .. idx[at[t+1]-1], in ascending symbol order. An entry or exit
 * trades at the symbol's next bar with the statistics of the flip bar, so
 * when the run has no table those statistics are computed ahead of use:
 * before the time loop, per symbol in bar order (overlapping windows share
 * their logs), or — with a second thread — by a helper that works through
 * the flips in time order while the loop runs (sim_stats_job below).
 * Rebalances (a few percent of the orders) compute theirs when they happen. */
typedef struct sim_flips {
    size_t n;
    size_t *at;        /* T + 1 */
    uint32_t *idx;     /* n: symbol-major index, grouped by time */
    uint32_t *sym;     /* n: symbol */
    int32_t *bar;      /* n: the flip bar (index in the symbol's series) */
    int32_t *time;     /* n: its panel time */
    uint8_t *val;      /* n: the new signal */
    size_t *first;     /* N + 1: symbol i's flips are first[i] .. first[i+1]-1 */
    tb_cost_stats *st; /* n: statistics at the flip bar; NULL when the run reads a table */
} sim_flips;

/* The first bar k in [from, hi) whose signal differs from the bar before it
 * (0 before the first bar), or hi. Flips are rare: eight bars per test. */
static inline int32_t sim_next_flip(const uint8_t *s, int32_t from, int32_t hi)
{
    for (int32_t k = from; k < hi; k++) {
        if (k >= 1 && k + 8 <= hi) {
            uint64_t a, b;
            memcpy(&a, s + k, 8);
            memcpy(&b, s + k - 1, 8);
            if (a == b) {
                k += 7;
                continue;
            }
        }
        if (s[k] != (k ? s[k - 1] : 0)) return k;
    }
    return hi;
}

typedef struct sim_fill_job {
    const tb_market *m;
    const uint8_t *sig;         /* per-bar signals, or NULL when sg gives the flips */
    const tb_sim_signals *sg;
    const tb_panel *p;
    sim_flips *f;
    size_t from, to; /* symbols */
    int stats;       /* compute the flips' statistics here */
} sim_fill_job;

static void sim_flips_fill(const sim_fill_job *jb)
{
    const tb_market *m = jb->m;
    const tb_panel *p = jb->p;
    sim_flips *f = jb->f;
    double *scratch = NULL;
    size_t scratch_len = 0;
    for (size_t i = jb->from; i < jb->to; i++) {
        int32_t lo = p->lo[i], hi = p->hi[i];
        size_t j = f->first[i];
        if (jb->sg) {
            const tb_sim_signals *sg = jb->sg;
            for (size_t e = sg->first[i]; e < sg->first[i + 1]; e++, j++) {
                f->sym[j] = (uint32_t)i;
                f->bar[j] = sg->bar[e];
                f->time[j] = panel_bar_time(p, i, sg->bar[e] - lo);
                f->val[j] = sg->val[e];
            }
        } else {
            const uint8_t *s = jb->sig + m->offset[i];
            for (int32_t k = sim_next_flip(s, lo, hi); k < hi; k = sim_next_flip(s, k + 1, hi)) {
                int32_t t = panel_bar_time(p, i, k - lo);
                if (t == 0) continue; /* part of s0 */
                f->sym[j] = (uint32_t)i;
                f->bar[j] = k;
                f->time[j] = t;
                f->val[j] = s[k];
                j++;
            }
        }
        size_t n = f->first[i + 1] - f->first[i], len = market_len(m, i), o = m->offset[i];
        if (!jb->stats || !n) continue;
        if (len > scratch_len) {
            scratch_len = len;
            scratch = xrealloc(scratch, xmul(3 * scratch_len, sizeof *scratch));
        }
        costs_stats_list(m->high + o, m->low + o, m->close + o, m->volume + o, len, f->bar + f->first[i], n,
                         f->st + f->first[i], scratch);
    }
    free(scratch);
}

/* s0[i] = signal at panel time 0; the flips after it. threads > 1: the
 * statistics are computed on a second thread for the upper half of the flips. */
static void sim_flips_build(const tb_market *m, const uint8_t *sig, const tb_sim_signals *sg, const tb_panel *p,
                            int with_stats, int concurrent, uint8_t *s0, sim_flips *f)
{
    const size_t T = p->T, N = p->N;
    memset(f, 0, sizeof *f);
    f->first = xmalloc(xmul(N + 1, sizeof *f->first));
    size_t n = 0;
    if (sg) {
        memcpy(f->first, sg->first, (N + 1) * sizeof *f->first);
        memcpy(s0, sg->s0, N);
        n = sg->first[N];
    } else {
        for (size_t i = 0; i < N; i++) {
            const uint8_t *s = sig + m->offset[i];
            int32_t lo = p->lo[i], hi = p->hi[i];
            int32_t b = panel_last(p, 0, i);
            s0[i] = b >= 0 ? s[b] : 0;
            f->first[i] = n;
            for (int32_t k = sim_next_flip(s, lo, hi); k < hi; k = sim_next_flip(s, k + 1, hi))
                n += panel_bar_time(p, i, k - lo) > 0;
        }
        f->first[N] = n;
    }
    f->n = n;
    size_t n1 = n ? n : 1;
    f->idx = xmalloc(xmul(n1, sizeof *f->idx));
    f->sym = xmalloc(xmul(n1, sizeof *f->sym));
    f->bar = xmalloc(xmul(n1, sizeof *f->bar));
    f->time = xmalloc(xmul(n1, sizeof *f->time));
    f->val = xmalloc(n1);
    if (with_stats) f->st = xmalloc(xmul(n1, sizeof *f->st));

    sim_fill_job job = {m, sig, sg, p, f, 0, N, with_stats && !concurrent};
    sim_flips_fill(&job);

    f->at = xcalloc(T + 1, sizeof *f->at);
    for (size_t j = 0; j < n; j++) f->at[f->time[j] + 1]++;
    for (size_t t = 1; t <= T; t++) f->at[t] += f->at[t - 1]; /* at[t] = start of time t */
    for (size_t j = 0; j < n; j++) f->idx[f->at[f->time[j]]++] = (uint32_t)j;
    for (size_t t = T; t > 0; t--) f->at[t] = f->at[t - 1]; /* the fill moved each start to the next */
    f->at[0] = 0;
}

uint8_t sim_signal_flips(const tb_panel *p, size_t i, const uint8_t *s, int32_t *bars, uint8_t *vals, size_t *n)
{
    int32_t lo = p->lo[i], hi = p->hi[i];
    for (int32_t k = sim_next_flip(s, lo, hi); k < hi; k = sim_next_flip(s, k + 1, hi)) {
        if (panel_bar_time(p, i, k - lo) == 0) continue; /* part of s0 */
        bars[*n] = k;
        vals[*n] = s[k];
        (*n)++;
    }
    int32_t b = panel_last(p, 0, i);
    return b >= 0 ? s[b] : 0;
}

static void sim_flips_free(sim_flips *f)
{
    free(f->at);
    free(f->idx);
    free(f->sym);
    free(f->bar);
    free(f->time);
    free(f->val);
    free(f->first);
    free(f->st);
}

/* A symbol's place in the panel, packed so one cache line serves four symbols. */
typedef struct sim_sym {
    int32_t lo, cnt;   /* inside bars lo .. lo+cnt-1 */
    int32_t t0;        /* panel time of bar lo */
    int32_t tmap_off;  /* -1: consecutive times; else where its times start in panel.tmap */
} sim_sym;

static sim_sym *sim_syms_build(const tb_panel *p)
{
    sim_sym *ss = xmalloc(xmul(p->N ? p->N : 1, sizeof *ss));
    for (size_t i = 0; i < p->N; i++) ss[i] = (sim_sym){p->lo[i], p->hi[i] - p->lo[i], p->t0[i], p->tmap_off[i]};
    return ss;
}

/* The statistics of a two-thread run. This thread computes those of the
 * symbols holding the first 1/SIM_HEAD_START of the flips before the loop
 * (per symbol in bar order, windows sharing their logs) while a helper
 * works through the other symbols' flips in time order — each symbol's last
 * window of logs kept in a 32-bar ring — and goes on beside the loop,
 * marking each flip done (release) once its statistics are written. With
 * the loop's own time L and the statistics' S, the helper stays ahead when
 * L >= (1 - 2/SIM_HEAD_START) S, the usual case; the wall time is then about
 * S/SIM_HEAD_START + L instead of S/2 + L. The loop reads a flip's
 * statistics only when it is marked (acquire) and otherwise computes them
 * itself: the same doubles either way. A helper that falls behind jumps to
 * where the loop is (the flips it skips have mostly traded already), so a
 * busy second core costs time, never a different result. */
#define SIM_RING 32
#define SIM_HEAD_START 4 /* this thread's share of the flips, computed before the loop */

typedef struct sim_stats_job {
    const tb_market *m;
    sim_flips *f;
    size_t t_from, t_to;       /* flip times this job works through */
    size_t sym_from, sym_to;   /* and the symbols */
    atomic_uchar *done;        /* n: flip j's statistics are written */
    atomic_size_t *loop_at;    /* the loop's step, or NULL (head start): jump there when behind */
    atomic_int *stop;          /* the loop ended early */
    tb_cost_logs *ring;        /* N * SIM_RING: bar u of symbol i at [i * SIM_RING + u % SIM_RING] */
    int32_t *ring_lo, *ring_hi; /* N: the ring holds bars ring_lo .. ring_hi (at most SIM_RING of them) */
} sim_stats_job;

static void *sim_stats_run(void *arg)
{
    const sim_stats_job *jb = arg;
    const tb_market *m = jb->m;
    sim_flips *f = jb->f;
    tb_cost_logs w[21];
    for (size_t t = jb->t_from; t < jb->t_to; t++) {
        if (jb->stop && atomic_load_explicit(jb->stop, memory_order_relaxed)) break;
        if (jb->loop_at) { /* behind the loop: its flips up to now are mostly traded */
            size_t at = atomic_load_explicit(jb->loop_at, memory_order_relaxed);
            if (t + 1 < at) t = at - 1;
        }
        for (size_t e = f->at[t]; e < f->at[t + 1]; e++) {
            uint32_t j = f->idx[e];
            size_t i = f->sym[j], o = m->offset[i], b = (size_t)f->bar[j];
            if (i < jb->sym_from || i >= jb->sym_to) continue;
            if (b >= 20) {
                tb_cost_logs *ring = jb->ring + i * SIM_RING;
                int32_t lo = jb->ring_lo[i], hi = jb->ring_hi[i];
                size_t a = b - 20;
                if (hi < 0 || (int32_t)a > hi + 1) { /* nothing to share: start an empty ring at a */
                    lo = (int32_t)a;
                    hi = (int32_t)a - 1;
                }
                for (size_t u = a; u <= b; u++) {
                    int32_t ui = (int32_t)u;
                    if (ui >= lo && ui <= hi) {
                        w[u - a] = ring[u % SIM_RING];
                    } else {
                        w[u - a] = costs_logs(m->high + o, m->low + o, m->close + o, u);
                        ring[u % SIM_RING] = w[u - a];
                    }
                }
                if ((int32_t)b > hi) hi = (int32_t)b;
                if (hi - lo >= SIM_RING) lo = hi - SIM_RING + 1;
                jb->ring_lo[i] = lo;
                jb->ring_hi[i] = hi;
            }
            f->st[j] = costs_stats_from_logs(w, m->volume + o, b);
            atomic_store_explicit(&jb->done[j], 1, memory_order_release);
        }
    }
    return NULL;
}

/* The state both phases share. */
typedef struct sim_helper {
    sim_stats_job job;
    atomic_uchar *done;        /* n flags */
    atomic_size_t loop_at;
    atomic_int stop;
    pthread_t tid;
    int running;
} sim_helper;

/* Head start on both threads, then start the helper on the rest. */
static void sim_helper_start(sim_helper *h, const tb_market *m, sim_flips *f, size_t T, size_t N)
{
    size_t n1 = N ? N : 1;
    memset(h, 0, sizeof *h);
    atomic_init(&h->loop_at, 0);
    atomic_init(&h->stop, 0);
    h->done = xmalloc(f->n ? f->n : 1);
    for (size_t j = 0; j < f->n; j++) atomic_init(&h->done[j], 0);
    tb_cost_logs *ring = xmalloc(xmul(xmul(n1, SIM_RING), sizeof *ring));
    int32_t *lo = xmalloc(xmul(n1, sizeof *lo)), *hi = xmalloc(xmul(n1, sizeof *hi));
    for (size_t i = 0; i < N; i++) lo[i] = hi[i] = -1;
    size_t mid = 0; /* this thread's share: the symbols of the first SIM_HEAD_START of the flips */
    while (mid < N && f->first[mid + 1] <= f->n / SIM_HEAD_START) mid++;
    h->job = (sim_stats_job){m, f, 1, T, mid, N, h->done, &h->loop_at, &h->stop, ring, lo, hi};
    h->running = pthread_create(&h->tid, NULL, sim_stats_run, &h->job) == 0;
    /* meanwhile, this thread's symbols before the loop: in bar order, windows sharing their logs */
    size_t len_max = 1;
    for (size_t i = 0; i < mid; i++)
        if (market_len(m, i) > len_max) len_max = market_len(m, i);
    double *scratch = xmalloc(xmul(3 * len_max, sizeof *scratch));
    for (size_t i = 0; i < mid; i++) {
        size_t o = m->offset[i], n = f->first[i + 1] - f->first[i];
        if (!n) continue;
        costs_stats_list(m->high + o, m->low + o, m->close + o, m->volume + o, market_len(m, i), f->bar + f->first[i],
                         n, f->st + f->first[i], scratch);
        for (size_t j = f->first[i]; j < f->first[i + 1]; j++) atomic_store_explicit(&h->done[j], 1, memory_order_relaxed);
    }
    free(scratch);
    if (!h->running) h->job.sym_from = mid; /* no helper: the loop computes the rest as it goes */
}

/* End the helper and free its state. */
static void sim_helper_stop(sim_helper *h)
{
    if (h->running) {
        atomic_store_explicit(&h->stop, 1, memory_order_relaxed);
        pthread_join(h->tid, NULL);
        h->running = 0;
    }
    free(h->job.ring);
    free(h->job.ring_lo);
    free(h->job.ring_hi);
    free(h->done);
    h->done = NULL;
    h->job.ring = NULL;
    h->job.ring_lo = h->job.ring_hi = NULL;
}

/* Where symbol i stands at panel time t (t only grows between calls for one
 * symbol): its last bar (series index, -1 none) and whether it has a bar at t.
 * Symbols with gaps advance a cursor over their bar times. */
static inline int32_t sim_pos(const sim_sym *ss, const int32_t *tmap, int32_t *cur, size_t i, int32_t t, int *has)
{
    const sim_sym y = ss[i];
    if (y.tmap_off < 0) {
        int32_t k = t - y.t0;
        if (y.cnt == 0 || k < 0) {
            *has = 0;
            return y.lo - 1;
        }
        if (k < y.cnt) {
            *has = 1;
            return y.lo + k;
        }
        *has = 0;
        return y.lo + y.cnt - 1;
    }
    const int32_t *tm = tmap + y.tmap_off;
    int32_t c = cur[i];
    while (c < y.cnt && tm[c] <= t) c++;
    cur[i] = c;
    *has = c > 0 && tm[c - 1] == t;
    return y.lo + c - 1;
}

/* Statistics for an order of symbol i whose signal bar is b: from the table,
 * or from the symbol's last flip when that is the bar (entries and exits),
 * or computed now (rebalances). */
static inline tb_cost_stats sim_stats(const tb_market *m, const tb_cost_table *tab, const size_t *tab_off,
                                      const sim_flips *fl, atomic_uchar *done, int32_t flip, size_t i, int32_t b)
{
    size_t o = m->offset[i];
    if (tab) return b < 0 ? (tb_cost_stats){NAN, NAN, NAN} : tab->at[tab_off[i] + (size_t)b];
    if (flip >= 0 && fl->bar[flip] == b && (!done || atomic_load_explicit(&done[flip], memory_order_acquire)))
        return fl->st[flip];
    return costs_stats_at(m->high + o, m->low + o, m->close + o, m->volume + o, b);
}

/* Rows t0..t1-1 of the time-major prices: row t of ro / rc at (t - t0) * N,
 * of has at (t - t0) * NW (cleared here), for the symbols in `only` (NULL:
 * all; the others' cells are left as they were and their has bits 0).
 * Column by column: each symbol's bars are read in order, only the writes
 * are strided. cur holds the gappy symbols' cursors of this filling (t0
 * only grows between calls). */
static void sim_rows_fill(const tb_market *m, const tb_panel *p, const sim_sym *ss, int32_t *cur, size_t t0,
                          size_t t1, const sim_word *only, double *ro, double *rc, sim_word *has)
{
    const size_t N = p->N, NW = (N + SIM_WBITS - 1) / SIM_WBITS;
    memset(has, 0, (t1 - t0) * NW * sizeof *has);
    for (size_t i = 0; i < N; i++) {
        if (only && !((only[i / SIM_WBITS] >> (i % SIM_WBITS)) & 1)) continue;
        const double *o = m->open + m->offset[i], *c = m->close + m->offset[i];
        const sim_sym y = ss[i];
        const sim_word bit = (sim_word)1 << (i % SIM_WBITS);
        size_t t = t0;
        if (y.tmap_off < 0 && y.cnt > 0) { /* no gaps: the inside bars are a plain run of rows */
            size_t in0 = (size_t)y.t0, in1 = in0 + (size_t)y.cnt; /* rows with a bar */
            for (; t < t1 && t < in0; t++) {
                size_t r = t - t0;
                ro[r * N + i] = rc[r * N + i] = y.lo > 0 ? c[y.lo - 1] : NAN;
            }
            for (; t < t1 && t < in1; t++) {
                size_t r = t - t0, b = (size_t)y.lo + (t - in0);
                ro[r * N + i] = o[b];
                rc[r * N + i] = c[b];
                has[r * NW + i / SIM_WBITS] |= bit;
            }
            for (; t < t1; t++) {
                size_t r = t - t0;
                ro[r * N + i] = rc[r * N + i] = c[y.lo + y.cnt - 1];
            }
            continue;
        }
        for (; t < t1; t++) {
            size_t r = t - t0;
            int h;
            int32_t b = sim_pos(ss, p->tmap, cur, i, (int32_t)t, &h);
            if (b < 0) {
                ro[r * N + i] = rc[r * N + i] = NAN;
                continue;
            }
            rc[r * N + i] = c[b];
            ro[r * N + i] = h ? o[b] : c[b];
            if (h) has[r * NW + i / SIM_WBITS] |= bit;
        }
    }
}

void sim_prices_build(const tb_market *m, const tb_panel *p, tb_sim_prices *out)
{
    const size_t T = p->T, N = p->N, NW = (N + SIM_WBITS - 1) / SIM_WBITS, cells = xmul(T, N) ? xmul(T, N) : 1;
    out->at_open = xmalloc(xmul(cells, sizeof(double)));
    out->at_close = xmalloc(xmul(cells, sizeof(double)));
    out->has = xmalloc(xmul(xmul(T, NW) ? xmul(T, NW) : 1, sizeof *out->has));
    int32_t *cur = xcalloc(N ? N : 1, sizeof *cur);
    sim_sym *ss = sim_syms_build(p);
    sim_rows_fill(m, p, ss, cur, 0, T, NULL, out->at_open, out->at_close, out->has);
    free(ss);
    free(cur);
}

void sim_prices_free(tb_sim_prices *pr)
{
    if (!pr) return;
    free(pr->at_open);
    free(pr->at_close);
    free(pr->has);
    pr->at_open = pr->at_close = NULL;
    pr->has = NULL;
}

/* The rows a run reads: all T of the caller's prices, or its own block of
 * rows r0 .. r0+n-1, refilled so that rows t and t+1 are always there. */
#define SIM_BLOCK 64

typedef struct sim_rowset {
    const double *open, *close; /* row t at (t - r0) * N */
    const sim_word *has;        /* row t at (t - r0) * NW */
    size_t r0, n;               /* rows held */
    size_t N, NW, T;
    double *own_open, *own_close; /* the block, when the run fills its own */
    sim_word *own_has;
    int32_t *cur;               /* the filling's cursors of symbols with gaps */
    const tb_market *m;
    const tb_panel *p;
    const sim_sym *ss;
} sim_rowset;

static void sim_rowset_open(sim_rowset *r, const tb_market *m, const tb_panel *p, const tb_sim_prices *prices,
                            const sim_sym *ss)
{
    memset(r, 0, sizeof *r);
    r->N = p->N;
    r->NW = (p->N + SIM_WBITS - 1) / SIM_WBITS;
    r->T = p->T;
    r->m = m;
    r->p = p;
    r->ss = ss;
    if (prices) {
        r->open = prices->at_open;
        r->close = prices->at_close;
        r->has = prices->has;
        r->n = p->T;
        return;
    }
    size_t n1 = r->N ? r->N : 1;
    r->own_open = xmalloc(xmul(SIM_BLOCK * n1, sizeof(double)));
    r->own_close = xmalloc(xmul(SIM_BLOCK * n1, sizeof(double)));
    r->own_has = xmalloc(xmul(SIM_BLOCK * (r->NW ? r->NW : 1), sizeof(sim_word)));
    r->cur = xcalloc(n1, sizeof *r->cur);
    r->open = r->own_open;
    r->close = r->own_close;
    r->has = r->own_has;
}

/* Rows t and t+1 (when it exists) must be there: does the run's own block
 * need refilling from t? Then sim_rowset_fill() with the symbols that can be
 * long or held before the block ends. */
static inline int sim_rowset_due(const sim_rowset *r, size_t t)
{
    size_t want = t + 1 < r->T ? t + 1 : t;
    return want >= r->r0 + r->n;
}

static void sim_rowset_fill(sim_rowset *r, size_t t, const sim_word *only)
{
    r->r0 = t;
    r->n = r->T - t < SIM_BLOCK ? r->T - t : SIM_BLOCK;
    sim_rows_fill(r->m, r->p, r->ss, r->cur, t, t + r->n, only, r->own_open, r->own_close, r->own_has);
}

static inline const double *sim_row_open(const sim_rowset *r, size_t t) { return r->open + (t - r->r0) * r->N; }
static inline const double *sim_row_close(const sim_rowset *r, size_t t) { return r->close + (t - r->r0) * r->N; }
static inline const sim_word *sim_row_has(const sim_rowset *r, size_t t) { return r->has + (t - r->r0) * r->NW; }

static void sim_rowset_close(sim_rowset *r)
{
    free(r->own_open);
    free(r->own_close);
    free(r->own_has);
    free(r->cur);
}

int simulate(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_config *cfg,
             const tb_hooks *hooks, tb_sim_result *out, tb_error *err)
{
    tb_sim_opts opt = {.threads = 1};
    return simulate_with(m, sig, p, cfg, &opt, hooks, out, err);
}

/* Scratch of one run; everything is allocated once, before the time loop. */
typedef struct sim_state {
    uint8_t *s;        /* N: signal at the previous close */
    sim_word *held;    /* NW: q != 0 */
    sim_word *longs;   /* NW: s == 1 */
    int32_t *cur;      /* N: bar cursors of the symbols with gaps */
    int32_t *flip;     /* N: the symbol's latest applied flip (index into the flips), -1 none */
    sim_sym *syms;     /* N: the panel's per-symbol form, packed */
    sim_trade *sells, *buys;
    sim_flips fl;
} sim_state;

static void sim_state_free(sim_state *st)
{
    free(st->s);
    free(st->held);
    free(st->longs);
    free(st->cur);
    free(st->flip);
    free(st->syms);
    free(st->sells);
    free(st->buys);
    sim_flips_free(&st->fl);
}

int simulate_with(const tb_market *m, const uint8_t *sig, const tb_panel *p, const tb_sim_config *cfg,
                  const tb_sim_opts *opt, const tb_hooks *hooks, tb_sim_result *out, tb_error *err)
{
    const size_t T = p->T, N = p->N, NW = (N + SIM_WBITS - 1) / SIM_WBITS, n1 = N ? N : 1;
    const tb_cost_table *tab = opt ? opt->stats : NULL;
    const size_t *tab_off = opt && opt->stats_offset ? opt->stats_offset : m->offset; /* each symbol's first row */
    const tb_sim_prices *prices = opt ? opt->prices : NULL;
    const int keep_orders = !(opt && opt->no_orders);
    memset(out, 0, sizeof *out);
    out->T = T;
    out->N = N;
    out->equity = xmalloc(xmul(T, sizeof(double)));
    out->cash = xmalloc(xmul(T, sizeof(double)));
    out->gross = xmalloc(xmul(T, sizeof(double)));
    out->final_q = xcalloc(n1, sizeof(double));
    out->pnl = xcalloc(n1, sizeof(double));
    double *q = out->final_q;
    sim_state st;
    st.s = xmalloc(n1);
    st.held = xcalloc(NW ? NW : 1, sizeof *st.held);
    st.longs = xcalloc(NW ? NW : 1, sizeof *st.longs);
    st.cur = xcalloc(n1, sizeof *st.cur);
    st.flip = xmalloc(xmul(n1, sizeof *st.flip));
    st.syms = sim_syms_build(p);
    st.sells = xmalloc(xmul(n1, sizeof *st.sells));
    st.buys = xmalloc(xmul(n1, sizeof *st.buys));
    uint8_t *s = st.s;
    sim_word *held = st.held, *longs = st.longs;
    int32_t *flip = st.flip;
    sim_trade *sells = st.sells, *buys = st.buys;
    const sim_flips *fl = &st.fl;
    const tb_costs *cm = &cfg->costs;
    double cash = cfg->start_capital;

    const int concurrent = !tab && opt && opt->threads > 1;
    sim_flips_build(m, sig, opt ? opt->signals : NULL, p, !tab, concurrent, s, &st.fl);
    /* with a second thread: the flips' statistics in time order, alongside the loop */
    sim_helper helper;
    memset(&helper, 0, sizeof helper);
    atomic_uchar *done = NULL;
    if (concurrent) {
        sim_helper_start(&helper, m, &st.fl, T, N);
        done = helper.done; /* a helper that could not start leaves the rest to the loop */
    }
    /* entries and exits are flips, rebalances a few percent more: one allocation of the order list */
    if (keep_orders) orders_reserve(&out->orders, st.fl.n + st.fl.n / 8 + N + 16);
    size_t n_long = 0;
    for (size_t i = 0; i < N; i++) {
        flip[i] = -1;
        if (s[i]) {
            bit_set(longs, i);
            n_long++;
        }
    }

    out->equity[0] = cash;
    out->cash[0] = cash;
    out->gross[0] = 0;
    const sim_sym *syms = st.syms;
    const double band = cfg->rebalance_band;
    /* The prices of every step as rows (time-major): the caller's, or a block
     * of SIM_BLOCK rows refilled as time passes (a few hundred KB that stay
     * in cache, instead of T*N cells of fresh memory). */
    sim_rowset rows;
    sim_rowset_open(&rows, m, p, prices, syms);
    sim_word *cols = xcalloc(NW ? NW : 1, sizeof *cols); /* the columns of the next block */
    double eo_next = cash; /* equity at the next open, summed with the close's marks (nothing held yet) */
    for (size_t t = 1; t < T; t++) {
        if ((t & 255) == 0) {
            if (hooks_cancelled(hooks)) {
                sim_helper_stop(&helper);
                free(cols);
                sim_rowset_close(&rows);
                sim_state_free(&st);
                sim_result_free(out);
                return tb_fail(err, TB_ECANCEL, "cancelled");
            }
            hooks_progress(hooks, "simulate", (double)t / (double)T);
        }
        if (concurrent) atomic_store_explicit(&helper.loop_at, t, memory_order_relaxed);
        if (sim_rowset_due(&rows, t)) {
            /* the block's columns: symbols long or held now, or turning long before its last row */
            size_t t1 = T - t < SIM_BLOCK ? T : t + SIM_BLOCK;
            for (size_t wd = 0; wd < NW; wd++) cols[wd] = longs[wd] | held[wd];
            for (size_t e = fl->at[t]; e < fl->at[t1 - 1]; e++)
                if (fl->val[fl->idx[e]]) bit_set(cols, fl->sym[fl->idx[e]]);
            sim_rowset_fill(&rows, t, cols);
        }
        const double *po = sim_row_open(&rows, t), *pc = sim_row_close(&rows, t);
        const sim_word *hrow = sim_row_has(&rows, t);
        /* targets at the close of t-1 */
        double wt = 0;
        if (n_long) {
            wt = 1.0 / (double)n_long;
            if (wt > cfg->max_weight) wt = cfg->max_weight;
        }
        /* equity at the open: cash plus the held symbols at t's open (or last close) */
        double eo = eo_next, inv_eo = 1.0 / eo;
        /* decide trades: the symbols long or held that have a bar at t */
        size_t ns = 0, nb = 0;
        for (size_t wd = 0; wd < NW; wd++) {
            for (sim_word bits = (longs[wd] | held[wd]) & hrow[wd]; bits; bits &= bits - 1) {
                size_t i = wd * SIM_WBITS + (size_t)__builtin_ctzll(bits);
                int si = s[i];
                double px = po[i];
                double wstar = si ? wt : 0;
                int exit = 0;
                if (si && q[i] > 0) {
                    /* most held positions stay inside the band: decide those with a product
                     * by 1/eo (within 1e-15 of q*px/eo) when the margin is far larger than
                     * that, and with the exact quotient otherwise */
                    double qp = q[i] * px, wa = qp * inv_eo, da = fabs(wa - wstar), margin = 1e-12 * (1 + fabs(wa));
                    if (da < band - margin) continue;
                    if (!(da > band + margin) && !(fabs(qp / eo - wstar) > band)) continue;
                } else if (!si) {
                    exit = 1;
                }
                double dq = exit ? -q[i] : wstar * eo / px - q[i];
                if (fabs(dq * px) < 0.01) continue;
                int h; /* the bar index only now, for the statistics */
                int32_t b = sim_pos(syms, p->tmap, st.cur, i, (int32_t)t, &h);
                sim_trade tr = {(uint32_t)i, dq, px, exit, sim_stats(m, tab, tab_off, fl, done, flip[i], i, b - 1)};
                if (dq < 0) sells[ns++] = tr;
                else buys[nb++] = tr;
            }
        }
        /* sells first */
        for (size_t j = 0; j < ns; j++) {
            sim_trade *tr = &sells[j];
            double qty = -tr->dq;
            double cost = costs_amount(cm, &tr->st, qty, tr->px);
            cash += qty * tr->px - cost;
            q[tr->sym] = tr->exit ? 0 : q[tr->sym] + tr->dq;
            if (tr->exit) bit_clear(held, tr->sym);
            if (keep_orders) orders_push(&out->orders, (uint32_t)t, tr->sym, 1, qty, tr->px, cost);
            else out->orders.n++;
            out->traded_notional += qty * tr->px;
            out->total_costs += cost;
        }
        /* then buys, scaled down together when cash is short */
        if (nb) {
            double k = 1;
            double need = 0;
            for (size_t j = 0; j < nb; j++)
                need += buys[j].dq * buys[j].px + costs_amount(cm, &buys[j].st, buys[j].dq, buys[j].px);
            if (need > cash) {
                buys_spend_fn f = buys_spend_prepare(buys, nb, cm);
                k = sim_buys_scale(f.lin, f.imp, cash);
            }
            for (size_t j = 0; j < nb; j++) {
                sim_trade *tr = &buys[j];
                double qty = k == 1 ? tr->dq : k * tr->dq;
                if (qty * tr->px < 0.01) continue;
                double cost = costs_amount(cm, &tr->st, qty, tr->px);
                cash -= qty * tr->px + cost;
                bit_set(held, tr->sym);
                q[tr->sym] += qty;
                if (keep_orders) orders_push(&out->orders, (uint32_t)t, tr->sym, 0, qty, tr->px, cost);
                else out->orders.n++;
                out->traded_notional += qty * tr->px;
                out->total_costs += cost;
            }
        }
        /* mark to market at the close, and the next step's equity at the open over the
         * same held symbols: two independent sums in one pass, each in ascending order */
        double gross = 0;
        eo_next = cash;
        const double *po_next = t + 1 < T ? sim_row_open(&rows, t + 1) : NULL;
        for (size_t wd = 0; wd < NW; wd++) {
            for (sim_word bits = held[wd]; bits; bits &= bits - 1) {
                size_t i = wd * SIM_WBITS + (size_t)__builtin_ctzll(bits);
                gross += q[i] * pc[i];
                if (po_next) eo_next += q[i] * po_next[i];
            }
        }
        out->cash[t] = cash;
        out->gross[t] = gross;
        out->equity[t] = cash + gross;
        /* an entry or exit a few steps ahead will read its flip bar's statistics */
        if (tab && t + SIM_LOOKAHEAD < T) {
            for (size_t e = fl->at[t + SIM_LOOKAHEAD]; e < fl->at[t + SIM_LOOKAHEAD + 1]; e++) {
                uint32_t j = fl->idx[e];
                size_t b = tab_off[fl->sym[j]] + (size_t)fl->bar[j];
                __builtin_prefetch(tab->at + b);
                __builtin_prefetch((const char *)(tab->at + b) + sizeof *tab->at - 1);
            }
        }
        /* signals at the close of t */
        for (size_t e = fl->at[t]; e < fl->at[t + 1]; e++) {
            uint32_t j = fl->idx[e];
            size_t i = fl->sym[j];
            flip[i] = (int32_t)j;
            uint8_t v = fl->val[j];
            if (v == s[i]) continue;
            s[i] = v;
            if (v) {
                bit_set(longs, i);
                n_long++;
            } else {
                bit_clear(longs, i);
                n_long--;
            }
        }
    }
    /* P&L per symbol: cash flows plus what is still held at the last close */
    for (size_t k = 0; keep_orders && k < out->orders.n; k++) {
        double flow = out->orders.qty[k] * out->orders.price[k];
        out->pnl[out->orders.sym[k]] += (out->orders.sell[k] ? flow : -flow) - out->orders.cost[k];
    }
    for (size_t i = 0; keep_orders && i < N; i++) {
        int32_t b = panel_last(p, T - 1, i);
        if (q[i] != 0 && b >= 0) out->pnl[i] += q[i] * m->close[m->offset[i] + (size_t)b];
    }
    sim_helper_stop(&helper);
    free(cols);
    sim_rowset_close(&rows);
    sim_state_free(&st);
    hooks_progress(hooks, "simulate", 1.0);
    return 0;
}

void sim_result_free(tb_sim_result *r)
{
    if (!r) return;
    free(r->equity);
    free(r->cash);
    free(r->gross);
    free(r->final_q);
    free(r->pnl);
    free(r->orders.t);
    free(r->orders.sym);
    free(r->orders.sell);
    free(r->orders.qty);
    free(r->orders.price);
    free(r->orders.cost);
    memset(r, 0, sizeof *r);
}
