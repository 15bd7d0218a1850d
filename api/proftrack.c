/*
 * proftrack — the tracking table: summaries, JSON, markdown, the doc splice
 * and the profile-job write (see proftrack.h).
 *
 * Summaries follow GET /runs/{id}/profile: medians over the recorded
 * iterations (the mean of the two middle values for an even count), peak RSS
 * as the maximum, a stage's time summed within an iteration and its median
 * taken over the iterations that ran it; the top-3 stages by median wall
 * time are the run's hotspots. Function hotspots (perf / callgrind) are
 * ranked by their mean share over the iterations.
 *
 * Before/After: phases are ordered by their first run; each consecutive pair
 * (and first → last when there are more than two) compares, per job, the
 * newest succeeded run of each phase profiled with the stage timers (perf
 * and callgrind distort wall times).
 */
#include "proftrack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/db.h"
#include "server/mem.h"

/* open_memstream failing is running out of memory: mem.c's policy, abort. */
static void ptrack_oom(void)
{
    fputs("proftrack: out of memory building a report\n", stderr);
    abort();
}

/* ---- summaries ------------------------------------------------------------------ */

static int ptrack_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v); NAN when n == 0. */
static double ptrack_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, ptrack_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void ptrack_iter_free(struct ptrack_iter *it)
{
    json_decref(it->stages);
    json_decref(it->functions);
    it->stages = it->functions = NULL;
}

/* Rank candidates by value, descending; ties keep their first-seen order. */
struct ptrack_rank {
    size_t idx;
    double value;
};

static int ptrack_cmp_rank(const void *a, const void *b)
{
    const struct ptrack_rank *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void ptrack_summarize_stages(const struct ptrack_iter *it, size_t n, struct ptrack_summary *s)
{
    size_t cap = 16;
    double *walls = NULL; /* n_stages x n, NAN when an iteration lacks the stage */
    s->stages = mem_zalloc(cap * sizeof *s->stages);
    walls = mem_alloc(cap * (n ? n : 1) * sizeof *walls);
    for (size_t i = 0; i < n; i++) {
        size_t k;
        json_t *st;
        json_array_foreach(it[i].stages, k, st) {
            const char *name = json_string_value(json_object_get(st, "name"));
            json_t *w = json_object_get(st, "wall_seconds");
            if (!name || !json_is_number(w))
                continue;
            size_t j = 0;
            while (j < s->n_stages && strcmp(s->stages[j].name, name) != 0)
                j++;
            if (j == s->n_stages) {
                if (j == cap) {
                    cap *= 2;
                    s->stages = mem_realloc(s->stages, cap * sizeof *s->stages);
                    walls = mem_realloc(walls, cap * (n ? n : 1) * sizeof *walls);
                }
                snprintf(s->stages[j].name, sizeof s->stages[j].name, "%s", name);
                for (size_t q = 0; q < n; q++)
                    walls[j * n + q] = NAN;
                s->n_stages++;
            }
            double *cell = &walls[j * n + i];
            *cell = isnan(*cell) ? json_number_value(w) : *cell + json_number_value(w);
        }
    }
    struct ptrack_rank *rank = mem_alloc((s->n_stages ? s->n_stages : 1) * sizeof *rank);
    double *tmp = mem_alloc((n ? n : 1) * sizeof *tmp);
    for (size_t j = 0; j < s->n_stages; j++) {
        size_t m = 0;
        for (size_t q = 0; q < n; q++)
            if (!isnan(walls[j * n + q]))
                tmp[m++] = walls[j * n + q];
        s->stages[j].median = ptrack_median(tmp, m);
        rank[j] = (struct ptrack_rank){ j, s->stages[j].median };
    }
    qsort(rank, s->n_stages, sizeof *rank, ptrack_cmp_rank);
    for (size_t r = 0; r < s->n_stages && s->n_hot < PTRACK_TOP; r++) {
        struct ptrack_hot *h = &s->hot[s->n_hot++];
        snprintf(h->name, sizeof h->name, "%s", s->stages[rank[r].idx].name);
        h->module[0] = '\0';
        h->seconds = rank[r].value;
        h->share = s->med_wall > 0 ? rank[r].value / s->med_wall : NAN;
    }
    free(tmp);
    free(rank);
    free(walls);
}

static void ptrack_summarize_functions(const struct ptrack_iter *it, size_t n, struct ptrack_summary *s)
{
    struct ptrack_hot *all = NULL;
    size_t n_all = 0, cap = 0, profiled = 0;
    for (size_t i = 0; i < n; i++) {
        if (!json_is_array(it[i].functions))
            continue;
        profiled++;
        size_t k;
        json_t *f;
        json_array_foreach(it[i].functions, k, f) {
            const char *name = json_string_value(json_object_get(f, "function"));
            const char *module = json_string_value(json_object_get(f, "module"));
            json_t *share = json_object_get(f, "share");
            if (!name || !json_is_number(share))
                continue;
            if (!module)
                module = "";
            size_t j = 0;
            while (j < n_all && (strcmp(all[j].name, name) != 0 || strcmp(all[j].module, module) != 0))
                j++;
            if (j == n_all) {
                if (n_all == cap) {
                    cap = cap ? cap * 2 : 16;
                    all = mem_realloc(all, cap * sizeof *all);
                }
                snprintf(all[j].name, sizeof all[j].name, "%s", name);
                snprintf(all[j].module, sizeof all[j].module, "%s", module);
                all[j].seconds = NAN;
                all[j].share = 0;
                n_all++;
            }
            all[j].share += json_number_value(share);
        }
    }
    if (profiled == 0) {
        free(all);
        return;
    }
    struct ptrack_rank *rank = mem_alloc((n_all ? n_all : 1) * sizeof *rank);
    for (size_t j = 0; j < n_all; j++) {
        all[j].share /= (double)profiled;
        rank[j] = (struct ptrack_rank){ j, all[j].share };
    }
    qsort(rank, n_all, sizeof *rank, ptrack_cmp_rank);
    for (size_t r = 0; r < n_all && s->n_fn < PTRACK_TOP; r++)
        s->fn[s->n_fn++] = all[rank[r].idx];
    free(rank);
    free(all);
}

void ptrack_summarize(const struct ptrack_iter *it, size_t n, struct ptrack_summary *s)
{
    memset(s, 0, sizeof *s);
    s->n = (int)n;
    s->peak_rss = -1;
    double *wall = mem_alloc((n ? n : 1) * sizeof *wall), *cpu = mem_alloc((n ? n : 1) * sizeof *cpu);
    s->min_wall = s->max_wall = NAN;
    for (size_t i = 0; i < n; i++) {
        wall[i] = it[i].wall_s;
        cpu[i] = it[i].cpu_s;
        if (it[i].peak_rss_bytes > s->peak_rss)
            s->peak_rss = it[i].peak_rss_bytes;
        if (isnan(s->min_wall) || it[i].wall_s < s->min_wall)
            s->min_wall = it[i].wall_s;
        if (isnan(s->max_wall) || it[i].wall_s > s->max_wall)
            s->max_wall = it[i].wall_s;
    }
    s->med_wall = ptrack_median(wall, n);
    s->med_cpu = ptrack_median(cpu, n);
    free(wall);
    free(cpu);
    ptrack_summarize_stages(it, n, s);
    ptrack_summarize_functions(it, n, s);
}

void ptrack_summary_free(struct ptrack_summary *s)
{
    free(s->stages);
    s->stages = NULL;
    s->n_stages = 0;
}

double ptrack_stage_median(const struct ptrack_summary *s, const char *name)
{
    for (size_t j = 0; j < s->n_stages; j++)
        if (strcmp(s->stages[j].name, name) == 0)
            return s->stages[j].median;
    return NAN;
}

/* ---- the table from the database ---------------------------------------------------- */

const char PTRACK_SQL_TABLE[] =
    "WITH r AS ("
    " SELECT r.id, r.kind, r.job, r.status, r.phase, r.iterations, r.params, r.created_at, r.finished_at"
    " FROM runs r"
    " WHERE r.job IS NOT NULL AND ($1::text IS NULL OR r.job = $1::text)"
    " AND ($2::text IS NULL OR r.phase = $2::text)"
    " AND EXISTS (SELECT 1 FROM run_iterations i WHERE i.run_id = r.id)"
    " ORDER BY r.created_at DESC, r.id DESC LIMIT $3::int)"
    " SELECT r.id, r.kind, r.job, r.status, r.phase, r.iterations, r.params::text,"
    " extract(epoch FROM r.created_at)::float8,"
    " extract(epoch FROM coalesce(r.finished_at, r.created_at))::float8,"
    " i.iteration, i.wall_seconds, i.cpu_seconds, i.peak_rss_bytes, i.stages::text, i.hotspots::text,"
    " extract(epoch FROM i.started_at)::float8, extract(epoch FROM i.finished_at)::float8,"
    " extract(epoch FROM r.finished_at)::float8"
    " FROM r JOIN run_iterations i ON i.run_id = r.id"
    " ORDER BY r.created_at DESC, r.id DESC, i.iteration";

enum {
    PT_C_ID = 0, PT_C_KIND, PT_C_JOB, PT_C_STATUS, PT_C_PHASE, PT_C_ITERATIONS, PT_C_PARAMS, PT_C_CREATED,
    PT_C_DATE, PT_C_ITERATION, PT_C_WALL, PT_C_CPU, PT_C_RSS, PT_C_STAGES, PT_C_HOTSPOTS, PT_C_STARTED,
    PT_C_FINISHED, PT_C_RUN_FINISHED
};

static double ptrack_num(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtod(PQgetvalue(res, row, col), NULL);
}

static const char *ptrack_param_str(const json_t *params, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(params, key));
    return v ? v : dflt;
}

static void ptrack_run_begin(struct ptrack_run *r, const PGresult *res, int row)
{
    memset(r, 0, sizeof *r);
    r->id = strtoll(PQgetvalue(res, row, PT_C_ID), NULL, 10);
    snprintf(r->kind, sizeof r->kind, "%s", PQgetvalue(res, row, PT_C_KIND));
    snprintf(r->job, sizeof r->job, "%s", PQgetvalue(res, row, PT_C_JOB));
    snprintf(r->status, sizeof r->status, "%s", PQgetvalue(res, row, PT_C_STATUS));
    snprintf(r->phase, sizeof r->phase, "%s", PQgetisnull(res, row, PT_C_PHASE) ? "" : PQgetvalue(res, row, PT_C_PHASE));
    r->iterations_requested = atoi(PQgetvalue(res, row, PT_C_ITERATIONS));
    r->created = ptrack_num(res, row, PT_C_CREATED);
    r->date = ptrack_num(res, row, PT_C_DATE);
    r->finished = ptrack_num(res, row, PT_C_RUN_FINISHED);
    r->params = json_loads(PQgetvalue(res, row, PT_C_PARAMS), 0, NULL);
    if (!json_is_object(r->params)) {
        json_decref(r->params);
        r->params = json_object();
    }
    r->profiler = ptrack_param_str(r->params, "profiler", "stages");
    r->data = ptrack_param_str(r->params, "data", "default");
    r->notes = ptrack_param_str(r->params, "notes", NULL);
    r->command = ptrack_param_str(r->params, "command", NULL);
    r->origin = ptrack_param_str(r->params, "origin", "worker");
}

void ptrack_table_from_result(const PGresult *res, struct ptrack_table *out)
{
    int rows = PQntuples(res);
    memset(out, 0, sizeof *out);
    out->runs = mem_zalloc((rows ? (size_t)rows : 1) * sizeof *out->runs);
    size_t iter_cap = 0;
    for (int row = 0; row < rows; row++) {
        int64_t id = strtoll(PQgetvalue(res, row, PT_C_ID), NULL, 10);
        struct ptrack_run *r = out->n ? &out->runs[out->n - 1] : NULL;
        if (!r || r->id != id) {
            r = &out->runs[out->n++];
            ptrack_run_begin(r, res, row);
            iter_cap = 0;
        }
        if (r->n_iters == iter_cap) {
            iter_cap = iter_cap ? iter_cap * 2 : 8;
            r->iters = mem_realloc(r->iters, iter_cap * sizeof *r->iters);
        }
        struct ptrack_iter *it = &r->iters[r->n_iters++];
        memset(it, 0, sizeof *it);
        it->iteration = atoi(PQgetvalue(res, row, PT_C_ITERATION));
        it->wall_s = ptrack_num(res, row, PT_C_WALL);
        it->cpu_s = ptrack_num(res, row, PT_C_CPU);
        it->peak_rss_bytes = strtoll(PQgetvalue(res, row, PT_C_RSS), NULL, 10);
        it->stages = json_loads(PQgetvalue(res, row, PT_C_STAGES), 0, NULL);
        if (!json_is_array(it->stages)) {
            json_decref(it->stages);
            it->stages = json_array();
        }
        if (!PQgetisnull(res, row, PT_C_HOTSPOTS)) {
            it->functions = json_loads(PQgetvalue(res, row, PT_C_HOTSPOTS), 0, NULL);
            if (!json_is_array(it->functions)) {
                json_decref(it->functions);
                it->functions = NULL;
            }
        }
        it->started = ptrack_num(res, row, PT_C_STARTED);
        it->finished = ptrack_num(res, row, PT_C_FINISHED);
    }
    for (size_t i = 0; i < out->n; i++)
        ptrack_summarize(out->runs[i].iters, out->runs[i].n_iters, &out->runs[i].sum);
}

void ptrack_table_free(struct ptrack_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        struct ptrack_run *r = &t->runs[i];
        for (size_t k = 0; k < r->n_iters; k++)
            ptrack_iter_free(&r->iters[k]);
        free(r->iters);
        ptrack_summary_free(&r->sum);
        json_decref(r->params);
    }
    free(t->runs);
    memset(t, 0, sizeof *t);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *ptrack_num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *ptrack_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ISO-8601 UTC, seconds. */
static void ptrack_iso(double epoch, char *out, size_t n)
{
    time_t t = (time_t)floor(epoch);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *ptrack_run_json(const struct ptrack_run *r)
{
    const struct ptrack_summary *s = &r->sum;
    char date[32], created[32];
    ptrack_iso(r->date, date, sizeof date);
    ptrack_iso(r->created, created, sizeof created);
    json_t *hot = json_array(), *fn = json_array(), *stages = json_array();
    for (size_t k = 0; k < s->n_hot; k++)
        json_array_append_new(hot, json_pack("{s:s, s:o, s:o}", "name", s->hot[k].name, "wall_seconds",
                                             ptrack_num_or_null(s->hot[k].seconds), "share",
                                             ptrack_num_or_null(s->hot[k].share)));
    for (size_t k = 0; k < s->n_fn; k++)
        json_array_append_new(fn, json_pack("{s:s, s:s, s:o}", "function", s->fn[k].name, "module",
                                            s->fn[k].module, "share", ptrack_num_or_null(s->fn[k].share)));
    for (size_t k = 0; k < s->n_stages; k++)
        json_array_append_new(stages, json_pack("{s:s, s:o}", "name", s->stages[k].name, "median_wall_seconds",
                                                ptrack_num_or_null(s->stages[k].median)));
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:s, s:i, s:i}", "run_id", (json_int_t)r->id, "kind",
                          r->kind, "job", r->job, "phase", r->phase[0] ? json_string(r->phase) : json_null(),
                          "status", r->status, "date", date, "created_at", created, "iterations", s->n,
                          "iterations_requested", r->iterations_requested);
    if (r->finished > 0) {
        char fin[32];
        ptrack_iso(r->finished, fin, sizeof fin);
        json_object_set_new(o, "finished_at", json_string(fin));
    } else {
        json_object_set_new(o, "finished_at", json_null());
    }
    json_object_set_new(o, "median_wall_seconds", ptrack_num_or_null(s->med_wall));
    json_object_set_new(o, "min_wall_seconds", ptrack_num_or_null(s->min_wall));
    json_object_set_new(o, "max_wall_seconds", ptrack_num_or_null(s->max_wall));
    json_object_set_new(o, "median_cpu_seconds", ptrack_num_or_null(s->med_cpu));
    json_object_set_new(o, "peak_rss_bytes", s->peak_rss >= 0 ? json_integer(s->peak_rss) : json_null());
    json_object_set_new(o, "hotspots", hot);
    json_object_set_new(o, "function_hotspots", fn);
    json_object_set_new(o, "stages", stages);
    json_object_set_new(o, "profiler", json_string(r->profiler));
    json_object_set_new(o, "data", json_string(r->data));
    json_object_set_new(o, "notes", ptrack_str_or_null(r->notes));
    json_object_set_new(o, "origin", json_string(r->origin));
    json_object_set_new(o, "command", ptrack_str_or_null(r->command));
    return o;
}

json_t *ptrack_table_json(const struct ptrack_table *t)
{
    json_t *items = json_array();
    for (size_t i = 0; i < t->n; i++)
        json_array_append_new(items, ptrack_run_json(&t->runs[i]));
    return json_pack("{s:o}", "items", items);
}

/* ---- markdown ------------------------------------------------------------------------- */

/* "0.84 ms", "152.3 ms", "2.35 s"; "–" when unknown. */
static const char *ptrack_fmt_time(double s, char *b, size_t n)
{
    if (!isfinite(s))
        snprintf(b, n, "–");
    else if (s < 0.01)
        snprintf(b, n, "%.2f ms", s * 1e3);
    else if (s < 1)
        snprintf(b, n, "%.1f ms", s * 1e3);
    else
        snprintf(b, n, "%.2f s", s);
    return b;
}

static const char *ptrack_fmt_mib(long long bytes, char *b, size_t n)
{
    if (bytes < 0)
        snprintf(b, n, "–");
    else
        snprintf(b, n, "%.1f MiB", (double)bytes / 1048576.0);
    return b;
}

static const char *ptrack_fmt_date(double epoch, char *b, size_t n)
{
    time_t t = (time_t)floor(epoch);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, n, "%Y-%m-%d %H:%M", &tm);
    return b;
}

/* Text for a table cell: '|' escaped, line ends as spaces. */
static void ptrack_cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

/* A data source for a table: "synthetic", "default", or the directory's last part. */
static void ptrack_data_cell(FILE *f, const char *data)
{
    const char *slash = strrchr(data, '/');
    if (slash && slash[1]) {
        fputs("…/", f);
        ptrack_cell(f, slash + 1);
    } else {
        ptrack_cell(f, data);
    }
}

static int ptrack_is_stage_profile(const struct ptrack_run *r)
{
    return strcmp(r->profiler, "stages") == 0;
}

/* A hotspot; with_share 0 leaves out a stage's share of the runtime (under
 * perf / callgrind the runtime is mostly the tool's). */
static void ptrack_hot_cell(FILE *f, const struct ptrack_hot *h, int with_share)
{
    char b[32];
    ptrack_cell(f, h->name);
    if (isfinite(h->seconds)) {
        fprintf(f, " %s", ptrack_fmt_time(h->seconds, b, sizeof b));
        if (with_share && isfinite(h->share))
            fprintf(f, " (%.0f %%)", h->share * 100);
    } else if (isfinite(h->share)) {
        fprintf(f, " %.1f %%", h->share * 100);
    }
    if (h->module[0]) {
        fputs(" [", f);
        ptrack_cell(f, h->module);
        fputc(']', f);
    }
}

/* The three jobs: what they are, the plain command, the artifacts they write. */
static const struct ptrack_job_info {
    const char *job, *what, *plain, *artifacts;
} ptrack_jobs[] = {
    { "EOD_SMALL", "`ema_trend`, 1d, 100 symbols, the last 2 × 252 bars, default costs, targets for the next session",
      "`tradebench run-daily --data DIR`",
      "`orders_1d.csv`, `equity_curve_1d.csv`, `metrics.json`, `performance_report_1d.md`, `targets_1d.csv`" },
    { "BACKTEST_MEDIUM", "`trend_baseline`, 1d, 200 symbols, all data, start capital 10000, default costs",
      "`tradebench backtest --data DIR --strategy trend_baseline --symbols 200 --capital 10000`",
      "`orders_1d.csv`, `equity_curve_1d.csv`, `metrics.json`, `performance_report_1d.md`" },
    { "ML_JOB",
      "dataset from `trend_baseline` entries (200 symbols, all data, triple-barrier labels), XGBoost with "
      "walk-forward CV, final model and importances",
      "`tradebench build-ml-dataset --strategy trend_baseline --symbols 200 --data DIR --out ds.csv` then "
      "`tradebench train-meta-model --strategy trend_baseline --dataset ds.csv`",
      "`dataset_trend_baseline_1d.csv`, `trend_baseline_meta_model.json`, `ml_training_report.md`, "
      "`cv_metrics.csv`, `cv_folds.csv`, `feature_importance.csv`" },
};

/* params as "`key` value" pairs; the bookkeeping keys and nulls left out. */
static void ptrack_params_cell(FILE *f, const json_t *params)
{
    static const char *const skip[] = { "job",      "command",     "notes",           "origin", "profiler",
                                        "loadavg", "panel_cache", "omp_wait_policy", NULL };
    const char *key;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)params, key, v) {
        int skipped = 0;
        for (size_t k = 0; skip[k]; k++)
            skipped |= strcmp(key, skip[k]) == 0;
        if (skipped || json_is_null(v))
            continue;
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        fprintf(f, "%s`%s` ", first ? "" : ", ", key);
        if (json_is_string(v) && strchr(json_string_value(v), '/'))
            ptrack_data_cell(f, json_string_value(v));
        else
            ptrack_cell(f, text ? text : json_string_value(v));
        free(text);
        first = 0;
    }
}

static void ptrack_md_standard_runs(FILE *f, const struct ptrack_table *t)
{
    fputs("### The three standard runs\n\n"
          "| job | what it is | profiled with | plain command | parameters (as recorded) | expected artifacts |\n"
          "|---|---|---|---|---|---|\n",
          f);
    for (size_t j = 0; j < sizeof ptrack_jobs / sizeof ptrack_jobs[0]; j++) {
        const struct ptrack_job_info *ji = &ptrack_jobs[j];
        const struct ptrack_run *latest = NULL;
        for (size_t i = 0; i < t->n && !latest; i++)
            if (strcmp(t->runs[i].job, ji->job) == 0 && t->runs[i].command)
                latest = &t->runs[i];
        for (size_t i = 0; i < t->n && !latest; i++)
            if (strcmp(t->runs[i].job, ji->job) == 0)
                latest = &t->runs[i];
        fprintf(f, "| %s | %s | ", ji->job, ji->what);
        if (latest && latest->command) {
            fputc('`', f);
            ptrack_cell(f, latest->command);
            fputc('`', f);
        } else {
            fprintf(f, "`tradebench profile-job --job %s --iterations 5`", ji->job);
        }
        fprintf(f, " | %s | ", ji->plain);
        if (latest) {
            fprintf(f, "run %lld: ", (long long)latest->id);
            ptrack_params_cell(f, latest->params);
        } else {
            fputs("not recorded yet", f);
        }
        fprintf(f, " | %s |\n", ji->artifacts);
    }
    fputc('\n', f);
}

static void ptrack_md_benchmarks(FILE *f, const struct ptrack_table *t)
{
    char d[32], a[32], b[32], c[32];
    fputs("### Runtime Benchmarks\n\n"
          "Median over the run's iterations; each iteration is one child process, timed from fork to exit "
          "(wall), its CPU time and peak RSS from `wait4`.\n\n"
          "| run | date (UTC) | job | phase | profiler | data | iterations | median runtime | median CPU | "
          "peak memory | notes |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
          f);
    if (t->n == 0)
        fputs("| – | | | | | | | | | | no profiled runs recorded yet |\n", f);
    for (size_t i = 0; i < t->n; i++) {
        const struct ptrack_run *r = &t->runs[i];
        fprintf(f, "| %lld | %s | %s | ", (long long)r->id, ptrack_fmt_date(r->date, d, sizeof d), r->job);
        ptrack_cell(f, r->phase[0] ? r->phase : "–");
        fprintf(f, " | %s | ", r->profiler);
        ptrack_data_cell(f, r->data);
        fprintf(f, " | %d | %s | %s | %s | ", r->sum.n, ptrack_fmt_time(r->sum.med_wall, a, sizeof a),
                ptrack_fmt_time(r->sum.med_cpu, b, sizeof b), ptrack_fmt_mib(r->sum.peak_rss, c, sizeof c));
        if (strcmp(r->status, "succeeded") != 0)
            fprintf(f, "%s; ", r->status);
        ptrack_cell(f, r->notes ? r->notes : "");
        fputs(" |\n", f);
    }
    fputc('\n', f);
}

static void ptrack_md_hotspots(FILE *f, const struct ptrack_table *t)
{
    int any_fn = 0;
    fputs("### Top-3 Hotspots\n\n"
          "Stages by median wall time (share of the median runtime; perf and callgrind runs without it: "
          "their runtime is mostly the tool's).\n\n"
          "| run | job | phase | #1 | #2 | #3 |\n|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < t->n; i++) {
        const struct ptrack_run *r = &t->runs[i];
        any_fn |= r->sum.n_fn > 0;
        fprintf(f, "| %lld | %s | ", (long long)r->id, r->job);
        ptrack_cell(f, r->phase[0] ? r->phase : "–");
        for (size_t k = 0; k < PTRACK_TOP; k++) {
            fputs(" | ", f);
            if (k < r->sum.n_hot)
                ptrack_hot_cell(f, &r->sum.hot[k], ptrack_is_stage_profile(r));
        }
        fputs(" |\n", f);
    }
    fputc('\n', f);
    if (!any_fn)
        return;
    fputs("Functions by self time (`perf report --no-children`) or instructions (`callgrind_annotate`), "
          "mean share over the iterations:\n\n"
          "| run | job | phase | profiler | #1 | #2 | #3 |\n|---|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < t->n; i++) {
        const struct ptrack_run *r = &t->runs[i];
        if (r->sum.n_fn == 0)
            continue;
        fprintf(f, "| %lld | %s | ", (long long)r->id, r->job);
        ptrack_cell(f, r->phase[0] ? r->phase : "–");
        fprintf(f, " | %s", r->profiler);
        for (size_t k = 0; k < PTRACK_TOP; k++) {
            fputs(" | ", f);
            if (k < r->sum.n_fn)
                ptrack_hot_cell(f, &r->sum.fn[k], 1);
        }
        fputs(" |\n", f);
    }
    fputc('\n', f);
}

/* Phases in the order of their first run. */
struct ptrack_phase {
    const char *name;
    double first;
};

static int ptrack_cmp_phase(const void *a, const void *b)
{
    const struct ptrack_phase *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The newest succeeded stage-timed run of job in phase, or NULL. */
static const struct ptrack_run *ptrack_pick(const struct ptrack_table *t, const char *job, const char *phase)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct ptrack_run *r = &t->runs[i];
        if (strcmp(r->job, job) == 0 && strcmp(r->phase, phase) == 0 && strcmp(r->status, "succeeded") == 0 &&
            ptrack_is_stage_profile(r) && r->sum.n > 0)
            return r;
    }
    return NULL;
}

/* Stages whose median moved the most (at least 0.5 ms and 2 % of the
 * before runtime), then the top-3 when its order changed. */
static void ptrack_moved_cell(FILE *f, const struct ptrack_run *a, const struct ptrack_run *b)
{
    struct ptrack_rank rank[64];
    const char *names[64];
    size_t n = 0;
    double floor_s = a->sum.med_wall * 0.02 > 5e-4 ? a->sum.med_wall * 0.02 : 5e-4;
    for (int side = 0; side < 2; side++) {
        const struct ptrack_summary *s = side ? &b->sum : &a->sum;
        for (size_t k = 0; k < s->n_stages && n < 64; k++) {
            size_t j = 0;
            while (j < n && strcmp(names[j], s->stages[k].name) != 0)
                j++;
            if (j < n)
                continue;
            double x = ptrack_stage_median(&a->sum, s->stages[k].name);
            double y = ptrack_stage_median(&b->sum, s->stages[k].name);
            names[n] = s->stages[k].name;
            rank[n] = (struct ptrack_rank){ n, fabs((isnan(y) ? 0 : y) - (isnan(x) ? 0 : x)) };
            n++;
        }
    }
    qsort(rank, n, sizeof *rank, ptrack_cmp_rank);
    int shown = 0;
    char x[32], y[32];
    for (size_t r = 0; r < n && shown < PTRACK_TOP; r++) {
        if (rank[r].value < floor_s)
            break;
        const char *name = names[rank[r].idx];
        fprintf(f, "%s%s %s → %s", shown ? "; " : "", name, ptrack_fmt_time(ptrack_stage_median(&a->sum, name), x, sizeof x),
                ptrack_fmt_time(ptrack_stage_median(&b->sum, name), y, sizeof y));
        shown++;
    }
    int same = a->sum.n_hot == b->sum.n_hot;
    for (size_t k = 0; same && k < a->sum.n_hot; k++)
        same = strcmp(a->sum.hot[k].name, b->sum.hot[k].name) == 0;
    if (!same) {
        fprintf(f, "%stop-3 ", shown ? "; " : "");
        for (size_t k = 0; k < a->sum.n_hot; k++)
            fprintf(f, "%s%s", k ? ", " : "", a->sum.hot[k].name);
        fputs(" → ", f);
        for (size_t k = 0; k < b->sum.n_hot; k++)
            fprintf(f, "%s%s", k ? ", " : "", b->sum.hot[k].name);
        shown++;
    }
    if (!shown)
        fputs("none moved by more than 2 %", f);
}

static void ptrack_md_pair(FILE *f, const struct ptrack_table *t, const char *pa, const char *pb)
{
    char x[32], y[32];
    fprintf(f, "#### `%s` → `%s`\n\n", pa, pb);
    fputs("| job | runs | median runtime | speed-up | median CPU | peak memory | hotspots that moved |\n"
          "|---|---|---|---|---|---|---|\n",
          f);
    int rows = 0;
    for (size_t j = 0; j < sizeof ptrack_jobs / sizeof ptrack_jobs[0]; j++) {
        const struct ptrack_run *a = ptrack_pick(t, ptrack_jobs[j].job, pa);
        const struct ptrack_run *b = ptrack_pick(t, ptrack_jobs[j].job, pb);
        if (!a || !b)
            continue;
        rows++;
        fprintf(f, "| %s | %lld → %lld | %s → %s | ", ptrack_jobs[j].job, (long long)a->id, (long long)b->id,
                ptrack_fmt_time(a->sum.med_wall, x, sizeof x), ptrack_fmt_time(b->sum.med_wall, y, sizeof y));
        if (b->sum.med_wall > 0)
            fprintf(f, "×%.2f", a->sum.med_wall / b->sum.med_wall);
        else
            fputs("–", f);
        fprintf(f, " | %s → %s", ptrack_fmt_time(a->sum.med_cpu, x, sizeof x),
                ptrack_fmt_time(b->sum.med_cpu, y, sizeof y));
        fprintf(f, " | %s → %s | ", ptrack_fmt_mib(a->sum.peak_rss, x, sizeof x),
                ptrack_fmt_mib(b->sum.peak_rss, y, sizeof y));
        ptrack_moved_cell(f, a, b);
        fputs(" |\n", f);
    }
    if (!rows)
        fputs("| – | no job has a succeeded stage-timed run in both phases | | | | | |\n", f);
    fputc('\n', f);
}

static void ptrack_md_before_after(FILE *f, const struct ptrack_table *t)
{
    struct ptrack_phase *ph = mem_alloc((t->n ? t->n : 1) * sizeof *ph);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct ptrack_run *r = &t->runs[i];
        if (!r->phase[0])
            continue;
        size_t k = 0;
        while (k < n && strcmp(ph[k].name, r->phase) != 0)
            k++;
        if (k == n)
            ph[n++] = (struct ptrack_phase){ r->phase, r->created };
        else if (r->created < ph[k].first)
            ph[k].first = r->created;
    }
    qsort(ph, n, sizeof *ph, ptrack_cmp_phase);
    fputs("### Before/After\n\n"
          "Per job, the newest succeeded run of each phase timed with the stage profiler; speed-up = "
          "before ÷ after median runtime. CPU time moves less than wall time when other processes "
          "compete for the cores (see each run's load average in its params).\n\n",
          f);
    if (n < 2) {
        if (n == 1)
            fprintf(f, "Only phase `%s` is recorded so far. Record the next one with "
                       "`tradebench profile-job --job JOB --phase after --update-doc`.\n\n",
                    ph[0].name);
        else
            fputs("No phase recorded yet (`tradebench profile-job --job JOB --phase before`).\n\n", f);
    }
    for (size_t k = 0; k + 1 < n; k++)
        ptrack_md_pair(f, t, ph[k].name, ph[k + 1].name);
    if (n > 2)
        ptrack_md_pair(f, t, ph[0].name, ph[n - 1].name);
    free(ph);
}

char *ptrack_markdown(const struct ptrack_table *t, int standard_runs, const char *source)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        ptrack_oom();
    if (source && *source)
        fprintf(f, "_%s_\n\n", source);
    if (standard_runs)
        ptrack_md_standard_runs(f, t);
    ptrack_md_benchmarks(f, t);
    ptrack_md_hotspots(f, t);
    ptrack_md_before_after(f, t);
    if (fclose(f) != 0)
        ptrack_oom();
    return buf;
}

char *ptrack_doc_splice(const char *doc, const char *generated)
{
    const char *b = strstr(doc, PTRACK_DOC_BEGIN);
    const char *e = strstr(doc, PTRACK_DOC_END);
    char *out = NULL;
    size_t len = 0;
    if ((b && !e) || (!b && e) || (b && e < b))
        return NULL;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        ptrack_oom();
    if (b) {
        fwrite(doc, 1, (size_t)(b - doc), f);
        fprintf(f, "%s\n%s%s", PTRACK_DOC_BEGIN, generated, PTRACK_DOC_END);
        fputs(e + strlen(PTRACK_DOC_END), f);
    } else {
        size_t dl = strlen(doc);
        fputs(doc, f);
        if (dl && doc[dl - 1] != '\n')
            fputc('\n', f);
        fprintf(f, "\n%s\n%s%s\n", PTRACK_DOC_BEGIN, generated, PTRACK_DOC_END);
    }
    if (fclose(f) != 0)
        ptrack_oom();
    return out;
}

/* ---- recording a profile-job run --------------------------------------------------------- */

static const char PTRACK_SQL_INSERT_RUN[] =
    "INSERT INTO runs (kind, job, status, params, phase, iterations, progress, error, created_at, started_at,"
    " finished_at)"
    " VALUES ('run', $1, $2, $3::jsonb, $4, $5::int, $6::float8, $7, to_timestamp($8::float8),"
    " to_timestamp($8::float8), to_timestamp($9::float8)) RETURNING id";

static const char PTRACK_SQL_INSERT_ITER[] =
    "INSERT INTO run_iterations (run_id, iteration, wall_seconds, cpu_seconds, peak_rss_bytes, stages,"
    " hotspots, started_at, finished_at)"
    " VALUES ($1::bigint, $2::int, $3::float8, $4::float8, $5::bigint, $6::jsonb, $7::jsonb,"
    " to_timestamp($8::float8), to_timestamp($9::float8))";

int ptrack_record(PGconn *conn, const struct ptrack_record *rec, const struct ptrack_iter *it, size_t n,
                  int64_t *run_id, char *err, size_t errlen)
{
    char iters[16], progress[32], t0[32], t1[32];
    char *params = json_dumps(rec->params, JSON_COMPACT | JSON_REAL_PRECISION(17));
    PGresult *res = NULL;
    int rc = -1;
    if (!params) {
        snprintf(err, errlen, "cannot serialise the run's params");
        return -1;
    }
    if (db_command(conn, "BEGIN", 0, NULL, err, errlen) < 0)
        goto out;
    snprintf(iters, sizeof iters, "%d", rec->iterations_requested);
    snprintf(progress, sizeof progress, "%.17g",
             strcmp(rec->status, "succeeded") == 0 ? 1.0
                                                   : (double)n / (rec->iterations_requested > 0 ? rec->iterations_requested : 1));
    snprintf(t0, sizeof t0, "%.6f", rec->started);
    snprintf(t1, sizeof t1, "%.6f", rec->finished > rec->started ? rec->finished : rec->started);
    const char *rp[] = { rec->job, rec->status, params, rec->phase, iters, progress, rec->error, t0, t1 };
    res = db_exec(conn, PTRACK_SQL_INSERT_RUN, 9, rp, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        goto rollback;
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    for (size_t i = 0; i < n; i++) {
        char itn[16], wall[32], cpu[32], rss[32], s0[32], s1[32];
        char *stages = json_dumps(it[i].stages, JSON_COMPACT | JSON_REAL_PRECISION(17));
        char *fns = it[i].functions ? json_dumps(it[i].functions, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        snprintf(itn, sizeof itn, "%d", it[i].iteration);
        snprintf(wall, sizeof wall, "%.17g", it[i].wall_s);
        snprintf(cpu, sizeof cpu, "%.17g", it[i].cpu_s);
        snprintf(rss, sizeof rss, "%lld", it[i].peak_rss_bytes);
        snprintf(s0, sizeof s0, "%.6f", it[i].started);
        snprintf(s1, sizeof s1, "%.6f", it[i].finished);
        const char *ip[] = { id, itn, wall, cpu, rss, stages ? stages : "[]", fns, s0, s1 };
        int bad = db_command(conn, PTRACK_SQL_INSERT_ITER, 9, ip, err, errlen) < 0;
        free(stages);
        free(fns);
        if (bad)
            goto rollback;
    }
    if (db_command(conn, "COMMIT", 0, NULL, err, errlen) < 0)
        goto rollback;
    *run_id = strtoll(id, NULL, 10);
    rc = 0;
    goto out;
rollback:
    if (PQstatus(conn) == CONNECTION_OK) {
        char ignored[256];
        (void)!db_command(conn, "ROLLBACK", 0, NULL, ignored, sizeof ignored);
    }
out:
    PQclear(res);
    free(params);
    return rc;
}
