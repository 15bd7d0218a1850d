/* sweep.c — grid expansion and the shared-data, multi-threaded member run
 * (see sweep.h).
 *
 * Phases, each timed as a stage: load_data (universe, bars cut at `end`),
 * panel (compact panel and the universe benchmark), cost_stats (the table of
 * SPREAD/VOL/ADV(20) at every bar a member can trade on), prices (the
 * time-major open/close every member reads), then, batch by batch, signals
 * and members, and rank. With several threads the prices are one more task
 * of the first batch's signal phase (below), so the other cores do not wait
 * through their build; their stage is the build's own time.
 *
 * signals: one pass over the symbols, in chunks (SWEEP_CHUNKS_PER_THREAD
 * per thread, by bar count) that the threads take from an atomic counter,
 * so a thread that starts late or shares its core takes fewer. For each
 * symbol the batch's distinct indicator arrays (EMA(10) once, whichever
 * members read it; EMAs four or two per pass over the closes, ind_ema4 and
 * ind_ema2) are computed into a per-thread scratch that stays in cache,
 * then every member's signal from them, kept only as its flips (the
 * bars where it changes: what the simulation consumes, ~1 % of the bytes
 * of the per-bar signal). members: a pool of threads taking member indices
 * from an atomic counter; each gathers its flips and simulates with the
 * shared table and prices. Batches (SWEEP_BATCH members, SWEEP_BATCH_KEYS
 * indicator arrays) only bound memory; most grids are one batch.
 *
 * Threads never call the caller's hooks: the calling thread runs members
 * too and, between its own members, reports progress and polls
 * cancellation, which stops the others through an atomic flag. Shared
 * writes: each signal chunk its own flip lists, each member its own slot. */
#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "factor_cache.h"
#include "xalloc.h"

#define SWEEP_MAX_THREADS 64
#define SWEEP_BATCH 256      /* members whose signals are held at once (as flips: ~100 KB each) */
#define SWEEP_BATCH_KEYS 64  /* distinct indicator arrays of a batch (per symbol, in a thread's scratch) */
#define SWEEP_CHUNKS_PER_THREAD 4 /* symbol chunks of the signal phase, per thread */
#define SWEEP_MAX_CHUNKS (SWEEP_MAX_THREADS * SWEEP_CHUNKS_PER_THREAD)

/* ---- the grid ------------------------------------------------------------------- */

size_t sweep_grid_combinations(const tb_sweep_grid *g)
{
    size_t n = 1;
    for (size_t d = 0; d < g->n_dims; d++) {
        if (g->dim[d].n && n > SIZE_MAX / g->dim[d].n) return SIZE_MAX;
        n *= g->dim[d].n;
    }
    return n;
}

int sweep_grid_add(tb_sweep_grid *g, const tb_strategy_def *def, const char *name, const double *v, size_t n,
                   tb_error *err)
{
    char field[64];
    snprintf(field, sizeof field, "grid.%.30s", name);
    size_t k = 0;
    while (k < def->n_params && strcmp(def->params[k].name, name)) k++;
    if (k == def->n_params)
        return tb_fail_field(err, TB_EINVAL, field, "strategy %s has no parameter '%.30s'", def->name, name);
    for (size_t d = 0; d < g->n_dims; d++)
        if (g->dim[d].param == k) return tb_fail_field(err, TB_EINVAL, field, "parameter %s is already in the grid", name);
    if (n == 0) return tb_fail_field(err, TB_EINVAL, field, "needs at least one value");
    const tb_param_def *pd = &def->params[k];
    for (size_t j = 0; j < n; j++) {
        snprintf(field, sizeof field, "grid.%.30s[%u]", name, (unsigned)j);
        if (!isfinite(v[j])) return tb_fail_field(err, TB_EINVAL, field, "must be a finite number");
        if (pd->integer && v[j] != floor(v[j]))
            return tb_fail_field(err, TB_EINVAL, field, "%s must be a whole number, got %.17g", name, v[j]);
        if (v[j] < pd->min || v[j] > pd->max)
            return tb_fail_field(err, TB_EINVAL, field, "%s must be in [%g, %g], got %.17g", name, pd->min, pd->max,
                                 v[j]);
        for (size_t i = 0; i < j; i++)
            if (v[i] == v[j]) return tb_fail_field(err, TB_EINVAL, field, "repeats %s = %.17g", name, v[j]);
    }
    snprintf(field, sizeof field, "grid.%.30s", name);
    size_t total = sweep_grid_combinations(g);
    if (total > SWEEP_MAX_MEMBERS / n)
        return tb_fail_field(err, TB_EINVAL, field, "the grid would have more than %d combinations",
                             SWEEP_MAX_MEMBERS);
    if (g->n_dims >= TB_MAX_PARAMS) return tb_fail_field(err, TB_EINVAL, field, "too many grid dimensions");
    tb_sweep_dim *dm = &g->dim[g->n_dims++];
    snprintf(dm->name, sizeof dm->name, "%s", pd->name);
    dm->param = k;
    dm->n = n;
    dm->v = xmalloc(xmul(n, sizeof *dm->v));
    memcpy(dm->v, v, n * sizeof *dm->v);
    return 0;
}

int sweep_grid_parse(tb_sweep_grid *g, const tb_strategy_def *def, const char *arg, tb_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return tb_fail_field(err, TB_EINVAL, "grid", "--grid takes NAME=V1,V2,..., got '%s'", arg);
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg < 31 ? eq - arg : 31), arg);
    size_t cap = 1;
    for (const char *p = eq + 1; *p; p++) cap += *p == ',';
    double *v = xmalloc(xmul(cap, sizeof *v));
    size_t n = 0;
    const char *p = eq + 1;
    int rc = 0;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || (*end && *end != ',') || errno == ERANGE) {
            char field[64];
            snprintf(field, sizeof field, "grid.%.30s[%u]", name, (unsigned)n);
            rc = tb_fail_field(err, TB_EINVAL, field, "--grid %s: value %zu is not a number", name, n + 1);
            break;
        }
        v[n++] = x;
        if (!*end) break;
        p = end + 1;
    }
    if (!rc) rc = sweep_grid_add(g, def, name, v, n, err);
    free(v);
    return rc;
}

void sweep_grid_free(tb_sweep_grid *g)
{
    for (size_t d = 0; d < g->n_dims; d++) free(g->dim[d].v);
    memset(g, 0, sizeof *g);
}

static void sweep_grid_copy(tb_sweep_grid *dst, const tb_sweep_grid *src)
{
    *dst = *src;
    for (size_t d = 0; d < src->n_dims; d++) {
        dst->dim[d].v = xmalloc(xmul(src->dim[d].n ? src->dim[d].n : 1, sizeof(double)));
        memcpy(dst->dim[d].v, src->dim[d].v, src->dim[d].n * sizeof(double));
    }
}

/* The valid combinations of g over base, in grid order. */
static void sweep_expand(const tb_strategy_params *base, const tb_sweep_grid *g, tb_sweep_result *r)
{
    size_t total = sweep_grid_combinations(g);
    r->n_combinations = total;
    r->members = xcalloc(total ? total : 1, sizeof *r->members);
    for (size_t c = 0; c < total; c++) {
        tb_strategy_params p = *base;
        size_t rest = c;
        for (size_t d = g->n_dims; d-- > 0;) {
            p.v[g->dim[d].param] = g->dim[d].v[rest % g->dim[d].n];
            rest /= g->dim[d].n;
        }
        tb_error e;
        tb_error_clear(&e);
        if (strategy_params_validate(&p, &e)) {
            if (!r->n_skipped++) snprintf(r->skip_reason, sizeof r->skip_reason, "%.180s", e.msg);
            continue;
        }
        tb_sweep_member *m = &r->members[r->n_members++];
        m->params = p;
        m->combo = c;
    }
}

/* ---- the member phase: signals for a batch, then the members ------------------------ */

/* One member's flips over one chunk's symbols (symbol-major, bars ascending). */
typedef struct sweep_flips {
    size_t n, cap;
    uint32_t *sym;
    int32_t *bar;
    uint8_t *val;
} sweep_flips;

typedef struct sweep_ctx {
    const tb_market *m;
    const tb_panel *p;
    const double *bench;
    const tb_cost_table *tab;
    const size_t *tab_offset;  /* the table's layout when the market was cut (simulate.h) */
    const tb_sim_prices *prices;
    const tb_sim_config *sim;
    int ppy;                   /* periods per year */
    size_t n_chunks;           /* symbol chunks of the signal phase */
    size_t chunk_from[SWEEP_MAX_CHUNKS], chunk_to[SWEEP_MAX_CHUNKS]; /* their symbols, ascending */
    size_t maxlen;             /* bars of the longest symbol */
    tb_sweep_member *members;
    /* the current batch */
    size_t lo, hi;             /* members [lo, hi) */
    const ind_key *keys;       /* the distinct indicator arrays its members read */
    size_t n_keys;
    uint16_t *key_idx;         /* (hi-lo) * TB_MAX_INPUTS: member input k is keys[key_idx[..]] */
    uint8_t *s0;               /* (hi-lo) * N: signals at panel time 0 */
    sweep_flips *fl;           /* n_chunks * SWEEP_BATCH: fl[chunk * SWEEP_BATCH + (j - lo)] */
    atomic_size_t next_task;   /* the signal phase's next task: prices (when set), then the chunks */
    struct sweep_prices_job *prices_task; /* the prices to build in this signal phase, or NULL */
    atomic_size_t next;        /* the next member to take */
    atomic_size_t done;        /* members finished (all batches) */
    atomic_int stop;           /* cancelled or failed: take no more */
    pthread_mutex_t err_lock;  /* guards err */
    int failed;
    tb_error err;              /* the first failure */
} sweep_ctx;

static void sweep_flips_push(sweep_flips *f, uint32_t sym, const int32_t *bars, const uint8_t *vals, size_t n)
{
    if (n == 0) return; /* the lists may not exist yet (memcpy to NULL, even of nothing, is undefined) */
    if (f->n + n > f->cap) {
        f->cap = (f->n + n) * 2 > 256 ? (f->n + n) * 2 : 256;
        f->sym = xrealloc(f->sym, xmul(f->cap, sizeof *f->sym));
        f->bar = xrealloc(f->bar, xmul(f->cap, sizeof *f->bar));
        f->val = xrealloc(f->val, f->cap);
    }
    for (size_t k = 0; k < n; k++) f->sym[f->n + k] = sym;
    memcpy(f->bar + f->n, bars, n * sizeof *bars);
    memcpy(f->val + f->n, vals, n);
    f->n += n;
}

/* The changes of s_k = a[k] > b[k] over bars lo..hi-1 (prev: s_{lo-1}) into
 * bars/vals; returns how many. Eight bars per test on SSE2 (the same
 * ordered comparison as C's >: NaN is false), one at a time otherwise. */
static size_t sweep_flips_gt(const double *a, const double *b, int32_t lo, int32_t hi, unsigned prev, int32_t *bars,
                             uint8_t *vals)
{
    size_t n = 0;
    int32_t k = lo;
#ifdef __SSE2__
    for (; k + 8 <= hi; k += 8) {
        unsigned mask = 0;
        for (int j = 0; j < 4; j++) {
            __m128d x = _mm_loadu_pd(a + k + 2 * j), y = _mm_loadu_pd(b + k + 2 * j);
            mask |= (unsigned)_mm_movemask_pd(_mm_cmpgt_pd(x, y)) << (2 * j);
        }
        unsigned change = (mask ^ ((mask << 1) | prev)) & 0xffu;
        prev = (mask >> 7) & 1u;
        for (; change; change &= change - 1) {
            int j = __builtin_ctz(change);
            bars[n] = k + j;
            vals[n] = (uint8_t)((mask >> j) & 1u);
            n++;
        }
    }
#endif
    for (; k < hi; k++) {
        unsigned v = a[k] > b[k];
        if (v != prev) {
            bars[n] = k;
            vals[n] = (uint8_t)v;
            n++;
            prev = v;
        }
    }
    return n;
}

/* The order the batch's arrays are computed in: every EMA key, by period,
 * then the others; returns the EMAs' count. The EMAs go four, then two per
 * pass over the closes (ind_ema4, ind_ema2: independent recursions side by
 * side), neighbouring periods together so that little of one runs alone
 * before the longest is defined. */
static size_t sweep_key_order(const ind_key *keys, size_t n_keys, size_t *order)
{
    size_t n_ema = 0, n = 0;
    for (size_t k = 0; k < n_keys; k++) {
        if (keys[k].kind != IND_EMA) continue;
        size_t q = n_ema++;
        for (; q > 0 && keys[order[q - 1]].n > keys[k].n; q--) order[q] = order[q - 1];
        order[q] = k;
    }
    n = n_ema;
    for (size_t k = 0; k < n_keys; k++)
        if (keys[k].kind != IND_EMA) order[n++] = k;
    return n_ema;
}

/* The batch's distinct arrays of one symbol: out + k * stride = keys[k]. */
static void sweep_compute_keys(const ind_key *keys, const size_t *order, size_t n_keys, size_t n_ema,
                               const tb_series *s, double *out, size_t stride)
{
    size_t q = 0;
    for (; q + 3 < n_ema; q += 4) {
        const int n[4] = {keys[order[q]].n, keys[order[q + 1]].n, keys[order[q + 2]].n, keys[order[q + 3]].n};
        double *const o[4] = {out + order[q] * stride, out + order[q + 1] * stride, out + order[q + 2] * stride,
                              out + order[q + 3] * stride};
        ind_ema4(s->close, s->n, n, o);
    }
    for (; q + 1 < n_ema; q += 2) {
        size_t k0 = order[q], k1 = order[q + 1];
        ind_ema2(s->close, s->n, keys[k0].n, keys[k1].n, out + k0 * stride, out + k1 * stride);
    }
    for (; q < n_keys; q++) ind_compute(keys[order[q]], s->high, s->low, s->close, s->n, out + order[q] * stride);
}

static void *sweep_prices_main(void *arg);

/* Signals of every batch member, chunk by chunk as this thread takes them
 * (and the prices, when they are a task of this phase), symbol by symbol:
 * the batch's distinct indicator arrays of the symbol once (in a scratch
 * that stays in cache), then each member's signal from them and its flips. */
static void *sweep_signals_job(void *arg)
{
    sweep_ctx *x = arg;
    const tb_market *m = x->m;
    const size_t N = m->n_symbols, nb = x->hi - x->lo, maxlen = x->maxlen;
    size_t scratch_per_bar = 0;
    for (size_t j = x->lo; j < x->hi; j++)
        if (x->members[j].params.def->scratch_per_bar > scratch_per_bar)
            scratch_per_bar = x->members[j].params.def->scratch_per_bar;
    double *in_data = xmalloc(xmul(xmul(x->n_keys ? x->n_keys : 1, maxlen), sizeof(double)));
    double *scratch = xmalloc(xmul(xmul(scratch_per_bar + 1, maxlen), sizeof(double)));
    uint8_t *sig = xmalloc(maxlen), *vals = xmalloc(maxlen);
    int32_t *bars = xmalloc(xmul(maxlen, sizeof *bars));
    size_t order[SWEEP_BATCH_KEYS + TB_MAX_INPUTS];
    const size_t n_ema = sweep_key_order(x->keys, x->n_keys, order);
    for (;;) {
        size_t c = atomic_fetch_add(&x->next_task, 1);
        if (x->prices_task && c-- == 0) { /* task 0: the prices, the longest, first */
            sweep_prices_main(x->prices_task);
            continue;
        }
        if (c >= x->n_chunks) break;
        for (size_t i = x->chunk_from[c]; i < x->chunk_to[c]; i++) {
            tb_series s = market_series(m, i);
            sweep_compute_keys(x->keys, order, x->n_keys, n_ema, &s, in_data, maxlen);
            for (size_t j = 0; j < nb; j++) {
                const tb_strategy_params *sp = &x->members[x->lo + j].params;
                const tb_strategy_def *def = sp->def;
                size_t n = 0;
                if (def->inputs && def->compare_from) { /* the flips straight from the comparison */
                    ind_key mk[TB_MAX_INPUTS];
                    size_t nk = def->inputs(sp->v, mk);
                    const double *in[TB_MAX_INPUTS], *left, *right;
                    for (size_t k = 0; k < nk; k++)
                        in[k] = in_data + (size_t)x->key_idx[j * TB_MAX_INPUTS + k] * maxlen;
                    def->compare_from(sp->v, &s, in, scratch, &left, &right);
                    const tb_panel *p = x->p;
                    int32_t lo = p->lo[i], hi = p->hi[i];
                    unsigned prev = lo > 0 ? left[lo - 1] > right[lo - 1] : 0;
                    n = sweep_flips_gt(left, right, lo, hi, prev, bars, vals);
                    if (n && lo < hi && p->t0[i] == 0 && bars[0] == lo) { /* a change at panel time 0: in s0 */
                        memmove(bars, bars + 1, (n - 1) * sizeof *bars);
                        memmove(vals, vals + 1, n - 1);
                        n--;
                    }
                    int32_t b0 = panel_last(p, 0, i);
                    x->s0[j * N + i] = b0 >= 0 ? left[b0] > right[b0] : 0;
                    sweep_flips_push(&x->fl[c * SWEEP_BATCH + j], (uint32_t)i, bars, vals, n);
                    continue;
                }
                if (def->inputs && def->signal_from) {
                    ind_key mk[TB_MAX_INPUTS];
                    size_t nk = def->inputs(sp->v, mk);
                    const double *in[TB_MAX_INPUTS];
                    for (size_t k = 0; k < nk; k++)
                        in[k] = in_data + (size_t)x->key_idx[j * TB_MAX_INPUTS + k] * maxlen;
                    def->signal_from(sp->v, &s, in, sig);
                } else {
                    def->signal(sp->v, &s, sig, scratch);
                }
                x->s0[j * N + i] = sim_signal_flips(x->p, i, sig, bars, vals, &n);
                sweep_flips_push(&x->fl[c * SWEEP_BATCH + j], (uint32_t)i, bars, vals, n);
            }
        }
    }
    free(in_data), free(scratch), free(sig), free(vals), free(bars);
    return NULL;
}

/* A member's simulation input, reused between its thread's members. */
typedef struct sweep_buf {
    size_t *first;             /* N + 1 */
    int32_t *bar;
    uint8_t *val;
    size_t cap;
} sweep_buf;

/* One member: its flips gathered from the chunks' lists (their symbol
 * ranges ascend, so the concatenation is symbol-major), then the
 * simulation with the shared table and prices, and the metrics. */
static int sweep_member(sweep_ctx *x, size_t j, sweep_buf *b, tb_error *err)
{
    double t0 = stage_now();
    const size_t N = x->m->n_symbols, jj = j - x->lo;
    size_t total = 0;
    for (size_t c = 0; c < x->n_chunks; c++) total += x->fl[c * SWEEP_BATCH + jj].n;
    if (total > b->cap) {
        b->cap = total;
        b->bar = xrealloc(b->bar, xmul(b->cap, sizeof *b->bar));
        b->val = xrealloc(b->val, b->cap);
    }
    memset(b->first, 0, (N + 1) * sizeof *b->first);
    size_t n = 0;
    for (size_t c = 0; c < x->n_chunks; c++) {
        const sweep_flips *f = &x->fl[c * SWEEP_BATCH + jj];
        if (f->n == 0) continue; /* no lists (a member never long on these symbols) */
        memcpy(b->bar + n, f->bar, f->n * sizeof *f->bar);
        memcpy(b->val + n, f->val, f->n);
        for (size_t e = 0; e < f->n; e++) b->first[f->sym[e] + 1]++;
        n += f->n;
    }
    for (size_t i = 0; i < N; i++) b->first[i + 1] += b->first[i];
    tb_sim_signals sg = {x->s0 + jj * N, b->first, b->bar, b->val};
    tb_sim_opts opt = {.stats = x->tab, .stats_offset = x->tab_offset, .threads = 1, .prices = x->prices,
                       .signals = &sg, .no_orders = 1};
    tb_sim_result r;
    tb_sweep_member *mb = &x->members[j];
    if (simulate_with(x->m, NULL, x->p, x->sim, &opt, NULL, &r, err)) return -1;
    metrics_compute(&r, x->bench, x->ppy, &mb->metrics);
    sim_result_free(&r);
    mb->wall_s = stage_now() - t0;
    return 0;
}

/* Take members until none are left or the run stops. The calling thread
 * passes its hooks (workers pass NULL): between its members it reports
 * progress and polls cancellation, for everyone. */
static void sweep_take(sweep_ctx *x, sweep_buf *b, const tb_hooks *hooks, size_t total)
{
    while (!atomic_load(&x->stop)) {
        if (hooks && hooks_cancelled(hooks)) {
            atomic_store(&x->stop, 1);
            break;
        }
        size_t j = atomic_fetch_add(&x->next, 1);
        if (j >= x->hi) break;
        tb_error e;
        tb_error_clear(&e);
        if (sweep_member(x, j, b, &e)) {
            pthread_mutex_lock(&x->err_lock);
            if (!x->failed) x->err = e;
            x->failed = 1;
            pthread_mutex_unlock(&x->err_lock);
            atomic_store(&x->stop, 1);
            break;
        }
        size_t done = atomic_fetch_add(&x->done, 1) + 1;
        if (hooks) hooks_progress(hooks, "members", 0.3 + 0.7 * (double)done / (double)(total ? total : 1));
    }
}

typedef struct sweep_worker {
    sweep_ctx *x;
    sweep_buf *b;
} sweep_worker;

static void *sweep_worker_main(void *arg)
{
    sweep_worker *w = arg;
    sweep_take(w->x, w->b, NULL, 0);
    return NULL;
}

/* ---- cost table over the threads ------------------------------------------------ */

typedef struct sweep_cost_job {
    const tb_market *m;
    const tb_panel *p;
    tb_cost_table *tab;
    size_t from, to;           /* symbols */
} sweep_cost_job;

static void *sweep_cost_fill(void *arg)
{
    const sweep_cost_job *jb = arg;
    const tb_market *m = jb->m;
    size_t maxlen = 0;
    for (size_t i = jb->from; i < jb->to; i++)
        if (market_len(m, i) > maxlen) maxlen = market_len(m, i);
    double *scratch = xmalloc(xmul(3 * (maxlen ? maxlen : 1), sizeof(double)));
    for (size_t i = jb->from; i < jb->to; i++) {
        size_t o = m->offset[i], lo = (size_t)jb->p->lo[i];
        costs_table_fill(m->high + o, m->low + o, m->close + o, m->volume + o, market_len(m, i), lo ? lo - 1 : 0,
                         jb->tab->at + o, scratch);
    }
    free(scratch);
    return NULL;
}

/* Split the symbols into `threads` runs of about equal bar counts. */
static void sweep_split(const tb_market *m, int threads, size_t *from, size_t *to)
{
    size_t a = 0;
    for (int t = 0; t < threads; t++) {
        size_t b = m->n_symbols;
        if (t < threads - 1) {
            size_t goal = m->n_bars * (size_t)(t + 1) / (size_t)threads;
            for (b = a; b < m->n_symbols && m->offset[b] < goal;) b++;
        }
        from[t] = a;
        to[t] = b;
        a = b;
    }
}

static void sweep_cost_table(const tb_market *m, const tb_panel *p, int threads, tb_cost_table *tab)
{
    tab->at = xmalloc(xmul(m->n_bars ? m->n_bars : 1, sizeof *tab->at));
    size_t from[SWEEP_MAX_THREADS], to[SWEEP_MAX_THREADS];
    sweep_split(m, threads, from, to);
    sweep_cost_job jobs[SWEEP_MAX_THREADS];
    pthread_t tid[SWEEP_MAX_THREADS];
    int started[SWEEP_MAX_THREADS] = {0};
    for (int t = 0; t < threads; t++) jobs[t] = (sweep_cost_job){m, p, tab, from[t], to[t]};
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&tid[t], NULL, sweep_cost_fill, &jobs[t]) == 0;
    for (int t = 1; t < threads; t++)
        if (!started[t]) sweep_cost_fill(&jobs[t]);
    sweep_cost_fill(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(tid[t], NULL);
}

/* ---- time-major prices ---------------------------------------------------------------- */

/* The prices every member reads (mostly page faults of fresh memory, one
 * thread's work): with several threads a task of the first batch's signal
 * phase, taken first, while the other threads take symbol chunks. */
typedef struct sweep_prices_job {
    const tb_market *m;
    const tb_panel *p;
    tb_sim_prices *out;
    double wall_s;             /* the build's own wall time */
} sweep_prices_job;

static void *sweep_prices_main(void *arg)
{
    sweep_prices_job *jb = arg;
    double t0 = stage_now();
    sim_prices_build(jb->m, jb->p, jb->out);
    jb->wall_s = stage_now() - t0;
    return NULL;
}

/* ---- ranking ---------------------------------------------------------------------- */

typedef struct sweep_rank_item {
    double sharpe;
    size_t combo;              /* grid order breaks ties */
    size_t member;
} sweep_rank_item;

static int sweep_rank_cmp(const void *pa, const void *pb)
{
    const sweep_rank_item *a = pa, *b = pb;
    int na = isnan(a->sharpe), nb = isnan(b->sharpe);
    if (na != nb) return na - nb; /* undefined last */
    if (!na && a->sharpe != b->sharpe) return a->sharpe > b->sharpe ? -1 : 1;
    return a->combo < b->combo ? -1 : a->combo > b->combo;
}

void sweep_rank(tb_sweep_result *r)
{
    size_t n = r->n_members;
    sweep_rank_item *it = xmalloc(xmul(n ? n : 1, sizeof *it));
    for (size_t j = 0; j < n; j++) it[j] = (sweep_rank_item){r->members[j].metrics.sharpe, r->members[j].combo, j};
    qsort(it, n, sizeof *it, sweep_rank_cmp);
    r->ranked = xmalloc(xmul(n ? n : 1, sizeof *r->ranked));
    for (size_t j = 0; j < n; j++) {
        r->ranked[j] = it[j].member;
        r->members[it[j].member].rank = j + 1;
    }
    free(it);
}

/* ---- the plan (expansion only) -------------------------------------------------------- */

int sweep_plan(const tb_strategy_params *base, const tb_sweep_grid *g, tb_sweep_result *out, tb_error *err)
{
    static const tb_metrics undefined = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    memset(out, 0, sizeof *out);
    out->def = base->def;
    sweep_grid_copy(&out->grid, g);
    sweep_expand(base, g, out);
    out->n_valid = out->n_members;
    if (out->n_members == 0) {
        tb_fail_field(err, TB_EINVAL, "grid", "no valid combination in the grid (%zu skipped: %s)", out->n_skipped,
                      out->skip_reason);
        sweep_result_free(out);
        return -1;
    }
    for (size_t j = 0; j < out->n_members; j++) out->members[j].metrics = undefined;
    out->threads = 1;
    return 0;
}

/* ---- the run ------------------------------------------------------------------------ */

static int sweep_threads(int threads, size_t n_members)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > SWEEP_MAX_THREADS) threads = SWEEP_MAX_THREADS;
    if (n_members && (size_t)threads > n_members) threads = (int)n_members;
    return threads < 1 ? 1 : threads;
}

/* The next batch from member lo: at most SWEEP_BATCH members reading at
 * most SWEEP_BATCH_KEYS distinct indicator arrays (their union into keys;
 * returns the count). */
static size_t sweep_batch_keys(const tb_sweep_member *mb, size_t lo, size_t *hi, size_t n, ind_key *keys)
{
    const size_t cap = SWEEP_BATCH_KEYS;
    size_t nk = 0, j = lo;
    for (; j < n && j - lo < SWEEP_BATCH; j++) {
        const tb_strategy_def *def = mb[j].params.def;
        ind_key mk[TB_MAX_INPUTS];
        size_t nm = def->inputs && def->signal_from ? def->inputs(mb[j].params.v, mk) : 0, add = 0;
        ind_key fresh[TB_MAX_INPUTS];
        for (size_t k = 0; k < nm; k++) {
            int seen = 0;
            for (size_t q = 0; q < nk && !seen; q++) seen = keys[q].kind == mk[k].kind && keys[q].n == mk[k].n;
            for (size_t q = 0; q < add && !seen; q++) seen = fresh[q].kind == mk[k].kind && fresh[q].n == mk[k].n;
            if (!seen) fresh[add++] = mk[k];
        }
        if (nk + add > cap && j > lo) break;
        for (size_t q = 0; q < add; q++) keys[nk++] = fresh[q];
    }
    *hi = j;
    return nk;
}

int sweep_run(const tb_backtest_config *c, const tb_sweep_grid *g, int threads, const tb_hooks *hooks,
              tb_sweep_result *out, tb_error *err)
{
    return sweep_run_range(c, g, 0, SIZE_MAX, threads, hooks, out, err);
}

int sweep_run_range(const tb_backtest_config *c, const tb_sweep_grid *g, size_t lo_member, size_t hi_member,
                    int threads, const tb_hooks *hooks, tb_sweep_result *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    double t_all = stage_now();
    if (c->start > c->end) return tb_fail_field(err, TB_EINVAL, "start", "start is after end");
    if (sim_config_validate(&c->sim, err)) return -1;
    if (c->meta.model || c->meta.model_id)
        return tb_fail_field(err, TB_EINVAL, "meta_filter", "a sweep cannot use a meta_filter");
    out->def = c->strategy.def;
    sweep_grid_copy(&out->grid, g);
    sweep_expand(&c->strategy, g, out);
    if (out->n_members == 0) {
        tb_fail_field(err, TB_EINVAL, "grid", "no valid combination in the grid (%zu skipped: %s)", out->n_skipped,
                      out->skip_reason);
        sweep_result_free(out);
        return -1;
    }
    out->n_valid = out->n_members;
    const size_t hi_asked = hi_member; /* the message names the range as requested */
    if (hi_member > out->n_members) hi_member = out->n_members;
    if (lo_member >= hi_member) { /* nothing to run: empty, reversed, or past the valid members */
        tb_fail_field(err, TB_EINVAL, "grid", "member range [%zu, %zu) is outside the grid's %zu valid combinations",
                      lo_member, hi_asked, out->n_valid);
        sweep_result_free(out);
        return -1;
    }
    if (lo_member > 0 || hi_member < out->n_members) { /* a chunk: only these members run */
        memmove(out->members, out->members + lo_member, (hi_member - lo_member) * sizeof *out->members);
        out->n_members = hi_member - lo_member;
        out->first_member = lo_member;
    }
    out->threads = threads = sweep_threads(threads, out->n_members);

    tb_universe u = {0};
    tb_market *m = NULL;
    tb_panel p;
    memset(&p, 0, sizeof p);
    double *bench = NULL;
    tb_cost_table tab = {NULL};
    tb_data_id id;                  /* the bars' identity: the cost table from the factor cache */
    fcache_arrays *tab_hold = NULL; /* the table's arrays when they came through the cache */
    const size_t *tab_offset = NULL; /* their layout when the market was cut */
    tb_sim_prices prices = {NULL, NULL, NULL};
    sweep_prices_job prices_job;
    sweep_buf bufs[SWEEP_MAX_THREADS];
    memset(bufs, 0, sizeof bufs);
    int rc = -1;
    sweep_ctx x;
    memset(&x, 0, sizeof x);
    pthread_mutex_init(&x.err_lock, NULL);

    double t0 = stage_now();
    hooks_progress(hooks, "load_data", 0.0);
    if (backtest_select_universe(c, &u, err) || source_load_id(&c->source, &u, &m, &id, err)) goto out;
    if (c->end != INT64_MAX) market_truncate_after(m, c->end);
    stage_record(&out->stages, hooks, "load_data", t0);
    if (hooks_cancelled(hooks)) goto cancelled;

    t0 = stage_now();
    hooks_progress(hooks, "panel", 0.1);
    if (panel_build_compact(m, c->start, c->end, c->last_bars, &p, err)) goto out;
    bench = xmalloc(xmul(p.T, sizeof *bench));
    metrics_benchmark(m, &p, bench);
    out->n_symbols = m->n_symbols;
    out->T = p.T;
    out->first_ts = p.ts[0];
    out->last_ts = p.ts[p.T - 1];
    out->freq = m->freq;
    stage_record(&out->stages, hooks, "panel", t0);

    t0 = stage_now();
    hooks_progress(hooks, "cost_stats", 0.15);
    /* mapped from the factor cache, or computed for every bar and stored; else from each panel.lo - 1 */
    tab_hold = fcache_cost_table(m, &id, threads, &tab, &tab_offset, NULL);
    if (!tab_hold) sweep_cost_table(m, &p, threads, &tab);
    stage_record(&out->stages, hooks, "cost_stats", t0);
    if (hooks_cancelled(hooks)) goto cancelled;

    /* prices: built here with one thread, else a task of the first signal phase */
    prices_job = (sweep_prices_job){m, &p, &prices, 0};
    if (threads == 1) sweep_prices_main(&prices_job);

    x.m = m;
    x.p = &p;
    x.bench = bench;
    x.tab = &tab;
    x.tab_offset = tab_offset;
    x.prices = &prices;
    x.sim = &c->sim;
    x.ppy = tb_freq_periods_per_year(m->freq);
    x.members = out->members;
    x.n_chunks = threads > 1 ? (size_t)threads * SWEEP_CHUNKS_PER_THREAD : 1;
    if (x.n_chunks > m->n_symbols) x.n_chunks = m->n_symbols ? m->n_symbols : 1;
    sweep_split(m, (int)x.n_chunks, x.chunk_from, x.chunk_to);
    x.maxlen = 1;
    for (size_t i = 0; i < m->n_symbols; i++)
        if (market_len(m, i) > x.maxlen) x.maxlen = market_len(m, i);
    x.prices_task = threads > 1 ? &prices_job : NULL;
    ind_key *keys = xmalloc(xmul(SWEEP_BATCH_KEYS + TB_MAX_INPUTS, sizeof *keys));
    x.keys = keys;
    x.key_idx = xmalloc(xmul(SWEEP_BATCH, TB_MAX_INPUTS * sizeof *x.key_idx));
    x.s0 = xmalloc(xmul(SWEEP_BATCH, m->n_symbols ? m->n_symbols : 1));
    x.fl = xcalloc(xmul(x.n_chunks, SWEEP_BATCH), sizeof *x.fl);
    for (int t = 0; t < threads; t++) bufs[t].first = xmalloc(xmul(m->n_symbols + 1, sizeof *bufs[t].first));
    double t_sig = 0, t_mem = 0;
    for (size_t lo = 0, hi = 0; lo < out->n_members; lo = hi) {
        /* signals of the batch: one pass over the symbols, in chunks taken by the threads */
        t0 = stage_now();
        x.n_keys = sweep_batch_keys(out->members, lo, &hi, out->n_members, keys);
        x.lo = lo;
        x.hi = hi;
        out->n_indicators += x.n_keys;
        for (size_t j = lo; j < hi; j++) {
            const tb_strategy_params *sp = &out->members[j].params;
            ind_key mk[TB_MAX_INPUTS];
            size_t nk = sp->def->inputs && sp->def->signal_from ? sp->def->inputs(sp->v, mk) : 0;
            for (size_t k = 0; k < nk; k++) {
                size_t q = 0;
                while (keys[q].kind != mk[k].kind || keys[q].n != mk[k].n) q++;
                x.key_idx[(j - lo) * TB_MAX_INPUTS + k] = (uint16_t)q;
            }
        }
        for (size_t f = 0; f < x.n_chunks * SWEEP_BATCH; f++) x.fl[f].n = 0;
        atomic_store(&x.next_task, 0);
        pthread_t tid[SWEEP_MAX_THREADS];
        int started[SWEEP_MAX_THREADS] = {0};
        for (int t = 1; t < threads; t++) started[t] = pthread_create(&tid[t], NULL, sweep_signals_job, &x) == 0;
        sweep_signals_job(&x); /* returns when every task is taken: none is left for a thread that did not start */
        for (int t = 1; t < threads; t++)
            if (started[t]) pthread_join(tid[t], NULL);
        double t1 = stage_now();
        t_sig += t1 - t0;
        if (lo == 0) stage_record(&out->stages, hooks, "prices", stage_now() - prices_job.wall_s); /* its own time */
        x.prices_task = NULL;
        if (hooks_cancelled(hooks)) {
            atomic_store(&x.stop, 1);
            break;
        }

        /* the members: a pool taking member indices */
        atomic_store(&x.next, lo);
        sweep_worker w[SWEEP_MAX_THREADS];
        for (int t = 1; t < threads; t++) {
            w[t] = (sweep_worker){&x, &bufs[t]};
            started[t] = pthread_create(&tid[t], NULL, sweep_worker_main, &w[t]) == 0;
        }
        sweep_take(&x, &bufs[0], hooks, out->n_members);
        for (int t = 1; t < threads; t++)
            if (started[t]) pthread_join(tid[t], NULL);
        /* a member no thread could take (pthread_create failed) runs here */
        if (!atomic_load(&x.stop)) sweep_take(&x, &bufs[0], hooks, out->n_members);
        t_mem += stage_now() - t1;
        if (atomic_load(&x.stop)) break;
    }
    free(keys);
    out->members_s = t_mem;
    if (x.failed) {
        *err = x.err;
        goto out;
    }
    if (atomic_load(&x.stop)) goto cancelled;
    /* the two phases alternate per batch: recorded once each, as totals */
    stage_record(&out->stages, hooks, "signals", stage_now() - t_sig);
    stage_record(&out->stages, hooks, "members", stage_now() - t_mem);

    t0 = stage_now();
    sweep_rank(out);
    stage_record(&out->stages, hooks, "rank", t0);
    out->total_s = stage_now() - t_all;
    hooks_progress(hooks, "members", 1.0);
    rc = 0;
    goto out;
cancelled:
    tb_fail(err, TB_ECANCEL, "cancelled");
out:
    for (int t = 0; t < SWEEP_MAX_THREADS; t++) free(bufs[t].first), free(bufs[t].bar), free(bufs[t].val);
    for (size_t f = 0; x.fl && f < x.n_chunks * SWEEP_BATCH; f++)
        free(x.fl[f].sym), free(x.fl[f].bar), free(x.fl[f].val);
    free(x.fl);
    free(x.s0);
    free(x.key_idx);
    if (tab_hold) fcache_release(tab_hold);
    else free(tab.at);
    sim_prices_free(&prices);
    free(bench);
    panel_free(&p);
    market_free(m);
    universe_free(&u);
    pthread_mutex_destroy(&x.err_lock);
    if (rc) sweep_result_free(out);
    return rc;
}

void sweep_result_free(tb_sweep_result *r)
{
    if (!r) return;
    sweep_grid_free(&r->grid);
    free(r->members);
    free(r->ranked);
    memset(r, 0, sizeof *r);
}
