/*
 * logger — one-line, levelled log records to stderr.
 * Format: "2026-01-02T03:04:05.678Z INFO  server: message". Each record is
 * written with a single locked stdio call, so lines from MHD threads never
 * interleave. Owns only the level and the process tag; never allocates.
 */
#ifndef TB_LOGGER_H
#define TB_LOGGER_H

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Set the process tag ("server", "worker", "cli"; copied, truncated to 15
 * bytes) and the minimum level. Call before starting threads. */
void logger_init(const char *tag, enum log_level level);
/* Parse "debug|info|warn|warning|error" (case-insensitive).
 * Returns 0 and sets *out, or -1 for anything else. */
int logger_level_parse(const char *s, enum log_level *out);
/* The canonical lower-case name of a level ("info"). */
const char *logger_level_name(enum log_level level);
/* Is a record at this level emitted? (to skip building costly messages) */
int logger_enabled(enum log_level level);
/* Emit one record (a trailing newline is added). */
void logger_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) logger_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) logger_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) logger_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) logger_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
