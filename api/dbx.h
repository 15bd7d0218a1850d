/*
 * dbx — database access for request handlers: the pool thread's own
 * connection (or a 503 reply when PostgreSQL is unreachable), checked
 * PQexecParams in text or binary result format with one transparent
 * reconnect for reads, transactions that never leave the thread's
 * connection inside an aborted block, and decoders for binary columns.
 * Every failure is turned into a problem reply here, so handlers only test
 * for NULL / -1 and return. Never builds SQL from data.
 */
#ifndef TB_API_DBX_H
#define TB_API_DBX_H

#include <libpq-fe.h>
#include <stdint.h>

#include "server/http.h"

/* Result formats for dbx_query(). */
enum dbx_format { DBX_TEXT = 0, DBX_BINARY = 1 };

/* The calling thread's connection (see db_thread_conn), or NULL after
 * replying 503 database-unavailable (with Retry-After). Borrowed. */
PGconn *dbx_conn(const struct http_request *req, struct http_reply *rep);

/* A read-only statement: PQexecParams with text parameters (NULL entries
 * are SQL NULL) and the given result format; PGRES_TUPLES_OK expected. A
 * connection that turns out broken is re-opened and the statement retried
 * once (it is a read). Returns the result (caller PQclear()s) or NULL after
 * replying 503 (database gone) or 500 (anything else, logged). *conn is
 * updated when the connection was replaced. */
PGresult *dbx_read(PGconn **conn, struct http_reply *rep, const char *sql, int nparams,
                   const char *const *params, enum dbx_format fmt);

/* dbx_read() through a prepared statement: sql (a string with static
 * storage, which is also the cache key) is prepared once per server session
 * on the thread's connection and executed with PQexecPrepared, which skips
 * parsing and planning on every later call. For hot lookups only: a
 * prepared statement may run with a generic plan, which suits "WHERE id =
 * $1" or one text per filter shape (GET /runs), not "($1 IS NULL OR ...)"
 * optional-filter queries. */
PGresult *dbx_read_prepared(PGconn **conn, struct http_reply *rep, const char *sql, int nparams,
                            const char *const *params, enum dbx_format fmt);

/* The common read of a handler keyed by the {id} path parameter: parses it
 * (400 naming "id" when it is not a positive integer), runs the prepared
 * statement sql with it as $1, and replies 404 "no <what> with id N" when no
 * row comes back. Returns the result (>= 1 row; caller PQclear()s) or NULL
 * after replying. id_out (>= 24 bytes) receives the id as text. */
PGresult *dbx_read_by_id(const struct http_request *req, struct http_reply *rep, const char *sql,
                         const char *what, char *id_out);

/* A statement inside a transaction the caller opened with dbx_begin():
 * no retry. expect is PGRES_TUPLES_OK or PGRES_COMMAND_OK. On failure it
 * rolls back, replies (503/500) and returns NULL. */
PGresult *dbx_tx_exec(PGconn *conn, struct http_reply *rep, const char *sql, int nparams,
                      const char *const *params, ExecStatusType expect);

/* BEGIN / COMMIT / ROLLBACK. begin and commit return 0, or -1 after
 * replying (503/500; commit rolls back on failure). rollback never fails
 * visibly: it is the cleanup path. */
int dbx_begin(PGconn *conn, struct http_reply *rep);
int dbx_commit(PGconn *conn, struct http_reply *rep);
void dbx_rollback(PGconn *conn);

/* Reply 503 when conn is broken, else 500; logs what (context) and why. */
void dbx_reply_failure(PGconn *conn, struct http_reply *rep, const char *context,
                       const char *why);

/* Binary-format column decoders (network byte order). The column must be
 * of the named type and non-NULL; dbx_f8_or_nan gives NaN for NULL. */
int64_t dbx_i8(const PGresult *res, int row, int col);
int32_t dbx_i4(const PGresult *res, int row, int col);
double dbx_f8(const PGresult *res, int row, int col);
double dbx_f8_or_nan(const PGresult *res, int row, int col);

#endif
