/*
 * test_api_profilers — POST /runs with "profiler": "perf" | "callgrind"
 * through the real server and worker (issue 6): the worker runs each
 * iteration under the tool and records its top functions the way
 * `tradebench profile-job` does (run_iterations.hotspots), shown by
 * GET /runs/{id}/profile ("functions" per iteration, "function_hotspots")
 * and GET /profiles; a tool that is missing fails the run with a plain
 * message; "stages" stays the default and is not stored.
 *
 * perf: skipped with the reason when `perf record` cannot run here
 * (perf_event_paranoid, no perf). callgrind: a small job; in an
 * AddressSanitizer build (valgrind cannot run it) or without valgrind the
 * run must fail saying "callgrind is not available: ...", else succeed with
 * functions. No timed assertions: loops wait for the run to finish.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_api_client.h"

#if defined(__SANITIZE_ADDRESS__)
#define TP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TP_ASAN 1
#endif
#endif

static struct api_stack st;

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    api_stack_fini(&st);
    curl_global_cleanup();
}

TestSuite(api_profilers, .init = init, .fini = fini, .timeout = 280);

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* POST /runs body; returns the run's id (202 expected). */
static long long post_run(const char *body)
{
    struct api_resp r;
    api_call(&st.srv, "POST", "/runs", body, NULL, NULL, &r);
    api_expect(&r, 202);
    long long id = api_run_id(&r);
    api_resp_free(&r);
    return id;
}

/* Wait (up to ~4 min) until the run is finished; returns GET /runs/{id}. */
static json_t *wait_finished(long long id)
{
    char path[64];
    snprintf(path, sizeof path, "/runs/%lld", id);
    for (int i = 0; i < 4800; i++, sleep_ms(50)) {
        struct api_resp r;
        api_call(&st.srv, "GET", path, NULL, NULL, NULL, &r);
        json_t *doc = api_json(&r);
        api_resp_free(&r);
        const char *s = json_string_value(json_object_get(doc, "status"));
        if (s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled")))
            return doc;
        json_decref(doc);
    }
    char *log = harness_slurp(st.worker_log);
    fprintf(stderr, "---- worker log ----\n%s\n", log ? log : "");
    free(log);
    cr_assert_fail("run %lld did not finish", id);
    return NULL;
}

static json_t *get_json(const char *fmt, long long id)
{
    char path[128];
    struct api_resp r;
    snprintf(path, sizeof path, fmt, id);
    api_call(&st.srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *doc = api_json(&r);
    api_resp_free(&r);
    cr_assert_not_null(doc);
    return doc;
}

/* [{"function","module","share"}...]: 1..max entries, shares in (0, 1]. */
static void expect_functions(const json_t *arr, size_t max, const char *what)
{
    cr_assert(json_is_array(arr), "%s is not an array", what);
    cr_assert(json_array_size(arr) >= 1 && json_array_size(arr) <= max, "%s has %zu entries", what,
              json_array_size(arr));
    size_t k;
    json_t *f;
    json_array_foreach(arr, k, f) {
        const char *fn = json_string_value(json_object_get(f, "function"));
        double share = json_number_value(json_object_get(f, "share"));
        cr_assert(fn && *fn, "%s[%zu] has no function name", what, k);
        cr_assert(json_is_string(json_object_get(f, "module")), "%s[%zu] has no module", what, k);
        cr_assert(share > 0 && share <= 1, "%s[%zu] share %g", what, k, share);
    }
}

/* A succeeded profiled run: its profile and GET /profiles carry functions. */
static void expect_profiled(long long id, const char *profiler, int iterations)
{
    json_t *prof = get_json("/runs/%lld/profile", id);
    cr_assert_str_eq(json_string_value(json_object_get(prof, "profiler")), profiler);
    json_t *iters = json_object_get(prof, "iterations");
    cr_assert_eq(json_array_size(iters), (size_t)iterations);
    for (size_t i = 0; i < json_array_size(iters); i++) {
        json_t *it = json_array_get(iters, i);
        expect_functions(json_object_get(it, "functions"), 10, "iterations[].functions");
        cr_assert_gt(json_array_size(json_object_get(it, "stages")), 0, "no stage times");
        cr_assert_gt(json_number_value(json_object_get(it, "wall_seconds")), 0);
    }
    expect_functions(json_object_get(prof, "function_hotspots"), 3, "function_hotspots");
    cr_assert_gt(json_array_size(json_object_get(prof, "hotspots")), 0, "no stage hotspots");
    json_decref(prof);

    json_t *list = get_json("/profiles?job=EOD_SMALL", 0);
    json_t *item = NULL, *x;
    size_t k;
    json_array_foreach(json_object_get(list, "items"), k, x) {
        if (json_integer_value(json_object_get(x, "run_id")) == id)
            item = x;
    }
    cr_assert_not_null(item, "run %lld is not in GET /profiles", id);
    cr_assert_str_eq(json_string_value(json_object_get(item, "profiler")), profiler);
    expect_functions(json_object_get(item, "function_hotspots"), 3, "/profiles function_hotspots");
    json_decref(list);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = { ids };
    cr_assert_eq(api_sql_int(st.db,
                             "SELECT count(*) FROM run_iterations WHERE run_id = $1"
                             " AND jsonb_array_length(hotspots) > 0",
                             1, p),
                 iterations);
}

/* Can `perf record` sample a process here? 1, or 0 with why. */
static int perf_usable(char *why, size_t n)
{
    char cmd[512], data[128];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(data, sizeof data, "%s/tb-it-perf-probe-%ld.data", tmp, (long)getpid());
    snprintf(cmd, sizeof cmd, "perf record -q -o '%s' -- true >/dev/null 2>&1", data);
    int rc = system(cmd);
    unlink(data);
    if (rc == 0)
        return 1;
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    int paranoid = -99;
    if (f) {
        if (fscanf(f, "%d", &paranoid) != 1)
            paranoid = -99;
        fclose(f);
    }
    snprintf(why, n, "`perf record -- true` failed (exit %d; kernel.perf_event_paranoid = %d)", rc,
             paranoid);
    return 0;
}

Test(api_profilers, perf_run_records_function_hotspots)
{
    char why[256];
    if (!perf_usable(why, sizeof why))
        cr_skip_test("perf cannot run here: %s", why);
    const char *env[] = { NULL };
    api_stack_up(&st, "profilers", env);
    long long id = post_run("{\"job\":\"EOD_SMALL\",\"iterations\":1,\"profiler\":\"perf\"}");
    json_t *run = wait_finished(id);
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded", "error: %s",
                     json_string_value(json_object_get(run, "error")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "params"), "profiler")),
                     "perf");
    json_decref(run);
    expect_profiled(id, "perf", 1);
    api_stack_down(&st);
}

Test(api_profilers, callgrind_run_records_function_hotspots_or_says_why_not)
{
    const char *env[] = { NULL };
    api_stack_up(&st, "profilers", env);
    long long id = post_run("{\"job\":\"EOD_SMALL\",\"iterations\":2,\"profiler\":\"callgrind\","
                            "\"overrides\":{\"universe\":4,\"last_bars\":120}}");
    json_t *run = wait_finished(id);
    const char *status = json_string_value(json_object_get(run, "status"));
    const char *error = json_string_value(json_object_get(run, "error"));
    int have_valgrind = system("valgrind --version >/dev/null 2>&1") == 0;
#ifdef TP_ASAN
    have_valgrind = 0; /* AddressSanitizer and valgrind do not mix */
#endif
    if (!have_valgrind) {
        cr_assert_str_eq(status, "failed");
        cr_assert(error && strncmp(error, "callgrind is not available: ", 28) == 0, "error: %s",
                  error ? error : "(null)");
        fprintf(stderr, "callgrind unavailable here, as the run said: %s\n", error);
        json_t *prof = get_json("/runs/%lld/profile", id);
        cr_assert_eq(json_array_size(json_object_get(prof, "iterations")), 0);
        json_decref(prof);
    } else {
        cr_assert_str_eq(status, "succeeded", "error: %s", error ? error : "(null)");
        expect_profiled(id, "callgrind", 2);
    }
    json_decref(run);
    api_stack_down(&st);
}

Test(api_profilers, a_missing_tool_fails_the_run_plainly_and_stages_stays_the_default)
{
    /* A worker that finds no tools on its PATH. */
    const char *env[] = { "PATH=/nonexistent", NULL };
    api_stack_up(&st, "profilers", env);
    long long id = post_run("{\"job\":\"EOD_SMALL\",\"profiler\":\"perf\"}");
    json_t *run = wait_finished(id);
    const char *error = json_string_value(json_object_get(run, "error"));
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "failed");
    cr_assert(error && strstr(error, "perf is not available: perf not found in PATH") == error,
              "error: %s", error ? error : "(null)");
    json_decref(run);

    /* "stages" (explicit or not) is the plain worker run: nothing stored, no functions. */
    id = post_run("{\"job\":\"EOD_SMALL\",\"profiler\":\"stages\",\"overrides\":{\"universe\":4}}");
    run = wait_finished(id);
    cr_assert_str_eq(json_string_value(json_object_get(run, "status")), "succeeded");
    cr_assert_null(json_object_get(json_object_get(run, "params"), "profiler"));
    json_decref(run);
    json_t *prof = get_json("/runs/%lld/profile", id);
    cr_assert_str_eq(json_string_value(json_object_get(prof, "profiler")), "stages");
    cr_assert(json_is_null(json_object_get(json_array_get(json_object_get(prof, "iterations"), 0),
                                           "functions")));
    cr_assert_eq(json_array_size(json_object_get(prof, "function_hotspots")), 0);
    json_decref(prof);
    api_stack_down(&st);
}
