/*
 * test_api_proxy — a cuttable TCP proxy in front of PostgreSQL for the API
 * outage tests (header-only, one poll() thread). proxy_cut() closes every
 * proxied connection and makes new ones close at once, as if the database
 * had gone away; proxy_restore() lets connections through again. Every
 * socket is close-on-exec: a server or worker the test starts later must
 * not hold a copy of a proxied connection, or a cut would never reach its
 * peer (the kernel closes a socket only with its last descriptor).
 */
#ifndef TB_TEST_API_PROXY_H
#define TB_TEST_API_PROXY_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_CONNS 64

struct api_proxy {
    int lfd;                       /* listening socket (loopback) */
    unsigned port;                 /* its port */
    struct sockaddr_storage up;    /* PostgreSQL's address */
    socklen_t uplen;
    int a[PROXY_CONNS], b[PROXY_CONNS]; /* client / upstream fds, -1 when free */
    atomic_int down;               /* 1: refuse and drop */
    atomic_int cut;                /* 1: the pump must drop every connection now */
    atomic_int stop;               /* 1: the pump exits */
    pthread_t thread;
};

static inline void proxy_drop(struct api_proxy *px, int i)
{
    close(px->a[i]);
    close(px->b[i]);
    px->a[i] = px->b[i] = -1;
}

static inline void *proxy_pump(void *arg)
{
    struct api_proxy *px = arg;
    char buf[16384];
    while (!atomic_load(&px->stop)) {
        struct pollfd p[1 + 2 * PROXY_CONNS];
        int map[1 + 2 * PROXY_CONNS], n = 1;
        if (atomic_exchange(&px->cut, 0)) {
            for (int i = 0; i < PROXY_CONNS; i++)
                if (px->a[i] >= 0)
                    proxy_drop(px, i);
        }
        p[0] = (struct pollfd){ px->lfd, POLLIN, 0 };
        for (int i = 0; i < PROXY_CONNS; i++) {
            if (px->a[i] < 0)
                continue;
            p[n] = (struct pollfd){ px->a[i], POLLIN, 0 };
            map[n++] = i;
            p[n] = (struct pollfd){ px->b[i], POLLIN, 0 };
            map[n++] = i;
        }
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int c = accept(px->lfd, NULL, NULL);
            if (c >= 0)
                fcntl(c, F_SETFD, FD_CLOEXEC);
            int slot = -1;
            for (int i = 0; i < PROXY_CONNS && slot < 0; i++)
                if (px->a[i] < 0)
                    slot = i;
            if (c >= 0 && (atomic_load(&px->down) || slot < 0)) {
                close(c); /* the peer sees the server go away at once */
            } else if (c >= 0) {
                int u = socket(px->up.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (u < 0 || connect(u, (struct sockaddr *)&px->up, px->uplen) != 0) {
                    close(c);
                    if (u >= 0)
                        close(u);
                } else {
                    px->a[slot] = c;
                    px->b[slot] = u;
                }
            }
        }
        for (int k = 1; k < n; k++) {
            int i = map[k];
            if (px->a[i] < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int from = p[k].fd, to = from == px->a[i] ? px->b[i] : px->a[i];
            ssize_t got = read(from, buf, sizeof buf);
            if (got <= 0 || write(to, buf, (size_t)got) != got)
                proxy_drop(px, i);
        }
    }
    for (int i = 0; i < PROXY_CONNS; i++)
        if (px->a[i] >= 0)
            proxy_drop(px, i);
    return NULL;
}

/* Start a proxy to the host/port of conninfo `url`; *via gets a conninfo
 * (same user, password, dbname) that goes through it. */
static inline void proxy_start(struct api_proxy *px, const char *url, char *via, size_t vialen)
{
    char *errmsg = NULL;
    const char *host = "127.0.0.1", *port = "5432", *user = NULL, *pass = NULL, *dbname = NULL;
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(px, 0, sizeof *px);
    for (int i = 0; i < PROXY_CONNS; i++)
        px->a[i] = px->b[i] = -1;
    PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
    cr_assert_not_null(opts, "%s", errmsg ? errmsg : "bad conninfo");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "password"))
            pass = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            dbname = o->val;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    cr_assert_eq(getaddrinfo(host, port, &hints, &ai), 0, "resolve %s", host);
    memcpy(&px->up, ai->ai_addr, ai->ai_addrlen);
    px->uplen = ai->ai_addrlen;
    freeaddrinfo(ai);
    px->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(px->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(px->lfd, 64), 0);
    getsockname(px->lfd, (struct sockaddr *)&a, &len);
    px->port = ntohs(a.sin_port);
    /* Values in these tests are plain words: no quoting needed. */
    snprintf(via, vialen, "host=127.0.0.1 port=%u%s%s%s%s%s%s", px->port, user ? " user=" : "",
             user ? user : "", pass ? " password=" : "", pass ? pass : "",
             dbname ? " dbname=" : "", dbname ? dbname : "");
    PQconninfoFree(opts);
    cr_assert_eq(pthread_create(&px->thread, NULL, proxy_pump, px), 0);
}

static inline void proxy_cut(struct api_proxy *px)
{
    atomic_store(&px->down, 1);
    atomic_store(&px->cut, 1);
    while (atomic_load(&px->cut)) { /* until the pump has dropped them */
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static inline void proxy_restore(struct api_proxy *px)
{
    atomic_store(&px->down, 0);
}

static inline void proxy_stop(struct api_proxy *px)
{
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    close(px->lfd);
}

#endif
