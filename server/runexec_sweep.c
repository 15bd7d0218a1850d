/*
 * runexec_sweep — a parameter sweep inside the worker's child (runs of kind
 * "sweep": POST /backtests with a grid). The engine's sweep_run() loads the
 * data once and runs every valid combination on task->ml_nthread threads
 * (the share of the machine the parent gives one run); then the bundle the
 * parent persists in one transaction (persist.c):
 *   "meta"       {"kind":"sweep", "freq", "members"}
 *   "sweep"      sweep_to_json() plus first_unix/last_unix: the sweeps row
 *                and one sweep_members row per ranked member;
 *   "report"     sweep_report.md and "sweep_csv" sweep_results.csv, the
 *                engine's writers' bytes (the command line writes the same).
 * Progress: the engine reports load, cost statistics and the fraction of
 * members done from the calling thread only.
 *
 * A chunk of a split sweep (kind sweep_chunk; spec->member_hi > 0) runs
 * only its range of the valid members (sweep_run_range); the same bundle,
 * whose "sweep" JSON also carries "valid" (the grid's valid members),
 * "first_member", "total_seconds" and the engine's "stages", from which
 * persist_chunk() stores the chunk and, for the last one, the sweep.
 * TB_TEST_CHUNK_DELAY_MS (tests only: validated and announced by the
 * worker at start) makes a chunk sleep that long before it starts, so that
 * a test can see two workers share a sweep or kill one mid-chunk.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/sweep.h"
#include "runexec.h"
#include "runexec_child.h"

int runexec_sweep(const struct runexec_task *t, tb_error *err)
{
    const tb_jobspec *s = t->spec;
    struct runexec_progress prog = { .fd = t->msg_fd, .sent = 0, .sent_at = 0 };
    tb_hooks hooks = { .ud = &prog, .progress = runexec_on_progress, .stage_done = runexec_on_stage };
    tb_sweep_result r;
    int chunk = s->member_hi > 0;
    const char *delay = chunk ? getenv("TB_TEST_CHUNK_DELAY_MS") : NULL;
    if (delay && atoi(delay) > 0) { /* tests only */
        long ms = atoi(delay);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        runexec_on_progress(&prog, "test_delay", 0.0);
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    if (sweep_run_range(&s->bt, &s->grid, s->member_lo, chunk ? s->member_hi : SIZE_MAX,
                        t->ml_nthread > 0 ? t->ml_nthread : 1, &hooks, &r, err))
        return -1;

    double t_render = stage_now();
    runexec_on_progress(&prog, "render_artifacts", 1.0);
    json_t *meta = json_pack("{s:s, s:s, s:I}", "kind", "sweep", "freq", tb_freq_name(r.freq), "members",
                             (json_int_t)r.n_members);
    json_t *doc = sweep_to_json(&r);
    json_object_set_new(doc, "first_unix", json_integer((json_int_t)r.first_ts));
    json_object_set_new(doc, "last_unix", json_integer((json_int_t)r.last_ts));
    json_object_set_new(doc, "valid", json_integer((json_int_t)r.n_valid));
    json_object_set_new(doc, "first_member", json_integer((json_int_t)r.first_member));
    json_object_set_new(doc, "total_seconds", json_real(r.total_s));
    json_t *stages = json_array();
    for (size_t k = 0; k < r.stages.n; k++)
        json_array_append_new(stages, json_pack("{s:s, s:f}", "name", r.stages.s[k].name, "wall_seconds",
                                                r.stages.s[k].wall_s));
    json_object_set_new(doc, "stages", stages);
    struct runexec_mem m;
    int bad = 0;
    runexec_mem_open(&m);
    if (!meta || json_dumpf(meta, m.f, JSON_COMPACT) != 0)
        bad = 1;
    bad |= runexec_mem_emit(&m, t->bundle, "meta");
    runexec_mem_open(&m);
    if (!doc || json_dumpf(doc, m.f, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0)
        bad = 1;
    bad |= runexec_mem_emit(&m, t->bundle, "sweep");
    runexec_mem_open(&m);
    bad |= sweep_write_report(m.f, &r, &s->bt);
    bad |= runexec_mem_emit(&m, t->bundle, "report");
    runexec_mem_open(&m);
    bad |= sweep_write_csv(m.f, &r);
    bad |= runexec_mem_emit(&m, t->bundle, "sweep_csv");
    fputs("end 0\n", t->bundle);
    runexec_on_stage(&prog, "render_artifacts", stage_now() - t_render);
    json_decref(meta);
    json_decref(doc);
    sweep_result_free(&r);
    if (bad || fflush(t->bundle) != 0)
        return tb_fail(err, TB_EIO, "writing the sweep's results failed: %s", strerror(errno));
    return 0;
}
