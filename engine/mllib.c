/* mllib.c — loads XGBoost and OpenBLAS on first use (see mllib.h), so
 * commands without ML never map them: no dynamic-loader work for libxgboost,
 * libdmlc, libstdc++, libgomp, libopenblas, libgfortran and libquadmath, and
 * no OpenBLAS thread pool spinning from its load-time constructor. Each
 * library is opened once per process under pthread_once by its soname, then
 * (when the soname is not found) by the absolute path under pkg-config's
 * libdir recorded at build time. Handles are never dlclose()d: models and
 * thread pools may outlive any caller, and LeakSanitizer then sees the
 * libraries' globals as reachable. Owns only the two tables. */
#include "mllib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#ifndef TB_XGBOOST_SONAME
#define TB_XGBOOST_SONAME "libxgboost.so.0"
#endif
#ifndef TB_OPENBLAS_SONAME
#define TB_OPENBLAS_SONAME "libopenblas.so.0"
#endif
#ifndef TB_XGBOOST_FALLBACK
#define TB_XGBOOST_FALLBACK ""
#endif
#ifndef TB_OPENBLAS_FALLBACK
#define TB_OPENBLAS_FALLBACK ""
#endif

/* One library's loading state; written only inside its pthread_once. */
typedef struct mllib_lib {
    const char *what;      /* "XGBoost" | "OpenBLAS", for messages */
    const char *soname;    /* tried first, through the loader's search path */
    const char *fallback;  /* absolute path tried next, "" for none */
    void *handle;          /* the dlopen handle, never closed; NULL on failure */
    char msg[400];         /* why loading failed, "" when it did not */
} mllib_lib;

static mllib_lib xgb_lib = { "XGBoost", TB_XGBOOST_SONAME, TB_XGBOOST_FALLBACK, NULL, "" };
static mllib_lib blas_lib = { "OpenBLAS", TB_OPENBLAS_SONAME, TB_OPENBLAS_FALLBACK, NULL, "" };
static mllib_xgb_fns xgb_fns;
static mllib_blas_fns blas_fns;
static pthread_once_t xgb_once = PTHREAD_ONCE_INIT;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static const char *dl_why(void)
{
    const char *e = dlerror();
    return e && *e ? e : "(no message)";
}

/* dlopen the library; 0, or -1 with L->msg filled. */
static int lib_open(mllib_lib *L)
{
    L->handle = dlopen(L->soname, RTLD_NOW | RTLD_LOCAL);
    if (L->handle) return 0;
    int n = snprintf(L->msg, sizeof L->msg, "%s library %s not available: %s", L->what, L->soname, dl_why());
    if (!*L->fallback) return -1;
    L->handle = dlopen(L->fallback, RTLD_NOW | RTLD_LOCAL);
    if (L->handle) {
        L->msg[0] = '\0';
        return 0;
    }
    if (n >= 0 && (size_t)n < sizeof L->msg)
        snprintf(L->msg + n, sizeof L->msg - (size_t)n, " (also tried %s)", dl_why()); /* "<path>: <why>" */
    return -1;
}

/* The address of one function; NULL with L->msg filled when it is missing. */
static void *lib_sym(mllib_lib *L, const char *name)
{
    dlerror(); /* clear a stale message */
    void *p = dlsym(L->handle, name);
    if (!p) snprintf(L->msg, sizeof L->msg, "%s library %s lacks %s: %s", L->what, L->soname, name, dl_why());
    return p;
}

/* Fill table field `name` from the library, or leave the loader on failure. */
#define MLLIB_RESOLVE(L, table, name)                      \
    do {                                                   \
        void *sym_ = lib_sym(L, #name);                    \
        if (!sym_) goto fail;                              \
        (table).name = (__typeof__((table).name))sym_;     \
    } while (0)

static void xgb_load(void)
{
    if (lib_open(&xgb_lib)) return;
#define X(name) MLLIB_RESOLVE(&xgb_lib, xgb_fns, name);
    MLLIB_XGB_FUNCS(X)
#undef X
    return;
fail:
    xgb_lib.handle = NULL; /* the mapping stays; the table is never handed out */
}

static void blas_load(void)
{
    if (lib_open(&blas_lib)) return;
#define X(name) MLLIB_RESOLVE(&blas_lib, blas_fns, name);
    MLLIB_BLAS_FUNCS(X)
#undef X
    blas_fns.openblas_set_num_threads(1);
    return;
fail:
    blas_lib.handle = NULL;
}

const mllib_xgb_fns *mllib_xgb(tb_error *err)
{
    pthread_once(&xgb_once, xgb_load);
    if (!xgb_lib.handle) {
        tb_fail(err, TB_EINTERNAL, "%s", xgb_lib.msg);
        return NULL;
    }
    return &xgb_fns;
}

const mllib_blas_fns *mllib_blas(tb_error *err)
{
    pthread_once(&blas_once, blas_load);
    if (!blas_lib.handle) {
        tb_fail(err, TB_EINTERNAL, "%s", blas_lib.msg);
        return NULL;
    }
    return &blas_fns;
}
