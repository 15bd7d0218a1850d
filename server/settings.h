/*
 * settings — the process configuration, read once from the environment.
 * Pure: values come through a lookup callback (getenv in production, a
 * table in tests), are validated, and errors name the variable. The struct
 * owns its strings; settings_free() releases them. Never touches the DB.
 */
#ifndef TB_SETTINGS_H
#define TB_SETTINGS_H

#include <stddef.h>

#include "logger.h"

#define SETTINGS_DEFAULT_DATABASE_URL "postgresql://tradebench:tradebench@127.0.0.1:5432/tradebench"
#define SETTINGS_DEFAULT_LISTEN "127.0.0.1:8080"
#define SETTINGS_DEFAULT_SWEEP_CHUNK 64  /* valid members per chunk run of a split sweep */
#define SETTINGS_MAX_SWEEP_CHUNK 1000    /* = SWEEP_MAX_MEMBERS: a chunk this size never splits */

struct settings {
    char *database_url;          /* TB_DATABASE_URL: libpq conninfo or URI */
    char *listen_host;           /* TB_LISTEN host part: "127.0.0.1", "::1", "0.0.0.0" */
    unsigned listen_port;        /* TB_LISTEN port part, 1..65535 */
    char *api_token;             /* TB_API_TOKEN; NULL = no authentication */
    int worker_concurrency;      /* TB_WORKER_CONCURRENCY, 1..64, default 1 */
    int http_threads;            /* TB_HTTP_THREADS, 1..64, default 4 */
    int http_per_ip_limit;       /* TB_HTTP_PER_IP_LIMIT: connections from one address, 1..512, default 256 */
    enum log_level log_level;    /* TB_LOG_LEVEL, default info */
    int sweep_chunk;             /* TB_SWEEP_CHUNK: a sweep with more valid members is split into chunk
                                    runs of this many, 1..1000, default 64 (server: POST /backtests) */
    char *data;                  /* TB_DATA; NULL = the synthetic source */
};

/* Returns the value of an environment-like variable, or NULL when unset. */
typedef const char *(*settings_lookup_fn)(const char *name, void *ud);

/* Fill *s from lookup(). Unset and empty variables take their defaults.
 * Returns 0, or -1 with *s freed and err naming the variable and value. */
int settings_load(struct settings *s, settings_lookup_fn lookup, void *ud,
                  char *err, size_t errlen) __attribute__((warn_unused_result));
/* settings_load() with getenv(). */
int settings_from_env(struct settings *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Free the strings of *s and zero it; safe on a zeroed or freed struct. */
void settings_free(struct settings *s);
/* Split "host:port" / "[v6]:port" / ":port" (host 0.0.0.0). On success
 * *host is a new string the caller free()s. Returns 0 or -1 with err. */
int settings_parse_listen(const char *text, char **host, unsigned *port,
                          char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
