/*
 * unit_envelope — the pure pieces of the HTTP envelope: the bounded body
 * buffer (how 413 falls out), JSON media-type recognition (415) and the
 * bearer-token check (401).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "server/buf.h"
#include "server/http.h"

Test(buf, grows_until_the_maximum_then_refuses)
{
    struct buf b;
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    buf_init(&b, 2500);
    cr_assert_null(b.data);
    cr_assert_eq(buf_append(&b, chunk, 1000), 0);
    cr_assert_eq(buf_append(&b, chunk, 1000), 0);
    cr_assert_eq(buf_append(&b, chunk, 1000), -1); /* 3000 > 2500 */
    cr_assert_eq(b.len, 2000);                      /* unchanged by the refusal */
    cr_assert_eq(buf_append(&b, chunk, 500), 0);    /* exactly the maximum */
    cr_assert_eq(b.len, 2500);
    cr_assert_eq(b.data[2500], '\0');
    cr_assert_leq(b.cap, 2501);
    cr_assert_eq(buf_append(&b, chunk, 1), -1);
    buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
}

Test(buf, huge_appends_do_not_overflow)
{
    struct buf b;
    buf_init(&b, 100);
    cr_assert_eq(buf_append(&b, "x", 1), 0);
    cr_assert_eq(buf_append(&b, "x", (size_t)-1), -1);
    buf_free(&b);
}

Test(buf, take_hands_out_the_bytes_in_pieces)
{
    struct buf b;
    buf_init(&b, 64);
    cr_assert_eq(buf_append(&b, "abcdefg", 7), 0);
    char out[8] = {0};
    size_t off = 0;
    cr_assert_eq(buf_take(&b, &off, out, 3), 3);
    cr_assert_eq(memcmp(out, "abc", 3), 0);
    cr_assert_eq(buf_take(&b, &off, out, 10), 4);
    cr_assert_eq(memcmp(out, "defg", 4), 0);
    cr_assert_eq(off, 7);
    cr_assert_eq(buf_take(&b, &off, out, 10), 0);
    buf_free(&b);
}

Test(envelope, json_media_types)
{
    cr_assert(http_is_json_media_type("application/json"));
    cr_assert(http_is_json_media_type("Application/JSON"));
    cr_assert(http_is_json_media_type("application/json; charset=utf-8"));
    cr_assert(http_is_json_media_type("  application/json ;charset=utf-8"));
    cr_assert(http_is_json_media_type("application/merge-patch+json"));
    cr_assert(http_is_json_media_type("application/problem+json"));
    cr_assert_not(http_is_json_media_type(NULL));
    cr_assert_not(http_is_json_media_type(""));
    cr_assert_not(http_is_json_media_type("text/plain"));
    cr_assert_not(http_is_json_media_type("text/json"));
    cr_assert_not(http_is_json_media_type("application/jsonx"));
    cr_assert_not(http_is_json_media_type("application/x-www-form-urlencoded"));
    cr_assert_not(http_is_json_media_type("application/+json"));
}

Test(envelope, bearer_tokens)
{
    cr_assert(http_bearer_ok("Bearer abc", "abc"));
    cr_assert(http_bearer_ok("bearer abc", "abc"));
    cr_assert_not(http_bearer_ok("Bearer abcd", "abc"));
    cr_assert_not(http_bearer_ok("Bearer ab", "abc"));
    cr_assert_not(http_bearer_ok("Bearer ", "abc"));
    cr_assert_not(http_bearer_ok("Basic abc", "abc"));
    cr_assert_not(http_bearer_ok("abc", "abc"));
    cr_assert_not(http_bearer_ok(NULL, "abc"));
}
