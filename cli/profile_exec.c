/* profile_exec.c — a profiled iteration in a child process (see profile_exec.h).
 *
 * Parent: result file (tmpfile) and pipe before fork(); read the child's
 * lines to EOF (stage times, error); wait4() for status, CPU and peak RSS;
 * check the result bundle is complete; for perf / callgrind run the tool's
 * report and keep its top functions. Child (stages): runexec_child_main, the
 * worker's own child body. Child (perf / callgrind): die with the parent,
 * keep the two descriptors across exec, and exec the tool over
 * `<self> profile-job --child ... --msg-fd N --bundle-fd M`. */
#include "profile_exec.h"

#include <errno.h>
#include <fcntl.h>
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

#include "server/mem.h"

static const char *const pexec_names[] = { "stages", "perf", "callgrind" };

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

static void pexec_task(const pexec_job *job, struct runexec_task *t, int msg_fd, FILE *bundle, pid_t parent,
                       const int *close_fds, size_t n_close)
{
    memset(t, 0, sizeof *t);
    t->run_id = 0;
    t->job_name = job->job_name;
    t->spec = job->spec;
    t->iteration = 1;
    t->msg_fd = msg_fd;
    t->bundle = bundle;
    t->fault = RUNEXEC_FAULT_NONE;
    t->parent = parent;
    t->close_fds = close_fds;
    t->n_close_fds = n_close;
    t->ml_nthread = job->ml_nthread;
}

void pexec_child_main(const pexec_job *job, int msg_fd, int bundle_fd)
{
    struct runexec_task t;
    FILE *bundle = fdopen(bundle_fd, "w+");
    if (!bundle) {
        dprintf(msg_fd, "E cannot open the result file (descriptor %d): %s\n", bundle_fd, strerror(errno));
        _exit(RUNEXEC_EXIT_FAILED);
    }
    pexec_task(job, &t, msg_fd, bundle, getppid(), NULL, 0);
    runexec_child_main(job->entry, &t);
}

/* Under a tool: exec `<tool> ... <self> <child_args> --msg-fd N --bundle-fd M`. */
static void pexec_exec_tool(const pexec_job *job, int iteration, int msg_fd, int bundle_fd) __attribute__((noreturn));
static void pexec_exec_tool(const pexec_job *job, int iteration, int msg_fd, int bundle_fd)
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
    for (size_t i = 0; job->child_args[i] && n < 56; i++)
        argv[n++] = job->child_args[i];
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

static void pexec_read_lines(int fd, pexec_result *r)
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
    memset(r, 0, sizeof *r);
    r->stages = json_array();
    FILE *bundle = tmpfile();
    if (!bundle || pipe(fds) != 0) {
        snprintf(r->error, sizeof r->error, "cannot create the result file or pipe: %s", strerror(errno));
        if (bundle)
            fclose(bundle);
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
            pexec_task(job, &t, fds[1], bundle, parent, close_fds, 1);
            runexec_child_main(job->entry, &t); /* never returns */
        }
        close(fds[0]);
        pexec_exec_tool(job, iteration, fds[1], fileno(bundle)); /* never returns */
    }
    close(fds[1]);
    if (pid < 0) {
        snprintf(r->error, sizeof r->error, "fork failed: %s", strerror(errno));
        close(fds[0]);
        fclose(bundle);
        return -1;
    }
    pexec_read_lines(fds[0], r);
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
    fclose(bundle);
    if (!r->ok)
        return -1;
    if (job->profiler != PEXEC_STAGES) {
        char why[600];
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
