/*
 * backtests — /backtests handlers. POST validates with the engine's
 * jobspec_from_backtest_json (every field error becomes an errors[] entry)
 * and enqueues through enqueue.c (a body with a "grid" is a run of kind
 * sweep, whose GET adds the ranked table, sweeps.c). The result endpoints
 * first check that the run exists, is a backtest and has succeeded
 * (404 / 404 / 409), then hand the page or the CSV stream to results.c.
 */
#include "backtests.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dbx.h"
#include "enqueue.h"
#include "jobspec.h"
#include "models.h"
#include "params.h"
#include "results.h"
#include "runview.h"
#include "sweeps.h"

static const char BACKTESTS_SQL_GET[] =
    "SELECT " RUNVIEW_COLS " FROM runs r WHERE r.id = $1::bigint AND (" RUNVIEW_SQL_IS_BACKTEST
    " OR r.kind = 'sweep')";

/* Status and frequency of a backtest, to check and format its results. */
static const char BACKTESTS_SQL_STATE[] =
    "SELECT r.status, coalesce(r.params->>'freq', '1d') FROM runs r "
    "WHERE r.id = $1::bigint AND " RUNVIEW_SQL_IS_BACKTEST;

void api_backtests_post(const struct http_request *req, struct http_reply *rep)
{
    tb_jobspec spec;
    js_errors errs;
    if (jobspec_from_backtest_json(req->body, &spec, &errs) < 0) {
        params_reply_js_errors(rep, &errs);
        return;
    }
    if (enqueue_check_universe(&spec, "", rep) == 0 &&
        models_check_meta_filter(req, rep, &spec, "") == 0) {
        struct enqueue_spec es = { spec.job == JS_JOB_SWEEP ? "sweep" : "backtest", NULL, spec.normalized, 1,
                                   NULL };
        enqueue_run(req, rep, &es);
    }
    jobspec_free(&spec);
}

void api_backtests_get(const struct http_request *req, struct http_reply *rep)
{
    char id[24];
    PGresult *res = dbx_read_by_id(req, rep, BACKTESTS_SQL_GET, "backtest", id);
    if (!res)
        return;
    json_t *o = runview_json(res, 0);
    int sweep_done = strcmp(PQgetvalue(res, 0, RUNVIEW_C_KIND), "sweep") == 0 &&
                     strcmp(PQgetvalue(res, 0, RUNVIEW_C_STATUS), "succeeded") == 0;
    PQclear(res);
    if (sweep_done) { /* a sweep's ranked table */
        json_t *sw = sweeps_json(req, rep, id);
        if (!sw) {
            json_decref(o);
            return;
        }
        json_object_set_new(o, "sweep", sw);
    }
    http_reply_json_take(rep, 200, o);
    http_reply_header(rep, "Cache-Control", "no-store");
}

/* Orders or equity of a succeeded backtest, as a JSON page or CSV. */
static void backtests_results(const struct http_request *req, struct http_reply *rep,
                              enum results_table table)
{
    static const char *const known_orders[] = { "limit", "cursor", "symbol", "format", NULL };
    static const char *const known_equity[] = { "limit", "cursor", "format", NULL };
    int64_t run_id;
    int limit, csv;
    const char *symbol = NULL;
    char id[24], filename[64];

    if (params_id(req, rep, "id", &run_id) < 0 ||
        params_query_known(req, rep, table == RESULTS_ORDERS ? known_orders : known_equity) < 0 ||
        params_limit(req, rep, BACKTESTS_PAGE_DEFAULT_LIMIT, BACKTESTS_PAGE_MAX_LIMIT, &limit) < 0 ||
        params_string(req, rep, "symbol", 32, &symbol) < 0 || (csv = params_wants_csv(req, rep)) < 0)
        return;
    snprintf(id, sizeof id, "%" PRId64, run_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read_prepared(&conn, rep, BACKTESTS_SQL_STATE, 1, args, DBX_TEXT);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no backtest with id %s", id);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "succeeded") != 0) {
        http_reply_error(rep, PROBLEM_CONFLICT,
                         "backtest %s is %s; its results exist once it has succeeded", id,
                         PQgetvalue(res, 0, 0));
        goto out;
    }
    const char *freq = PQgetvalue(res, 0, 1);
    int date_only = strcmp(freq, "1d") == 0;
    if (csv) {
        snprintf(filename, sizeof filename, "%s_%s.csv",
                 table == RESULTS_ORDERS ? "orders" : "equity_curve",
                 strspn(freq, "0123456789dhm") == strlen(freq) ? freq : "1d");
        results_reply_csv(req, rep, table, run_id, date_only, symbol, filename);
    } else {
        results_reply_page(req, rep, table, run_id, date_only, symbol,
                           http_query(req, "cursor"), limit);
    }
out:
    PQclear(res);
}

void api_backtests_orders(const struct http_request *req, struct http_reply *rep)
{
    backtests_results(req, rep, RESULTS_ORDERS);
}

void api_backtests_equity(const struct http_request *req, struct http_reply *rep)
{
    backtests_results(req, rep, RESULTS_EQUITY);
}
