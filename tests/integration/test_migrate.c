/*
 * test_migrate — the migration runner against a real PostgreSQL: applying
 * twice is a no-op, concurrent migrators serialise on the advisory lock, a
 * failing file rolls back and records nothing, transaction control inside a
 * file is refused, and the 001 schema's constraints and cascades hold.
 * Each test works in its own schema (search_path), dropped at the end.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "server/db.h"
#include "server/migrate.h"

static char schema[64];
static char *schema_ident;  /* quoted identifier, PQfreemem */

static PGconn *connect_in_schema(void)
{
    char err[512];
    const char *url = harness_db_url_or_skip();
    PGconn *c = db_connect(url, "tradebench-test", err, sizeof err);
    cr_assert_not_null(c, "connect: %s", err);
    const char *params[] = { schema };
    cr_assert_eq(db_command(c, "SELECT set_config('search_path', $1, false)", 1, params, err,
                            sizeof err),
                 0, "%s", err);
    return c;
}

static void exec_ddl(PGconn *c, const char *verb, const char *suffix)
{
    char sql[256], err[512];
    snprintf(sql, sizeof sql, "%s %s%s", verb, schema_ident, suffix);
    cr_assert_eq(db_command(c, sql, 0, NULL, err, sizeof err), 0, "%s: %s", sql, err);
}

/* Create a fresh private schema and return a connection using it. */
static PGconn *fresh_schema(const char *tag)
{
    char err[512];
    const char *url = harness_db_url_or_skip();
    PGconn *c = db_connect(url, "tradebench-test", err, sizeof err);
    cr_assert_not_null(c, "connect: %s", err);
    snprintf(schema, sizeof schema, "tbtest_%s_%ld", tag, (long)getpid());
    schema_ident = PQescapeIdentifier(c, schema, strlen(schema));
    exec_ddl(c, "DROP SCHEMA IF EXISTS", " CASCADE");
    exec_ddl(c, "CREATE SCHEMA", "");
    PQfinish(c);
    return connect_in_schema();
}

static void drop_schema(PGconn *c)
{
    exec_ddl(c, "DROP SCHEMA", " CASCADE");
    PQfreemem(schema_ident);
    schema_ident = NULL;
    PQfinish(c);
}

static int count_rows(PGconn *c, const char *sql)
{
    char err[512];
    PGresult *r = db_exec(c, sql, 0, NULL, PGRES_TUPLES_OK, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", sql, err);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

Test(migrate, embedded_apply_twice_is_a_noop)
{
    char err[1024];
    struct migrate_summary a, b;
    PGconn *c = fresh_schema("twice");
    cr_assert_eq(migrate_apply(c, NULL, NULL, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a.applied, (int)embed_migrations_count);
    cr_assert_eq(a.present, 0);
    cr_assert_eq(migrate_apply(c, NULL, NULL, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.applied, 0);
    cr_assert_eq(b.present, (int)embed_migrations_count);
    cr_assert_eq(b.version, a.version);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM schema_migrations"),
                 (int)embed_migrations_count);
    drop_schema(c);
}

static void *migrate_thread(void *arg)
{
    struct migrate_summary *sum = arg;
    char err[1024];
    PGconn *c = connect_in_schema();
    if (migrate_apply(c, NULL, NULL, sum, err, sizeof err) < 0)
        sum->applied = -1000;
    PQfinish(c);
    return NULL;
}

Test(migrate, concurrent_migrators_apply_each_file_once)
{
    enum { N = 4 };
    pthread_t t[N];
    struct migrate_summary sums[N];
    PGconn *c = fresh_schema("conc");
    memset(sums, 0, sizeof sums);
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, migrate_thread, &sums[i]), 0);
    int applied = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_assert_geq(sums[i].applied, 0, "migrator %d failed", i);
        applied += sums[i].applied;
    }
    cr_assert_eq(applied, (int)embed_migrations_count);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM schema_migrations"),
                 (int)embed_migrations_count);
    drop_schema(c);
}

Test(migrate, failing_file_rolls_back_and_records_nothing)
{
    char err[1024];
    struct migrate_summary s;
    PGconn *c = fresh_schema("fail");
    const struct embed_file bad[] = {
        { "001_ok.sql", "CREATE TABLE a (x int);", 23 },
        { "002_bad.sql", "CREATE TABLE b (y int); SELECT 1/0;", 35 },
    };
    cr_assert_eq(migrate_apply_files(c, bad, 2, NULL, NULL, &s, err, sizeof err), -1);
    cr_assert(strstr(err, "002_bad.sql") != NULL, "err: %s", err);
    cr_assert(strstr(err, "division by zero") != NULL, "err: %s", err);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM schema_migrations"), 1);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'b' AND "
                               "schemaname = current_schema()"),
                 0);
    const struct embed_file fixed[] = {
        { "001_ok.sql", "CREATE TABLE a (x int);", 23 },
        { "002_bad.sql", "CREATE TABLE b (y int);", 23 },
    };
    cr_assert_eq(migrate_apply_files(c, fixed, 2, NULL, NULL, &s, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(s.applied, 1);
    cr_assert_eq(s.present, 1);
    cr_assert_eq(s.version, 2);
    drop_schema(c);
}

Test(migrate, transaction_control_in_a_file_is_refused)
{
    char err[1024];
    PGconn *c = fresh_schema("txn");
    const struct embed_file tx[] = { { "001_tx.sql", "COMMIT; CREATE TABLE c (z int);", 31 } };
    cr_assert_eq(migrate_apply_files(c, tx, 1, NULL, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "transaction control") != NULL, "err: %s", err);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM schema_migrations"), 0);
    drop_schema(c);
}

Test(migrate, badly_named_or_unordered_files_are_refused_before_any_sql)
{
    char err[512];
    const struct embed_file names[] = { { "1_short.sql", "SELECT 1;", 9 } };
    const struct embed_file order[] = { { "002_b.sql", "SELECT 1;", 9 },
                                        { "001_a.sql", "SELECT 1;", 9 } };
    /* No connection needed: validation comes first. */
    cr_assert_eq(migrate_apply_files(NULL, names, 1, NULL, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "1_short.sql") != NULL, "err: %s", err);
    cr_assert_eq(migrate_apply_files(NULL, order, 2, NULL, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "001_a.sql") != NULL, "err: %s", err);
}

Test(migrate, schema_constraints_and_cascades)
{
    char err[1024];
    PGconn *c = fresh_schema("schema");
    cr_assert_eq(migrate_apply(c, NULL, NULL, NULL, err, sizeof err), 0, "%s", err);
    const char *bogus[] = { "bogus" };
    cr_assert_eq(db_command(c, "INSERT INTO runs (kind, status) VALUES ('run', $1)", 1, bogus, err,
                            sizeof err),
                 -1, "a bogus status was accepted");
    PGresult *r = db_exec(c,
                          "INSERT INTO runs (kind, job, params, idempotency_key) "
                          "VALUES ('run', 'EOD_SMALL', '{\"iterations\": 1}', 'k1') RETURNING id",
                          0, NULL, PGRES_TUPLES_OK, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    const char *id[] = { PQgetvalue(r, 0, 0) };
    cr_assert_eq(db_command(c,
                            "INSERT INTO orders (run_id, seq, ts, symbol, side, quantity, price, "
                            "notional, cost) VALUES ($1, 0, '2024-01-02', 'SYN000', 'BUY', 1.5, "
                            "100, 150, 0.01)",
                            1, id, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(db_command(c, "INSERT INTO metrics (run_id, name, value) VALUES ($1, 'sharpe', "
                               "NULL)",
                            1, id, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(db_command(c, "INSERT INTO runs (kind, idempotency_key) VALUES ('run', 'k1')", 0,
                            NULL, err, sizeof err),
                 -1, "a duplicate idempotency key was accepted");
    cr_assert_eq(db_command(c, "DELETE FROM runs WHERE id = $1", 1, id, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM orders"), 0);
    cr_assert_eq(count_rows(c, "SELECT count(*) FROM metrics"), 0);
    PQclear(r);
    drop_schema(c);
}
