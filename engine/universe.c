/* universe.c — symbol list selection and validation (see universe.h). */
#include "universe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

int universe_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return s[0] != '.';
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Index of the first duplicate pair (by sorting a copy of pointers), or -1. */
static const char *find_duplicate(char *const *names, size_t n)
{
    if (n < 2) return NULL;
    char **c = xmalloc(xmul(n, sizeof *c));
    memcpy(c, names, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_str);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (!strcmp(c[i - 1], c[i])) dup = c[i];
    free(c);
    return dup;
}

void universe_free(tb_universe *u)
{
    if (!u) return;
    for (size_t i = 0; i < u->n; i++) free(u->names[i]);
    free(u->names);
    u->names = NULL;
    u->n = 0;
}

static void universe_push(tb_universe *u, size_t *cap, const char *s)
{
    if (u->n == *cap) u->names = xrealloc(u->names, xmul(*cap = *cap ? *cap * 2 : 16, sizeof *u->names));
    u->names[u->n++] = xstrdup(s);
}

int universe_from_watchlist(const char *path, tb_universe *out, tb_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return tb_fail_field(err, TB_EINVAL, "universe", "cannot open watchlist %s: %s", path, strerror(errno));
    tb_universe u = {0};
    size_t cap = 0, line = 0;
    char buf[512];
    int rc = 0;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        char *h = strchr(buf, '#');
        if (h) *h = '\0';
        char *s = buf, *e;
        while (*s == ' ' || *s == '\t') s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
        if (!*s) continue;
        if (!universe_valid_name(s)) {
            rc = tb_fail_field(err, TB_EINVAL, "universe", "%s:%zu: '%s' is not a valid symbol", path, line, s);
            break;
        }
        for (size_t i = 0; i < u.n && !rc; i++)
            if (!strcmp(u.names[i], s))
                rc = tb_fail_field(err, TB_EINVAL, "universe", "%s:%zu: duplicate symbol '%s'", path, line, s);
        if (rc) break;
        universe_push(&u, &cap, s);
    }
    fclose(f);
    if (!rc && u.n == 0) rc = tb_fail_field(err, TB_EINVAL, "universe", "%s: the watchlist has no symbols", path);
    if (rc) {
        universe_free(&u);
        return -1;
    }
    *out = u;
    return 0;
}

int universe_from_list(const char *const *names, size_t n, tb_universe *out, tb_error *err)
{
    if (n == 0) return tb_fail_field(err, TB_EINVAL, "symbols", "the symbol list is empty");
    for (size_t i = 0; i < n; i++)
        if (!universe_valid_name(names[i]))
            return tb_fail_field(err, TB_EINVAL, "symbols", "symbols[%zu]: '%.40s' is not a valid symbol", i,
                                 names[i]);
    const char *dup = find_duplicate((char *const *)names, n);
    if (dup) return tb_fail_field(err, TB_EINVAL, "symbols", "duplicate symbol '%s'", dup);
    tb_universe u = {0};
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) universe_push(&u, &cap, names[i]);
    *out = u;
    return 0;
}

int universe_first_n(const char *const *available, size_t n_available, size_t n, tb_universe *out, tb_error *err)
{
    if (n == 0) return tb_fail_field(err, TB_EINVAL, "symbols", "the number of symbols must be >= 1");
    if (n > n_available)
        return tb_fail_field(err, TB_EINVAL, "symbols", "asked for %zu symbols but the source has only %zu", n,
                             n_available);
    tb_universe u = {0};
    size_t cap = n;
    u.names = xmalloc(xmul(n, sizeof *u.names));
    for (size_t i = 0; i < n; i++) universe_push(&u, &cap, available[i]);
    *out = u;
    return 0;
}

int universe_check_available(const tb_universe *u, const char *const *available, size_t n_available, tb_error *err)
{
    for (size_t i = 0; i < u->n; i++) {
        const char *key = u->names[i];
        if (!bsearch(&key, available, n_available, sizeof *available, cmp_str))
            return tb_fail_field(err, TB_EINVAL, "symbols", "symbol '%s' is not in the data source", key);
    }
    return 0;
}
