/*
 * problem — RFC 9457 problem details: the kind table and the serialiser.
 * "type" is a stable URN (urn:tradebench:problem:<code>) that clients can
 * switch on; "title" is fixed per kind; "detail" says what happened this
 * time. Strings are copied with truncation, so filling a problem never fails.
 */
#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int status;
    const char *code;
    const char *title;
} problem_kinds[PROBLEM_KIND_COUNT] = {
    [PROBLEM_VALIDATION] = { 400, "validation-failed", "Invalid request" },
    [PROBLEM_MALFORMED_JSON] = { 400, "malformed-json", "Malformed JSON body" },
    [PROBLEM_UNAUTHORIZED] = { 401, "unauthorized", "Missing or invalid bearer token" },
    [PROBLEM_NOT_FOUND] = { 404, "not-found", "Not found" },
    [PROBLEM_METHOD_NOT_ALLOWED] = { 405, "method-not-allowed", "Method not allowed" },
    [PROBLEM_CONFLICT] = { 409, "conflict", "Conflict" },
    [PROBLEM_PAYLOAD_TOO_LARGE] = { 413, "payload-too-large", "Request body too large" },
    [PROBLEM_URI_TOO_LONG] = { 414, "uri-too-long", "Request target too long" },
    [PROBLEM_UNSUPPORTED_MEDIA] = { 415, "unsupported-media-type", "Unsupported media type" },
    [PROBLEM_HEADER_TOO_LARGE] = { 431, "header-too-large", "Request header fields too large" },
    [PROBLEM_INTERNAL] = { 500, "internal-error", "Internal server error" },
    [PROBLEM_NOT_IMPLEMENTED] = { 501, "not-implemented", "Not implemented" },
    [PROBLEM_DB_UNAVAILABLE] = { 503, "database-unavailable", "Database unavailable" },
};

const char *problem_code(enum problem_kind kind)
{
    return (kind >= 0 && kind < PROBLEM_KIND_COUNT) ? problem_kinds[kind].code : "internal-error";
}

void problem_set(struct problem *p, enum problem_kind kind, const char *fmt, ...)
{
    if (kind < 0 || kind >= PROBLEM_KIND_COUNT)
        kind = PROBLEM_INTERNAL;
    p->kind = kind;
    p->status = problem_kinds[kind].status;
    p->code = problem_kinds[kind].code;
    p->title = problem_kinds[kind].title;
    p->detail[0] = '\0';
    p->nerrors = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->detail, sizeof p->detail, fmt, ap);
        va_end(ap);
    }
}

void problem_add_error(struct problem *p, const char *field, const char *fmt, ...)
{
    if (p->nerrors >= PROBLEM_MAX_ERRORS)
        return;
    struct problem_field_error *e = &p->errors[p->nerrors++];
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* Copy src into dst (size n), replacing every byte that does not start a
 * valid UTF-8 sequence with '?': details may echo request bytes, and jansson
 * refuses invalid UTF-8. */
static void problem_utf8_copy(char *dst, size_t n, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    while (*s && o + 1 < n) {
        size_t len = 0;
        unsigned char c = s[0];
        if (c < 0x80)
            len = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4;
        for (size_t i = 1; i < len; i++) {
            if ((s[i] & 0xC0) != 0x80) { /* also stops at the NUL */
                len = 0;
                break;
            }
        }
        if (len == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)))
            len = 0;
        if (len == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)))
            len = 0;
        if (len == 0 || o + len >= n) {
            dst[o++] = '?';
            s++;
            continue;
        }
        memcpy(dst + o, s, len);
        o += len;
        s += len;
    }
    dst[o] = '\0';
}

json_t *problem_to_json(const struct problem *p)
{
    char type[128], detail[sizeof p->detail], field[64], message[192];
    snprintf(type, sizeof type, "%s%s", PROBLEM_TYPE_PREFIX, p->code ? p->code : "internal-error");
    problem_utf8_copy(detail, sizeof detail,
                      p->detail[0] ? p->detail : (p->title ? p->title : "Error"));
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
                            p->title ? p->title : "Error", "status", p->status, "detail", detail);
    if (!doc)
        abort();
    if (p->nerrors > 0) {
        json_t *errs = json_array();
        for (size_t i = 0; i < p->nerrors; i++) {
            problem_utf8_copy(field, sizeof field, p->errors[i].field);
            problem_utf8_copy(message, sizeof message, p->errors[i].message);
            json_array_append_new(errs,
                                  json_pack("{s:s, s:s}", "field", field, "message", message));
        }
        json_object_set_new(doc, "errors", errs);
    }
    return doc;
}
