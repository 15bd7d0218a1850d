/*
 * static — serves the dashboard bundle from memory. The bundle (index.html
 * plus the regular files directly in <dir>/assets) is read on first use
 * into a struct static_bundle, and GET / re-reads it when index.html
 * changed on disk (the build script writes index.html last, by rename).
 * A reply's bytes must outlive the response (http_reply_static does not
 * copy), so a bundle is never freed while the process runs: a replaced one
 * stays on a retired list (bundles are ~100 KiB, rebuilt rarely). The only
 * shared state is the current-bundle pointer, guarded by static_lock;
 * bundles themselves are immutable once published. Requests are answered
 * from the table by exact name, so a request path never reaches open().
 */
#include "static.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/logger.h"
#include "server/mem.h"

#ifndef TB_WEB_DIST_DEFAULT
#define TB_WEB_DIST_DEFAULT "web/dist"
#endif

#define STATIC_NAME_MAX 128                  /* longest asset name served */
#define STATIC_MAX_FILES 256                 /* files per bundle (index included) */
#define STATIC_FILE_MAX (16u * 1024u * 1024u)   /* bytes per file */
#define STATIC_TOTAL_MAX (64u * 1024u * 1024u)  /* bytes per bundle */

/* The page may only talk to its own origin and load its own scripts. uPlot
 * sets element styles from script (allowed); 'unsafe-inline' covers the
 * style attributes the dashboard writes into its HTML. */
#define STATIC_CSP                                                                          \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "             \
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; "   \
    "form-action 'self'"

struct static_file {
    char name[STATIC_NAME_MAX + 1];  /* "index.html" or an asset's base name */
    char *data;                      /* the bytes (owned by the bundle, never freed) */
    size_t len;                      /* byte count */
    const char *content_type;        /* static string, from the extension */
    char etag[24];                   /* "\"<16 hex digits>\"": FNV-1a 64 of the bytes */
};

struct static_bundle {
    char dir[PATH_MAX];              /* the directory it was read from */
    int has_index;                   /* index.html was found (then files[0]) */
    struct stat index_st;            /* index.html's stat when read (change detection) */
    size_t nfiles;                   /* used entries of files[] */
    struct static_file *files;       /* index.html first (when present), then assets */
    struct static_bundle *retired;   /* the bundle this one replaced (kept alive) */
};

static pthread_mutex_t static_lock = PTHREAD_MUTEX_INITIALIZER;
static struct static_bundle *static_current; /* guarded by static_lock */

/* ---- pure helpers ---------------------------------------------------- */

int api_static_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > STATIC_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

const char *api_static_content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".map", "application/json" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".woff2", "font/woff2" },
        { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (dot) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
        }
    }
    return "application/octet-stream";
}

int api_static_etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    if (!inm)
        return 0;
    while (*inm) {
        while (*inm == ' ' || *inm == '\t' || *inm == ',')
            inm++;
        if (*inm == '\0')
            break;
        if (inm[0] == '*')
            return 1;
        if (strncmp(inm, "W/", 2) == 0) /* weak comparison is fine for GET */
            inm += 2;
        size_t len = strcspn(inm, ",");
        while (len > 0 && (inm[len - 1] == ' ' || inm[len - 1] == '\t'))
            len--;
        if (len == elen && memcmp(inm, etag, elen) == 0)
            return 1;
        inm += strcspn(inm, ",");
    }
    return 0;
}

static void static_etag(const char *data, size_t len, char out[24])
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= 1099511628211ull;
    }
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}

/* ---- loading --------------------------------------------------------- */

static const char *static_dir(void)
{
    const char *dir = getenv("TB_WEB_DIR");
    return dir && *dir ? dir : TB_WEB_DIST_DEFAULT;
}

/* Read a regular file (no symlink) of at most STATIC_FILE_MAX bytes into
 * f->data. Returns 0, or -1 (logged) when it is not one or cannot be read. */
static int static_read_file(const char *path, struct static_file *f)
{
    struct stat st;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (unsigned long long)st.st_size > STATIC_FILE_MAX) {
        log_warn("dashboard: skipping %s (not a regular file of at most %u bytes)", path,
                 STATIC_FILE_MAX);
        goto out;
    }
    f->len = (size_t)st.st_size;
    f->data = mem_alloc(f->len + 1);
    size_t got = 0;
    while (got < f->len) {
        ssize_t n = read(fd, f->data + got, f->len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != f->len) {
        log_warn("dashboard: short read of %s", path);
        free(f->data);
        f->data = NULL;
        goto out;
    }
    f->data[f->len] = '\0';
    f->content_type = api_static_content_type(f->name);
    static_etag(f->data, f->len, f->etag);
    rc = 0;
out:
    close(fd);
    return rc;
}

/* Read the bundle in dir. Never fails: a missing directory gives an empty
 * bundle (GET / then answers 404 naming the directory). */
static struct static_bundle *static_load(const char *dir)
{
    struct static_bundle *b = mem_zalloc(sizeof *b);
    char path[PATH_MAX + 512];   /* dir + "/assets/" + a d_name of up to 255 bytes */
    size_t total = 0;
    DIR *d;

    snprintf(b->dir, sizeof b->dir, "%s", dir);
    b->files = mem_zalloc(STATIC_MAX_FILES * sizeof b->files[0]);
    snprintf(path, sizeof path, "%s/index.html", b->dir);
    snprintf(b->files[0].name, sizeof b->files[0].name, "index.html");
    if (stat(path, &b->index_st) == 0 && static_read_file(path, &b->files[0]) == 0) {
        b->has_index = 1;
        b->nfiles = 1;
        total = b->files[0].len;
    }
    snprintf(path, sizeof path, "%s/assets", b->dir);
    d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (!api_static_name_ok(e->d_name))
            continue;
        if (b->nfiles == STATIC_MAX_FILES) {
            log_warn("dashboard: more than %d files in %s/assets; ignoring the rest",
                     STATIC_MAX_FILES, b->dir);
            break;
        }
        struct static_file *f = &b->files[b->nfiles];
        memcpy(f->name, e->d_name, strlen(e->d_name) + 1); /* fits: api_static_name_ok */
        snprintf(path, sizeof path, "%s/assets/%s", b->dir, e->d_name);
        if (static_read_file(path, f) != 0)
            continue;
        if (total + f->len > STATIC_TOTAL_MAX) {
            log_warn("dashboard: %s/assets exceeds %u bytes; ignoring %s", b->dir,
                     STATIC_TOTAL_MAX, f->name);
            free(f->data);
            memset(f, 0, sizeof *f);
            continue;
        }
        total += f->len;
        b->nfiles++;
    }
    if (d)
        closedir(d);
    if (b->has_index)
        log_info("dashboard: %zu file(s), %zu bytes from %s", b->nfiles, total, b->dir);
    else
        log_warn("dashboard: no index.html in %s (not built yet?)", b->dir);
    return b;
}

static int static_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The current bundle (never NULL, never freed). With recheck, reload it
 * first when index.html appeared, disappeared or changed. */
static const struct static_bundle *static_bundle_get(int recheck)
{
    struct static_bundle *b;
    pthread_mutex_lock(&static_lock);
    b = static_current;
    if (b && recheck) {
        char path[PATH_MAX + 16];
        struct stat st;
        snprintf(path, sizeof path, "%s/index.html", b->dir);
        int exists = stat(path, &st) == 0;
        if (exists != b->has_index || (exists && !static_same_file(&st, &b->index_st)))
            b = NULL;
    }
    if (!b) {
        b = static_load(static_dir());
        b->retired = static_current;
        static_current = b;
    }
    pthread_mutex_unlock(&static_lock);
    return b;
}

static const struct static_file *static_find(const struct static_bundle *b, const char *name)
{
    for (size_t i = 0; i < b->nfiles; i++) {
        if (strcmp(b->files[i].name, name) == 0)
            return &b->files[i];
    }
    return NULL;
}

/* ---- handlers -------------------------------------------------------- */

static void static_reply_file(const struct http_request *req, struct http_reply *rep,
                              const struct static_file *f, const char *cache_control,
                              const char *csp)
{
    if (api_static_etag_matches(http_header(req, "If-None-Match"), f->etag))
        http_reply_static(rep, 304, NULL, "", 0);
    else
        http_reply_static(rep, 200, f->content_type, f->data, f->len);
    http_reply_header(rep, "ETag", f->etag);
    http_reply_header(rep, "Cache-Control", cache_control);
    http_reply_header(rep, "X-Content-Type-Options", "nosniff");
    if (csp)
        http_reply_header(rep, "Content-Security-Policy", csp);
}

void api_static_index(const struct http_request *req, struct http_reply *rep)
{
    const struct static_bundle *b = static_bundle_get(1);
    const struct static_file *f = b->has_index ? &b->files[0] : NULL;
    if (!f) {
        http_reply_error(rep, PROBLEM_NOT_FOUND,
                         "the dashboard is not built: no index.html in %s (run `npm ci && npm run "
                         "build` in web/, or point TB_WEB_DIR at a built bundle)",
                         b->dir);
        return;
    }
    /* Revalidate every time: index.html names the hashed assets of the build. */
    static_reply_file(req, rep, f, "no-cache", STATIC_CSP);
}

void api_static_asset(const struct http_request *req, struct http_reply *rep)
{
    const char *name = http_param(req, "name");
    const struct static_bundle *b = static_bundle_get(0);
    const struct static_file *f = NULL;
    if (api_static_name_ok(name) && strcmp(name, "index.html") != 0)
        f = static_find(b, name);
    if (!f) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no dashboard asset named %s", req->path);
        return;
    }
    /* Asset names carry a content hash (web/build.mjs), so they never change. */
    static_reply_file(req, rep, f, "public, max-age=31536000, immutable", NULL);
}
