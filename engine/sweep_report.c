/* sweep_report.c — a sweep's artifacts (see sweep.h): the ranked table as
 * CSV (numbers that round-trip, like every CSV artifact) and as JSON, and the
 * markdown report with the Sharpe heat map of a 2-D grid. Reads a finished
 * tb_sweep_result only (one sweep_run(), or one assembled from chunk runs);
 * writes to any FILE*. Also the inverse of a member's metrics object, for
 * that assembly. */
#include <math.h>
#include <string.h>

#include "numfmt.h"
#include "sweep.h"
#include "timeutil.h"
#include "xalloc.h"

/* The ranked columns, in output order. */
static const char *const sweep_cols[] = {"sharpe", "cagr", "max_drawdown", "turnover", "total_return",
                                         "n_orders", "volatility", "total_costs"};
enum { SWEEP_N_COLS = 8 };

static double sweep_col(const tb_metrics *mt, size_t k)
{
    switch (k) {
    case 0: return mt->sharpe;
    case 1: return mt->cagr;
    case 2: return mt->max_drawdown;
    case 3: return mt->turnover;
    case 4: return mt->total_return;
    case 5: return mt->n_orders;
    case 6: return mt->volatility;
    default: return mt->total_costs;
    }
}

static void csv_num(FILE *f, double x)
{
    char b[40];
    if (isfinite(x)) {
        nf_double(b, x);
        fputs(b, f);
    }
}

int sweep_write_csv(FILE *f, const tb_sweep_result *r)
{
    fputs("rank", f);
    for (size_t d = 0; d < r->grid.n_dims; d++) fprintf(f, ",%s", r->grid.dim[d].name);
    for (size_t k = 0; k < SWEEP_N_COLS; k++) fprintf(f, ",%s", sweep_cols[k]);
    fputc('\n', f);
    for (size_t j = 0; j < r->n_members; j++) {
        const tb_sweep_member *mb = &r->members[r->ranked[j]];
        fprintf(f, "%zu", mb->rank);
        for (size_t d = 0; d < r->grid.n_dims; d++) {
            fputc(',', f);
            csv_num(f, mb->params.v[r->grid.dim[d].param]);
        }
        for (size_t k = 0; k < SWEEP_N_COLS; k++) {
            fputc(',', f);
            csv_num(f, sweep_col(&mb->metrics, k));
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

static json_t *sweep_num_json(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *sweep_param_json(const tb_strategy_def *def, size_t k, double v)
{
    return def->params[k].integer ? json_integer((json_int_t)v) : json_real(v);
}

json_t *sweep_to_json(const tb_sweep_result *r)
{
    json_t *o = json_object(), *grid = json_object(), *ranked = json_array();
    for (size_t d = 0; d < r->grid.n_dims; d++) {
        json_t *a = json_array();
        for (size_t j = 0; j < r->grid.dim[d].n; j++)
            json_array_append_new(a, sweep_param_json(r->def, r->grid.dim[d].param, r->grid.dim[d].v[j]));
        json_object_set_new(grid, r->grid.dim[d].name, a);
    }
    for (size_t j = 0; j < r->n_members; j++) {
        const tb_sweep_member *mb = &r->members[r->ranked[j]];
        json_t *row = json_object(), *params = json_object();
        for (size_t k = 0; k < r->def->n_params; k++)
            json_object_set_new(params, r->def->params[k].name, sweep_param_json(r->def, k, mb->params.v[k]));
        json_object_set_new(row, "rank", json_integer((json_int_t)mb->rank));
        json_object_set_new(row, "member", json_integer((json_int_t)mb->combo));
        json_object_set_new(row, "params", params);
        for (size_t k = 0; k < SWEEP_N_COLS; k++) {
            double v = sweep_col(&mb->metrics, k);
            json_object_set_new(row, sweep_cols[k], k == 5 ? json_integer((json_int_t)v) : sweep_num_json(v));
        }
        json_object_set_new(row, "metrics", metrics_to_json(&mb->metrics));
        json_array_append_new(ranked, row);
    }
    char a[24], b[24];
    tu_format(r->first_ts, r->freq == TB_FREQ_1D, a);
    tu_format(r->last_ts, r->freq == TB_FREQ_1D, b);
    json_object_set_new(o, "strategy", json_string(r->def->name));
    json_object_set_new(o, "freq", json_string(tb_freq_name(r->freq)));
    json_object_set_new(o, "symbols", json_integer((json_int_t)r->n_symbols));
    json_object_set_new(o, "bars", json_integer((json_int_t)r->T));
    json_object_set_new(o, "first_ts", json_string(a));
    json_object_set_new(o, "last_ts", json_string(b));
    json_object_set_new(o, "grid", grid);
    json_object_set_new(o, "combinations", json_integer((json_int_t)r->n_combinations));
    json_object_set_new(o, "members", json_integer((json_int_t)r->n_members));
    json_object_set_new(o, "skipped", json_integer((json_int_t)r->n_skipped));
    json_object_set_new(o, "skip_reason", r->n_skipped ? json_string(r->skip_reason) : json_null());
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "members_seconds", json_real(r->members_s));
    json_object_set_new(o, "backtests_per_second",
                        sweep_num_json(r->members_s > 0 ? (double)r->n_members / r->members_s : NAN));
    json_object_set_new(o, "ranked", ranked);
    return o;
}

void sweep_metrics_from_json(const json_t *o, tb_metrics *out)
{
    double *slot[15] = {&out->total_return, &out->cagr,       &out->volatility,
                        &out->sharpe,       &out->sortino,    &out->max_drawdown,
                        &out->max_drawdown_duration, &out->calmar, &out->turnover,
                        &out->exposure,     &out->n_orders,   &out->total_costs,
                        &out->hit_rate,     &out->beta,       &out->correlation};
    for (size_t k = 0; k < 15; k++) {
        json_t *v = json_object_get(o, metrics_names[k]);
        *slot[k] = json_is_number(v) ? json_number_value(v) : NAN;
    }
}

static void md_num(FILE *f, double x, const char *fmt)
{
    if (isfinite(x)) fprintf(f, fmt, x);
    else fputs("n/a", f);
}

static double stage_s(const tb_sweep_result *r, const char *name)
{
    for (size_t i = 0; i < r->stages.n; i++)
        if (!strcmp(r->stages.s[i].name, name)) return r->stages.s[i].wall_s;
    return NAN;
}

/* Rows: values of dimension 0; columns: dimension 1; a cell is the best
 * Sharpe over the other dimensions ("—" when every combination there was
 * skipped, "n/a" when undefined). */
static void md_heat_map(FILE *f, const tb_sweep_result *r)
{
    const tb_sweep_dim *a = &r->grid.dim[0], *b = &r->grid.dim[1];
    size_t cells = a->n * b->n, inner = r->n_combinations / cells;
    double *best = xmalloc(xmul(cells, sizeof *best));
    int *seen = xcalloc(cells, sizeof *seen);
    for (size_t j = 0; j < r->n_members; j++) {
        const tb_sweep_member *mb = &r->members[j];
        size_t cell = mb->combo / inner; /* the first two dimensions are the slowest */
        double s = mb->metrics.sharpe;
        if (!seen[cell] || (isnan(best[cell]) && !isnan(s)) || s > best[cell]) best[cell] = s;
        seen[cell] = 1;
    }
    fprintf(f, "\n## Sharpe heat map (%s × %s)\n\n", a->name, b->name);
    if (r->grid.n_dims > 2) fputs("Each cell is the best Sharpe over the other grid parameters.\n\n", f);
    fprintf(f, "| %s \\ %s |", a->name, b->name);
    for (size_t y = 0; y < b->n; y++) fprintf(f, " %g |", b->v[y]);
    fputs("\n|---|", f);
    for (size_t y = 0; y < b->n; y++) fputs("---:|", f);
    fputc('\n', f);
    for (size_t x = 0; x < a->n; x++) {
        fprintf(f, "| **%g** |", a->v[x]);
        for (size_t y = 0; y < b->n; y++) {
            size_t cell = x * b->n + y;
            fputc(' ', f);
            if (!seen[cell]) fputs("—", f);
            else md_num(f, best[cell], "%.3f");
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    free(best);
    free(seen);
}

int sweep_write_report(FILE *f, const tb_sweep_result *r, const tb_backtest_config *c)
{
    char a[24], b[24];
    int daily = r->freq == TB_FREQ_1D;
    tu_format(r->first_ts, daily, a);
    tu_format(r->last_ts, daily, b);
    fprintf(f, "# Parameter sweep — %s\n\n| | |\n|---|---|\n", r->def->name);
    if (source_is_synthetic(&c->source))
        fprintf(f, "| data source | synthetic (seed %llu, %zu symbols x %zu bars) |\n",
                (unsigned long long)c->source.seed, c->source.synth_symbols, c->source.synth_bars);
    else fprintf(f, "| data source | CSV directory `%s` |\n", c->source.data);
    fprintf(f, "| frequency | %s |\n| symbols | %zu |\n| range | %s … %s (%zu bars) |\n", tb_freq_name(r->freq),
            r->n_symbols, a, b, r->T);
    fputs("| grid |", f);
    for (size_t d = 0; d < r->grid.n_dims; d++) {
        fprintf(f, "%s %s =", d ? ";" : "", r->grid.dim[d].name);
        for (size_t j = 0; j < r->grid.dim[d].n; j++) fprintf(f, "%s %g", j ? "," : "", r->grid.dim[d].v[j]);
    }
    fputs(" |\n| fixed parameters |", f);
    size_t n_fixed = 0;
    for (size_t k = 0; k < r->def->n_params; k++) {
        int in_grid = 0;
        for (size_t d = 0; d < r->grid.n_dims; d++) in_grid |= r->grid.dim[d].param == k;
        if (!in_grid) fprintf(f, " %s=%g", r->def->params[k].name, c->strategy.v[k]), n_fixed++;
    }
    fprintf(f, "%s |\n", n_fixed ? "" : " (none)");
    fprintf(f, "| combinations | %zu: %zu run, %zu skipped%s%s |\n", r->n_combinations, r->n_members, r->n_skipped,
            r->n_skipped ? " — " : "", r->n_skipped ? r->skip_reason : "");
    fprintf(f, "| portfolio | start capital %.2f, max weight %g, rebalance band %g |\n", c->sim.start_capital,
            c->sim.max_weight, c->sim.rebalance_band);
    fprintf(f, "| costs | commission %g bps, spread_w %g, impact_w %g |\n", c->sim.costs.commission_bps,
            c->sim.costs.spread_w, c->sim.costs.impact_w);
    fprintf(f, "| threads | %d |\n", r->threads);
    fprintf(f, "| members | %.1f ms for %zu backtests: %.0f backtests/s |\n", r->members_s * 1e3, r->n_members,
            r->members_s > 0 ? (double)r->n_members / r->members_s : 0.0);
    fprintf(f, "| whole sweep | %.1f ms (load %.1f, panel %.1f, cost statistics %.1f, prices %.1f, signals %.1f) |\n",
            r->total_s * 1e3, stage_s(r, "load_data") * 1e3, stage_s(r, "panel") * 1e3, stage_s(r, "cost_stats") * 1e3,
            stage_s(r, "prices") * 1e3, stage_s(r, "signals") * 1e3);
    if (r->n_chunks) /* assembled from chunk runs: the lines above are sums over the chunks */
        fprintf(f, "| chunks | %zu chunk runs on %zu worker%s; %.1f s from the first claim to the last chunk stored |\n",
                r->n_chunks, r->n_workers, r->n_workers == 1 ? "" : "s", r->chunks_wall_s);

    fputs("\n## Ranked by Sharpe\n\n| rank |", f);
    for (size_t d = 0; d < r->grid.n_dims; d++) fprintf(f, " %s |", r->grid.dim[d].name);
    fputs(" sharpe | cagr | max_drawdown | turnover | total_return | n_orders |\n|---|", f);
    for (size_t d = 0; d < r->grid.n_dims; d++) fputs("---:|", f);
    fputs("---:|---:|---:|---:|---:|---:|\n", f);
    for (size_t j = 0; j < r->n_members; j++) {
        const tb_sweep_member *mb = &r->members[r->ranked[j]];
        const tb_metrics *mt = &mb->metrics;
        fprintf(f, "| %zu |", mb->rank);
        for (size_t d = 0; d < r->grid.n_dims; d++) fprintf(f, " %g |", mb->params.v[r->grid.dim[d].param]);
        fputc(' ', f), md_num(f, mt->sharpe, "%.4f"), fputs(" | ", f);
        md_num(f, mt->cagr, "%.4f"), fputs(" | ", f);
        md_num(f, mt->max_drawdown, "%.4f"), fputs(" | ", f);
        md_num(f, mt->turnover, "%.3f"), fputs(" | ", f);
        md_num(f, mt->total_return, "%.4f"), fputs(" | ", f);
        fprintf(f, "%.0f |\n", mt->n_orders);
    }
    if (r->grid.n_dims >= 2) md_heat_map(f, r);
    return ferror(f) ? -1 : 0;
}
