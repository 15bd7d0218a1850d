/*
 * db — thin, checked layer over libpq.
 * Owns: the pthread key holding each request thread's PGconn (closed by the
 * key destructor when libmicrohttpd joins its pool). Server notices go to
 * the logger at debug level instead of libpq's default stderr printer.
 * Never builds SQL text from data: values travel as $n parameters.
 */
#include "db.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "logger.h"

void db_error_copy(char *err, size_t errlen, const char *prefix, const char *msg)
{
    if (!err || errlen == 0)
        return;
    size_t o = 0;
    int space = 0;
    if (prefix) {
        snprintf(err, errlen, "%s", prefix);
        o = strlen(err);
    }
    for (const char *s = msg ? msg : "unknown error"; *s && o + 1 < errlen; s++) {
        if (*s == '\n' || *s == '\t' || *s == '\r' || *s == ' ') {
            space = 1;
            continue;
        }
        if (space && o > 0 && o + 2 < errlen)
            err[o++] = ' ';
        space = 0;
        err[o++] = *s;
    }
    err[o] = '\0';
}

static void db_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgres: %s", message);
}

PGconn *db_connect(const char *conninfo, const char *app_name, char *err, size_t errlen)
{
    /* Defaults first: settings in the expanded conninfo (last) override them.
     * TCP keepalives (idle 10 s, then 3 probes 5 s apart) and a 30 s
     * tcp_user_timeout bound how long a silent network partition can hold a
     * thread on a dead connection; Unix-socket connections ignore them. */
    const char *keys[] = { "application_name", "connect_timeout", "keepalives", "keepalives_idle",
                           "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                           "dbname", NULL };
    const char *vals[] = { app_name ? app_name : "tradebench", "5", "1", "10", "5", "3", "30000",
                           conninfo, NULL };
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        db_error_copy(err, errlen, NULL, "libpq could not allocate a connection");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        db_error_copy(err, errlen, NULL, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, db_notice, NULL);
    return conn;
}

PGresult *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                  ExecStatusType expect, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
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

int db_command(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!res) {
        db_error_copy(err, errlen, NULL, PQerrorMessage(conn));
        return -1;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);
        db_error_copy(err, errlen, NULL, (msg && *msg) ? msg : PQresStatus(st));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static pthread_key_t db_thread_key;
static pthread_once_t db_thread_once = PTHREAD_ONCE_INIT;

static void db_thread_close(void *conn)
{
    PQfinish(conn);
}

static void db_thread_key_init(void)
{
    if (pthread_key_create(&db_thread_key, db_thread_close) != 0)
        abort();
}

PGconn *db_thread_conn(const char *conninfo, const char *app_name, char *err, size_t errlen)
{
    pthread_once(&db_thread_once, db_thread_key_init);
    PGconn *conn = pthread_getspecific(db_thread_key);
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return conn;
    if (conn) {
        PQfinish(conn);
        pthread_setspecific(db_thread_key, NULL);
    }
    conn = db_connect(conninfo, app_name, err, errlen);
    if (conn)
        pthread_setspecific(db_thread_key, conn);
    return conn;
}

void db_describe(const char *conninfo, char *out, size_t outlen)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    const char *user = NULL, *host = NULL, *port = NULL, *dbname = NULL;
    if (!opts) {
        snprintf(out, outlen, "(unparsable conninfo: %s)", errmsg ? errmsg : "?");
        PQfreemem(errmsg);
        return;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        else if (strcmp(o->keyword, "host") == 0 || (!host && strcmp(o->keyword, "hostaddr") == 0))
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            dbname = o->val;
    }
    snprintf(out, outlen, "%s@%s:%s/%s", user ? user : "(default user)",
             host ? host : "(local socket)", port ? port : "5432", dbname ? dbname : "(default db)");
    PQconninfoFree(opts);
}
