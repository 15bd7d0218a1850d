/*
 * harness — fork/exec the server, poll until it answers, libcurl requests,
 * problem+json assertions. Each Criterion test runs in its own process, so
 * the server handle lives in the test; .fini SIGKILLs leftovers after a
 * failed assertion so no server outlives its test.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TB_SERVER_BIN
#error "TB_SERVER_BIN must be defined by CMake"
#endif

const char *harness_db_url_or_skip(void)
{
    const char *url = getenv("TB_TEST_DATABASE_URL");
    if (!url || !*url)
        cr_skip_test("TB_TEST_DATABASE_URL is not set");
    if (PQping(url) != PQPING_OK)
        cr_skip_test("TB_TEST_DATABASE_URL is not reachable");
    return url;
}

static unsigned harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void harness_dump_log(const struct tb_server *s)
{
    FILE *f = fopen(s->log_path, "r");
    char line[1024];
    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", s->log_path);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fprintf(stderr, "---- end ----\n");
    fclose(f);
}

static void harness_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int harness_server_start_once(struct tb_server *s, const char *db_url, const char *token)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    memset(s, 0, sizeof *s);
    s->port = harness_free_port();
    if (s->port == 0)
        return -1;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
    snprintf(s->log_path, sizeof s->log_path, "%s/tb-it-server-%ld-%u.log", tmp, (long)getpid(),
             s->port);
    if (!db_url)
        db_url = getenv("TB_TEST_DATABASE_URL");

    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char listen[64];
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        snprintf(listen, sizeof listen, "127.0.0.1:%u", s->port);
        setenv("TB_LISTEN", listen, 1);
        setenv("TB_DATABASE_URL", db_url, 1);
        setenv("TB_LOG_LEVEL", "info", 1);
        setenv("TB_HTTP_THREADS", "2", 1);
        if (token)
            setenv("TB_API_TOKEN", token, 1);
        else
            unsetenv("TB_API_TOKEN");
        execl(TB_SERVER_BIN, TB_SERVER_BIN, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 600; i++) { /* up to 30 s: ASan start-up is slow */
        struct tb_response r;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            harness_dump_log(s);
            return -1;
        }
        harness_request(s, "GET", "/openapi.json", NULL, NULL, 0, NULL, NULL, &r);
        long st = r.status;
        tb_response_free(&r);
        if (st != 0)
            return 0;
        harness_sleep_ms(50);
    }
    harness_dump_log(s);
    harness_server_kill(s);
    return -1;
}

int harness_server_start(struct tb_server *s, const char *db_url, const char *token)
{
    /* The free port is found by binding port 0 and closing it, so a parallel
     * test can grab it first: the server then exits early; try another. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (harness_server_start_once(s, db_url, token) == 0)
            return 0;
    }
    return -1;
}

int harness_server_stop(struct tb_server *s)
{
    int status = 0, rc = -1;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        pid_t w = waitpid(s->pid, &status, WNOHANG);
        if (w == s->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            s->pid = 0;
            break;
        }
        harness_sleep_ms(50);
    }
    if (s->pid > 0)
        harness_server_kill(s);
    if (rc != 0)
        harness_dump_log(s);
    else
        unlink(s->log_path);
    return rc;
}

void harness_server_kill(struct tb_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

pid_t harness_spawn(const char *bin, char *const argv[], const char *const env[],
                    const char *log_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        char name[128];
        if (!eq || (size_t)(eq - env[i]) >= sizeof name)
            continue;
        memcpy(name, env[i], (size_t)(eq - env[i]));
        name[eq - env[i]] = '\0';
        if (eq[1])
            setenv(name, eq + 1, 1);
        else
            unsetenv(name);
    }
    execv(bin, argv);
    _exit(127);
}

int harness_wait(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        harness_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

char *harness_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *nd = realloc(data, cap);
            if (!nd)
                break;
            data = nd;
        }
        memcpy(data + len, chunk, n);
        len += n;
        data[len] = '\0';
    }
    fclose(f);
    if (!data)
        data = calloc(1, 1);
    return data;
}

static size_t harness_write_cb(char *data, size_t size, size_t n, void *ud)
{
    struct tb_response *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, data, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static void harness_copy_header(CURL *c, const char *name, char *out, size_t outlen)
{
    struct curl_header *h = NULL;
    out[0] = '\0';
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
        snprintf(out, outlen, "%s", h->value);
}

int harness_request(const struct tb_server *s, const char *method, const char *path,
                    const char *content_type, const void *body, size_t len, const char *auth,
                    const char *extra_header, struct tb_response *out)
{
    char url[512], hdr[512];
    struct curl_slist *headers = NULL;
    CURL *c = curl_easy_init();
    memset(out, 0, sizeof *out);
    if (!c)
        return -1;
    snprintf(url, sizeof url, "%s%s", s->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (content_type) {
        snprintf(hdr, sizeof hdr, "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, hdr);
    } else if (body) {
        headers = curl_slist_append(headers, "Content-Type:"); /* send none */
    }
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
        headers = curl_slist_append(headers, hdr);
    }
    if (extra_header)
        headers = curl_slist_append(headers, extra_header);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(out->content_type, sizeof out->content_type, "%s", ct ? ct : "");
        harness_copy_header(c, "Allow", out->allow, sizeof out->allow);
        harness_copy_header(c, "WWW-Authenticate", out->www_authenticate,
                            sizeof out->www_authenticate);
        harness_copy_header(c, "Location", out->location, sizeof out->location);
    } else {
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

void tb_response_free(struct tb_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

json_t *tb_response_json(const struct tb_response *r)
{
    json_error_t e;
    return r->body ? json_loadb(r->body, r->len, 0, &e) : NULL;
}

void harness_assert_problem(const struct tb_response *r, long status, const char *code)
{
    char type[128];
    cr_assert_eq(r->status, status, "status %ld, want %ld (curl: %s; body: %s)", r->status,
                 status, r->error, r->body ? r->body : "");
    cr_assert_str_eq(r->content_type, "application/problem+json");
    json_t *doc = tb_response_json(r);
    cr_assert_not_null(doc, "body is not JSON: %s", r->body ? r->body : "(none)");
    snprintf(type, sizeof type, "urn:tradebench:problem:%s", code);
    cr_assert(json_is_string(json_object_get(doc, "type")));
    cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), type);
    cr_assert(json_is_string(json_object_get(doc, "title")));
    cr_assert_gt(strlen(json_string_value(json_object_get(doc, "title"))), 0);
    cr_assert(json_is_integer(json_object_get(doc, "status")));
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), status);
    cr_assert(json_is_string(json_object_get(doc, "detail")));
    cr_assert_gt(strlen(json_string_value(json_object_get(doc, "detail"))), 0);
    json_decref(doc);
}
