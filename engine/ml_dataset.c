/* ml_dataset.c — events, features, triple-barrier labels, and the dataset
 * CSV format (see ml_dataset.h). Building walks each symbol's bars once,
 * appends rows to growable columns (amortised doubling, nothing allocated per
 * row), then orders rows by (ts, symbol name) with one key sort and one
 * gather per column. The reader parses a whole file in one buffer without
 * sscanf and interns symbols in a small open-addressing table. */
#include "ml_dataset.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "numfmt.h"
#include "timeutil.h"
#include "xalloc.h"

const char *const ml_feature_names[ML_N_FEATURES] = {
    "ret_1", "ret_5", "ret_20", "sma20_ratio", "sma50_ratio", "ema_spread", "atr14_pct", "rsi14", "vol20", "volume_ratio",
};

const char ml_dataset_header[] = "ts,symbol,ret_1,ret_5,ret_20,sma20_ratio,sma50_ratio,ema_spread,atr14_pct,rsi14,"
                                 "vol20,volume_ratio,label,t1,ret";

void ml_label_defaults(ml_label_params *lp)
{
    lp->pt = 2.0;
    lp->sl = 1.0;
    lp->h = 20;
}

int ml_label_validate(const ml_label_params *lp, tb_error *err)
{
    if (!(lp->pt > 0 && lp->pt <= 1000))
        return tb_fail_field(err, TB_EINVAL, "pt", "parameter pt must be in (0, 1000], got %g", lp->pt);
    if (!(lp->sl > 0 && lp->sl <= 1000))
        return tb_fail_field(err, TB_EINVAL, "sl", "parameter sl must be in (0, 1000], got %g", lp->sl);
    if (lp->h < 1 || lp->h > 100000)
        return tb_fail_field(err, TB_EINVAL, "h", "parameter h must be a whole number in [1, 100000], got %d", lp->h);
    return 0;
}

/* ------------------------------------------------------------ storage */

static void ds_reserve(ml_dataset *d, size_t need)
{
    if (need <= d->cap) return;
    size_t cap = d->cap ? d->cap : 256;
    while (cap < need) cap = xmul(cap, 2);
    d->ts = xrealloc(d->ts, xmul(cap, sizeof *d->ts));
    d->sym = xrealloc(d->sym, xmul(cap, sizeof *d->sym));
    for (size_t k = 0; k < ML_N_FEATURES; k++) d->x[k] = xrealloc(d->x[k], xmul(cap, sizeof(double)));
    d->label = xrealloc(d->label, cap);
    d->t1 = xrealloc(d->t1, xmul(cap, sizeof *d->t1));
    d->ret = xrealloc(d->ret, xmul(cap, sizeof *d->ret));
    d->cap = cap;
}

void ml_dataset_free(ml_dataset *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_symbols; i++) free(d->symbols[i]);
    free(d->symbols);
    free(d->ts);
    free(d->sym);
    for (size_t k = 0; k < ML_N_FEATURES; k++) free(d->x[k]);
    free(d->label);
    free(d->t1);
    free(d->ret);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ build */

int ml_features_at(const fs_store *fs, size_t i, size_t t, double *out)
{
    const tb_market *m = fs_market(fs);
    const double c = m->close[m->offset[i] + t], v = m->volume[m->offset[i] + t];
    out[0] = fs_series(fs, FS_LOGRET1, i)[t];
    out[1] = fs_series(fs, FS_LOGRET5, i)[t];
    out[2] = fs_series(fs, FS_LOGRET20, i)[t];
    out[3] = c / fs_series(fs, FS_SMA20, i)[t] - 1.0;
    out[4] = c / fs_series(fs, FS_SMA50, i)[t] - 1.0;
    out[5] = fs_series(fs, FS_EMA20, i)[t] / fs_series(fs, FS_EMA50, i)[t] - 1.0;
    out[6] = fs_series(fs, FS_ATR14, i)[t] / c;
    out[7] = fs_series(fs, FS_RSI14, i)[t];
    out[8] = fs_series(fs, FS_VOL20, i)[t];
    out[9] = v / fs_series(fs, FS_ADV20, i)[t];
    for (size_t k = 0; k < ML_N_FEATURES; k++)
        if (!isfinite(out[k])) return 0;
    return 1;
}

/* Triple barrier for an event at bar t of series s (t + h < s->n checked by
 * the caller). Writes the label, the decision bar and the return. */
static void triple_barrier(const tb_series *s, size_t t, double a, const ml_label_params *lp, uint8_t *label,
                           size_t *t1, double *ret)
{
    const double p0 = s->open[t + 1];
    const double upper = p0 + lp->pt * a, lower = p0 - lp->sl * a;
    const size_t last = t + (size_t)lp->h;
    for (size_t u = t + 1; u <= last; u++) {
        int up = s->high[u] >= upper, down = s->low[u] <= lower;
        if (up || down) {
            /* both in one bar: the order inside the bar is unknown, assume the stop came first */
            *label = down ? 0 : 1;
            *t1 = u;
            *ret = (down ? lower : upper) / p0 - 1.0;
            return;
        }
    }
    *label = s->close[last] > p0;
    *t1 = last;
    *ret = s->close[last] / p0 - 1.0;
}

typedef struct row_key {
    int64_t ts;     /* signal bar time */
    uint32_t rank;  /* symbol's rank in byte order */
    uint32_t row;   /* row before sorting */
} row_key;

static int key_cmp(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    return (a->rank > b->rank) - (a->rank < b->rank);
}

typedef struct name_idx {
    const char *name;  /* borrowed symbol name */
    uint32_t idx;      /* its index in the market */
} name_idx;

static int name_idx_cmp(const void *pa, const void *pb)
{
    return strcmp(((const name_idx *)pa)->name, ((const name_idx *)pb)->name);
}

/* Reorder every column by keys[r].row. */
static void ds_permute(ml_dataset *d, const row_key *keys)
{
    size_t n = d->n;
    if (n == 0) return;
    double *tmp = xmalloc(xmul(n, sizeof(double)));
    int64_t *tmp64 = xmalloc(xmul(n, sizeof(int64_t)));
    uint32_t *tmp32 = xmalloc(xmul(n, sizeof(uint32_t)));
    uint8_t *tmp8 = xmalloc(n);
    for (size_t k = 0; k < ML_N_FEATURES; k++) {
        for (size_t r = 0; r < n; r++) tmp[r] = d->x[k][keys[r].row];
        memcpy(d->x[k], tmp, n * sizeof(double));
    }
    for (size_t r = 0; r < n; r++) tmp[r] = d->ret[keys[r].row];
    memcpy(d->ret, tmp, n * sizeof(double));
    for (size_t r = 0; r < n; r++) tmp64[r] = d->ts[keys[r].row];
    memcpy(d->ts, tmp64, n * sizeof(int64_t));
    for (size_t r = 0; r < n; r++) tmp64[r] = d->t1[keys[r].row];
    memcpy(d->t1, tmp64, n * sizeof(int64_t));
    for (size_t r = 0; r < n; r++) tmp32[r] = d->sym[keys[r].row];
    memcpy(d->sym, tmp32, n * sizeof(uint32_t));
    for (size_t r = 0; r < n; r++) tmp8[r] = d->label[keys[r].row];
    memcpy(d->label, tmp8, n);
    free(tmp);
    free(tmp64);
    free(tmp32);
    free(tmp8);
}

int ml_dataset_build(const fs_store *fs, const uint8_t *sig, int64_t lo, int64_t hi, const ml_label_params *lp,
                     ml_dataset *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    if (ml_label_validate(lp, err)) return -1;
    const tb_market *m = fs_market(fs);
    if (m->n_symbols > UINT32_MAX) return tb_fail(err, TB_EINVAL, "too many symbols for a dataset");
    out->freq = m->freq;
    out->n_symbols = m->n_symbols;
    out->symbols = xmalloc(xmul(m->n_symbols ? m->n_symbols : 1, sizeof *out->symbols));
    for (size_t i = 0; i < m->n_symbols; i++) out->symbols[i] = xstrdup(m->symbols[i]);

    double f[ML_N_FEATURES];
    for (size_t i = 0; i < m->n_symbols; i++) {
        const tb_series s = market_series(m, i);
        const uint8_t *sg = sig + m->offset[i];
        const double *atr = fs_series(fs, FS_ATR14, i);
        for (size_t t = 0; t < s.n; t++) {
            if (!sg[t] || (t > 0 && sg[t - 1])) continue;
            if (s.ts[t] < lo || s.ts[t] > hi) continue;
            out->stats.n_entries++;
            if (t + 1 >= s.n) {
                out->stats.n_last_bar++;
                continue;
            }
            if (!ml_features_at(fs, i, t, f)) {
                out->stats.n_undefined++;
                continue;
            }
            const double a = atr[t];
            if (a == 0) {
                out->stats.n_zero_atr++;
                continue;
            }
            if (t + (size_t)lp->h >= s.n) {
                out->stats.n_past_data++;
                continue;
            }
            ds_reserve(out, out->n + 1);
            size_t r = out->n++, t1;
            out->ts[r] = s.ts[t];
            out->sym[r] = (uint32_t)i;
            for (size_t k = 0; k < ML_N_FEATURES; k++) out->x[k][r] = f[k];
            triple_barrier(&s, t, a, lp, &out->label[r], &t1, &out->ret[r]);
            out->t1[r] = s.ts[t1];
        }
    }

    if (out->n > UINT32_MAX) {
        ml_dataset_free(out);
        return tb_fail(err, TB_EINVAL, "more than %u dataset rows", UINT32_MAX);
    }
    /* order rows by (ts, symbol name) */
    name_idx *order = xmalloc(xmul(m->n_symbols ? m->n_symbols : 1, sizeof *order));
    uint32_t *rank = xmalloc(xmul(m->n_symbols ? m->n_symbols : 1, sizeof *rank));
    for (size_t i = 0; i < m->n_symbols; i++) order[i] = (name_idx){out->symbols[i], (uint32_t)i};
    qsort(order, m->n_symbols, sizeof *order, name_idx_cmp);
    for (size_t i = 0; i < m->n_symbols; i++) rank[order[i].idx] = (uint32_t)i;
    row_key *keys = xmalloc(xmul(out->n ? out->n : 1, sizeof *keys));
    for (size_t r = 0; r < out->n; r++) keys[r] = (row_key){out->ts[r], rank[out->sym[r]], (uint32_t)r};
    qsort(keys, out->n, sizeof *keys, key_cmp);
    ds_permute(out, keys);
    free(keys);
    free(order);
    free(rank);
    return 0;
}

/* ------------------------------------------------------------ pipeline */

void ml_inputs_free(ml_inputs *in)
{
    if (!in) return;
    fs_free(in->fs);
    free(in->sig);
    market_free(in->market);
    universe_free(&in->universe);
    memset(in, 0, sizeof *in);
}

int ml_inputs_load(const tb_backtest_config *c, const tb_hooks *hooks, tb_stage_list *stages, ml_inputs *out,
                   tb_error *err)
{
    tb_stage_list dummy = {0};
    if (!stages) stages = &dummy;
    memset(out, 0, sizeof *out);
    if (c->start > c->end) return tb_fail_field(err, TB_EINVAL, "start", "start is after end");
    if (strategy_params_validate(&c->strategy, err)) return -1;

    double t0 = stage_now();
    hooks_progress(hooks, "load_data", 0.0);
    if (backtest_select_universe(c, &out->universe, err)) goto fail;
    if (source_load_id(&c->source, &out->universe, &out->market, &out->id, err)) goto fail;
    if (c->end != INT64_MAX) market_truncate_after(out->market, c->end);
    stage_record(stages, hooks, "load_data", t0);
    if (hooks_cancelled(hooks)) goto cancelled;

    t0 = stage_now();
    hooks_progress(hooks, "signals", 0.2);
    out->sig = xmalloc(out->market->n_bars ? out->market->n_bars : 1);
    strategy_signals(&c->strategy, out->market, out->sig);
    stage_record(stages, hooks, "signals", t0);
    if (hooks_cancelled(hooks)) goto cancelled;

    t0 = stage_now();
    hooks_progress(hooks, "factors", 0.3);
    /* mapped from the factor cache when an earlier run stored this load's factors */
    out->fs = fs_build_cached(out->market, &out->id, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1, NULL);
    tb_panel p;
    if (panel_build(out->market, c->start, c->end, c->last_bars, &p, err)) goto fail;
    out->lo = p.ts[0];
    out->hi = p.ts[p.T - 1];
    panel_free(&p);
    stage_record(stages, hooks, "factors", t0);
    if (hooks_cancelled(hooks)) goto cancelled;
    return 0;
cancelled:
    tb_fail(err, TB_ECANCEL, "cancelled");
fail:
    ml_inputs_free(out);
    return -1;
}

/* ------------------------------------------------------------ CSV writer */

int ml_dataset_write_csv(FILE *f, const ml_dataset *d)
{
    const int date_only = d->freq == TB_FREQ_1D;
    char line[1024];
    fputs(ml_dataset_header, f);
    fputc('\n', f);
    for (size_t r = 0; r < d->n; r++) {
        char *p = line;
        p += tu_format(d->ts[r], date_only, p);
        *p++ = ',';
        size_t sl = strlen(d->symbols[d->sym[r]]);
        if (sl > 64) sl = 64;
        memcpy(p, d->symbols[d->sym[r]], sl);
        p += sl;
        for (size_t k = 0; k < ML_N_FEATURES; k++) {
            *p++ = ',';
            p += nf_double(p, d->x[k][r]);
        }
        *p++ = ',';
        *p++ = d->label[r] ? '1' : '0';
        *p++ = ',';
        p += tu_format(d->t1[r], date_only, p);
        *p++ = ',';
        p += nf_double(p, d->ret[r]);
        *p++ = '\n';
        fwrite(line, 1, (size_t)(p - line), f);
    }
    return ferror(f) ? -1 : 0;
}

int ml_dataset_save(const char *path, const ml_dataset *d, tb_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return tb_fail_field(err, TB_EIO, "out", "cannot write %s: %s", path, strerror(errno));
    int rc = ml_dataset_write_csv(f, d);
    if (fclose(f) || rc) return tb_fail_field(err, TB_EIO, "out", "write error on %s", path);
    return 0;
}

/* ------------------------------------------------------------ CSV reader */

/* Symbol interning: open addressing over indices into d->symbols. */
typedef struct sym_table {
    uint32_t *slot;  /* cap entries, UINT32_MAX = empty */
    size_t cap;      /* power of two */
} sym_table;

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void st_insert_slot(sym_table *st, const char *name, uint32_t idx)
{
    size_t mask = st->cap - 1, j = name_hash(name, strlen(name)) & mask;
    while (st->slot[j] != UINT32_MAX) j = (j + 1) & mask;
    st->slot[j] = idx;
}

static uint32_t st_intern(sym_table *st, ml_dataset *d, const char *s, size_t n)
{
    if (st->cap == 0 || 2 * (d->n_symbols + 1) > st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        free(st->slot);
        st->slot = xmalloc(xmul(cap, sizeof *st->slot));
        memset(st->slot, 0xff, cap * sizeof *st->slot);
        st->cap = cap;
        for (size_t i = 0; i < d->n_symbols; i++) st_insert_slot(st, d->symbols[i], (uint32_t)i);
    }
    size_t mask = st->cap - 1, j = name_hash(s, n) & mask;
    while (st->slot[j] != UINT32_MAX) {
        const char *name = d->symbols[st->slot[j]];
        if (strlen(name) == n && !memcmp(name, s, n)) return st->slot[j];
        j = (j + 1) & mask;
    }
    uint32_t idx = (uint32_t)d->n_symbols;
    if ((d->n_symbols & (d->n_symbols - 1)) == 0) /* grow at powers of two */
        d->symbols = xrealloc(d->symbols, xmul(d->n_symbols ? 2 * d->n_symbols : 1, sizeof *d->symbols));
    char *copy = xmalloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = 0;
    d->symbols[d->n_symbols++] = copy;
    st->slot[j] = idx;
    return idx;
}

int ml_dataset_parse(const char *path, const char *buf, size_t len, ml_dataset *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    sym_table st = {NULL, 0};
    const char *p = buf, *end = buf + len;
    size_t line = 0;
    int date_only = -1;
    int64_t prev_ts = INT64_MIN;
    const char *prev_sym = NULL;
    size_t prev_sym_len = 0;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!eol) eol = end;
        const char *le = eol;
        if (le > p && le[-1] == '\r') le--;
        line++;
        if (line == 1) {
            size_t hl = sizeof ml_dataset_header - 1;
            if ((size_t)(le - p) != hl || memcmp(p, ml_dataset_header, hl)) {
                tb_fail_field(err, TB_EINVAL, "dataset", "%s:1: header must be exactly '%s'", path, ml_dataset_header);
                goto fail;
            }
            p = next;
            continue;
        }
        if (le == p) {
            if (next == end) break; /* empty last line */
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: empty line", path, line);
            goto fail;
        }
        /* split into 15 fields */
        const char *fs[15];
        size_t fl[15], nf = 0;
        const char *q = p;
        for (;;) {
            const char *c = memchr(q, ',', (size_t)(le - q));
            const char *fe = c ? c : le;
            if (nf < 15) {
                fs[nf] = q;
                fl[nf] = (size_t)(fe - q);
            }
            nf++;
            if (!c) break;
            q = c + 1;
        }
        if (nf != 15) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: expected 15 fields, found %zu", path, line, nf);
            goto fail;
        }
        int64_t ts, t1;
        if ((fl[0] != 10 && fl[0] != 20) || tu_parse(fs[0], fl[0], &ts)) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: ts '%.*s' is not a timestamp", path, line, (int)fl[0],
                          fs[0]);
            goto fail;
        }
        if (date_only < 0) date_only = fl[0] == 10;
        if ((fl[0] == 10) != date_only || fl[13] != fl[0] || tu_parse(fs[13], fl[13], &t1)) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: ts/t1 must all be %s", path, line,
                          date_only ? "dates (YYYY-MM-DD)" : "timestamps (YYYY-MM-DDTHH:MM:SSZ)");
            goto fail;
        }
        if (t1 <= ts) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: t1 must be after ts", path, line);
            goto fail;
        }
        char name[40];
        if (fl[1] == 0 || fl[1] > 32) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: bad symbol '%.*s'", path, line, (int)(fl[1] > 32 ? 32 : fl[1]),
                          fs[1]);
            goto fail;
        }
        memcpy(name, fs[1], fl[1]);
        name[fl[1]] = 0;
        if (!universe_valid_name(name)) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: bad symbol '%s'", path, line, name);
            goto fail;
        }
        if (prev_sym) {
            int c = ts < prev_ts ? -1 : ts > prev_ts ? 1 : 0;
            if (c == 0) {
                size_t ml = fl[1] < prev_sym_len ? fl[1] : prev_sym_len;
                c = memcmp(fs[1], prev_sym, ml);
                if (c == 0) c = fl[1] < prev_sym_len ? -1 : fl[1] > prev_sym_len ? 1 : 0;
            }
            if (c <= 0) {
                tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: rows must be ordered by ts, then symbol, without duplicates",
                              path, line);
                goto fail;
            }
        }
        ds_reserve(out, out->n + 1);
        size_t r = out->n;
        for (size_t k = 0; k < ML_N_FEATURES; k++) {
            double v = NAN;
            if (fl[2 + k] && nf_parse(fs[2 + k], fl[2 + k], &v)) {
                tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: %s '%.*s' is not a finite number", path, line,
                              ml_feature_names[k], (int)(fl[2 + k] > 40 ? 40 : fl[2 + k]), fs[2 + k]);
                goto fail;
            }
            out->x[k][r] = v;
        }
        if (fl[12] != 1 || (fs[12][0] != '0' && fs[12][0] != '1')) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: label must be 0 or 1", path, line);
            goto fail;
        }
        double ret;
        if (!fl[14] || nf_parse(fs[14], fl[14], &ret)) {
            tb_fail_field(err, TB_EINVAL, "dataset", "%s:%zu: ret '%.*s' is not a finite number", path, line,
                          (int)(fl[14] > 40 ? 40 : fl[14]), fs[14]);
            goto fail;
        }
        out->ts[r] = ts;
        out->t1[r] = t1;
        out->label[r] = fs[12][0] == '1';
        out->ret[r] = ret;
        out->sym[r] = st_intern(&st, out, fs[1], fl[1]);
        out->n++;
        prev_ts = ts;
        prev_sym = fs[1];
        prev_sym_len = fl[1];
        p = next;
    }
    if (line == 0) {
        tb_fail_field(err, TB_EINVAL, "dataset", "%s:1: empty file (expected the header '%s')", path, ml_dataset_header);
        goto fail;
    }
    if (out->n == 0) {
        tb_fail_field(err, TB_EINVAL, "dataset", "%s:2: the dataset has no rows", path);
        goto fail;
    }
    out->freq = date_only ? TB_FREQ_1D : TB_FREQ_1H;
    free(st.slot);
    return 0;
fail:
    free(st.slot);
    ml_dataset_free(out);
    return -1;
}

int ml_dataset_load(const char *path, ml_dataset *out, tb_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return tb_fail_field(err, errno == ENOENT ? TB_EINVAL : TB_EIO, "dataset", "cannot open %s: %s", path,
                                 strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) buf = xrealloc(buf, cap = xmul(cap, 2));
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) rc = tb_fail_field(err, TB_EIO, "dataset", "read error on %s", path);
    else rc = ml_dataset_parse(path, buf, len, out, err);
    free(buf);
    return rc;
}
