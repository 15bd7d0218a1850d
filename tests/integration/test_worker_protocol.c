/*
 * test_worker_protocol — the worker's pure parts, without a database: the
 * child's progress lines and result bundle as the parent parses them
 * (malformed and truncated input included), the job dispatch table, and the
 * TB_WORKER_* settings.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "server/runexec.h"
#include "server/worker.h"

Test(worker_protocol, progress_stage_and_error_lines)
{
    struct runexec_msg m;
    char a[] = "P 0.425000 simulate";
    runexec_msg_parse(a, &m);
    cr_assert_eq(m.kind, RUNEXEC_MSG_PROGRESS);
    cr_assert_float_eq(m.value, 0.425, 1e-12);
    cr_assert_str_eq(m.text, "simulate");

    char b[] = "S 0.015000000 load_data";
    runexec_msg_parse(b, &m);
    cr_assert_eq(m.kind, RUNEXEC_MSG_STAGE);
    cr_assert_str_eq(m.text, "load_data");

    char c[] = "E symbols: symbol 'XYZ' is not in the synthetic source";
    runexec_msg_parse(c, &m);
    cr_assert_eq(m.kind, RUNEXEC_MSG_ERROR);
    cr_assert_str_eq(m.text, "symbols: symbol 'XYZ' is not in the synthetic source");

    const char *bad[] = { "", "P", "P ", "P x simulate", "P 0.5", "P -1 simulate",
                          "P nan simulate", "X 1 y", "P0.5 simulate", "S 1e999 big" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "%s", bad[i]);
        runexec_msg_parse(line, &m);
        cr_assert_eq(m.kind, RUNEXEC_MSG_BAD, "'%s' was accepted", bad[i]);
    }
}

static const char bundle_ok[] = "meta 35\n{\"freq\":\"1d\",\"orders\":2,\"equity\":3}"
                                "orders 3\nabc"
                                "equity 0\n"
                                "metrics 1\nm"
                                "future 4\nskip"
                                "report 5\n# hi\n"
                                "targets 2\nt\n"
                                "end 0\n";

Test(worker_protocol, bundle_sections)
{
    struct runexec_bundle b;
    char err[256];
    cr_assert_eq(runexec_bundle_parse(bundle_ok, sizeof bundle_ok - 1, &b, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(b.freq, "1d");
    cr_assert_eq(b.n_orders, 2);
    cr_assert_eq(b.n_equity, 3);
    cr_assert_eq(b.orders.len, 3);
    cr_assert_eq(memcmp(b.orders.data, "abc", 3), 0);
    cr_assert_eq(b.equity.len, 0);
    cr_assert_eq(b.metrics.len, 1);
    cr_assert_eq(b.report.len, 5);
    cr_assert_eq(memcmp(b.report.data, "# hi\n", 5), 0);
    cr_assert_eq(b.targets.len, 2);
}

Test(worker_protocol, truncated_or_malformed_bundles_are_errors)
{
    struct runexec_bundle b;
    char err[256];
    /* every strict prefix misses at least the end marker */
    for (size_t n = 0; n + 1 < sizeof bundle_ok - 1; n++)
        cr_assert_eq(runexec_bundle_parse(bundle_ok, n, &b, err, sizeof err), -1,
                     "a %zu-byte prefix was accepted", n);
    const char *bad[] = {
        "meta 99\n{}",                                                /* length past the end */
        "meta x\n{}end 0\n",                                          /* bad length */
        "meta 2\n{}report 0\nend 0\n",                                /* meta without fields */
        "report 0\nend 0\n",                                          /* no meta */
        "meta 35\n{\"freq\":\"1d\",\"orders\":2,\"equity\":3}end 0\n", /* no report */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(runexec_bundle_parse(bad[i], strlen(bad[i]), &b, err, sizeof err), -1,
                     "bundle %zu was accepted", i);
}

Test(worker_protocol, jobs_dispatch_by_type)
{
    cr_assert_not_null(runexec_find(JS_JOB_BACKTEST)->run);
    cr_assert_not_null(runexec_find(JS_JOB_EOD_SMALL)->run);
    cr_assert_not_null(runexec_find(JS_JOB_BACKTEST_MEDIUM)->run);
    cr_assert_not_null(runexec_find(JS_JOB_ML_JOB)->run);
    cr_assert_not_null(runexec_find(JS_JOB_MODEL)->run);
    cr_assert_eq(runexec_find(JS_JOB_ML_JOB)->run, runexec_find(JS_JOB_MODEL)->run);
}

struct kv {
    const char *k, *v;
};

static const char *lookup(const char *name, void *ud)
{
    for (const struct kv *p = ud; p->k; p++)
        if (strcmp(p->k, name) == 0)
            return p->v;
    return NULL;
}

Test(worker_protocol, worker_settings)
{
    struct worker_options o;
    char err[256];
    struct kv none[] = { { NULL, NULL } };
    cr_assert_eq(worker_options_load(&o, 2, lookup, none, err, sizeof err), 0);
    cr_assert_eq(o.concurrency, 2);
    cr_assert_eq(o.stale_seconds, WORKER_DEFAULT_STALE_SECONDS);
    cr_assert_eq(o.grace_seconds, WORKER_DEFAULT_GRACE_SECONDS);
    cr_assert_eq(o.xgb_threads, 1, "XGBoost trains on one thread unless told otherwise");
    cr_assert(o.ml_threads >= 1 && o.ml_threads <= WORKER_ML_THREADS_MAX_DEFAULT);
    cr_assert_null(o.fault);
    worker_options_free(&o);

    struct kv set[] = { { "TB_WORKER_STALE_SECONDS", "30" }, { "TB_WORKER_GRACE_SECONDS", "0" },
                        { "TB_FAULT_INJECT", "crash:7" },    { "TB_WORKER_XGB_THREADS", "3" },
                        { "TB_WORKER_ML_THREADS", "2" },     { NULL, NULL } };
    cr_assert_eq(worker_options_load(&o, 1, lookup, set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.stale_seconds, 30);
    cr_assert_eq(o.grace_seconds, 0);
    cr_assert_eq(o.xgb_threads, 3);
    cr_assert_eq(o.ml_threads, 2, "the sweep's threads are set apart from XGBoost's");
    cr_assert_str_eq(o.fault, "crash:7");
    worker_options_free(&o);

    struct kv ml_only[] = { { "TB_WORKER_ML_THREADS", "4" }, { "TB_WORKER_XGB_THREADS", "" }, { NULL, NULL } };
    cr_assert_eq(worker_options_load(&o, 1, lookup, ml_only, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.ml_threads, 4);
    cr_assert_eq(o.xgb_threads, 1, "TB_WORKER_ML_THREADS does not set XGBoost's threads; empty is unset");
    worker_options_free(&o);

    const struct kv bad[][2] = {
        { { "TB_WORKER_STALE_SECONDS", "1" }, { NULL, NULL } },
        { { "TB_WORKER_STALE_SECONDS", "15s" }, { NULL, NULL } },
        { { "TB_WORKER_STALE_SECONDS", "+15" }, { NULL, NULL } },
        { { "TB_WORKER_GRACE_SECONDS", "-1" }, { NULL, NULL } },
        { { "TB_WORKER_GRACE_SECONDS", "3601" }, { NULL, NULL } },
        { { "TB_WORKER_XGB_THREADS", "0" }, { NULL, NULL } },
        { { "TB_WORKER_XGB_THREADS", "65" }, { NULL, NULL } },
        { { "TB_WORKER_XGB_THREADS", "two" }, { NULL, NULL } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(worker_options_load(&o, 1, lookup, (void *)bad[i], err, sizeof err), -1,
                     "%s=%s accepted", bad[i][0].k, bad[i][0].v);
        cr_assert(strstr(err, bad[i][0].k), "error does not name the variable: %s", err);
        worker_options_free(&o);
    }
}
