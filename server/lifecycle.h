/*
 * lifecycle — process plumbing shared by tradebench-server and -worker:
 * block SIGTERM/SIGINT so they are taken synchronously (sigtimedwait) by
 * the main thread only, and connect to PostgreSQL with retries that a
 * signal interrupts. Owns no state beyond what the caller passes in.
 */
#ifndef TB_LIFECYCLE_H
#define TB_LIFECYCLE_H

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>

/* Block SIGTERM, SIGINT (and ignore SIGPIPE) in the calling thread, before
 * any thread is created so they all inherit the mask; *set receives the
 * blocked set for lifecycle_wait_signal(). */
void lifecycle_block_signals(sigset_t *set);

/* Wait up to timeout_ms (-1: forever) for a signal in set.
 * Returns the signal number, or 0 on timeout. */
int lifecycle_wait_signal(const sigset_t *set, int timeout_ms);

/* Connect, retrying with backoff (0.25 s doubling to 5 s) for up to
 * total_ms (-1: forever). Returns the connection (caller PQfinish()es), or
 * NULL with err, with *signo set when a signal in set ended the wait. */
PGconn *lifecycle_connect_retry(const char *conninfo, const char *app_name, const sigset_t *set,
                                int total_ms, int *signo, char *err, size_t errlen);

#endif
