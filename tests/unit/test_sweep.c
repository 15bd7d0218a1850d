/* test_sweep.c — parameter sweeps: grid validation (every error names its
 * field, grid.fast[2]), expansion with invalid combinations skipped and
 * counted, ranking, artifacts, and the contract that matters most: every
 * member's metrics equal a standalone backtest_run() of the same parameters
 * exactly, whatever the thread count (shared data, cost table and indicator
 * cache change nothing) — and whatever member range it runs in
 * (sweep_run_range, the service's chunks). Also run under ThreadSanitizer
 * (build-tsan). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "sweep.h"

static const tb_strategy_def *tb(void) { return strategy_find("trend_baseline"); }

static int same_bits(double a, double b) { return !memcmp(&a, &b, sizeof a); }

static void expect_same_metrics(const tb_metrics *a, const tb_metrics *b, const char *what)
{
    for (size_t k = 0; k < 15; k++)
        cr_expect(same_bits(metrics_get(a, k), metrics_get(b, k)), "%s: %s %.17g vs %.17g", what, metrics_names[k],
                  metrics_get(a, k), metrics_get(b, k));
}

/* ================================================================ validation */

Test(sweep_grid, parse_and_combinations)
{
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=5,10,20", &err), 0, "%s", err.msg);
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=50,100", &err), 0, "%s", err.msg);
    cr_expect_eq(g.n_dims, 2);
    cr_expect_eq(sweep_grid_combinations(&g), 6);
    cr_expect(g.dim[0].v[2] == 20 && g.dim[1].v[1] == 100);
    sweep_grid_free(&g);
}

static void expect_grid_error(const char *arg, const char *field, const char *msg_part)
{
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_expect_eq(sweep_grid_parse(&g, tb(), arg, &err), -1, "'%s' must be rejected", arg);
    cr_expect_str_eq(err.field, field, "'%s': field %s, expected %s", arg, err.field, field);
    cr_expect(strstr(err.msg, msg_part) != NULL, "'%s': message '%s' lacks '%s'", arg, err.msg, msg_part);
    cr_expect_eq(err.code, TB_EINVAL);
    sweep_grid_free(&g);
}

Test(sweep_grid, errors_name_the_field)
{
    expect_grid_error("fast=5,10,0", "grid.fast[2]", "must be in");
    expect_grid_error("fast=5,10.5", "grid.fast[1]", "whole number");
    expect_grid_error("fast=5,x", "grid.fast[1]", "not a number");
    expect_grid_error("fast=5,5", "grid.fast[1]", "repeats");
    expect_grid_error("width=1,2", "grid.width", "no parameter 'width'");
    expect_grid_error("fast", "grid", "NAME=V1,V2");
    expect_grid_error("=5", "grid", "NAME=V1,V2");
    /* a dimension given twice, and a grid over the limit */
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=1,2", &err), 0);
    cr_expect_eq(sweep_grid_parse(&g, tb(), "fast=3", &err), -1);
    cr_expect_str_eq(err.field, "grid.fast");
    double v[600];
    for (int k = 0; k < 600; k++) v[k] = 100 + k;
    cr_expect_eq(sweep_grid_add(&g, tb(), "slow", v, 600, &err), -1, "2 x 600 > 1000 combinations");
    cr_expect_str_eq(err.field, "grid.slow");
    cr_expect(strstr(err.msg, "1000") != NULL, "%s", err.msg);
    cr_expect_eq(sweep_grid_add(&g, tb(), "slow", v, 500, &err), 0, "2 x 500 = 1000 is allowed: %s", err.msg);
    sweep_grid_free(&g);
}

/* ================================================================ runs */

static void small_config(tb_backtest_config *c, size_t n_symbols, size_t bars)
{
    backtest_config_defaults(c);
    c->source.data = "synthetic";
    c->source.synth_symbols = n_symbols;
    c->source.synth_bars = bars;
    c->n_symbols = n_symbols;
}

/* Every member equals backtest_run() with its parameters, bit for bit. */
static void check_members_equal_standalone(const tb_backtest_config *base, const tb_sweep_result *r)
{
    for (size_t j = 0; j < r->n_members; j++) {
        tb_backtest_config c = *base;
        c.strategy = r->members[j].params;
        tb_backtest bt;
        tb_error err = {0};
        cr_assert_eq(backtest_run(&c, NULL, &bt, &err), 0, "%s", err.msg);
        char what[64];
        snprintf(what, sizeof what, "member %zu", j);
        expect_same_metrics(&r->members[j].metrics, &bt.metrics, what);
        backtest_free(&bt);
    }
}

Test(sweep_run, members_equal_standalone_backtests_and_skips_invalid)
{
    tb_backtest_config c;
    small_config(&c, 40, 600);
    c.last_bars = 400; /* warm-up before the range, too */
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=5,10,20,60", &err), 0);
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=15,50,100", &err), 0);
    tb_sweep_result r;
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &r, &err), 0, "%s", err.msg);
    /* fast >= slow: (20,15), (60,15), (60,50) */
    cr_expect_eq(r.n_combinations, 12);
    cr_expect_eq(r.n_skipped, 3);
    cr_expect_eq(r.n_members, 9);
    cr_expect(strstr(r.skip_reason, "must be < slow") != NULL, "%s", r.skip_reason);
    cr_expect_eq(r.threads, 2);
    check_members_equal_standalone(&c, &r);
    /* ranked: Sharpe non-increasing, ranks 1..n */
    for (size_t j = 0; j < r.n_members; j++) {
        cr_expect_eq(r.members[r.ranked[j]].rank, j + 1);
        if (j) cr_expect(r.members[r.ranked[j - 1]].metrics.sharpe >= r.members[r.ranked[j]].metrics.sharpe);
    }
    /* grid order: combination indices ascend */
    for (size_t j = 1; j < r.n_members; j++) cr_expect(r.members[j - 1].combo < r.members[j].combo);
    sweep_result_free(&r);
    sweep_grid_free(&g);
}

/* The sweep computes its EMAs four or two per pass over the closes
 * (ind_ema4, ind_ema2, by period): a count that is not a multiple of four
 * leaves a pair or one alone, a period longer than the data goes with ones
 * that are defined. (The grid above has 7 distinct EMAs: four, two, one;
 * ema_trend's below 3 EMAs and an ATR.) */
Test(sweep_run, ema_groups_odd_counts_and_periods_past_the_data)
{
    tb_backtest_config c;
    small_config(&c, 24, 600);
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=5,10,30", &err), 0);
    /* EMA(650) of 600 bars: never defined, paired with EMA(100) */
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=40,100,650", &err), 0);
    tb_sweep_result r;
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_members, 9);
    cr_expect_eq(r.n_indicators, 6);
    check_members_equal_standalone(&c, &r);
    cr_expect_eq(r.members[2].metrics.n_orders, 0, "slow 650: never long");
    sweep_result_free(&r);
    sweep_grid_free(&g);

    /* four EMAs, one of them past the data */
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=5,10,30", &err), 0);
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=650", &err), 0);
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_members, 3);
    cr_expect_eq(r.n_indicators, 4);
    check_members_equal_standalone(&c, &r);
    sweep_result_free(&r);
    sweep_grid_free(&g);

    /* one EMA alone (and an ATR): nothing to pair */
    c.strategy.def = strategy_find("ema_trend");
    strategy_params_defaults(c.strategy.def, &c.strategy);
    cr_assert_eq(sweep_grid_parse(&g, c.strategy.def, "band=0,0.5,1", &err), 0);
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_members, 3);
    cr_expect_eq(r.n_indicators, 2);
    check_members_equal_standalone(&c, &r);
    sweep_result_free(&r);
    sweep_grid_free(&g);
}

Test(sweep_run, thread_counts_give_identical_results)
{
    tb_backtest_config c;
    small_config(&c, 30, 500);
    c.strategy.def = strategy_find("ema_trend");
    strategy_params_defaults(c.strategy.def, &c.strategy);
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, c.strategy.def, "n=10,20,50", &err), 0);
    cr_assert_eq(sweep_grid_parse(&g, c.strategy.def, "band=-0.5,0,0.5,1", &err), 0);
    tb_sweep_result a, b;
    cr_assert_eq(sweep_run(&c, &g, 1, NULL, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(sweep_run(&c, &g, 4, NULL, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n_members, 12);
    cr_expect_eq(a.threads, 1);
    cr_expect_eq(b.threads, 4);
    for (size_t j = 0; j < a.n_members; j++) {
        expect_same_metrics(&a.members[j].metrics, &b.members[j].metrics, "1 vs 4 threads");
        cr_expect_eq(a.members[j].rank, b.members[j].rank);
    }
    check_members_equal_standalone(&c, &a);
    sweep_result_free(&a);
    sweep_result_free(&b);
    sweep_grid_free(&g);
}

Test(sweep_run, no_valid_combination_is_an_error)
{
    tb_backtest_config c;
    small_config(&c, 5, 200);
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=50,60", &err), 0);
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=10,20", &err), 0);
    tb_sweep_result r;
    cr_expect_eq(sweep_run(&c, &g, 2, NULL, &r, &err), -1);
    cr_expect_str_eq(err.field, "grid");
    cr_expect(strstr(err.msg, "4 skipped") != NULL, "%s", err.msg);
    sweep_grid_free(&g);
}

static int cancel_now(void *ud)
{
    (void)ud;
    return 1;
}

Test(sweep_run, cancellation_stops_the_run)
{
    tb_backtest_config c;
    small_config(&c, 10, 300);
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=2,3,4,5", &err), 0);
    tb_hooks h = {NULL, NULL, NULL, cancel_now};
    tb_sweep_result r;
    cr_expect_eq(sweep_run(&c, &g, 2, &h, &r, &err), -1);
    cr_expect_eq(err.code, TB_ECANCEL);
    sweep_grid_free(&g);
}

/* ================================================================ ranges (chunks) */

/* What the worker's chunk runs do: sweep_run_range() over consecutive
 * ranges of the valid members, on different thread counts, then the pieces
 * (through their JSON, as the chunks store them) put back together with
 * sweep_plan() and sweep_rank(). Each range's members
 * are the whole sweep's, bit for bit; the assembled table ranks and prints
 * exactly as the whole sweep's. */

static char *csv_of(const tb_sweep_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f != NULL);
    cr_assert_eq(sweep_write_csv(f, r), 0);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

static void range_grid(tb_backtest_config *c, tb_sweep_grid *g)
{
    small_config(c, 40, 600);
    c->last_bars = 400;
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(g, tb(), "fast=5,10,20,60", &err), 0);
    cr_assert_eq(sweep_grid_parse(g, tb(), "slow=15,50,100", &err), 0); /* 12 combinations, 9 valid */
}

Test(sweep_range, ranges_equal_the_whole_sweep_bit_for_bit)
{
    tb_backtest_config c;
    tb_sweep_grid g = {0};
    range_grid(&c, &g);
    tb_error err = {0};
    tb_sweep_result whole;
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &whole, &err), 0, "%s", err.msg);
    const size_t n = whole.n_members;
    cr_assert_eq(n, 9);
    cr_expect_eq(whole.first_member, 0);
    cr_expect_eq(whole.n_valid, n);

    /* the plan: the same members in the same order, nothing run */
    tb_sweep_result all;
    cr_assert_eq(sweep_plan(&c.strategy, &g, &all, &err), 0, "%s", err.msg);
    cr_assert_eq(all.n_members, n);
    cr_expect_eq(all.n_valid, n);
    cr_expect_eq(all.n_combinations, whole.n_combinations);
    cr_expect_eq(all.n_skipped, whole.n_skipped);
    cr_expect_str_eq(all.skip_reason, whole.skip_reason);
    for (size_t j = 0; j < n; j++) {
        cr_expect_eq(all.members[j].combo, whole.members[j].combo);
        cr_expect(isnan(all.members[j].metrics.sharpe), "a planned member has no metrics yet");
        cr_expect_eq(all.members[j].rank, 0);
    }

    /* three chunks [0,3) [3,7) [7,n) — the last one's hi past the end (clamped) */
    const size_t lo[3] = {0, 3, 7}, hi[3] = {3, 7, (size_t)-1};
    const int threads[3] = {1, 2, 3};
    for (int k = 0; k < 3; k++) {
        tb_sweep_result part;
        cr_assert_eq(sweep_run_range(&c, &g, lo[k], hi[k], threads[k], NULL, &part, &err), 0, "[%zu, %zu): %s", lo[k],
                     hi[k], err.msg);
        size_t want = (k < 2 ? hi[k] : n) - lo[k];
        cr_expect_eq(part.n_members, want, "[%zu, ...): %zu members", lo[k], part.n_members);
        cr_expect_eq(part.first_member, lo[k]);
        cr_expect_eq(part.n_valid, n);
        cr_expect_eq(part.n_combinations, whole.n_combinations);
        cr_expect_eq(part.n_skipped, whole.n_skipped);
        for (size_t j = 0; j < part.n_members; j++) {
            const tb_sweep_member *a = &part.members[j], *b = &whole.members[lo[k] + j];
            char what[64];
            snprintf(what, sizeof what, "range %d member %zu", k, lo[k] + j);
            cr_expect_eq(a->combo, b->combo, "%s: combo", what);
            for (size_t q = 0; q < TB_MAX_PARAMS; q++)
                cr_expect(same_bits(a->params.v[q], b->params.v[q]), "%s: param %zu", what, q);
            expect_same_metrics(&a->metrics, &b->metrics, what);
            /* ranks are within the range: a permutation of 1..n_members */
            cr_expect(a->rank >= 1 && a->rank <= part.n_members, "%s: rank %zu", what, a->rank);
        }
        for (size_t j = 0; j < part.n_members; j++) cr_expect_eq(part.members[part.ranked[j]].rank, j + 1);
        /* as the worker hands them over: the chunk's sweep_to_json() rows,
         * read back with sweep_metrics_from_json() (server/persist.c) */
        json_t *doc = sweep_to_json(&part), *row;
        size_t q;
        cr_assert_eq(json_array_size(json_object_get(doc, "ranked")), part.n_members);
        json_array_foreach(json_object_get(doc, "ranked"), q, row) {
            size_t combo = (size_t)json_integer_value(json_object_get(row, "member")), at = n;
            for (size_t j = 0; j < n; j++)
                if (all.members[j].combo == combo) at = j;
            cr_assert(at >= lo[k] && at < lo[k] + part.n_members, "range %d: member %zu is not in it", k, combo);
            sweep_metrics_from_json(json_object_get(row, "metrics"), &all.members[at].metrics);
            expect_same_metrics(&all.members[at].metrics, &whole.members[at].metrics, "through JSON");
        }
        json_decref(doc);
        sweep_result_free(&part);
    }

    /* assembled and ranked: the whole sweep's table and CSV, byte for byte */
    sweep_rank(&all);
    for (size_t j = 0; j < n; j++) {
        cr_expect_eq(all.ranked[j], whole.ranked[j], "rank %zu", j + 1);
        cr_expect_eq(all.members[j].rank, whole.members[j].rank, "member %zu", j);
    }
    char *a = csv_of(&all), *b = csv_of(&whole);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    sweep_result_free(&all);
    sweep_result_free(&whole);
    sweep_grid_free(&g);
}

static void expect_range_rejected(const tb_backtest_config *c, const tb_sweep_grid *g, size_t lo, size_t hi,
                                  const char *range_text)
{
    tb_sweep_result r;
    memset(&r, 0xab, sizeof r); /* must come back cleared: nothing to free */
    tb_error err = {0};
    cr_expect_eq(sweep_run_range(c, g, lo, hi, 2, NULL, &r, &err), -1, "[%zu, %zu) must be rejected", lo, hi);
    cr_expect_eq(err.code, TB_EINVAL);
    cr_expect_str_eq(err.field, "grid");
    cr_expect(strstr(err.msg, range_text) != NULL, "[%zu, %zu): '%s' lacks '%s'", lo, hi, err.msg, range_text);
    cr_expect(strstr(err.msg, "outside the grid's 9 valid combinations") != NULL, "%s", err.msg);
    cr_expect(r.members == NULL && r.ranked == NULL && r.n_members == 0, "[%zu, %zu): out is cleared", lo, hi);
}

Test(sweep_range, out_of_bounds_and_empty_ranges_are_rejected)
{
    tb_backtest_config c;
    tb_sweep_grid g = {0};
    range_grid(&c, &g);
    /* lo at or past the 9 valid members (hi is clamped to 9 first) */
    expect_range_rejected(&c, &g, 9, 12, "member range [9, 12)"); /* as requested, not clamped to [9, 9) */
    expect_range_rejected(&c, &g, 20, 25, "member range [20, 25)");
    expect_range_rejected(&c, &g, 20, (size_t)-1, "member range [20, ");
    /* empty and reversed ranges: nothing to run is an error too, not an empty result */
    expect_range_rejected(&c, &g, 3, 3, "member range [3, 3)");
    expect_range_rejected(&c, &g, 0, 0, "member range [0, 0)");
    expect_range_rejected(&c, &g, 5, 2, "member range [5, 2)");
    /* the last valid member alone is a range */
    tb_sweep_result r;
    tb_error err = {0};
    cr_assert_eq(sweep_run_range(&c, &g, 8, 9, 1, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.n_members, 1);
    cr_expect_eq(r.first_member, 8);
    cr_expect_eq(r.members[0].rank, 1);
    sweep_result_free(&r);
    sweep_grid_free(&g);
}

/* ================================================================ artifacts */

static char *render(int (*fn)(FILE *, const tb_sweep_result *, const tb_backtest_config *), const tb_sweep_result *r,
                    const tb_backtest_config *c)
{
    FILE *f = tmpfile();
    cr_assert(f != NULL);
    cr_assert_eq(fn(f, r, c), 0);
    long len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    cr_assert(buf && fread(buf, 1, (size_t)len, f) == (size_t)len);
    buf[len] = 0;
    fclose(f);
    return buf;
}

static int csv_fn(FILE *f, const tb_sweep_result *r, const tb_backtest_config *c)
{
    (void)c;
    return sweep_write_csv(f, r);
}

Test(sweep_report, csv_json_and_heat_map)
{
    tb_backtest_config c;
    small_config(&c, 12, 300);
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=3,30", &err), 0);
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=10,40,80", &err), 0);
    tb_sweep_result r;
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_members, 5); /* (30,10) skipped */

    char *csv = render(csv_fn, &r, &c);
    cr_expect(!strncmp(csv, "rank,fast,slow,sharpe,cagr,max_drawdown,turnover,total_return,n_orders,", 71), "%s", csv);
    size_t lines = 0;
    for (char *p = csv; *p; p++) lines += *p == '\n';
    cr_expect_eq(lines, 6);
    cr_expect(!strncmp(strchr(csv, '\n') + 1, "1,", 2));
    free(csv);

    char *md = render(sweep_write_report, &r, &c);
    cr_expect(strstr(md, "## Ranked by Sharpe") != NULL);
    cr_expect(strstr(md, "## Sharpe heat map (fast × slow)") != NULL);
    cr_expect(strstr(md, "| **30** | — |") != NULL, "the skipped cell shows a dash:\n%s", md);
    cr_expect(strstr(md, "6: 5 run, 1 skipped") != NULL, "%s", md);
    free(md);

    json_t *j = sweep_to_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "members")), 5);
    cr_expect_eq(json_integer_value(json_object_get(j, "skipped")), 1);
    json_t *first = json_array_get(json_object_get(j, "ranked"), 0);
    cr_expect_eq(json_integer_value(json_object_get(first, "rank")), 1);
    cr_expect(json_is_integer(json_object_get(json_object_get(first, "params"), "fast")));
    const tb_sweep_member *best = &r.members[r.ranked[0]];
    cr_expect(same_bits(json_real_value(json_object_get(first, "sharpe")), best->metrics.sharpe));
    json_decref(j);
    sweep_result_free(&r);
    sweep_grid_free(&g);
}

Test(sweep_run, real_data_members_equal_standalone)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = TB_SHARED_DIR "/data/ohlcv_1d";
    FILE *probe = fopen(TB_SHARED_DIR "/data/ohlcv_1d/AAPL.csv", "r");
    if (!probe) cr_skip_test("../shared data not present");
    fclose(probe);
    c.n_symbols = 200;
    tb_sweep_grid g = {0};
    tb_error err = {0};
    cr_assert_eq(sweep_grid_parse(&g, tb(), "fast=10,20", &err), 0);
    cr_assert_eq(sweep_grid_parse(&g, tb(), "slow=50,150", &err), 0);
    tb_sweep_result r;
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.n_members, 4);
    check_members_equal_standalone(&c, &r);
    /* fast=20, slow=50 is BACKTEST_MEDIUM: its golden Sharpe */
    cr_expect(fabs(r.members[2].metrics.sharpe - 0.92782971635977429) <= 1e-12, "%.17g", r.members[2].metrics.sharpe);
    sweep_result_free(&r);
    sweep_grid_free(&g);
}

/* ================================================================ POST /backtests "grid" (jobspec) */

#include "jobspec.h"

static int has_error(const js_errors *e, const char *field, const char *part)
{
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->e[i].field, field) && strstr(e->e[i].message, part)) return 1;
    return 0;
}

static void expect_body_error(const char *body_text, const char *field, const char *part)
{
    json_error_t je;
    json_t *body = json_loads(body_text, 0, &je);
    cr_assert(body, "test body: %s", je.text);
    tb_jobspec s;
    js_errors e;
    cr_expect_eq(jobspec_from_backtest_json(body, &s, &e), -1, "%s must be rejected", body_text);
    int found = has_error(&e, field, part);
    cr_expect(found, "%s: expected %s '%s'; got %zu error(s), first %s: %s", body_text, field, part, e.n,
              e.n ? e.e[0].field : "-", e.n ? e.e[0].message : "-");
    json_decref(body);
}

Test(sweep_jobspec, grid_validation_names_fields)
{
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[5,10,0]}}", "grid.fast[2]", "must be in");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[5,\"10\"]}}", "grid.fast[1]",
                      "must be a number");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[5,7.5]}}", "grid.fast[1]", "whole number");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"width\":[1]}}", "grid.width", "no parameter");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[]}}", "grid.fast", "non-empty array");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":5}}", "grid.fast", "non-empty array");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":[5]}", "grid", "must be an object");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{}}", "grid", "must be an object");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"params\":{\"fast\":5},\"grid\":{\"fast\":[5,10]}}",
                      "grid.fast", "also set in params");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[60,70],\"slow\":[20,30]}}", "grid",
                      "no combination is valid");
    expect_body_error("{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[5]},\"meta_filter\":{\"model_id\":1}}",
                      "grid", "meta_filter");
    /* 40 x 30 = 1200 combinations */
    char body[4096] = "{\"strategy\":\"trend_baseline\",\"grid\":{\"fast\":[";
    for (int k = 1; k <= 40; k++) sprintf(body + strlen(body), "%s%d", k > 1 ? "," : "", k);
    strcat(body, "],\"slow\":[");
    for (int k = 1; k <= 30; k++) sprintf(body + strlen(body), "%s%d", k > 1 ? "," : "", 100 + k);
    strcat(body, "]}}");
    expect_body_error(body, "grid.slow", "more than 1000 combinations");
}

Test(sweep_jobspec, grid_body_round_trips_through_stored_params)
{
    json_error_t je;
    json_t *body = json_loads("{\"strategy\":\"trend_baseline\",\"universe\":20,\"data\":\"synthetic\","
                              "\"params\":{\"slow\":40},\"grid\":{\"fast\":[5,10,60]}}",
                              0, &je);
    tb_jobspec s;
    js_errors e;
    cr_assert_eq(jobspec_from_backtest_json(body, &s, &e), 0, "%s: %s", e.n ? e.e[0].field : "",
                 e.n ? e.e[0].message : "");
    cr_expect_eq(s.job, JS_JOB_SWEEP);
    cr_expect_eq(s.grid.n_dims, 1);
    cr_expect_eq(s.grid.dim[0].n, 3);
    cr_expect(strategy_param(&s.bt.strategy, "slow") == 40);
    json_t *g = json_object_get(s.normalized, "grid");
    cr_assert(json_is_object(g));
    cr_expect(json_is_integer(json_array_get(json_object_get(g, "fast"), 0)));
    /* the worker's view: stored params rebuild the same sweep */
    tb_jobspec w;
    tb_error err = {0};
    cr_assert_eq(jobspec_from_stored("sweep", s.normalized, &w, &err), 0, "%s", err.msg);
    cr_expect_eq(w.job, JS_JOB_SWEEP);
    cr_expect_eq(w.grid.dim[0].v[2], 60);
    cr_expect(json_equal(w.normalized, s.normalized));
    jobspec_free(&w);
    jobspec_free(&s);
    json_decref(body);
    /* a standard run cannot carry a grid */
    json_t *run = json_loads("{\"job\":\"BACKTEST_MEDIUM\",\"overrides\":{\"grid\":{\"fast\":[5]}}}", 0, &je);
    int it;
    const char *phase;
    cr_expect_eq(jobspec_from_run_json(run, &s, &it, &phase, &e), -1);
    cr_expect(has_error(&e, "overrides.grid", "POST /backtests"));
    json_decref(run);
}
