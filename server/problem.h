/*
 * problem — the one error shape of the HTTP API (RFC 9457 problem details).
 * A struct problem is filled by problem_set() from a fixed kind table
 * (status, stable code, title) plus a per-occurrence detail and optional
 * field errors; problem_to_json() is the only place it becomes JSON.
 * Plain data, no allocation until serialisation; never touches MHD or libpq.
 */
#ifndef TB_PROBLEM_H
#define TB_PROBLEM_H

#include <jansson.h>
#include <stddef.h>

#define PROBLEM_CONTENT_TYPE "application/problem+json"
#define PROBLEM_TYPE_PREFIX "urn:tradebench:problem:"
#define PROBLEM_MAX_ERRORS 16

enum problem_kind {
    PROBLEM_VALIDATION = 0,      /* 400 validation-failed (with errors[]) */
    PROBLEM_MALFORMED_JSON,      /* 400 malformed-json */
    PROBLEM_UNAUTHORIZED,        /* 401 unauthorized */
    PROBLEM_NOT_FOUND,           /* 404 not-found */
    PROBLEM_METHOD_NOT_ALLOWED,  /* 405 method-not-allowed */
    PROBLEM_CONFLICT,            /* 409 conflict */
    PROBLEM_PAYLOAD_TOO_LARGE,   /* 413 payload-too-large */
    PROBLEM_URI_TOO_LONG,        /* 414 uri-too-long */
    PROBLEM_UNSUPPORTED_MEDIA,   /* 415 unsupported-media-type */
    PROBLEM_HEADER_TOO_LARGE,    /* 431 header-too-large */
    PROBLEM_INTERNAL,            /* 500 internal-error */
    PROBLEM_NOT_IMPLEMENTED,     /* 501 not-implemented */
    PROBLEM_DB_UNAVAILABLE,      /* 503 database-unavailable */
    PROBLEM_KIND_COUNT
};

struct problem_field_error {
    char field[64];              /* JSON path of the offending input, e.g. "iterations" */
    char message[192];           /* what is wrong with it */
};

struct problem {
    enum problem_kind kind;      /* selects status, code and title */
    int status;                  /* HTTP status (from the kind table) */
    const char *code;            /* stable slug, e.g. "not-found" (static) */
    const char *title;           /* short summary, same for every occurrence (static) */
    char detail[512];            /* this occurrence, human readable */
    size_t nerrors;              /* used entries of errors[] */
    struct problem_field_error errors[PROBLEM_MAX_ERRORS];
};

/* Reset *p to the given kind with a printf-style detail (fmt may be NULL). */
void problem_set(struct problem *p, enum problem_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append a field error; silently keeps the first PROBLEM_MAX_ERRORS. */
void problem_add_error(struct problem *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* {"type","title","status","detail"[,"errors"]}: a new reference the caller
 * json_decref()s; never NULL (allocation failure aborts, see mem.h). */
json_t *problem_to_json(const struct problem *p);
/* The stable code of a kind ("not-found"). */
const char *problem_code(enum problem_kind kind);

#endif
