/*
 * tradebench-server — wiring only: read settings, apply migrations, start
 * the HTTP layer with the api/ route table, wait for SIGTERM/SIGINT, then
 * drain in-flight requests and exit 0. Exit 2 for bad configuration, 1 when
 * the database stays unreachable at start or the address cannot be bound.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <time.h>

#include "api/metrics_prom.h"
#include "api/modelcache.h"
#include "api/routes.h"
#include "db.h"
#include "http.h"
#include "lifecycle.h"
#include "logger.h"
#include "mem.h"
#include "migrate.h"
#include "settings.h"
#include "version.h"

#define SERVER_DB_WAIT_MS 30000      /* how long start-up waits for PostgreSQL */
#define SERVER_GRACE_MS 10000        /* how long shutdown waits for in-flight requests */

int main(void)
{
    struct settings cfg;
    char err[1024], where[256];
    sigset_t sigs;
    int sig = 0, rc = 1;
    struct migrate_summary ms;

    if (settings_from_env(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "tradebench-server: %s\n", err);
        return 2;
    }
    logger_init("server", cfg.log_level);
    mem_install_json();
    json_object_seed(0);
    lifecycle_block_signals(&sigs);
    db_describe(cfg.database_url, where, sizeof where);
    log_info("tradebench-server %s starting; database %s", TB_VERSION, where);

    PGconn *conn = lifecycle_connect_retry(cfg.database_url, "tradebench-server", &sigs,
                                           SERVER_DB_WAIT_MS, &sig, err, sizeof err);
    if (!conn) {
        if (sig) {
            log_info("signal %d during start-up; exiting", sig);
            rc = 0;
        } else {
            log_error("database unreachable after %d ms: %s", SERVER_DB_WAIT_MS, err);
        }
        goto out;
    }
    int mrc = migrate_apply(conn, NULL, NULL, &ms, err, sizeof err);
    PQfinish(conn);
    if (mrc < 0) {
        log_error("migrations failed: %s", err);
        goto out;
    }
    log_info("schema at version %d (%d applied now)", ms.version, ms.applied);

    struct api_context app = { .settings = &cfg,
                               .started = time(NULL),
                               .metrics = prom_new(api_routes, api_routes_count),
                               .models = modelcache_new(MODELCACHE_MAX) };
    struct http_options opt = {
        .host = cfg.listen_host,
        .port = cfg.listen_port,
        .threads = cfg.http_threads,
        .per_ip_limit = cfg.http_per_ip_limit,
        .api_token = cfg.api_token,
        .max_body = HTTP_MAX_BODY,
        .routes = api_routes,
        .nroutes = api_routes_count,
        .app = &app,
        .observe = prom_observe,
        .observe_cls = app.metrics,
    };
    struct http_server *srv = http_server_start(&opt, err, sizeof err);
    if (!srv) {
        log_error("%s", err);
        prom_free(app.metrics);
        modelcache_free(app.models);
        goto out;
    }
    log_info("listening on %s:%u with %d threads%s", cfg.listen_host, cfg.listen_port,
             cfg.http_threads, cfg.api_token ? "; bearer token required for writes" : "");

    sig = lifecycle_wait_signal(&sigs, -1);
    log_info("signal %d: no longer accepting connections, draining requests", sig);
    int left = http_server_shutdown(srv, SERVER_GRACE_MS);
    log_info("stopped%s", left ? " (some requests were cut off)" : "");
    prom_free(app.metrics);
    modelcache_free(app.models);
    rc = 0;

out:
    settings_free(&cfg);
    return rc;
}
