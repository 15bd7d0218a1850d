/*
 * results — reading a finished run's result rows (orders, equity_points,
 * metrics) and rendering them exactly as the engine's artifact writers do
 * (engine/artifacts.c): the same headers and columns, numbers through
 * nf_double (shortest round-trip), timestamps through tu_format. CSV is
 * streamed in keyset pages of RESULTS_PAGE_ROWS rows, never the whole table
 * in memory; JSON pages and metrics.json are built whole (they are small).
 * Values are read in binary result format, so doubles arrive bit-exact
 * whatever the server's extra_float_digits.
 */
#ifndef TB_API_RESULTS_H
#define TB_API_RESULTS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "server/http.h"

#define RESULTS_PAGE_ROWS 4000   /* rows per keyset page while streaming CSV */

enum results_table {
    RESULTS_ORDERS = 0,          /* orders_<f>.csv: ts,symbol,side,quantity,price,notional,cost */
    RESULTS_EQUITY,              /* equity_curve_<f>.csv: ts,equity,cash,exposure,drawdown,return */
};

/* Reply 200 with the table of run_id as CSV, streamed (chunked), with
 * Content-Disposition: attachment; filename="<filename>". date_only selects
 * YYYY-MM-DD timestamps (1d) over ISO-8601 (intraday); symbol (orders only,
 * may be NULL) keeps only that symbol's rows. The first page is read before
 * answering, so a database failure is still a clean 503. */
void results_reply_csv(const struct http_request *req, struct http_reply *rep,
                       enum results_table table, int64_t run_id, int date_only,
                       const char *symbol, const char *filename);

/* Reply 200 with one JSON page {"run_id", "items": [...], "next_cursor"}
 * of the table, after the key in `cursor` (NULL: from the start). */
void results_reply_page(const struct http_request *req, struct http_reply *rep,
                        enum results_table table, int64_t run_id, int date_only,
                        const char *symbol, const char *cursor, int limit);

/* metrics.json of run_id, byte-identical to art_write_metrics_json():
 * a new buffer (caller free()s) and its length, or NULL after replying. */
char *results_metrics_json(const struct http_request *req, struct http_reply *rep,
                           int64_t run_id, size_t *len);

#endif
