/*
 * openapi — serves the embedded api/openapi.json bytes with static
 * lifetime (libmicrohttpd sends them without copying). The document is
 * validated as JSON by the unit tests, not at run time.
 */
#include "openapi.h"

#include "server/embed.h"

void api_openapi_get(const struct http_request *req, struct http_reply *rep)
{
    (void)req;
    if (embed_openapi_count == 0) {
        http_reply_error(rep, PROBLEM_INTERNAL, "no OpenAPI document was embedded at build time");
        return;
    }
    http_reply_static(rep, 200, "application/json", embed_openapi[0].data, embed_openapi[0].len);
}
