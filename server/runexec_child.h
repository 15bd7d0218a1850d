/*
 * runexec_child — what the job executors share inside the worker's child
 * process (runexec.c: backtests; runexec_ml.c: model trainings;
 * runexec_sweep.c: parameter sweeps): engine
 * hooks that become "P"/"S" lines on the progress pipe, the binary COPY
 * writers, and in-memory bundle sections. Internal to tb_worker; none of
 * this runs in the worker's parent.
 */
#ifndef TB_RUNEXEC_CHILD_H
#define TB_RUNEXEC_CHILD_H

#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#include "engine/tb_error.h"
#include "runexec.h"

/* Progress state behind the engine hooks (ud of runexec_on_progress/on_stage). */
struct runexec_progress {
    int fd;                      /* the pipe */
    char stage[32];              /* last stage announced */
    double sent;                 /* last fraction sent (monotone) */
    double sent_at;              /* when (stage_now) */
};

/* tb_hooks members: f is the engine's overall fraction (0..1) of the
 * iteration's engine part (95 %; rendering is the rest); stage_done sends
 * an "S" line. */
void runexec_on_progress(void *ud, const char *stage, double f);
void runexec_on_stage(void *ud, const char *stage, double wall_s);

/* PostgreSQL binary COPY streams (see runexec.c). */
void runexec_copy_header(FILE *f);
void runexec_copy_trailer(FILE *f);
void runexec_copy_tuple(FILE *f, int fields);
void runexec_copy_int8(FILE *f, int64_t v);
void runexec_copy_int4(FILE *f, int32_t v);
void runexec_copy_int2(FILE *f, int16_t v);
void runexec_copy_float8(FILE *f, double x);
void runexec_copy_null(FILE *f);
void runexec_copy_float8_or_null(FILE *f, double x);
void runexec_copy_text(FILE *f, const char *s);
void runexec_copy_ts(FILE *f, int64_t unix_seconds);

/* A growable in-memory section (open_memstream; aborts on OOM, the child's policy). */
struct runexec_mem {
    FILE *f;
    char *data;
    size_t len;
};
void runexec_mem_open(struct runexec_mem *m);
/* Close the stream and append it to the bundle as section `name`; 0 or -1. */
int runexec_mem_emit(struct runexec_mem *m, FILE *bundle, const char *name);

double runexec_seconds(struct timeval tv);

/* The model-training executor (ML_JOB, kind model): runexec_ml.c. */
int runexec_ml(const struct runexec_task *t, tb_error *err);

/* The parameter-sweep executor (kind sweep): runexec_sweep.c. */
int runexec_sweep(const struct runexec_task *t, tb_error *err);

#endif
