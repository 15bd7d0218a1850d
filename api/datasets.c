/*
 * datasets — CSV streaming of dataset_rows (see datasets.h). Same shape as
 * results.c's orders/equity streams: the handler renders the first page,
 * then libmicrohttpd pulls the rest through datasets_stream_read() on the
 * connection's pool thread, one independent statement per page on that
 * thread's own connection. A stored dataset never changes (it is written
 * once, in its run's results transaction), so pages are consistent; a
 * dataset deleted mid-download ends the stream early (the client sees a
 * truncated chunked body).
 */
#include "datasets.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbx.h"
#include "ml_dataset.h"
#include "numfmt.h"
#include "routes.h"
#include "server/buf.h"
#include "server/db.h"
#include "server/logger.h"
#include "server/mem.h"
#include "timeutil.h"

/* Column order is what datasets_render() reads. */
static const char DATASETS_SQL_PAGE[] =
    "SELECT seq, extract(epoch FROM ts)::bigint, symbol, ret_1, ret_5, ret_20, sma20_ratio,"
    " sma50_ratio, ema_spread, atr14_pct, rsi14, vol20, volume_ratio, label::int,"
    " extract(epoch FROM t1)::bigint, ret"
    " FROM dataset_rows WHERE dataset_id = $1::bigint AND seq > $2::int ORDER BY seq LIMIT $3::int";

static const char DATASETS_SQL_FREQ[] = "SELECT freq FROM datasets WHERE id = $1::bigint";

#define DATASETS_BUF_MAX ((size_t)1 << 30) /* a page is ~1 MB; this is only a guard */

struct datasets_stream {
    char *conninfo;              /* for the pool thread's own connection */
    int64_t id;                  /* datasets.id */
    int date_only;               /* 1d: YYYY-MM-DD, else ISO-8601 */
    int64_t after;               /* seq of the last row rendered, -1 before the first */
    int eof;                     /* the last page has been rendered */
    struct buf out;              /* rendered bytes not yet sent start at off */
    size_t off;
};

static void datasets_put(struct buf *b, const char *s, size_t n)
{
    if (buf_append(b, s, n) < 0)
        abort(); /* DATASETS_BUF_MAX is far beyond one page: a bug */
}

/* Rows of a page as CSV lines, exactly as ml_dataset_write_csv prints them. */
static void datasets_render(struct datasets_stream *st, const PGresult *res)
{
    int n = PQntuples(res);
    char line[1024];
    for (int i = 0; i < n; i++) {
        char *p = line;
        p += tu_format(dbx_i8(res, i, 1), st->date_only, p);
        *p++ = ',';
        size_t sl = (size_t)PQgetlength(res, i, 2);
        if (sl > 64)
            sl = 64;
        memcpy(p, PQgetvalue(res, i, 2), sl);
        p += sl;
        for (int c = 3; c < 3 + ML_N_FEATURES; c++) {
            *p++ = ',';
            p += nf_double(p, dbx_f8(res, i, c));
        }
        *p++ = ',';
        *p++ = dbx_i4(res, i, 13) ? '1' : '0';
        *p++ = ',';
        p += tu_format(dbx_i8(res, i, 14), st->date_only, p);
        *p++ = ',';
        p += nf_double(p, dbx_f8(res, i, 15));
        *p++ = '\n';
        datasets_put(&st->out, line, (size_t)(p - line));
    }
    if (n > 0)
        st->after = dbx_i4(res, n - 1, 0);
    if (n < DATASETS_PAGE_ROWS)
        st->eof = 1;
}

static void datasets_stream_free(void *cls)
{
    struct datasets_stream *st = cls;
    buf_free(&st->out);
    free(st->conninfo);
    free(st);
}

static PGresult *datasets_page(PGconn *conn, const struct datasets_stream *st)
{
    char id[24], after[24], limit[16];
    snprintf(id, sizeof id, "%" PRId64, st->id);
    snprintf(after, sizeof after, "%" PRId64, st->after);
    snprintf(limit, sizeof limit, "%d", DATASETS_PAGE_ROWS);
    const char *args[3] = { id, after, limit };
    return PQexecParams(conn, DATASETS_SQL_PAGE, 3, NULL, args, NULL, NULL, 1);
}

static ssize_t datasets_stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
    struct datasets_stream *st = cls;
    (void)pos;
    while (st->off == st->out.len) {
        if (st->eof)
            return HTTP_STREAM_END;
        char err[512];
        PGconn *conn = db_thread_conn(st->conninfo, "tradebench-server", err, sizeof err);
        PGresult *res = conn ? datasets_page(conn, st) : NULL;
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
            log_error("dataset %" PRId64 ": streaming stopped: %s", st->id,
                      res ? PQresultErrorMessage(res) : (conn ? PQerrorMessage(conn) : err));
            PQclear(res);
            return HTTP_STREAM_ERROR;
        }
        st->out.len = 0;
        st->off = 0;
        datasets_render(st, res);
        PQclear(res);
    }
    return (ssize_t)buf_take(&st->out, &st->off, dst, max);
}

void datasets_reply_csv(const struct http_request *req, struct http_reply *rep, int64_t dataset_id,
                        const char *filename)
{
    const struct api_context *app = req->app;
    char id[24], disposition[192];
    snprintf(id, sizeof id, "%" PRId64, dataset_id);
    const char *args[1] = { id };
    PGconn *conn = dbx_conn(req, rep);
    if (!conn)
        return;
    PGresult *res = dbx_read(&conn, rep, DATASETS_SQL_FREQ, 1, args, DBX_TEXT);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        http_reply_error(rep, PROBLEM_NOT_FOUND, "dataset %s does not exist (its model was deleted)", id);
        PQclear(res);
        return;
    }
    struct datasets_stream *st = mem_zalloc(sizeof *st);
    st->conninfo = mem_strdup(app->settings->database_url);
    st->id = dataset_id;
    st->date_only = strcmp(PQgetvalue(res, 0, 0), "1d") == 0;
    st->after = -1;
    PQclear(res);
    buf_init(&st->out, DATASETS_BUF_MAX);
    res = datasets_page(conn, st);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        dbx_reply_failure(conn, rep, "reading dataset rows",
                          res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        datasets_stream_free(st);
        return;
    }
    datasets_put(&st->out, ml_dataset_header, strlen(ml_dataset_header));
    datasets_put(&st->out, "\n", 1);
    datasets_render(st, res);
    PQclear(res);
    http_reply_stream_take(rep, 200, "text/csv; charset=utf-8", datasets_stream_read, datasets_stream_free, st);
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
    http_reply_header(rep, "Content-Disposition", disposition);
}
