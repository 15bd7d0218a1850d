/*
 * results — keyset pages over orders (by seq, the artifact order the worker
 * stored) and equity_points (by ts), rendered to CSV or JSON. A CSV
 * download is a struct results_stream: the handler reads and renders the
 * first page (so failures before the first byte are proper problem
 * replies), then libmicrohttpd pulls the rest through results_stream_read()
 * on the connection's pool thread, one page at a time, with that thread's
 * own connection. Pages are independent statements (no cursor, no open
 * transaction), so a pool thread serving other requests in between never
 * sees a half-finished transaction; a succeeded run's rows never change.
 */
#include "results.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx.h"
#include "metrics.h"
#include "numfmt.h"
#include "pagination.h"
#include "params.h"
#include "routes.h"
#include "runview.h"
#include "server/buf.h"
#include "server/db.h"
#include "server/logger.h"
#include "server/mem.h"
#include "timeutil.h"

/* Column order is what results_render_*() read. */
static const char RESULTS_SQL_ORDERS[] =
    "SELECT seq, extract(epoch FROM ts)::bigint, symbol, side, quantity, price, notional, cost "
    "FROM orders WHERE run_id = $1::bigint AND seq > $2::int "
    "AND ($3::text IS NULL OR symbol = $3::text) ORDER BY seq LIMIT $4::int";

static const char RESULTS_SQL_EQUITY[] =
    "SELECT extract(epoch FROM ts)::bigint, equity, cash, exposure, drawdown, ret, benchmark "
    "FROM equity_points WHERE run_id = $1::bigint "
    "AND ($2::bigint IS NULL OR ts > to_timestamp($2::bigint)) ORDER BY ts LIMIT $3::int";

static const char RESULTS_SQL_METRICS[] = "SELECT name, value FROM metrics WHERE run_id = $1::bigint";

static const char RESULTS_ORDERS_HEADER[] = "ts,symbol,side,quantity,price,notional,cost\n";
static const char RESULTS_EQUITY_HEADER[] = "ts,equity,cash,exposure,drawdown,return\n";

#define RESULTS_BUF_MAX ((size_t)1 << 30) /* a page is ~0.5 MB; this is only a guard */

/* Query arguments for one page; the strings live in the struct. */
struct results_args {
    char run_id[24];
    char after[24];
    char limit[16];
    const char *values[4];
    int n;
};

/* after < 0: from the start. */
static const char *results_args_fill(struct results_args *a, enum results_table t, int64_t run_id,
                                     int64_t after, int has_after, const char *symbol, int limit)
{
    snprintf(a->run_id, sizeof a->run_id, "%" PRId64, run_id);
    snprintf(a->limit, sizeof a->limit, "%d", limit);
    a->values[0] = a->run_id;
    if (t == RESULTS_ORDERS) {
        snprintf(a->after, sizeof a->after, "%" PRId64, has_after ? after : (int64_t)-1);
        a->values[1] = a->after;
        a->values[2] = symbol;
        a->values[3] = a->limit;
        a->n = 4;
        return RESULTS_SQL_ORDERS;
    }
    snprintf(a->after, sizeof a->after, "%" PRId64, after);
    a->values[1] = has_after ? a->after : NULL;
    a->values[2] = a->limit;
    a->n = 3;
    return RESULTS_SQL_EQUITY;
}

/* ---- CSV rendering ----------------------------------------------------- */

static void results_put(struct buf *b, const char *s, size_t n)
{
    if (buf_append(b, s, n) < 0)
        abort(); /* RESULTS_BUF_MAX is far beyond one page: a bug */
}

static void results_put_num(struct buf *b, double x)
{
    char num[40];
    int n = nf_double(num, x);
    results_put(b, num, (size_t)n);
}

static void results_put_ts(struct buf *b, int64_t ts, int date_only)
{
    char t[24];
    int n = tu_format(ts, date_only, t);
    results_put(b, t, (size_t)n);
}

/* Append rows [0, n) of an orders/equity page as CSV lines. */
static void results_render_csv(struct buf *b, enum results_table t, const PGresult *res, int n,
                               int date_only)
{
    for (int i = 0; i < n; i++) {
        if (t == RESULTS_ORDERS) {
            results_put_ts(b, dbx_i8(res, i, 1), date_only);
            results_put(b, ",", 1);
            results_put(b, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2));
            results_put(b, ",", 1);
            results_put(b, PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3));
            for (int c = 4; c <= 7; c++) {
                results_put(b, ",", 1);
                results_put_num(b, dbx_f8(res, i, c));
            }
        } else {
            results_put_ts(b, dbx_i8(res, i, 0), date_only);
            for (int c = 1; c <= 5; c++) {
                results_put(b, ",", 1);
                results_put_num(b, dbx_f8_or_nan(res, i, c)); /* NULL ret -> empty */
            }
        }
        results_put(b, "\n", 1);
    }
}

/* The keyset key of row i (seq for orders, ts for equity). */
static int64_t results_key(enum results_table t, const PGresult *res, int i)
{
    return t == RESULTS_ORDERS ? (int64_t)dbx_i4(res, i, 0) : dbx_i8(res, i, 0);
}

/* ---- streaming ----------------------------------------------------------- */

struct results_stream {
    char *conninfo;              /* for the pool thread's own connection */
    enum results_table table;    /* what is streamed */
    int64_t run_id;
    int date_only;               /* 1d: YYYY-MM-DD, else ISO-8601 */
    char *symbol;                /* orders filter or NULL */
    int64_t after;               /* key of the last row rendered */
    int has_after;               /* 0 until a row was rendered */
    int eof;                     /* the last page has been rendered */
    struct buf out;              /* rendered bytes not yet sent start at off */
    size_t off;
};

static void results_stream_free(void *cls)
{
    struct results_stream *st = cls;
    buf_free(&st->out);
    free(st->conninfo);
    free(st->symbol);
    free(st);
}

/* Render a fetched page into st->out and advance the keyset. */
static void results_stream_take(struct results_stream *st, const PGresult *res)
{
    int n = PQntuples(res);
    results_render_csv(&st->out, st->table, res, n, st->date_only);
    if (n > 0) {
        st->after = results_key(st->table, res, n - 1);
        st->has_after = 1;
    }
    if (n < RESULTS_PAGE_ROWS)
        st->eof = 1;
}

static ssize_t results_stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
    struct results_stream *st = cls;
    (void)pos;
    while (st->off == st->out.len) {
        if (st->eof)
            return HTTP_STREAM_END;
        char err[512];
        struct results_args a;
        const char *sql = results_args_fill(&a, st->table, st->run_id, st->after, st->has_after,
                                            st->symbol, RESULTS_PAGE_ROWS);
        PGconn *conn = db_thread_conn(st->conninfo, "tradebench-server", err, sizeof err);
        PGresult *res = conn ? PQexecParams(conn, sql, a.n, NULL, a.values, NULL, NULL, 1) : NULL;
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
            log_error("run %" PRId64 ": streaming %s stopped: %s", st->run_id,
                      st->table == RESULTS_ORDERS ? "orders" : "equity",
                      res ? PQresultErrorMessage(res) : (conn ? PQerrorMessage(conn) : err));
            PQclear(res);
            return HTTP_STREAM_ERROR;
        }
        st->out.len = 0;
        st->off = 0;
        results_stream_take(st, res);
        PQclear(res);
    }
    return (ssize_t)buf_take(&st->out, &st->off, dst, max);
}

void results_reply_csv(const struct http_request *req, struct http_reply *rep,
                       enum results_table table, int64_t run_id, int date_only,
                       const char *symbol, const char *filename)
{
    const struct api_context *app = req->app;
    struct results_args a;
    char disposition[192];
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    const char *sql = results_args_fill(&a, table, run_id, 0, 0, symbol, RESULTS_PAGE_ROWS);
    PGresult *res = dbx_read(&conn, rep, sql, a.n, a.values, DBX_BINARY);
    if (!res)
        return;
    struct results_stream *st = mem_zalloc(sizeof *st);
    st->conninfo = mem_strdup(app->settings->database_url);
    st->table = table;
    st->run_id = run_id;
    st->date_only = date_only;
    st->symbol = symbol ? mem_strdup(symbol) : NULL;
    buf_init(&st->out, RESULTS_BUF_MAX);
    if (table == RESULTS_ORDERS)
        results_put(&st->out, RESULTS_ORDERS_HEADER, sizeof RESULTS_ORDERS_HEADER - 1);
    else
        results_put(&st->out, RESULTS_EQUITY_HEADER, sizeof RESULTS_EQUITY_HEADER - 1);
    results_stream_take(st, res);
    PQclear(res);
    http_reply_stream_take(rep, 200, "text/csv; charset=utf-8", results_stream_read,
                           results_stream_free, st);
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
    http_reply_header(rep, "Content-Disposition", disposition);
}

/* ---- JSON pages ------------------------------------------------------------ */

static json_t *results_row_json(enum results_table t, const PGresult *res, int i, int date_only)
{
    char ts[24];
    if (t == RESULTS_ORDERS) {
        tu_format(dbx_i8(res, i, 1), date_only, ts);
        return json_pack("{s:i, s:s, s:s, s:s, s:f, s:f, s:f, s:f}", "seq",
                         (int)dbx_i4(res, i, 0), "ts", ts, "symbol", PQgetvalue(res, i, 2),
                         "side", PQgetvalue(res, i, 3), "quantity", dbx_f8(res, i, 4), "price",
                         dbx_f8(res, i, 5), "notional", dbx_f8(res, i, 6), "cost",
                         dbx_f8(res, i, 7));
    }
    tu_format(dbx_i8(res, i, 0), date_only, ts);
    return json_pack("{s:s, s:f, s:f, s:f, s:f, s:o, s:o}", "ts", ts, "equity", dbx_f8(res, i, 1),
                     "cash", dbx_f8(res, i, 2), "exposure", dbx_f8(res, i, 3), "drawdown",
                     dbx_f8(res, i, 4), "return",
                     PQgetisnull(res, i, 5) ? json_null() : json_real(dbx_f8(res, i, 5)),
                     "benchmark",
                     PQgetisnull(res, i, 6) ? json_null() : json_real(dbx_f8(res, i, 6)));
}

void results_reply_page(const struct http_request *req, struct http_reply *rep,
                        enum results_table table, int64_t run_id, int date_only,
                        const char *symbol, const char *cursor, int limit)
{
    enum page_kind kind = table == RESULTS_ORDERS ? PAGE_ORDERS : PAGE_EQUITY;
    int64_t after = 0, unused = 0;
    struct results_args a;
    char next[PAGE_CURSOR_MAX];

    if (cursor && page_cursor_decode(kind, cursor, &after, &unused) < 0) {
        params_reply_invalid(rep, "cursor", "is not a cursor of this list (use next_cursor "
                                            "from the previous page as-is)");
        return;
    }
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    const char *sql = results_args_fill(&a, table, run_id, after, cursor != NULL, symbol,
                                        limit + 1);
    PGresult *res = dbx_read(&conn, rep, sql, a.n, a.values, DBX_BINARY);
    if (!res)
        return;
    int n = PQntuples(res), shown = n > limit ? limit : n;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++)
        json_array_append_new(items, results_row_json(table, res, i, date_only));
    json_t *doc = json_pack("{s:I, s:o}", "run_id", (json_int_t)run_id, "items", items);
    if (n > limit) {
        page_cursor_encode(kind, results_key(table, res, shown - 1), 0, next);
        json_object_set_new(doc, "next_cursor", json_string(next));
    } else {
        json_object_set_new(doc, "next_cursor", json_null());
    }
    PQclear(res);
    http_reply_json_take(rep, 200, doc);
}

/* ---- metrics.json ------------------------------------------------------------- */

char *results_metrics_json(const struct http_request *req, struct http_reply *rep,
                           int64_t run_id, size_t *len)
{
    char id[24];
    const char *args[1] = { id };
    snprintf(id, sizeof id, "%" PRId64, run_id);
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return NULL;
    PGresult *res = dbx_read(&conn, rep, RESULTS_SQL_METRICS, 1, args, DBX_BINARY);
    if (!res)
        return NULL;
    /* Same path as the summary in GET /runs/{id}: rows -> tb_metrics -> JSON. */
    int n = PQntuples(res);
    const char **names = mem_alloc(sizeof *names * (size_t)(n ? n : 1));
    double *values = mem_alloc(sizeof *values * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        names[i] = PQgetvalue(res, i, 0);
        values[i] = dbx_f8_or_nan(res, i, 1);
    }
    json_t *m = runview_metrics_from(names, values, (size_t)n);
    free(names);
    free(values);
    PQclear(res);
    /* Exactly art_write_metrics_json(): JSON_INDENT(2) | JSON_REAL_PRECISION(17), then "\n". */
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(m);
    if (!text) {
        http_reply_error(rep, PROBLEM_INTERNAL, "metrics.json could not be serialised");
        return NULL;
    }
    size_t tlen = strlen(text);
    char *out = mem_alloc(tlen + 2);
    memcpy(out, text, tlen);
    out[tlen] = '\n';
    out[tlen + 1] = '\0';
    free(text);
    *len = tlen + 1;
    return out;
}
