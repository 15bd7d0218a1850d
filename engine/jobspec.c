/* jobspec.c — JSON request validation into engine configs (see jobspec.h).
 * Rules: unknown fields are errors; numbers must be JSON numbers (no strings,
 * no booleans) and finite; dates are "YYYY-MM-DD"; symbols are 1..5000
 * unique valid names; strategy params go through the strategy registry's
 * schema, so their bounds live in one place. Backtest and model bodies share
 * their data fields (js_data_fields); a model body adds the SPEC §6 label
 * and training parameters with the engine's bounds. */
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
    case JS_JOB_MODEL: return "model";
    case JS_JOB_SWEEP: return "sweep";
    default: return "backtest";
    }
}

void jobspec_free(tb_jobspec *s)
{
    if (!s) return;
    json_decref(s->normalized);
    sweep_grid_free(&s->grid);
    free((void *)s->bt.symbols);
    memset(s, 0, sizeof *s);
}

static const char *const bt_fields[] = {
    "strategy", "params", "freq", "data", "symbols", "universe", "start", "end", "last_bars", "capital",
    "costs", "max_weight", "rebalance_band", "meta_filter", "seed", "grid", "chunk_size", NULL,
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

/* ---- the data part shared by backtest and model bodies ------------------------ */

/* Source, frequency, synthetic seed (named seed_field), strategy and its
 * params, universe, range and last_bars of body into c. *def is the strategy
 * (NULL when bad), *data "default" or "synthetic". Errors go to e. */
static void js_data_fields(json_t *body, const char *seed_field, tb_backtest_config *c, const tb_strategy_def **def_out,
                           const char **data_out, js_errors *e)
{
    const char *key;
    json_t *val;
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
    *data_out = data;
    v = json_object_get(body, "freq");
    if (v && (!json_is_string(v) || tb_freq_parse(json_string_value(v), &c->source.freq)))
        js_add(e, "freq", "must be \"1d\" or \"1h\"");
    long long seed = 42;
    get_int(body, seed_field, 0, (long long)1 << 53, &seed, e);
    c->source.seed = (uint64_t)seed;

    /* strategy and its parameters */
    v = json_object_get(body, "strategy");
    const tb_strategy_def *def = NULL;
    if (!v) js_add(e, "strategy", "is required");
    else if (!json_is_string(v)) js_add(e, "strategy", "must be a string");
    else if (!(def = strategy_find(json_string_value(v))))
        js_add(e, "strategy", "unknown strategy '%.60s' (trend_baseline, ema_trend, buy_and_hold)", json_string_value(v));
    *def_out = def;
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
            /* with a grid, each combination is checked when the sweep expands */
            if (e->n == 0 && !json_object_get(body, "grid") && strategy_params_validate(&c->strategy, &te)) {
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
}

/* The normalised data fields, in the order of a backtest body. */
static void js_data_normalized(json_t *n, const tb_backtest_config *c, const tb_strategy_def *def, const char *data,
                               const char *seed_field)
{
    int intraday = c->source.freq != TB_FREQ_1D;
    json_object_set_new(n, "strategy", json_string(def->name));
    json_t *pj = json_object();
    for (size_t k = 0; k < def->n_params; k++)
        json_object_set_new(pj, def->params[k].name,
                            def->params[k].integer ? json_integer((json_int_t)c->strategy.v[k]) : json_real(c->strategy.v[k]));
    json_object_set_new(n, "params", pj);
    json_object_set_new(n, "freq", json_string(tb_freq_name(c->source.freq)));
    json_object_set_new(n, "data", json_string(data));
    json_object_set_new(n, seed_field, json_integer((json_int_t)c->source.seed));
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
}

/* Take the normalised JSON: the config's strings now point into it (it
 * outlives the body), and "default" data resolves to TB_DATA or synthetic. */
static void js_adopt(tb_jobspec *out, json_t *n)
{
    tb_backtest_config *c = &out->bt;
    out->normalized = n;
    if (c->symbols) {
        json_t *a = json_object_get(n, "symbols");
        for (size_t i = 0; i < c->n_list; i++) ((const char **)c->symbols)[i] = json_string_value(json_array_get(a, i));
    }
    c->source.data = json_string_value(json_object_get(n, "data"));
    if (!strcmp(c->source.data, "default")) {
        const char *env = getenv("TB_DATA");
        c->source.data = env && *env ? env : "synthetic";
    }
}

static void js_unknown_fields(json_t *body, const char *const *fields, js_errors *e)
{
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val) {
        if (!known(fields, key)) js_add(e, key, "unknown field");
    }
}

/* ---- backtests ------------------------------------------------------------------------ */

/* "meta_filter": {"model_id": N, "threshold": x} (SPEC §3). */
static void js_meta_filter(json_t *body, tb_backtest_config *c, const tb_strategy_def *def, js_errors *e)
{
    json_t *mf = json_object_get(body, "meta_filter");
    if (!mf || json_is_null(mf)) return;
    if (!json_is_object(mf)) {
        js_add(e, "meta_filter", "must be an object {\"model_id\": N, \"threshold\": x}");
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach(mf, key, val) {
        if (strcmp(key, "model_id") && strcmp(key, "threshold")) {
            char field[64];
            snprintf(field, sizeof field, "meta_filter.%.40s", key);
            js_add(e, field, "unknown field (model_id, threshold)");
        }
    }
    if (def && strcmp(def->name, "trend_baseline") && strcmp(def->name, "ema_trend"))
        js_add(e, "meta_filter", "only trend_baseline and ema_trend entries can be meta-filtered, not %s", def->name);
    js_errors sub = {0};
    long long id = 0;
    if (!json_object_get(mf, "model_id")) js_add(&sub, "model_id", "is required");
    else get_int(mf, "model_id", 1, INT64_MAX, &id, &sub);
    get_num(mf, "threshold", 0, 1, 0, &c->meta.threshold, &sub);
    for (size_t i = 0; i < sub.n; i++) {
        char field[64];
        snprintf(field, sizeof field, "meta_filter.%.40s", sub.e[i].field);
        js_add(e, field, "%s", sub.e[i].message);
    }
    c->meta.model_id = id;
}

/* "grid": {"<param>": [v, ...], ...} into out->grid (see jobspec.h). */
static void js_grid(json_t *body, tb_jobspec *out, const tb_strategy_def *def, js_errors *e)
{
    json_t *g = json_object_get(body, "grid");
    if (!g || json_is_null(g)) return;
    if (!json_is_object(g) || json_object_size(g) == 0) {
        js_add(e, "grid", "must be an object of parameter name -> array of values, e.g. {\"fast\": [5, 10]}");
        return;
    }
    if (!def) return; /* the strategy error is reported already */
    if (json_object_get(body, "meta_filter") && !json_is_null(json_object_get(body, "meta_filter")))
        js_add(e, "grid", "a sweep cannot use a meta_filter");
    json_t *params = json_object_get(body, "params");
    const char *key;
    json_t *val;
    json_object_foreach(g, key, val) {
        char field[64];
        snprintf(field, sizeof field, "grid.%.40s", key);
        if (!json_is_array(val) || json_array_size(val) == 0) {
            js_add(e, field, "must be a non-empty array of numbers");
            continue;
        }
        if (json_is_object(params) && json_object_get(params, key)) {
            js_add(e, field, "is also set in params; give %.40s in one place", key);
            continue;
        }
        size_t n = json_array_size(val), bad = 0;
        double *v = calloc(n, sizeof *v);
        if (!v) {
            js_add(e, field, "out of memory");
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(val, i);
            if (json_is_number(x)) {
                v[i] = json_number_value(x);
                continue;
            }
            snprintf(field, sizeof field, "grid.%.40s[%u]", key, (unsigned)i);
            js_add(e, field, "must be a number");
            bad = 1;
            break;
        }
        tb_error te = {0};
        if (!bad && sweep_grid_add(&out->grid, def, key, v, n, &te)) js_add(e, te.field, "%s", te.msg);
        free(v);
    }
    if (e->n) return;
    /* at least one combination the strategy accepts */
    size_t total = sweep_grid_combinations(&out->grid), ok = 0;
    tb_error first = {0};
    for (size_t c = 0; c < total && !ok; c++) {
        tb_strategy_params p = out->bt.strategy;
        size_t rest = c;
        for (size_t d = out->grid.n_dims; d-- > 0;) {
            p.v[out->grid.dim[d].param] = out->grid.dim[d].v[rest % out->grid.dim[d].n];
            rest /= out->grid.dim[d].n;
        }
        tb_error te = {0};
        if (strategy_params_validate(&p, &te) == 0) ok = 1;
        else if (!first.msg[0]) first = te;
    }
    if (!ok) js_add(e, "grid", "no combination is valid (%s)", first.msg);
}

int jobspec_from_backtest_json(json_t *body, tb_jobspec *out, js_errors *e)
{
    memset(out, 0, sizeof *out);
    e->n = 0;
    if (!json_is_object(body)) {
        js_add(e, "", "the body must be a JSON object");
        return -1;
    }
    js_unknown_fields(body, bt_fields, e);
    tb_backtest_config *c = &out->bt;
    const tb_strategy_def *def = NULL;
    const char *data = "default";
    js_data_fields(body, "seed", c, &def, &data, e);

    /* portfolio and costs */
    const char *key;
    json_t *val;
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
    js_meta_filter(body, c, def, e);
    js_grid(body, out, def, e);
    json_t *cs = json_object_get(body, "chunk_size");
    if (cs && !json_is_null(cs)) {
        long long chunk = 0;
        json_t *g = json_object_get(body, "grid");
        if (!g || json_is_null(g)) js_add(e, "chunk_size", "only a sweep (a body with a grid) is split into chunks");
        else if (get_int(body, "chunk_size", 1, SWEEP_MAX_MEMBERS, &chunk, e) == 0) out->chunk_size = (size_t)chunk;
    }

    if (e->n) {
        free((void *)c->symbols);
        c->symbols = NULL;
        sweep_grid_free(&out->grid);
        return -1;
    }

    /* the normalised params: every default filled in, itself a valid body */
    json_t *n = json_object();
    js_data_normalized(n, c, def, data, "seed");
    json_object_set_new(n, "capital", json_real(c->sim.start_capital));
    json_t *cj = json_object();
    json_object_set_new(cj, "commission_bps", json_real(c->sim.costs.commission_bps));
    json_object_set_new(cj, "spread_w", json_real(c->sim.costs.spread_w));
    json_object_set_new(cj, "impact_w", json_real(c->sim.costs.impact_w));
    json_object_set_new(n, "costs", cj);
    json_object_set_new(n, "max_weight", json_real(c->sim.max_weight));
    json_object_set_new(n, "rebalance_band", json_real(c->sim.rebalance_band));
    if (c->meta.model_id)
        json_object_set_new(n, "meta_filter", json_pack("{s:I, s:f}", "model_id", (json_int_t)c->meta.model_id,
                                                        "threshold", c->meta.threshold));
    if (out->grid.n_dims) {
        json_t *gj = json_object();
        for (size_t d = 0; d < out->grid.n_dims; d++) {
            const tb_sweep_dim *dm = &out->grid.dim[d];
            json_object_del(json_object_get(n, "params"), dm->name); /* params holds the fixed ones */
            json_t *a = json_array();
            for (size_t j = 0; j < dm->n; j++)
                json_array_append_new(a, def->params[dm->param].integer ? json_integer((json_int_t)dm->v[j])
                                                                         : json_real(dm->v[j]));
            json_object_set_new(gj, dm->name, a);
        }
        json_object_set_new(n, "grid", gj);
        if (out->chunk_size) json_object_set_new(n, "chunk_size", json_integer((json_int_t)out->chunk_size));
        out->job = JS_JOB_SWEEP;
    }
    js_adopt(out, n);
    return 0;
}

/* ---- model training ------------------------------------------------------------------------ */

static const char *const model_fields[] = {
    "strategy", "params", "freq", "data", "data_seed", "symbols", "universe", "start", "end", "last_bars",
    "pt", "sl", "h", "max_depth", "eta", "n_rounds", "subsample", "colsample_bytree", "min_child_weight",
    "max_bin", "seed", "tree_method", "k_folds", "cv", NULL,
};

/* Label and training parameters; bounds are the engine's (ml_label_validate,
 * ml_train_params_validate), which run again at the end as a safety net. */
static void js_ml_fields(json_t *body, js_ml *ml, js_errors *e)
{
    long long x;
    ml_label_defaults(&ml->labels);
    ml_train_params_defaults(&ml->train);
    ml->cv = ML_CV_WALK_FORWARD;
    ml->k_folds = 5;
    get_num(body, "pt", 0, 1000, 1, &ml->labels.pt, e);
    get_num(body, "sl", 0, 1000, 1, &ml->labels.sl, e);
    x = ml->labels.h;
    if (!get_int(body, "h", 1, 100000, &x, e)) ml->labels.h = (int)x;
    x = ml->train.max_depth;
    if (!get_int(body, "max_depth", 1, 32, &x, e)) ml->train.max_depth = (int)x;
    get_num(body, "eta", 0, 1, 1, &ml->train.eta, e);
    x = ml->train.n_rounds;
    if (!get_int(body, "n_rounds", 1, 100000, &x, e)) ml->train.n_rounds = (int)x;
    get_num(body, "subsample", 0, 1, 1, &ml->train.subsample, e);
    get_num(body, "colsample_bytree", 0, 1, 1, &ml->train.colsample_bytree, e);
    get_num(body, "min_child_weight", 0, 1e6, 0, &ml->train.min_child_weight, e);
    x = ml->train.max_bin;
    if (!get_int(body, "max_bin", 2, 65536, &x, e)) ml->train.max_bin = (int)x;
    x = ml->train.seed;
    if (!get_int(body, "seed", 0, 2147483647LL, &x, e)) ml->train.seed = x;
    json_t *v = json_object_get(body, "tree_method");
    if (v) {
        tb_error te = {0};
        if (!json_is_string(v) || ml_train_params_set(&ml->train, "tree_method", json_string_value(v), &te))
            js_add(e, "tree_method", "must be \"hist\", \"approx\" or \"exact\"");
    }
    x = (long long)ml->k_folds;
    if (!get_int(body, "k_folds", ML_CV_MIN_K, ML_CV_MAX_K, &x, e)) ml->k_folds = (size_t)x;
    v = json_object_get(body, "cv");
    if (v && (!json_is_string(v) || ml_cv_parse(json_string_value(v), &ml->cv)))
        js_add(e, "cv", "must be \"walk_forward\" or \"purged_kfold\"");
    tb_error te = {0};
    if (e->n == 0 && ml_label_validate(&ml->labels, &te)) js_add(e, te.field[0] ? te.field : "pt", "%s", te.msg);
    if (e->n == 0 && ml_train_params_validate(&ml->train, &te))
        js_add(e, te.field[0] ? te.field : "max_depth", "%s", te.msg);
}

static void js_ml_normalized(json_t *n, const js_ml *ml)
{
    json_object_set_new(n, "pt", json_real(ml->labels.pt));
    json_object_set_new(n, "sl", json_real(ml->labels.sl));
    json_object_set_new(n, "h", json_integer(ml->labels.h));
    json_object_set_new(n, "max_depth", json_integer(ml->train.max_depth));
    json_object_set_new(n, "eta", json_real(ml->train.eta));
    json_object_set_new(n, "n_rounds", json_integer(ml->train.n_rounds));
    json_object_set_new(n, "subsample", json_real(ml->train.subsample));
    json_object_set_new(n, "colsample_bytree", json_real(ml->train.colsample_bytree));
    json_object_set_new(n, "min_child_weight", json_real(ml->train.min_child_weight));
    json_object_set_new(n, "max_bin", json_integer(ml->train.max_bin));
    json_object_set_new(n, "seed", json_integer((json_int_t)ml->train.seed));
    json_object_set_new(n, "tree_method", json_string(ml->train.tree_method));
    json_object_set_new(n, "k_folds", json_integer((json_int_t)ml->k_folds));
    json_object_set_new(n, "cv", json_string(ml_cv_name(ml->cv)));
}

int jobspec_from_model_json(json_t *body, tb_jobspec *out, js_errors *e)
{
    memset(out, 0, sizeof *out);
    e->n = 0;
    if (!json_is_object(body)) {
        js_add(e, "", "the body must be a JSON object");
        return -1;
    }
    js_unknown_fields(body, model_fields, e);
    const tb_strategy_def *def = NULL;
    const char *data = "default";
    js_data_fields(body, "data_seed", &out->bt, &def, &data, e);
    js_ml_fields(body, &out->ml, e);
    if (e->n) {
        free((void *)out->bt.symbols);
        out->bt.symbols = NULL;
        return -1;
    }
    json_t *n = json_object();
    js_data_normalized(n, &out->bt, def, data, "data_seed");
    js_ml_normalized(n, &out->ml);
    out->job = JS_JOB_MODEL;
    js_adopt(out, n);
    return 0;
}

/* ---- standard runs ------------------------------------------------------------------------------ */

/* Is v a profiler's name ("stages", "perf", "callgrind")? */
static int js_profiler_name(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && (!strcmp(s, "stages") || !strcmp(s, "perf") || !strcmp(s, "callgrind"));
}

/* The standard jobs as request bodies (SPEC §7). */
static json_t *standard_job_body(js_job j)
{
    if (j == JS_JOB_EOD_SMALL) return json_pack("{s:s, s:i, s:i, s:f}", "strategy", "ema_trend", "universe", 100, "last_bars", 504, "capital", 10000.0);
    if (j == JS_JOB_ML_JOB) return json_pack("{s:s, s:i}", "strategy", "trend_baseline", "universe", 200);
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
    js_unknown_fields(body, run_fields, e);
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
    /* perf / callgrind: the worker runs each iteration under the tool
     * (server/profile_exec.c); kept in the params, "stages" is the default. */
    json_t *pr = json_object_get(body, "profiler");
    const char *profiler = NULL;
    if (pr && !js_profiler_name(pr))
        js_add(e, "profiler", "must be \"stages\", \"perf\" or \"callgrind\"");
    else if (pr && strcmp(json_string_value(pr), "stages"))
        profiler = json_string_value(pr);
    json_t *ov = json_object_get(body, "overrides");
    if (ov && !json_is_object(ov) && !json_is_null(ov)) js_add(e, "overrides", "must be an object");
    if (e->n) return -1;

    json_t *b = standard_job_body(job);
    if (ov && json_is_object(ov)) {
        json_object_foreach(ov, key, val) {
            if (!strcmp(key, "grid")) {
                js_add(e, "overrides.grid", "a sweep is POST /backtests with a grid, not a standard job");
                continue;
            }
            if (!strcmp(key, "strategy")) {
                js_add(e, "overrides.strategy", "a standard job's strategy is fixed; use POST /backtests");
                continue;
            }
            json_object_set(b, key, val);
        }
    }
    int rc = e->n                      ? -1
             : job == JS_JOB_ML_JOB    ? jobspec_from_model_json(b, out, e)
                                       : jobspec_from_backtest_json(b, out, e);
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
    if (profiler) json_object_set_new(out->normalized, "profiler", json_string(profiler));
    return 0;
}

int jobspec_from_params(json_t *params, tb_jobspec *out, tb_error *err)
{
    js_errors e = {0};
    json_t *job = json_object_get(params, "job");
    js_job j = JS_JOB_BACKTEST;
    if (json_is_string(job)) {
        const char *s = json_string_value(job);
        j = !strcmp(s, "ML_JOB")      ? JS_JOB_ML_JOB
            : !strcmp(s, "EOD_SMALL") ? JS_JOB_EOD_SMALL
                                      : JS_JOB_BACKTEST_MEDIUM;
    }
    json_t *profiler = json_object_get(params, "profiler"); /* a standard run's: the worker reads it */
    if (profiler && !js_profiler_name(profiler))
        return tb_fail_field(err, TB_EINVAL, "profiler", "stored params: profiler: must be \"stages\", \"perf\" or \"callgrind\"");
    json_t *copy = json_deep_copy(params);
    json_object_del(copy, "job");
    json_object_del(copy, "profiler");
    int rc = j == JS_JOB_ML_JOB ? jobspec_from_model_json(copy, out, &e) : jobspec_from_backtest_json(copy, out, &e);
    json_decref(copy);
    if (rc) return tb_fail_field(err, TB_EINVAL, e.e[0].field, "stored params: %s: %s", e.e[0].field, e.e[0].message);
    if (json_is_string(job)) {
        out->job = j;
        out->with_targets = j == JS_JOB_EOD_SMALL;
        json_object_set(out->normalized, "job", job);
    }
    if (profiler) json_object_set(out->normalized, "profiler", profiler);
    return 0;
}

int jobspec_from_stored(const char *kind, json_t *params, tb_jobspec *out, tb_error *err)
{
    if (!kind || strcmp(kind, "model")) return jobspec_from_params(params, out, err);
    js_errors e = {0};
    if (jobspec_from_model_json(params, out, &e))
        return tb_fail_field(err, TB_EINVAL, e.e[0].field, "stored params: %s: %s", e.e[0].field, e.e[0].message);
    return 0;
}
