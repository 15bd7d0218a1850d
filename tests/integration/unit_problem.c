/*
 * unit_problem — problem+json serialisation: the four RFC 9457 members,
 * stable type URNs, field errors, and valid JSON even when a detail echoes
 * bytes that are not UTF-8.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "server/problem.h"

Test(problem, four_members_and_stable_type)
{
    struct problem p;
    problem_set(&p, PROBLEM_NOT_FOUND, "no resource at %s", "/x");
    json_t *j = problem_to_json(&p);
    cr_assert_str_eq(json_string_value(json_object_get(j, "type")),
                     "urn:tradebench:problem:not-found");
    cr_assert_str_eq(json_string_value(json_object_get(j, "title")), "Not found");
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 404);
    cr_assert_str_eq(json_string_value(json_object_get(j, "detail")), "no resource at /x");
    cr_assert_null(json_object_get(j, "errors"));
    cr_assert_eq(json_object_size(j), 4);
    json_decref(j);
}

Test(problem, statuses_of_every_kind)
{
    static const int want[PROBLEM_KIND_COUNT] = { 400, 400, 401, 404, 405, 409, 413, 414, 415,
                                                  431, 500, 501, 503 };
    for (int k = 0; k < PROBLEM_KIND_COUNT; k++) {
        struct problem p;
        problem_set(&p, (enum problem_kind)k, NULL);
        cr_assert_eq(p.status, want[k], "kind %d", k);
        json_t *j = problem_to_json(&p);
        /* detail falls back to the title rather than being empty */
        cr_assert_gt(strlen(json_string_value(json_object_get(j, "detail"))), 0);
        json_decref(j);
    }
}

Test(problem, field_errors)
{
    struct problem p;
    problem_set(&p, PROBLEM_VALIDATION, "2 invalid fields");
    problem_add_error(&p, "iterations", "must be an integer in 1..%d", 100);
    problem_add_error(&p, "job", "unknown job \"%s\"", "X");
    json_t *j = problem_to_json(&p);
    json_t *errs = json_object_get(j, "errors");
    cr_assert(json_is_array(errs));
    cr_assert_eq(json_array_size(errs), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 0), "field")),
                     "iterations");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 0), "message")),
                     "must be an integer in 1..100");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 1), "field")), "job");
    json_decref(j);
}

Test(problem, error_list_is_bounded)
{
    struct problem p;
    problem_set(&p, PROBLEM_VALIDATION, NULL);
    for (int i = 0; i < PROBLEM_MAX_ERRORS + 5; i++)
        problem_add_error(&p, "f", "m%d", i);
    cr_assert_eq(p.nerrors, PROBLEM_MAX_ERRORS);
}

Test(problem, invalid_utf8_is_replaced_not_fatal)
{
    struct problem p;
    problem_set(&p, PROBLEM_NOT_FOUND, "no resource at /\xff\xfe/\xe2\x82 ok \xc3\xa9");
    json_t *j = problem_to_json(&p);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "detail")),
                     "no resource at /?" "?/?" "? ok \xc3\xa9");
    char *text = json_dumps(j, JSON_COMPACT);
    cr_assert_not_null(text);
    free(text);
    json_decref(j);
}

Test(problem, long_details_are_truncated_safely)
{
    struct problem p;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    problem_set(&p, PROBLEM_INTERNAL, "%s", big);
    json_t *j = problem_to_json(&p);
    cr_assert_eq(strlen(json_string_value(json_object_get(j, "detail"))), sizeof p.detail - 1);
    json_decref(j);
}
