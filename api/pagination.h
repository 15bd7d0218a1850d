/*
 * pagination — opaque keyset cursors for list endpoints. A cursor is the
 * base64url text of "<kind>:<k1>[:<k2>]" where kind says which list it
 * belongs to (runs and models: created_at in microseconds since the epoch
 * and id; orders: seq; equity: ts in seconds), so a cursor from one list is
 * rejected by another. Clients must treat cursors as opaque strings.
 * Pure functions, no allocation, never touches the database.
 */
#ifndef TB_API_PAGINATION_H
#define TB_API_PAGINATION_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_CURSOR_MAX 96       /* bytes a cursor string needs, NUL included */

enum page_kind {
    PAGE_RUNS = 0,               /* keys: created_at (µs since epoch), id */
    PAGE_ORDERS,                 /* key: seq */
    PAGE_EQUITY,                 /* key: ts (s since epoch) */
    PAGE_MODELS,                 /* keys: created_at (µs since epoch), id */
};

/* Write the cursor for (k1, k2) into out (PAGE_CURSOR_MAX bytes); k2 is
 * ignored for single-key kinds. */
void page_cursor_encode(enum page_kind kind, int64_t k1, int64_t k2, char *out);

/* Parse a cursor of the given kind. Returns 0 and the keys, or -1 when the
 * text is not a cursor of this kind. */
int page_cursor_decode(enum page_kind kind, const char *text, int64_t *k1, int64_t *k2);

#endif
