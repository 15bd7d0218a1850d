/*
 * unit_router — route matching: literals, {param} capture, 404 vs 405 with
 * the Allow list, HEAD on GET routes, trailing slashes and empty segments.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "server/router.h"

static void h_a(const struct http_request *q, struct http_reply *r) { (void)q; (void)r; }
static void h_b(const struct http_request *q, struct http_reply *r) { (void)q; (void)r; }
static void h_c(const struct http_request *q, struct http_reply *r) { (void)q; (void)r; }

static const struct route table[] = {
    { "GET", "/runs", h_a },
    { "POST", "/runs", h_b },
    { "GET", "/runs/{id}", h_c },
    { "POST", "/runs/{id}/cancel", h_a },
    { "GET", "/runs/{id}/artifacts/{name}", h_b },
    { "GET", "/", h_c },
};
static const size_t n = sizeof table / sizeof table[0];

Test(router, literal_routes_match_by_method)
{
    struct route_match m;
    cr_assert_eq(router_match(table, n, "GET", "/runs", &m), ROUTE_FOUND);
    cr_assert_eq(m.route->handler, h_a);
    cr_assert_eq(m.nparams, 0);
    cr_assert_eq(router_match(table, n, "POST", "/runs", &m), ROUTE_FOUND);
    cr_assert_eq(m.route->handler, h_b);
    cr_assert_eq(router_match(table, n, "GET", "/", &m), ROUTE_FOUND);
    cr_assert_eq(m.route->handler, h_c);
}

Test(router, params_are_captured)
{
    struct route_match m;
    cr_assert_eq(router_match(table, n, "GET", "/runs/42/artifacts/orders_1d.csv", &m),
                 ROUTE_FOUND);
    cr_assert_eq(m.nparams, 2);
    cr_assert_eq(m.params[0].name_len, 2);
    cr_assert(strncmp(m.params[0].name, "id", 2) == 0);
    cr_assert_eq(m.params[0].value_len, 2);
    cr_assert(strncmp(m.params[0].value, "42", 2) == 0);
    cr_assert(strncmp(m.params[1].name, "name", 4) == 0);
    cr_assert_eq(m.params[1].value_len, strlen("orders_1d.csv"));
    cr_assert(strncmp(m.params[1].value, "orders_1d.csv", m.params[1].value_len) == 0);
}

Test(router, unknown_paths_are_404)
{
    struct route_match m;
    cr_assert_eq(router_match(table, n, "GET", "/nope", &m), ROUTE_NOT_FOUND);
    cr_assert_eq(router_match(table, n, "GET", "/runs/", &m), ROUTE_NOT_FOUND);
    cr_assert_eq(router_match(table, n, "GET", "/runs//cancel", &m), ROUTE_NOT_FOUND);
    cr_assert_eq(router_match(table, n, "GET", "/runs/1/2", &m), ROUTE_NOT_FOUND);
    cr_assert_eq(router_match(table, n, "GET", "runs", &m), ROUTE_NOT_FOUND);
    cr_assert_eq(router_match(table, n, "GET", "", &m), ROUTE_NOT_FOUND);
    cr_assert_eq(router_match(table, n, "GET", "/runsX", &m), ROUTE_NOT_FOUND);
}

Test(router, known_path_wrong_method_is_405_with_allow)
{
    struct route_match m;
    cr_assert_eq(router_match(table, n, "DELETE", "/runs", &m), ROUTE_METHOD_NOT_ALLOWED);
    cr_assert_str_eq(m.allow, "GET, HEAD, POST");
    cr_assert_eq(router_match(table, n, "GET", "/runs/7/cancel", &m), ROUTE_METHOD_NOT_ALLOWED);
    cr_assert_str_eq(m.allow, "POST");
    cr_assert_eq(router_match(table, n, "PUT", "/runs/7", &m), ROUTE_METHOD_NOT_ALLOWED);
    cr_assert_str_eq(m.allow, "GET, HEAD");
}

Test(router, head_matches_get_routes)
{
    struct route_match m;
    cr_assert_eq(router_match(table, n, "HEAD", "/runs/9", &m), ROUTE_FOUND);
    cr_assert_eq(m.route->handler, h_c);
    cr_assert_eq(router_match(table, n, "HEAD", "/runs/9/cancel", &m), ROUTE_METHOD_NOT_ALLOWED);
}

Test(router, pattern_match_directly)
{
    size_t np = 99;
    cr_assert(router_pattern_match("/a/{x}/b", "/a/1/b", NULL, &np));
    cr_assert_eq(np, 1);
    cr_assert_not(router_pattern_match("/a/{x}/b", "/a/1/c", NULL, NULL));
    cr_assert_not(router_pattern_match("/a/{x}", "/a", NULL, NULL));
    cr_assert(router_pattern_match("/", "/", NULL, NULL));
    cr_assert_not(router_pattern_match("/", "/x", NULL, NULL));
}
