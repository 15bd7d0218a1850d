/* profile_exec.c — a profiled iteration in a child process (see profile_exec.h).
 *
 * Parent: result file (tmpfile, or the worker's) and pipe before fork();
 * for a tool, the task file in the work directory; read the child's lines
 * to EOF (stage times, error; copied to forward_fd when set); wait4() for
 * status, CPU and peak RSS; check the result bundle is complete; for perf /
 * callgrind run the tool's report and keep its top functions. Child
 * (stages): runexec_child_main, the worker's own child body. Child (perf /
 * callgrind): die with the parent, keep the two descriptors across exec,
 * and exec the tool over `<self> <child args> --task F --msg-fd N
 * --bundle-fd M`, which pexec_child_command turns back into a runexec_task.
 * The worker's side (pexec_supervise, the outcome file, the work directory)
 * is at the end. */
#include "profile_exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"

static const char *const pexec_names[] = { "stages", "perf", "callgrind" };

/* AddressSanitizer's shadow memory and valgrind cannot share a process: an
 * ASan build (-DTB_SANITIZE=ON) cannot run under callgrind (perf is fine). */
#if defined(__SANITIZE_ADDRESS__)
#define PEXEC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PEXEC_ASAN 1
#endif
#endif

const char *pexec_profiler_name(pexec_profiler p) { return pexec_names[p]; }

int pexec_profiler_parse(const char *s, pexec_profiler *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, pexec_names[i])) {
            *out = (pexec_profiler)i;
            return 0;
        }
    return -1;
}

static double pexec_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double pexec_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double pexec_tv(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6; }

/* ---- running tools ---------------------------------------------------------------- */

/* Run argv (PATH search) with stdout to out_path and stderr to err_path (either
 * may be NULL: /dev/null). The exit status (0..255), 128+signal, or -1 when it
 * could not be started (127 from the child: not found). */
static int pexec_run_tool(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o >= 0)
            dup2(o, 1);
        if (e >= 0)
            dup2(e, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first non-empty line of a file (for messages), or "". */
static void pexec_first_line(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = '\0';
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) {
            snprintf(out, n, "%.*s", (int)(n - 1), line);
            break;
        }
    }
    if (f)
        fclose(f);
}

static int pexec_on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (!path || !*path)
        path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
        if (len && access(buf, X_OK) == 0)
            return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

int pexec_tool_check(pexec_profiler p, char *why, size_t n)
{
    char log[] = "/tmp/tb-profile-check-XXXXXX", first[400];
    if (p == PEXEC_STAGES)
        return 0;
    const char *tool = p == PEXEC_PERF ? "perf" : "valgrind";
    const char *pkg = p == PEXEC_PERF ? "linux-perf" : "valgrind";
    if (!pexec_on_path(tool)) {
        snprintf(why, n, "%s not found in PATH (Debian package %s; deploy/setup.sh installs it)", tool, pkg);
        return -1;
    }
    if (p == PEXEC_CALLGRIND && !pexec_on_path("callgrind_annotate")) {
        snprintf(why, n, "callgrind_annotate not found in PATH (Debian package valgrind)");
        return -1;
    }
#ifdef PEXEC_ASAN
    if (p == PEXEC_CALLGRIND) {
        snprintf(why, n, "this build uses AddressSanitizer (TB_SANITIZE=ON), which cannot run under valgrind; "
                         "use perf, or a build without TB_SANITIZE");
        return -1;
    }
#endif
    int fd = mkstemp(log);
    if (fd >= 0)
        close(fd);
    char *const perf_argv[] = { "perf", "stat", "-e", "task-clock", "true", NULL };
    char *const vg_argv[] = { "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "-q", "true", NULL };
    int rc = pexec_run_tool(p == PEXEC_PERF ? perf_argv : vg_argv, NULL, fd >= 0 ? log : NULL);
    pexec_first_line(log, first, sizeof first);
    if (fd >= 0)
        unlink(log);
    if (rc != 0) {
        snprintf(why, n, "`%s` exited with status %d%s%s", p == PEXEC_PERF ? "perf stat -e task-clock true"
                                                                           : "valgrind --tool=callgrind true",
                 rc, first[0] ? ": " : "", first);
        return -1;
    }
    return 0;
}

/* ---- the tools' reports ------------------------------------------------------------- */

static void pexec_add_function(json_t *arr, const char *function, const char *module, double share)
{
    if (json_array_size(arr) >= 10 || !function[0])
        return;
    json_array_append_new(arr, json_pack("{s:s, s:s, s:f}", "function", function, "module", module, "share", share));
}

/* `perf report --stdio --no-children -F overhead,dso,sym`: "  12.34%  dso  [.] symbol". */
static json_t *pexec_parse_perf(FILE *f)
{
    json_t *arr = json_array();
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '#' || !*p)
            continue;
        char *end;
        double pct = strtod(p, &end);
        if (end == p || *end != '%')
            continue;
        p = end + 1 + strspn(end + 1, " \t");
        char dso[256];
        size_t dl = strcspn(p, " \t");
        snprintf(dso, sizeof dso, "%.*s", (int)dl, p);
        p += dl;
        p += strspn(p, " \t");
        if (p[0] == '[' && p[2] == ']' && p[3] == ' ')
            p += 4;
        size_t sl = strlen(p);
        while (sl && (p[sl - 1] == ' ' || p[sl - 1] == '\t'))
            p[--sl] = '\0';
        pexec_add_function(arr, p, dso, pct / 100.0);
    }
    return arr;
}

/* callgrind_annotate: after the "file:function" header,
 * "51,176,010 (17.18%)  dir/file.c:function [/path/module.so]". */
static json_t *pexec_parse_callgrind(FILE *f)
{
    json_t *arr = json_array();
    char line[4096];
    int in_table = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!in_table) {
            in_table = strstr(line, "file:function") != NULL;
            continue;
        }
        char *p = line + strspn(line, " \t");
        if (!(*p >= '0' && *p <= '9'))
            continue;
        p += strspn(p, "0123456789,");
        p += strspn(p, " ");
        if (*p != '(')
            continue;
        char *end;
        double pct = strtod(p + 1, &end);
        if (end == p + 1 || *end != '%')
            continue;
        p = strchr(end, ')');
        if (!p)
            continue;
        p += 1 + strspn(p + 1, " \t");
        char module[256] = "";
        char *br = strstr(p, " [");
        if (br && br[strlen(br) - 1] == ']') {
            br[strlen(br) - 1] = '\0';
            const char *m = strrchr(br + 2, '/');
            snprintf(module, sizeof module, "%s", m ? m + 1 : br + 2);
            *br = '\0';
        }
        char *colon = strrchr(p, ':');
        pexec_add_function(arr, colon ? colon + 1 : p, module, pct / 100.0);
    }
    return arr;
}

/* Run the tool's report over raw and parse it; NULL with why on failure. */
static json_t *pexec_functions(const pexec_job *job, const char *raw, int iteration, char *why, size_t n)
{
    char out[4200], err[4200], first[400];
    snprintf(out, sizeof out, "%s/report-%d.txt", job->work_dir, iteration);
    snprintf(err, sizeof err, "%s/report-%d.err", job->work_dir, iteration);
    char *const perf_argv[] = { "perf", "report", "-i", (char *)raw, "--stdio", "--no-children", "-F",
                                "overhead,dso,sym", "-g", "none", "--percent-limit", "0.1", NULL };
    char *const cg_argv[] = { "callgrind_annotate", (char *)raw, NULL };
    int rc = pexec_run_tool(job->profiler == PEXEC_PERF ? perf_argv : cg_argv, out, err);
    if (rc != 0) {
        pexec_first_line(err, first, sizeof first);
        snprintf(why, n, "%s exited with status %d%s%s", job->profiler == PEXEC_PERF ? "perf report" : "callgrind_annotate",
                 rc, first[0] ? ": " : "", first);
        return NULL;
    }
    FILE *f = fopen(out, "r");
    if (!f) {
        snprintf(why, n, "cannot read the report: %s", strerror(errno));
        return NULL;
    }
    json_t *arr = job->profiler == PEXEC_PERF ? pexec_parse_perf(f) : pexec_parse_callgrind(f);
    fclose(f);
    unlink(out);
    unlink(err);
    return arr;
}

/* ---- the child --------------------------------------------------------------------- */

static void pexec_task(const pexec_job *job, int iteration, struct runexec_task *t, int msg_fd, FILE *bundle,
                       pid_t parent, const int *close_fds, size_t n_close)
{
    memset(t, 0, sizeof *t);
    t->run_id = job->run_id;
    t->job_name = job->job_name;
    t->spec = job->spec;
    t->iteration = iteration;
    t->msg_fd = msg_fd;
    t->bundle = bundle;
    t->fault = RUNEXEC_FAULT_NONE;
    t->parent = parent;
    t->close_fds = close_fds;
    t->n_close_fds = n_close;
    t->ml_nthread = job->ml_nthread;
    t->xgb_nthread = job->xgb_nthread;
    t->meta_model = job->meta_model;
    t->meta_model_len = job->meta_model_len;
}

/* Write all of data to path (created 0600). 0, or -1 with why. */
static int pexec_write_file(const char *path, const char *data, size_t len, char *why, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t off = 0;
    while (fd >= 0 && off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (fd < 0 || off != len || close(fd) != 0) {
        snprintf(why, n, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0 && off != len)
            close(fd);
        return -1;
    }
    return 0;
}

/* The whole of path, NUL-terminated (caller frees), or NULL. */
static char *pexec_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    FILE *m = f ? open_memstream(&buf, &n) : NULL;
    char chunk[8192];
    size_t got;
    while (m && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, got, m);
    int bad = !f || !m || ferror(f);
    if (f)
        fclose(f);
    if (m)
        fclose(m);
    if (bad) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = n;
    return buf;
}

/* The task file of iteration `iteration`: what the exec'd child needs to
 * rebuild the runexec_task (the job from its normalised params, as the
 * worker rebuilds a stored run). The meta-filter model goes beside it. */
static int pexec_write_task(const pexec_job *job, int iteration, char *path, size_t path_n, char *why, size_t n)
{
    char model[PATH_MAX + 64] = "";
    if (job->meta_model) {
        snprintf(model, sizeof model, "%s/meta-model-%d.json", job->work_dir, iteration);
        if (pexec_write_file(model, job->meta_model, job->meta_model_len, why, n) < 0)
            return -1;
    }
    const tb_meta_config *meta = &job->spec->bt.meta;
    json_t *task = json_pack("{s:s, s:O, s:s, s:I, s:i, s:i, s:i, s:o, s:I, s:I}", "kind", "run", "params",
                             job->spec->normalized, "job_name", job->job_name, "run_id", (json_int_t)job->run_id,
                             "iteration", iteration, "ml_nthread", job->ml_nthread, "xgb_nthread", job->xgb_nthread,
                             "meta_model", model[0] ? json_string(model) : json_null(), "train_first_ts",
                             (json_int_t)meta->train_first_ts, "train_last_ts", (json_int_t)meta->train_last_ts);
    char *text = task ? json_dumps(task, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(task);
    if (!text) {
        snprintf(why, n, "cannot serialise the task");
        return -1;
    }
    snprintf(path, path_n, "%s/task-%d.json", job->work_dir, iteration);
    int rc = pexec_write_file(path, text, strlen(text), why, n);
    free(text);
    return rc;
}

/* Rebuild the job of a task file and run it: never returns. */
static void pexec_child_from_task(const char *task_path, int msg_fd, int bundle_fd) __attribute__((noreturn));
static void pexec_child_from_task(const char *task_path, int msg_fd, int bundle_fd)
{
    struct runexec_task t;
    tb_jobspec spec;
    tb_error terr;
    json_error_t je;
    const char *kind = "run", *job_name = "", *model_path = NULL;
    json_t *params = NULL, *model_v = NULL;
    json_int_t run_id = 0, first = INT64_MIN, last = INT64_MIN;
    int iteration = 1, nthread = 1, xgb_nthread = 1;
    tb_error_clear(&terr);
    FILE *bundle = fdopen(bundle_fd, "w+");
    if (!bundle) {
        dprintf(msg_fd, "E cannot open the result file (descriptor %d): %s\n", bundle_fd, strerror(errno));
        _exit(RUNEXEC_EXIT_FAILED);
    }
    json_t *task = json_load_file(task_path, 0, &je);
    if (!task || json_unpack_ex(task, &je, 0, "{s:s, s:o, s:s, s:I, s:i, s:i, s:i, s:o, s:I, s:I}", "kind",
                                &kind, "params", &params, "job_name", &job_name, "run_id", &run_id, "iteration",
                                &iteration, "ml_nthread", &nthread, "xgb_nthread", &xgb_nthread, "meta_model", &model_v,
                                "train_first_ts", &first, "train_last_ts", &last) != 0) {
        dprintf(msg_fd, "E the profiler's task file %s is unusable: %s\n", task_path, je.text);
        _exit(RUNEXEC_EXIT_FAILED);
    }
    model_path = json_string_value(model_v); /* NULL: no meta-filter model */
    if (jobspec_from_stored(kind, params, &spec, &terr) != 0) {
        dprintf(msg_fd, "E invalid params: %s\n", terr.msg);
        _exit(RUNEXEC_EXIT_FAILED);
    }
    spec.bt.meta.train_first_ts = first;
    spec.bt.meta.train_last_ts = last;
    size_t model_len = 0;
    char *model = model_path ? pexec_read_file(model_path, &model_len) : NULL;
    if (model_path && !model) {
        dprintf(msg_fd, "E cannot read the meta-filter model %s: %s\n", model_path, strerror(errno));
        _exit(RUNEXEC_EXIT_FAILED);
    }
    pexec_job job = { runexec_find(spec.job), &spec, job_name, nthread, xgb_nthread, PEXEC_STAGES, NULL, NULL,
                      NULL, (int64_t)run_id, NULL, -1, model, model_len };
    pexec_task(&job, iteration, &t, msg_fd, bundle, getppid(), NULL, 0);
    runexec_child_main(job.entry, &t); /* never returns; task, spec and model live until _exit */
}

int pexec_child_command(int argc, char **argv)
{
    const char *task = NULL;
    long msg_fd = -1, bundle_fd = -1;
    for (int i = 0; i + 1 < argc; i += 2) {
        char *end = NULL;
        if (!strcmp(argv[i], "--task"))
            task = argv[i + 1];
        else if (!strcmp(argv[i], "--msg-fd"))
            msg_fd = strtol(argv[i + 1], &end, 10);
        else if (!strcmp(argv[i], "--bundle-fd"))
            bundle_fd = strtol(argv[i + 1], &end, 10);
        else
            break;
        if (end && (*end || end == argv[i + 1]))
            break;
        if (i + 2 == argc && task && msg_fd >= 0 && bundle_fd >= 0)
            pexec_child_from_task(task, (int)msg_fd, (int)bundle_fd);
    }
    fprintf(stderr, "profiler child: internal use only (--task FILE --msg-fd N --bundle-fd M)\n");
    return 2;
}

/* Under a tool: exec `<tool> ... <self> <child_args> --task F --msg-fd N --bundle-fd M`. */
static void pexec_exec_tool(const pexec_job *job, int iteration, const char *task, int msg_fd, int bundle_fd)
    __attribute__((noreturn));
static void pexec_exec_tool(const pexec_job *job, int iteration, const char *task, int msg_fd, int bundle_fd)
{
    char raw[4200], log[4200], mfd[16], bfd[16], out_opt[4300];
    const char *argv[64];
    size_t n = 0;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    fcntl(msg_fd, F_SETFD, 0);
    fcntl(bundle_fd, F_SETFD, 0);
    snprintf(mfd, sizeof mfd, "%d", msg_fd);
    snprintf(bfd, sizeof bfd, "%d", bundle_fd);
    snprintf(log, sizeof log, "%s/tool-%d.log", job->work_dir, iteration);
    /* The tool's own chatter goes to a log; the parent reads it on failure. */
    int l = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (l >= 0) {
        dup2(l, 1);
        dup2(l, 2);
        close(l);
    }
    /* Like a forked worker child, the job runs without idle library thread
     * pools (OpenBLAS starts one at load time, busy-waiting): keep them out of
     * the profile unless the caller asked for them. */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    setenv("OMP_WAIT_POLICY", "passive", 0);
    if (job->profiler == PEXEC_PERF) {
        snprintf(raw, sizeof raw, "%s/perf-%d.data", job->work_dir, iteration);
        const char *pre[] = { "perf", "record", "-g", "-q", "-o", raw, "--" };
        for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
            argv[n++] = pre[i];
    } else {
        snprintf(raw, sizeof raw, "%s/callgrind-%d.out", job->work_dir, iteration);
        snprintf(out_opt, sizeof out_opt, "--callgrind-out-file=%s", raw);
        argv[n++] = "valgrind";
        argv[n++] = "--tool=callgrind";
        argv[n++] = "-q";
        argv[n++] = out_opt;
    }
    argv[n++] = job->self_exe;
    for (size_t i = 0; job->child_args[i] && n < 54; i++)
        argv[n++] = job->child_args[i];
    argv[n++] = "--task";
    argv[n++] = task;
    argv[n++] = "--msg-fd";
    argv[n++] = mfd;
    argv[n++] = "--bundle-fd";
    argv[n++] = bfd;
    argv[n] = NULL;
    execvp(argv[0], (char *const *)argv);
    dprintf(msg_fd, "E cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(RUNEXEC_EXIT_FAILED);
}

/* ---- the parent -------------------------------------------------------------------- */

static void pexec_on_line(pexec_result *r, char *line)
{
    struct runexec_msg m;
    runexec_msg_parse(line, &m);
    if (m.kind == RUNEXEC_MSG_STAGE)
        json_array_append_new(r->stages, json_pack("{s:s, s:f}", "name", m.text, "wall_seconds", m.value));
    else if (m.kind == RUNEXEC_MSG_ERROR)
        snprintf(r->error, sizeof r->error, "%s", m.text);
}

/* Copy one line (and its newline) to fd: the worker's pipe. Lines are
 * under PIPE_BUF, so the write is atomic; a gone reader is not an error. */
static void pexec_forward(int fd, const char *line, size_t len)
{
    char buf[1104];
    memcpy(buf, line, len);
    buf[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

static void pexec_read_lines(int fd, int forward_fd, pexec_result *r)
{
    char chunk[4096], line[1100];
    size_t len = 0;
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            if (chunk[i] == '\n') {
                if (forward_fd >= 0)
                    pexec_forward(forward_fd, line, len);
                line[len] = '\0';
                pexec_on_line(r, line);
                len = 0;
            } else if (len + 1 < sizeof line) {
                line[len++] = chunk[i];
            }
        }
    }
}

/* The whole result file and its parse: 0, or -1 with r->error. */
static int pexec_check_bundle(FILE *f, pexec_result *r)
{
    struct stat st;
    char err[512];
    if (fflush(f) != 0 || fstat(fileno(f), &st) != 0) {
        snprintf(r->error, sizeof r->error, "cannot read the result file: %s", strerror(errno));
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = mem_alloc(n + 1);
    while (got < n) {
        ssize_t k = pread(fileno(f), buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    struct runexec_bundle b;
    int rc = got == n ? runexec_bundle_parse(buf, n, &b, err, sizeof err) : -1;
    if (rc != 0)
        snprintf(r->error, sizeof r->error, "the iteration's result is incomplete: %s",
                 got == n ? err : "short read");
    else if (b.ml)
        snprintf(r->summary, sizeof r->summary, "%lld dataset rows, model %zu bytes", b.n_rows, b.model.len);
    else
        snprintf(r->summary, sizeof r->summary, "%lld orders, %lld equity points", b.n_orders, b.n_equity);
    free(buf);
    return rc;
}

void pexec_result_free(pexec_result *r)
{
    json_decref(r->stages);
    json_decref(r->functions);
    r->stages = r->functions = NULL;
}

int pexec_iteration(const pexec_job *job, int iteration, pexec_result *r)
{
    int fds[2];
    char task[PATH_MAX + 64] = "", why[600];
    memset(r, 0, sizeof *r);
    r->stages = json_array();
    if (job->profiler != PEXEC_STAGES && pexec_write_task(job, iteration, task, sizeof task, why, sizeof why) < 0) {
        snprintf(r->error, sizeof r->error, "iteration %d: %s", iteration, why);
        return -1;
    }
    FILE *own = job->bundle ? NULL : tmpfile();
    FILE *bundle = job->bundle ? job->bundle : own;
    if (!bundle || pipe(fds) != 0) {
        snprintf(r->error, sizeof r->error, "cannot create the result file or pipe: %s", strerror(errno));
        if (own)
            fclose(own);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    double t0 = pexec_mono();
    r->started = pexec_epoch();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (job->profiler == PEXEC_STAGES) {
            struct runexec_task t;
            int close_fds[1] = { fds[0] };
            pexec_task(job, iteration, &t, fds[1], bundle, parent, close_fds, 1);
            runexec_child_main(job->entry, &t); /* never returns */
        }
        close(fds[0]);
        pexec_exec_tool(job, iteration, task, fds[1], fileno(bundle)); /* never returns */
    }
    close(fds[1]);
    if (pid < 0) {
        snprintf(r->error, sizeof r->error, "fork failed: %s", strerror(errno));
        close(fds[0]);
        if (own)
            fclose(own);
        return -1;
    }
    pexec_read_lines(fds[0], job->forward_fd, r);
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    r->wall_s = pexec_mono() - t0;
    r->finished = pexec_epoch();
    r->cpu_s = pexec_tv(ru.ru_utime) + pexec_tv(ru.ru_stime);
    r->peak_rss_bytes = (long long)ru.ru_maxrss * 1024LL;

    if (WIFSIGNALED(status)) {
        snprintf(r->error, sizeof r->error, "iteration %d: killed by signal %d (%s)", iteration, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != RUNEXEC_EXIT_OK) {
        char msg[sizeof r->error];
        if (r->error[0]) {
            snprintf(msg, sizeof msg, "%s", r->error);
        } else {
            char log[4200], first[400] = "";
            snprintf(log, sizeof log, "%s/tool-%d.log", job->work_dir, iteration);
            if (job->profiler != PEXEC_STAGES)
                pexec_first_line(log, first, sizeof first);
            snprintf(msg, sizeof msg, "exited with status %d%s%s", WEXITSTATUS(status), first[0] ? ": " : "", first);
        }
        snprintf(r->error, sizeof r->error, "iteration %d: %.700s", iteration, msg);
    } else if (pexec_check_bundle(bundle, r) == 0) {
        r->ok = 1;
    }
    if (own)
        fclose(own);
    if (!r->ok)
        return -1;
    if (job->profiler != PEXEC_STAGES) {
        snprintf(r->raw, sizeof r->raw, "%s/%s-%d.%s", job->work_dir, job->profiler == PEXEC_PERF ? "perf" : "callgrind",
                 iteration, job->profiler == PEXEC_PERF ? "data" : "out");
        r->functions = pexec_functions(job, r->raw, iteration, why, sizeof why);
        if (!r->functions) {
            r->ok = 0;
            snprintf(r->error, sizeof r->error, "iteration %d: reading the %s profile failed: %s", iteration,
                     pexec_profiler_name(job->profiler), why);
            return -1;
        }
    }
    return 0;
}

/* ---- the worker's side ---------------------------------------------------------------- */

int pexec_profiler_of(const json_t *params, pexec_profiler *out, char *err, size_t n)
{
    const json_t *v = json_object_get(params, "profiler");
    *out = PEXEC_STAGES;
    if (!v)
        return 0;
    if (!json_is_string(v) || pexec_profiler_parse(json_string_value(v), out) < 0) {
        snprintf(err, n, "stored params: profiler must be \"stages\", \"perf\" or \"callgrind\"");
        return -1;
    }
    return 0;
}

char *pexec_workdir_new(char *err, size_t n)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tb-worker-profile-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        snprintf(err, n, "cannot create the profiler's work directory in %s: %s", tmp, strerror(errno));
        return NULL;
    }
    return mem_strdup(dir);
}

void pexec_workdir_remove(const char *dir)
{
    char path[PATH_MAX + 300];
    if (!dir || !*dir)
        return;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path); /* flat: the task, the model, the tools' output and logs */
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static void pexec_outcome_path(const char *dir, int iteration, char *out, size_t n)
{
    snprintf(out, n, "%s/outcome-%d.json", dir, iteration);
}

static int pexec_outcome_write(const char *dir, int iteration, const pexec_result *r, char *why, size_t n)
{
    char path[PATH_MAX + 64];
    json_t *o = json_pack("{s:f, s:f, s:I, s:f, s:f, s:O}", "wall_seconds", r->wall_s, "cpu_seconds", r->cpu_s,
                          "peak_rss_bytes", (json_int_t)r->peak_rss_bytes, "started", r->started, "finished",
                          r->finished, "functions", r->functions ? r->functions : json_null());
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(why, n, "cannot serialise the profiler's outcome");
        return -1;
    }
    pexec_outcome_path(dir, iteration, path, sizeof path);
    int rc = pexec_write_file(path, text, strlen(text), why, n);
    free(text);
    return rc;
}

int pexec_outcome_read(const char *dir, int iteration, pexec_outcome *out, char *err, size_t n)
{
    char path[PATH_MAX + 64];
    json_error_t je;
    json_t *fns = NULL;
    json_int_t rss = 0;
    memset(out, 0, sizeof *out);
    pexec_outcome_path(dir, iteration, path, sizeof path);
    json_t *o = json_load_file(path, 0, &je);
    if (!o || json_unpack_ex(o, &je, 0, "{s:F, s:F, s:I, s:F, s:F, s:o}", "wall_seconds", &out->wall_s,
                             "cpu_seconds", &out->cpu_s, "peak_rss_bytes", &rss, "started", &out->started,
                             "finished", &out->finished, "functions", &fns) != 0 ||
        !json_is_array(fns)) {
        snprintf(err, n, "the profiler's outcome %s is unusable: %s", path,
                 o && fns ? "functions is not an array" : je.text);
        json_decref(o);
        return -1;
    }
    out->peak_rss_bytes = (long long)rss;
    out->functions_json = json_dumps(fns, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!out->functions_json) {
        snprintf(err, n, "the profiler's outcome %s: cannot serialise its functions", path);
        return -1;
    }
    return 0;
}

void pexec_outcome_free(pexec_outcome *o)
{
    free(o->functions_json);
    o->functions_json = NULL;
}

int pexec_supervise(const struct runexec_entry *entry, const struct runexec_task *t, tb_error *err)
{
    static const char *const child_args[] = { "--profile-child", NULL };
    pexec_profiler p = (pexec_profiler)t->profiler;
    char why[1024], self[PATH_MAX];
    if (p != PEXEC_PERF && p != PEXEC_CALLGRIND)
        return tb_fail(err, TB_EINTERNAL, "unknown profiler %d", t->profiler);
    if (!t->profile_dir)
        return tb_fail(err, TB_EINTERNAL, "no work directory for the %s profile", pexec_profiler_name(p));
    if (pexec_tool_check(p, why, sizeof why) < 0)
        return tb_fail(err, TB_EINVAL, "%s is not available: %s", pexec_profiler_name(p), why);
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return tb_fail(err, TB_EIO, "cannot find this program (/proc/self/exe): %s", strerror(errno));
    self[len] = '\0';
    /* The worker's pipe stays out of the tool's processes: the worker sees
     * EOF when this process ends. Its lines reach it through pexec_forward. */
    fcntl(t->msg_fd, F_SETFD, FD_CLOEXEC);
    pexec_job job = { entry, t->spec, t->job_name, t->ml_nthread, t->xgb_nthread, p, self, child_args,
                      t->profile_dir, t->run_id, t->bundle, t->msg_fd, t->meta_model, t->meta_model_len };
    pexec_result r;
    int rc = pexec_iteration(&job, t->iteration, &r);
    if (rc == 0 && pexec_outcome_write(t->profile_dir, t->iteration, &r, why, sizeof why) < 0)
        rc = tb_fail(err, TB_EIO, "%s", why);
    else if (rc != 0)
        tb_fail(err, TB_EINTERNAL, "%s", r.error);
    if (r.raw[0])
        unlink(r.raw); /* the worker keeps the top functions, not the raw profile */
    pexec_result_free(&r);
    return rc;
}
