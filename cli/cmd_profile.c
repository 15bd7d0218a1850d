/* cmd_profile.c — `tradebench profile-job` (SPEC §7, §12; issue 6): run a
 * standard job N times, each iteration in its own child process as the
 * worker runs it (server/profile_exec.c), print the median runtime, peak memory and
 * top-3 hotspots, record the run and every iteration in PostgreSQL (a `runs`
 * row of kind run with its phase, and run_iterations), and with --update-doc
 * regenerate the tracking tables of docs/PERFORMANCE.md from the database
 * (between the profile-job markers; the rest of the file is kept).
 *
 * The data source is --data, else $TB_DATA, else the synthetic market; it is
 * handed to the job as the worker's would be (TB_DATA) and recorded, with the
 * profiler, notes and command line (and ML_JOB's XGBoost threads,
 * TB_WORKER_XGB_THREADS as in the worker), in the run's params. A database that
 * cannot be reached is said so plainly; the figures are printed anyway and
 * the exit status is 1. Wiring only: summaries and markdown are proftrack's. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/proftrack.h"
#include "args.h"
#include "artifacts.h"
#include "backtest.h"
#include "commands.h"
#include "jobspec.h"
#include "server/profile_exec.h"
#include "server/db.h"
#include "server/logger.h"
#include "server/migrate.h"
#include "server/settings.h"
#include "server/worker.h"

#define PROFILE_MAX_ITERATIONS 1000
#define PROFILE_DEFAULT_DOC "docs/PERFORMANCE.md"
#define PROFILE_DEFAULT_OUT "output/profile"

static const cli_flag profile_flags[] = {
    {"job", 1, 0},     {"iterations", 1, 0}, {"profiler", 1, 0},  {"phase", 1, 0},     {"data", 1, 0},
    {"update-doc", 0, 0}, {"doc", 1, 0},     {"notes", 1, 0},     {"out", 1, 0},
    {NULL, 0, 0},
};

static const char profile_usage[] =
    "usage: tradebench profile-job --job EOD_SMALL|BACKTEST_MEDIUM|ML_JOB [--iterations N]\n"
    "           [--profiler stages|perf|callgrind] [--phase NAME] [--data DIR|synthetic] [--notes TEXT]\n"
    "           [--out DIR] [--update-doc [--doc FILE]]\n"
    "       tradebench profile-job --update-doc [--doc FILE]     (regenerate the doc only)\n";

/* ---- the job -------------------------------------------------------------------- */

/* The job's spec exactly as POST /runs {"job": X} would store it, with the
 * data source given to it the way a worker's is (TB_DATA). */
static int profile_spec(const char *job, const char *data, tb_jobspec *spec, tb_error *err)
{
    json_t *body = json_pack("{s:s}", "job", job);
    js_errors errs;
    int iterations;
    const char *phase;
    if (!strcmp(data, "synthetic"))
        json_object_set_new(body, "overrides", json_pack("{s:s}", "data", "synthetic"));
    else
        setenv("TB_DATA", data, 1);
    int rc = jobspec_from_run_json(body, spec, &iterations, &phase, &errs);
    json_decref(body);
    if (rc != 0)
        return tb_fail_field(err, TB_EINVAL, "job", "--job %s: %s %s", job, errs.n ? errs.e[0].field : "",
                             errs.n ? errs.e[0].message : "is not valid");
    return 0;
}

/* --data, else $TB_DATA, else synthetic; a directory becomes its absolute path. */
static int profile_data(const char *given, char *out, size_t n, tb_error *err)
{
    const char *env = getenv("TB_DATA");
    const char *d = given ? given : env && *env ? env : "synthetic";
    if (!strcmp(d, "synthetic")) {
        snprintf(out, n, "synthetic");
        return 0;
    }
    struct stat st;
    char real[PATH_MAX];
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode) || !realpath(d, real))
        return tb_fail_field(err, TB_EINVAL, "data", "--data: %s is not a directory (or give 'synthetic')", d);
    snprintf(out, n, "%s", real);
    return 0;
}

static int profile_iterations(const cli_args *a, int *out, tb_error *err)
{
    size_t n = 1;
    if (cli_get_size(a, "iterations", &n, err)) return -1;
    if (n > PROFILE_MAX_ITERATIONS)
        return tb_fail_field(err, TB_EINVAL, "iterations", "--iterations must be between 1 and %d",
                             PROFILE_MAX_ITERATIONS);
    *out = (int)n;
    return 0;
}

static int profile_text_flag(const cli_args *a, const char *name, size_t max, tb_error *err)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    if (!*v || strlen(v) > max)
        return tb_fail_field(err, TB_EINVAL, name, "--%s must be 1 to %zu characters", name, max);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20)
            return tb_fail_field(err, TB_EINVAL, name, "--%s must not contain control characters", name);
    return 0;
}

/* name's value when it is a whole number in 1..64, else 0. */
static int profile_threads_var(const char *name)
{
    const char *v = getenv(name);
    if (v && *v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 64) return (int)n;
    }
    return 0;
}

static int profile_ml_threads(void)
{
    int n = profile_threads_var("TB_WORKER_ML_THREADS"); /* as the worker: a sweep's threads */
    if (n) return n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
}

static int profile_xgb_threads(void)
{
    int n = profile_threads_var("TB_WORKER_XGB_THREADS"); /* as the worker: XGBoost's threads */
    return n ? n : WORKER_XGB_THREADS_DEFAULT;
}

/* ---- output ------------------------------------------------------------------------ */

static void profile_print_summary(const char *job, const pexec_job *pj, const struct ptrack_summary *s)
{
    printf("%s: median runtime %.1f ms (min %.1f, max %.1f) | median CPU %.1f ms | peak memory %.1f MiB | %d "
           "iteration%s\n",
           job, s->med_wall * 1e3, s->min_wall * 1e3, s->max_wall * 1e3, s->med_cpu * 1e3,
           (double)s->peak_rss / 1048576.0, s->n, s->n == 1 ? "" : "s");
    printf("top-3 hotspots (stages by median wall time):\n");
    for (size_t k = 0; k < s->n_hot; k++)
        printf("  %zu. %-16s %9.2f ms  %5.1f %%\n", k + 1, s->hot[k].name, s->hot[k].seconds * 1e3,
               isfinite(s->hot[k].share) ? s->hot[k].share * 100 : 0.0);
    if (pj->profiler != PEXEC_STAGES) {
        printf("top-3 functions (%s, %s, mean share over the iterations):\n", pexec_profiler_name(pj->profiler),
               pj->profiler == PEXEC_PERF ? "self time" : "instructions");
        for (size_t k = 0; k < s->n_fn; k++)
            printf("  %zu. %s [%s]  %.1f %%\n", k + 1, s->fn[k].name, s->fn[k].module, s->fn[k].share * 100);
        if (s->n_fn == 0) printf("  (the report had no samples)\n");
    }
}

/* The command line as typed (argv after "profile-job"), for the record. */
static char *profile_command(int argc, char **argv)
{
    size_t len = strlen("tradebench profile-job") + 1;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 3;
    char *s = malloc(len);
    if (!s) abort();
    strcpy(s, "tradebench profile-job");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        int quote = strchr(argv[i], ' ') != NULL;
        if (quote) strcat(s, "'");
        strcat(s, argv[i]);
        if (quote) strcat(s, "'");
    }
    return s;
}

/* ---- the database ---------------------------------------------------------------- */

static void profile_migrate_quiet(const struct embed_file *f, int version, double ms, void *ud)
{
    (void)ud;
    fprintf(stderr, "tradebench profile-job: applied migration %s (version %d, %.0f ms)\n", f->name, version, ms);
}

/* Connect and bring the schema up to date; NULL with err. */
static PGconn *profile_connect(const struct settings *cfg, char *err, size_t errlen)
{
    PGconn *c = db_connect(cfg->database_url, "tradebench-profile-job", err, errlen);
    if (c && migrate_apply(c, profile_migrate_quiet, NULL, NULL, err, errlen) < 0) {
        PQfinish(c);
        c = NULL;
    }
    return c;
}

/* Write the whole file atomically (tmp + rename in its directory). */
static int profile_write_file(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write next to %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    struct stat st;
    if (stat(path, &st) == 0) fchmod(fd, st.st_mode & 07777);
    else fchmod(fd, 0644);
    if (close(fd) != 0 || off != len || rename(tmp, path) != 0) {
        snprintf(err, errlen, "writing %s failed: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static char *profile_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[8192];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
    int bad = ferror(f) || !m;
    fclose(f);
    if (m) fclose(m);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "cannot read %s", path);
        return NULL;
    }
    return buf;
}

/* Regenerate the tracking part of the doc from the database: runs that have
 * a phase, then others recorded by profile-job, at most PTRACK_DOC_MAX_RUNS,
 * newest first. */
static int profile_update_doc(PGconn *conn, const char *doc_path, const char *where)
{
    char err[1024];
    const char *params[] = {NULL, NULL, "500"};
    PGresult *res = db_exec(conn, PTRACK_SQL_TABLE, 3, params, PGRES_TUPLES_OK, err, sizeof err);
    if (!res) {
        fprintf(stderr, "tradebench profile-job: reading the profiles failed: %s\n", err);
        return 1;
    }
    struct ptrack_table all, view = {0};
    ptrack_table_from_result(res, &all);
    PQclear(res);
    view.runs = calloc(all.n ? all.n : 1, sizeof *view.runs);
    if (!view.runs) abort();
    /* Runs with a phase first (the Before/After tables need the phases' runs,
     * however many unphased experiments came after them), then the newest
     * other profile-job runs while there is room; kept newest first. */
    unsigned char *take = calloc(all.n ? all.n : 1, 1);
    if (!take) abort();
    size_t n_take = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < all.n && n_take < PTRACK_DOC_MAX_RUNS; i++) {
            int phased = all.runs[i].phase[0] != '\0';
            if (!take[i] && (pass == 0 ? phased : !strcmp(all.runs[i].origin, "profile-job")))
                take[i] = 1, n_take++;
        }
    for (size_t i = 0; i < all.n; i++)
        if (take[i]) view.runs[view.n++] = all.runs[i];
    free(take);

    char when[64], source[512];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(source, sizeof source,
             "Generated by `tradebench profile-job --update-doc` on %s from the runs and run_iterations tables of "
             "%s (%zu runs: those with a phase, then others recorded by profile-job, at most %d, newest first). Do not edit "
             "between the profile-job markers; everything outside them is kept.",
             when, where, view.n, PTRACK_DOC_MAX_RUNS);
    char *md = ptrack_markdown(&view, 1, source);
    free(view.runs);
    ptrack_table_free(&all);

    int rc = 1;
    char *doc = profile_read_file(doc_path, err, sizeof err);
    char *spliced = doc ? ptrack_doc_splice(doc, md) : NULL;
    if (!doc)
        fprintf(stderr, "tradebench profile-job: %s\n", err);
    else if (!spliced)
        fprintf(stderr, "tradebench profile-job: %s has a '%s' without its '%s' (or the other way round)\n", doc_path,
                PTRACK_DOC_BEGIN, PTRACK_DOC_END);
    else if (profile_write_file(doc_path, spliced, err, sizeof err) < 0)
        fprintf(stderr, "tradebench profile-job: %s\n", err);
    else {
        printf("%s: tracking tables regenerated from the database\n", doc_path);
        rc = 0;
    }
    free(spliced);
    free(doc);
    free(md);
    return rc;
}

/* ---- raw profiles and the work directory -------------------------------------------- */

static void profile_cleanup(const char *dir)
{
    char cmd[PATH_MAX + 32];
    if (!dir[0] || strncmp(dir, "/", 1) != 0) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "tradebench profile-job: could not remove %s\n", dir);
}

/* Keep the last iteration's raw profile as <out>/<JOB>.<tool ext>. */
static void profile_keep_raw(const char *raw, const char *out_dir, const char *job, pexec_profiler p)
{
    char dest[PATH_MAX], cmd[2 * PATH_MAX + 64];
    tb_error err = {0};
    if (!raw[0]) return;
    if (art_mkdirs(out_dir, &err) != 0) {
        fprintf(stderr, "tradebench profile-job: %s\n", err.msg);
        return;
    }
    snprintf(dest, sizeof dest, "%s/%s.%s", out_dir, job, p == PEXEC_PERF ? "perf.data" : "callgrind.out");
    if (rename(raw, dest) != 0) { /* another file system: copy */
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", raw, dest);
        if (system(cmd) != 0) {
            fprintf(stderr, "tradebench profile-job: could not keep %s\n", raw);
            return;
        }
    }
    printf("raw profile of the last iteration: %s (%s %s)\n", dest, p == PEXEC_PERF ? "perf report -i" : "callgrind_annotate",
           dest);
}

/* ---- the command ------------------------------------------------------------------- */

/* libgomp (XGBoost's OpenMP) reads OMP_WAIT_POLICY once, when it is loaded.
 * The worker is started with OMP_WAIT_POLICY=passive (deploy/setup.sh):
 * without it, idle OpenMP threads spin, and on a busy 2-core machine ML_JOB
 * took 15.5 s instead of 2.0 s. To measure what the worker runs, set it
 * (unless the caller chose a policy) before the first iteration: no binary
 * links libgomp, it comes with XGBoost when engine/mllib.c dlopens it at an
 * iteration child's first XGBoost call, and that child — forked, or exec'd
 * under perf / callgrind with this environment — then reads the variable
 * (checked with OMP_DISPLAY_ENV=verbose: GOMP_SPINCOUNT '0', not '300000';
 * and in the environment of a child exec'd under perf). When libgomp was
 * linked it had read the variable before main(), and profile-job re-exec'd
 * itself to set it. */
static void profile_passive_policy(void)
{
    if (!getenv("OMP_WAIT_POLICY")) setenv("OMP_WAIT_POLICY", "passive", 1);
}

int cmd_profile_job(int argc, char **argv)
{
    tb_error err = {0};
    cli_args a;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(profile_usage, stdout);
            return 0;
        }
    /* hidden: `profile-job --child --task F --msg-fd N --bundle-fd M`, the
     * iteration exec'd under perf / callgrind (server/profile_exec.h) */
    if (argc > 0 && !strcmp(argv[0], "--child")) return pexec_child_command(argc - 1, argv + 1);
    if (cli_parse(argc, argv, profile_flags, &a, &err)) {
        fputs(profile_usage, stderr);
        return cli_report(&err);
    }
    profile_passive_policy();

    const char *job = cli_get(&a, "job"), *phase = cli_get(&a, "phase"), *notes = cli_get(&a, "notes");
    const char *doc = cli_get(&a, "doc") ? cli_get(&a, "doc") : PROFILE_DEFAULT_DOC;
    const char *out_dir = cli_get(&a, "out") ? cli_get(&a, "out") : PROFILE_DEFAULT_OUT;
    int update_doc = cli_has(&a, "update-doc"), iterations = 1;
    pexec_profiler profiler = PEXEC_STAGES;
    char data[PATH_MAX];
    if (!job && !update_doc) {
        fputs(profile_usage, stderr);
        tb_fail_field(&err, TB_EINVAL, "job", "--job is required (EOD_SMALL, BACKTEST_MEDIUM or ML_JOB)");
        return cli_report(&err);
    }
    if (cli_has(&a, "doc") && !update_doc) {
        tb_fail_field(&err, TB_EINVAL, "doc", "--doc only goes with --update-doc");
        return cli_report(&err);
    }
    if (job && strcmp(job, "EOD_SMALL") && strcmp(job, "BACKTEST_MEDIUM") && strcmp(job, "ML_JOB")) {
        tb_fail_field(&err, TB_EINVAL, "job", "--job must be EOD_SMALL, BACKTEST_MEDIUM or ML_JOB, got '%s'", job);
        return cli_report(&err);
    }
    if (cli_get(&a, "profiler") && pexec_profiler_parse(cli_get(&a, "profiler"), &profiler)) {
        tb_fail_field(&err, TB_EINVAL, "profiler", "--profiler must be stages, perf or callgrind, got '%s'",
                      cli_get(&a, "profiler"));
        return cli_report(&err);
    }
    if (profile_iterations(&a, &iterations, &err) || profile_text_flag(&a, "phase", 64, &err) ||
        profile_text_flag(&a, "notes", 500, &err) || profile_data(cli_get(&a, "data"), data, sizeof data, &err))
        return cli_report(&err);

    struct settings cfg;
    char dberr[1024], where[256];
    if (settings_from_env(&cfg, dberr, sizeof dberr) < 0) {
        fprintf(stderr, "tradebench profile-job: %s\n", dberr);
        return 2;
    }
    logger_init("profile-job", LOG_LEVEL_WARN);
    db_describe(cfg.database_url, where, sizeof where);
    if (!job) { /* --update-doc alone */
        PGconn *c = profile_connect(&cfg, dberr, sizeof dberr);
        int rc = 1;
        if (!c)
            fprintf(stderr, "tradebench profile-job: database unreachable (%s): %s\n", where, dberr);
        else
            rc = profile_update_doc(c, doc, where);
        PQfinish(c);
        settings_free(&cfg);
        return rc;
    }

    /* The job, checked before anything runs: the universe must exist in the data. */
    tb_jobspec spec;
    tb_universe u;
    if (profile_spec(job, data, &spec, &err)) {
        settings_free(&cfg);
        return cli_report(&err);
    }
    if (backtest_select_universe(&spec.bt, &u, &err)) {
        jobspec_free(&spec);
        settings_free(&cfg);
        return cli_report(&err);
    }
    universe_free(&u);
    const struct runexec_entry *entry = runexec_find(spec.job);
    char why[1024];
    if (!entry->run || pexec_tool_check(profiler, why, sizeof why) < 0) {
        if (!entry->run)
            fprintf(stderr, "tradebench profile-job: %s\n", entry->unavailable);
        else
            fprintf(stderr, "%s is not available: %s\n", pexec_profiler_name(profiler), why);
        jobspec_free(&spec);
        settings_free(&cfg);
        return 1;
    }

    /* Say at once when the figures cannot be recorded. */
    PGconn *conn = profile_connect(&cfg, dberr, sizeof dberr);
    int db_ok = conn != NULL;
    if (!db_ok)
        fprintf(stderr,
                "tradebench profile-job: the database is unreachable (%s): %s\n"
                "  the figures are printed below but NOT recorded (exit status 1)\n",
                where, dberr);
    PQfinish(conn);
    conn = NULL;

    char self[PATH_MAX], work[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(work, sizeof work, "%s/tb-profile-XXXXXX", tmp);
    if (!mkdtemp(work)) {
        fprintf(stderr, "tradebench profile-job: cannot create a directory in %s: %s\n", tmp, strerror(errno));
        jobspec_free(&spec);
        settings_free(&cfg);
        return 1;
    }
    const char *child_args[] = {"profile-job", "--child", NULL};
    pexec_job pj = {entry,    &spec, jobspec_job_name(spec.job), profile_ml_threads(), profile_xgb_threads(),
                    profiler, self,  child_args,                 work,                 0,
                    NULL,     -1,    NULL,                       0};

    const int uses_xgb = spec.job == JS_JOB_ML_JOB;
    printf("profile-job: %s x %d, profiler %s, phase %s, data %s", job, iterations, pexec_profiler_name(profiler),
           phase ? phase : "-", data);
    if (uses_xgb) printf(", XGBoost threads %d", pj.xgb_nthread);
    putchar('\n');
    /* Other processes on the machine move the figures: say so, and record it. */
    double load[3] = {0, 0, 0};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (getloadavg(load, 3) == 3 && cpus > 0 && load[0] > 0.5 * (double)cpus)
        printf("note: load average %.2f on %ld CPUs: other processes compete with the job; expect noisy figures\n",
               load[0], cpus);
    fflush(stdout);
    struct ptrack_iter *iters = calloc((size_t)iterations, sizeof *iters);
    if (!iters) abort();
    size_t done = 0;
    char failure[900] = "", last_raw[4096] = "";
    double t_start = 0, t_end = 0;
    for (int i = 1; i <= iterations; i++) {
        pexec_result r;
        int rc = pexec_iteration(&pj, i, &r);
        if (i == 1) t_start = r.started;
        t_end = r.finished;
        if (rc != 0) {
            snprintf(failure, sizeof failure, "%s", r.error);
            pexec_result_free(&r);
            break;
        }
        printf("  iteration %d/%d: %.1f ms wall, %.1f ms CPU, %.1f MiB peak RSS (%s)\n", i, iterations,
               r.wall_s * 1e3, r.cpu_s * 1e3, (double)r.peak_rss_bytes / 1048576.0, r.summary);
        fflush(stdout);
        struct ptrack_iter *it = &iters[done++];
        it->iteration = i;
        it->wall_s = r.wall_s;
        it->cpu_s = r.cpu_s;
        it->peak_rss_bytes = r.peak_rss_bytes;
        it->started = r.started;
        it->finished = r.finished;
        it->stages = r.stages;
        it->functions = r.functions;
        r.stages = r.functions = NULL;
        if (r.raw[0]) {
            if (last_raw[0]) unlink(last_raw);
            snprintf(last_raw, sizeof last_raw, "%s", r.raw);
        }
        pexec_result_free(&r);
    }

    int rc = 0;
    if (failure[0]) {
        fprintf(stderr, "tradebench profile-job: %s\n", failure);
        rc = 1;
    }
    if (done) {
        struct ptrack_summary s;
        ptrack_summarize(iters, done, &s);
        profile_print_summary(job, &pj, &s);
        ptrack_summary_free(&s);
        profile_keep_raw(last_raw, out_dir, job, profiler);
    }

    /* Record: the run (succeeded, or failed with why) and its iterations. */
    if (db_ok && (done || failure[0])) {
        json_t *params = json_deep_copy(spec.normalized);
        char *command = profile_command(argc, argv);
        const char *cache = getenv("TB_CACHE_DIR");
        json_object_set_new(params, "data", json_string(data));
        json_object_set_new(params, "profiler", json_string(pexec_profiler_name(profiler)));
        json_object_set_new(params, "origin", json_string("profile-job"));
        json_object_set_new(params, "command", json_string(command));
        if (strcmp(data, "synthetic"))
            json_object_set_new(params, "panel_cache", json_string(cache && *cache ? cache : "var/cache"));
        if (notes) json_object_set_new(params, "notes", json_string(notes));
        json_object_set_new(params, "loadavg", json_pack("[f, f, f]", round(load[0] * 100) / 100, round(load[1] * 100) / 100,
                                                           round(load[2] * 100) / 100));
        if (getenv("OMP_WAIT_POLICY"))
            json_object_set_new(params, "omp_wait_policy", json_string(getenv("OMP_WAIT_POLICY")));
        if (uses_xgb) json_object_set_new(params, "xgb_threads", json_integer(pj.xgb_nthread));
        struct ptrack_record rec = {job, phase, failure[0] ? "failed" : "succeeded", failure[0] ? failure : NULL,
                                    params, iterations, t_start, t_end};
        int64_t run_id = 0;
        conn = profile_connect(&cfg, dberr, sizeof dberr);
        if (!conn) {
            fprintf(stderr, "tradebench profile-job: the database is unreachable (%s): %s — nothing recorded\n", where,
                    dberr);
            rc = 1;
        } else if (ptrack_record(conn, &rec, iters, done, &run_id, dberr, sizeof dberr) < 0) {
            fprintf(stderr, "tradebench profile-job: recording the run failed (%s): %s\n", where, dberr);
            rc = 1;
        } else {
            printf("recorded as run %lld (%s%s%s) in %s: GET /runs/%lld/profile, GET /profiles?job=%s\n",
                   (long long)run_id, rec.status, phase ? ", phase " : "", phase ? phase : "", where, (long long)run_id,
                   job);
        }
        json_decref(params);
        free(command);
    } else if (!db_ok) {
        rc = 1;
    }
    if (update_doc) {
        if (!conn) conn = profile_connect(&cfg, dberr, sizeof dberr);
        if (!conn) {
            fprintf(stderr, "tradebench profile-job: the database is unreachable (%s): %s — %s not updated\n", where,
                    dberr, doc);
            rc = 1;
        } else if (profile_update_doc(conn, doc, where) != 0) {
            rc = 1;
        }
    }
    PQfinish(conn);
    for (size_t i = 0; i < done; i++) ptrack_iter_free(&iters[i]);
    free(iters);
    profile_cleanup(work);
    jobspec_free(&spec);
    settings_free(&cfg);
    return rc;
}
