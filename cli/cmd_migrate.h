/* cmd_migrate.h — `tradebench migrate`: apply the embedded sql/ migrations
 * to TB_DATABASE_URL. Lives beside the engine commands but uses only
 * tb_service (server/migrate.h); never touches the engine. */
#ifndef TB_CLI_CMD_MIGRATE_H
#define TB_CLI_CMD_MIGRATE_H

/* argv holds the arguments after "migrate" (argc may be 0). Prints each
 * migration applied and the resulting schema version on stdout. Returns 0
 * on success, 2 for bad usage or configuration, 1 when the database is
 * unreachable or a migration fails. */
int cmd_migrate(int argc, char **argv);

#endif
