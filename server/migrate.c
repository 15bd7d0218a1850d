/*
 * migrate — the migration runner.
 * Order of work: take pg_advisory_lock, create schema_migrations if absent,
 * then per file: BEGIN, skip if its version is recorded, run its text,
 * record (version, name, checksum), COMMIT; finally unlock. Migration files
 * are trusted build-time text holding several statements, so they are the
 * one place PQexec runs SQL; everything else here uses $n parameters.
 */
#include "migrate.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "logger.h"

static const char MIGRATE_SQL_LOCK[] = "SELECT pg_advisory_lock($1::bigint)";
static const char MIGRATE_SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1::bigint)";
static const char MIGRATE_SQL_CREATE[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
static const char MIGRATE_SQL_FIND[] = "SELECT checksum FROM schema_migrations WHERE version = $1";
static const char MIGRATE_SQL_RECORD[] =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";
static const char MIGRATE_SQL_MAX[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";

int migrate_version_of(const char *name)
{
    size_t digits = 0, len = strlen(name);
    while (isdigit((unsigned char)name[digits]))
        digits++;
    if (digits < 3 || digits > 6 || name[digits] != '_' || len < digits + 6 ||
        strcmp(name + len - 4, ".sql") != 0)
        return -1;
    for (size_t i = digits + 1; i < len - 4; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '_'))
            return -1;
    }
    return atoi(name);
}

/* FNV-1a 64 of the file text, as 16 hex digits: detects edited migrations. */
static void migrate_checksum(const struct embed_file *f, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < f->len; i++) {
        h ^= (unsigned char)f->data[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016" PRIx64, h);
}

static double migrate_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void migrate_rollback(PGconn *conn)
{
    PGresult *res = PQexec(conn, "ROLLBACK");
    PQclear(res);
}

/* Apply one file unless recorded. Returns 1 applied, 0 present, -1 error. */
static int migrate_one(PGconn *conn, const struct embed_file *f, int version, char *err,
                       size_t errlen)
{
    char vbuf[16], sum[17], dberr[512];
    const char *params[3];
    PGresult *res = NULL;
    int rc = -1;

    snprintf(vbuf, sizeof vbuf, "%d", version);
    migrate_checksum(f, sum);
    if (db_command(conn, "BEGIN", 0, NULL, dberr, sizeof dberr) < 0) {
        snprintf(err, errlen, "%s: BEGIN failed: %s", f->name, dberr);
        return -1;
    }
    params[0] = vbuf;
    res = db_exec(conn, MIGRATE_SQL_FIND, 1, params, PGRES_TUPLES_OK, dberr, sizeof dberr);
    if (!res) {
        snprintf(err, errlen, "%s: reading schema_migrations failed: %s", f->name, dberr);
        goto out;
    }
    if (PQntuples(res) > 0) {
        if (strcmp(PQgetvalue(res, 0, 0), sum) != 0)
            log_warn("migration %s was edited after it was applied (checksum %s, recorded %s); "
                     "write a new migration instead",
                     f->name, sum, PQgetvalue(res, 0, 0));
        rc = 0;
        goto out;
    }
    PQclear(res);

    /* The file itself: several statements, no parameters (see note above). */
    res = PQexec(conn, f->data);
    if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK &&
                 PQresultStatus(res) != PGRES_TUPLES_OK)) {
        db_error_copy(dberr, sizeof dberr, NULL,
                      res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        snprintf(err, errlen, "%s failed: %s", f->name, dberr);
        goto out;
    }
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        snprintf(err, errlen, "%s must not contain transaction control (BEGIN/COMMIT)", f->name);
        goto out;
    }
    PQclear(res);
    res = NULL;

    params[1] = f->name;
    params[2] = sum;
    if (db_command(conn, MIGRATE_SQL_RECORD, 3, params, dberr, sizeof dberr) < 0) {
        snprintf(err, errlen, "%s: recording it failed: %s", f->name, dberr);
        goto out;
    }
    if (db_command(conn, "COMMIT", 0, NULL, dberr, sizeof dberr) < 0) {
        snprintf(err, errlen, "%s: COMMIT failed: %s", f->name, dberr);
        goto out;
    }
    return 1;

out:
    PQclear(res);
    if (rc < 0 || PQtransactionStatus(conn) != PQTRANS_IDLE)
        migrate_rollback(conn);
    return rc;
}

int migrate_apply_files(PGconn *conn, const struct embed_file *files, size_t n,
                        migrate_report_fn report, void *ud, struct migrate_summary *out,
                        char *err, size_t errlen)
{
    struct migrate_summary sum = { 0, 0, 0 };
    const char *key[] = { MIGRATE_LOCK_KEY };
    char dberr[512];
    int rc = -1, locked = 0, prev = 0;
    PGresult *res = NULL;

    for (size_t i = 0; i < n; i++) {
        int v = migrate_version_of(files[i].name);
        if (v <= 0 || v <= prev) {
            snprintf(err, errlen, "migration file name %s: %s", files[i].name,
                     v <= 0 ? "expected NNN_lowercase_name.sql with NNN >= 001"
                            : "version not strictly above the previous file's");
            return -1;
        }
        prev = v;
    }
    if (db_command(conn, MIGRATE_SQL_LOCK, 1, key, dberr, sizeof dberr) < 0) {
        snprintf(err, errlen, "taking the migration lock failed: %s", dberr);
        return -1;
    }
    locked = 1;
    if (db_command(conn, MIGRATE_SQL_CREATE, 0, NULL, dberr, sizeof dberr) < 0) {
        snprintf(err, errlen, "creating schema_migrations failed: %s", dberr);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int version = migrate_version_of(files[i].name);
        double t0 = migrate_now_ms();
        int r = migrate_one(conn, &files[i], version, err, errlen);
        if (r < 0)
            goto out;
        if (r == 1) {
            sum.applied++;
            log_info("applied migration %s", files[i].name);
            if (report)
                report(&files[i], version, migrate_now_ms() - t0, ud);
        } else {
            sum.present++;
        }
    }
    res = db_exec(conn, MIGRATE_SQL_MAX, 0, NULL, PGRES_TUPLES_OK, dberr, sizeof dberr);
    if (!res) {
        snprintf(err, errlen, "reading the schema version failed: %s", dberr);
        goto out;
    }
    sum.version = atoi(PQgetvalue(res, 0, 0));
    if (sum.version > prev)
        log_warn("database schema version %d is newer than this binary's (%d)", sum.version, prev);
    rc = 0;

out:
    PQclear(res);
    if (locked && db_command(conn, MIGRATE_SQL_UNLOCK, 1, key, dberr, sizeof dberr) < 0)
        log_warn("releasing the migration lock failed: %s", dberr);
    if (rc == 0 && out)
        *out = sum;
    return rc;
}

int migrate_apply(PGconn *conn, migrate_report_fn report, void *ud, struct migrate_summary *out,
                  char *err, size_t errlen)
{
    return migrate_apply_files(conn, embed_migrations, embed_migrations_count, report, ud, out,
                               err, errlen);
}
