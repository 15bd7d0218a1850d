/*
 * test_cache_cli — the panel cache as the command line sees it (real
 * `tradebench` binary, no database): a second backtest over a CSV directory
 * reads the cache and writes byte-identical artifacts; a changed CSV file is
 * re-read (the results equal a run without the cache on the new data, and
 * differ from the old ones) and the cache file is replaced; a damaged cache
 * file is ignored and rewritten. Data come from `tradebench data synth`,
 * back-dated so the files are old enough to be cached.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef TB_CLI_BIN
#error "TB_CLI_BIN must be defined by CMake"
#endif

static char root[256];

static void fini(void)
{
    if (root[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
}

TestSuite(cache_cli, .fini = fini, .timeout = 180);

/* Run the CLI with TB_CACHE_DIR = cache ("off" to disable); must exit 0. */
static void tb(const char *cache, char *const argv[])
{
    char log[320], env_cache[400];
    snprintf(log, sizeof log, "%s/cli.log", root);
    snprintf(env_cache, sizeof env_cache, "TB_CACHE_DIR=%s", cache);
    const char *env[] = { env_cache, "TB_DATA=", NULL };
    pid_t pid = harness_spawn(TB_CLI_BIN, argv, env, log);
    int rc = harness_wait(pid, 120000);
    char *text = harness_slurp(log);
    cr_assert_eq(rc, 0, "tradebench %s exit %d: %s", argv[1], rc, text ? text : "");
    free(text);
}

static void backtest(const char *cache, const char *data, const char *out)
{
    char *argv[] = { (char *)TB_CLI_BIN, "backtest", "--data", (char *)data, "--strategy", "trend_baseline",
                     "--param", "fast=5", "--param", "slow=20", "--out", (char *)out, NULL };
    tb(cache, argv);
}

static void synth(const char *seed, const char *out)
{
    char *argv[] = { (char *)TB_CLI_BIN, "data", "synth", "--symbols", "6", "--bars", "400", "--seed", (char *)seed,
                     "--out", (char *)out, NULL };
    tb("off", argv);
}

/* Every file of dir gets an mtime `age` seconds in the past. */
static void age_dir(const char *dir, int age)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct timespec t[2];
    cr_assert_not_null(d);
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age;
    t[1] = t[0];
    while ((e = readdir(d))) {
        char p[600];
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
    }
    closedir(d);
}

/* The one cache file in dir (path into out), its inode. */
static ino_t cache_file(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    cr_assert_not_null(d, "no cache directory %s", dir);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "panel-", 6)) continue;
        cr_assert_not(found, "one cache file expected in %s", dir);
        snprintf(out, n, "%s/%s", dir, e->d_name);
        found = 1;
    }
    closedir(d);
    cr_assert(found, "no cache file in %s", dir);
    struct stat st;
    cr_assert_eq(stat(out, &st), 0);
    return st.st_ino;
}

static int same_file(const char *a, const char *b)
{
    char *x = harness_slurp(a), *y = harness_slurp(b);
    cr_assert(x && y, "%s or %s missing", a, b);
    int same = !strcmp(x, y);
    free(x);
    free(y);
    return same;
}

/* orders, equity curve and metrics.json of two output directories. */
static int same_results(const char *a, const char *b)
{
    static const char *const names[] = { "orders_1d.csv", "equity_curve_1d.csv", "metrics.json" };
    int same = 1;
    for (size_t i = 0; i < 3; i++) {
        char pa[400], pb[400];
        snprintf(pa, sizeof pa, "%s/%s", a, names[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, names[i]);
        same &= same_file(pa, pb);
    }
    return same;
}

Test(cache_cli, a_changed_csv_file_is_reread_and_results_match_a_fresh_parse)
{
    char data[300], other[300], cache[300], path[600], o[6][300];
    snprintf(root, sizeof root, "/tmp/tb-it-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(other, sizeof other, "%s/other", root);
    snprintf(cache, sizeof cache, "%s/cache", root);
    for (int i = 0; i < 6; i++) snprintf(o[i], sizeof o[i], "%s/out%d", root, i);
    synth("3", data);
    synth("4", other);
    age_dir(data, 3600);

    backtest(cache, data, o[0]); /* cold: parses, writes the cache */
    ino_t ino = cache_file(cache, path, sizeof path);
    backtest(cache, data, o[1]); /* warm: maps the cache */
    backtest("off", data, o[2]); /* no cache */
    cr_assert(same_results(o[0], o[1]), "warm run differs from the cold one");
    cr_assert(same_results(o[0], o[2]), "cached runs differ from an uncached one");
    cr_assert_eq(cache_file(cache, path, sizeof path), ino, "a hit leaves the cache file alone");

    /* Replace one symbol's file with different bars; an old mtime, but not the recorded one. */
    char from[400], to[400], cmd[900];
    snprintf(from, sizeof from, "%s/SYN002.csv", other);
    snprintf(to, sizeof to, "%s/SYN002.csv", data);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    cr_assert_eq(system(cmd), 0);
    age_dir(data, 1800);
    backtest(cache, data, o[3]);
    backtest("off", data, o[4]);
    cr_assert(same_results(o[3], o[4]), "the changed file was not re-read");
    cr_assert_not(same_results(o[3], o[0]), "new data must give new results");
    cr_assert_neq(cache_file(cache, path, sizeof path), ino, "the stale cache file was replaced");

    /* A damaged cache file: ignored, results still right, rewritten. */
    ino = cache_file(cache, path, sizeof path);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, -64, SEEK_END);
    fputs("garbage garbage garbage", f);
    fclose(f);
    backtest(cache, data, o[5]);
    cr_assert(same_results(o[5], o[4]), "a damaged cache changed the results");
    cr_assert_neq(cache_file(cache, path, sizeof path), ino, "the damaged file was rewritten");
}
