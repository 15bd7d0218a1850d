/*
 * embed — files compiled into the binary by server/embed.cmake at build
 * time (the sql/ migrations, api/openapi.json), so every binary works from
 * any working directory. Arrays are generated, read-only and sorted by name.
 */
#ifndef TB_EMBED_H
#define TB_EMBED_H

#include <stddef.h>

struct embed_file {
    const char *name;            /* base name, e.g. "001_init.sql" */
    const char *data;            /* the bytes, followed by a NUL */
    size_t len;                  /* byte count, without the NUL */
};

/* sql/NNN_name.sql, ascending by name (= by version). */
extern const struct embed_file embed_migrations[];
extern const size_t embed_migrations_count;

/* api/openapi.json */
extern const struct embed_file embed_openapi[];
extern const size_t embed_openapi_count;

#endif
