/*
 * migrate — apply the versioned sql/NNN_name.sql migrations embedded in the
 * binary, in order, each in its own transaction, recording each in the
 * schema_migrations table. A session advisory lock serialises concurrent
 * migrators (server start, `tradebench migrate`), so applying twice or at
 * once is safe. Uses the caller's connection; never opens its own.
 */
#ifndef TB_MIGRATE_H
#define TB_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "embed.h"

/* The advisory lock key (pg_advisory_lock(bigint)) held while migrating. */
#define MIGRATE_LOCK_KEY "7402339126845310565"

struct migrate_summary {
    int applied;                 /* migrations applied by this call */
    int present;                 /* migrations found already applied */
    int version;                 /* highest version recorded in the database afterwards */
};

/* Called after each migration this call applied (not for ones present). */
typedef void (*migrate_report_fn)(const struct embed_file *file, int version, double millis,
                                  void *ud);

/* Apply the embedded migrations (embed_migrations). Returns 0 with *out
 * filled (out may be NULL), or -1 with err naming the failing file; a failed
 * migration is rolled back and leaves no schema_migrations row. */
int migrate_apply(PGconn *conn, migrate_report_fn report, void *ud, struct migrate_summary *out,
                  char *err, size_t errlen) __attribute__((warn_unused_result));

/* migrate_apply() for an explicit list, ascending by name (tests use it
 * with their own files in a private schema via search_path). */
int migrate_apply_files(PGconn *conn, const struct embed_file *files, size_t n,
                        migrate_report_fn report, void *ud, struct migrate_summary *out,
                        char *err, size_t errlen) __attribute__((warn_unused_result));

/* The version of a file named "NNN_name.sql" (3+ digits, then "_", then
 * [a-z0-9_]+, then ".sql"), or -1 when the name does not fit. */
int migrate_version_of(const char *name);

#endif
