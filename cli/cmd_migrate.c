/* cmd_migrate.c — `tradebench migrate`.
 * Reads TB_DATABASE_URL (and the other TB_* settings, so a bad value is
 * reported the same way the server reports it), connects once, and runs the
 * migration runner, which is safe to call while a server starts or another
 * migrate runs (advisory lock). Output: one line per migration applied,
 * then a summary; errors on stderr. Wiring only. */
#include "cmd_migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "server/db.h"
#include "server/logger.h"
#include "server/migrate.h"
#include "server/settings.h"

static const char migrate_usage[] =
    "usage: tradebench migrate\n"
    "Applies the sql/ migrations built into this binary to $TB_DATABASE_URL\n"
    "(default " SETTINGS_DEFAULT_DATABASE_URL ").\n";

static void migrate_print(const struct embed_file *file, int version, double millis, void *ud)
{
    (void)ud;
    printf("applied %s (version %d, %.0f ms)\n", file->name, version, millis);
    fflush(stdout);
}

int cmd_migrate(int argc, char **argv)
{
    struct settings cfg;
    struct migrate_summary sum;
    char err[1024], where[256];
    int rc = 1;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(migrate_usage, stdout);
            return 0;
        }
        fprintf(stderr, "tradebench migrate: unknown argument '%s'\n%s", argv[i], migrate_usage);
        return 2;
    }
    if (settings_from_env(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "tradebench migrate: %s\n", err);
        return 2;
    }
    /* The runner logs through the logger; keep the CLI's stdout for results. */
    logger_init("migrate", cfg.log_level == LOG_LEVEL_INFO ? LOG_LEVEL_WARN : cfg.log_level);
    db_describe(cfg.database_url, where, sizeof where);
    PGconn *conn = db_connect(cfg.database_url, "tradebench-migrate", err, sizeof err);
    if (!conn) {
        fprintf(stderr, "tradebench migrate: cannot connect to %s: %s\n", where, err);
        goto out;
    }
    if (migrate_apply(conn, migrate_print, NULL, &sum, err, sizeof err) < 0) {
        fprintf(stderr, "tradebench migrate: %s\n", err);
        goto out;
    }
    printf("%s: schema at version %d (%d applied, %d already present)\n", where, sum.version,
           sum.applied, sum.present);
    rc = 0;
out:
    PQfinish(conn);
    settings_free(&cfg);
    return rc;
}
