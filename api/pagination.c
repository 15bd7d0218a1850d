/*
 * pagination — cursor text <-> keys. base64url (RFC 4648 §5, no padding)
 * keeps cursors URL-safe without percent-encoding; decoding is strict (no
 * padding, no stray characters, canonical integers), so every accepted
 * cursor is one this module wrote.
 */
#include "pagination.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char page_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char *const page_prefix[] = { "r1", "o1", "e1", "m1" };

static void page_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = page_b64[(v >> 18) & 63];
        out[o++] = page_b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = page_b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = page_b64[v & 63];
    }
    out[o] = '\0';
}

/* Decode into out (size cap, NUL-terminated); -1 on bad input. */
static int page_b64_decode(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in), o = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(page_b64, in[i]) : NULL;
        if (!p)
            return -1;
        acc = (acc << 6) | (uint32_t)(p - page_b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1; /* non-canonical trailing bits */
    out[o] = '\0';
    return memchr(out, '\0', o) ? -1 : 0;
}

void page_cursor_encode(enum page_kind kind, int64_t k1, int64_t k2, char *out)
{
    char raw[64];
    if (kind == PAGE_RUNS || kind == PAGE_MODELS)
        snprintf(raw, sizeof raw, "%s:%" PRId64 ":%" PRId64, page_prefix[kind], k1, k2);
    else
        snprintf(raw, sizeof raw, "%s:%" PRId64, page_prefix[kind], k1);
    page_b64_encode((const unsigned char *)raw, strlen(raw), out);
}

/* A canonical decimal int64 (optional '-', no leading zeros) in s[0..len). */
static int page_int(const char *s, size_t len, int64_t *out)
{
    char buf[24], back[24];
    long long v;
    char *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9'))
        return -1;
    v = strtoll(buf, &end, 10);
    if (*end)
        return -1;
    snprintf(back, sizeof back, "%lld", v);
    if (strcmp(back, buf) != 0)
        return -1; /* leading zeros, "-0", overflow clamped by strtoll */
    *out = (int64_t)v;
    return 0;
}

int page_cursor_decode(enum page_kind kind, const char *text, int64_t *k1, int64_t *k2)
{
    char raw[72];
    if (!text || strlen(text) >= PAGE_CURSOR_MAX || page_b64_decode(text, raw, sizeof raw) < 0)
        return -1;
    size_t plen = strlen(page_prefix[kind]);
    if (strncmp(raw, page_prefix[kind], plen) != 0 || raw[plen] != ':')
        return -1;
    const char *a = raw + plen + 1;
    const char *colon = strchr(a, ':');
    if (kind == PAGE_RUNS || kind == PAGE_MODELS) {
        if (!colon || page_int(a, (size_t)(colon - a), k1) < 0 ||
            page_int(colon + 1, strlen(colon + 1), k2) < 0)
            return -1;
        return 0;
    }
    if (colon || page_int(a, strlen(a), k1) < 0)
        return -1;
    if (k2)
        *k2 = 0;
    return 0;
}
