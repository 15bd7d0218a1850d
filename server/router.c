/*
 * router — segment-by-segment matching of a path against route patterns.
 * Linear scan of a small static table (a dozen rows): clear beats clever.
 * A path matching some pattern under another method gives 405 with the
 * union of methods for the Allow header; no match at all gives 404.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

int router_pattern_match(const char *pattern, const char *path, struct route_param *params,
                         size_t *nparams)
{
    size_t np = 0;
    const char *p = pattern, *s = path;
    if (*p != '/' || *s != '/')
        return 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pend = strchr(p, '/');
        const char *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || np >= ROUTER_MAX_PARAMS)
                return 0;
            if (params) {
                params[np].name = p + 1;
                params[np].name_len = plen - 2;
                params[np].value = s;
                params[np].value_len = slen;
            }
            np++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return 0;
    if (nparams)
        *nparams = np;
    return 1;
}

static int router_method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* Append method to the comma-separated allow list unless already there. */
static void router_allow_add(char *allow, size_t size, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *a = allow; (a = strstr(a, method)) != NULL; a += mlen) {
        if ((a == allow || a[-1] == ' ') && (a[mlen] == ',' || a[mlen] == '\0'))
            return;
    }
    size_t len = strlen(allow);
    snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

enum route_status router_match(const struct route *table, size_t n, const char *method,
                               const char *path, struct route_match *out)
{
    int path_known = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        size_t np = 0;
        struct route_param params[ROUTER_MAX_PARAMS];
        if (!router_pattern_match(table[i].pattern, path, params, &np))
            continue;
        if (router_method_matches(table[i].method, method)) {
            out->route = &table[i];
            out->nparams = np;
            memcpy(out->params, params, np * sizeof params[0]);
            out->allow[0] = '\0';
            return ROUTE_FOUND;
        }
        path_known = 1;
        router_allow_add(out->allow, sizeof out->allow, table[i].method);
        if (strcmp(table[i].method, "GET") == 0)
            router_allow_add(out->allow, sizeof out->allow, "HEAD");
    }
    return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
