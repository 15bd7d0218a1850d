/* xalloc.h — checked allocation, one policy everywhere: an allocation that
 * fails aborts the process with a message (a worker runs each job in a child
 * process, so this never takes the service down). Never returns NULL. */
#ifndef TB_XALLOC_H
#define TB_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* n * size with overflow check (aborts on overflow). */
size_t xmul(size_t n, size_t size);

#endif
