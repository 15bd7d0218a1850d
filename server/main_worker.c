/*
 * tradebench-worker — wiring only: read settings, build the worker id
 * "host:pid" and hand over to worker_run() (server/worker.c), which claims,
 * executes and persists runs until SIGTERM/SIGINT (it installs its own
 * handlers; SIGTERM/SIGINT stay blocked until then, SIGPIPE is ignored).
 * Exit status: 0 after a graceful stop, 1 when the loop cannot start,
 * 2 for bad configuration.
 * `tradebench-worker --profile-child ...` is not a worker: it is one
 * iteration exec'd under perf / callgrind by the worker itself (see
 * server/profile_exec.h), and goes straight there.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "lifecycle.h"
#include "logger.h"
#include "mem.h"
#include "profile_exec.h"
#include "settings.h"
#include "version.h"
#include "worker.h"

static const char *main_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

int main(int argc, char **argv)
{
    struct settings cfg;
    struct worker_options opt;
    char err[1024], where[256], id[300], host[256];
    sigset_t sigs;

    if (argc > 1 && strcmp(argv[1], "--profile-child") == 0)
        return pexec_child_command(argc - 2, argv + 2);
    if (argc > 1) {
        fprintf(stderr, "usage: tradebench-worker (configured by TB_* environment variables)\n");
        return 2;
    }
    if (settings_from_env(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "tradebench-worker: %s\n", err);
        return 2;
    }
    if (worker_options_load(&opt, cfg.worker_concurrency, main_getenv, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "tradebench-worker: %s\n", err);
        settings_free(&cfg);
        return 2;
    }
    logger_init("worker", cfg.log_level);
    mem_install_json();
    lifecycle_block_signals(&sigs);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(id, sizeof id, "%s:%ld", host, (long)getpid());
    db_describe(cfg.database_url, where, sizeof where);
    log_info("tradebench-worker %s id %s starting; database %s; concurrency %d; stale after %d s; "
             "shutdown grace %d s; sweep threads %d, XGBoost threads %d%s",
             TB_VERSION, id, where, opt.concurrency, opt.stale_seconds, opt.grace_seconds, opt.ml_threads,
             opt.xgb_threads, opt.fault ? "; TEST FAULT INJECTION ON" : "");

    int rc = worker_run(cfg.database_url, id, &opt);
    worker_options_free(&opt);
    settings_free(&cfg);
    return rc;
}
