/*
 * postmix — the POST side of the load tests: N POST /backtests from C
 * concurrent clients (libcurl, one thread and one keep-alive connection
 * each), optionally with R reader threads hammering GET /runs?limit=50 and
 * GET /runs/{id} meanwhile, then (with --wait) polling every accepted run
 * until it is final. Bounded in count and time; loopback URLs only.
 *
 *   postmix --url http://127.0.0.1:8080 [--posts 200] [--clients 20]
 *           [--readers 0] [--token T] [--body JSON] [--wait SECONDS]
 *           [--ids FILE]
 *
 * Prints the status histogram, latency percentiles of the POSTs, the reads
 * done meanwhile and, with --wait, the final statuses; writes the accepted
 * run ids one per line to --ids. Exit 0 only when every POST got 202, no
 * request got a 5xx or a transport error, and (with --wait) every run
 * succeeded in time. Each POST carries a unique Idempotency-Key, so a
 * client retry could never create a second run (none is made here).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PM_MAX_POSTS 100000

struct pm_opts {
    const char *url;
    int posts, clients, readers;
    const char *token;
    const char *body;
    double wait_s;
    const char *ids_path;
};

static struct pm_opts opt = {
    .url = "http://127.0.0.1:8080",
    .posts = 200,
    .clients = 20,
    .readers = 0,
    .body = "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"universe\":5,"
            "\"last_bars\":300}",
    .wait_s = 0,
};

static atomic_int next_post;          /* index of the next POST to send */
static atomic_int posting_done;       /* readers stop when set */
static long long ids[PM_MAX_POSTS];   /* accepted run ids by post index (0: none) */
static double lat_ms[PM_MAX_POSTS];   /* POST latency by index */
static long status_of[PM_MAX_POSTS];  /* HTTP status by index (0: transport error) */
static atomic_long reads_ok, reads_bad, reads_5xx;
static char run_prefix[64];           /* nonce for the idempotency keys */

static double pm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct pm_buf {
    char *data;
    size_t len;
};

static size_t pm_write(char *p, size_t size, size_t n, void *ud)
{
    struct pm_buf *b = ud;
    size_t add = size * n;
    char *nd = realloc(b->data, b->len + add + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, p, add);
    b->data = nd;
    b->len += add;
    nd[b->len] = '\0';
    return add;
}

/* One request on handle c; returns the status (0 on a transport error). */
static long pm_request(CURL *c, const char *method, const char *path, const char *body,
                       const char *key, struct pm_buf *out)
{
    char url[512], hdr[256];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof url, "%s%s", opt.url, path);
    out->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pm_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:");
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    if (key) {
        snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
        h = curl_slist_append(h, hdr);
    }
    if (opt.token && body) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", opt.token);
        h = curl_slist_append(h, hdr);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(h);
    return status;
}

static long long pm_id_of(const struct pm_buf *b)
{
    json_error_t je;
    json_t *doc = b->len ? json_loadb(b->data, b->len, 0, &je) : NULL;
    long long id = doc ? json_integer_value(json_object_get(doc, "id")) : 0;
    json_decref(doc);
    return id;
}

static void *pm_poster(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    struct pm_buf b = { NULL, 0 };
    char key[128];
    for (int i; (i = atomic_fetch_add(&next_post, 1)) < opt.posts;) {
        snprintf(key, sizeof key, "%s-%d", run_prefix, i);
        double t0 = pm_now();
        long st = pm_request(c, "POST", "/backtests", opt.body, key, &b);
        lat_ms[i] = (pm_now() - t0) * 1e3;
        status_of[i] = st;
        if (st == 202 || st == 200)
            __atomic_store_n(&ids[i], pm_id_of(&b), __ATOMIC_RELAXED);
    }
    free(b.data);
    curl_easy_cleanup(c);
    return NULL;
}

static void *pm_reader(void *arg)
{
    long k = (long)(intptr_t)arg;
    CURL *c = curl_easy_init();
    struct pm_buf b = { NULL, 0 };
    char path[64];
    while (!atomic_load(&posting_done)) {
        long long id = __atomic_load_n(&ids[(k * 7919) % opt.posts], __ATOMIC_RELAXED);
        if (k % 2 == 0 || id <= 0)
            snprintf(path, sizeof path, "/runs?limit=50");
        else
            snprintf(path, sizeof path, "/runs/%lld", id);
        long st = pm_request(c, "GET", path, NULL, NULL, &b);
        if (st == 200)
            atomic_fetch_add(&reads_ok, 1);
        else if (st >= 500)
            atomic_fetch_add(&reads_5xx, 1);
        else
            atomic_fetch_add(&reads_bad, 1);
        k++;
    }
    free(b.data);
    curl_easy_cleanup(c);
    return NULL;
}

static int pm_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pm_pct(const double *sorted, int n, double p)
{
    if (n == 0)
        return 0;
    int i = (int)(p * (n - 1) + 0.5);
    return sorted[i];
}

static void pm_usage(void)
{
    fprintf(stderr, "usage: postmix [--url URL] [--posts N] [--clients C] [--readers R] [--token T]\n"
                    "               [--body JSON] [--wait SECONDS] [--ids FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            pm_usage();
        if (!strcmp(a, "--url"))
            opt.url = v;
        else if (!strcmp(a, "--posts"))
            opt.posts = atoi(v);
        else if (!strcmp(a, "--clients"))
            opt.clients = atoi(v);
        else if (!strcmp(a, "--readers"))
            opt.readers = atoi(v);
        else if (!strcmp(a, "--token"))
            opt.token = v;
        else if (!strcmp(a, "--body"))
            opt.body = v;
        else if (!strcmp(a, "--wait"))
            opt.wait_s = atof(v);
        else if (!strcmp(a, "--ids"))
            opt.ids_path = v;
        else
            pm_usage();
        i++;
    }
    if (opt.posts < 1 || opt.posts > PM_MAX_POSTS || opt.clients < 1 || opt.clients > 256 ||
        opt.readers < 0 || opt.readers > 64)
        pm_usage();
    if (strncmp(opt.url, "http://127.", 11) != 0 && strncmp(opt.url, "http://localhost", 16) != 0 &&
        strncmp(opt.url, "http://[::1]", 12) != 0) {
        fprintf(stderr, "postmix: loopback URLs only (got %s)\n", opt.url);
        return 2;
    }
    if (!opt.token)
        opt.token = getenv("TB_API_TOKEN");
    snprintf(run_prefix, sizeof run_prefix, "postmix-%ld-%ld", (long)getpid(), (long)time(NULL));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    pthread_t *pt = calloc((size_t)opt.clients, sizeof *pt);
    pthread_t *rt = calloc((size_t)opt.readers + 1, sizeof *rt);
    double t0 = pm_now();
    for (long r = 0; r < opt.readers; r++)
        pthread_create(&rt[r], NULL, pm_reader, (void *)(intptr_t)r);
    for (int i = 0; i < opt.clients; i++)
        pthread_create(&pt[i], NULL, pm_poster, NULL);
    for (int i = 0; i < opt.clients; i++)
        pthread_join(pt[i], NULL);
    double post_s = pm_now() - t0;
    atomic_store(&posting_done, 1);
    for (int r = 0; r < opt.readers; r++)
        pthread_join(rt[r], NULL);

    int n202 = 0, n5xx = 0, nerr = 0, nother = 0;
    for (int i = 0; i < opt.posts; i++) {
        if ((status_of[i] == 202 || status_of[i] == 200) && ids[i] > 0)
            n202++;
        else if (status_of[i] >= 500)
            n5xx++;
        else if (status_of[i] == 0)
            nerr++;
        else
            nother++;
    }
    double *sorted = malloc(sizeof(double) * (size_t)opt.posts);
    memcpy(sorted, lat_ms, sizeof(double) * (size_t)opt.posts);
    qsort(sorted, (size_t)opt.posts, sizeof *sorted, pm_cmp);
    printf("postmix: %d POST /backtests from %d clients in %.2f s (%.0f/s): %d accepted, %d 5xx, "
           "%d transport errors, %d other\n",
           opt.posts, opt.clients, post_s, opt.posts / post_s, n202, n5xx, nerr, nother);
    printf("postmix: POST latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
           pm_pct(sorted, opt.posts, 0.5), pm_pct(sorted, opt.posts, 0.9),
           pm_pct(sorted, opt.posts, 0.99), sorted[opt.posts - 1]);
    if (opt.readers)
        printf("postmix: %d readers meanwhile: %ld GETs 200, %ld 5xx, %ld other\n", opt.readers,
               atomic_load(&reads_ok), atomic_load(&reads_5xx), atomic_load(&reads_bad));
    free(sorted);

    if (opt.ids_path) {
        FILE *f = fopen(opt.ids_path, "w");
        if (!f) {
            perror(opt.ids_path);
            return 1;
        }
        for (int i = 0; i < opt.posts; i++)
            if (ids[i] > 0)
                fprintf(f, "%lld\n", ids[i]);
        fclose(f);
    }

    int bad_final = 0;
    if (opt.wait_s > 0) {
        CURL *c = curl_easy_init();
        struct pm_buf b = { NULL, 0 };
        char path[64];
        int pending = 1, succeeded = 0, failed = 0, other = 0, polls_5xx = 0;
        double tw = pm_now();
        int *final = calloc((size_t)opt.posts, sizeof *final);
        while (pending && pm_now() - tw < opt.wait_s) {
            pending = 0;
            for (int i = 0; i < opt.posts; i++) {
                if (ids[i] <= 0 || final[i])
                    continue;
                snprintf(path, sizeof path, "/runs/%lld", ids[i]);
                long st = pm_request(c, "GET", path, NULL, NULL, &b);
                if (st >= 500)
                    polls_5xx++;
                json_error_t je;
                json_t *doc = st == 200 ? json_loadb(b.data, b.len, 0, &je) : NULL;
                const char *s = json_string_value(json_object_get(doc, "status"));
                if (s && !strcmp(s, "succeeded"))
                    final[i] = 1, succeeded++;
                else if (s && !strcmp(s, "failed"))
                    final[i] = 2, failed++;
                else if (s && !strcmp(s, "cancelled"))
                    final[i] = 3, other++;
                else
                    pending++;
                json_decref(doc);
            }
            if (pending)
                usleep(200 * 1000);
        }
        printf("postmix: runs final after %.1f s: %d succeeded, %d failed, %d cancelled, %d still "
               "pending; %d 5xx while polling\n",
               pm_now() - tw, succeeded, failed, other, pending, polls_5xx);
        bad_final = failed || other || pending || polls_5xx;
        n5xx += polls_5xx;
        free(final);
        free(b.data);
        curl_easy_cleanup(c);
    }
    free(pt);
    free(rt);
    curl_global_cleanup();
    int ok = n202 == opt.posts && n5xx == 0 && atomic_load(&reads_5xx) == 0 &&
             atomic_load(&reads_bad) == 0 && !bad_final;
    printf("postmix: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
