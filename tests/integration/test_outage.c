/*
 * test_outage — the database goes away and comes back while the server
 * runs. The server reaches PostgreSQL through a TCP proxy in this test that
 * can be cut (existing connections reset, new ones refused) and restored:
 * /health must turn 503 problem+json and then 200 again with no restart.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define PROXY_MAX_CONNS 64

struct proxy_conn {
    int a, b;                    /* client side, upstream side */
    pthread_t thread;            /* the pump */
};

struct proxy {
    int lfd;                     /* listening socket */
    unsigned port;               /* its port */
    struct addrinfo *upstream;   /* PostgreSQL's address */
    atomic_int down;             /* 1: refuse and reset */
    atomic_int stop;             /* 1: accept thread exits */
    pthread_t thread;            /* accept loop */
    pthread_mutex_t lock;        /* guards conns/nconns */
    struct proxy_conn conns[PROXY_MAX_CONNS];
    size_t nconns;
};

static void *proxy_pump(void *arg)
{
    struct proxy_conn *c = arg;
    char buf[16384];
    struct pollfd p[2] = { { c->a, POLLIN, 0 }, { c->b, POLLIN, 0 } };
    for (;;) {
        if (poll(p, 2, 200) < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0 || write(p[1 - i].fd, buf, (size_t)n) != n)
                goto out;
        }
    }
out:
    shutdown(c->a, SHUT_RDWR);
    shutdown(c->b, SHUT_RDWR);
    return NULL;
}

static void *proxy_accept(void *arg)
{
    struct proxy *px = arg;
    while (!atomic_load(&px->stop)) {
        struct pollfd p = { px->lfd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        int a = accept(px->lfd, NULL, NULL);
        if (a < 0)
            continue;
        pthread_mutex_lock(&px->lock);
        if (atomic_load(&px->down) || px->nconns == PROXY_MAX_CONNS) {
            pthread_mutex_unlock(&px->lock);
            close(a); /* like a refused connection: the peer sees EOF at once */
            continue;
        }
        int b = socket(px->upstream->ai_family, SOCK_STREAM, 0);
        if (b < 0 || connect(b, px->upstream->ai_addr, px->upstream->ai_addrlen) != 0) {
            pthread_mutex_unlock(&px->lock);
            close(a);
            if (b >= 0)
                close(b);
            continue;
        }
        struct proxy_conn *c = &px->conns[px->nconns];
        c->a = a;
        c->b = b;
        if (pthread_create(&c->thread, NULL, proxy_pump, c) == 0)
            px->nconns++;
        else {
            close(a);
            close(b);
        }
        pthread_mutex_unlock(&px->lock);
    }
    return NULL;
}

/* Reset every open connection (the pumps then exit). */
static void proxy_cut(struct proxy *px)
{
    atomic_store(&px->down, 1);
    pthread_mutex_lock(&px->lock);
    for (size_t i = 0; i < px->nconns; i++) {
        shutdown(px->conns[i].a, SHUT_RDWR);
        shutdown(px->conns[i].b, SHUT_RDWR);
    }
    pthread_mutex_unlock(&px->lock);
}

static void proxy_start(struct proxy *px, const char *host, const char *port)
{
    struct addrinfo hints;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(px, 0, sizeof *px);
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    cr_assert_eq(getaddrinfo(host, port, &hints, &px->upstream), 0, "resolve %s", host);
    pthread_mutex_init(&px->lock, NULL);
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(px->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(px->lfd, 64), 0);
    getsockname(px->lfd, (struct sockaddr *)&a, &len);
    px->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&px->thread, NULL, proxy_accept, px), 0);
}

static void proxy_stop(struct proxy *px)
{
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    proxy_cut(px);
    for (size_t i = 0; i < px->nconns; i++) {
        pthread_join(px->conns[i].thread, NULL);
        close(px->conns[i].a);
        close(px->conns[i].b);
    }
    close(px->lfd);
    freeaddrinfo(px->upstream);
    pthread_mutex_destroy(&px->lock);
}

/* Append " key='value'" (libpq quoting) to a conninfo string. */
static void conninfo_add(char *out, size_t n, const char *key, const char *val)
{
    size_t o = strlen(out);
    o += (size_t)snprintf(out + o, n - o, "%s%s='", o ? " " : "", key);
    for (; *val && o + 3 < n; val++) {
        if (*val == '\'' || *val == '\\')
            out[o++] = '\\';
        out[o++] = *val;
    }
    snprintf(out + o, n - o, "'");
}

static long health(const struct tb_server *s, char *db_state, size_t n)
{
    struct tb_response r;
    harness_request(s, "GET", "/health", NULL, NULL, 0, NULL, NULL, &r);
    long st = r.status;
    json_t *doc = tb_response_json(&r);
    const char *db = json_string_value(json_object_get(doc, "database"));
    snprintf(db_state, n, "%s", db ? db : "");
    if (st == 503)
        harness_assert_problem(&r, 503, "database-unavailable");
    json_decref(doc);
    tb_response_free(&r);
    return st;
}

Test(outage, health_follows_the_database_without_restart, .timeout = 120)
{
    const char *url = harness_db_url_or_skip();
    char *errmsg = NULL, conninfo[1024] = "", port[8], state[16];
    const char *host = "127.0.0.1", *pgport = "5432";
    struct proxy px;
    struct tb_server srv;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
    cr_assert_not_null(opts, "TB_TEST_DATABASE_URL: %s", errmsg ? errmsg : "?");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            pgport = o->val;
        else if (!strcmp(o->keyword, "dbname") || !strcmp(o->keyword, "user") ||
                 !strcmp(o->keyword, "password"))
            conninfo_add(conninfo, sizeof conninfo, o->keyword, o->val);
    }
    proxy_start(&px, host, pgport);
    snprintf(port, sizeof port, "%u", px.port);
    conninfo_add(conninfo, sizeof conninfo, "host", "127.0.0.1");
    conninfo_add(conninfo, sizeof conninfo, "port", port);
    PQconninfoFree(opts);

    cr_assert_eq(harness_server_start(&srv, conninfo, NULL), 0);
    cr_assert_eq(health(&srv, state, sizeof state), 200);
    cr_assert_str_eq(state, "up");

    proxy_cut(&px);
    cr_assert_eq(health(&srv, state, sizeof state), 503);
    cr_assert_str_eq(state, "down");
    cr_assert_eq(health(&srv, state, sizeof state), 503);

    atomic_store(&px.down, 0);
    cr_assert_eq(health(&srv, state, sizeof state), 200);
    cr_assert_str_eq(state, "up");

    int rc = harness_server_stop(&srv);
    cr_assert_eq(rc, 0, "exit status %d", rc);
    proxy_stop(&px);
    curl_global_cleanup();
}
