/* cache_fixtures.h — fixtures shared by the cache tests (test_panel_cache.c,
 * test_factor_cache.c). Header-only, every function static inline, so it is
 * no test of its own (the CMake glob takes test_*.c) and each test takes
 * what it uses.
 *
 * A universe: a mkdtemp directory holding data/ (a synthetic market exported
 * as CSV files, back-dated an hour so the panel cache takes them) and the
 * name of cache/ (created by the first store), with TB_CACHE_DIR pointing at
 * it; removed whole at the end. And the ways the tests change or damage
 * files: a CSV row's volume rewritten, a byte flipped, a file truncated, a
 * foreign magic, a tiny file. Failures are Criterion assertions. */
#ifndef TB_TEST_CACHE_FIXTURES_H
#define TB_TEST_CACHE_FIXTURES_H

#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "market.h"
#include "synth.h"

#define CFX_ROOT_LEN 256 /* size of the root buffer */
#define CFX_PATH_LEN 300 /* size of the data and cache buffers */

static inline void cfx_rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    cr_assert_eq(system(cmd), 0);
}

/* Set a file's mtime to `age` seconds ago (its ctime becomes now; the panel
 * cache keys on both but only refuses files whose mtime is recent). */
static inline void cfx_age_file(const char *path, int age)
{
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age;
    t[1] = t[0];
    cr_assert_eq(utimensat(AT_FDCWD, path, t, 0), 0, "utimensat %s", path);
}

/* Make a universe: root[CFX_ROOT_LEN] from the mkdtemp template tmpl,
 * data[CFX_PATH_LEN] = root/data with p's synthetic symbols (their names
 * strdup'd into names[0..p->n_symbols), freed by cfx_universe_remove),
 * cache[CFX_PATH_LEN] = root/cache, and TB_CACHE_DIR set to it. */
static inline void cfx_universe_make(const char *tmpl, const tb_synth_params *p, char *root, char *data,
                                     char *cache, char **names)
{
    snprintf(root, CFX_ROOT_LEN, "%s", tmpl);
    cr_assert_not_null(mkdtemp(root));
    snprintf(data, CFX_PATH_LEN, "%s/data", root);
    snprintf(cache, CFX_PATH_LEN, "%s/cache", root);
    tb_market *m = NULL;
    tb_error err = {0};
    cr_assert_eq(synth_generate(p, NULL, 0, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(synth_export_csv(m, data, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < p->n_symbols; i++) {
        char path[400];
        names[i] = strdup(m->symbols[i]);
        snprintf(path, sizeof path, "%s/%s.csv", data, names[i]);
        cfx_age_file(path, 3600);
    }
    market_free(m);
    setenv("TB_CACHE_DIR", cache, 1);
}

/* Undo cfx_universe_make: free names[0..n), unset TB_CACHE_DIR, remove root. */
static inline void cfx_universe_remove(const char *root, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    unsetenv("TB_CACHE_DIR");
    cfx_rm_rf(root);
}

/* Rewrite the volume of the CSV file's last row with a different value of
 * the same length (the size stays: only the timestamps tell), then set its
 * mtime half an hour back: old enough for the panel cache, but not the
 * recorded one. */
static inline void cfx_bump_last_volume(const char *path)
{
    FILE *f = fopen(path, "r+");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    char *buf = calloc(1, (size_t)len + 1);
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    char *last = buf + len - 2;
    while (last > buf && *last != '\n') last--;
    char *vol = strrchr(last + 1, ',') + 1; /* date,open,high,low,close,volume: volume has no bound but >= 0 */
    cr_assert(vol[0] >= '0' && vol[0] <= '9');
    vol[0] = vol[0] == '9' ? '1' : (char)(vol[0] + 1);
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fwrite(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    free(buf);
    cfx_age_file(path, 1800);
}

static inline void cfx_flip_byte_at(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static inline off_t cfx_size_of(const char *path)
{
    struct stat s;
    cr_assert_eq(stat(path, &s), 0, "stat %s", path);
    return s.st_size;
}

static inline void cfx_truncate_half(const char *path)
{
    cr_assert_eq(truncate(path, cfx_size_of(path) / 2), 0);
}

/* Overwrite the file's first 8 bytes (its magic). */
static inline void cfx_write_magic(const char *path, const char magic[8])
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, magic, 8, 0), 8);
    close(fd);
}

static inline void cfx_tiny_file(const char *path)
{
    FILE *f = fopen(path, "w");
    fputs("junk", f);
    fclose(f);
}

#endif
