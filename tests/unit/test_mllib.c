/* test_mllib.c — XGBoost and OpenBLAS are mapped on first use only: a
 * backtest without a meta-model maps neither; mllib_xgb() maps XGBoost and
 * not OpenBLAS; mllib_blas() maps OpenBLAS (and a working dsyrk); both
 * hand out the same table on every call. Criterion runs each test in its own
 * process, so every test starts with neither library mapped — unless a
 * link line pulls one in again, which the first assertion of each test
 * catches. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "backtest.h"
#include "mllib.h"

/* 1 when a mapping of this process has `name` in its path. */
static int mapped(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

static void assert_nothing_mapped(void)
{
    cr_assert(!mapped("libxgboost"), "libxgboost is mapped before first use: is it on a link line again?");
    cr_assert(!mapped("libopenblas"), "libopenblas is mapped before first use: is it on a link line again?");
    cr_assert(!mapped("libgomp"), "libgomp is mapped before first use");
}

Test(mllib, a_backtest_maps_neither_library, .timeout = 120)
{
    assert_nothing_mapped();
    tb_backtest_config c;
    backtest_config_defaults(&c);
    c.source.data = "synthetic";
    c.n_symbols = 12;
    tb_backtest bt;
    tb_error err = {0};
    cr_assert_eq(backtest_run(&c, NULL, &bt, &err), 0, "%s", err.msg);
    backtest_free(&bt);
    assert_nothing_mapped();
}

Test(mllib, xgboost_on_first_use)
{
    assert_nothing_mapped();
    tb_error err = {0};
    const mllib_xgb_fns *x = mllib_xgb(&err);
    cr_assert_not_null(x, "%s", err.msg);
    cr_assert(mapped("libxgboost"));
    cr_assert(!mapped("libopenblas"), "XGBoost alone does not need OpenBLAS");
    cr_assert_eq(mllib_xgb(&err), x, "one table per process");
    BoosterHandle b = NULL;
    cr_assert_eq(x->XGBoosterCreate(NULL, 0, &b), 0, "%s", x->XGBGetLastError());
    cr_assert_eq(x->XGBoosterFree(b), 0);
}

Test(mllib, openblas_on_first_use)
{
    assert_nothing_mapped();
    tb_error err = {0};
    const mllib_blas_fns *bl = mllib_blas(&err);
    cr_assert_not_null(bl, "%s", err.msg);
    cr_assert(mapped("libopenblas"));
    cr_assert(!mapped("libxgboost"));
    cr_assert_eq(mllib_blas(&err), bl);
    /* C = A^T A for A = [[1, 2], [3, 4]] (row-major): upper triangle 10, 14, 20 */
    const double a[4] = {1, 2, 3, 4};
    double c[4] = {0, 0, 0, 0};
    bl->cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, 2, 2, 1.0, a, 2, 0.0, c, 2);
    cr_expect_float_eq(c[0], 10.0, 1e-12);
    cr_expect_float_eq(c[1], 14.0, 1e-12);
    cr_expect_float_eq(c[3], 20.0, 1e-12);
}
