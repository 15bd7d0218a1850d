/* hooks.h — how the engine talks back to its caller without printing:
 * progress, per-stage wall times and a cancellation check. Any member may be
 * NULL. The CLI prints from these; the worker stores them in PostgreSQL. */
#ifndef TB_HOOKS_H
#define TB_HOOKS_H

typedef struct tb_hooks {
    void *ud;                                                       /* passed back to every hook */
    void (*progress)(void *ud, const char *stage, double fraction); /* overall 0..1 of the call the hooks were given to */
    void (*stage_done)(void *ud, const char *stage, double wall_s); /* one stage finished */
    int (*cancelled)(void *ud);                                     /* non-zero: stop soon */
} tb_hooks;

static inline void hooks_progress(const tb_hooks *h, const char *stage, double f)
{
    if (h && h->progress) h->progress(h->ud, stage, f);
}
static inline int hooks_cancelled(const tb_hooks *h) { return h && h->cancelled && h->cancelled(h->ud); }

#endif
