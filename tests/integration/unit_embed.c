/*
 * unit_embed — what the build embedded: migrations named NNN_name.sql in
 * strictly ascending order, and an OpenAPI document that parses and
 * documents every row of the route table (and nothing that is not routed).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "api/routes.h"
#include "server/embed.h"
#include "server/migrate.h"

Test(embed, migrations_are_well_named_and_ordered)
{
    cr_assert_gt(embed_migrations_count, 0);
    int prev = 0;
    for (size_t i = 0; i < embed_migrations_count; i++) {
        int v = migrate_version_of(embed_migrations[i].name);
        cr_assert_gt(v, prev, "%s", embed_migrations[i].name);
        cr_assert_eq(strlen(embed_migrations[i].data), embed_migrations[i].len,
                     "%s holds a NUL byte", embed_migrations[i].name);
        prev = v;
    }
    cr_assert_str_eq(embed_migrations[0].name, "001_init.sql");
}

Test(embed, migration_names)
{
    cr_assert_eq(migrate_version_of("001_init.sql"), 1);
    cr_assert_eq(migrate_version_of("012_add_x_2.sql"), 12);
    cr_assert_eq(migrate_version_of("01_init.sql"), -1);
    cr_assert_eq(migrate_version_of("001-init.sql"), -1);
    cr_assert_eq(migrate_version_of("001_Init.sql"), -1);
    cr_assert_eq(migrate_version_of("001_.sql"), -1);
    cr_assert_eq(migrate_version_of("001_init.sql.bak"), -1);
}

static char *lower_method(const char *m, char *out, size_t n)
{
    size_t i = 0;
    for (; m[i] && i + 1 < n; i++)
        out[i] = (char)(m[i] >= 'A' && m[i] <= 'Z' ? m[i] + 32 : m[i]);
    out[i] = '\0';
    return out;
}

Test(embed, openapi_documents_every_route)
{
    json_error_t e;
    cr_assert_eq(embed_openapi_count, 1);
    json_t *doc = json_loadb(embed_openapi[0].data, embed_openapi[0].len, 0, &e);
    cr_assert_not_null(doc, "api/openapi.json: line %d: %s", e.line, e.text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    size_t documented = 0;
    const char *path;
    json_t *ops;
    json_object_foreach(paths, path, ops) documented += json_object_size(ops);
    for (size_t i = 0; i < api_routes_count; i++) {
        char m[16];
        json_t *item = json_object_get(paths, api_routes[i].pattern);
        cr_assert_not_null(item, "route %s is not in openapi.json", api_routes[i].pattern);
        cr_assert_not_null(json_object_get(item, lower_method(api_routes[i].method, m, sizeof m)),
                           "%s %s is not in openapi.json", api_routes[i].method,
                           api_routes[i].pattern);
    }
    cr_assert_eq(documented, api_routes_count, "openapi.json documents operations not routed");
    json_decref(doc);
}
