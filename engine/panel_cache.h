/* panel_cache.h — a binary cache of parsed CSV directories, so that repeated
 * runs over the same files skip parsing (issue 6, P3 load path).
 *
 * After csv_load() has parsed and validated a universe's files, the bars are
 * written to one cache file (`<cache dir>/panel-<key hash>.tbp`) keyed by the
 * directory's real path, the frequency, the ordered symbol list and the
 * reader version (CSV_READER_VERSION), and recording each source file's size,
 * mtime, ctime, inode and device. The next load of the same key maps the file
 * (mmap MAP_PRIVATE: the market's arrays point into it, zero copies) after
 * checking, in this order: magic, byte order, format and reader versions,
 * frequency, counts and every offset against the file's length, the
 * directory and symbol names, every source file's stat, a checksum of
 * everything after the header, and that each symbol's timestamps ascend.
 * Anything off is a miss: the CSV files are parsed and the file rewritten.
 *
 * Writes are atomic (a private temporary file in the cache directory, then
 * rename), so concurrent processes only ever see whole files, and a file
 * mapped by one process stays valid while another replaces it. A file
 * modified within the last PCACHE_RACY_SECONDS is not cached (its mtime
 * could still be reused by a same-size write in the same clock tick).
 *
 * Where: $TB_CACHE_DIR, default "var/cache" (relative to the working
 * directory); TB_CACHE_DIR=off disables the cache. A cache that cannot be
 * read or written never fails a load: it is skipped. Never prints.
 *
 * A load's status identifies the bars by the file's key and checksum (no
 * re-hashing), which the factor cache (factor_cache.h) keys its derived
 * arrays on; its files share the directory, the size bound, the checksum and
 * the writing helpers below (temporary file, then rename). */
#ifndef TB_PANEL_CACHE_H
#define TB_PANEL_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "tb_error.h"

#define PCACHE_FORMAT_VERSION 1
#define PCACHE_DEFAULT_DIR "var/cache"
#define PCACHE_RACY_SECONDS 2
#define PCACHE_DEFAULT_MAX_MB 4096 /* TB_CACHE_MAX_MB: the oldest files go beyond it */

typedef enum {
    PCACHE_OFF = 0,      /* caching disabled (TB_CACHE_DIR=off) or the key could not be built */
    PCACHE_HIT,          /* the bars came from the cache file */
    PCACHE_MISS_ABSENT,  /* no cache file for this key */
    PCACHE_MISS_STALE,   /* a source file changed (size, mtime, ctime, inode) or vanished */
    PCACHE_MISS_INVALID  /* the cache file is damaged or of another version: ignored */
} pcache_outcome;

typedef struct pcache_status {
    pcache_outcome outcome;  /* what the lookup found */
    int stored;              /* a cache file was written by this load */
    int identified;          /* the bars are exactly a checked cache file's (a hit, or the file just
                                written): key_hash and checksum below identify them */
    uint64_t key_hash;       /* the key (directory, names, freq, versions) */
    uint64_t checksum;       /* of the file's body: the source files' stat records and every bar */
    char path[4096];         /* the cache file of this key ("" when off) */
    char reason[256];        /* why the file was not used, or not written ("" otherwise) */
} pcache_status;

/* Load symbols[0..n) of the CSV directory `dir` (as csv_load) through the
 * cache: on a hit the market's arrays map the cache file; on a miss the files
 * are parsed with csv_load and, when they did not change meanwhile, a cache
 * file is written. Errors are csv_load's (a bad file is never cached). st may
 * be NULL. */
int pcache_csv_load(const char *dir, const char *const *symbols, size_t n, tb_freq freq, tb_market **out,
                    pcache_status *st, tb_error *err);

/* The cache directory from $TB_CACHE_DIR (borrowed), or NULL when disabled. */
const char *pcache_dir(void);

/* Name of an outcome: "off", "hit", "absent", "stale", "invalid". */
const char *pcache_outcome_name(pcache_outcome o);

/* Keep the cache directory under $TB_CACHE_MAX_MB (default PCACHE_DEFAULT_MAX_MB):
 * the oldest cache files (panel-*.tbp and the factor cache's fact-*.tbf) are
 * removed first, never `keep` (a path or a name; may be NULL); orphaned
 * temporary files of crashed writers go after an hour. Best effort. */
void pcache_prune(const char *dir, const char *keep);

/* The cache files' checksum, for other caches in the same directory: four
 * lanes of XXH64's round over 64-bit words, XXH64's final mix. Streamed:
 * init, any number of updates (each a multiple of 8 bytes), final. */
typedef struct pcache_hash {
    uint64_t acc[4];
    uint64_t words; /* words hashed so far */
} pcache_hash;
void pcache_hash_init(pcache_hash *h);
void pcache_hash_update(pcache_hash *h, const void *p, size_t nbytes);
uint64_t pcache_hash_final(const pcache_hash *h);

/* ---- writing cache files: shared with the factor cache ----------------------------- */

/* Checked layout arithmetic: *out = a + b, a * b, or a rounded up to a
 * multiple of `align` (a power of two). 0, or -1 on overflow. */
static inline int pcache_add(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b) return -1;
    *out = a + b;
    return 0;
}

static inline int pcache_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b && a > UINT64_MAX / b) return -1;
    *out = a * b;
    return 0;
}

static inline int pcache_align(uint64_t a, uint64_t align, uint64_t *out)
{
    if (pcache_add(a, align - 1, out)) return -1;
    *out &= ~(align - 1);
    return 0;
}

/* CLOCK_REALTIME in nanoseconds. */
int64_t pcache_now_ns(void);

/* Write n bytes at p to fd, through short writes and EINTR; when h is not
 * NULL they are hashed first (n a multiple of 8). 0, or -1 with errno set. */
int pcache_write_all(int fd, pcache_hash *h, const void *p, size_t n);

/* Write n zero bytes, as pcache_write_all. */
int pcache_write_zeros(int fd, pcache_hash *h, size_t n);

/* Create dir and its missing parents (mode 0777 before the umask). 0, or -1
 * with errno set. */
int pcache_mkdirs(const char *dir);

/* Start the atomic write of `path`, a file in `dir`: dir is created when
 * missing, then a private temporary file "<dir>/.<name of path>.tmp.XXXXXX"
 * (close-on-exec), whose name goes to tmp[0..tmp_size). Returns its
 * descriptor, or -1 with why[0..why_size) saying what failed. */
int pcache_tmp_open(const char *dir, const char *path, char *tmp, size_t tmp_size, char *why, size_t why_size);

/* Finish it: unless `bad` (an earlier write failed), write the header
 * hdr[0..hdr_len) at offset 0, make the file 0644, close it and rename it to
 * `path`. fd is closed either way; on failure the temporary file is removed
 * and -1 returned with errno as the failing call left it. */
int pcache_tmp_commit(int fd, const char *tmp, const char *path, const void *hdr, size_t hdr_len, int bad);

#endif
