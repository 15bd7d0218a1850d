/*
 * static — the web dashboard's built files (web/dist, see docs/DASHBOARD.md)
 * at GET / (index.html) and GET /assets/{name}. The bundle directory is
 * $TB_WEB_DIR or, unset, the web/dist of the source tree the binary was
 * built from. Serves only files it loaded from that directory, by exact
 * name; never opens a path taken from a request.
 */
#ifndef TB_API_STATIC_H
#define TB_API_STATIC_H

#include <stddef.h>

#include "server/http.h"

/* GET / — index.html, Cache-Control: no-cache with an ETag (304 on a
 * matching If-None-Match). 404 problem naming the directory when the
 * dashboard has not been built. */
void api_static_index(const struct http_request *req, struct http_reply *rep);
/* GET /assets/{name} — a file of <dir>/assets with the Content-Type of its
 * extension, cached for a year (names carry a content hash). 404 otherwise. */
void api_static_asset(const struct http_request *req, struct http_reply *rep);

/* Exposed for unit tests. */
/* Is name acceptable as an asset name: 1..128 bytes of [A-Za-z0-9._-],
 * not starting with '.'? */
int api_static_name_ok(const char *name);
/* The Content-Type for a file name, by extension (static string). */
const char *api_static_content_type(const char *name);
/* Does an If-None-Match header value match etag (a list, or "*")? */
int api_static_etag_matches(const char *if_none_match, const char *etag);

#endif
