/*
 * buf — bounded growable buffer (capacity doubles, capped at max + 1 for
 * the terminating NUL). Allocation goes through mem.h, so the only failure
 * a caller sees is "over the maximum".
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return -1;
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        b->data = mem_realloc(b->data, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

size_t buf_take(const struct buf *b, size_t *off, char *dst, size_t max)
{
    size_t n = b->len - *off;
    if (n > max)
        n = max;
    memcpy(dst, b->data + *off, n);
    *off += n;
    return n;
}
