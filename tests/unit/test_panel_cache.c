/* test_panel_cache.c — the binary panel cache (engine/panel_cache.c): a
 * second load maps the cache and gives bit-identical bars; a changed CSV file
 * (new values, or only a new mtime) is re-read and the cache rewritten; a
 * damaged cache file (flipped byte, truncation, foreign header) is ignored and
 * rewritten; fresh files are not cached yet; TB_CACHE_DIR=off disables it;
 * concurrent cold loads all succeed; and a whole backtest renders
 * byte-identical artifacts with and without the cache.
 * Each test works in its own mkdtemp directory (data/ and cache/), removed at
 * the end; data files are back-dated so they are old enough to be cached
 * (cache_fixtures.h). */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "artifacts.h"
#include "backtest.h"
#include "cache_fixtures.h"
#include "csv_reader.h"
#include "market.h"
#include "panel_cache.h"
#include "synth.h"

#define N_SYM 12
#define N_BARS 400

static char root[CFX_ROOT_LEN], data[CFX_PATH_LEN], cache[CFX_PATH_LEN];
static char *names[N_SYM];

static void setup(void)
{
    tb_synth_params p = {7, N_SYM, N_BARS, TB_FREQ_1D};
    cfx_universe_make("/tmp/tb-pcache-XXXXXX", &p, root, data, cache, names);
}

static void teardown(void) { cfx_universe_remove(root, names, N_SYM); }

TestSuite(panel_cache, .init = setup, .fini = teardown, .timeout = 60);

static tb_market *load(size_t n, pcache_status *st)
{
    tb_market *m = NULL;
    tb_error err = {0};
    int rc = pcache_csv_load(data, (const char *const *)names, n, TB_FREQ_1D, &m, st, &err);
    cr_assert_eq(rc, 0, "load: %s", err.msg);
    return m;
}

static tb_market *load_plain(size_t n)
{
    tb_market *m = NULL;
    tb_error err = {0};
    cr_assert_eq(csv_load(data, (const char *const *)names, n, TB_FREQ_1D, &m, &err), 0, "%s", err.msg);
    return m;
}

static void assert_same(const tb_market *a, const tb_market *b)
{
    cr_assert_eq(a->n_symbols, b->n_symbols);
    cr_assert_eq(a->n_bars, b->n_bars);
    for (size_t i = 0; i < a->n_symbols; i++) {
        cr_assert_str_eq(a->symbols[i], b->symbols[i]);
        cr_assert_eq(a->offset[i + 1], b->offset[i + 1]);
    }
    size_t bytes = a->n_bars * 8;
    cr_assert_eq(memcmp(a->ts, b->ts, bytes), 0, "ts differ");
    cr_assert_eq(memcmp(a->open, b->open, bytes), 0, "open differ");
    cr_assert_eq(memcmp(a->high, b->high, bytes), 0, "high differ");
    cr_assert_eq(memcmp(a->low, b->low, bytes), 0, "low differ");
    cr_assert_eq(memcmp(a->close, b->close, bytes), 0, "close differ");
    cr_assert_eq(memcmp(a->volume, b->volume, bytes), 0, "volume differ");
}

static ino_t inode_of(const char *path)
{
    struct stat s;
    cr_assert_eq(stat(path, &s), 0, "stat %s", path);
    return s.st_ino;
}

Test(panel_cache, second_load_maps_the_cache_and_matches_the_parser)
{
    pcache_status st;
    tb_market *cold = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_MISS_ABSENT, "outcome %s (%s)", pcache_outcome_name(st.outcome), st.reason);
    cr_assert(st.stored, "not stored: %s", st.reason);
    cr_assert_null(cold->map, "a cold load is parsed");
    tb_market *warm = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT, "outcome %s (%s)", pcache_outcome_name(st.outcome), st.reason);
    cr_assert_not(st.stored);
    cr_assert_not_null(warm->map, "a warm load maps the file");
    tb_market *plain = load_plain(N_SYM);
    assert_same(cold, plain);
    assert_same(warm, plain);
    market_free(cold);
    market_free(warm);
    market_free(plain);

    /* A different universe is a different key. */
    tb_market *sub = load(N_SYM - 3, &st);
    cr_assert_eq(st.outcome, PCACHE_MISS_ABSENT);
    market_free(sub);
}

Test(panel_cache, a_changed_csv_file_is_reread_and_the_cache_rewritten)
{
    pcache_status st;
    market_free(load(N_SYM, &st));
    cr_assert(st.stored, "%s", st.reason);
    tb_market *before = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT);
    ino_t ino0 = inode_of(st.path);

    /* Rewrite the volume of symbol 3's last row with a different value of
     * the same length: the size stays, only the timestamps tell. */
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", data, names[3]);
    cfx_bump_last_volume(path);

    tb_market *after = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_MISS_STALE, "outcome %s (%s)", pcache_outcome_name(st.outcome), st.reason);
    cr_assert(strstr(st.reason, names[3]), "reason names the file: %s", st.reason);
    cr_assert(st.stored, "rewritten: %s", st.reason);
    size_t last_bar = after->offset[4] - 1;
    cr_assert_neq(after->volume[last_bar], before->volume[last_bar], "the new value is read");
    tb_market *plain = load_plain(N_SYM);
    assert_same(after, plain);

    tb_market *again = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT, "the rewritten cache is used: %s", st.reason);
    cr_assert_neq(inode_of(st.path), ino0, "a new file replaced the old one");
    assert_same(again, plain);
    market_free(before);
    market_free(after);
    market_free(plain);
    market_free(again);
}

Test(panel_cache, touching_a_file_invalidates_the_cache)
{
    pcache_status st;
    market_free(load(N_SYM, &st));
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", data, names[0]);
    cfx_age_file(path, 60);
    market_free(load(N_SYM, &st));
    cr_assert_eq(st.outcome, PCACHE_MISS_STALE, "%s", st.reason);
    cr_assert(st.stored, "%s", st.reason);
    market_free(load(N_SYM, &st));
    cr_assert_eq(st.outcome, PCACHE_HIT, "%s", st.reason);
}

Test(panel_cache, a_removed_file_fails_the_load_naming_it)
{
    pcache_status st;
    market_free(load(N_SYM, &st));
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", data, names[5]);
    cr_assert_eq(unlink(path), 0);
    tb_market *m = NULL;
    tb_error err = {0};
    cr_assert_eq(pcache_csv_load(data, (const char *const *)names, N_SYM, TB_FREQ_1D, &m, &st, &err), -1);
    cr_assert(strstr(err.msg, names[5]), "%s", err.msg);
    cr_assert_null(m);
}

/* Damage the cache file with `how`, then expect an ignored file, a correct
 * load and a rewritten cache that the next load uses. */
static void damage_and_check(void (*how)(const char *path), const char *expect_reason)
{
    pcache_status st;
    market_free(load(N_SYM, &st));
    cr_assert(st.stored, "%s", st.reason);
    how(st.path);
    tb_market *m = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_MISS_INVALID, "outcome %s (%s)", pcache_outcome_name(st.outcome), st.reason);
    cr_assert(strstr(st.reason, expect_reason), "reason '%s' lacks '%s'", st.reason, expect_reason);
    cr_assert(st.stored, "rewritten: %s", st.reason);
    tb_market *plain = load_plain(N_SYM);
    assert_same(m, plain);
    market_free(m);
    tb_market *again = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT, "%s", st.reason);
    assert_same(again, plain);
    market_free(again);
    market_free(plain);
}

static void flip_data_byte(const char *path)
{
    cfx_flip_byte_at(path, cfx_size_of(path) - 100); /* inside volume[] */
}

static void foreign_header(const char *path) { cfx_write_magic(path, "NOTPANEL"); }

Test(panel_cache, a_flipped_byte_is_caught_by_the_checksum) { damage_and_check(flip_data_byte, "checksum"); }
Test(panel_cache, a_truncated_file_is_ignored) { damage_and_check(cfx_truncate_half, "lengths"); }
Test(panel_cache, a_foreign_header_is_ignored) { damage_and_check(foreign_header, "magic"); }
Test(panel_cache, a_tiny_file_is_ignored) { damage_and_check(cfx_tiny_file, "shorter"); }

Test(panel_cache, fresh_files_are_not_cached_yet)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", data, names[1]);
    cfx_age_file(path, 0); /* modified just now */
    pcache_status st;
    tb_market *m = load(N_SYM, &st);
    cr_assert_not(st.stored);
    cr_assert(strstr(st.reason, "not cached yet"), "%s", st.reason);
    market_free(m);
    market_free(load(N_SYM, &st));
    cr_assert_eq(st.outcome, PCACHE_MISS_ABSENT);
}

Test(panel_cache, off_disables_it)
{
    setenv("TB_CACHE_DIR", "off", 1);
    pcache_status st;
    market_free(load(N_SYM, &st));
    market_free(load(N_SYM, &st));
    cr_assert_eq(st.outcome, PCACHE_OFF);
    cr_assert_not(st.stored);
    struct stat s;
    cr_assert_neq(stat(cache, &s), 0, "no cache directory was created");
}

Test(panel_cache, truncating_a_mapped_market_leaves_the_file_intact)
{
    pcache_status st;
    market_free(load(N_SYM, &st));
    tb_market *m = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT);
    int64_t cut = m->ts[m->offset[1] - 50];
    market_truncate_after(m, cut); /* compacts the arrays in place: copy-on-write pages */
    cr_assert_lt(m->n_bars, (size_t)N_SYM * N_BARS);
    market_free(m);
    tb_market *again = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT, "the file is unchanged: %s", st.reason);
    tb_market *plain = load_plain(N_SYM);
    assert_same(again, plain);
    market_free(again);
    market_free(plain);
}

Test(panel_cache, growing_a_mapped_market_copies_it_first)
{
    pcache_status st;
    market_free(load(N_SYM, &st));
    tb_market *m = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT);
    size_t n = m->n_bars;
    double last_close = m->close[n - 1];
    market_add_symbol(m, "EXTRA");
    market_push_bar(m, 1, 1, 1, 1, 1, 1);
    market_finish(m);
    cr_assert_null(m->map);
    cr_assert_eq(m->n_bars, n + 1);
    cr_assert_eq(m->close[n - 1], last_close);
    market_free(m);
}

Test(panel_cache, concurrent_cold_loads_all_succeed)
{
    enum { KIDS = 4 };
    pid_t kid[KIDS];
    for (int k = 0; k < KIDS; k++) {
        kid[k] = fork();
        cr_assert_geq(kid[k], 0);
        if (kid[k] == 0) {
            tb_market *m = NULL, *plain = NULL;
            tb_error err = {0};
            int ok = !pcache_csv_load(data, (const char *const *)names, N_SYM, TB_FREQ_1D, &m, NULL, &err) &&
                     !csv_load(data, (const char *const *)names, N_SYM, TB_FREQ_1D, &plain, &err) &&
                     m->n_bars == plain->n_bars && !memcmp(m->close, plain->close, m->n_bars * 8);
            _exit(ok ? 0 : 1);
        }
    }
    for (int k = 0; k < KIDS; k++) {
        int status;
        cr_assert_eq(waitpid(kid[k], &status, 0), kid[k]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed", k);
    }
    pcache_status st;
    tb_market *m = load(N_SYM, &st);
    cr_assert_eq(st.outcome, PCACHE_HIT, "the winner's file is whole: %s", st.reason);
    market_free(m);
}

/* Every artifact of a backtest over the data directory, rendered to memory. */
static char *render(const char *label, size_t *len)
{
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = data;
    tb_backtest bt;
    tb_error err = {0};
    cr_assert_eq(backtest_run(&c, NULL, &bt, &err), 0, "%s: %s", label, err.msg);
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_eq(art_write_orders(f, &bt), 0);
    cr_assert_eq(art_write_equity(f, &bt), 0);
    cr_assert_eq(art_write_metrics_json(f, &bt), 0);
    cr_assert_eq(art_write_targets(f, &bt, &c), 0);
    fclose(f);
    backtest_free(&bt);
    return buf;
}

Test(panel_cache, artifacts_are_byte_identical_with_and_without_the_cache)
{
    size_t l_off, l_cold, l_warm;
    setenv("TB_CACHE_DIR", "off", 1);
    char *off = render("off", &l_off);
    setenv("TB_CACHE_DIR", cache, 1);
    char *cold = render("cold", &l_cold);
    pcache_status st;
    market_free(load(N_SYM, &st));
    cr_assert_eq(st.outcome, PCACHE_HIT, "the backtest wrote the cache: %s", st.reason);
    char *warm = render("warm", &l_warm);
    cr_assert_gt(l_off, 1000);
    cr_assert(l_off == l_cold && !memcmp(off, cold, l_off), "cold differs from no cache");
    cr_assert(l_off == l_warm && !memcmp(off, warm, l_off), "warm differs from no cache");
    free(off);
    free(cold);
    free(warm);
}
