/* profile_exec.h — one profiled iteration of a standard job, for
 * `tradebench profile-job`. The iteration runs in a child process exactly as
 * a worker runs it: the worker's executor for the job (runexec_find: the same
 * backtest / model-training function and result bundle), its stage lines
 * over a pipe ("S <seconds> <stage>", "E <message>", runexec_msg_parse), and
 * wait4() for the child's CPU time and peak RSS. With --profiler stages the
 * child is a plain fork; with perf or callgrind it is this binary exec'd
 * under `perf record -g` / `valgrind --tool=callgrind` (the hidden
 * `profile-job --child`, which runs pexec_child_main with the inherited pipe
 * and bundle descriptors), and the tool's report gives the top functions by
 * self time / instructions. Prints nothing; the caller reports. */
#ifndef TB_CLI_PROFILE_EXEC_H
#define TB_CLI_PROFILE_EXEC_H
#include <jansson.h>
#include <stddef.h>

#include "server/runexec.h"

typedef enum { PEXEC_STAGES = 0, PEXEC_PERF, PEXEC_CALLGRIND } pexec_profiler;

const char *pexec_profiler_name(pexec_profiler p);          /* "stages", "perf", "callgrind" */
int pexec_profiler_parse(const char *s, pexec_profiler *out); /* 0, or -1 for an unknown name */

/* Is the profiler's tool installed and permitted here? 0, or -1 with why
 * (the command that failed and its own message). PEXEC_STAGES always is. */
int pexec_tool_check(pexec_profiler p, char *why, size_t n);

/* What every iteration of one profile-job run shares (all borrowed). */
typedef struct pexec_job {
    const struct runexec_entry *entry; /* the worker's executor for spec->job */
    const tb_jobspec *spec;            /* the validated job */
    const char *job_name;              /* EOD_SMALL | BACKTEST_MEDIUM | ML_JOB */
    int ml_nthread;                    /* XGBoost threads (ML_JOB) */
    pexec_profiler profiler;
    const char *self_exe;              /* this binary's path (perf / callgrind exec it) */
    const char *const *child_args;     /* after the binary: "profile-job", "--child", ... (NULL-terminated) */
    const char *work_dir;              /* where the tools' raw output and logs go */
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

/* The body of `profile-job --child` (exec'd under the tool): run the job
 * with the inherited pipe and bundle descriptors; never returns. */
void pexec_child_main(const pexec_job *job, int msg_fd, int bundle_fd) __attribute__((noreturn));

#endif
