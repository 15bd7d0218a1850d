/*
 * settings — parse and validate TB_* environment variables.
 * Everything here is pure string handling on values handed in by a lookup
 * callback, so the unit tests drive it with a table. Integer values must be
 * plain decimal within range; anything else is an error naming the variable
 * (the binaries turn it into exit status 2).
 */
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static const char *settings_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

/* The value of name, with "" treated as unset. */
static const char *settings_get(settings_lookup_fn lookup, void *ud, const char *name)
{
    const char *v = lookup(name, ud);
    return (v && *v) ? v : NULL;
}

static int settings_parse_int(const char *name, const char *text, int lo, int hi, int *out,
                              char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '+' || text[0] == ' ' ||
        v < lo || v > hi) {
        snprintf(err, errlen, "%s=\"%s\": expected an integer in %d..%d", name, text, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int settings_parse_listen(const char *text, char **host, unsigned *port, char *err,
                          size_t errlen)
{
    const char *colon, *hstart = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "TB_LISTEN=\"%s\": expected [ipv6]:port", text);
            return -1;
        }
        hstart = text + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            snprintf(err, errlen, "TB_LISTEN=\"%s\": expected host:port", text);
            return -1;
        }
        hlen = (size_t)(colon - text);
        if (memchr(text, ':', hlen)) {
            snprintf(err, errlen, "TB_LISTEN=\"%s\": write IPv6 hosts as [addr]:port", text);
            return -1;
        }
    }
    int p;
    char perr[256];
    if (settings_parse_int("TB_LISTEN port", colon + 1, 1, 65535, &p, perr, sizeof perr) < 0) {
        snprintf(err, errlen, "TB_LISTEN=\"%s\": port must be an integer in 1..65535", text);
        return -1;
    }
    *host = hlen ? mem_strndup(hstart, hlen) : mem_strdup("0.0.0.0");
    *port = (unsigned)p;
    return 0;
}

int settings_load(struct settings *s, settings_lookup_fn lookup, void *ud, char *err,
                  size_t errlen)
{
    const char *v;
    memset(s, 0, sizeof *s);
    s->worker_concurrency = 1;
    s->http_threads = 4;
    s->http_per_ip_limit = 256;
    s->log_level = LOG_LEVEL_INFO;
    s->sweep_chunk = SETTINGS_DEFAULT_SWEEP_CHUNK;

    v = settings_get(lookup, ud, "TB_DATABASE_URL");
    s->database_url = mem_strdup(v ? v : SETTINGS_DEFAULT_DATABASE_URL);

    v = settings_get(lookup, ud, "TB_LISTEN");
    if (settings_parse_listen(v ? v : SETTINGS_DEFAULT_LISTEN, &s->listen_host, &s->listen_port,
                              err, errlen) < 0)
        goto fail;

    v = settings_get(lookup, ud, "TB_API_TOKEN");
    if (v)
        s->api_token = mem_strdup(v);

    v = settings_get(lookup, ud, "TB_WORKER_CONCURRENCY");
    if (v && settings_parse_int("TB_WORKER_CONCURRENCY", v, 1, 64, &s->worker_concurrency, err,
                                errlen) < 0)
        goto fail;

    v = settings_get(lookup, ud, "TB_HTTP_THREADS");
    if (v && settings_parse_int("TB_HTTP_THREADS", v, 1, 64, &s->http_threads, err, errlen) < 0)
        goto fail;

    v = settings_get(lookup, ud, "TB_HTTP_PER_IP_LIMIT");
    if (v && settings_parse_int("TB_HTTP_PER_IP_LIMIT", v, 1, 512, &s->http_per_ip_limit, err,
                                errlen) < 0)
        goto fail;

    v = settings_get(lookup, ud, "TB_SWEEP_CHUNK");
    if (v && settings_parse_int("TB_SWEEP_CHUNK", v, 1, SETTINGS_MAX_SWEEP_CHUNK, &s->sweep_chunk, err,
                                errlen) < 0)
        goto fail;

    v = settings_get(lookup, ud, "TB_LOG_LEVEL");
    if (v && logger_level_parse(v, &s->log_level) < 0) {
        snprintf(err, errlen, "TB_LOG_LEVEL=\"%s\": expected debug, info, warn or error", v);
        goto fail;
    }

    v = settings_get(lookup, ud, "TB_DATA");
    if (v)
        s->data = mem_strdup(v);
    return 0;

fail:
    settings_free(s);
    return -1;
}

int settings_from_env(struct settings *s, char *err, size_t errlen)
{
    return settings_load(s, settings_getenv, NULL, err, errlen);
}

void settings_free(struct settings *s)
{
    free(s->database_url);
    free(s->listen_host);
    free(s->api_token);
    free(s->data);
    memset(s, 0, sizeof *s);
}
