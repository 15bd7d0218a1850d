/*
 * runexec — what happens inside a worker's child process, and the two
 * channels that carry it back to the parent (server/worker.c).
 *
 * One child runs one iteration of one run. It talks back over two channels:
 *  - a pipe of short text lines (each under PIPE_BUF, so writes are atomic):
 *      "P <fraction> <stage>"   progress of this iteration, 0..1
 *      "S <wall_s> <stage>"     a stage finished, in execution order
 *      "E <message>"            why the iteration failed (then exit 3)
 *  - a result bundle written to a file the parent created before fork():
 *    named sections "<name> <length>\n<bytes>" read back by
 *    runexec_bundle_parse(). A backtest's sections: "meta" (JSON: freq,
 *    row counts), "orders", "equity", "metrics" (complete binary-format COPY
 *    streams, run_id first, for COPY ... FROM STDIN (FORMAT binary)),
 *    "report" (performance_report_<f>.md bytes) and, for EOD_SMALL,
 *    "targets" (targets_<f>.csv bytes). A model training's (ML_JOB, kind
 *    model; meta has "kind":"ml"): "dataset" (COPY stream of dataset_rows),
 *    "model" (the XGBoost JSON bytes), "ml" (JSON: the datasets and models
 *    rows' values), "report" (ml_training_report.md), "cv_metrics",
 *    "cv_folds", "importance" (the CSV artifacts' bytes). See runexec_ml.c.
 *    A sweep's (kind sweep; meta "kind":"sweep"): "sweep" (JSON: the
 *    sweeps and sweep_members rows), "report" (sweep_report.md) and
 *    "sweep_csv" (sweep_results.csv). See runexec_sweep.c.
 * Jobs are dispatched by type through one table (runexec_find); a job
 * without an executor carries the message it fails with.
 * Never touches PostgreSQL: the parent persists what the bundle holds. Only
 * the child runs XGBoost/OpenMP code: the parent never starts an OpenMP
 * thread pool, which a fork()ed child could not use.
 */
#ifndef TB_RUNEXEC_H
#define TB_RUNEXEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "engine/jobspec.h"

/* Child exit statuses (anything else, or a signal, is a crash). */
#define RUNEXEC_EXIT_OK 0       /* bundle written */
#define RUNEXEC_EXIT_FAILED 3   /* the job failed; an "E" line said why */

/* Test-only fault injection (TB_FAULT_INJECT), decided by the parent. */
enum runexec_fault {
    RUNEXEC_FAULT_NONE = 0,
    RUNEXEC_FAULT_CRASH,        /* the child abort()s before running the job */
    RUNEXEC_FAULT_HANG          /* the child sleeps until it is killed */
};

/* Everything a child needs; all borrowed from the parent's memory. */
struct runexec_task {
    int64_t run_id;              /* runs.id, written into every COPY row */
    const char *job_name;        /* "EOD_SMALL", "BACKTEST_MEDIUM", "backtest" (report) */
    const tb_jobspec *spec;      /* validated config rebuilt from runs.params */
    int iteration;               /* 1-based, for messages */
    int msg_fd;                  /* write end of the progress pipe */
    FILE *bundle;                /* result bundle, empty, positioned at 0 */
    enum runexec_fault fault;    /* test-only */
    pid_t parent;                /* to notice a parent that died before prctl() */
    const int *close_fds;        /* parent descriptors the child closes first */
    size_t n_close_fds;
    const char *meta_model;      /* meta_filter: the model's XGBoost JSON (bt.meta.model_id > 0), else NULL */
    size_t meta_model_len;
    int ml_nthread;              /* threads of a sweep's members (>= 1) */
    int xgb_nthread;             /* XGBoost threads: a model training, a meta-filter's prediction (>= 1) */
    int profiler;                /* 0: run the entry here; perf / callgrind (pexec_profiler): run it
                                    under the tool, in a process of its own (profile_exec.h) */
    const char *profile_dir;     /* with a profiler: the run's work directory */
};

/* A job's executor: run one iteration, write the bundle. 0, or -1 with err. */
typedef int (*runexec_fn)(const struct runexec_task *task, tb_error *err);

struct runexec_entry {
    js_job job;                  /* what jobspec_from_params() said the run is */
    runexec_fn run;              /* NULL: not available in this build */
    const char *unavailable;     /* the failure message when run is NULL */
};

/* The dispatch table row for a job type (never NULL). */
const struct runexec_entry *runexec_find(js_job job);

/* The child's body after fork(): detach from the parent's process group,
 * die with the parent, unblock signals, apply the fault, run the entry,
 * flush the bundle and _exit() — never returns, never runs atexit handlers
 * (so no leak check and no libpq goodbye on the parent's connection). */
void runexec_child_main(const struct runexec_entry *entry, const struct runexec_task *task)
    __attribute__((noreturn));

/* ---- parent side: reading what the child sent ------------------------------- */

enum runexec_msg_kind { RUNEXEC_MSG_BAD = 0, RUNEXEC_MSG_PROGRESS, RUNEXEC_MSG_STAGE, RUNEXEC_MSG_ERROR };

struct runexec_msg {
    enum runexec_msg_kind kind;
    double value;                /* progress fraction or stage wall seconds */
    const char *text;            /* stage name or error message: points into the line */
};

/* Parse one line (without its '\n'; modified in place). */
void runexec_msg_parse(char *line, struct runexec_msg *out);

/* One section of a bundle: points into the caller's buffer. */
struct runexec_section {
    const char *data;
    size_t len;
};

struct runexec_bundle {
    int ml;                             /* 1: a model training's bundle (meta "kind":"ml") */
    int sweep;                          /* 1: a sweep's bundle (meta "kind":"sweep") */
    char freq[8];                       /* "1d" / "1h" from meta */
    char strategy[64];                  /* ML: the base strategy (artifact names) */
    long long n_orders, n_equity;       /* backtest: row counts from meta */
    long long n_rows;                   /* ML: dataset rows */
    struct runexec_section orders, equity, metrics, report, targets; /* targets.data NULL when absent */
    struct runexec_section dataset, model, ml_doc, cv_metrics, cv_folds, importance; /* ML */
    struct runexec_section sweep_doc, sweep_csv; /* sweep: "sweep" JSON, sweep_results.csv */
};

/* Parse a bundle held in buf[0..len). Returns 0, or -1 with err. */
int runexec_bundle_parse(const char *buf, size_t len, struct runexec_bundle *out, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

#endif
