/*
 * mem — checked allocation, the one out-of-memory policy of tb_service.
 * Every allocation in server/ and api/ goes through these wrappers: on
 * failure they log one line to stderr and abort(), so callers never test
 * for NULL. mem_install_json() points jansson at the same policy.
 */
#ifndef TB_MEM_H
#define TB_MEM_H

#include <stddef.h>

/* malloc(n); never returns NULL (aborts on OOM). Caller free()s. */
void *mem_alloc(size_t n);
/* calloc(1, n): zeroed; never returns NULL. Caller free()s. */
void *mem_zalloc(size_t n);
/* realloc(p, n); never returns NULL. */
void *mem_realloc(void *p, size_t n);
/* strdup(s); s must not be NULL. Caller free()s. */
char *mem_strdup(const char *s);
/* A NUL-terminated copy of the first n bytes of s. Caller free()s. */
char *mem_strndup(const char *s, size_t n);
/* Make jansson allocate through mem_alloc/free (call once, before threads). */
void mem_install_json(void);

#endif
