/*
 * tradebench-worker — wiring only, for now: read settings, connect to
 * PostgreSQL (waiting for it as long as needed), keep the connection
 * checked every few seconds, and exit 0 on SIGTERM/SIGINT. Claiming runs
 * (FOR UPDATE SKIP LOCKED, LISTEN/NOTIFY, heartbeats) lands with the queue.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <unistd.h>

#include "db.h"
#include "lifecycle.h"
#include "logger.h"
#include "mem.h"
#include "settings.h"
#include "version.h"

#define WORKER_CHECK_MS 5000          /* how often the idle worker checks its connection */

int main(void)
{
    struct settings cfg;
    char err[1024], where[256], id[300], host[256];
    sigset_t sigs;
    int sig = 0;
    PGconn *conn = NULL;

    if (settings_from_env(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "tradebench-worker: %s\n", err);
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
    log_info("tradebench-worker %s id %s starting; database %s; concurrency %d", TB_VERSION, id,
             where, cfg.worker_concurrency);

    for (;;) {
        if (!conn) {
            conn = lifecycle_connect_retry(cfg.database_url, "tradebench-worker", &sigs, -1, &sig,
                                           err, sizeof err);
            if (!conn)
                break; /* a signal arrived while waiting */
            log_info("connected; no run queue yet (later issue), idling");
        }
        sig = lifecycle_wait_signal(&sigs, WORKER_CHECK_MS);
        if (sig)
            break;
        if (db_command(conn, "SELECT 1", 0, NULL, err, sizeof err) < 0) {
            log_warn("lost the database connection: %s", err);
            PQfinish(conn);
            conn = NULL;
        }
    }
    log_info("signal %d: stopping", sig);
    PQfinish(conn);
    settings_free(&cfg);
    return 0;
}
