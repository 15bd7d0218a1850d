/*
 * buf — a growable byte buffer with a hard maximum fixed at init.
 * Appending past the maximum fails without growing, which is how a request
 * body over the limit becomes a 413 without buffering it. The buffer owns
 * its bytes (always NUL-terminated for convenience); buf_free() releases.
 */
#ifndef TB_BUF_H
#define TB_BUF_H

#include <stddef.h>

struct buf {
    char *data;                  /* NULL until the first append; NUL-terminated */
    size_t len;                  /* bytes used (excluding the NUL) */
    size_t cap;                  /* bytes allocated */
    size_t max;                  /* largest len ever allowed */
};

/* An empty buffer that will hold at most max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Append n bytes. Returns 0, or -1 (buffer unchanged) when len + n > max. */
int buf_append(struct buf *b, const void *data, size_t n) __attribute__((warn_unused_result));
/* Free the bytes; the buffer is empty (same max) afterwards. */
void buf_free(struct buf *b);
/* Copy up to max of the bytes from *off on to dst and advance *off (a
 * streamed reply handing out a rendered page). Returns the count. */
size_t buf_take(const struct buf *b, size_t *off, char *dst, size_t max);

#endif
