/*
 * modelcache — a small LRU table of loaded boosters (see modelcache.h).
 * Entries are heap objects with a reference count: the table holds one
 * reference, each request using the entry another. Lookup, insert and
 * eviction happen under the table mutex; loading (outside any lock, so a
 * slow load never blocks other models) may race with another thread's load
 * of the same id, in which case the loser frees its copy. Prediction runs
 * under the entry's own mutex, because an XGBoost booster is not safe for
 * concurrent use through this engine's wrapper.
 */
#include "modelcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ml_train.h"
#include "server/mem.h"

struct modelcache_entry {
    int64_t id;
    ml_model *model;             /* loaded with nthread 1 */
    pthread_mutex_t use;         /* one prediction at a time */
    int refs;                    /* table + requests; guarded by the cache mutex */
    uint64_t used;               /* LRU clock value of the last use */
};

struct modelcache {
    pthread_mutex_t lock;        /* guards everything below and every entry's refs */
    struct modelcache_entry **e; /* n live entries */
    size_t n, cap;
    uint64_t clock;
};

struct modelcache *modelcache_new(size_t capacity)
{
    struct modelcache *c = mem_zalloc(sizeof *c);
    if (capacity < 1)
        capacity = 1;
    if (capacity > 64)
        capacity = 64;
    c->cap = capacity;
    c->e = mem_zalloc(capacity * sizeof *c->e);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void modelcache_entry_free(struct modelcache_entry *x)
{
    ml_model_free(x->model);
    pthread_mutex_destroy(&x->use);
    free(x);
}

/* Drop one reference (cache mutex held); returns the entry when it must be freed. */
static struct modelcache_entry *modelcache_unref_locked(struct modelcache_entry *x)
{
    return --x->refs == 0 ? x : NULL;
}

void modelcache_free(struct modelcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        modelcache_entry_free(c->e[i]);
    free(c->e);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Take a reference to id's entry, or NULL (cache mutex held). */
static struct modelcache_entry *modelcache_find_locked(struct modelcache *c, int64_t id)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i]->id == id) {
            c->e[i]->refs++;
            c->e[i]->used = ++c->clock;
            return c->e[i];
        }
    }
    return NULL;
}

/* Remove slot i from the table; returns the entry if nobody else holds it. */
static struct modelcache_entry *modelcache_remove_locked(struct modelcache *c, size_t i)
{
    struct modelcache_entry *x = c->e[i];
    c->e[i] = c->e[--c->n];
    return modelcache_unref_locked(x);
}

int modelcache_predict(struct modelcache *c, int64_t id, const float *X, size_t n, double *prob,
                       modelcache_fetch_fn fetch, void *ud, int *hit, tb_error *err)
{
    struct modelcache_entry *x, *dead = NULL;
    pthread_mutex_lock(&c->lock);
    x = modelcache_find_locked(c, id);
    pthread_mutex_unlock(&c->lock);
    if (hit)
        *hit = x != NULL;
    if (!x) {
        char *bytes = NULL;
        size_t len = 0;
        ml_model *m = NULL;
        if (fetch(ud, &bytes, &len, err) < 0)
            return -1;
        int rc = ml_model_load_json(bytes, len, 1, &m, err);
        free(bytes);
        if (rc < 0)
            return -1;
        struct modelcache_entry *fresh = mem_zalloc(sizeof *fresh);
        fresh->id = id;
        fresh->model = m;
        pthread_mutex_init(&fresh->use, NULL);
        pthread_mutex_lock(&c->lock);
        x = modelcache_find_locked(c, id);
        if (x) {
            dead = fresh; /* another thread loaded it meanwhile */
        } else {
            if (c->n == c->cap) { /* evict the least recently used */
                size_t lru = 0;
                for (size_t i = 1; i < c->n; i++)
                    if (c->e[i]->used < c->e[lru]->used)
                        lru = i;
                dead = modelcache_remove_locked(c, lru);
            }
            fresh->refs = 2; /* the table's and ours */
            fresh->used = ++c->clock;
            c->e[c->n++] = fresh;
            x = fresh;
        }
        pthread_mutex_unlock(&c->lock);
        if (dead)
            modelcache_entry_free(dead);
        dead = NULL;
    }
    pthread_mutex_lock(&x->use);
    int rc = ml_model_predict(x->model, X, n, prob, err);
    pthread_mutex_unlock(&x->use);
    pthread_mutex_lock(&c->lock);
    dead = modelcache_unref_locked(x);
    pthread_mutex_unlock(&c->lock);
    if (dead)
        modelcache_entry_free(dead);
    return rc;
}

void modelcache_forget(struct modelcache *c, int64_t id)
{
    struct modelcache_entry *dead = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i]->id == id) {
            dead = modelcache_remove_locked(c, i);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (dead)
        modelcache_entry_free(dead);
}

size_t modelcache_size(struct modelcache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}
