/*
 * dbx — handler-side libpq helpers. The HTTP pool threads each own one
 * connection (server/db.c keeps it in a pthread key); after a database
 * restart that connection is dead but libpq only notices on the next
 * statement, so reads are retried once on a fresh connection and only a
 * second failure becomes 503. Writes are never retried: the caller's
 * transaction simply fails (503) and the client may repeat it, safely when
 * it sent an Idempotency-Key. Hot lookups use statements prepared once per
 * backend session: a thread-local cache remembers which SQL texts are
 * prepared on which backend (by PID), so a reconnect re-prepares.
 */
#include "dbx.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "routes.h"
#include "server/db.h"
#include "server/logger.h"

#define DBX_APP_NAME "tradebench-server"

PGconn *dbx_conn(const struct http_request *req, struct http_reply *rep)
{
    const struct api_context *app = req->app;
    char err[512];
    PGconn *conn = db_thread_conn(app->settings->database_url, DBX_APP_NAME, err, sizeof err);
    if (!conn) {
        http_reply_error(rep, PROBLEM_DB_UNAVAILABLE, "database unreachable: %s", err);
        http_reply_header(rep, "Retry-After", "5");
    }
    return conn;
}

void dbx_reply_failure(PGconn *conn, struct http_reply *rep, const char *context, const char *why)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        log_warn("%s: database connection lost: %s", context, why);
        http_reply_error(rep, PROBLEM_DB_UNAVAILABLE, "database connection lost: %s", why);
        http_reply_header(rep, "Retry-After", "5");
        return;
    }
    log_error("%s: %s", context, why);
    http_reply_error(rep, PROBLEM_INTERNAL, "database error while %s", context);
}

/* PQexecParams + status check; NULL with err on failure. */
static PGresult *dbx_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                          int fmt, ExecStatusType expect, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, fmt);
    if (!res) {
        db_error_copy(err, errlen, NULL, PQerrorMessage(conn));
        return NULL;
    }
    if (PQresultStatus(res) != expect) {
        const char *msg = PQresultErrorMessage(res);
        db_error_copy(err, errlen, NULL, (msg && *msg) ? msg : PQresStatus(PQresultStatus(res)));
        PQclear(res);
        return NULL;
    }
    return res;
}

PGresult *dbx_read(PGconn **conn, struct http_reply *rep, const char *sql, int nparams,
                   const char *const *params, enum dbx_format fmt)
{
    char err[512];
    PGresult *res = dbx_exec(*conn, sql, nparams, params, (int)fmt, PGRES_TUPLES_OK, err,
                             sizeof err);
    if (res)
        return res;
    if (PQstatus(*conn) != CONNECTION_OK) {
        /* The thread's connection died (e.g. PostgreSQL restarted): reopen once. */
        PQreset(*conn);
        if (PQstatus(*conn) == CONNECTION_OK) {
            res = dbx_exec(*conn, sql, nparams, params, (int)fmt, PGRES_TUPLES_OK, err,
                           sizeof err);
            if (res)
                return res;
        }
    }
    dbx_reply_failure(*conn, rep, "reading", err);
    return NULL;
}

#define DBX_PREPARED_MAX 64      /* distinct prepared statements per thread (GET /runs alone has 32 shapes) */

/* What this pool thread has prepared on its current backend. */
struct dbx_prepared {
    int backend_pid;             /* session the names below exist in (0: none) */
    const char *sql[DBX_PREPARED_MAX]; /* statement texts (static), index = name */
    size_t n;
};

static _Thread_local struct dbx_prepared dbx_prep;

/* Prepare sql on conn unless this session has it; its name into name. */
static int dbx_prepare(PGconn *conn, const char *sql, int nparams, char *name, size_t n,
                       char *err, size_t errlen)
{
    int pid = PQbackendPID(conn);
    if (pid != dbx_prep.backend_pid) {
        dbx_prep.backend_pid = pid;
        dbx_prep.n = 0;
    }
    for (size_t i = 0; i < dbx_prep.n; i++) {
        if (dbx_prep.sql[i] == sql) {
            snprintf(name, n, "tb_api_%zu", i);
            return 0;
        }
    }
    if (dbx_prep.n == DBX_PREPARED_MAX) {
        db_error_copy(err, errlen, NULL, "too many prepared statements");
        return -1;
    }
    snprintf(name, n, "tb_api_%zu", dbx_prep.n);
    PGresult *res = PQprepare(conn, name, sql, nparams, NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        db_error_copy(err, errlen, NULL, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    dbx_prep.sql[dbx_prep.n++] = sql;
    return 0;
}

static PGresult *dbx_exec_prepared(PGconn *conn, const char *sql, int nparams,
                                   const char *const *params, int fmt, char *err, size_t errlen)
{
    char name[32];
    if (dbx_prepare(conn, sql, nparams, name, sizeof name, err, errlen) < 0)
        return NULL;
    PGresult *res = PQexecPrepared(conn, name, nparams, params, NULL, NULL, fmt);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "26000") == 0) {
        /* Unknown statement: a new session that happens to reuse the PID. */
        PQclear(res);
        dbx_prep.backend_pid = 0;
        if (dbx_prepare(conn, sql, nparams, name, sizeof name, err, errlen) < 0)
            return NULL;
        res = PQexecPrepared(conn, name, nparams, params, NULL, NULL, fmt);
        if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
            return res;
    }
    db_error_copy(err, errlen, NULL, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    PQclear(res);
    return NULL;
}

PGresult *dbx_read_prepared(PGconn **conn, struct http_reply *rep, const char *sql, int nparams,
                            const char *const *params, enum dbx_format fmt)
{
    char err[512];
    PGresult *res = dbx_exec_prepared(*conn, sql, nparams, params, (int)fmt, err, sizeof err);
    if (res)
        return res;
    if (PQstatus(*conn) != CONNECTION_OK) {
        PQreset(*conn); /* a new session: dbx_prepare() sees the new PID */
        if (PQstatus(*conn) == CONNECTION_OK) {
            res = dbx_exec_prepared(*conn, sql, nparams, params, (int)fmt, err, sizeof err);
            if (res)
                return res;
        }
    }
    dbx_reply_failure(*conn, rep, "reading", err);
    return NULL;
}

PGresult *dbx_tx_exec(PGconn *conn, struct http_reply *rep, const char *sql, int nparams,
                      const char *const *params, ExecStatusType expect)
{
    char err[512];
    PGresult *res = dbx_exec(conn, sql, nparams, params, 0, expect, err, sizeof err);
    if (!res) {
        dbx_rollback(conn);
        dbx_reply_failure(conn, rep, "writing", err);
    }
    return res;
}

int dbx_begin(PGconn *conn, struct http_reply *rep)
{
    char err[512];
    PGresult *res = dbx_exec(conn, "BEGIN", 0, NULL, 0, PGRES_COMMAND_OK, err, sizeof err);
    if (!res && PQstatus(conn) != CONNECTION_OK) {
        PQreset(conn); /* nothing was done yet: a fresh connection is safe */
        if (PQstatus(conn) == CONNECTION_OK)
            res = dbx_exec(conn, "BEGIN", 0, NULL, 0, PGRES_COMMAND_OK, err, sizeof err);
    }
    if (!res) {
        dbx_reply_failure(conn, rep, "starting a transaction", err);
        return -1;
    }
    PQclear(res);
    return 0;
}

int dbx_commit(PGconn *conn, struct http_reply *rep)
{
    char err[512];
    PGresult *res = dbx_exec(conn, "COMMIT", 0, NULL, 0, PGRES_COMMAND_OK, err, sizeof err);
    if (!res) {
        dbx_rollback(conn);
        dbx_reply_failure(conn, rep, "committing", err);
        return -1;
    }
    PQclear(res);
    return 0;
}

void dbx_rollback(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) == PQTRANS_IDLE)
        return;
    PGresult *res = PQexec(conn, "ROLLBACK");
    PQclear(res);
}

static uint64_t dbx_be(const PGresult *res, int row, int col, int len)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    if (PQgetlength(res, row, col) != len)
        return 0;
    for (int i = 0; i < len; i++)
        v = (v << 8) | p[i];
    return v;
}

int64_t dbx_i8(const PGresult *res, int row, int col)
{
    return (int64_t)dbx_be(res, row, col, 8);
}

int32_t dbx_i4(const PGresult *res, int row, int col)
{
    return (int32_t)(uint32_t)dbx_be(res, row, col, 4);
}

double dbx_f8(const PGresult *res, int row, int col)
{
    uint64_t bits = dbx_be(res, row, col, 8);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

double dbx_f8_or_nan(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NAN : dbx_f8(res, row, col);
}

PGresult *dbx_read_by_id(const struct http_request *req, struct http_reply *rep, const char *sql,
                         const char *what, char *id_out)
{
    int64_t run_id;
    if (params_id(req, rep, "id", &run_id) < 0)
        return NULL;
    snprintf(id_out, 24, "%" PRId64, run_id);
    const char *args[1] = { id_out };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return NULL;
    PGresult *res = dbx_read_prepared(&conn, rep, sql, 1, args, DBX_TEXT);
    if (res && PQntuples(res) == 0) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "no %s with id %s", what, id_out);
        PQclear(res);
        return NULL;
    }
    return res;
}
