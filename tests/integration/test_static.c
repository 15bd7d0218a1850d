/*
 * test_static — the dashboard's static serving (api/static.c): the pure
 * helpers (asset names, content types, If-None-Match), and the real
 * tradebench-server with TB_WEB_DIR pointing at a bundle this test writes:
 * content types, caching headers, 304, no path traversal or symlinks or
 * hidden files, reload after a rebuild, and a clear 404 when unbuilt.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/static.h"
#include "harness.h"

static struct tb_server srv;
static char dir[256];

struct reply {
    long status;
    char content_type[128];
    char cache_control[128];
    char etag[64];
    char csp[512];
    char nosniff[32];
    char *body;
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    char *nb = realloc(r->body, r->len + size * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, data, size * n);
    r->body = nb;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static void header_of(CURL *c, const char *name, char *out, size_t outlen)
{
    struct curl_header *h = NULL;
    out[0] = '\0';
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
        snprintf(out, outlen, "%s", h->value);
}

/* GET (or HEAD) path with an optional extra header; never fails silently. */
static void fetch(const char *method, const char *path, const char *extra, struct reply *r)
{
    char url[512];
    struct curl_slist *hs = extra ? curl_slist_append(NULL, extra) : NULL;
    CURL *c = curl_easy_init();
    memset(r, 0, sizeof *r);
    cr_assert_not_null(c);
    snprintf(url, sizeof url, "%s%s", srv.base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../" as written */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    header_of(c, "Content-Type", r->content_type, sizeof r->content_type);
    header_of(c, "Cache-Control", r->cache_control, sizeof r->cache_control);
    header_of(c, "ETag", r->etag, sizeof r->etag);
    header_of(c, "Content-Security-Policy", r->csp, sizeof r->csp);
    header_of(c, "X-Content-Type-Options", r->nosniff, sizeof r->nosniff);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
}

static void reply_free(struct reply *r)
{
    free(r->body);
    r->body = NULL;
}

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    cr_assert_eq(system(cmd), 0);
}

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dir, sizeof dir, "%s/tb-it-web-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void fini(void)
{
    harness_server_kill(&srv);
    rm_rf(dir);
    curl_global_cleanup();
}

/* A bundle like web/build.mjs writes, plus things that must never be served. */
static void write_bundle(void)
{
    char path[512], secret[512];
    snprintf(path, sizeof path, "%s/assets", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    write_file("index.html", "<!doctype html><title>tb</title><script src=\"/assets/app-AB12.js\"></script>");
    write_file("assets/app-AB12.js", "console.log('tb');\n");
    write_file("assets/app-CD34.css", "body{margin:0}\n");
    write_file("assets/app-AB12.js.map", "{\"version\":3}");
    write_file("assets/.secret", "hidden\n");
    write_file("outside.txt", "not an asset\n");
    snprintf(secret, sizeof secret, "%s/outside.txt", dir);
    snprintf(path, sizeof path, "%s/assets/link.txt", dir);
    cr_assert_eq(symlink(secret, path), 0);
}

static void up(void)
{
    harness_db_url_or_skip();
    setenv("TB_WEB_DIR", dir, 1); /* inherited by the server */
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0, "tradebench-server did not start");
}

TestSuite(static_files, .init = init, .fini = fini, .timeout = 90);

Test(static_files, asset_names)
{
    cr_assert(api_static_name_ok("app-AB12.js"));
    cr_assert(api_static_name_ok("app-AB12.js.map"));
    cr_assert(api_static_name_ok("x_1.css"));
    cr_assert_not(api_static_name_ok(""));
    cr_assert_not(api_static_name_ok(NULL));
    cr_assert_not(api_static_name_ok(".secret"));
    cr_assert_not(api_static_name_ok(".."));
    cr_assert_not(api_static_name_ok("a/b.js"));
    cr_assert_not(api_static_name_ok("a b.js"));
    cr_assert_not(api_static_name_ok("a%2e.js"));
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_not(api_static_name_ok(longname));
}

Test(static_files, content_types)
{
    cr_assert_str_eq(api_static_content_type("index.html"), "text/html; charset=utf-8");
    cr_assert_str_eq(api_static_content_type("app-1.js"), "text/javascript; charset=utf-8");
    cr_assert_str_eq(api_static_content_type("app-1.css"), "text/css; charset=utf-8");
    cr_assert_str_eq(api_static_content_type("app-1.js.map"), "application/json");
    cr_assert_str_eq(api_static_content_type("logo.svg"), "image/svg+xml");
    cr_assert_str_eq(api_static_content_type("blob"), "application/octet-stream");
    cr_assert_str_eq(api_static_content_type("x.exe"), "application/octet-stream");
}

Test(static_files, if_none_match)
{
    cr_assert(api_static_etag_matches("\"abc\"", "\"abc\""));
    cr_assert(api_static_etag_matches("\"x\", \"abc\"", "\"abc\""));
    cr_assert(api_static_etag_matches("W/\"abc\"", "\"abc\""));
    cr_assert(api_static_etag_matches("*", "\"abc\""));
    cr_assert_not(api_static_etag_matches("\"abcd\"", "\"abc\""));
    cr_assert_not(api_static_etag_matches("", "\"abc\""));
    cr_assert_not(api_static_etag_matches(NULL, "\"abc\""));
}

Test(static_files, serves_the_bundle_with_types_and_caching)
{
    struct reply r;
    write_bundle();
    up();

    fetch("GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200, "GET / -> %ld: %s", r.status, r.body ? r.body : "");
    cr_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    cr_assert_str_eq(r.cache_control, "no-cache");
    cr_assert_str_eq(r.nosniff, "nosniff");
    cr_assert(strstr(r.csp, "default-src 'self'") != NULL, "CSP: %s", r.csp);
    cr_assert(strstr(r.body, "/assets/app-AB12.js") != NULL);
    cr_assert_eq(strlen(r.etag), 18, "ETag %s", r.etag);
    char etag[64], inm[96];
    snprintf(etag, sizeof etag, "%s", r.etag);
    reply_free(&r);

    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    fetch("GET", "/", inm, &r);
    cr_assert_eq(r.status, 304);
    cr_assert_str_eq(r.etag, etag);
    cr_assert_eq(r.len, 0);
    reply_free(&r);

    fetch("HEAD", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    reply_free(&r);

    fetch("GET", "/assets/app-AB12.js", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/javascript; charset=utf-8");
    cr_assert_str_eq(r.cache_control, "public, max-age=31536000, immutable");
    cr_assert_str_eq(r.body, "console.log('tb');\n");
    cr_assert_str_eq(r.csp, "");
    reply_free(&r);

    fetch("GET", "/assets/app-CD34.css", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/css; charset=utf-8");
    reply_free(&r);

    fetch("GET", "/assets/app-AB12.js.map", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "application/json");
    reply_free(&r);
    cr_assert_eq(harness_server_stop(&srv), 0);
}

Test(static_files, serves_nothing_outside_the_bundle)
{
    static const char *const denied[] = {
        "/assets/.secret",     "/assets/link.txt",        "/assets/../outside.txt",
        "/assets/..%2foutside.txt", "/assets/%2e%2e/outside.txt", "/assets/index.html",
        "/assets/",            "/assets/nope.js",         "/outside.txt",
        "/index.html",         "/assets/app-AB12.js/x",   "/assets/app%00.js",
    };
    struct reply r;
    write_bundle();
    up();
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        fetch("GET", denied[i], NULL, &r);
        cr_assert(r.status == 404 || r.status == 400, "GET %s -> %ld (want 404): %s", denied[i],
                  r.status, r.body ? r.body : "");
        cr_assert(r.body == NULL || strstr(r.body, "not an asset") == NULL, "GET %s leaked a file",
                  denied[i]);
        cr_assert(r.body == NULL || strstr(r.body, "hidden") == NULL, "GET %s leaked a file",
                  denied[i]);
        reply_free(&r);
    }
    cr_assert_eq(harness_server_stop(&srv), 0);
}

Test(static_files, reloads_after_a_rebuild)
{
    struct reply r;
    write_bundle();
    up();
    fetch("GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    reply_free(&r);

    /* A rebuild: new asset first, then index.html replaced by rename. */
    write_file("assets/app-EF56.js", "console.log('v2');\n");
    write_file("index.tmp", "<!doctype html><script src=\"/assets/app-EF56.js\"></script><!-- v2 -->");
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/index.tmp", dir);
    snprintf(to, sizeof to, "%s/index.html", dir);
    cr_assert_eq(rename(from, to), 0);

    fetch("GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "v2") != NULL, "still the old index.html: %s", r.body);
    reply_free(&r);
    fetch("GET", "/assets/app-EF56.js", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "console.log('v2');\n");
    reply_free(&r);
    cr_assert_eq(harness_server_stop(&srv), 0);
}

Test(static_files, unbuilt_dashboard_is_a_clear_404)
{
    struct tb_response r;
    up(); /* dir exists but is empty */
    harness_request(&srv, "GET", "/", NULL, NULL, 0, NULL, NULL, &r);
    harness_assert_problem(&r, 404, "not-found");
    cr_assert(strstr(r.body, "not built") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "tb-it-web-") != NULL, "detail should name the directory: %s", r.body);
    tb_response_free(&r);
    harness_request(&srv, "POST", "/", "application/json", "{}", 2, NULL, NULL, &r);
    harness_assert_problem(&r, 405, "method-not-allowed");
    tb_response_free(&r);
    cr_assert_eq(harness_server_stop(&srv), 0);
}
