/* profile_exec.h — one iteration of a job under a profiler, for `tradebench
 * profile-job` (cli/cmd_profile.c) and for the worker's runs queued with
 * `"profiler": "perf" | "callgrind"` (POST /runs). Part of tb_worker.
 *
 * The iteration runs in a child process exactly as a worker runs it: the
 * worker's executor for the job (runexec_find: the same backtest /
 * model-training function and result bundle), its lines over a pipe
 * ("P"/"S"/"E", runexec_msg_parse), and wait4() for the child's CPU time and
 * peak RSS. With stages the child is a plain fork; with perf or callgrind it
 * is the calling binary exec'd under `perf record -g` / `valgrind
 * --tool=callgrind` with a task file (the job's stored params, run id,
 * iteration...) — `tradebench profile-job --child` or `tradebench-worker
 * --profile-child`, both ending in pexec_child_command — and the tool's
 * report gives the top functions by self time / instructions.
 *
 * In the worker the tool runs one level down: the worker's child for the
 * iteration (runexec_child_main, task->profiler set) calls pexec_supervise,
 * which runs pexec_iteration with the worker's own result file and forwards
 * every line to the worker's pipe, then leaves the tool's figures and top
 * functions in the run's work directory (pexec_outcome_read) — so the
 * report, which takes seconds, never blocks the worker's event loop.
 * Prints nothing; callers report. */
#ifndef TB_PROFILE_EXEC_H
#define TB_PROFILE_EXEC_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runexec.h"

typedef enum { PEXEC_STAGES = 0, PEXEC_PERF, PEXEC_CALLGRIND } pexec_profiler;

const char *pexec_profiler_name(pexec_profiler p);          /* "stages", "perf", "callgrind" */
int pexec_profiler_parse(const char *s, pexec_profiler *out); /* 0, or -1 for an unknown name */

/* Is the profiler's tool installed and permitted here? 0, or -1 with why
 * (the command that failed and its own message). PEXEC_STAGES always is. */
int pexec_tool_check(pexec_profiler p, char *why, size_t n);

/* What every iteration of one profiled run shares (all borrowed). */
typedef struct pexec_job {
    const struct runexec_entry *entry; /* the worker's executor for spec->job */
    const tb_jobspec *spec;            /* the validated job; spec->normalized goes to the task file */
    const char *job_name;              /* EOD_SMALL | BACKTEST_MEDIUM | ML_JOB */
    int ml_nthread;                    /* a sweep's threads (task->ml_nthread) */
    int xgb_nthread;                   /* XGBoost threads: ML_JOB's training, a meta-filter's prediction */
    pexec_profiler profiler;
    const char *self_exe;              /* this binary's path (perf / callgrind exec it) */
    const char *const *child_args;     /* after the binary: "profile-job", "--child" (NULL-terminated) */
    const char *work_dir;              /* the task file, the tools' raw output and logs go here */
    /* The worker's (zero for profile-job): */
    int64_t run_id;                    /* written into every COPY row */
    FILE *bundle;                      /* the result file to fill (left open); NULL: a tmpfile of its own */
    int forward_fd;                    /* every line the child writes is copied here; -1: none */
    const char *meta_model;            /* meta_filter model bytes (spec->bt.meta), or NULL */
    size_t meta_model_len;
} pexec_job;

typedef struct pexec_result {
    int ok;                            /* the iteration produced a complete result bundle */
    char error[800];                   /* why not */
    double wall_s, cpu_s;              /* fork to exit; user + system of the child (and its tool) */
    long long peak_rss_bytes;          /* ru_maxrss of the child, bytes */
    double started, finished;          /* epoch seconds */
    json_t *stages;                    /* [{"name","wall_seconds"}]; owned, never NULL */
    json_t *functions;                 /* perf/callgrind: [{"function","module","share"}] top 10; owned or NULL */
    char raw[4096];                    /* the tool's raw output file ("" for stages) */
    char summary[160];                 /* what the result holds, e.g. "9801 orders, 2515 equity points" */
} pexec_result;

/* Run iteration `iteration` (1-based). 0 when it succeeded (out->ok), -1
 * otherwise with out->error; out is filled either way (free with
 * pexec_result_free). */
int pexec_iteration(const pexec_job *job, int iteration, pexec_result *out);
void pexec_result_free(pexec_result *r);

/* The body of the exec'd child (`profile-job --child` / `tradebench-worker
 * --profile-child`): argv (after those words) is `--task FILE --msg-fd N
 * --bundle-fd M`. Rebuilds the job from the task file and runs it with the
 * inherited descriptors; never returns unless the arguments are wrong (then
 * it says so on stderr and returns 2). */
int pexec_child_command(int argc, char **argv);

/* ---- the worker's side ---------------------------------------------------------- */

/* The run's profiler from its stored params ("profiler", absent = stages).
 * 0, or -1 with err for a value that is not a profiler's name. */
int pexec_profiler_of(const json_t *params, pexec_profiler *out, char *err, size_t n);

/* A new private work directory under $TMPDIR (or /tmp): a new string, or
 * NULL with err. pexec_workdir_remove() deletes it and the files in it. */
char *pexec_workdir_new(char *err, size_t n);
void pexec_workdir_remove(const char *dir);

/* In the worker's child (runexec_child_main, task->profiler != stages): run
 * the iteration under the tool with the task's result file and pipe, then
 * write the outcome for the worker. 0, or -1 with err ("perf is not
 * available: ..." when the tool is missing, as profile-job says it). */
int pexec_supervise(const struct runexec_entry *entry, const struct runexec_task *task,
                    tb_error *err);

/* What pexec_supervise leaves for the worker about one iteration. */
typedef struct pexec_outcome {
    double wall_s, cpu_s;              /* of the tool's process tree, as profile-job measures */
    long long peak_rss_bytes;
    double started, finished;          /* epoch seconds */
    char *functions_json;              /* [{"function","module","share"}] top 10 (run_iterations.hotspots); owned */
} pexec_outcome;

/* Read iteration `iteration`'s outcome from dir. 0, or -1 with err. */
int pexec_outcome_read(const char *dir, int iteration, pexec_outcome *out, char *err, size_t n);
void pexec_outcome_free(pexec_outcome *o);

#endif
