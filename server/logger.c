/*
 * logger — levelled records to stderr with a UTC millisecond timestamp.
 * The level and tag are set once at start-up (before threads) and only read
 * afterwards; a record is formatted into a stack buffer and written with one
 * fputs under flockfile(), so concurrent records never interleave.
 */
#include "logger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum log_level logger_min = LOG_LEVEL_INFO;
static char logger_tag[16] = "tradebench";

static const char *const logger_names[] = { "debug", "info", "warn", "error" };
static const char *const logger_labels[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };

void logger_init(const char *tag, enum log_level level)
{
    if (tag)
        snprintf(logger_tag, sizeof logger_tag, "%s", tag);
    logger_min = level;
}

int logger_level_parse(const char *s, enum log_level *out)
{
    if (!s)
        return -1;
    for (int i = LOG_LEVEL_DEBUG; i <= LOG_LEVEL_ERROR; i++) {
        if (strcasecmp(s, logger_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

const char *logger_level_name(enum log_level level)
{
    return (level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_ERROR) ? logger_names[level] : "?";
}

int logger_enabled(enum log_level level)
{
    return level >= logger_min;
}

void logger_write(enum log_level level, const char *fmt, ...)
{
    if (!logger_enabled(level))
        return;
    char line[2048];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, now.tv_nsec / 1000000L, logger_labels[level], logger_tag);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* Strip a trailing newline (libpq messages carry one), then add ours. */
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    flockfile(stderr);
    fputs(line, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    funlockfile(stderr);
}
