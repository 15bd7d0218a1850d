/* test_factor_cache.c — the cross-run cache of computed arrays
 * (engine/factor_cache.c): a hit gives the arrays computing gives, bit for
 * bit (cost statistics, indicators, the ML factor store); a changed CSV file
 * is a new key, a miss, and the new values; a damaged cache file (a flipped
 * value, a flipped offset, truncation, a foreign header, a tiny file) is
 * ignored and rewritten; a changed computation whose version was not bumped
 * is caught by the recomputed symbol; a market cut at `end` reads a prefix
 * of the whole load's file and stores nothing of its own;
 * synthetic data is keyed by its generator parameters; TB_CACHE_DIR=off and
 * TB_FACTOR_CACHE=off write no factor file, nor do loads without a panel
 * cache identity; backtests and sweeps give the same bits with and without,
 * and so do the ML paths (ml_inputs_load's dataset and a meta-filtered
 * backtest), whose factor store comes through the cache.
 * Each test works in its own mkdtemp directory (data/ and cache/), removed
 * at the end; data files are back-dated so the panel cache takes them
 * (cache_fixtures.h). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backtest.h"
#include "cache_fixtures.h"
#include "factor_cache.h"
#include "factor_store.h"
#include "meta_filter.h"
#include "ml_dataset.h"
#include "ml_train.h"
#include "panel_cache.h"
#include "sweep.h"
#include "synth.h"

#define N_SYM 10
#define N_BARS 400

static char root[CFX_ROOT_LEN], data[CFX_PATH_LEN], cache[CFX_PATH_LEN];
static char *names[N_SYM];

static void setup(void)
{
    tb_synth_params p = {11, N_SYM, N_BARS, TB_FREQ_1D};
    cfx_universe_make("/tmp/tb-fcache-XXXXXX", &p, root, data, cache, names);
    unsetenv("TB_FACTOR_CACHE");
}

static void teardown(void)
{
    cfx_universe_remove(root, names, N_SYM);
    unsetenv("TB_FACTOR_CACHE");
}

TestSuite(factor_cache, .init = setup, .fini = teardown, .timeout = 120);

/* The CSV universe through the panel cache, with its identity. */
static tb_market *load(tb_data_id *id)
{
    tb_source s;
    source_defaults(&s);
    s.data = data;
    tb_universe u;
    tb_error err = {0};
    tb_market *m = NULL;
    cr_assert_eq(universe_from_list((const char *const *)names, N_SYM, &u, &err), 0, "%s", err.msg);
    cr_assert_eq(source_load_id(&s, &u, &m, id, &err), 0, "load: %s", err.msg);
    universe_free(&u);
    return m;
}

/* Loaded twice: the second load maps the panel cache (a stable identity either way). */
static tb_market *load_known(tb_data_id *id)
{
    market_free(load(id));
    tb_market *m = load(id);
    cr_assert(id->known, "the panel cache identifies the bars");
    return m;
}

/* Cache files of the factor cache in the cache directory. */
static size_t count_fact_files(void)
{
    DIR *d = opendir(cache);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += !strncmp(e->d_name, "fact-", 5);
    closedir(d);
    return n;
}

/* The arrays computed directly, as the engine does without a cache. */
static double *direct(const fcache_spec *sp, const tb_market *m)
{
    size_t n = m->n_bars * sp->width;
    double *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < m->n_symbols; i++) {
        size_t o = m->offset[i], len = market_len(m, i);
        if (sp->kind == FCACHE_KIND_COST_STATS) {
            double *scratch = malloc(3 * len * sizeof *scratch);
            costs_table_fill(m->high + o, m->low + o, m->close + o, m->volume + o, len, 0,
                             (tb_cost_stats *)(void *)(v + o * 3), scratch);
            free(scratch);
        } else {
            ind_compute((ind_key){sp->a, sp->b}, m->high + o, m->low + o, m->close + o, len, v + o);
        }
    }
    return v;
}

/* Every symbol's values of a (plane 0) equal want (m's layout, width doubles a bar). */
static void assert_arrays(const fcache_arrays *a, const tb_market *m, size_t width, const double *want,
                          const char *what)
{
    for (size_t i = 0; i < m->n_symbols; i++)
        cr_assert_eq(memcmp(fcache_series(a, 0, i), want + m->offset[i] * width, market_len(m, i) * width * 8), 0,
                     "%s: symbol %zu differs", what, i);
}

/* get, expecting an outcome */
static fcache_arrays *get(const fcache_spec *sp, const tb_market *m, const tb_data_id *id, fcache_outcome want,
                          fcache_status *st)
{
    fcache_arrays *a = fcache_get(sp, m, id, 2, st);
    cr_assert_eq(st->outcome, want, "%s: outcome %s, want %s (%s)", sp->name, fcache_outcome_name(st->outcome),
                 fcache_outcome_name(want), st->reason);
    return a;
}

Test(factor_cache, a_hit_gives_the_computed_arrays_bit_for_bit)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    const fcache_spec specs[] = {fcache_spec_cost_stats(), fcache_spec_indicator((ind_key){IND_EMA, 10}),
                                 fcache_spec_indicator((ind_key){IND_ATR, 14}),
                                 fcache_spec_indicator((ind_key){IND_SMA, 20})};
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        const fcache_spec *sp = &specs[k];
        double *want = direct(sp, m);
        fcache_status st;
        fcache_arrays *a = get(sp, m, &id, FCACHE_MISS_ABSENT, &st);
        cr_assert(st.stored, "%s stored: %s", sp->name, st.reason);
        assert_arrays(a, m, sp->width, want, "computed");
        fcache_release(a);
        a = get(sp, m, &id, FCACHE_HIT, &st);
        cr_assert_not(st.stored);
        assert_arrays(a, m, sp->width, want, "mapped");
        fcache_release(a);
        free(want);
    }
    cr_assert_eq(count_fact_files(), 4);

    /* another period is another file */
    fcache_spec e11 = fcache_spec_indicator((ind_key){IND_EMA, 11});
    fcache_status st;
    fcache_release(get(&e11, m, &id, FCACHE_MISS_ABSENT, &st));
    cr_assert_eq(count_fact_files(), 5);
    market_free(m);
}

Test(factor_cache, the_factor_store_from_the_cache_equals_fs_build)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    fs_store *plain = fs_build(m);
    fcache_status st;
    fs_store *cold = fs_build_cached(m, &id, 2, &st);
    cr_assert_eq(st.outcome, FCACHE_MISS_ABSENT, "%s", st.reason);
    cr_assert(st.stored, "%s", st.reason);
    fs_store *warm = fs_build_cached(m, &id, 2, &st);
    cr_assert_eq(st.outcome, FCACHE_HIT, "%s", st.reason);
    for (size_t f = 0; f < FS_N_FACTORS; f++)
        for (size_t i = 0; i < m->n_symbols; i++) {
            size_t bytes = market_len(m, i) * sizeof(double);
            cr_assert_eq(memcmp(fs_series(plain, f, i), fs_series(cold, f, i), bytes), 0, "%s", fs_factor_name(f));
            cr_assert_eq(memcmp(fs_series(plain, f, i), fs_series(warm, f, i), bytes), 0, "%s", fs_factor_name(f));
        }
    cr_assert_eq(fs_bytes(plain), fs_bytes(warm));
    fs_free(plain);
    fs_free(cold);
    fs_free(warm);
    market_free(m);
}

/* Rewrite the volume of symbol `sym`'s last row (same length, other digits). */
static void change_last_volume(size_t sym)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", data, names[sym]);
    cfx_bump_last_volume(path);
}

Test(factor_cache, a_changed_csv_file_is_a_miss_with_the_new_values)
{
    tb_data_id id0;
    tb_market *m0 = load_known(&id0);
    fcache_spec sp = fcache_spec_cost_stats();
    fcache_status st;
    fcache_arrays *a0 = get(&sp, m0, &id0, FCACHE_MISS_ABSENT, &st);
    char path0[4096];
    snprintf(path0, sizeof path0, "%s", st.path);
    fcache_release(get(&sp, m0, &id0, FCACHE_HIT, &st));

    change_last_volume(4);
    tb_data_id id1;
    tb_market *m1 = load_known(&id1);
    cr_assert_neq(memcmp(id0.w, id1.w, sizeof id0.w), 0, "new bars, new identity");
    fcache_arrays *a1 = get(&sp, m1, &id1, FCACHE_MISS_ABSENT, &st);
    cr_assert_str_neq(st.path, path0, "a new key");
    double *want = direct(&sp, m1);
    assert_arrays(a1, m1, 3, want, "after the change");
    size_t last = market_len(m1, 4) - 1; /* symbol 4's last bar: its ADV(20) moved */
    const tb_cost_stats *s0 = (const tb_cost_stats *)(const void *)fcache_series(a0, 0, 4);
    const tb_cost_stats *s1 = (const tb_cost_stats *)(const void *)fcache_series(a1, 0, 4);
    cr_assert_neq(s0[last].adv, s1[last].adv, "the new volume is in the statistics");
    fcache_release(a1);
    fcache_release(get(&sp, m1, &id1, FCACHE_HIT, &st));
    free(want);
    fcache_release(a0);
    market_free(m0);
    market_free(m1);
}

/* Damage the cost table's file with `how`: ignored (reason contains
 * expect), the values still right, the file rewritten and used next. */
static void damage_and_check(void (*how)(const char *path), const char *expect)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    fcache_spec sp = fcache_spec_cost_stats();
    fcache_status st;
    fcache_release(get(&sp, m, &id, FCACHE_MISS_ABSENT, &st));
    cr_assert(st.stored, "%s", st.reason);
    how(st.path);
    fcache_arrays *a = get(&sp, m, &id, FCACHE_MISS_INVALID, &st);
    cr_assert(strstr(st.reason, expect), "reason '%s' lacks '%s'", st.reason, expect);
    cr_assert(st.stored, "rewritten: %s", st.reason);
    double *want = direct(&sp, m);
    assert_arrays(a, m, 3, want, "after damage");
    fcache_release(a);
    a = get(&sp, m, &id, FCACHE_HIT, &st);
    assert_arrays(a, m, 3, want, "rewritten");
    fcache_release(a);
    free(want);
    market_free(m);
}

static void flip_value(const char *path)
{
    cfx_flip_byte_at(path, cfx_size_of(path) / 2); /* inside the values */
}

static void flip_offset(const char *path) { cfx_flip_byte_at(path, 192 + 8 * 3 + 1); }

static void foreign_header(const char *path) { cfx_write_magic(path, "NOTFACTS"); }

Test(factor_cache, a_flipped_value_is_caught_by_its_symbols_checksum) { damage_and_check(flip_value, "checksum"); }
Test(factor_cache, a_flipped_offset_is_caught) { damage_and_check(flip_offset, "checksum mismatch (offsets)"); }
Test(factor_cache, a_truncated_file_is_ignored) { damage_and_check(cfx_truncate_half, "length"); }
Test(factor_cache, a_foreign_header_is_ignored) { damage_and_check(foreign_header, "magic"); }
Test(factor_cache, a_tiny_file_is_ignored) { damage_and_check(cfx_tiny_file, "length"); }

/* An EMA spec whose computation "changed" (doubles every value) without a version bump. */
static void fill_changed(const fcache_spec *sp, const tb_market *m, size_t i, double *const *out, double *scratch)
{
    (void)scratch;
    size_t o = m->offset[i], n = market_len(m, i);
    ind_compute((ind_key){sp->a, sp->b}, m->high + o, m->low + o, m->close + o, n, out[0]);
    for (size_t t = 0; t < n; t++) out[0][t] *= 2;
}

Test(factor_cache, a_changed_computation_without_a_version_bump_is_caught)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    fcache_spec old = fcache_spec_indicator((ind_key){IND_EMA, 15}), now = old;
    old.fill = fill_changed;
    fcache_status st;
    fcache_release(get(&old, m, &id, FCACHE_MISS_ABSENT, &st));
    fcache_arrays *a = get(&now, m, &id, FCACHE_MISS_INVALID, &st);
    cr_assert(strstr(st.reason, "recomputed differs"), "%s", st.reason);
    double *want = direct(&now, m);
    assert_arrays(a, m, 1, want, "recomputed");
    fcache_release(a);
    free(want);
    /* a bumped version is simply another key */
    now.version++;
    fcache_release(get(&now, m, &id, FCACHE_MISS_ABSENT, &st));
    market_free(m);
}

Test(factor_cache, a_cut_market_reads_a_prefix_of_the_whole_loads_arrays)
{
    tb_data_id id;
    tb_market *full = load_known(&id), *cut = load(&id);
    market_truncate_after(cut, cut->ts[N_BARS / 2]);
    cr_assert_lt(cut->n_bars, full->n_bars);
    fcache_spec sp = fcache_spec_cost_stats();
    fcache_status st;

    /* no file yet: a cut market computes its own and stores nothing */
    cr_assert_null(fcache_lookup(&sp, cut, &id, 2, &st));
    cr_assert_eq(st.outcome, FCACHE_MISS_ABSENT);
    cr_assert(strstr(st.reason, "cut"), "%s", st.reason);
    double *want_cut = direct(&sp, cut);
    fcache_arrays *a = fcache_get(&sp, cut, &id, 2, &st);
    assert_arrays(a, cut, 3, want_cut, "computed for the cut market");
    fcache_release(a);
    cr_assert_eq(count_fact_files(), 0);
    tb_cost_table tab = {NULL};
    const size_t *toff = NULL;
    cr_assert_null(fcache_cost_table(cut, &id, 2, &tab, &toff, &st));

    /* the whole load stores the file; the cut market then reads its prefix */
    fcache_release(get(&sp, full, &id, FCACHE_MISS_ABSENT, &st));
    char path_full[4096];
    snprintf(path_full, sizeof path_full, "%s", st.path);
    a = get(&sp, cut, &id, FCACHE_HIT, &st);
    cr_assert_str_eq(st.path, path_full, "one file for every cut");
    assert_arrays(a, cut, 3, want_cut, "the cut market's prefix");
    fcache_release(a);
    fcache_arrays *t = fcache_cost_table(cut, &id, 2, &tab, &toff, &st);
    cr_assert_not_null(t);
    cr_assert_not_null(toff, "a cut market reads the table through the load's offsets");
    for (size_t i = 0; i < cut->n_symbols; i++)
        for (size_t k = 0; k < market_len(cut, i); k++)
            cr_assert_eq(memcmp(&tab.at[toff[i] + k], want_cut + (cut->offset[i] + k) * 3, 24), 0);
    fcache_release(t);
    t = fcache_cost_table(full, &id, 2, &tab, &toff, &st);
    cr_assert_null(toff, "the whole load reads it in its own layout");
    fcache_release(t);
    cr_assert_eq(count_fact_files(), 1);
    free(want_cut);
    market_free(full);
    market_free(cut);
}

static tb_market *load_synth(uint64_t seed, tb_data_id *id)
{
    tb_source s;
    source_defaults(&s);
    s.data = "synthetic";
    s.seed = seed;
    s.synth_symbols = 20;
    s.synth_bars = 300;
    const char *const want[] = {"SYN003", "SYN007", "SYN011"};
    tb_universe u;
    tb_error err = {0};
    tb_market *m = NULL;
    cr_assert_eq(universe_from_list(want, 3, &u, &err), 0, "%s", err.msg);
    cr_assert_eq(source_load_id(&s, &u, &m, id, &err), 0, "%s", err.msg);
    universe_free(&u);
    cr_assert(id->known);
    return m;
}

Test(factor_cache, synthetic_data_is_keyed_by_the_generators_parameters)
{
    tb_data_id a_id, b_id;
    tb_market *a = load_synth(5, &a_id), *b = load_synth(6, &b_id);
    cr_assert_neq(memcmp(a_id.w, b_id.w, sizeof a_id.w), 0);
    fcache_spec sp = fcache_spec_cost_stats();
    fcache_status st;
    fcache_release(get(&sp, a, &a_id, FCACHE_MISS_ABSENT, &st));
    fcache_release(get(&sp, b, &b_id, FCACHE_MISS_ABSENT, &st));
    fcache_arrays *h = get(&sp, a, &a_id, FCACHE_HIT, &st);
    double *want = direct(&sp, a);
    assert_arrays(h, a, 3, want, "synthetic");
    fcache_release(h);
    free(want);
    tb_data_id again;
    tb_market *a2 = load_synth(5, &again);
    cr_assert_eq(memcmp(a_id.w, again.w, sizeof again.w), 0, "the same parameters, the same identity");
    market_free(a);
    market_free(a2);
    market_free(b);
}

static void run_bt(const char *strategy, int64_t end, tb_backtest *bt)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = data;
    strategy_params_defaults(strategy_find(strategy), &c.strategy);
    c.end = end;
    tb_error err = {0};
    cr_assert_eq(backtest_run(&c, NULL, bt, &err), 0, "%s", err.msg);
}

static void assert_same_bt(const tb_backtest *a, const tb_backtest *b)
{
    cr_assert_eq(a->sim.T, b->sim.T);
    cr_assert_eq(a->sim.orders.n, b->sim.orders.n);
    cr_assert_gt(a->sim.orders.n, 10);
    size_t T = a->sim.T, n = a->sim.orders.n;
    cr_assert_eq(memcmp(a->sim.equity, b->sim.equity, T * sizeof(double)), 0, "equity");
    cr_assert_eq(memcmp(a->sim.cash, b->sim.cash, T * sizeof(double)), 0, "cash");
    cr_assert_eq(memcmp(a->sim.orders.qty, b->sim.orders.qty, n * sizeof(double)), 0, "qty");
    cr_assert_eq(memcmp(a->sim.orders.cost, b->sim.orders.cost, n * sizeof(double)), 0, "cost");
    cr_assert_eq(memcmp(a->sim.orders.sym, b->sim.orders.sym, n * sizeof(uint32_t)), 0, "sym");
    cr_assert_eq(memcmp(a->sim.orders.t, b->sim.orders.t, n * sizeof(uint32_t)), 0, "t");
    cr_assert_eq(memcmp(a->sig, b->sig, a->market->n_bars), 0, "signals");
    cr_assert_eq(memcmp(&a->metrics, &b->metrics, sizeof a->metrics), 0, "metrics");
}

Test(factor_cache, backtests_give_the_same_bits_with_and_without_the_cache)
{
    const char *strategies[] = {"trend_baseline", "ema_trend"};
    tb_data_id id;
    tb_market *m = load_known(&id); /* the panel cache holds the files: the bars have an identity */
    const int64_t end = m->ts[N_BARS * 3 / 4];
    market_free(m);
    for (size_t s = 0; s < 2; s++) {
        tb_backtest off_full, off_cut, cut_cold, full_cold, full_warm, cut_warm;
        setenv("TB_FACTOR_CACHE", "off", 1);
        size_t n0 = count_fact_files();
        run_bt(strategies[s], INT64_MAX, &off_full);
        run_bt(strategies[s], end, &off_cut);
        cr_assert_eq(count_fact_files(), n0, "off writes no factor file");
        unsetenv("TB_FACTOR_CACHE");
        run_bt(strategies[s], end, &cut_cold);
        cr_assert_eq(count_fact_files(), n0, "a cut market stores nothing");
        run_bt(strategies[s], INT64_MAX, &full_cold);
        cr_assert_gt(count_fact_files(), n0, "a cold run stores its arrays");
        size_t n1 = count_fact_files();
        run_bt(strategies[s], INT64_MAX, &full_warm);
        run_bt(strategies[s], end, &cut_warm); /* reads the prefixes of the whole load's arrays */
        cr_assert_eq(count_fact_files(), n1, "warm runs read them");
        assert_same_bt(&off_full, &full_cold);
        assert_same_bt(&off_full, &full_warm);
        assert_same_bt(&off_cut, &cut_cold);
        assert_same_bt(&off_cut, &cut_warm);
        backtest_free(&off_full);
        backtest_free(&off_cut);
        backtest_free(&cut_cold);
        backtest_free(&full_cold);
        backtest_free(&full_warm);
        backtest_free(&cut_warm);
    }
}

static void run_sweep(int64_t end, tb_sweep_result *r)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = data;
    c.end = end;
    tb_sweep_grid g;
    memset(&g, 0, sizeof g);
    tb_error err = {0};
    const tb_strategy_def *def = strategy_find("trend_baseline");
    const double fast[] = {5, 10}, slow[] = {30, 60};
    cr_assert_eq(sweep_grid_add(&g, def, "fast", fast, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(sweep_grid_add(&g, def, "slow", slow, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(sweep_run(&c, &g, 2, NULL, r, &err), 0, "%s", err.msg);
    sweep_grid_free(&g);
}

Test(factor_cache, sweeps_give_the_same_bits_with_and_without_the_cache)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    const int64_t end = m->ts[N_BARS * 2 / 3];
    market_free(m);
    tb_sweep_result off, cold, warm, off_cut, cut;
    setenv("TB_FACTOR_CACHE", "off", 1);
    run_sweep(INT64_MAX, &off);
    run_sweep(end, &off_cut);
    unsetenv("TB_FACTOR_CACHE");
    run_sweep(INT64_MAX, &cold);
    cr_assert_eq(count_fact_files(), 1, "the cost table");
    run_sweep(INT64_MAX, &warm);
    run_sweep(end, &cut); /* the whole load's table, through its offsets */
    cr_assert_eq(count_fact_files(), 1);
    cr_assert_eq(off.n_members, 4);
    for (size_t j = 0; j < off.n_members; j++) {
        cr_assert_eq(memcmp(&off.members[j].metrics, &cold.members[j].metrics, sizeof(tb_metrics)), 0, "member %zu", j);
        cr_assert_eq(memcmp(&off.members[j].metrics, &warm.members[j].metrics, sizeof(tb_metrics)), 0, "member %zu", j);
        cr_assert_eq(memcmp(&off_cut.members[j].metrics, &cut.members[j].metrics, sizeof(tb_metrics)), 0, "cut %zu", j);
    }
    cr_assert_neq(off.members[0].metrics.total_return, off_cut.members[0].metrics.total_return, "the cut matters");
    sweep_result_free(&off);
    sweep_result_free(&cold);
    sweep_result_free(&warm);
    sweep_result_free(&off_cut);
    sweep_result_free(&cut);
}

Test(factor_cache, off_writes_no_files)
{
    setenv("TB_CACHE_DIR", "off", 1);
    tb_data_id id;
    tb_market *m = load(&id);
    cr_assert_not(id.known, "no panel cache, no identity");
    cr_assert_not(fcache_usable(&id));
    fcache_spec sp = fcache_spec_cost_stats();
    fcache_status st;
    cr_assert_null(fcache_lookup(&sp, m, &id, 2, &st));
    fcache_arrays *a = get(&sp, m, &id, FCACHE_OFF, &st);
    cr_assert_not(st.stored);
    double *want = direct(&sp, m);
    assert_arrays(a, m, 3, want, "computed without a cache");
    fcache_release(a);
    free(want);
    market_free(m);
    tb_backtest bt;
    run_bt("ema_trend", INT64_MAX, &bt);
    backtest_free(&bt);
    struct stat s;
    cr_assert_neq(stat(cache, &s), 0, "no cache directory was created");

    /* the factor cache alone off: panel files, no factor files */
    setenv("TB_CACHE_DIR", cache, 1);
    setenv("TB_FACTOR_CACHE", "off", 1);
    market_free(load_known(&id));
    cr_assert_not(fcache_usable(&id));
    run_bt("ema_trend", INT64_MAX, &bt);
    backtest_free(&bt);
    cr_assert_eq(stat(cache, &s), 0, "the panel cache is on");
    cr_assert_eq(count_fact_files(), 0);
}

Test(factor_cache, bars_without_a_panel_cache_identity_are_not_cached)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", data, names[2]);
    cfx_age_file(path, 0); /* modified just now: the panel cache does not take the files yet */
    tb_data_id id;
    tb_market *m = load(&id);
    cr_assert_not(id.known);
    market_free(m);
    tb_backtest bt;
    run_bt("ema_trend", INT64_MAX, &bt);
    backtest_free(&bt);
    cr_assert_eq(count_fact_files(), 0);
}

Test(factor_cache, the_size_bound_removes_the_oldest_files)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    setenv("TB_CACHE_MAX_MB", "1", 1);
    fcache_status st;
    for (int n = 2; n < 40; n++) { /* 40 indicator files of 32 KB each, plus the panel's */
        fcache_spec sp = fcache_spec_indicator((ind_key){IND_SMA, n});
        fcache_release(fcache_get(&sp, m, &id, 1, &st));
        cr_assert(st.stored, "%s", st.reason);
    }
    unsetenv("TB_CACHE_MAX_MB");
    size_t total = 0, files = 0;
    DIR *d = opendir(cache);
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[600];
        struct stat s;
        snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
        if (e->d_name[0] != '.' && !stat(p, &s)) total += (size_t)s.st_size, files++;
    }
    closedir(d);
    cr_assert_leq(total, (size_t)1 << 20, "%zu bytes in %zu files", total, files);
    fcache_spec last = fcache_spec_indicator((ind_key){IND_SMA, 39});
    fcache_release(get(&last, m, &id, FCACHE_HIT, &st)); /* the newest stays */
    market_free(m);
}

/* The ML dataset of the CSV universe through ml_inputs_load (trend_baseline,
 * default labels), cut at `end` unless INT64_MAX. */
static void build_dataset(int64_t end, ml_dataset *d)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = data;
    c.end = end;
    ml_label_params lp;
    ml_label_defaults(&lp);
    ml_inputs in;
    tb_error err = {0};
    cr_assert_eq(ml_inputs_load(&c, NULL, NULL, &in, &err), 0, "%s", err.msg);
    cr_assert_eq(ml_dataset_build(in.fs, in.sig, in.lo, in.hi, &lp, d, &err), 0, "%s", err.msg);
    ml_inputs_free(&in);
}

static void assert_same_dataset(const ml_dataset *a, const ml_dataset *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: rows", what);
    cr_assert_gt(a->n, 20, "%s: a dataset worth comparing", what);
    size_t n = a->n;
    cr_assert_eq(memcmp(a->ts, b->ts, n * sizeof *a->ts), 0, "%s: ts", what);
    cr_assert_eq(memcmp(a->sym, b->sym, n * sizeof *a->sym), 0, "%s: sym", what);
    for (size_t k = 0; k < ML_N_FEATURES; k++)
        cr_assert_eq(memcmp(a->x[k], b->x[k], n * sizeof(double)), 0, "%s: %s", what, ml_feature_names[k]);
    cr_assert_eq(memcmp(a->label, b->label, n), 0, "%s: label", what);
    cr_assert_eq(memcmp(a->t1, b->t1, n * sizeof *a->t1), 0, "%s: t1", what);
    cr_assert_eq(memcmp(a->ret, b->ret, n * sizeof *a->ret), 0, "%s: ret", what);
    cr_assert_eq(memcmp(&a->stats, &b->stats, sizeof a->stats), 0, "%s: build statistics", what);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(factor_cache, the_ml_dataset_is_the_same_bits_with_and_without_the_cache)
{
    tb_data_id id;
    tb_market *m = load_known(&id);
    const int64_t end = m->ts[N_BARS * 3 / 4];
    market_free(m);
    ml_dataset off, off_cut, cut_cold, cold, warm, cut_warm;
    setenv("TB_FACTOR_CACHE", "off", 1);
    build_dataset(INT64_MAX, &off);
    build_dataset(end, &off_cut);
    cr_assert_eq(count_fact_files(), 0, "off writes no factor file");
    unsetenv("TB_FACTOR_CACHE");
    build_dataset(end, &cut_cold);
    cr_assert_eq(count_fact_files(), 0, "a cut market stores nothing");
    build_dataset(INT64_MAX, &cold);
    cr_assert_eq(count_fact_files(), 1, "the factor store of the whole load");
    build_dataset(INT64_MAX, &warm);
    build_dataset(end, &cut_warm); /* prefixes of the whole load's factors */
    cr_assert_eq(count_fact_files(), 1);

    /* the warm runs did map the file */
    fcache_status st;
    m = load_known(&id);
    fs_free(fs_build_cached(m, &id, 2, &st));
    cr_assert_eq(st.outcome, FCACHE_HIT, "%s", st.reason);
    market_free(m);

    assert_same_dataset(&off, &cold, "cold");
    assert_same_dataset(&off, &warm, "warm");
    assert_same_dataset(&off_cut, &cut_cold, "cut, cold");
    assert_same_dataset(&off_cut, &cut_warm, "cut, warm");
    cr_assert_lt(off_cut.n, off.n, "the cut matters");

    /* a meta-filtered backtest: the features at its entries come from the same store */
    ml_train_params tp;
    ml_train_params_defaults(&tp);
    tp.n_rounds = 10;
    tp.nthread = 1;
    tp.min_child_weight = 0; /* a few dozen rows: let the trees split */
    tp.subsample = 1;
    float *X = malloc(off.n * ML_N_FEATURES * sizeof *X);
    ml_dataset_to_f32(&off, X);
    ml_model *model = NULL;
    tb_error err = {0};
    cr_assert_eq(ml_model_train(X, off.label, off.n, &tp, NULL, &model, &err), 0, "%s", err.msg);
    double *prob = malloc(off.n * sizeof *prob); /* the threshold: the median probability, about half pass */
    cr_assert_eq(ml_model_predict(model, X, off.n, prob, &err), 0, "%s", err.msg);
    qsort(prob, off.n, sizeof *prob, cmp_double);
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = data;
    c.meta.model = model;
    c.meta.threshold = prob[off.n / 2];
    free(prob);
    free(X);
    tb_backtest f_off, f_warm;
    setenv("TB_FACTOR_CACHE", "off", 1);
    cr_assert_eq(backtest_run(&c, NULL, &f_off, &err), 0, "%s", err.msg);
    unsetenv("TB_FACTOR_CACHE");
    cr_assert_eq(backtest_run(&c, NULL, &f_warm, &err), 0, "%s", err.msg);
    cr_assert_gt(f_off.meta.n_entries, 0);
    cr_assert_gt(f_off.meta.n_passed, 0, "the filter keeps entries");
    cr_assert_lt(f_off.meta.n_passed, f_off.meta.n_entries, "and drops some");
    cr_assert_eq(f_off.meta.n_passed, f_warm.meta.n_passed);
    cr_assert_eq(f_off.meta.n_undefined, f_warm.meta.n_undefined);
    cr_assert_eq(memcmp(&f_off.meta.base, &f_warm.meta.base, sizeof f_off.meta.base), 0, "the base run's metrics");
    assert_same_bt(&f_off, &f_warm);
    backtest_free(&f_off);
    backtest_free(&f_warm);
    ml_model_free(model);

    ml_dataset_free(&off);
    ml_dataset_free(&off_cut);
    ml_dataset_free(&cut_cold);
    ml_dataset_free(&cold);
    ml_dataset_free(&warm);
    ml_dataset_free(&cut_warm);
}
