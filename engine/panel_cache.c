/* panel_cache.c — the binary panel cache (see panel_cache.h).
 *
 * File layout, every field a native 64-bit word (the byte-order word rejects
 * a file from another endianness):
 *
 *   header      16 words: magic "TBPANEL", byte order, format and reader
 *               versions, freq, n_symbols, n_bars, strings_len, data_off,
 *               file_len, checksum, build time, reserved
 *   files       n_symbols records {size, ino, dev, mtime_ns, ctime_ns}
 *   offsets     n_symbols + 1 words: symbol i's bars are [offset[i], offset[i+1])
 *   strings     the directory's real path, NUL, each symbol name, NUL;
 *               zero-padded to 64 bytes (strings_len is the unpadded length)
 *   data        at data_off (64-aligned): ts[], open[], high[], low[], close[],
 *               volume[], n_bars words each, each zero-padded to 64 bytes
 *
 * The checksum covers every word after the header (a 4-lane multiply-rotate
 * hash, streamed while writing, one pass over the mapping when reading).
 * Nothing here trusts a header field before checking it against the file's
 * real length with overflow-checked arithmetic. */
#include "panel_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv_reader.h"
#include "xalloc.h"

#define PC_MAGIC "TBPANEL"                   /* 7 chars + NUL = 8 bytes */
#define PC_BYTE_ORDER 0x0102030405060708ULL
#define PC_ALIGN 64u
#define PC_MAX_SYMBOLS 10000000ULL           /* sanity bounds for untrusted counts */
#define PC_MAX_BARS (1ULL << 40)
#define PC_TMP_MAX_AGE_S 3600                /* orphaned temporary files older than this are removed */

typedef struct pc_header {
    char magic[8];           /* PC_MAGIC */
    uint64_t byte_order;     /* PC_BYTE_ORDER as the writer stored it */
    uint64_t format_version; /* PCACHE_FORMAT_VERSION */
    uint64_t reader_version; /* CSV_READER_VERSION */
    uint64_t freq;           /* tb_freq */
    uint64_t n_symbols;
    uint64_t n_bars;
    uint64_t strings_len;    /* directory + names with their NULs, unpadded */
    uint64_t data_off;       /* byte offset of ts[] */
    uint64_t file_len;       /* the whole file */
    uint64_t checksum;       /* of every byte after the header */
    uint64_t built_ns;       /* CLOCK_REALTIME at writing, informative */
    uint64_t reserved[4];
} pc_header;
_Static_assert(sizeof(pc_header) == 128, "the header is 16 words");

/* What a source file looked like: any difference means it changed. */
typedef struct pc_file {
    uint64_t size, ino, dev;
    int64_t mtime_ns, ctime_ns;
} pc_file;
_Static_assert(sizeof(pc_file) == 40, "a file record is 5 words");

/* Where each section lives for given counts (all checked for overflow). */
typedef struct pc_layout {
    uint64_t files_off, offsets_off, strings_off, data_off, stride, file_len;
} pc_layout;

/* One lookup: the key, the source files' stats, the cache file's path. */
typedef struct pc_key {
    char real[PATH_MAX];            /* realpath of the directory */
    const char *const *symbols;
    size_t n;
    tb_freq freq;
    pc_file *files;                 /* stat of each source file at lookup */
    uint64_t strings_len;
    char path[4096];                /* the cache file */
    const char *cache_dir;
} pc_key;

const char *pcache_outcome_name(pcache_outcome o)
{
    switch (o) {
    case PCACHE_HIT: return "hit";
    case PCACHE_MISS_ABSENT: return "absent";
    case PCACHE_MISS_STALE: return "stale";
    case PCACHE_MISS_INVALID: return "invalid";
    default: return "off";
    }
}

const char *pcache_dir(void)
{
    const char *d = getenv("TB_CACHE_DIR");
    if (!d || !*d) return PCACHE_DEFAULT_DIR;
    if (!strcmp(d, "off")) return NULL;
    return d;
}

static void pc_reason(pcache_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pc_reason(pcache_status *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
}

/* A miss: record why, return the outcome. */
static pcache_outcome pc_miss(pcache_status *st, pcache_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static pcache_outcome pc_miss(pcache_status *st, pcache_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
    return o;
}

/* ---- layout ------------------------------------------------ */

static int pc_layout_of(uint64_t n_symbols, uint64_t strings_len, uint64_t n_bars, pc_layout *l)
{
    uint64_t a, b;
    l->files_off = sizeof(pc_header);
    if (pcache_mul(n_symbols, sizeof(pc_file), &a) || pcache_add(l->files_off, a, &l->offsets_off)) return -1;
    if (pcache_add(n_symbols, 1, &a) || pcache_mul(a, 8, &b) || pcache_add(l->offsets_off, b, &l->strings_off))
        return -1;
    if (pcache_add(l->strings_off, strings_len, &a) || pcache_align(a, PC_ALIGN, &l->data_off)) return -1;
    if (pcache_mul(n_bars, 8, &a) || pcache_align(a, PC_ALIGN, &l->stride)) return -1;
    if (pcache_mul(l->stride, 6, &a) || pcache_add(l->data_off, a, &l->file_len)) return -1;
    return 0;
}

/* ---- checksum ------------------------------------------------------------------------ */

/* Four independent lanes (so the loop is not one long dependency chain) over
 * little 64-bit words; word k goes to lane k % 4 of the whole stream. The
 * round and the final mix are XXH64's. */
#define PC_P1 0x9E3779B185EBCA87ULL
#define PC_P2 0xC2B2AE3D27D4EB4FULL
#define PC_P3 0x165667B19E3779F9ULL

typedef pcache_hash pc_hash;

static inline uint64_t pc_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t pc_round(uint64_t acc, uint64_t in) { return pc_rotl(acc + in * PC_P2, 31) * PC_P1; }

static inline uint64_t pc_word(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

void pcache_hash_init(pc_hash *h)
{
    h->acc[0] = PC_P1 + PC_P2;
    h->acc[1] = PC_P2;
    h->acc[2] = 0;
    h->acc[3] = 0 - PC_P1;
    h->words = 0;
}

/* Hash nbytes (a multiple of 8) at p. */
void pcache_hash_update(pc_hash *h, const void *p, size_t nbytes)
{
    const unsigned char *b = p;
    size_t nw = nbytes / 8;
    while (nw && (h->words & 3)) {
        h->acc[h->words & 3] = pc_round(h->acc[h->words & 3], pc_word(b));
        h->words++, b += 8, nw--;
    }
    uint64_t a0 = h->acc[0], a1 = h->acc[1], a2 = h->acc[2], a3 = h->acc[3];
    size_t blocks = nw / 4;
    for (size_t k = 0; k < blocks; k++, b += 32) {
        a0 = pc_round(a0, pc_word(b));
        a1 = pc_round(a1, pc_word(b + 8));
        a2 = pc_round(a2, pc_word(b + 16));
        a3 = pc_round(a3, pc_word(b + 24));
    }
    h->acc[0] = a0, h->acc[1] = a1, h->acc[2] = a2, h->acc[3] = a3;
    h->words += 4 * blocks;
    for (nw -= 4 * blocks; nw; nw--, b += 8) {
        h->acc[h->words & 3] = pc_round(h->acc[h->words & 3], pc_word(b));
        h->words++;
    }
}

uint64_t pcache_hash_final(const pc_hash *h)
{
    uint64_t x = pc_rotl(h->acc[0], 1) + pc_rotl(h->acc[1], 7) + pc_rotl(h->acc[2], 12) + pc_rotl(h->acc[3], 18);
    x ^= h->words * PC_P3;
    x ^= x >> 33;
    x *= PC_P2;
    x ^= x >> 29;
    x *= PC_P3;
    x ^= x >> 32;
    return x;
}

/* ---- the key --------------------------------------------------------------------------- */

static int64_t pc_ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec; }

int64_t pcache_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return pc_ns(t);
}

static int pc_stat_one(const char *real, const char *sym, pc_file *f)
{
    char path[PATH_MAX + 512];
    struct stat s;
    if (snprintf(path, sizeof path, "%s/%s.csv", real, sym) >= (int)sizeof path || stat(path, &s)) return -1;
    f->size = (uint64_t)s.st_size;
    f->ino = (uint64_t)s.st_ino;
    f->dev = (uint64_t)s.st_dev;
    f->mtime_ns = pc_ns(s.st_mtim);
    f->ctime_ns = pc_ns(s.st_ctim);
    return 0;
}

/* Stat every source file into files[0..n). 0, or -1 naming the first missing one. */
static int pc_stat_all(const pc_key *k, pc_file *files, pcache_status *st)
{
    for (size_t i = 0; i < k->n; i++)
        if (pc_stat_one(k->real, k->symbols[i], &files[i])) {
            pc_reason(st, "cannot stat %s/%s.csv: %s", k->real, k->symbols[i], strerror(errno));
            return -1;
        }
    return 0;
}

/* FNV-1a over what identifies the panel: versions, freq, directory, names. */
static uint64_t pc_key_hash(const pc_key *k)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    char head[64];
    int len = snprintf(head, sizeof head, "%d/%d/%d", PCACHE_FORMAT_VERSION, CSV_READER_VERSION, (int)k->freq);
    for (int i = 0; i < len; i++) h = (h ^ (unsigned char)head[i]) * 0x100000001b3ULL;
    for (size_t i = 0; i <= k->n; i++) {
        const char *s = i == 0 ? k->real : k->symbols[i - 1];
        for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        h = (h ^ 0) * 0x100000001b3ULL; /* the NUL separates */
    }
    return h;
}

/* Build the key; -1 (with st->reason) when caching is impossible for this load. */
static int pc_key_init(pc_key *k, const char *cache_dir, const char *dir, const char *const *symbols, size_t n,
                       tb_freq freq, pcache_status *st)
{
    memset(k, 0, sizeof *k);
    k->symbols = symbols;
    k->n = n;
    k->freq = freq;
    k->cache_dir = cache_dir;
    if (!realpath(dir, k->real)) {
        pc_reason(st, "cannot resolve %s: %s", dir, strerror(errno));
        return -1;
    }
    k->strings_len = strlen(k->real) + 1;
    for (size_t i = 0; i < n; i++) k->strings_len += strlen(symbols[i]) + 1;
    k->files = xmalloc(xmul(n, sizeof *k->files));
    if (pc_stat_all(k, k->files, st)) return -1;
    if (snprintf(k->path, sizeof k->path, "%s/panel-%016llx.tbp", cache_dir, (unsigned long long)pc_key_hash(k)) >=
        (int)sizeof k->path) {
        pc_reason(st, "cache path too long");
        return -1;
    }
    return 0;
}

static void pc_key_free(pc_key *k)
{
    free(k->files);
    k->files = NULL;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Check a mapped file against the key; fill *out on success. */
static pcache_outcome pc_check(const pc_key *k, unsigned char *map, size_t len, tb_market **out, pcache_status *st)
{
    pc_header h;
    pc_layout l;
    if (len < sizeof h) return pc_miss(st, PCACHE_MISS_INVALID, "shorter than its header (%zu bytes)", len);
    memcpy(&h, map, sizeof h);
    if (memcmp(h.magic, PC_MAGIC, sizeof h.magic)) return pc_miss(st, PCACHE_MISS_INVALID, "bad magic");
    if (h.byte_order != PC_BYTE_ORDER) return pc_miss(st, PCACHE_MISS_INVALID, "written with another byte order");
    if (h.format_version != PCACHE_FORMAT_VERSION || h.reader_version != CSV_READER_VERSION)
        return pc_miss(st, PCACHE_MISS_INVALID, "format %llu / reader %llu, want %d / %d", (unsigned long long)h.format_version,
                         (unsigned long long)h.reader_version, PCACHE_FORMAT_VERSION, CSV_READER_VERSION);
    if (h.freq != (uint64_t)k->freq || h.n_symbols != k->n || h.strings_len != k->strings_len)
        return pc_miss(st, PCACHE_MISS_INVALID, "holds another panel (freq, symbol count or names differ)");
    if (h.n_bars > PC_MAX_BARS || h.n_symbols > PC_MAX_SYMBOLS ||
        pc_layout_of(h.n_symbols, h.strings_len, h.n_bars, &l) || l.data_off != h.data_off ||
        l.file_len != h.file_len || h.file_len != (uint64_t)len)
        return pc_miss(st, PCACHE_MISS_INVALID, "lengths do not add up (%zu bytes, header says %llu)", len,
                         (unsigned long long)h.file_len);

    /* The key: directory and names, in order. */
    const char *s = (const char *)map + l.strings_off, *end = s + h.strings_len;
    for (size_t i = 0; i <= k->n; i++) {
        const char *want = i == 0 ? k->real : k->symbols[i - 1];
        size_t wl = strlen(want);
        if ((size_t)(end - s) < wl + 1 || memcmp(s, want, wl) || s[wl] != '\0')
            return pc_miss(st, PCACHE_MISS_INVALID, "holds another panel (directory or names differ)");
        s += wl + 1;
    }

    /* The source files, as they are now. */
    for (size_t i = 0; i < k->n; i++) {
        pc_file f;
        memcpy(&f, map + l.files_off + i * sizeof f, sizeof f);
        const pc_file *now = &k->files[i];
        if (f.size != now->size || f.mtime_ns != now->mtime_ns || f.ctime_ns != now->ctime_ns || f.ino != now->ino ||
            f.dev != now->dev)
            return pc_miss(st, PCACHE_MISS_STALE, "%s.csv changed since the cache was written", k->symbols[i]);
    }

    pc_hash hh;
    pcache_hash_init(&hh);
    pcache_hash_update(&hh, map + sizeof h, len - sizeof h);
    if (pcache_hash_final(&hh) != h.checksum) return pc_miss(st, PCACHE_MISS_INVALID, "checksum mismatch");

    /* Offsets and timestamps: what the engine relies on. */
    uint64_t *off = xmalloc(xmul(k->n + 1, sizeof *off));
    memcpy(off, map + l.offsets_off, (k->n + 1) * sizeof *off);
    int64_t *ts = (int64_t *)(void *)(map + l.data_off);
    int bad = off[0] != 0 || off[k->n] != h.n_bars;
    for (size_t i = 0; !bad && i < k->n; i++) {
        if (off[i + 1] <= off[i] || off[i + 1] > h.n_bars) bad = 1;
        for (uint64_t t = off[i] + 1; !bad && t < off[i + 1]; t++) bad = ts[t] <= ts[t - 1];
    }
    if (bad) {
        free(off);
        return pc_miss(st, PCACHE_MISS_INVALID, "offsets or timestamps out of order");
    }
    double *f[5];
    for (int c = 0; c < 5; c++) f[c] = (double *)(void *)(map + l.data_off + (uint64_t)(c + 1) * l.stride);
    *out = market_new_mapped(k->freq, k->n, k->symbols, off, (size_t)h.n_bars, map, len, ts, f[0], f[1], f[2], f[3],
                             f[4]);
    free(off);
    st->identified = 1;
    st->key_hash = pc_key_hash(k);
    st->checksum = h.checksum;
    return PCACHE_HIT;
}

static pcache_outcome pc_lookup(const pc_key *k, tb_market **out, pcache_status *st)
{
    int fd = open(k->path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) return PCACHE_MISS_ABSENT;
        pc_reason(st, "cannot open: %s", strerror(errno));
        return PCACHE_MISS_INVALID;
    }
    struct stat s;
    if (fstat(fd, &s) || s.st_size < (off_t)sizeof(pc_header)) {
        close(fd);
        pc_reason(st, "shorter than its header");
        return PCACHE_MISS_INVALID;
    }
    size_t len = (size_t)s.st_size;
    /* Private and writable: the engine may compact the arrays in place
     * (market_truncate_after); such writes are copy-on-write, never reach the file. */
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        pc_reason(st, "mmap failed: %s", strerror(errno));
        return PCACHE_MISS_INVALID;
    }
    pcache_outcome o = pc_check(k, map, len, out, st);
    if (o != PCACHE_HIT) munmap(map, len);
    return o;
}

/* ---- writing ---------------------------------------------------------------------------------- */

int pcache_write_all(int fd, pc_hash *h, const void *p, size_t n)
{
    if (h) pcache_hash_update(h, p, n);
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int pcache_write_zeros(int fd, pc_hash *h, size_t n)
{
    static const unsigned char zero[PC_ALIGN];
    while (n) {
        size_t k = n < sizeof zero ? n : sizeof zero;
        if (pcache_write_all(fd, h, zero, k)) return -1;
        n -= k;
    }
    return 0;
}

int pcache_mkdirs(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return -1;
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        if (mkdir(p, 0777) && errno != EEXIST) return -1;
        *q = '/';
    }
    return mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
}

int pcache_tmp_open(const char *dir, const char *path, char *tmp, size_t tmp_size, char *why, size_t why_size)
{
    if (pcache_mkdirs(dir)) {
        snprintf(why, why_size, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *base = strrchr(path, '/') + 1;
    snprintf(tmp, tmp_size, "%s/.%s.tmp.XXXXXX", dir, base);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, why_size, "cannot create a file in %s: %s", dir, strerror(errno));
        return -1;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

int pcache_tmp_commit(int fd, const char *tmp, const char *path, const void *hdr, size_t hdr_len, int bad)
{
    bad = bad || pwrite(fd, hdr, hdr_len, 0) != (ssize_t)hdr_len || fchmod(fd, 0644);
    if (close(fd)) bad = 1;
    if (bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* Write the file body after the header; returns its checksum through h. */
static int pc_write_body(int fd, const pc_key *k, const tb_market *m, const pc_layout *l, pc_hash *h)
{
    if (pcache_write_all(fd, h, k->files, k->n * sizeof *k->files)) return -1;
    uint64_t *off = xmalloc(xmul(k->n + 1, sizeof *off));
    for (size_t i = 0; i <= k->n; i++) off[i] = m->offset[i];
    int rc = pcache_write_all(fd, h, off, (k->n + 1) * sizeof *off);
    free(off);
    if (rc) return -1;
    size_t slen = (size_t)(l->data_off - l->strings_off); /* strings + padding, a multiple of 8 */
    char *strings = xcalloc(1, slen);
    char *w = strings;
    for (size_t i = 0; i <= k->n; i++) {
        const char *s = i == 0 ? k->real : k->symbols[i - 1];
        size_t sl = strlen(s) + 1;
        memcpy(w, s, sl);
        w += sl;
    }
    rc = pcache_write_all(fd, h, strings, slen);
    free(strings);
    if (rc) return -1;
    const void *arr[6] = {m->ts, m->open, m->high, m->low, m->close, m->volume};
    size_t bytes = m->n_bars * 8;
    for (int c = 0; c < 6; c++)
        if (pcache_write_all(fd, h, arr[c], bytes) || pcache_write_zeros(fd, h, (size_t)l->stride - bytes)) return -1;
    return 0;
}

typedef struct pc_entry {
    char name[300];
    off_t size;
    int64_t mtime_ns;
} pc_entry;

static int pc_entry_older(const void *a, const void *b)
{
    int64_t x = ((const pc_entry *)a)->mtime_ns, y = ((const pc_entry *)b)->mtime_ns;
    return x < y ? -1 : x > y;
}

/* A cache file of this directory (the panel's or the factor cache's), or a
 * temporary file of one: 1 file, 2 temporary, 0 neither. */
static int pc_cache_name(const char *name)
{
    static const char *const kinds[][2] = {{"panel-", ".tbp"}, {"fact-", ".tbf"}};
    size_t len = strlen(name);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t pl = strlen(kinds[k][0]), sl = strlen(kinds[k][1]);
        if (name[0] == '.' && !strncmp(name + 1, kinds[k][0], pl) && strstr(name, ".tmp.")) return 2;
        if (!strncmp(name, kinds[k][0], pl) && len > pl + sl && !strcmp(name + len - sl, kinds[k][1])) return 1;
    }
    return 0;
}

/* Keep the directory under TB_CACHE_MAX_MB: oldest cache files go first
 * (never `keep`, the one just written); orphaned temporary files of crashed
 * writers go after PC_TMP_MAX_AGE_S. Best effort: errors are ignored. */
void pcache_prune(const char *cdir, const char *keep)
{
    const char *env = getenv("TB_CACHE_MAX_MB");
    long long max_mb = env && *env ? atoll(env) : PCACHE_DEFAULT_MAX_MB;
    uint64_t max = max_mb > 0 ? (uint64_t)max_mb << 20 : (uint64_t)PCACHE_DEFAULT_MAX_MB << 20, total = 0;
    DIR *d = opendir(cdir);
    if (!d) return;
    size_t n = 0, cap = 16;
    pc_entry *v = xmalloc(cap * sizeof *v);
    int64_t now = pcache_now_ns();
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4096 + 300];
        struct stat s;
        size_t len = strlen(e->d_name);
        int what = pc_cache_name(e->d_name), tmp = what == 2;
        if (!what || len >= sizeof v->name) continue;
        snprintf(path, sizeof path, "%s/%s", cdir, e->d_name);
        if (stat(path, &s)) continue;
        if (tmp) {
            if (now - pc_ns(s.st_mtim) > PC_TMP_MAX_AGE_S * 1000000000LL) unlink(path);
            continue;
        }
        if (n == cap) v = xrealloc(v, xmul(cap *= 2, sizeof *v));
        memcpy(v[n].name, e->d_name, len + 1);
        v[n].size = s.st_size;
        v[n].mtime_ns = pc_ns(s.st_mtim);
        total += (uint64_t)s.st_size;
        n++;
    }
    closedir(d);
    qsort(v, n, sizeof *v, pc_entry_older);
    const char *keep_name = !keep ? "" : strrchr(keep, '/') ? strrchr(keep, '/') + 1 : keep;
    for (size_t i = 0; i < n && total > max; i++) {
        char path[4096 + 300];
        if (!strcmp(v[i].name, keep_name)) continue;
        snprintf(path, sizeof path, "%s/%s", cdir, v[i].name);
        if (!unlink(path)) total -= (uint64_t)v[i].size;
    }
    free(v);
}

/* Write the cache file for a freshly parsed market (best effort). */
static void pc_store(const pc_key *k, const tb_market *m, pcache_status *st)
{
    /* The files must be exactly what was parsed, and their mtimes old enough
     * that a later same-size write cannot leave the same mtime behind (a
     * write within the same clock tick). A back-dated mtime is fine: any
     * later write sets it to now. */
    pc_file *after = xmalloc(xmul(k->n, sizeof *after));
    int rc = pc_stat_all(k, after, st);
    int64_t newest = INT64_MIN;
    for (size_t i = 0; !rc && i < k->n; i++) {
        if (memcmp(&after[i], &k->files[i], sizeof *after)) {
            pc_reason(st, "%s.csv changed while it was read: not cached", k->symbols[i]);
            rc = -1;
        }
        if (after[i].mtime_ns > newest) newest = after[i].mtime_ns;
    }
    free(after);
    if (rc) return;
    if (newest > pcache_now_ns() - PCACHE_RACY_SECONDS * 1000000000LL) {
        pc_reason(st, "a source file was modified in the last %d s: not cached yet", PCACHE_RACY_SECONDS);
        return;
    }

    pc_layout l;
    if (pc_layout_of(k->n, k->strings_len, m->n_bars, &l)) return;
    char tmp[4096 + 64];
    int fd = pcache_tmp_open(k->cache_dir, k->path, tmp, sizeof tmp, st->reason, sizeof st->reason);
    if (fd < 0) return;
    pc_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PC_MAGIC, sizeof h.magic);
    h.byte_order = PC_BYTE_ORDER;
    h.format_version = PCACHE_FORMAT_VERSION;
    h.reader_version = CSV_READER_VERSION;
    h.freq = (uint64_t)k->freq;
    h.n_symbols = k->n;
    h.n_bars = m->n_bars;
    h.strings_len = k->strings_len;
    h.data_off = l.data_off;
    h.file_len = l.file_len;
    h.built_ns = (uint64_t)pcache_now_ns();
    pc_hash hh;
    pcache_hash_init(&hh);
    int bad = pcache_write_all(fd, NULL, &h, sizeof h) || pc_write_body(fd, k, m, &l, &hh);
    h.checksum = pcache_hash_final(&hh);
    if (pcache_tmp_commit(fd, tmp, k->path, &h, sizeof h, bad)) {
        pc_reason(st, "writing %s failed: %s", k->path, strerror(errno));
        return;
    }
    st->stored = 1;
    st->identified = 1; /* the parsed bars are exactly the file's: the source files did not change meanwhile */
    st->key_hash = pc_key_hash(k);
    st->checksum = h.checksum;
    pcache_prune(k->cache_dir, k->path);
}

/* ---- the entry point --------------------------------------------------------------------------- */

int pcache_csv_load(const char *dir, const char *const *symbols, size_t n, tb_freq freq, tb_market **out,
                    pcache_status *st, tb_error *err)
{
    pcache_status local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    const char *cdir = pcache_dir();
    pc_key k;
    if (!cdir || n == 0) return csv_load(dir, symbols, n, freq, out, err);
    if (pc_key_init(&k, cdir, dir, symbols, n, freq, st)) {
        pc_key_free(&k);
        return csv_load(dir, symbols, n, freq, out, err);
    }
    snprintf(st->path, sizeof st->path, "%s", k.path);
    st->outcome = pc_lookup(&k, out, st);
    if (st->outcome == PCACHE_HIT) {
        pc_key_free(&k);
        return 0;
    }
    int rc = csv_load(dir, symbols, n, freq, out, err);
    if (rc == 0) {
        char why[sizeof st->reason];
        snprintf(why, sizeof why, "%s", st->reason); /* keep the miss's reason unless the store fails */
        st->reason[0] = '\0';
        pc_store(&k, *out, st);
        if (!st->reason[0]) snprintf(st->reason, sizeof st->reason, "%s", why);
    }
    pc_key_free(&k);
    return rc;
}
