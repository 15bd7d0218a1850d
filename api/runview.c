/*
 * runview — PGresult row -> run JSON. Text-format columns, parsed here:
 * NULL columns become JSON null, params (jsonb) is embedded as an object,
 * metrics go through the engine's metrics_to_json() so the summary has the
 * same names, order and integer counts as metrics.json.
 */
#include "runview.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static json_t *runview_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *runview_int(const PGresult *res, int row, int col)
{
    return json_integer((json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10));
}

int runview_is_model(const char *kind, const char *job)
{
    return strcmp(kind, "model") == 0 || (strcmp(kind, "run") == 0 && job && strcmp(job, "ML_JOB") == 0);
}

int runview_is_backtest(const char *kind, const char *job)
{
    if (strcmp(kind, "backtest") == 0)
        return 1;
    return strcmp(kind, "run") == 0 && job &&
           (strcmp(job, "EOD_SMALL") == 0 || strcmp(job, "BACKTEST_MEDIUM") == 0);
}

void runview_url(const char *kind, int64_t id, char *out, size_t n)
{
    snprintf(out, n, "/%s/%" PRId64,
             strcmp(kind, "backtest") == 0 || strcmp(kind, "sweep") == 0 ? "backtests"
             : strcmp(kind, "model") == 0                                ? "models"
                                                                         : "runs",
             id);
}

/* Where each SPEC §5 metric lives in tb_metrics, in metrics_names order. */
static const size_t runview_metric_offsets[15] = {
    offsetof(tb_metrics, total_return),  offsetof(tb_metrics, cagr),
    offsetof(tb_metrics, volatility),    offsetof(tb_metrics, sharpe),
    offsetof(tb_metrics, sortino),       offsetof(tb_metrics, max_drawdown),
    offsetof(tb_metrics, max_drawdown_duration), offsetof(tb_metrics, calmar),
    offsetof(tb_metrics, turnover),      offsetof(tb_metrics, exposure),
    offsetof(tb_metrics, n_orders),      offsetof(tb_metrics, total_costs),
    offsetof(tb_metrics, hit_rate),      offsetof(tb_metrics, beta),
    offsetof(tb_metrics, correlation),
};

json_t *runview_metrics_from(const char *const *names, const double *values, size_t n)
{
    tb_metrics mt;
    double *slot[15];
    for (size_t k = 0; k < 15; k++) {
        slot[k] = (double *)((char *)&mt + runview_metric_offsets[k]);
        *slot[k] = NAN;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 15; k++) {
            if (strcmp(names[i], metrics_names[k]) == 0)
                *slot[k] = values[i];
        }
    }
    return metrics_to_json(&mt);
}

json_t *runview_metrics_json(const char *pairs_json)
{
    const char *names[64];
    double values[64];
    size_t n = 0, i;
    json_t *pair, *pairs = pairs_json ? json_loads(pairs_json, 0, NULL) : NULL;
    json_array_foreach(pairs, i, pair) {
        const char *name = json_string_value(json_array_get(pair, 0));
        json_t *v = json_array_get(pair, 1);
        if (!name || n == 64)
            continue;
        names[n] = name;
        values[n++] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    json_t *m = runview_metrics_from(names, values, n);
    json_decref(pairs);
    return m;
}

json_t *runview_metrics_text(const char *pairs)
{
    const char *names[64];
    char name_buf[64][48];
    double values[64];
    size_t n = 0;
    const char *p = pairs;
    while (p && *p && n < 64) {
        while (*p == ' ')
            p++;
        const char *sp = strchr(p, ' ');
        if (!*p || !sp)
            break;
        size_t len = (size_t)(sp - p);
        char *end;
        double v = strtod(sp + 1, &end);
        if (end == sp + 1)
            break;
        if (len < sizeof name_buf[0]) {
            memcpy(name_buf[n], p, len);
            name_buf[n][len] = '\0';
            names[n] = name_buf[n];
            values[n++] = v; /* "NaN" parses as NaN: undefined, as in metrics.json */
        }
        p = end;
    }
    return runview_metrics_from(names, values, n);
}

static json_t *runview_build(const PGresult *res, int row, int list_item);

json_t *runview_json(const PGresult *res, int row)
{
    return runview_build(res, row, 0);
}

json_t *runview_list_json(const PGresult *res, int row)
{
    return runview_build(res, row, 1);
}

static json_t *runview_build(const PGresult *res, int row, int list_item)
{
    char url[64], link[96];
    int64_t id = strtoll(PQgetvalue(res, row, RUNVIEW_C_ID), NULL, 10);
    const char *kind = PQgetvalue(res, row, RUNVIEW_C_KIND);
    const char *status = PQgetvalue(res, row, RUNVIEW_C_STATUS);
    json_t *params = list_item ? NULL : json_loads(PQgetvalue(res, row, RUNVIEW_C_PARAMS), 0, NULL);

    runview_url(kind, id, url, sizeof url);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "job", runview_str(res, row, RUNVIEW_C_JOB));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "progress", json_real(strtod(PQgetvalue(res, row, RUNVIEW_C_PROGRESS), NULL)));
    json_object_set_new(o, "stage", runview_str(res, row, RUNVIEW_C_STAGE));
    json_object_set_new(o, "phase", runview_str(res, row, RUNVIEW_C_PHASE));
    json_object_set_new(o, "iterations", runview_int(res, row, RUNVIEW_C_ITERATIONS));
    json_object_set_new(o, "attempts", runview_int(res, row, RUNVIEW_C_ATTEMPTS));
    json_object_set_new(o, "max_attempts", runview_int(res, row, RUNVIEW_C_MAX_ATTEMPTS));
    json_object_set_new(o, "cancel_requested",
                        json_boolean(PQgetvalue(res, row, RUNVIEW_C_CANCEL_REQUESTED)[0] == 't'));
    if (list_item)
        json_object_set_new(o, "strategy", runview_str(res, row, RUNVIEW_C_PARAMS));
    else
        json_object_set_new(o, "params", params ? params : json_object());
    json_object_set_new(o, "error", runview_str(res, row, RUNVIEW_C_ERROR));
    json_object_set_new(o, "created_at", runview_str(res, row, RUNVIEW_C_CREATED_AT));
    json_object_set_new(o, "started_at", runview_str(res, row, RUNVIEW_C_STARTED_AT));
    json_object_set_new(o, "heartbeat_at", runview_str(res, row, RUNVIEW_C_HEARTBEAT_AT));
    json_object_set_new(o, "finished_at", runview_str(res, row, RUNVIEW_C_FINISHED_AT));
    const char *job = PQgetisnull(res, row, RUNVIEW_C_JOB) ? NULL : PQgetvalue(res, row, RUNVIEW_C_JOB);
    if (strcmp(status, "succeeded") == 0 && runview_is_backtest(kind, job)) {
        const char *m = PQgetisnull(res, row, RUNVIEW_C_METRICS)
                            ? NULL
                            : PQgetvalue(res, row, RUNVIEW_C_METRICS);
        json_object_set_new(o, "metrics",
                            list_item ? runview_metrics_text(m) : runview_metrics_json(m));
    }
    if (!PQgetisnull(res, row, RUNVIEW_C_PARENT))
        json_object_set_new(o, "parent_id", runview_int(res, row, RUNVIEW_C_PARENT));
    if (!list_item && !PQgetisnull(res, row, RUNVIEW_C_CHUNKS)) {
        json_t *chunks = json_loads(PQgetvalue(res, row, RUNVIEW_C_CHUNKS), 0, NULL);
        if (chunks)
            json_object_set_new(o, "chunks", chunks);
    }
    json_object_set_new(o, "url", json_string(url));

    json_t *links = json_object();
    snprintf(link, sizeof link, "/runs/%" PRId64 "/artifacts", id);
    json_object_set_new(links, "artifacts", json_string(link));
    snprintf(link, sizeof link, "/runs/%" PRId64 "/profile", id);
    json_object_set_new(links, "profile", json_string(link));
    snprintf(link, sizeof link, "/runs/%" PRId64 "/cancel", id);
    json_object_set_new(links, "cancel", json_string(link));
    if (runview_is_backtest(kind, PQgetisnull(res, row, RUNVIEW_C_JOB)
                                      ? NULL
                                      : PQgetvalue(res, row, RUNVIEW_C_JOB))) {
        snprintf(link, sizeof link, "/backtests/%" PRId64 "/orders", id);
        json_object_set_new(links, "orders", json_string(link));
        snprintf(link, sizeof link, "/backtests/%" PRId64 "/equity", id);
        json_object_set_new(links, "equity", json_string(link));
    }
    if (runview_is_model(kind, job)) {
        snprintf(link, sizeof link, "/models/%" PRId64, id);
        json_object_set_new(links, "model", json_string(link));
    }
    json_object_set_new(o, "links", links);
    return o;
}
