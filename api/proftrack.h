/*
 * proftrack — the performance tracking table (issue 6): runs of the standard
 * jobs with their recorded iterations, summarised one way everywhere (median
 * wall and CPU time, peak RSS, top-3 stages by median wall time, top-3
 * functions from perf / callgrind), rendered as JSON (GET /profiles), as
 * markdown (GET /profiles/report.md and the generated part of
 * docs/PERFORMANCE.md), and the write of a `tradebench profile-job` run.
 *
 * The statements are named constants here; callers own the connection (the
 * server's handlers go through dbx, the CLI through db.c). Everything else
 * is pure: decoded rows in, JSON or text out. Never touches HTTP.
 */
#ifndef TB_API_PROFTRACK_H
#define TB_API_PROFTRACK_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PTRACK_TOP 3                 /* hotspots shown per run */
#define PTRACK_MAX_FUNCS 10          /* function hotspots stored per iteration */
#define PTRACK_DOC_BEGIN "<!-- profile-job:begin -->"
#define PTRACK_DOC_END "<!-- profile-job:end -->"
#define PTRACK_DOC_MAX_RUNS 40       /* rows of the generated Runtime Benchmarks table */

/* One executed iteration (a run_iterations row). */
struct ptrack_iter {
    int iteration;               /* 1-based */
    double wall_s, cpu_s;        /* the child's wall and CPU seconds */
    long long peak_rss_bytes;    /* its peak RSS */
    json_t *stages;              /* [{"name","wall_seconds"}] in execution order; owned, never NULL */
    json_t *functions;           /* [{"function","module","share"}] (perf/callgrind) or NULL; owned */
    double started, finished;    /* epoch seconds; 0 when unknown */
};

void ptrack_iter_free(struct ptrack_iter *it);

/* A hotspot: a stage (by median wall time) or a function (by share). */
struct ptrack_hot {
    char name[160];              /* stage or function name */
    char module[96];             /* functions: binary or library; "" for stages */
    double seconds;              /* stages: median wall seconds; functions: NAN */
    double share;                /* of the run's median wall time (stages) or of all samples (functions) */
};

struct ptrack_stage {
    char name[32];
    double median;               /* median wall seconds over the iterations that ran it */
};

/* What a run's iterations say, summarised. */
struct ptrack_summary {
    int n;                                   /* iterations summarised */
    double med_wall, min_wall, max_wall;     /* NAN when n == 0 */
    double med_cpu;                          /* NAN when n == 0 */
    long long peak_rss;                      /* max over the iterations, -1 when n == 0 */
    struct ptrack_stage *stages;             /* every stage, first-seen order; owned */
    size_t n_stages;
    struct ptrack_hot hot[PTRACK_TOP];       /* stages by median wall time, largest first */
    size_t n_hot;
    struct ptrack_hot fn[PTRACK_TOP];        /* functions by mean share over the iterations */
    size_t n_fn;
};

/* Summarise it[0..n). A stage that appears twice in one iteration counts
 * once with the summed time; a function missing from an iteration counts 0
 * there. Free with ptrack_summary_free(). */
void ptrack_summarize(const struct ptrack_iter *it, size_t n, struct ptrack_summary *out);
void ptrack_summary_free(struct ptrack_summary *s);
/* The median of a named stage, NAN when the run has no such stage. */
double ptrack_stage_median(const struct ptrack_summary *s, const char *name);

/* A run of the table. */
struct ptrack_run {
    int64_t id;
    char kind[16], job[32], status[16];
    char phase[72];                          /* "" when the run has none */
    int iterations_requested;
    double created, date;                    /* epoch seconds: created_at, finished_at (or created_at) */
    double finished;                         /* epoch seconds of finished_at, 0 while unfinished */
    json_t *params;                          /* runs.params; owned */
    const char *profiler;                    /* params.profiler, "stages" when absent (worker runs) */
    const char *data;                        /* params.data ("default": the worker's TB_DATA) */
    const char *notes;                       /* params.notes or NULL */
    const char *command;                     /* params.command (profile-job) or NULL */
    const char *origin;                      /* "profile-job" or "worker" */
    struct ptrack_iter *iters;               /* owned */
    size_t n_iters;
    struct ptrack_summary sum;
};

struct ptrack_table {
    struct ptrack_run *runs;                 /* newest first */
    size_t n;
};

/* Runs of the standard jobs with at least one recorded iteration, newest
 * first, one row per iteration. $1 job or NULL, $2 phase or NULL, $3 limit
 * (runs). Text result format, decoded by ptrack_table_from_result(). */
extern const char PTRACK_SQL_TABLE[];

void ptrack_table_from_result(const PGresult *res, struct ptrack_table *out);
void ptrack_table_free(struct ptrack_table *t);

/* {"items": [...]} — GET /profiles. New reference. */
json_t *ptrack_table_json(const struct ptrack_table *t);

/* The markdown tracking report: Runtime Benchmarks, Top-3 Hotspots (stages;
 * functions for perf/callgrind runs) and Before/After per consecutive pair
 * of phases; with standard_runs, first the three standard runs with command,
 * parameters and expected artifacts. `source` says where the numbers come
 * from (one line, e.g. the database and time). A new string, caller frees. */
char *ptrack_markdown(const struct ptrack_table *t, int standard_runs, const char *source);

/* doc with everything between PTRACK_DOC_BEGIN and PTRACK_DOC_END replaced
 * by generated (markers kept); without markers, the block is appended at the
 * end. NULL when the markers are malformed (an end before the begin, a
 * missing end). A new string, caller frees. */
char *ptrack_doc_splice(const char *doc, const char *generated);

/* A profile-job run to record. */
struct ptrack_record {
    const char *job;                 /* EOD_SMALL | BACKTEST_MEDIUM | ML_JOB */
    const char *phase;               /* NULL: none */
    const char *status;              /* "succeeded" or "failed" */
    const char *error;               /* failed: why; else NULL */
    const json_t *params;            /* runs.params (borrowed) */
    int iterations_requested;
    double started, finished;        /* epoch seconds */
};

/* INSERT the run (kind 'run', created and started at `started`) and its
 * iterations in one transaction. 0 with *run_id, or -1 with err (rolled back). */
int ptrack_record(PGconn *conn, const struct ptrack_record *rec, const struct ptrack_iter *it, size_t n,
                  int64_t *run_id, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
