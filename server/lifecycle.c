/*
 * lifecycle — synchronous signal handling and patient DB connection.
 * Signals are blocked everywhere and collected with sigtimedwait() in the
 * main thread, so no async-signal-safety puzzles and no handler globals.
 * The connect loop logs each failure once per attempt at warn level.
 */
#include "lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "db.h"
#include "logger.h"

void lifecycle_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int lifecycle_wait_signal(const sigset_t *set, int timeout_ms)
{
    for (;;) {
        int sig;
        if (timeout_ms < 0) {
            if (sigwait(set, &sig) == 0)
                return sig;
            continue;
        }
        struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
        sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        /* EINTR: interrupted by an unblocked signal (e.g. a debugger); retry. */
    }
}

PGconn *lifecycle_connect_retry(const char *conninfo, const char *app_name, const sigset_t *set,
                                int total_ms, int *signo, char *err, size_t errlen)
{
    int delay = 250, waited = 0;
    *signo = 0;
    for (int attempt = 1;; attempt++) {
        PGconn *conn = db_connect(conninfo, app_name, err, errlen);
        if (conn) {
            if (attempt > 1)
                log_info("database reachable after %d attempts", attempt);
            return conn;
        }
        if (total_ms >= 0 && waited >= total_ms)
            return NULL;
        log_warn("database unreachable (attempt %d, retrying in %d ms): %s", attempt, delay,
                 err);
        int sig = lifecycle_wait_signal(set, delay);
        if (sig) {
            *signo = sig;
            return NULL;
        }
        waited += delay;
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}
