/*
 * test_processes — the binaries as processes: tradebench-worker exits 0 on
 * SIGTERM (connected, or still waiting for an unreachable database), bad
 * configuration exits 2 naming the variable, a taken address exits 1, and
 * `tradebench migrate` reports its work with exit status 0/1/2.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef TB_WORKER_BIN
#error "TB_WORKER_BIN must be defined by CMake"
#endif
#ifndef TB_CLI_BIN
#error "TB_CLI_BIN must be defined by CMake"
#endif
#ifndef TB_SERVER_BIN
#error "TB_SERVER_BIN must be defined by CMake"
#endif

/* An address nothing listens on (port 1 on loopback: connection refused). */
#define DEAD_DB "postgresql://tradebench:tradebench@127.0.0.1:1/tradebench?connect_timeout=1"

static char log_path[256];

static void log_init(void)
{
    snprintf(log_path, sizeof log_path, "%s/tb-it-proc-%ld.log",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
}

static void log_fini(void)
{
    unlink(log_path);
}

TestSuite(processes, .init = log_init, .fini = log_fini, .timeout = 120);

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Wait until the log contains needle (or timeout); returns 1 when found. */
static int log_wait_for(const char *needle, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 50) {
        char *text = harness_slurp(log_path);
        int found = text && strstr(text, needle);
        free(text);
        if (found)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

static int exit_of(const char *bin, char *const argv[], const char *const env[])
{
    pid_t pid = harness_spawn(bin, argv, env, log_path);
    cr_assert_gt(pid, 0);
    return harness_wait(pid, 60000);
}

Test(processes, worker_connects_and_exits_0_on_sigterm)
{
    const char *url = harness_db_url_or_skip();
    char db[1024];
    snprintf(db, sizeof db, "TB_DATABASE_URL=%s", url);
    const char *env[] = { db, NULL };
    char *argv[] = { TB_WORKER_BIN, NULL };
    pid_t pid = harness_spawn(TB_WORKER_BIN, argv, env, log_path);
    cr_assert(log_wait_for("idling", 30000), "worker never reported it was connected");
    kill(pid, SIGTERM);
    cr_assert_eq(harness_wait(pid, 20000), 0);
}

Test(processes, worker_waiting_for_a_dead_database_exits_0_on_sigint)
{
    const char *env[] = { "TB_DATABASE_URL=" DEAD_DB, NULL };
    char *argv[] = { TB_WORKER_BIN, NULL };
    pid_t pid = harness_spawn(TB_WORKER_BIN, argv, env, log_path);
    cr_assert(log_wait_for("database unreachable", 30000), "no retry logged");
    kill(pid, SIGINT);
    cr_assert_eq(harness_wait(pid, 20000), 0);
}

Test(processes, bad_configuration_exits_2_naming_the_variable)
{
    char *server[] = { TB_SERVER_BIN, NULL };
    char *worker[] = { TB_WORKER_BIN, NULL };
    const char *bad_listen[] = { "TB_LISTEN=localhost", NULL };
    const char *bad_level[] = { "TB_LOG_LEVEL=loud", NULL };
    cr_assert_eq(exit_of(TB_SERVER_BIN, server, bad_listen), 2);
    char *text = harness_slurp(log_path);
    cr_assert(text && strstr(text, "TB_LISTEN"), "log: %s", text ? text : "");
    free(text);
    cr_assert_eq(exit_of(TB_WORKER_BIN, worker, bad_level), 2);
    text = harness_slurp(log_path);
    cr_assert(text && strstr(text, "TB_LOG_LEVEL"), "log: %s", text ? text : "");
    free(text);
}

Test(processes, server_on_a_taken_address_exits_1)
{
    struct tb_server first;
    char listen[64];
    harness_db_url_or_skip();
    cr_assert_eq(harness_server_start(&first, NULL, NULL), 0);
    snprintf(listen, sizeof listen, "TB_LISTEN=127.0.0.1:%u", first.port);
    const char *url = getenv("TB_TEST_DATABASE_URL");
    char db[1024];
    snprintf(db, sizeof db, "TB_DATABASE_URL=%s", url);
    const char *env[] = { listen, db, NULL };
    char *argv[] = { TB_SERVER_BIN, NULL };
    int rc = exit_of(TB_SERVER_BIN, argv, env);
    int stop = harness_server_stop(&first);
    cr_assert_eq(rc, 1);
    cr_assert_eq(stop, 0);
}

Test(processes, migrate_command_exit_statuses)
{
    const char *url = harness_db_url_or_skip();
    char db[1024];
    snprintf(db, sizeof db, "TB_DATABASE_URL=%s", url);
    const char *env[] = { db, NULL };
    const char *dead[] = { "TB_DATABASE_URL=" DEAD_DB, NULL };
    char *ok[] = { TB_CLI_BIN, "migrate", NULL };
    char *bad[] = { TB_CLI_BIN, "migrate", "--bogus", NULL };

    cr_assert_eq(exit_of(TB_CLI_BIN, ok, env), 0);
    char *text = harness_slurp(log_path);
    cr_assert(text && strstr(text, "schema at version"), "output: %s", text ? text : "");
    free(text);
    cr_assert_eq(exit_of(TB_CLI_BIN, ok, env), 0); /* twice: a no-op */
    text = harness_slurp(log_path);
    cr_assert(text && strstr(text, "0 applied"), "output: %s", text ? text : "");
    free(text);
    cr_assert_eq(exit_of(TB_CLI_BIN, bad, env), 2);
    cr_assert_eq(exit_of(TB_CLI_BIN, ok, dead), 1);
}
