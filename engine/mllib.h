/* mllib.h — XGBoost and OpenBLAS, loaded on first use, so that commands
 * without ML never map them. No binary links either library: their headers
 * give the prototypes (compile time only), and mllib_xgb() / mllib_blas()
 * dlopen the Debian sonames (RTLD_NOW | RTLD_LOCAL, once per process under
 * pthread_once, never closed) and resolve every function the project calls
 * into a table. A function used anywhere must be listed here; a call that
 * bypasses the table does not link. Thread-safe. */
#ifndef TB_MLLIB_H
#define TB_MLLIB_H

#include <cblas.h>
#include <xgboost/c_api.h>

#include "tb_error.h"

/* The XGBoost C API functions tradebench calls (X(name) per function). */
#define MLLIB_XGB_FUNCS(X)            \
    X(XGBGetLastError)                \
    X(XGDMatrixCreateFromMat_omp)     \
    X(XGDMatrixSetStrFeatureInfo)     \
    X(XGDMatrixSetFloatInfo)          \
    X(XGDMatrixFree)                  \
    X(XGBoosterCreate)                \
    X(XGBoosterSetParam)              \
    X(XGBoosterSetStrFeatureInfo)     \
    X(XGBoosterUpdateOneIter)         \
    X(XGBoosterPredictFromDMatrix)    \
    X(XGBoosterFeatureScore)          \
    X(XGBoosterSaveModelToBuffer)     \
    X(XGBoosterLoadModelFromBuffer)   \
    X(XGBoosterFree)

/* The CBLAS / OpenBLAS functions tradebench calls. */
#define MLLIB_BLAS_FUNCS(X)           \
    X(cblas_dsyrk)                    \
    X(openblas_set_num_threads)

/* One pointer per function, named and typed as in the library's header
 * (__typeof__ keeps the table in step with the header, without referencing
 * the symbol). */
#define MLLIB_FIELD(name) __typeof__(name) *name;
typedef struct mllib_xgb_fns {
    MLLIB_XGB_FUNCS(MLLIB_FIELD)
} mllib_xgb_fns;

typedef struct mllib_blas_fns {
    MLLIB_BLAS_FUNCS(MLLIB_FIELD)
} mllib_blas_fns;
#undef MLLIB_FIELD

/* XGBoost's functions, loading libxgboost.so.0 (and with it libgomp,
 * libdmlc, libstdc++) on the first call. Returns the process-wide table
 * (never freed), or NULL with err filled (TB_EINTERNAL, "XGBoost library
 * libxgboost.so.0 not available: <dlerror>") — the same error on every call
 * once loading failed. */
const mllib_xgb_fns *mllib_xgb(tb_error *err);

/* OpenBLAS's functions, loading libopenblas.so.0 on the first call; right
 * after loading, OpenBLAS is set to one thread (the project's only BLAS call
 * is a 10 x 10 dsyrk: threads would only add overhead). Same contract as
 * mllib_xgb(). */
const mllib_blas_fns *mllib_blas(tb_error *err);

#endif
