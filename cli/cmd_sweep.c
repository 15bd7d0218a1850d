/* cmd_sweep.c — the --grid form of `tradebench backtest` (see cmd_sweep.h):
 * flags into a grid, engine/sweep.c runs it, the artifacts go to --out, a
 * short summary to stdout. Only wires. */
#include "cmd_sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "sweep.h"

/* Write one artifact through its writer; 0 or -1 with err. */
static int write_file(const char *dir, const char *name, int (*fn)(FILE *, const tb_sweep_result *, const void *),
                      const tb_sweep_result *r, const void *ctx, tb_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return tb_fail_field(err, TB_EIO, "out", "cannot write %s", path);
    int rc = fn(f, r, ctx);
    if (fclose(f) != 0) rc = -1;
    if (rc) return tb_fail_field(err, TB_EIO, "out", "writing %s failed", path);
    return 0;
}

static int w_csv(FILE *f, const tb_sweep_result *r, const void *ctx)
{
    (void)ctx;
    return sweep_write_csv(f, r);
}

static int w_md(FILE *f, const tb_sweep_result *r, const void *ctx) { return sweep_write_report(f, r, ctx); }

static int w_json(FILE *f, const tb_sweep_result *r, const void *ctx)
{
    (void)ctx;
    json_t *o = sweep_to_json(r);
    int rc = json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fputc('\n', f);
    json_decref(o);
    return rc;
}

int cli_sweep(const cli_args *a, const tb_backtest_config *c, const char *out, const cli_clock *clk)
{
    tb_error err = {0};
    tb_sweep_grid g;
    memset(&g, 0, sizeof g);
    size_t threads = 0;
    if (cli_get_size(a, "threads", &threads, &err)) return cli_report(&err);
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->name[i], "grid") && sweep_grid_parse(&g, c->strategy.def, a->value[i], &err)) {
            if (strncmp(err.msg, "--grid", 6)) { /* name the value: grid.fast[2] */
                char m[sizeof err.msg];
                snprintf(m, sizeof m, "%s", err.msg);
                const char *f = strncmp(err.field, "grid.", 5) ? err.field : err.field + 5;
                snprintf(err.msg, sizeof err.msg, "--grid %.60s: %.400s", f, m);
            }
            sweep_grid_free(&g);
            return cli_report(&err);
        }
    tb_sweep_result r;
    int rc = sweep_run(c, &g, (int)threads, NULL, &r, &err);
    sweep_grid_free(&g);
    if (rc) return cli_report(&err);
    if (art_mkdirs(out, &err) || write_file(out, "sweep_results.csv", w_csv, &r, c, &err) ||
        write_file(out, "sweep_results.json", w_json, &r, c, &err) ||
        write_file(out, "sweep_report.md", w_md, &r, c, &err)) {
        sweep_result_free(&r);
        return cli_report(&err);
    }
    double wall, cpu;
    long rss;
    cli_clock_read(clk, &wall, &cpu, &rss);
    const tb_sweep_member *best = &r.members[r.ranked[0]];
    printf("sweep %s: %zu combinations, %zu run, %zu skipped%s%s; %zu symbols, %zu bars; members %.1f ms on %d "
           "threads (%.0f backtests/s); best",
           r.def->name, r.n_combinations, r.n_members, r.n_skipped, r.n_skipped ? ": " : "",
           r.n_skipped ? r.skip_reason : "", r.n_symbols, r.T, r.members_s * 1e3, r.threads,
           r.members_s > 0 ? (double)r.n_members / r.members_s : 0.0);
    for (size_t d = 0; d < r.grid.n_dims; d++)
        printf(" %s=%g", r.grid.dim[d].name, best->params.v[r.grid.dim[d].param]);
    printf(" sharpe %.4f -> %s/ (%.0f ms, peak RSS %.1f MiB)\n", best->metrics.sharpe, out, wall * 1e3,
           (double)rss / 1024.0);
    sweep_result_free(&r);
    return 0;
}
