/* jobspec.c — JSON request validation into engine configs (see jobspec.h).
 * Rules: unknown fields are errors; numbers must be JSON numbers (no strings,
 * no booleans) and finite; dates are "YYYY-MM-DD"; symbols are 1..5000
 * unique valid names; strategy params go through the strategy registry's
 * schema, so their bounds live in one place. */
#include "jobspec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "universe.h"

static void js_add(js_errors *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void js_add(js_errors *e, const char *field, const char *fmt, ...)
{
    if (e->n >= JS_MAX_ERRORS) return;
    js_field_error *f = &e->e[e->n++];
    snprintf(f->field, sizeof f->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

const char *jobspec_job_name(js_job j)
{
    switch (j) {
    case JS_JOB_EOD_SMALL: return "EOD_SMALL";
    case JS_JOB_BACKTEST_MEDIUM: return "BACKTEST_MEDIUM";
    case JS_JOB_ML_JOB: return "ML_JOB";
    default: return "backtest";
    }
}

void jobspec_free(tb_jobspec *s)
{
    if (!s) return;
    json_decref(s->normalized);
    free((void *)s->bt.symbols);
    memset(s, 0, sizeof *s);
}

static const char *const bt_fields[] = {
    "strategy", "params", "freq", "data", "symbols", "universe", "start", "end", "last_bars", "capital",
    "costs", "max_weight", "rebalance_band", "meta_filter", "seed", NULL,
};

static int known(const char *const *list, const char *k)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], k)) return 1;
    return 0;
}

/* A finite JSON number into *out; errors name the field. 0 ok, -1 bad. */
static int get_num(json_t *o, const char *field, double lo, double hi, int lo_open, double *out, js_errors *e)
{
    json_t *v = json_object_get(o, field);
    if (!v) return 0;
    if (!json_is_number(v)) {
        js_add(e, field, "must be a number");
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
        js_add(e, field, "must be in %s%g, %g]", lo_open ? "(" : "[", lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int get_int(json_t *o, const char *field, long long lo, long long hi, long long *out, js_errors *e)
{
    json_t *v = json_object_get(o, field);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        js_add(e, field, "must be an integer in [%lld, %lld]", lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_date(json_t *o, const char *field, int end_of_day, int64_t *out, js_errors *e)
{
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v)) return 0;
    int64_t ts;
    if (!json_is_string(v) || tu_parse_date(json_string_value(v), &ts)) {
        js_add(e, field, "must be a date YYYY-MM-DD");
        return -1;
    }
    *out = end_of_day ? ts + TU_DAY - 1 : ts;
    return 0;
}

static json_t *date_json(int64_t ts, int is_min)
{
    if ((is_min && ts == INT64_MIN) || (!is_min && ts == INT64_MAX)) return json_null();
    char b[24];
    tu_format(ts, 1, b);
    return json_string(b);
}

int jobspec_from_backtest_json(json_t *body, tb_jobspec *out, js_errors *e)
{
    memset(out, 0, sizeof *out);
    e->n = 0;
    if (!json_is_object(body)) {
        js_add(e, "", "the body must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val) {
        if (!known(bt_fields, key)) js_add(e, key, "unknown field");
    }
    tb_backtest_config *c = &out->bt;
    backtest_config_defaults(c);
    c->source.data = "default";

    /* data source: the server's configured source or the synthetic market; never a client path */
    json_t *v = json_object_get(body, "data");
    const char *data = "default";
    if (v) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "default") && strcmp(json_string_value(v), "synthetic")))
            js_add(e, "data", "must be \"default\" (the server's data source) or \"synthetic\"");
        else data = json_string_value(v);
    }
    v = json_object_get(body, "freq");
    if (v && (!json_is_string(v) || tb_freq_parse(json_string_value(v), &c->source.freq)))
        js_add(e, "freq", "must be \"1d\" or \"1h\"");
    long long seed = 42;
    get_int(body, "seed", 0, (long long)1 << 53, &seed, e);
    c->source.seed = (uint64_t)seed;

    /* strategy and its parameters */
    v = json_object_get(body, "strategy");
    const tb_strategy_def *def = NULL;
    if (!v) js_add(e, "strategy", "is required");
    else if (!json_is_string(v)) js_add(e, "strategy", "must be a string");
    else if (!(def = strategy_find(json_string_value(v))))
        js_add(e, "strategy", "unknown strategy '%.60s' (trend_baseline, ema_trend, buy_and_hold)", json_string_value(v));
    if (def) {
        strategy_params_defaults(def, &c->strategy);
        json_t *p = json_object_get(body, "params");
        if (p && !json_is_object(p) && !json_is_null(p)) js_add(e, "params", "must be an object");
        else if (p && json_is_object(p)) {
            json_object_foreach(p, key, val) {
                char field[64];
                snprintf(field, sizeof field, "params.%.50s", key);
                tb_error te = {0};
                if (!json_is_number(val)) js_add(e, field, "must be a number");
                else if (strategy_params_set_num(&c->strategy, key, json_number_value(val), &te))
                    js_add(e, field, "%s", te.msg);
            }
            tb_error te = {0};
            if (e->n == 0 && strategy_params_validate(&c->strategy, &te)) {
                char field[64];
                snprintf(field, sizeof field, "params.%.50s", te.field);
                js_add(e, field, "%s", te.msg);
            }
        }
    }

    /* universe: an explicit list or the first N symbols */
    json_t *syms = json_object_get(body, "symbols"), *uni = json_object_get(body, "universe");
    if (syms && uni) js_add(e, "symbols", "give symbols or universe, not both");
    long long n_first = 0;
    if (uni) get_int(body, "universe", 1, 100000, &n_first, e);
    c->n_symbols = (size_t)n_first;
    if (syms) {
        size_t n = json_is_array(syms) ? json_array_size(syms) : 0;
        if (!json_is_array(syms)) js_add(e, "symbols", "must be an array of symbol names");
        else if (n == 0) js_add(e, "symbols", "must not be empty");
        else if (n > JS_MAX_SYMBOLS) js_add(e, "symbols", "at most %d symbols", JS_MAX_SYMBOLS);
        else {
            const char **list = calloc(n, sizeof *list);
            int ok = list != NULL;
            for (size_t i = 0; ok && i < n; i++) {
                json_t *s = json_array_get(syms, i);
                char field[32];
                snprintf(field, sizeof field, "symbols[%zu]", i);
                if (!json_is_string(s) || !universe_valid_name(json_string_value(s))) {
                    js_add(e, field, "must be a symbol name ([A-Za-z0-9._-], 1-32 chars)");
                    ok = 0;
                } else {
                    list[i] = json_string_value(s);
                }
            }
            for (size_t i = 0; ok && i < n; i++)
                for (size_t j = 0; j < i; j++) /* n <= 5000: fine once per request */
                    if (!strcmp(list[i], list[j])) {
                        char field[32];
                        snprintf(field, sizeof field, "symbols[%zu]", i);
                        js_add(e, field, "duplicate symbol '%s'", list[i]);
                        ok = 0;
                        break;
                    }
            if (ok) {
                c->symbols = list;
                c->n_list = n;
            } else {
                free(list);
            }
        }
    }

    /* range */
    int intraday = c->source.freq != TB_FREQ_1D;
    get_date(body, "start", 0, &c->start, e);
    get_date(body, "end", intraday, &c->end, e);
    if (c->start != INT64_MIN && c->end != INT64_MAX && c->start > c->end) js_add(e, "start", "is after end");
    long long lb = 0;
    if (json_object_get(body, "last_bars") && !json_is_null(json_object_get(body, "last_bars")))
        get_int(body, "last_bars", 2, 10000000, &lb, e);
    c->last_bars = (size_t)lb;

    /* portfolio and costs */
    get_num(body, "capital", 0, 1e15, 1, &c->sim.start_capital, e);
    get_num(body, "max_weight", 0, 1, 1, &c->sim.max_weight, e);
    get_num(body, "rebalance_band", 0, 1, 0, &c->sim.rebalance_band, e);
    json_t *costs = json_object_get(body, "costs");
    if (costs) {
        if (json_is_string(costs) && !strcmp(json_string_value(costs), "none")) c->sim.costs = costs_none();
        else if (json_is_string(costs) && !strcmp(json_string_value(costs), "default")) c->sim.costs = costs_default();
        else if (json_is_object(costs)) {
            json_object_foreach(costs, key, val) {
                if (strcmp(key, "commission_bps") && strcmp(key, "spread_w") && strcmp(key, "impact_w")) {
                    char field[64];
                    snprintf(field, sizeof field, "costs.%.50s", key);
                    js_add(e, field, "unknown field (commission_bps, spread_w, impact_w)");
                }
            }
            js_errors sub = {0};
            get_num(costs, "commission_bps", 0, 1e4, 0, &c->sim.costs.commission_bps, &sub);
            get_num(costs, "spread_w", 0, 1e4, 0, &c->sim.costs.spread_w, &sub);
            get_num(costs, "impact_w", 0, 1e4, 0, &c->sim.costs.impact_w, &sub);
            for (size_t i = 0; i < sub.n; i++) {
                char field[64];
                snprintf(field, sizeof field, "costs.%.50s", sub.e[i].field);
                js_add(e, field, "%s", sub.e[i].message);
            }
        } else {
            js_add(e, "costs", "must be \"default\", \"none\" or {commission_bps, spread_w, impact_w}");
        }
    }
    if (json_object_get(body, "meta_filter") && !json_is_null(json_object_get(body, "meta_filter")))
        js_add(e, "meta_filter", "meta-filtered backtests need the model registry, which this build does not have yet");

    if (e->n) {
        free((void *)c->symbols);
        c->symbols = NULL;
        return -1;
    }

    /* the normalised params: every default filled in, itself a valid body */
    json_t *n = json_object();
    json_object_set_new(n, "strategy", json_string(def->name));
    json_t *pj = json_object();
    for (size_t k = 0; k < def->n_params; k++)
        json_object_set_new(pj, def->params[k].name,
                            def->params[k].integer ? json_integer((json_int_t)c->strategy.v[k]) : json_real(c->strategy.v[k]));
    json_object_set_new(n, "params", pj);
    json_object_set_new(n, "freq", json_string(tb_freq_name(c->source.freq)));
    json_object_set_new(n, "data", json_string(data));
    json_object_set_new(n, "seed", json_integer((json_int_t)c->source.seed));
    if (c->symbols) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n_list; i++) json_array_append_new(a, json_string(c->symbols[i]));
        json_object_set_new(n, "symbols", a);
    } else if (c->n_symbols) {
        json_object_set_new(n, "universe", json_integer((json_int_t)c->n_symbols));
    }
    json_object_set_new(n, "start", date_json(c->start, 1));
    json_object_set_new(n, "end", date_json(intraday && c->end != INT64_MAX ? c->end - (TU_DAY - 1) : c->end, 0));
    if (c->last_bars) json_object_set_new(n, "last_bars", json_integer((json_int_t)c->last_bars));
    json_object_set_new(n, "capital", json_real(c->sim.start_capital));
    json_t *cj = json_object();
    json_object_set_new(cj, "commission_bps", json_real(c->sim.costs.commission_bps));
    json_object_set_new(cj, "spread_w", json_real(c->sim.costs.spread_w));
    json_object_set_new(cj, "impact_w", json_real(c->sim.costs.impact_w));
    json_object_set_new(n, "costs", cj);
    json_object_set_new(n, "max_weight", json_real(c->sim.max_weight));
    json_object_set_new(n, "rebalance_band", json_real(c->sim.rebalance_band));
    out->normalized = n;
    /* symbols must point into the normalised JSON, which outlives the body */
    if (c->symbols) {
        json_t *a = json_object_get(n, "symbols");
        for (size_t i = 0; i < c->n_list; i++) ((const char **)c->symbols)[i] = json_string_value(json_array_get(a, i));
    }
    c->source.data = json_string_value(json_object_get(n, "data"));
    if (!strcmp(c->source.data, "default")) {
        const char *env = getenv("TB_DATA");
        c->source.data = env && *env ? env : "synthetic";
    }
    return 0;
}

/* The standard jobs as backtest bodies (SPEC §7). */
static json_t *standard_job_body(js_job j)
{
    if (j == JS_JOB_EOD_SMALL) return json_pack("{s:s, s:i, s:i, s:f}", "strategy", "ema_trend", "universe", 100, "last_bars", 504, "capital", 10000.0);
    return json_pack("{s:s, s:i, s:f}", "strategy", "trend_baseline", "universe", 200, "capital", 10000.0);
}

int jobspec_from_run_json(json_t *body, tb_jobspec *out, int *iterations, const char **phase, js_errors *e)
{
    memset(out, 0, sizeof *out);
    e->n = 0;
    *iterations = 1;
    *phase = NULL;
    if (!json_is_object(body)) {
        js_add(e, "", "the body must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *val;
    static const char *const run_fields[] = {"job", "iterations", "phase", "overrides", "profiler", NULL};
    json_object_foreach(body, key, val) {
        if (!known(run_fields, key)) js_add(e, key, "unknown field");
    }
    json_t *j = json_object_get(body, "job");
    js_job job = JS_JOB_BACKTEST;
    if (!j) js_add(e, "job", "is required (EOD_SMALL, BACKTEST_MEDIUM, ML_JOB)");
    else if (!json_is_string(j)) js_add(e, "job", "must be a string");
    else if (!strcmp(json_string_value(j), "EOD_SMALL")) job = JS_JOB_EOD_SMALL;
    else if (!strcmp(json_string_value(j), "BACKTEST_MEDIUM")) job = JS_JOB_BACKTEST_MEDIUM;
    else if (!strcmp(json_string_value(j), "ML_JOB")) job = JS_JOB_ML_JOB;
    else js_add(e, "job", "must be EOD_SMALL, BACKTEST_MEDIUM or ML_JOB");
    long long it = 1;
    get_int(body, "iterations", 1, 100, &it, e);
    *iterations = (int)it;
    json_t *ph = json_object_get(body, "phase");
    if (ph && !json_is_null(ph)) {
        if (!json_is_string(ph) || !*json_string_value(ph) || strlen(json_string_value(ph)) > 64)
            js_add(e, "phase", "must be a non-empty string of at most 64 characters");
        else *phase = json_string_value(ph);
    }
    json_t *pr = json_object_get(body, "profiler");
    if (pr && (!json_is_string(pr) || strcmp(json_string_value(pr), "stages")))
        js_add(e, "profiler", "must be \"stages\" (perf and callgrind are command-line only)");
    json_t *ov = json_object_get(body, "overrides");
    if (ov && !json_is_object(ov) && !json_is_null(ov)) js_add(e, "overrides", "must be an object");
    if (e->n) return -1;

    if (job == JS_JOB_ML_JOB) {
        out->job = job;
        out->normalized = json_pack("{s:s}", "job", "ML_JOB");
        if (ov && json_is_object(ov) && json_object_size(ov)) {
            js_add(e, "overrides", "ML_JOB takes no overrides yet");
            jobspec_free(out);
            return -1;
        }
        return 0;
    }
    json_t *b = standard_job_body(job);
    if (ov && json_is_object(ov)) {
        json_object_foreach(ov, key, val) {
            if (!strcmp(key, "strategy")) {
                js_add(e, "overrides.strategy", "a standard job's strategy is fixed; use POST /backtests");
                continue;
            }
            json_object_set(b, key, val);
        }
    }
    int rc = e->n ? -1 : jobspec_from_backtest_json(b, out, e);
    json_decref(b);
    if (rc) {
        /* report override fields with their prefix */
        for (size_t i = 0; i < e->n; i++) {
            if (!strncmp(e->e[i].field, "overrides.", 10)) continue;
            char f[64];
            snprintf(f, sizeof f, "overrides.%.50s", e->e[i].field);
            snprintf(e->e[i].field, sizeof e->e[i].field, "%s", f);
        }
        return -1;
    }
    out->job = job;
    out->with_targets = job == JS_JOB_EOD_SMALL;
    json_object_set_new(out->normalized, "job", json_string(jobspec_job_name(job)));
    return 0;
}

int jobspec_from_params(json_t *params, tb_jobspec *out, tb_error *err)
{
    js_errors e = {0};
    json_t *job = json_object_get(params, "job");
    js_job j = JS_JOB_BACKTEST;
    if (json_is_string(job)) {
        const char *s = json_string_value(job);
        if (!strcmp(s, "ML_JOB")) {
            memset(out, 0, sizeof *out);
            out->job = JS_JOB_ML_JOB;
            out->normalized = json_incref(params);
            return 0;
        }
        j = !strcmp(s, "EOD_SMALL") ? JS_JOB_EOD_SMALL : JS_JOB_BACKTEST_MEDIUM;
    }
    json_t *copy = json_deep_copy(params);
    json_object_del(copy, "job");
    int rc = jobspec_from_backtest_json(copy, out, &e);
    json_decref(copy);
    if (rc) return tb_fail_field(err, TB_EINVAL, e.e[0].field, "stored params: %s: %s", e.e[0].field, e.e[0].message);
    if (json_is_string(job)) {
        out->job = j;
        out->with_targets = j == JS_JOB_EOD_SMALL;
        json_object_set(out->normalized, "job", job);
    }
    return 0;
}
