/*
 * runexec — the child side of a run (see runexec.h): dispatch by job type,
 * engine hooks turned into progress lines, and the result bundle.
 * The rows written here are exactly the numbers the engine's artifact
 * writers print (same expressions, same order as art_write_orders and
 * art_write_equity), sent as binary COPY so PostgreSQL stores the very same
 * doubles and renders back to the same CSV.
 * Runs only in a forked child: it may abort on OOM (xmalloc's policy) and it
 * leaves through _exit(), never through return.
 */
#include "runexec.h"
#include "runexec_child.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine/artifacts.h"
#include "engine/backtest.h"
#include "engine/ml_train.h"
#include "engine/timeutil.h"
#include "profile_exec.h"

/* ---- progress lines ------------------------------------------------------------ */

/* Write one line (truncated below PIPE_BUF so the write is atomic). A parent
 * that went away is not an error here: PDEATHSIG ends this process anyway. */
static void runexec_send(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void runexec_send(int fd, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++) /* one record, one line */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (int)w;
    }
}

/* backtest_run() reports overall progress (0..1, monotone per stage); the
 * engine's part is 0..0.95 of the iteration, rendering the results the last 5 %. */
#define RUNEXEC_ENGINE_SHARE 0.95
#define RUNEXEC_SEND_EVERY_S 0.05   /* throttle: at most ~20 progress lines a second */

void runexec_on_progress(void *ud, const char *stage, double f)
{
    struct runexec_progress *p = ud;
    int changed = strcmp(stage, p->stage) != 0;
    if (changed)
        snprintf(p->stage, sizeof p->stage, "%s", stage);
    double overall = f * RUNEXEC_ENGINE_SHARE;
    if (!(overall >= p->sent))
        overall = p->sent;
    if (overall > 1)
        overall = 1;
    double now = stage_now();
    if (!changed && now - p->sent_at < RUNEXEC_SEND_EVERY_S)
        return;
    p->sent = overall;
    p->sent_at = now;
    runexec_send(p->fd, "P %.6f %s", overall, stage);
}

void runexec_on_stage(void *ud, const char *stage, double wall_s)
{
    const struct runexec_progress *p = ud;
    runexec_send(p->fd, "S %.9f %s", wall_s, stage);
}

/* ---- COPY rows (binary format) -------------------------------------------------- */

/* PostgreSQL's binary COPY: an 11-byte signature, flags and header-extension
 * length; per tuple a 16-bit field count and, per field, a 32-bit length
 * (-1 = NULL) and the value in network byte order. float8 is the IEEE-754
 * bit pattern (so values arrive bit-exact), timestamptz is microseconds since
 * 2000-01-01 00:00 UTC, text is its bytes. */
#define RUNEXEC_PG_EPOCH 946684800LL /* 2000-01-01T00:00:00Z in Unix seconds */

static void runexec_be(FILE *f, uint64_t v, int bytes)
{
    unsigned char b[8]; /* one fwrite: a stdio call per byte was the run's top function */
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    fwrite(b, 1, (size_t)bytes, f);
}

/* An 8-byte field: its length (8) and value in one fwrite. */
static void runexec_field8(FILE *f, uint64_t v)
{
    unsigned char b[12] = {0, 0, 0, 8};
    for (int i = 0; i < 8; i++)
        b[4 + i] = (unsigned char)(v >> (8 * (7 - i)));
    fwrite(b, 1, sizeof b, f);
}

void runexec_copy_header(FILE *f)
{
    fwrite("PGCOPY\n\377\r\n\0", 1, 11, f);
    runexec_be(f, 0, 4); /* flags */
    runexec_be(f, 0, 4); /* header extension length */
}

void runexec_copy_trailer(FILE *f)
{
    runexec_be(f, 0xffff, 2);
}

void runexec_copy_tuple(FILE *f, int fields)
{
    runexec_be(f, (uint64_t)fields, 2);
}

void runexec_copy_int8(FILE *f, int64_t v)
{
    runexec_field8(f, (uint64_t)v);
}

void runexec_copy_int4(FILE *f, int32_t v)
{
    runexec_be(f, 4, 4);
    runexec_be(f, (uint64_t)(uint32_t)v, 4);
}

void runexec_copy_int2(FILE *f, int16_t v)
{
    runexec_be(f, 2, 4);
    runexec_be(f, (uint64_t)(uint16_t)v, 2);
}

void runexec_copy_float8(FILE *f, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    runexec_field8(f, bits);
}

void runexec_copy_null(FILE *f)
{
    runexec_be(f, 0xffffffffu, 4);
}

/* A metric: NULL when undefined or not finite (metrics.json null). */
void runexec_copy_float8_or_null(FILE *f, double x)
{
    if (isfinite(x))
        runexec_copy_float8(f, x);
    else
        runexec_copy_null(f);
}

void runexec_copy_text(FILE *f, const char *s)
{
    size_t n = strlen(s);
    runexec_be(f, (uint64_t)n, 4);
    fwrite(s, 1, n, f);
}

void runexec_copy_ts(FILE *f, int64_t unix_seconds)
{
    runexec_field8(f, (uint64_t)((unix_seconds - RUNEXEC_PG_EPOCH) * 1000000LL));
}

/* orders (run_id, seq, ts, symbol, side, quantity, price, notional, cost)
 * in artifact order, with the values art_write_orders prints. */
static void runexec_orders(FILE *f, const tb_backtest *bt, int64_t run_id)
{
    const tb_orders *o = &bt->sim.orders;
    size_t *perm = art_order_perm(bt);
    runexec_copy_header(f);
    for (size_t j = 0; j < o->n; j++) {
        size_t k = perm[j];
        runexec_copy_tuple(f, 9);
        runexec_copy_int8(f, run_id);
        runexec_copy_int4(f, (int32_t)j);
        runexec_copy_ts(f, bt->panel.ts[o->t[k]]);
        runexec_copy_text(f, bt->market->symbols[o->sym[k]]);
        runexec_copy_text(f, o->sell[k] ? "SELL" : "BUY");
        runexec_copy_float8(f, o->qty[k]);
        runexec_copy_float8(f, o->price[k]);
        runexec_copy_float8(f, o->qty[k] * o->price[k]);
        runexec_copy_float8(f, o->cost[k]);
    }
    runexec_copy_trailer(f);
    free(perm);
}

/* equity_points (run_id, ts, equity, cash, exposure, drawdown, ret,
 * benchmark): the same expressions as art_write_equity, so the values are
 * bit-identical, plus the universe benchmark grown from E_0 (sql/006). */
static void runexec_equity(FILE *f, const tb_backtest *bt, int64_t run_id)
{
    const tb_sim_result *r = &bt->sim;
    double peak = r->T ? r->equity[0] : 0;
    double bench = peak;
    runexec_copy_header(f);
    for (size_t t = 0; t < r->T; t++) {
        double e = r->equity[t];
        if (e > peak)
            peak = e;
        if (t && bt->bench)
            bench *= 1 + bt->bench[t];
        runexec_copy_tuple(f, 8);
        runexec_copy_int8(f, run_id);
        runexec_copy_ts(f, bt->panel.ts[t]);
        runexec_copy_float8(f, e);
        runexec_copy_float8(f, r->cash[t]);
        runexec_copy_float8(f, r->gross[t] / e);
        runexec_copy_float8(f, 1 - e / peak);
        if (t)
            runexec_copy_float8(f, e / r->equity[t - 1] - 1);
        else
            runexec_copy_null(f);
        if (bt->bench)
            runexec_copy_float8(f, bench);
        else
            runexec_copy_null(f);
    }
    runexec_copy_trailer(f);
}

/* metrics (run_id, name, value): the 15 SPEC §5 metrics, NULL when undefined. */
static void runexec_metrics(FILE *f, const tb_backtest *bt, int64_t run_id)
{
    runexec_copy_header(f);
    for (size_t k = 0; k < 15; k++) {
        runexec_copy_tuple(f, 3);
        runexec_copy_int8(f, run_id);
        runexec_copy_text(f, metrics_names[k]);
        runexec_copy_float8_or_null(f, metrics_get(&bt->metrics, k));
    }
    runexec_copy_trailer(f);
}

/* ---- the bundle ---------------------------------------------------------------- */

void runexec_mem_open(struct runexec_mem *m)
{
    m->data = NULL;
    m->len = 0;
    m->f = open_memstream(&m->data, &m->len);
    if (!m->f)
        abort(); /* out of memory: the child's policy is to die (xmalloc's too) */
}

/* Close the stream and append it to the bundle as section `name`. */
int runexec_mem_emit(struct runexec_mem *m, FILE *bundle, const char *name)
{
    int bad = ferror(m->f);
    if (fclose(m->f) != 0)
        bad = 1;
    m->f = NULL;
    if (!bad) {
        fprintf(bundle, "%s %zu\n", name, m->len);
        fwrite(m->data, 1, m->len, bundle);
    }
    free(m->data);
    m->data = NULL;
    return bad || ferror(bundle) ? -1 : 0;
}

double runexec_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* The backtest family: a custom backtest, EOD_SMALL, BACKTEST_MEDIUM. */
static int runexec_backtest(const struct runexec_task *t, tb_error *err)
{
    double t0 = stage_now();
    struct runexec_progress prog = { .fd = t->msg_fd, .sent = 0, .sent_at = 0 };
    tb_hooks hooks = { .ud = &prog, .progress = runexec_on_progress, .stage_done = runexec_on_stage };
    tb_backtest bt;
    tb_backtest_config c = t->spec->bt; /* a copy: the meta-model is loaded here, in the child */
    ml_model *model = NULL;
    char source[48];
    if (c.meta.model_id > 0) {
        if (!t->meta_model)
            return tb_fail(err, TB_EINVAL, "meta_filter: model %lld was not loaded",
                           (long long)c.meta.model_id);
        if (ml_model_load_json(t->meta_model, t->meta_model_len, t->xgb_nthread, &model, err))
            return -1;
        snprintf(source, sizeof source, "model %lld", (long long)c.meta.model_id);
        c.meta.model = model;
        c.meta.source = source;
    }
    int brc = backtest_run(&c, &hooks, &bt, err);
    if (brc) {
        ml_model_free(model);
        return -1;
    }

    double t_render = stage_now();
    runexec_on_progress(&prog, "render_artifacts", 1.0); /* 0.95 overall */

    char id[32];
    struct rusage ru;
    snprintf(id, sizeof id, "%lld", (long long)t->run_id);
    getrusage(RUSAGE_SELF, &ru);
    tb_report_info info = { id, t->job_name, stage_now() - t0,
                            runexec_seconds(ru.ru_utime) + runexec_seconds(ru.ru_stime), ru.ru_maxrss };

    struct runexec_mem m;
    int rc = 0;
    json_t *meta = json_pack("{s:s, s:I, s:I}", "freq", tb_freq_name(bt.market->freq), "orders",
                             (json_int_t)bt.sim.orders.n, "equity", (json_int_t)bt.sim.T);
    runexec_mem_open(&m);
    if (!meta || json_dumpf(meta, m.f, JSON_COMPACT) != 0)
        rc = -1;
    json_decref(meta);
    rc |= runexec_mem_emit(&m, t->bundle, "meta");
    runexec_mem_open(&m);
    runexec_orders(m.f, &bt, t->run_id);
    rc |= runexec_mem_emit(&m, t->bundle, "orders");
    runexec_mem_open(&m);
    runexec_equity(m.f, &bt, t->run_id);
    rc |= runexec_mem_emit(&m, t->bundle, "equity");
    runexec_mem_open(&m);
    runexec_metrics(m.f, &bt, t->run_id);
    rc |= runexec_mem_emit(&m, t->bundle, "metrics");
    runexec_mem_open(&m);
    rc |= art_write_report(m.f, &bt, &c, &info);
    rc |= runexec_mem_emit(&m, t->bundle, "report");
    if (t->spec->with_targets) {
        runexec_mem_open(&m);
        rc |= art_write_targets(m.f, &bt, &t->spec->bt);
        rc |= runexec_mem_emit(&m, t->bundle, "targets");
    }
    fputs("end 0\n", t->bundle);
    stage_record(&bt.stages, &hooks, "render_artifacts", t_render);
    backtest_free(&bt);
    ml_model_free(model);
    if (rc || fflush(t->bundle) != 0)
        return tb_fail(err, TB_EIO, "writing the run's results failed: %s", strerror(errno));
    return 0;
}

/* The dispatch point by job type. */
static const struct runexec_entry runexec_table[] = {
    { JS_JOB_BACKTEST, runexec_backtest, NULL },
    { JS_JOB_EOD_SMALL, runexec_backtest, NULL },
    { JS_JOB_BACKTEST_MEDIUM, runexec_backtest, NULL },
    { JS_JOB_ML_JOB, runexec_ml, NULL },
    { JS_JOB_MODEL, runexec_ml, NULL },
    { JS_JOB_SWEEP, runexec_sweep, NULL },
};

const struct runexec_entry *runexec_find(js_job job)
{
    static const struct runexec_entry unknown = { JS_JOB_BACKTEST, NULL, "unknown job type" };
    for (size_t i = 0; i < sizeof runexec_table / sizeof runexec_table[0]; i++)
        if (runexec_table[i].job == job)
            return &runexec_table[i];
    return &unknown;
}

void runexec_child_main(const struct runexec_entry *entry, const struct runexec_task *t)
{
    sigset_t none;
    for (size_t i = 0; i < t->n_close_fds; i++)
        close(t->close_fds[i]);
    /* Own process group: a terminal's Ctrl-C reaches the worker, which
     * decides; and die with the worker instead of running on unobserved. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != t->parent)
        _exit(RUNEXEC_EXIT_FAILED);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (t->fault == RUNEXEC_FAULT_CRASH)
        abort();
    if (t->fault == RUNEXEC_FAULT_HANG) {
        runexec_send(t->msg_fd, "P 0.01 load_data");
        for (;;)
            pause();
    }

    tb_error err;
    tb_error_clear(&err);
    int rc = !entry->run   ? tb_fail(&err, TB_EINVAL, "%s", entry->unavailable)
             : t->profiler ? pexec_supervise(entry, t, &err) /* the tool runs the entry */
                           : entry->run(t, &err);
    if (rc != 0) {
        runexec_send(t->msg_fd, "E %s", err.msg[0] ? err.msg : "the run failed (no message)");
        _exit(RUNEXEC_EXIT_FAILED);
    }
    _exit(RUNEXEC_EXIT_OK);
}

/* ---- parent side ----------------------------------------------------------------- */

void runexec_msg_parse(char *line, struct runexec_msg *out)
{
    char *end = NULL;
    out->kind = RUNEXEC_MSG_BAD;
    out->value = 0;
    out->text = "";
    if (line[0] == '\0' || line[1] != ' ')
        return;
    if (line[0] == 'E') {
        out->kind = RUNEXEC_MSG_ERROR;
        out->text = line + 2;
        return;
    }
    if (line[0] != 'P' && line[0] != 'S')
        return;
    errno = 0;
    double v = strtod(line + 2, &end);
    if (errno != 0 || end == line + 2 || *end != ' ' || !isfinite(v) || v < 0)
        return;
    out->kind = line[0] == 'P' ? RUNEXEC_MSG_PROGRESS : RUNEXEC_MSG_STAGE;
    out->value = v;
    out->text = end + 1;
}

int runexec_bundle_parse(const char *buf, size_t len, struct runexec_bundle *out, char *err,
                         size_t errlen)
{
    size_t pos = 0;
    int have_meta = 0, have_end = 0;
    memset(out, 0, sizeof *out);
    while (pos < len && !have_end) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        char head[64], name[32];
        unsigned long long n = 0;
        if (!nl || (size_t)(nl - (buf + pos)) >= sizeof head) {
            snprintf(err, errlen, "result bundle: malformed section header at byte %zu", pos);
            return -1;
        }
        memcpy(head, buf + pos, (size_t)(nl - (buf + pos)));
        head[nl - (buf + pos)] = '\0';
        if (sscanf(head, "%31s %llu", name, &n) != 2) {
            snprintf(err, errlen, "result bundle: malformed section header '%s'", head);
            return -1;
        }
        pos = (size_t)(nl - buf) + 1;
        if (n > len - pos) {
            snprintf(err, errlen, "result bundle: section %s is truncated", name);
            return -1;
        }
        struct runexec_section sec = { buf + pos, (size_t)n };
        pos += (size_t)n;
        if (strcmp(name, "meta") == 0) {
            json_error_t je;
            json_t *m = json_loadb(sec.data, sec.len, 0, &je);
            const char *freq = NULL, *kind = "backtest", *strategy = "";
            json_int_t no = -1, ne = -1, nr = -1;
            if (!m || json_unpack(m, "{s:s, s?s, s?s, s?I, s?I, s?I}", "freq", &freq, "kind", &kind,
                                  "strategy", &strategy, "orders", &no, "equity", &ne, "rows", &nr) != 0 ||
                (strcmp(kind, "ml") == 0      ? nr < 0 || !*strategy
                 : strcmp(kind, "sweep") == 0 ? 0
                                              : no < 0 || ne < 0)) {
                json_decref(m);
                snprintf(err, errlen, "result bundle: bad meta section");
                return -1;
            }
            out->ml = strcmp(kind, "ml") == 0;
            out->sweep = strcmp(kind, "sweep") == 0;
            snprintf(out->freq, sizeof out->freq, "%s", freq);
            snprintf(out->strategy, sizeof out->strategy, "%s", strategy);
            out->n_orders = no;
            out->n_equity = ne;
            out->n_rows = nr;
            json_decref(m);
            have_meta = 1;
        } else if (strcmp(name, "orders") == 0) {
            out->orders = sec;
        } else if (strcmp(name, "equity") == 0) {
            out->equity = sec;
        } else if (strcmp(name, "metrics") == 0) {
            out->metrics = sec;
        } else if (strcmp(name, "report") == 0) {
            out->report = sec;
        } else if (strcmp(name, "targets") == 0) {
            out->targets = sec;
        } else if (strcmp(name, "dataset") == 0) {
            out->dataset = sec;
        } else if (strcmp(name, "model") == 0) {
            out->model = sec;
        } else if (strcmp(name, "ml") == 0) {
            out->ml_doc = sec;
        } else if (strcmp(name, "cv_metrics") == 0) {
            out->cv_metrics = sec;
        } else if (strcmp(name, "cv_folds") == 0) {
            out->cv_folds = sec;
        } else if (strcmp(name, "importance") == 0) {
            out->importance = sec;
        } else if (strcmp(name, "sweep") == 0) {
            out->sweep_doc = sec;
        } else if (strcmp(name, "sweep_csv") == 0) {
            out->sweep_csv = sec;
        } else if (strcmp(name, "end") == 0) {
            have_end = 1;
        } /* unknown sections are skipped: newer children, older parents */
    }
    if (!have_meta || !have_end || !out->report.data ||
        (out->ml && (!out->dataset.data || !out->model.data || !out->ml_doc.data ||
                     !out->cv_metrics.data || !out->cv_folds.data || !out->importance.data)) ||
        (out->sweep && (!out->sweep_doc.data || !out->sweep_csv.data))) {
        snprintf(err, errlen, "result bundle: incomplete (%zu bytes)", len);
        return -1;
    }
    return 0;
}
