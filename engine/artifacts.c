/* artifacts.c — CSV / JSON / markdown renderers for backtests (see artifacts.h). */
#include "artifacts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "meta_filter.h"
#include "numfmt.h"
#include "timeutil.h"
#include "xalloc.h"

static void put_num(FILE *f, double x)
{
    char b[40];
    nf_double(b, x);
    fputs(b, f);
}

static void put_ts(FILE *f, const tb_backtest *bt, int64_t ts)
{
    char b[24];
    tu_format(ts, bt->market->freq == TB_FREQ_1D, b);
    fputs(b, f);
}

/* The orders and equity writers compose each line in a buffer and write it
 * with one fwrite (a stdio call per field and separator, each taking the
 * FILE's lock, cost as much as formatting the numbers). A line holds a
 * timestamp (< 24), a symbol (a file name: < 256), a side and at most six
 * numbers (< 33 each) with their separators. */
#define ART_LINE_MAX 640

static char *ln_num(char *p, double x) { return p + nf_double(p, x); }

static char *ln_ts(char *p, const tb_backtest *bt, int64_t ts)
{
    tu_format(ts, bt->market->freq == TB_FREQ_1D, p); /* at most 20 characters and the NUL */
    return p + strlen(p);
}

static char *ln_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Sorting without globals: sort small key structs, not indices. */
typedef struct name_key {
    const char *name;
    size_t i;
} name_key;

static int cmp_name_key(const void *a, const void *b)
{
    return strcmp(((const name_key *)a)->name, ((const name_key *)b)->name);
}

/* Symbol indices in ascending name order (new array, caller frees). */
static size_t *art_symbols_by_name(const tb_market *m)
{
    size_t N = m->n_symbols;
    name_key *k = xmalloc(xmul(N ? N : 1, sizeof *k));
    for (size_t i = 0; i < N; i++) k[i] = (name_key){m->symbols[i], i};
    qsort(k, N, sizeof *k, cmp_name_key);
    size_t *out = xmalloc(xmul(N ? N : 1, sizeof *out));
    for (size_t j = 0; j < N; j++) out[j] = k[j].i;
    free(k);
    return out;
}

typedef struct order_key {
    uint32_t t;
    uint32_t buy;  /* 0 sell, 1 buy: sells first */
    size_t rank;   /* symbol's position by name */
    size_t k;      /* order index */
} order_key;

static int cmp_order_key(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->buy != y->buy) return x->buy < y->buy ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

size_t *art_order_perm(const tb_backtest *bt)
{
    const tb_orders *o = &bt->sim.orders;
    size_t N = bt->market->n_symbols;
    size_t *by_name = art_symbols_by_name(bt->market), *rank = xmalloc(xmul(N ? N : 1, sizeof *rank));
    for (size_t r = 0; r < N; r++) rank[by_name[r]] = r;
    order_key *keys = xmalloc(xmul(o->n ? o->n : 1, sizeof *keys));
    for (size_t k = 0; k < o->n; k++) keys[k] = (order_key){o->t[k], !o->sell[k], rank[o->sym[k]], k};
    qsort(keys, o->n, sizeof *keys, cmp_order_key);
    size_t *perm = xmalloc(xmul(o->n ? o->n : 1, sizeof *perm));
    for (size_t k = 0; k < o->n; k++) perm[k] = keys[k].k;
    free(keys);
    free(by_name);
    free(rank);
    return perm;
}

int art_write_orders(FILE *f, const tb_backtest *bt)
{
    const tb_orders *o = &bt->sim.orders;
    size_t *perm = art_order_perm(bt);
    fputs("ts,symbol,side,quantity,price,notional,cost\n", f);
    char line[ART_LINE_MAX];
    for (size_t j = 0; j < o->n; j++) {
        size_t k = perm[j];
        const char *sym = bt->market->symbols[o->sym[k]];
        size_t sym_len = strlen(sym);
        if (sym_len > 256) { /* not a file name: no line buffer for it */
            put_ts(f, bt, bt->panel.ts[o->t[k]]);
            fprintf(f, ",%s,", sym);
            sym_len = 0;
        }
        char *p = line;
        if (sym_len) {
            p = ln_ts(p, bt, bt->panel.ts[o->t[k]]);
            *p++ = ',';
            p = ln_str(p, sym, sym_len);
            *p++ = ',';
        }
        p = o->sell[k] ? ln_str(p, "SELL,", 5) : ln_str(p, "BUY,", 4);
        p = ln_num(p, o->qty[k]);
        *p++ = ',';
        p = ln_num(p, o->price[k]);
        *p++ = ',';
        p = ln_num(p, o->qty[k] * o->price[k]);
        *p++ = ',';
        p = ln_num(p, o->cost[k]);
        *p++ = '\n';
        fwrite(line, 1, (size_t)(p - line), f);
    }
    free(perm);
    return ferror(f) ? -1 : 0;
}

int art_write_equity(FILE *f, const tb_backtest *bt)
{
    const tb_sim_result *r = &bt->sim;
    fputs("ts,equity,cash,exposure,drawdown,return\n", f);
    double peak = r->T ? r->equity[0] : 0;
    for (size_t t = 0; t < r->T; t++) {
        double e = r->equity[t];
        if (e > peak) peak = e;
        char line[ART_LINE_MAX], *p = line;
        p = ln_ts(p, bt, bt->panel.ts[t]);
        *p++ = ',';
        p = ln_num(p, e);
        *p++ = ',';
        p = ln_num(p, r->cash[t]);
        *p++ = ',';
        p = ln_num(p, r->gross[t] / e);
        *p++ = ',';
        p = ln_num(p, 1 - e / peak);
        *p++ = ',';
        if (t) p = ln_num(p, e / r->equity[t - 1] - 1);
        *p++ = '\n';
        fwrite(line, 1, (size_t)(p - line), f);
    }
    return ferror(f) ? -1 : 0;
}

int art_write_targets(FILE *f, const tb_backtest *bt, const tb_backtest_config *c)
{
    const tb_panel *p = &bt->panel;
    const tb_market *m = bt->market;
    size_t T = p->T, N = p->N, n_long = 0;
    for (size_t i = 0; i < N; i++) n_long += sim_signal_at(m, bt->sig, p, T - 1, i);
    double wt = 0;
    if (n_long) {
        wt = 1.0 / (double)n_long;
        if (wt > c->sim.max_weight) wt = c->sim.max_weight;
    }
    size_t *order = art_symbols_by_name(m);
    fputs("symbol,signal,target_weight,last_close\n", f);
    for (size_t j = 0; j < N; j++) {
        size_t i = order[j];
        int s = sim_signal_at(m, bt->sig, p, T - 1, i);
        int32_t b = panel_last(p, T - 1, i);
        fprintf(f, "%s,%d,", m->symbols[i], s);
        put_num(f, s ? wt : 0.0);
        fputc(',', f);
        if (b >= 0) put_num(f, m->close[m->offset[i] + (size_t)b]);
        fputc('\n', f);
    }
    free(order);
    return ferror(f) ? -1 : 0;
}

int art_write_metrics_json(FILE *f, const tb_backtest *bt)
{
    json_t *o = metrics_to_json(&bt->metrics);
    int rc = json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fputc('\n', f);
    json_decref(o);
    return rc || ferror(f) ? -1 : 0;
}

/* ---- the markdown report ---------------------------------------------------------- */

static void md_metric_row(FILE *f, const char *name, double v)
{
    if (isnan(v)) fprintf(f, "| %s | n/a |\n", name);
    else fprintf(f, "| %s | %.6g |\n", name, v);
}

static int year_of(int64_t ts)
{
    int y;
    unsigned m, d;
    tu_civil_from_days(ts / TU_DAY, &y, &m, &d);
    return y;
}

static int month_of(int64_t ts)
{
    int y;
    unsigned m, d;
    tu_civil_from_days(ts / TU_DAY, &y, &m, &d);
    return (int)m;
}

/* Period returns by calendar month: each month's last equity over the previous
 * month's last equity (the first month starts from E_0). */
static void md_returns_tables(FILE *f, const tb_backtest *bt)
{
    const tb_sim_result *r = &bt->sim;
    const int64_t *ts = bt->panel.ts;
    if (r->T < 2) return;
    int y0 = year_of(ts[0]), y1 = year_of(ts[r->T - 1]);
    int ny = y1 - y0 + 1;
    double *mret = xmalloc(xmul((size_t)ny * 12, sizeof(double)));
    double *yret = xmalloc(xmul((size_t)ny, sizeof(double)));
    for (int k = 0; k < ny * 12; k++) mret[k] = NAN;
    for (int k = 0; k < ny; k++) yret[k] = NAN;
    double base_m = r->equity[0], base_y = r->equity[0];
    for (size_t t = 0; t < r->T; t++) {
        int last = t + 1 == r->T;
        int y = year_of(ts[t]), mo = month_of(ts[t]);
        if (last || month_of(ts[t + 1]) != mo || year_of(ts[t + 1]) != y) {
            mret[(y - y0) * 12 + mo - 1] = r->equity[t] / base_m - 1;
            base_m = r->equity[t];
        }
        if (last || year_of(ts[t + 1]) != y) {
            yret[y - y0] = r->equity[t] / base_y - 1;
            base_y = r->equity[t];
        }
    }
    fputs("\n## Yearly and monthly returns (%)\n\n| year | Jan | Feb | Mar | Apr | May | Jun | Jul | Aug | Sep | Oct | "
          "Nov | Dec | year |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
          f);
    for (int k = 0; k < ny; k++) {
        fprintf(f, "| %d |", y0 + k);
        for (int mo = 0; mo < 12; mo++) {
            double v = mret[k * 12 + mo];
            if (isnan(v)) fputs("  |", f);
            else fprintf(f, " %.2f |", 100 * v);
        }
        if (isnan(yret[k])) fputs("  |\n", f);
        else fprintf(f, " **%.2f** |\n", 100 * yret[k]);
    }
    free(mret);
    free(yret);
}

typedef struct pnl_key {
    double pnl;
    size_t i;
} pnl_key;

static int cmp_pnl_desc(const void *a, const void *b)
{
    double x = ((const pnl_key *)a)->pnl, y = ((const pnl_key *)b)->pnl;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void md_contributors(FILE *f, const tb_backtest *bt)
{
    size_t N = bt->sim.N;
    if (!N) return;
    pnl_key *idx = xmalloc(xmul(N, sizeof *idx));
    for (size_t i = 0; i < N; i++) idx[i] = (pnl_key){bt->sim.pnl[i], i};
    qsort(idx, N, sizeof *idx, cmp_pnl_desc);
    size_t k = N < 10 ? N : 10;
    fputs("\n## Top contributors by P&L\n\n| rank | symbol | P&L |\n|---|---|---|\n", f);
    for (size_t j = 0; j < k; j++)
        fprintf(f, "| %zu | %s | %.2f |\n", j + 1, bt->market->symbols[idx[j].i], idx[j].pnl);
    fputs("\n## Bottom contributors by P&L\n\n| rank | symbol | P&L |\n|---|---|---|\n", f);
    for (size_t j = 0; j < k; j++) {
        const pnl_key *pk = &idx[N - 1 - j];
        fprintf(f, "| %zu | %s | %.2f |\n", j + 1, bt->market->symbols[pk->i], pk->pnl);
    }
    free(idx);
}

int art_write_report(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *info)
{
    const char *fr = tb_freq_name(bt->market->freq);
    char a[24], b[24];
    tu_format(bt->panel.ts[0], bt->market->freq == TB_FREQ_1D, a);
    tu_format(bt->panel.ts[bt->panel.T - 1], bt->market->freq == TB_FREQ_1D, b);
    fprintf(f, "# Performance report — %s\n\n", info && info->job ? info->job : "backtest");
    fprintf(f, "| | |\n|---|---|\n| run id | %s |\n| job | %s |\n", info && info->run_id ? info->run_id : "-",
            info && info->job ? info->job : "backtest");
    fprintf(f, "| strategy | `%s` |\n| parameters |", c->strategy.def->name);
    for (size_t k = 0; k < c->strategy.def->n_params; k++)
        fprintf(f, " %s=%g", c->strategy.def->params[k].name, c->strategy.v[k]);
    if (!c->strategy.def->n_params) fputs(" (none)", f);
    fputs(" |\n", f);
    if (source_is_synthetic(&c->source))
        fprintf(f, "| data source | synthetic (seed %llu, %zu symbols x %zu bars) |\n",
                (unsigned long long)c->source.seed, c->source.synth_symbols, c->source.synth_bars);
    else fprintf(f, "| data source | CSV directory `%s` |\n", c->source.data);
    fprintf(f, "| frequency | %s |\n| symbols | %zu |\n| range | %s … %s (%zu bars) |\n", fr, bt->market->n_symbols, a,
            b, bt->panel.T);
    fprintf(f, "| start capital | %.2f |\n| max weight | %g |\n| rebalance band | %g |\n", c->sim.start_capital,
            c->sim.max_weight, c->sim.rebalance_band);
    fprintf(f, "| costs | commission %g bps, spread_w %g, impact_w %g |\n", c->sim.costs.commission_bps,
            c->sim.costs.spread_w, c->sim.costs.impact_w);
    fprintf(f, "| final equity | %.2f |\n", bt->sim.T ? bt->sim.equity[bt->sim.T - 1] : NAN);

    fputs("\n## Metrics\n\n| metric | value |\n|---|---|\n", f);
    for (size_t k = 0; k < 15; k++) md_metric_row(f, metrics_names[k], metrics_get(&bt->metrics, k));
    if (meta_filter_write_report(f, bt, c)) return -1;
    md_returns_tables(f, bt);
    md_contributors(f, bt);

    fputs("\n## Profile\n\n", f);
    if (info) {
        fprintf(f, "| | |\n|---|---|\n| runtime | %.3f s |\n| CPU time | %.3f s |\n| peak memory | %.1f MiB |\n\n",
                info->runtime_s, info->cpu_s, (double)info->peak_rss_kb / 1024.0);
    }
    /* top-3 stages by wall time */
    size_t n = bt->stages.n, idx[TB_MAX_STAGES];
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (bt->stages.s[idx[j]].wall_s > bt->stages.s[idx[i]].wall_s) {
                size_t tmp = idx[i];
                idx[i] = idx[j];
                idx[j] = tmp;
            }
    fputs("| stage | wall (ms) | hotspot |\n|---|---|---|\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "| %s | %.3f | %s |\n", bt->stages.s[i].name, bt->stages.s[i].wall_s * 1e3,
                (n > 0 && i == idx[0]) || (n > 1 && i == idx[1]) || (n > 2 && i == idx[2]) ? "top-3" : "");
    return ferror(f) ? -1 : 0;
}

int art_mkdirs(const char *dir, tb_error *err)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return tb_fail_field(err, TB_EINVAL, "out", "bad output directory");
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) && errno != EEXIST)
                return tb_fail_field(err, TB_EIO, "out", "cannot create %s: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    return 0;
}

typedef int (*art_writer)(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *info);
static int w_orders(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *i)
{
    (void)c, (void)i;
    return art_write_orders(f, bt);
}
static int w_equity(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *i)
{
    (void)c, (void)i;
    return art_write_equity(f, bt);
}
static int w_metrics(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *i)
{
    (void)c, (void)i;
    return art_write_metrics_json(f, bt);
}
static int w_targets(FILE *f, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *i)
{
    (void)i;
    return art_write_targets(f, bt, c);
}

int art_write_all(const char *dir, const tb_backtest *bt, const tb_backtest_config *c, const tb_report_info *info,
                  int with_targets, tb_error *err)
{
    if (art_mkdirs(dir, err)) return -1;
    const char *fr = tb_freq_name(bt->market->freq);
    struct {
        const char *stem, *ext;
        art_writer w;
        int on;
    } files[] = {
        {"orders_", ".csv", w_orders, 1},
        {"equity_curve_", ".csv", w_equity, 1},
        {"metrics", ".json", w_metrics, 1},
        {"targets_", ".csv", w_targets, with_targets},
        {"performance_report_", ".md", art_write_report, 1},
    };
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        if (!files[k].on) continue;
        char path[4096];
        int with_freq = files[k].stem[strlen(files[k].stem) - 1] == '_';
        snprintf(path, sizeof path, "%s/%s%s%s", dir, files[k].stem, with_freq ? fr : "", files[k].ext);
        FILE *f = fopen(path, "w");
        if (!f) return tb_fail_field(err, TB_EIO, "out", "cannot write %s: %s", path, strerror(errno));
        int rc = files[k].w(f, bt, c, info);
        if (fclose(f) || rc) return tb_fail_field(err, TB_EIO, "out", "error writing %s", path);
    }
    return 0;
}
