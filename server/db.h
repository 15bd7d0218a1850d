/*
 * db — libpq helpers: connect, run one parameterised statement and check
 * its status, and a per-thread connection for request threads.
 * SQL goes through PQexecParams with $n placeholders only; every PGresult
 * is either returned to the caller (who PQclear()s it) or cleared here.
 * Never shares a PGconn between threads.
 */
#ifndef TB_DB_H
#define TB_DB_H

#include <libpq-fe.h>
#include <stddef.h>

/* Open a connection. conninfo is a URI or "key=value" string; defaults for
 * application_name and connect_timeout (5 s) apply unless it sets them.
 * Returns an open connection the caller PQfinish()es, or NULL with err. */
PGconn *db_connect(const char *conninfo, const char *app_name, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* PQexecParams(sql, nparams text params) and check the result status equals
 * expect (PGRES_TUPLES_OK or PGRES_COMMAND_OK). Returns the result (caller
 * PQclear()s) or NULL with err filled and nothing left to clear. */
PGresult *db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                  ExecStatusType expect, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* db_exec() for statements whose result is not needed: 0 or -1 with err. */
int db_command(PGconn *conn, const char *sql, int nparams, const char *const *params,
               char *err, size_t errlen) __attribute__((warn_unused_result));

/* The calling thread's own connection to conninfo, opened on first use and
 * re-opened when it went bad; closed automatically when the thread exits.
 * Borrowed: do not PQfinish() it. NULL with err when the DB is unreachable. */
PGconn *db_thread_conn(const char *conninfo, const char *app_name, char *err, size_t errlen);

/* "user@host:port/dbname" for logs: never contains the password. */
void db_describe(const char *conninfo, char *out, size_t outlen);

/* Copy PQerrorMessage-style text into err on one line (newlines, tabs and
 * runs of spaces become single spaces, trailing space dropped). */
void db_error_copy(char *err, size_t errlen, const char *prefix, const char *msg);

#endif
