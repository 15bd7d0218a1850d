/*
 * unit_modelcache — the predict endpoint's booster cache without a server:
 * a miss loads through the fetch callback and a hit does not, the least
 * recently used model is evicted at capacity, forget drops a model, a fetch
 * or load failure is reported and caches nothing, and several threads
 * predicting on shared and distinct models get the single-threaded answers.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/modelcache.h"
#include "engine/ml_dataset.h"
#include "engine/ml_train.h"

#define ROWS 64

static float X[ROWS * ML_N_FEATURES];
static char *model_json[3];
static size_t model_len[3];

/* Three small models on a deterministic toy problem (different seeds). */
static void setup(void)
{
    uint8_t y[ROWS];
    uint64_t s = 12345;
    for (size_t i = 0; i < ROWS * ML_N_FEATURES; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        X[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    for (size_t r = 0; r < ROWS; r++) y[r] = X[r * ML_N_FEATURES] + X[r * ML_N_FEATURES + 1] > 0;
    for (int m = 0; m < 3; m++) {
        ml_train_params p;
        ml_train_params_defaults(&p);
        p.n_rounds = 5 + m;
        p.nthread = 1;
        p.min_child_weight = 1;
        p.seed = m;
        ml_model *mm = NULL;
        tb_error err = { 0 };
        cr_assert_eq(ml_model_train(X, y, ROWS, &p, NULL, &mm, &err), 0, "%s", err.msg);
        cr_assert_eq(ml_model_save_json(mm, &model_json[m], &model_len[m], &err), 0, "%s", err.msg);
        ml_model_free(mm);
    }
}

static void teardown(void)
{
    for (int m = 0; m < 3; m++) free(model_json[m]);
}

TestSuite(modelcache, .init = setup, .fini = teardown);

struct fetch_ud {
    int calls;
    int fail;                    /* 1: fetch fails; 2: bytes are not a model */
};

/* A fetch that fails (fail 1) or serves bytes that are not a model (fail 2). */
static int fetch_model(void *ud, char **bytes, size_t *len, tb_error *err)
{
    struct fetch_ud *f = ud;
    f->calls++;
    if (f->fail == 1)
        return tb_fail(err, TB_EIO, "database down");
    if (f->fail == 2) {
        *bytes = strdup("{\"not\": \"a model\"}");
        *len = strlen(*bytes);
        return 0;
    }
    return tb_fail(err, TB_EINTERNAL, "no such case");
}

/* A fetch that serves model k (k in ud). */
struct fetch_k {
    int k, calls;
};

static int fetch_k(void *ud, char **bytes, size_t *len, tb_error *err)
{
    struct fetch_k *f = ud;
    (void)err;
    f->calls++;
    *bytes = malloc(model_len[f->k] + 1);
    memcpy(*bytes, model_json[f->k], model_len[f->k] + 1);
    *len = model_len[f->k];
    return 0;
}

static void direct(int k, double *out)
{
    ml_model *mm = NULL;
    tb_error err = { 0 };
    cr_assert_eq(ml_model_load_json(model_json[k], model_len[k], 1, &mm, &err), 0, "%s", err.msg);
    cr_assert_eq(ml_model_predict(mm, X, ROWS, out, &err), 0, "%s", err.msg);
    ml_model_free(mm);
}

Test(modelcache, miss_hit_evict_forget)
{
    struct modelcache *c = modelcache_new(2);
    double want[3][ROWS], got[ROWS];
    tb_error err = { 0 };
    int hit = -1;
    for (int k = 0; k < 3; k++) direct(k, want[k]);
    cr_assert(memcmp(want[0], want[1], sizeof want[0]) != 0, "the models differ");

    struct fetch_k f0 = { 0, 0 }, f1 = { 1, 0 }, f2 = { 2, 0 };
    cr_assert_eq(modelcache_predict(c, 10, X, ROWS, got, fetch_k, &f0, &hit, &err), 0, "%s", err.msg);
    cr_assert_eq(hit, 0);
    cr_assert_arr_eq(got, want[0], sizeof got);
    cr_assert_eq(modelcache_predict(c, 10, X, ROWS, got, fetch_k, &f0, &hit, &err), 0);
    cr_assert_eq(hit, 1);
    cr_assert_eq(f0.calls, 1, "a hit does not fetch");
    cr_assert_eq(modelcache_predict(c, 11, X, ROWS, got, fetch_k, &f1, &hit, &err), 0);
    cr_assert_arr_eq(got, want[1], sizeof got);
    cr_assert_eq(modelcache_size(c), 2);
    /* touch 10, then a third model evicts 11 (least recently used) */
    cr_assert_eq(modelcache_predict(c, 10, X, ROWS, got, fetch_k, &f0, &hit, &err), 0);
    cr_assert_eq(modelcache_predict(c, 12, X, ROWS, got, fetch_k, &f2, &hit, &err), 0);
    cr_assert_arr_eq(got, want[2], sizeof got);
    cr_assert_eq(modelcache_size(c), 2);
    cr_assert_eq(modelcache_predict(c, 10, X, ROWS, got, fetch_k, &f0, &hit, &err), 0);
    cr_assert_eq(hit, 1, "10 stayed");
    cr_assert_eq(modelcache_predict(c, 11, X, ROWS, got, fetch_k, &f1, &hit, &err), 0);
    cr_assert_eq(hit, 0, "11 was evicted");
    cr_assert_eq(f1.calls, 2);
    /* forget */
    modelcache_forget(c, 11);
    modelcache_forget(c, 999);
    cr_assert_eq(modelcache_size(c), 1);
    cr_assert_eq(modelcache_predict(c, 11, X, ROWS, got, fetch_k, &f1, &hit, &err), 0);
    cr_assert_eq(hit, 0);
    modelcache_free(c);
}

Test(modelcache, failures_cache_nothing)
{
    struct modelcache *c = modelcache_new(4);
    double got[ROWS];
    tb_error err = { 0 };
    struct fetch_ud f = { 0, 1 };
    cr_assert_eq(modelcache_predict(c, 1, X, ROWS, got, fetch_model, &f, NULL, &err), -1);
    cr_assert_eq(err.code, TB_EIO);
    f.fail = 2;
    cr_assert_eq(modelcache_predict(c, 1, X, ROWS, got, fetch_model, &f, NULL, &err), -1);
    cr_assert_eq(modelcache_size(c), 0);
    modelcache_free(c);
}

struct worker_arg {
    struct modelcache *c;
    int k;
    const double *want;
    int bad;
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    double got[ROWS];
    for (int i = 0; i < 40; i++) {
        struct fetch_k f = { a->k, 0 };
        tb_error err = { 0 };
        if (modelcache_predict(a->c, 100 + a->k, X, ROWS, got, fetch_k, &f, NULL, &err) != 0 ||
            memcmp(got, a->want, sizeof got) != 0)
            a->bad++;
        if (i % 10 == 9)
            modelcache_forget(a->c, 100 + a->k); /* evictions while others may be predicting */
    }
    return NULL;
}

Test(modelcache, threads_share_boosters_safely)
{
    struct modelcache *c = modelcache_new(2); /* fewer slots than models: constant eviction */
    double want[3][ROWS];
    for (int k = 0; k < 3; k++) direct(k, want[k]);
    pthread_t t[6];
    struct worker_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (struct worker_arg){ c, i % 3, want[i % 3], 0 };
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].bad, 0, "thread %d got wrong or failed predictions", i);
    }
    cr_assert_leq(modelcache_size(c), 2);
    modelcache_free(c);
}
