/*
 * worker — the event loop of tradebench-worker (see worker.h).
 *
 * A run's life here: queue_claim() → the params are rebuilt into an engine
 * config (jobspec_from_params) and dispatched by job type (runexec_find) →
 * for each iteration a child is forked with a progress pipe and an empty
 * result file → the loop reads "P"/"S"/"E" lines, writes progress and the
 * heartbeat every tick → wait4() gives the child's exact CPU time and peak
 * RSS → earlier iterations become run_iterations rows, the last one's
 * result bundle is persisted in one transaction (persist_run).
 *
 * Timers (monotonic clock): a tick every 250 ms reads cancel_requested and
 * ownership (and writes progress/stage when they moved, the heartbeat at
 * least every second); LISTEN tb_cancel triggers a tick at once. The queue
 * is polled every second besides LISTEN tb_runs; stale runs (anyone's) are
 * reaped every 2 s. Stopping a child is SIGTERM, then SIGKILL after 500 ms.
 * While the database is away children keep running; the loop reconnects
 * with back-off and the next tick tells which runs are still ours.
 *
 * Signals (SIGTERM, SIGINT, SIGCHLD) reach the loop through a self-pipe
 * written by a tiny handler, not through sigwait/signalfd, which need every
 * thread of the process to block them (the kernel may deliver a process
 * signal to any thread that does not). The parent starts no threads, and no
 * library starts any in it: no binary links XGBoost or OpenBLAS (whose
 * load-time constructor used to start its pool before main()); engine/mllib.c
 * dlopens them on first use, which in the worker happens only in a run's
 * child. A handler works in whichever thread runs it, so the loop does not
 * depend on that staying so. The signals are blocked around fork() so a
 * child never runs the parent's handler.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "logger.h"
#include "mem.h"
#include "persist.h"
#include "profile_exec.h"
#include "queue.h"
#include "runexec.h"

#define WORKER_TICK_S 0.25        /* cancel/ownership check, progress writes */
#define WORKER_BEAT_S 1.0         /* heartbeat at least this often */
#define WORKER_POLL_S 1.0         /* claim even without a NOTIFY */
#define WORKER_REAP_S 2.0         /* look for stale runs */
#define WORKER_KILL_GRACE_S 0.5   /* SIGTERM → SIGKILL */
#define WORKER_PROGRESS_CAP 0.99  /* only a committed run reaches 1 */

enum worker_stop {
    WORKER_STOP_NONE = 0,
    WORKER_STOP_CANCEL,           /* cancel_requested: mark cancelled */
    WORKER_STOP_LOST,             /* no longer ours: touch nothing */
    WORKER_STOP_SHUTDOWN          /* grace period over: release (requeue) */
};

/* One claimed run and the child of its current iteration. */
struct worker_run {
    int used;                     /* slot in use */
    struct queue_claim claim;     /* id, kind, job, params, iterations, attempt */
    tb_jobspec spec;              /* rebuilt from claim.params */
    const struct runexec_entry *entry; /* dispatch row for spec.job */
    enum runexec_fault fault;     /* test-only fault for the child */
    int persist_fault;            /* test-only fault for the results transaction */
    int iter;                     /* current iteration, 1-based */
    char *meta_model;             /* meta_filter: the model's XGBoost JSON (read once at claim), or NULL */
    size_t meta_model_len;
    int profiler;                 /* params.profiler (pexec_profiler): perf / callgrind run under the tool */
    char *prof_dir;               /* then: the run's work directory (profile_exec.h), else NULL */
    pexec_outcome prof;           /* then: the iteration's figures and top functions, from the child */

    pid_t pid;                    /* the current child, 0 when none */
    int msg_fd;                   /* read end of its progress pipe, -1 when closed */
    FILE *bundle;                 /* its result file (tmpfile), NULL when none */
    char line[1100];              /* partial progress line */
    size_t line_len;
    double t0, t0_wall;           /* fork time: monotonic and epoch seconds */
    json_t *stages;               /* this iteration's [{"name","wall_seconds"}] */
    char error[600];              /* the child's "E" line */

    double progress;              /* overall 0..WORKER_PROGRESS_CAP */
    char stage[32];               /* current stage */
    int dirty;                    /* progress/stage changed since the last write */

    enum worker_stop stop;        /* why the child is being stopped */
    double kill_at;               /* when SIGTERM becomes SIGKILL */
    int killed;                   /* SIGKILL sent */

    int exited;                   /* wait4() collected the child */
    int status;                   /* its wait status */
    struct rusage ru;             /* its resource usage */
    double t1, t1_wall;           /* exit time: monotonic and epoch seconds */
};

struct worker {
    const char *url;              /* TB_DATABASE_URL */
    const char *id;               /* "host:pid" */
    const struct worker_options *opt;
    PGconn *conn;                 /* NULL while disconnected */
    double next_connect;          /* when to try connecting again */
    int connect_delay_ms;         /* current back-off */
    int connect_attempts;         /* failures in a row */
    int sig_fd;                   /* read end of the self-pipe: one byte per signal */
    struct worker_run *runs;      /* opt->concurrency slots */
    int n_active;                 /* slots in use */
    int draining;                 /* SIGTERM seen: claim nothing more */
    double grace_deadline;        /* when running runs are released */
    int released;                 /* release already ordered */
    double next_tick, next_beat, next_poll, next_reap;
    int want_claim;               /* NOTIFY tb_runs or a freed slot */
    int want_check;               /* NOTIFY tb_cancel */
};

static double worker_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double worker_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- options ------------------------------------------------------------------ */

static int worker_int_var(settings_lookup_fn lookup, void *ud, const char *name, int lo, int hi,
                          int *out, char *err, size_t errlen)
{
    const char *v = lookup(name, ud);
    char *end = NULL;
    if (!v || !*v)
        return 0;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '+' || v[0] == ' ' || x < lo || x > hi) {
        snprintf(err, errlen, "%s=\"%s\": expected an integer in %d..%d", name, v, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Does TB_FAULT_INJECT hold "<kind>" or "<kind>:<id>"? */
static int worker_fault_has(const char *spec, const char *kind, int64_t id)
{
    size_t klen = strlen(kind);
    for (const char *p = spec; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= klen && strncmp(p, kind, klen) == 0) {
            if (len == klen)
                return 1;
            if (p[klen] == ':' && strtoll(p + klen + 1, NULL, 10) == id)
                return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int worker_options_load(struct worker_options *o, int concurrency, settings_lookup_fn lookup,
                        void *ud, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->concurrency = concurrency > 0 ? concurrency : 1;
    o->stale_seconds = WORKER_DEFAULT_STALE_SECONDS;
    o->grace_seconds = WORKER_DEFAULT_GRACE_SECONDS;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->ml_threads = cpus > 0 ? (int)(cpus / o->concurrency) : 1;
    if (o->ml_threads < 1)
        o->ml_threads = 1;
    if (o->ml_threads > WORKER_ML_THREADS_MAX_DEFAULT)
        o->ml_threads = WORKER_ML_THREADS_MAX_DEFAULT;
    o->xgb_threads = WORKER_XGB_THREADS_DEFAULT;
    if (worker_int_var(lookup, ud, "TB_WORKER_STALE_SECONDS", 2, 86400, &o->stale_seconds, err,
                       errlen) < 0 ||
        worker_int_var(lookup, ud, "TB_WORKER_GRACE_SECONDS", 0, 3600, &o->grace_seconds, err,
                       errlen) < 0 ||
        worker_int_var(lookup, ud, "TB_WORKER_ML_THREADS", 1, 64, &o->ml_threads, err, errlen) < 0 ||
        worker_int_var(lookup, ud, "TB_WORKER_XGB_THREADS", 1, 64, &o->xgb_threads, err, errlen) < 0 ||
        worker_int_var(lookup, ud, "TB_TEST_CHUNK_DELAY_MS", 0, 600000, &o->chunk_delay_ms, err, errlen) < 0)
        return -1;
    const char *f = lookup("TB_FAULT_INJECT", ud);
    if (f && *f)
        o->fault = mem_strdup(f);
    return 0;
}

void worker_options_free(struct worker_options *o)
{
    free(o->fault);
    memset(o, 0, sizeof *o);
}

/* ---- database connection -------------------------------------------------------- */

static void worker_disconnect(struct worker *w)
{
    if (!w->conn)
        return;
    PQfinish(w->conn);
    w->conn = NULL;
    w->next_connect = worker_now();
    w->connect_delay_ms = 250;
}

/* After a failed statement: log it, and drop the connection when it broke. */
static void worker_db_error(struct worker *w, const char *what, const char *err)
{
    log_warn("%s failed: %s", what, err);
    if (w->conn && PQstatus(w->conn) != CONNECTION_OK) {
        log_warn("lost the database connection; reconnecting");
        worker_disconnect(w);
    }
}

static void worker_connect(struct worker *w)
{
    char err[1024];
    PGconn *c = db_connect(w->url, "tradebench-worker", err, sizeof err);
    if (c && queue_listen(c, err, sizeof err) < 0) {
        PQfinish(c);
        c = NULL;
    }
    if (!c) {
        w->connect_attempts++;
        log_warn("database unreachable (attempt %d, retrying in %d ms): %s", w->connect_attempts,
                 w->connect_delay_ms, err);
        w->next_connect = worker_now() + w->connect_delay_ms / 1000.0;
        w->connect_delay_ms = w->connect_delay_ms * 2 > 5000 ? 5000 : w->connect_delay_ms * 2;
        return;
    }
    if (PQsetnonblocking(c, 0) != 0)
        log_warn("could not make the connection blocking");
    if (w->connect_attempts > 0)
        log_info("database reachable after %d attempts", w->connect_attempts + 1);
    w->connect_attempts = 0;
    w->connect_delay_ms = 250;
    w->conn = c;
    w->want_claim = 1;
    w->want_check = 1;
    w->next_reap = 0;
    log_info("connected; listening on " QUEUE_CHANNEL_RUNS " and " QUEUE_CHANNEL_CANCEL
             ", idling until a run is queued");
}

/* Collect NOTIFYs libpq has already read. */
static void worker_take_notifies(struct worker *w)
{
    PGnotify *n;
    if (!w->conn)
        return;
    while ((n = PQnotifies(w->conn)) != NULL) {
        if (strcmp(n->relname, QUEUE_CHANNEL_RUNS) == 0)
            w->want_claim = 1;
        else if (strcmp(n->relname, QUEUE_CHANNEL_CANCEL) == 0)
            w->want_check = 1;
        PQfreemem(n);
    }
}

/* ---- signals ---------------------------------------------------------------------- */

/* The self-pipe: written by worker_on_signal (any thread), read by the loop.
 * Set once in worker_signals_install() before the handlers exist. */
static int worker_sig_pipe[2] = { -1, -1 };

static void worker_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGCHLD);
}

/* Async-signal-safe: one write(), errno preserved. A full pipe drops the
 * byte, which is fine: the loop only needs to wake up. */
static void worker_signal_handler(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(worker_sig_pipe[1], &b, 1);
    (void)n;
    errno = saved;
}

/* Create the self-pipe, install the handlers and unblock the signals in
 * this thread. 0, or -1 (logged). */
static int worker_signals_install(void)
{
    struct sigaction sa;
    sigset_t set;
    if (pipe(worker_sig_pipe) != 0) {
        log_error("pipe: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(worker_sig_pipe[i], F_SETFL, fcntl(worker_sig_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(worker_sig_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = worker_signal_handler;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGCHLD, &sa, NULL) != 0) {
        log_error("sigaction: %s", strerror(errno));
        return -1;
    }
    worker_signal_set(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

static void worker_signals_remove(void)
{
    sigset_t set;
    worker_signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    for (int i = 0; i < 2; i++) {
        if (worker_sig_pipe[i] >= 0)
            close(worker_sig_pipe[i]);
        worker_sig_pipe[i] = -1;
    }
}

/* ---- run slots ------------------------------------------------------------------ */

static void worker_run_close_child(struct worker_run *r)
{
    if (r->msg_fd >= 0)
        close(r->msg_fd);
    r->msg_fd = -1;
    if (r->bundle)
        fclose(r->bundle);
    r->bundle = NULL;
    json_decref(r->stages);
    r->stages = NULL;
    pexec_outcome_free(&r->prof);
    r->pid = 0;
}

/* Forget a run (whatever its state in the database) and free its slot. */
static void worker_run_finish(struct worker *w, struct worker_run *r)
{
    worker_run_close_child(r);
    pexec_workdir_remove(r->prof_dir);
    free(r->prof_dir);
    free(r->meta_model);
    jobspec_free(&r->spec);
    queue_claim_free(&r->claim);
    memset(r, 0, sizeof *r);
    r->msg_fd = -1;
    w->n_active--;
    w->want_claim = 1;
}

/* A chunk of a split sweep ended without results (failed, cancelled):
 * end its sweep too, and stop the sweep's other chunks. Also done for
 * every sweep by the periodic stale check, so a failure here only delays. */
static void worker_settle_sweep(struct worker *w, const struct worker_run *r)
{
    char err[512];
    if (r->claim.parent_id <= 0 || !w->conn)
        return;
    if (queue_settle_sweeps(w->conn, r->claim.parent_id, NULL, err, sizeof err) < 0)
        worker_db_error(w, "settling the chunk's sweep", err);
}

static void worker_run_fail(struct worker *w, struct worker_run *r, const char *msg)
{
    char err[512];
    log_warn("run %" PRId64 " failed: %s", r->claim.id, msg);
    if (!w->conn) {
        log_warn("run %" PRId64 ": database unreachable; the stale-run check will requeue it",
                 r->claim.id);
    } else if (queue_fail(w->conn, r->claim.id, w->id, r->claim.attempt, msg, err, sizeof err) < 0) {
        worker_db_error(w, "marking the run failed", err);
    } else {
        worker_settle_sweep(w, r);
    }
    worker_run_finish(w, r);
}

/* Fork the child of the current iteration. 0, or -1 with the run failed. */
static int worker_fork(struct worker *w, struct worker_run *r)
{
    int fds[2];
    char msg[256];
    int close_fds[2 * 64 + 4];
    size_t n_close = 0;

    FILE *bundle = tmpfile();
    if (!bundle) {
        snprintf(msg, sizeof msg, "cannot create the result file: %s", strerror(errno));
        worker_run_fail(w, r, msg);
        return -1;
    }
    if (pipe(fds) != 0) {
        snprintf(msg, sizeof msg, "cannot create the progress pipe: %s", strerror(errno));
        fclose(bundle);
        worker_run_fail(w, r, msg);
        return -1;
    }
    /* What the child must not hold: the signal self-pipe, the database
     * socket, other children's pipes and result files, its own read end. */
    close_fds[n_close++] = worker_sig_pipe[0];
    close_fds[n_close++] = worker_sig_pipe[1];
    if (w->conn && PQsocket(w->conn) >= 0)
        close_fds[n_close++] = PQsocket(w->conn);
    close_fds[n_close++] = fds[0];
    for (int i = 0; i < w->opt->concurrency && n_close + 2 <= sizeof close_fds / sizeof close_fds[0]; i++) {
        const struct worker_run *o = &w->runs[i];
        if (!o->used || o == r)
            continue;
        if (o->msg_fd >= 0)
            close_fds[n_close++] = o->msg_fd;
        if (o->bundle)
            close_fds[n_close++] = fileno(o->bundle);
    }
    struct runexec_task task = {
        .run_id = r->claim.id,
        .job_name = jobspec_job_name(r->spec.job),
        .spec = &r->spec,
        .iteration = r->iter,
        .msg_fd = fds[1],
        .bundle = bundle,
        .fault = r->fault,
        .parent = getpid(),
        .close_fds = close_fds,
        .n_close_fds = n_close,
        .meta_model = r->meta_model,
        .meta_model_len = r->meta_model_len,
        .ml_nthread = w->opt->ml_threads,
        .xgb_nthread = w->opt->xgb_threads,
        .profiler = r->profiler,
        .profile_dir = r->prof_dir,
    };
    fflush(stdout);
    fflush(stderr);
    /* The child starts with the signals blocked and unblocks them only
     * after resetting their handlers: it never writes to our self-pipe. */
    sigset_t block, old;
    worker_signal_set(&block);
    sigprocmask(SIG_BLOCK, &block, &old);
    double t0 = worker_now(), t0_wall = worker_wall();
    pid_t pid = fork();
    if (pid == 0)
        runexec_child_main(r->entry, &task); /* never returns */
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    if (pid < 0) {
        snprintf(msg, sizeof msg, "fork failed: %s", strerror(errno));
        close(fds[0]);
        fclose(bundle);
        worker_run_fail(w, r, msg);
        return -1;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    r->pid = pid;
    r->msg_fd = fds[0];
    r->bundle = bundle;
    r->line_len = 0;
    r->t0 = t0;
    r->t0_wall = t0_wall;
    r->stages = json_array();
    r->error[0] = '\0';
    r->stop = WORKER_STOP_NONE;
    r->killed = 0;
    r->exited = 0;
    log_debug("run %" PRId64 ": iteration %d/%d in child %ld", r->claim.id, r->iter,
              r->claim.iterations, (long)pid);
    return 0;
}

/* Set up a freshly claimed run and start its first iteration. */
static void worker_start(struct worker *w, struct worker_run *r)
{
    char msg[700];
    json_error_t je;
    tb_error terr;
    tb_error_clear(&terr);
    r->msg_fd = -1;
    r->iter = 1;
    log_info("run %" PRId64 " claimed: kind %s, job %s, %d iteration(s), attempt %d of %d",
             r->claim.id, r->claim.kind, r->claim.job[0] ? r->claim.job : "-",
             r->claim.iterations, r->claim.attempt, r->claim.max_attempts);
    json_t *params = json_loads(r->claim.params, 0, &je);
    if (!params) {
        snprintf(msg, sizeof msg, "stored params are not JSON: %s", je.text);
        worker_run_fail(w, r, msg);
        return;
    }
    pexec_profiler profiler = PEXEC_STAGES;
    int rc = pexec_profiler_of(params, &profiler, msg, sizeof msg) < 0
                 ? tb_fail(&terr, TB_EINVAL, "%s", msg)
                 : jobspec_from_stored(r->claim.kind, params, &r->spec, &terr);
    json_decref(params);
    if (rc != 0) {
        snprintf(msg, sizeof msg, "invalid params: %s", terr.msg);
        worker_run_fail(w, r, msg);
        return;
    }
    /* perf / callgrind: each iteration's child runs it under the tool and
     * leaves the figures and top functions in a work directory. */
    r->profiler = (int)profiler;
    if (profiler != PEXEC_STAGES && !(r->prof_dir = pexec_workdir_new(msg, sizeof msg))) {
        worker_run_fail(w, r, msg);
        return;
    }
    /* A chunk of a split sweep: only its members run; its sweep is running now. */
    if (r->claim.parent_id > 0) {
        char err[512];
        if (r->spec.job != JS_JOB_SWEEP || r->claim.member_hi <= r->claim.member_lo) {
            worker_run_fail(w, r, "a sweep chunk needs a grid and a member range");
            return;
        }
        r->spec.member_lo = (size_t)r->claim.member_lo;
        r->spec.member_hi = (size_t)r->claim.member_hi;
        log_info("run %" PRId64 ": chunk %d of sweep %" PRId64 ", valid members %d..%d", r->claim.id,
                 r->claim.chunk_seq, r->claim.parent_id, r->claim.member_lo, r->claim.member_hi - 1);
        if (queue_sweep_started(w->conn, r->claim.parent_id, err, sizeof err) < 0)
            worker_db_error(w, "marking the sweep running", err); /* its first stored chunk does it too */
    }
    /* A meta-filtered backtest: the model's bytes come from PostgreSQL here,
     * in the parent; the child parses them (XGBoost runs only there). */
    if (r->spec.bt.meta.model_id > 0) {
        char err[512];
        int64_t first = INT64_MIN, last = INT64_MIN;
        int found = queue_model_fetch(w->conn, r->spec.bt.meta.model_id, &r->meta_model,
                                      &r->meta_model_len, &first, &last, err, sizeof err);
        if (found <= 0) {
            if (found == 0)
                snprintf(msg, sizeof msg, "meta_filter.model_id: model %" PRId64
                         " does not exist (deleted after the backtest was queued?)",
                         r->spec.bt.meta.model_id);
            else
                snprintf(msg, sizeof msg, "%s", err);
            worker_run_fail(w, r, msg);
            return;
        }
        r->spec.bt.meta.train_first_ts = first;
        r->spec.bt.meta.train_last_ts = last;
    }
    r->entry = runexec_find(r->spec.job);
    if (!r->entry->run) {
        worker_run_fail(w, r, r->entry->unavailable);
        return;
    }
    if (r->claim.iterations < 1)
        r->claim.iterations = 1;
    if (w->opt->fault) {
        if (worker_fault_has(w->opt->fault, "crash", r->claim.id))
            r->fault = RUNEXEC_FAULT_CRASH;
        else if (worker_fault_has(w->opt->fault, "hang", r->claim.id))
            r->fault = RUNEXEC_FAULT_HANG;
        r->persist_fault = worker_fault_has(w->opt->fault, "persist", r->claim.id);
    }
    worker_fork(w, r);
}

static void worker_claim(struct worker *w)
{
    char err[1024];
    while (w->conn && !w->draining && w->n_active < w->opt->concurrency) {
        struct worker_run *r = NULL;
        for (int i = 0; i < w->opt->concurrency && !r; i++)
            if (!w->runs[i].used)
                r = &w->runs[i];
        if (!r)
            return; /* n_active says otherwise; never happens */
        int rc = queue_claim(w->conn, w->id, &r->claim, err, sizeof err);
        if (rc < 0) {
            worker_db_error(w, "claiming a run", err);
            return;
        }
        if (rc == 0)
            return;
        r->used = 1;
        w->n_active++;
        worker_start(w, r);
    }
}

/* ---- children ------------------------------------------------------------------- */

static void worker_stop_child(struct worker_run *r, enum worker_stop why, double now)
{
    if (r->stop != WORKER_STOP_NONE || r->pid <= 0 || r->exited)
        return;
    r->stop = why;
    r->kill_at = now + WORKER_KILL_GRACE_S;
    kill(r->pid, SIGTERM);
}

static void worker_on_line(struct worker_run *r, char *line)
{
    struct runexec_msg m;
    runexec_msg_parse(line, &m);
    switch (m.kind) {
    case RUNEXEC_MSG_PROGRESS: {
        double f = m.value > 1 ? 1 : m.value;
        double p = ((double)(r->iter - 1) + f) / (double)r->claim.iterations;
        if (p > WORKER_PROGRESS_CAP)
            p = WORKER_PROGRESS_CAP;
        if (p > r->progress) {
            r->progress = p;
            r->dirty = 1;
        }
        if (strcmp(r->stage, m.text) != 0) {
            snprintf(r->stage, sizeof r->stage, "%s", m.text);
            r->dirty = 1;
        }
        break;
    }
    case RUNEXEC_MSG_STAGE:
        json_array_append_new(r->stages, json_pack("{s:s, s:f}", "name", m.text, "wall_seconds",
                                                   m.value));
        break;
    case RUNEXEC_MSG_ERROR:
        snprintf(r->error, sizeof r->error, "%s", m.text);
        break;
    default:
        log_debug("run %" PRId64 ": unexpected line from the child: %s", r->claim.id, line);
    }
}

/* Read what the child wrote; at EOF close the pipe. */
static void worker_read_pipe(struct worker_run *r)
{
    char chunk[4096];
    while (r->msg_fd >= 0) {
        ssize_t n = read(r->msg_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN: later */
        if (n == 0) {
            close(r->msg_fd);
            r->msg_fd = -1;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
                r->line[r->line_len] = '\0';
                worker_on_line(r, r->line);
                r->line_len = 0;
            } else if (r->line_len + 1 < sizeof r->line) {
                r->line[r->line_len++] = chunk[i];
            }
        }
    }
}

/* The whole result file (caller frees), or NULL with err. */
static char *worker_read_bundle(FILE *f, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    int fd = fileno(f);
    if (fstat(fd, &st) != 0 || st.st_size < 0) {
        snprintf(err, errlen, "cannot stat the result file: %s", strerror(errno));
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = mem_alloc(n + 1);
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            snprintf(err, errlen, "cannot read the result file: %s",
                     k < 0 ? strerror(errno) : "short read");
            free(buf);
            return NULL;
        }
        got += (size_t)k;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static double worker_tv(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static void worker_iteration_of(const struct worker_run *r, struct queue_iteration *it)
{
    memset(it, 0, sizeof *it);
    it->iteration = r->iter;
    it->wall_s = r->t1 - r->t0;
    it->cpu_s = worker_tv(r->ru.ru_utime) + worker_tv(r->ru.ru_stime);
    it->peak_rss_bytes = (long long)r->ru.ru_maxrss * 1024LL; /* Linux: KiB */
    it->started = r->t0_wall;
    it->finished = r->t1_wall;
    if (r->prof.functions_json) { /* under a tool: its process tree, as profile-job measures */
        it->wall_s = r->prof.wall_s;
        it->cpu_s = r->prof.cpu_s;
        it->peak_rss_bytes = r->prof.peak_rss_bytes;
        it->started = r->prof.started;
        it->finished = r->prof.finished;
        it->hotspots_json = r->prof.functions_json;
    }
}

/* The last iteration succeeded: persist its results. */
static void worker_persist(struct worker *w, struct worker_run *r)
{
    char err[1024];
    size_t len = 0;
    struct runexec_bundle b;
    char *buf = worker_read_bundle(r->bundle, &len, err, sizeof err);
    if (!buf || runexec_bundle_parse(buf, len, &b, err, sizeof err) < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "reading the results failed: %s", err);
        free(buf);
        worker_run_fail(w, r, msg);
        return;
    }
    struct persist_input in = {
        .run_id = r->claim.id,
        .worker_id = w->id,
        .attempt = r->claim.attempt,
        .bundle = &b,
        .stages = r->stages,
        .inject_fault = r->persist_fault,
    };
    worker_iteration_of(r, &in.iteration);
    double persist_s = 0;
    int chunks_left = -1;
    enum persist_outcome out;
    if (r->claim.parent_id > 0) {
        in.parent_id = r->claim.parent_id;
        in.spec = &r->spec;
        out = persist_chunk(w->conn, &in, &persist_s, &chunks_left, err, sizeof err);
    } else {
        out = persist_run(w->conn, &in, &persist_s, err, sizeof err);
    }
    free(buf);
    switch (out) {
    case PERSIST_DONE:
        if (r->claim.parent_id > 0)
            log_info("run %" PRId64 " succeeded: chunk %d of sweep %" PRId64 ", %d member(s); child %.1f "
                     "ms wall, %.1f MiB peak; persist %.1f ms; %d chunk(s) of the sweep left%s",
                     r->claim.id, r->claim.chunk_seq, r->claim.parent_id,
                     r->claim.member_hi - r->claim.member_lo, in.iteration.wall_s * 1e3,
                     (double)in.iteration.peak_rss_bytes / 1048576.0, persist_s * 1e3, chunks_left,
                     chunks_left == 0 ? " (the sweep is finalised)" : "");
        else if (b.ml)
            log_info("run %" PRId64 " succeeded: %d iteration(s); last child %.1f ms wall, %.1f ms "
                     "CPU, %.1f MiB peak; model %" PRId64 " on %lld dataset rows; persist %.1f ms",
                     r->claim.id, r->claim.iterations, in.iteration.wall_s * 1e3,
                     in.iteration.cpu_s * 1e3, (double)in.iteration.peak_rss_bytes / 1048576.0,
                     r->claim.id, b.n_rows, persist_s * 1e3);
        else
            log_info("run %" PRId64 " succeeded: %d iteration(s); last child %.1f ms wall, %.1f ms "
                     "CPU, %.1f MiB peak; %lld orders, %lld equity points; persist %.1f ms",
                     r->claim.id, r->claim.iterations, in.iteration.wall_s * 1e3,
                     in.iteration.cpu_s * 1e3, (double)in.iteration.peak_rss_bytes / 1048576.0,
                     b.n_orders, b.n_equity, persist_s * 1e3);
        worker_run_finish(w, r);
        return;
    case PERSIST_NOT_OURS:
        log_warn("run %" PRId64 ": no longer ours at persist time; results dropped", r->claim.id);
        worker_run_finish(w, r);
        return;
    case PERSIST_CANCEL_PENDING:
        if (queue_cancelled(w->conn, r->claim.id, w->id, r->claim.attempt, err, sizeof err) < 0) {
            worker_db_error(w, "marking the run cancelled", err);
        } else {
            log_info("run %" PRId64 " cancelled (requested before its results were stored)",
                     r->claim.id);
            worker_settle_sweep(w, r);
        }
        worker_run_finish(w, r);
        return;
    case PERSIST_ERROR:
        break;
    }
    if (PQstatus(w->conn) != CONNECTION_OK) {
        log_warn("run %" PRId64 ": the database went away while storing results (%s); the "
                 "stale-run check will requeue it",
                 r->claim.id, err);
        worker_disconnect(w);
        worker_run_finish(w, r);
        return;
    }
    char msg[1100];
    snprintf(msg, sizeof msg, "storing the results failed: %s", err);
    worker_run_fail(w, r, msg);
}

/* A child was collected: decide what happens to its run. */
static void worker_child_done(struct worker *w, struct worker_run *r)
{
    char err[1024], msg[800];
    int st = r->status;
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == RUNEXEC_EXIT_OK;
    int64_t id = r->claim.id;

    if (r->stop == WORKER_STOP_LOST) {
        log_warn("run %" PRId64 " is no longer ours (requeued or finished elsewhere); dropped", id);
        worker_run_finish(w, r);
        return;
    }
    if (!w->conn) {
        log_warn("run %" PRId64 ": child finished while the database is unreachable; the "
                 "stale-run check will requeue it",
                 id);
        worker_run_finish(w, r);
        return;
    }
    if (r->stop == WORKER_STOP_CANCEL) {
        int rc = queue_cancelled(w->conn, id, w->id, r->claim.attempt, err, sizeof err);
        if (rc < 0) {
            worker_db_error(w, "marking the run cancelled", err);
        } else {
            log_info("run %" PRId64 " cancelled; child stopped %.0f ms after the signal", id,
                     (r->t1 - (r->kill_at - WORKER_KILL_GRACE_S)) * 1e3);
            worker_settle_sweep(w, r);
        }
        worker_run_finish(w, r);
        return;
    }
    int last = r->iter >= r->claim.iterations;
    if (r->stop == WORKER_STOP_SHUTDOWN && !(ok && last)) {
        int rc = queue_release(w->conn, id, w->id, r->claim.attempt, err, sizeof err);
        if (rc < 0)
            worker_db_error(w, "releasing the run", err);
        else
            log_info("run %" PRId64 " released on shutdown (back to the queue)", id);
        worker_run_finish(w, r);
        return;
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        snprintf(msg, sizeof msg, "the run's process was killed by signal %d (%s) in iteration %d of %d",
                 sig, strsignal(sig), r->iter, r->claim.iterations);
        worker_run_fail(w, r, msg);
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == RUNEXEC_EXIT_FAILED) {
        worker_run_fail(w, r, r->error[0] ? r->error : "the run failed (no message)");
        return;
    }
    if (!ok) {
        snprintf(msg, sizeof msg, "the run's process exited with status %d in iteration %d of %d",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1, r->iter, r->claim.iterations);
        worker_run_fail(w, r, msg);
        return;
    }
    if (r->profiler != PEXEC_STAGES &&
        pexec_outcome_read(r->prof_dir, r->iter, &r->prof, msg, sizeof msg) < 0) {
        worker_run_fail(w, r, msg);
        return;
    }
    if (last) {
        worker_persist(w, r);
        return;
    }

    /* An earlier iteration: record its profile, start the next one. */
    struct queue_iteration it;
    char *stages = json_dumps(r->stages, JSON_COMPACT | JSON_REAL_PRECISION(17));
    worker_iteration_of(r, &it);
    it.stages_json = stages;
    int rc = queue_record_iteration(w->conn, id, w->id, r->claim.attempt, &it, err, sizeof err);
    free(stages);
    if (rc == 0) {
        log_warn("run %" PRId64 " is no longer ours; dropped", id);
        worker_run_finish(w, r);
        return;
    }
    if (rc < 0) {
        worker_db_error(w, "recording an iteration", err);
        if (!w->conn) {
            worker_run_finish(w, r);
            return;
        }
    }
    worker_run_close_child(r);
    r->iter++;
    worker_fork(w, r);
}

/* Collect every child that exited. */
static void worker_reap_children(struct worker *w)
{
    for (int i = 0; i < w->opt->concurrency; i++) {
        struct worker_run *r = &w->runs[i];
        if (!r->used || r->pid <= 0 || r->exited)
            continue;
        int status;
        struct rusage ru;
        pid_t got = wait4(r->pid, &status, WNOHANG, &ru);
        if (got != r->pid)
            continue;
        r->exited = 1;
        r->status = status;
        r->ru = ru;
        r->t1 = worker_now();
        r->t1_wall = worker_wall();
        /* The pipe's write end died with the child: drain it to EOF. */
        if (r->msg_fd >= 0) {
            fcntl(r->msg_fd, F_SETFL, fcntl(r->msg_fd, F_GETFL) & ~O_NONBLOCK);
            worker_read_pipe(r);
        }
        worker_child_done(w, r);
    }
}

/* ---- periodic work ------------------------------------------------------------ */

static void worker_tick(struct worker *w, double now)
{
    struct queue_beat beats[64];
    struct worker_run *owners[64];
    size_t n = 0;
    int write = now >= w->next_beat;
    char err[1024];
    for (int i = 0; i < w->opt->concurrency && n < 64; i++) {
        struct worker_run *r = &w->runs[i];
        if (!r->used || r->pid <= 0 || r->exited || r->stop != WORKER_STOP_NONE)
            continue;
        beats[n] = (struct queue_beat){ .id = r->claim.id, .attempt = r->claim.attempt,
                                        .progress = r->progress,
                                        .stage = r->stage[0] ? r->stage : NULL };
        write |= r->dirty;
        owners[n++] = r;
    }
    w->next_tick = now + WORKER_TICK_S;
    w->want_check = 0;
    if (n == 0)
        return;
    if (queue_tick(w->conn, w->id, beats, n, write, err, sizeof err) < 0) {
        worker_db_error(w, "heartbeat", err);
        return;
    }
    if (write)
        w->next_beat = now + WORKER_BEAT_S;
    for (size_t k = 0; k < n; k++) {
        struct worker_run *r = owners[k];
        if (write)
            r->dirty = 0;
        if (!beats[k].owned) {
            log_warn("run %" PRId64 " is no longer ours; stopping its child", r->claim.id);
            worker_stop_child(r, WORKER_STOP_LOST, now);
        } else if (beats[k].cancel_requested) {
            log_info("run %" PRId64 ": cancel requested; stopping its child", r->claim.id);
            worker_stop_child(r, WORKER_STOP_CANCEL, now);
        }
    }
}

static void worker_reap_stale(struct worker *w, double now)
{
    struct queue_reaped out;
    char err[1024];
    w->next_reap = now + WORKER_REAP_S;
    if (queue_reap_stale(w->conn, w->opt->stale_seconds, &out, err, sizeof err) < 0) {
        worker_db_error(w, "checking for stale runs", err);
        return;
    }
    if (out.requeued)
        w->want_claim = 1;
    /* sweeps with a chunk the reaper (or anyone) failed or cancelled */
    if (queue_settle_sweeps(w->conn, 0, NULL, err, sizeof err) < 0)
        worker_db_error(w, "settling split sweeps", err);
}

static void worker_escalate(struct worker *w, double now)
{
    for (int i = 0; i < w->opt->concurrency; i++) {
        struct worker_run *r = &w->runs[i];
        if (r->used && r->pid > 0 && !r->exited && r->stop != WORKER_STOP_NONE && !r->killed &&
            now >= r->kill_at) {
            log_warn("run %" PRId64 ": child %ld ignored SIGTERM; SIGKILL", r->claim.id,
                     (long)r->pid);
            kill(r->pid, SIGKILL);
            r->killed = 1;
        }
    }
}

static void worker_release_all(struct worker *w, double now)
{
    w->released = 1;
    for (int i = 0; i < w->opt->concurrency; i++) {
        struct worker_run *r = &w->runs[i];
        if (r->used && r->pid > 0 && !r->exited) {
            log_info("run %" PRId64 ": grace period over; stopping it to requeue", r->claim.id);
            worker_stop_child(r, WORKER_STOP_SHUTDOWN, now);
        }
    }
}

static void worker_on_signal(struct worker *w, int sig, double now)
{
    if (sig == SIGCHLD)
        return; /* children are collected every turn of the loop */
    if (!w->draining) {
        w->draining = 1;
        w->grace_deadline = now + w->opt->grace_seconds;
        log_info("signal %d: stopping; claiming nothing more, %d run(s) running, up to %d s to "
                 "finish",
                 sig, w->n_active, w->opt->grace_seconds);
    } else if (!w->released) {
        log_info("signal %d again: releasing running runs now", sig);
        w->grace_deadline = now;
    }
}

/* Milliseconds until the earliest deadline (0..1000); 0 when a NOTIFY that
 * libpq buffered during a statement still asks for work. */
static int worker_timeout_ms(const struct worker *w, double now)
{
    double next = now + 1.0;
    if (w->conn && ((w->want_claim && !w->draining && w->n_active < w->opt->concurrency) ||
                    (w->want_check && w->n_active > 0)))
        return 0;
#define WORKER_SOONER(t) do { if ((t) < next) next = (t); } while (0)
    if (!w->conn)
        WORKER_SOONER(w->next_connect);
    if (w->conn) {
        if (w->n_active)
            WORKER_SOONER(w->next_tick);
        if (!w->draining)
            WORKER_SOONER(w->next_poll);
        WORKER_SOONER(w->next_reap);
    }
    if (w->draining && !w->released)
        WORKER_SOONER(w->grace_deadline);
    for (int i = 0; i < w->opt->concurrency; i++) {
        const struct worker_run *r = &w->runs[i];
        if (r->used && r->stop != WORKER_STOP_NONE && !r->killed && !r->exited)
            WORKER_SOONER(r->kill_at);
    }
#undef WORKER_SOONER
    double ms = ceil((next - now) * 1000.0);
    return ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms;
}

int worker_run(const char *database_url, const char *worker_id, const struct worker_options *opt)
{
    struct worker w;
    memset(&w, 0, sizeof w);
    w.url = database_url;
    w.id = worker_id;
    w.opt = opt;
    w.connect_delay_ms = 250;
    if (worker_signals_install() < 0) {
        worker_signals_remove();
        return 1;
    }
    w.sig_fd = worker_sig_pipe[0];
    if (opt->chunk_delay_ms > 0)
        log_warn("TEST CHUNK DELAY ON: every sweep chunk sleeps %d ms first (TB_TEST_CHUNK_DELAY_MS, tests only)",
                 opt->chunk_delay_ms);
    w.runs = mem_zalloc(sizeof *w.runs * (size_t)opt->concurrency);
    for (int i = 0; i < opt->concurrency; i++)
        w.runs[i].msg_fd = -1;

    struct pollfd *pfd = mem_alloc(sizeof *pfd * (size_t)(opt->concurrency + 2));
    struct worker_run **pfd_run = mem_alloc(sizeof *pfd_run * (size_t)(opt->concurrency + 2));
    for (;;) {
        double now = worker_now();
        if (!w.conn && now >= w.next_connect)
            worker_connect(&w);
        worker_take_notifies(&w);
        if (w.conn && now >= w.next_reap)
            worker_reap_stale(&w, now);
        if (w.conn && !w.draining && (w.want_claim || now >= w.next_poll)) {
            w.want_claim = 0;
            w.next_poll = now + WORKER_POLL_S;
            worker_claim(&w);
        }
        if (w.conn && w.n_active && (w.want_check || now >= w.next_tick))
            worker_tick(&w, now);
        if (w.draining && !w.released && now >= w.grace_deadline)
            worker_release_all(&w, now);
        worker_escalate(&w, now);
        if (w.draining && w.n_active == 0)
            break;
        worker_take_notifies(&w); /* read by libpq during the statements above */

        nfds_t n = 0;
        pfd[n] = (struct pollfd){ .fd = w.sig_fd, .events = POLLIN };
        pfd_run[n++] = NULL;
        int conn_slot = -1;
        if (w.conn && PQsocket(w.conn) >= 0) {
            conn_slot = (int)n;
            pfd[n] = (struct pollfd){ .fd = PQsocket(w.conn), .events = POLLIN };
            pfd_run[n++] = NULL;
        }
        for (int i = 0; i < opt->concurrency; i++) {
            if (w.runs[i].used && w.runs[i].msg_fd >= 0) {
                pfd[n] = (struct pollfd){ .fd = w.runs[i].msg_fd, .events = POLLIN };
                pfd_run[n++] = &w.runs[i];
            }
        }
        int ready = poll(pfd, n, worker_timeout_ms(&w, now));
        if (ready < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            break;
        }
        now = worker_now();
        if (ready > 0 && (pfd[0].revents & POLLIN)) {
            unsigned char sigs[64];
            ssize_t got;
            while ((got = read(w.sig_fd, sigs, sizeof sigs)) > 0)
                for (ssize_t k = 0; k < got; k++)
                    worker_on_signal(&w, sigs[k], now);
        }
        if (ready > 0 && conn_slot >= 0 && pfd[conn_slot].revents) {
            if (PQconsumeInput(w.conn) == 0) {
                char err[512];
                db_error_copy(err, sizeof err, NULL, PQerrorMessage(w.conn));
                worker_db_error(&w, "reading from the database", err);
                if (w.conn && PQstatus(w.conn) != CONNECTION_OK)
                    worker_disconnect(&w);
            }
            worker_take_notifies(&w);
        }
        for (nfds_t k = 0; ready > 0 && k < n; k++)
            if (pfd_run[k] && pfd[k].revents)
                worker_read_pipe(pfd_run[k]);
        worker_reap_children(&w);
    }

    log_info("stopped");
    free(pfd);
    free(pfd_run);
    for (int i = 0; i < opt->concurrency; i++) {
        if (w.runs[i].used) { /* only when poll() itself failed */
            if (w.runs[i].pid > 0 && !w.runs[i].exited) {
                kill(w.runs[i].pid, SIGKILL);
                waitpid(w.runs[i].pid, NULL, 0);
            }
            worker_run_finish(&w, &w.runs[i]);
        }
    }
    free(w.runs);
    if (w.conn)
        PQfinish(w.conn);
    worker_signals_remove();
    return 0;
}
