/*
 * mem — checked allocation wrappers.
 * Policy: running out of memory in a request or migration is not an error
 * we can report sensibly (reporting it allocates), so we log and abort().
 * Plain malloc/free underneath, so memory from here may be passed to free()
 * and to libmicrohttpd's MHD_RESPMEM_MUST_FREE.
 */
#include "mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void mem_oom(size_t n)
{
    fprintf(stderr, "tradebench: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mem_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        mem_oom(n);
    return p;
}

void *mem_zalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        mem_oom(n);
    return p;
}

void *mem_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mem_oom(n);
    return q;
}

char *mem_strndup(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *mem_strdup(const char *s)
{
    return mem_strndup(s, strlen(s));
}

void mem_install_json(void)
{
    json_set_alloc_funcs(mem_alloc, free);
}
