/* universe.h — choosing the ordered symbol list a run trades (SPEC §1.2):
 * a watchlist file, an explicit list, or the first N symbols of the source in
 * ascending byte order. Names are validated (non-empty, [A-Za-z0-9._-],
 * at most 32 bytes) and duplicates rejected. Owns its strings. */
#ifndef TB_UNIVERSE_H
#define TB_UNIVERSE_H
#include <stddef.h>

#include "tb_error.h"

typedef struct tb_universe {
    char **names;
    size_t n;
} tb_universe;

/* One symbol a line; blank lines and '#' comments ignored; errors name file:line. */
int universe_from_watchlist(const char *path, tb_universe *out, tb_error *err);
/* Copy an explicit list; errors name field "symbols". */
int universe_from_list(const char *const *names, size_t n, tb_universe *out, tb_error *err);
/* First n of `available` (already sorted); n > count is an error naming both. */
int universe_first_n(const char *const *available, size_t n_available, size_t n, tb_universe *out, tb_error *err);
/* Check every name is in `available` (sorted); the error names the first missing one. */
int universe_check_available(const tb_universe *u, const char *const *available, size_t n_available, tb_error *err);
void universe_free(tb_universe *u);
int universe_valid_name(const char *s);

#endif
