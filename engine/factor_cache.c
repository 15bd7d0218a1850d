/* factor_cache.c — the cross-run cache of computed arrays (see factor_cache.h).
 *
 * File layout, every field a native 64-bit word (the byte-order word rejects
 * a file from another endianness):
 *
 *   header   24 words: magic "TBFACT", byte order, format version, the spec
 *            (kind, version, a, b), the data id (4 words), n_symbols, n_bars,
 *            planes, width, data_off, plane stride, file_len, meta checksum,
 *            build time, reserved
 *   offsets  n_symbols + 1 words: the whole load's (a cut market has at most
 *            as many bars per symbol, and reads a prefix of each)
 *   sums     n_symbols words: checksum of symbol i's values in every plane
 *   data     at data_off (64-aligned): `planes` planes of n_bars * width
 *            doubles, each zero-padded to a multiple of 64 bytes
 *
 * The meta checksum covers offsets and sums (and the padding after them).
 * The layout is computed from the request (the spec, the symbol count and
 * the load's bar count), never from the file: the file's header must equal
 * it field for field and its length must be the computed one; the offsets
 * are checked before any is used. Checksums, layout arithmetic and the
 * atomic write (temporary file, then rename) are the panel cache's
 * (pcache_hash_*, pcache_add/mul/align, pcache_tmp_open/commit). */
#include "factor_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panel_cache.h"
#include "xalloc.h"

#define FC_MAGIC "TBFACT"                 /* 6 chars, NUL-padded to 8 bytes */
#define FC_BYTE_ORDER 0x0102030405060708ULL
#define FC_ALIGN 64u
#define FC_MAX_THREADS 8
#define FC_MAX_WIDTH 64u

_Static_assert(sizeof(tb_cost_stats) == 3 * sizeof(double), "a cost table row is three doubles");
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "offsets are stored as 64-bit words");

typedef struct fc_header {
    char magic[8];           /* FC_MAGIC */
    uint64_t byte_order;     /* FC_BYTE_ORDER as the writer stored it */
    uint64_t format_version; /* FCACHE_FORMAT_VERSION */
    uint64_t kind, version;  /* the spec */
    int64_t a, b;
    uint64_t id[4];          /* tb_data_id.w */
    uint64_t n_symbols, n_bars, planes, width;
    uint64_t data_off;       /* byte offset of plane 0 */
    uint64_t stride;         /* bytes from one plane to the next */
    uint64_t file_len;
    uint64_t meta_sum;       /* checksum of offsets, sums and their padding */
    uint64_t built_ns;       /* CLOCK_REALTIME at writing, informative */
    uint64_t reserved[4];
} fc_header;
_Static_assert(sizeof(fc_header) == 192, "the header is 24 words");

typedef struct fc_layout {
    uint64_t offsets_off, sums_off, data_off, stride, file_len;
} fc_layout;

struct fcache_arrays {
    size_t planes, width;
    const double *plane[FCACHE_MAX_PLANES];
    size_t *offset;          /* n_symbols + 1: symbol i's values at plane[k] + offset[i] * width */
    void *map;               /* the mapped file, or NULL */
    size_t map_len;
    double *heap;            /* computed values, or NULL */
};

/* One request: what, over which bars, in which file. */
typedef struct fc_req {
    const fcache_spec *sp;
    const tb_market *m;
    const tb_data_id *id;
    fc_layout l;
    char path[4096];
    const char *dir;
} fc_req;

const char *fcache_outcome_name(fcache_outcome o)
{
    switch (o) {
    case FCACHE_HIT: return "hit";
    case FCACHE_MISS_ABSENT: return "absent";
    case FCACHE_MISS_INVALID: return "invalid";
    default: return "off";
    }
}

static void fc_reason(fcache_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fc_reason(fcache_status *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
}

static const char *fc_dir(void)
{
    const char *f = getenv("TB_FACTOR_CACHE");
    if (f && !strcmp(f, "off")) return NULL;
    return pcache_dir();
}

int fcache_usable(const tb_data_id *id) { return id && id->known && fc_dir() != NULL; }

int fcache_indicator_pays(ind_key k) { return k.kind != IND_EMA; }

/* ---- layout and key ------------------------------------------------------------------ */

static int fc_layout_of(uint64_t n_symbols, uint64_t n_bars, uint64_t planes, uint64_t width, fc_layout *l)
{
    uint64_t a, b;
    l->offsets_off = sizeof(fc_header);
    if (pcache_add(n_symbols, 1, &a) || pcache_mul(a, 8, &b) || pcache_add(l->offsets_off, b, &l->sums_off)) return -1;
    if (pcache_mul(n_symbols, 8, &a) || pcache_add(l->sums_off, a, &b) || pcache_align(b, FC_ALIGN, &l->data_off))
        return -1;
    if (pcache_mul(n_bars, width, &a) || pcache_mul(a, 8, &b) || pcache_align(b, FC_ALIGN, &l->stride)) return -1;
    if (pcache_mul(l->stride, planes, &a) || pcache_add(l->data_off, a, &l->file_len)) return -1;
    return 0;
}

static uint64_t fc_fnv(uint64_t h, uint64_t w)
{
    for (int s = 0; s < 64; s += 8) h = (h ^ ((w >> s) & 0xff)) * 0x100000001b3ULL;
    return h;
}

/* The file name's hash: everything the header must match. */
static uint64_t fc_key_hash(const fc_req *r)
{
    const fcache_spec *sp = r->sp;
    const uint64_t head[] = {FCACHE_FORMAT_VERSION, sp->kind,    sp->version, (uint64_t)(int64_t)sp->a,
                             (uint64_t)(int64_t)sp->b, sp->planes, sp->width,   r->id->w[0],
                             r->id->w[1],              r->id->w[2], r->id->w[3], r->id->n_bars,
                             r->m->n_symbols};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t k = 0; k < sizeof head / sizeof head[0]; k++) h = fc_fnv(h, head[k]);
    return h;
}

/* ---- per-symbol work over threads: compute or verify ---------------------------------- */

/* Checksum of symbol i's values in every plane (laid out by off). */
static uint64_t fc_sym_sum(const fcache_spec *sp, const size_t *off, const double *const *plane, size_t i)
{
    pcache_hash h;
    pcache_hash_init(&h);
    size_t o = off[i] * sp->width, n = (off[i + 1] - off[i]) * sp->width;
    for (size_t k = 0; k < sp->planes; k++) pcache_hash_update(&h, plane[k] + o, n * sizeof(double));
    return pcache_hash_final(&h);
}

typedef struct fc_job {
    const fcache_spec *sp;
    const tb_market *m;            /* compute: the bars */
    const size_t *off;             /* n_symbols + 1: the planes' layout (compute: m's offsets) */
    double *const *out;            /* compute: the planes to fill; NULL when verifying */
    const double *const *in;       /* the planes to checksum */
    uint64_t *sums;                /* n_symbols: written (compute; NULL: not needed) or compared (verify) */
    size_t from, to;               /* symbols */
    size_t bad;                    /* verify: the first failing symbol + 1, else 0 */
} fc_job;

static void *fc_job_run(void *arg)
{
    fc_job *jb = arg;
    const fcache_spec *sp = jb->sp;
    const tb_market *m = jb->m;
    double *scratch = NULL;
    if (jb->out) {
        size_t maxlen = 1;
        for (size_t i = jb->from; i < jb->to; i++)
            if (market_len(m, i) > maxlen) maxlen = market_len(m, i);
        scratch = xmalloc(xmul(xmul(maxlen, sp->scratch_per_bar + 1), sizeof(double)));
    }
    for (size_t i = jb->from; i < jb->to; i++) {
        if (jb->out) {
            double *at[FCACHE_MAX_PLANES];
            for (size_t k = 0; k < sp->planes; k++) at[k] = jb->out[k] + jb->off[i] * sp->width;
            sp->fill(sp, m, i, at, scratch);
            if (jb->sums) jb->sums[i] = fc_sym_sum(sp, jb->off, jb->in, i); /* while the values are in cache */
        } else if (fc_sym_sum(sp, jb->off, jb->in, i) != jb->sums[i]) {
            jb->bad = i + 1;
            break;
        }
    }
    free(scratch);
    return NULL;
}

/* Compute (out != NULL: m's symbols into planes laid out by off, their sums
 * when sums != NULL) or verify (the planes laid out by off against sums),
 * the symbols split by bar counts over up to `threads` threads. Returns 0,
 * or a failing symbol + 1. */
static size_t fc_run(const fcache_spec *sp, const tb_market *m, const size_t *off, double *const *out,
                     const double *const *in, uint64_t *sums, int threads)
{
    const size_t n = m->n_symbols, n_bars = off[n];
    if (threads < 1) threads = 1;
    if (threads > FC_MAX_THREADS) threads = FC_MAX_THREADS;
    if ((size_t)threads > n) threads = n ? (int)n : 1;
    fc_job jobs[FC_MAX_THREADS];
    pthread_t tid[FC_MAX_THREADS];
    int started[FC_MAX_THREADS] = {0};
    size_t a = 0;
    for (int t = 0; t < threads; t++) {
        size_t b = n;
        if (t < threads - 1) {
            size_t goal = n_bars / (size_t)threads * (size_t)(t + 1);
            for (b = a; b < n && off[b] < goal;) b++;
        }
        jobs[t] = (fc_job){sp, m, off, out, in, sums, a, b, 0};
        a = b;
    }
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&tid[t], NULL, fc_job_run, &jobs[t]) == 0;
    for (int t = 1; t < threads; t++)
        if (!started[t]) fc_job_run(&jobs[t]);
    fc_job_run(&jobs[0]);
    size_t bad = 0;
    for (int t = 0; t < threads; t++) {
        if (t && started[t]) pthread_join(tid[t], NULL);
        if (jobs[t].bad && !bad) bad = jobs[t].bad;
    }
    return bad;
}

/* ---- reading ---------------------------------------------------------------------------- */

static fcache_outcome fc_miss(fcache_status *st, fcache_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static fcache_outcome fc_miss(fcache_status *st, fcache_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
    return o;
}

/* The symbol a hit recomputes: m's longest (the most values to differ). */
static size_t fc_spot_symbol(const tb_market *m)
{
    size_t best = 0;
    for (size_t i = 1; i < m->n_symbols; i++)
        if (market_len(m, i) > market_len(m, best)) best = i;
    return best;
}

/* Recompute symbol i of m and compare with its prefix of the planes (laid
 * out by off), bit for bit. */
static int fc_spot_check(const fcache_spec *sp, const tb_market *m, const size_t *off, const double *const *plane,
                         size_t i)
{
    size_t len = market_len(m, i), n = len * sp->width;
    if (!len) return 0;
    double *buf = xmalloc(xmul(xmul(n, sp->planes), sizeof(double)));
    double *scratch = xmalloc(xmul(xmul(len, sp->scratch_per_bar + 1), sizeof(double)));
    double *at[FCACHE_MAX_PLANES];
    for (size_t k = 0; k < sp->planes; k++) at[k] = buf + k * n;
    sp->fill(sp, m, i, at, scratch);
    int bad = 0;
    for (size_t k = 0; k < sp->planes && !bad; k++)
        bad = memcmp(at[k], plane[k] + off[i] * sp->width, n * sizeof(double)) != 0;
    free(scratch);
    free(buf);
    return bad;
}

/* Check a mapped file against the request; fill a on success (a->offset
 * may be set either way: the caller frees it). */
static fcache_outcome fc_check(const fc_req *r, const unsigned char *map, size_t len, int threads, fcache_arrays *a,
                               fcache_status *st)
{
    const fcache_spec *sp = r->sp;
    const tb_market *m = r->m;
    const fc_layout *l = &r->l;
    fc_header h;
    if (len < sizeof h) return fc_miss(st, FCACHE_MISS_INVALID, "shorter than its header (%zu bytes)", len);
    memcpy(&h, map, sizeof h);
    char magic[8] = FC_MAGIC;
    if (memcmp(h.magic, magic, sizeof magic)) return fc_miss(st, FCACHE_MISS_INVALID, "bad magic");
    if (h.byte_order != FC_BYTE_ORDER) return fc_miss(st, FCACHE_MISS_INVALID, "written with another byte order");
    if (h.format_version != FCACHE_FORMAT_VERSION)
        return fc_miss(st, FCACHE_MISS_INVALID, "format %llu, want %d", (unsigned long long)h.format_version,
                       FCACHE_FORMAT_VERSION);
    if (h.kind != sp->kind || h.version != sp->version || h.a != sp->a || h.b != sp->b || h.planes != sp->planes ||
        h.width != sp->width)
        return fc_miss(st, FCACHE_MISS_INVALID, "holds other arrays (kind, version or parameters differ)");
    if (memcmp(h.id, r->id->w, sizeof h.id) || h.n_symbols != m->n_symbols || h.n_bars != r->id->n_bars)
        return fc_miss(st, FCACHE_MISS_INVALID, "computed from other bars");
    if (h.data_off != l->data_off || h.stride != l->stride || h.file_len != l->file_len || (uint64_t)len != l->file_len)
        return fc_miss(st, FCACHE_MISS_INVALID, "lengths do not add up (%zu bytes, want %llu)", len,
                       (unsigned long long)l->file_len);
    pcache_hash hh;
    pcache_hash_init(&hh);
    pcache_hash_update(&hh, map + l->offsets_off, (size_t)(l->data_off - l->offsets_off));
    if (pcache_hash_final(&hh) != h.meta_sum) return fc_miss(st, FCACHE_MISS_INVALID, "checksum mismatch (offsets)");

    /* The load's offsets: ascending to n_bars, and the market (whole or cut)
     * has at most as many bars per symbol. */
    size_t *off = a->offset = xmalloc(xmul(m->n_symbols + 1, sizeof *off));
    memcpy(off, map + l->offsets_off, (m->n_symbols + 1) * sizeof *off);
    int bad_off = off[0] != 0 || off[m->n_symbols] != h.n_bars;
    for (size_t i = 0; !bad_off && i < m->n_symbols; i++)
        bad_off = off[i + 1] < off[i] || off[i + 1] > h.n_bars || market_len(m, i) > off[i + 1] - off[i];
    if (bad_off) return fc_miss(st, FCACHE_MISS_INVALID, "computed from other bars (offsets differ)");

    a->planes = sp->planes;
    a->width = sp->width;
    for (size_t k = 0; k < sp->planes; k++)
        a->plane[k] = (const double *)(const void *)(map + l->data_off + k * l->stride);
    uint64_t *sums = xmalloc(xmul(m->n_symbols ? m->n_symbols : 1, sizeof *sums));
    memcpy(sums, map + l->sums_off, m->n_symbols * sizeof *sums);
    size_t bad = fc_run(sp, m, off, NULL, a->plane, sums, threads);
    free(sums);
    if (bad) return fc_miss(st, FCACHE_MISS_INVALID, "checksum mismatch (%s)", m->symbols[bad - 1]);
    size_t spot = fc_spot_symbol(m);
    if (m->n_symbols && fc_spot_check(sp, m, off, a->plane, spot))
        return fc_miss(st, FCACHE_MISS_INVALID, "%s of %s recomputed differs: stale computation version",
                       sp->name, m->symbols[spot]);
    return FCACHE_HIT;
}

static fcache_outcome fc_lookup(const fc_req *r, int threads, fcache_arrays *a, fcache_status *st)
{
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return FCACHE_MISS_ABSENT;
        return fc_miss(st, FCACHE_MISS_INVALID, "cannot open: %s", strerror(errno));
    }
    struct stat s;
    if (fstat(fd, &s) || (uint64_t)s.st_size != r->l.file_len) {
        close(fd);
        return fc_miss(st, FCACHE_MISS_INVALID, "length %lld, want %llu", (long long)s.st_size,
                       (unsigned long long)r->l.file_len);
    }
    size_t len = (size_t)s.st_size;
    /* Shared and read-only: the pages are the page cache's, never copied. */
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return fc_miss(st, FCACHE_MISS_INVALID, "mmap failed: %s", strerror(errno));
    fcache_outcome o = fc_check(r, map, len, threads, a, st);
    if (o != FCACHE_HIT) {
        munmap(map, len);
        free(a->offset);
        memset(a, 0, sizeof *a);
        return o;
    }
    a->map = map;
    a->map_len = len;
    return o;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Write the file of an uncut market's freshly computed planes (best effort). */
static void fc_store(const fc_req *r, const double *const *plane, const uint64_t *sums, fcache_status *st)
{
    const fcache_spec *sp = r->sp;
    const tb_market *m = r->m;
    const fc_layout *l = &r->l;
    char tmp[4096 + 64];
    int fd = pcache_tmp_open(r->dir, r->path, tmp, sizeof tmp, st->reason, sizeof st->reason);
    if (fd < 0) return;
    fc_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, FC_MAGIC, sizeof FC_MAGIC);
    h.byte_order = FC_BYTE_ORDER;
    h.format_version = FCACHE_FORMAT_VERSION;
    h.kind = sp->kind;
    h.version = sp->version;
    h.a = sp->a;
    h.b = sp->b;
    memcpy(h.id, r->id->w, sizeof h.id);
    h.n_symbols = m->n_symbols;
    h.n_bars = m->n_bars;
    h.planes = sp->planes;
    h.width = sp->width;
    h.data_off = l->data_off;
    h.stride = l->stride;
    h.file_len = l->file_len;
    h.built_ns = (uint64_t)pcache_now_ns();
    pcache_hash meta;
    pcache_hash_init(&meta);
    size_t bytes = m->n_bars * sp->width * sizeof(double);
    int bad = pcache_write_all(fd, NULL, &h, sizeof h) ||
              pcache_write_all(fd, &meta, m->offset, (m->n_symbols + 1) * 8) ||
              pcache_write_all(fd, &meta, sums, m->n_symbols * 8) ||
              pcache_write_zeros(fd, &meta, (size_t)(l->data_off - l->sums_off) - m->n_symbols * 8);
    for (size_t k = 0; !bad && k < sp->planes; k++)
        bad = pcache_write_all(fd, NULL, plane[k], bytes) || pcache_write_zeros(fd, NULL, (size_t)l->stride - bytes);
    h.meta_sum = pcache_hash_final(&meta);
    if (pcache_tmp_commit(fd, tmp, r->path, &h, sizeof h, bad)) {
        fc_reason(st, "writing %s failed: %s", r->path, strerror(errno));
        return;
    }
    st->stored = 1;
    pcache_prune(r->dir, r->path);
}

/* ---- the entry points ------------------------------------------------------------------- */

/* m's arrays computed into the heap, in m's layout (and their sums when wanted). */
static fcache_arrays *fc_compute(const fcache_spec *sp, const tb_market *m, int threads, uint64_t *sums)
{
    fcache_arrays *a = xcalloc(1, sizeof *a);
    size_t per_plane = m->n_bars * sp->width, np = sp->planes;
    a->heap = xmalloc(xmul(xmul(per_plane ? per_plane : 1, np), sizeof(double)));
    a->planes = np;
    a->width = sp->width;
    a->offset = xmalloc(xmul(m->n_symbols + 1, sizeof *a->offset));
    memcpy(a->offset, m->offset, (m->n_symbols + 1) * sizeof *a->offset);
    double *out[FCACHE_MAX_PLANES];
    for (size_t k = 0; k < np; k++) a->plane[k] = out[k] = a->heap + k * per_plane;
    fc_run(sp, m, a->offset, out, a->plane, sums, threads);
    return a;
}

fcache_arrays *fcache_lookup(const fcache_spec *sp, const tb_market *m, const tb_data_id *id, int threads,
                             fcache_status *st)
{
    fcache_status local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (!fcache_usable(id)) return NULL;
    fc_req r;
    memset(&r, 0, sizeof r);
    r.sp = sp;
    r.m = m;
    r.id = id;
    r.dir = fc_dir();
    if (sp->planes < 1 || sp->planes > FCACHE_MAX_PLANES || sp->width < 1 || sp->width > FC_MAX_WIDTH ||
        m->n_bars > id->n_bars || fc_layout_of(m->n_symbols, id->n_bars, sp->planes, sp->width, &r.l)) {
        fc_reason(st, "not cacheable (shape)");
        return NULL;
    }
    if (snprintf(r.path, sizeof r.path, "%s/fact-%016llx.tbf", r.dir, (unsigned long long)fc_key_hash(&r)) >=
        (int)sizeof r.path) {
        fc_reason(st, "cache path too long");
        return NULL;
    }
    snprintf(st->path, sizeof st->path, "%s", r.path);
    fcache_arrays *a = xcalloc(1, sizeof *a);
    st->outcome = fc_lookup(&r, threads, a, st);
    if (st->outcome == FCACHE_HIT) return a;
    free(a);
    if (m->n_bars != id->n_bars) { /* a cut market: the whole load's arrays are not here to store */
        if (!st->reason[0]) fc_reason(st, "a cut market: computed by the caller, not stored");
        return NULL;
    }
    uint64_t *sums = xmalloc(xmul(m->n_symbols ? m->n_symbols : 1, sizeof *sums));
    a = fc_compute(sp, m, threads, sums);
    char why[sizeof st->reason];
    snprintf(why, sizeof why, "%s", st->reason); /* keep the miss's reason unless the store fails */
    st->reason[0] = '\0';
    fc_store(&r, a->plane, sums, st);
    if (!st->reason[0]) snprintf(st->reason, sizeof st->reason, "%s", why);
    free(sums);
    return a;
}

fcache_arrays *fcache_get(const fcache_spec *sp, const tb_market *m, const tb_data_id *id, int threads,
                          fcache_status *st)
{
    fcache_arrays *a = fcache_lookup(sp, m, id, threads, st);
    return a ? a : fc_compute(sp, m, threads, NULL);
}

const double *fcache_series(const fcache_arrays *a, size_t k, size_t i)
{
    return k < a->planes ? a->plane[k] + a->offset[i] * a->width : NULL;
}

void fcache_release(fcache_arrays *a)
{
    if (!a) return;
    if (a->map) munmap(a->map, a->map_len);
    free(a->heap);
    free(a->offset);
    free(a);
}

/* ---- the specs ---------------------------------------------------------------------------- */

static void fc_fill_cost_stats(const fcache_spec *sp, const tb_market *m, size_t i, double *const *out,
                               double *scratch)
{
    (void)sp;
    size_t o = m->offset[i];
    costs_table_fill(m->high + o, m->low + o, m->close + o, m->volume + o, market_len(m, i), 0,
                     (tb_cost_stats *)(void *)out[0], scratch);
}

fcache_spec fcache_spec_cost_stats(void)
{
    return (fcache_spec){"cost_stats", FCACHE_KIND_COST_STATS, 20, 0, 1, 1, 3, 3, fc_fill_cost_stats};
}

static void fc_fill_indicator(const fcache_spec *sp, const tb_market *m, size_t i, double *const *out,
                              double *scratch)
{
    (void)scratch;
    size_t o = m->offset[i];
    ind_compute((ind_key){sp->a, sp->b}, m->high + o, m->low + o, m->close + o, market_len(m, i), out[0]);
}

fcache_spec fcache_spec_indicator(ind_key k)
{
    static const char *const names[] = {"indicator", "ema", "sma", "atr"};
    return (fcache_spec){names[k.kind >= 1 && k.kind <= 3 ? k.kind : 0], FCACHE_KIND_INDICATOR, k.kind, k.n, 1, 1, 1,
                         0, fc_fill_indicator};
}

fcache_arrays *fcache_cost_table(const tb_market *m, const tb_data_id *id, int threads, tb_cost_table *tab,
                                 const size_t **offset, fcache_status *st)
{
    fcache_spec sp = fcache_spec_cost_stats();
    fcache_arrays *a = fcache_lookup(&sp, m, id, threads, st);
    if (!a) return NULL;
    /* the plane may be read-only memory; the table is only read (simulate.h) */
    tab->at = (tb_cost_stats *)(uintptr_t)(const void *)a->plane[0];
    *offset = memcmp(a->offset, m->offset, (m->n_symbols + 1) * sizeof *a->offset) ? a->offset : NULL;
    return a;
}
