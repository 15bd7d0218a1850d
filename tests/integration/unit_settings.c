/*
 * unit_settings — TB_* parsing from a fake environment: defaults, valid
 * overrides, empty-as-unset, and errors that name the variable.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "server/settings.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *lookup(const char *name, void *ud)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i]; i += 2) {
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    }
    return NULL;
}

Test(settings, defaults)
{
    const char *env[] = { NULL };
    struct settings s;
    char err[256];
    cr_assert_eq(settings_load(&s, lookup, env, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(s.database_url, SETTINGS_DEFAULT_DATABASE_URL);
    cr_assert_str_eq(s.listen_host, "127.0.0.1");
    cr_assert_eq(s.listen_port, 8080);
    cr_assert_null(s.api_token);
    cr_assert_null(s.data);
    cr_assert_eq(s.worker_concurrency, 1);
    cr_assert_eq(s.http_threads, 4);
    cr_assert_eq(s.http_per_ip_limit, 256);
    cr_assert_eq(s.log_level, LOG_LEVEL_INFO);
    settings_free(&s);
}

Test(settings, overrides)
{
    const char *env[] = { "TB_DATABASE_URL", "host=db dbname=x", "TB_LISTEN", "0.0.0.0:9000",
                          "TB_API_TOKEN", "t0k", "TB_WORKER_CONCURRENCY", "3",
                          "TB_HTTP_THREADS", "8", "TB_LOG_LEVEL", "DEBUG", "TB_DATA", "/data",
                          "TB_HTTP_PER_IP_LIMIT", "16", NULL };
    struct settings s;
    char err[256];
    cr_assert_eq(settings_load(&s, lookup, env, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(s.database_url, "host=db dbname=x");
    cr_assert_str_eq(s.listen_host, "0.0.0.0");
    cr_assert_eq(s.listen_port, 9000);
    cr_assert_str_eq(s.api_token, "t0k");
    cr_assert_eq(s.worker_concurrency, 3);
    cr_assert_eq(s.http_threads, 8);
    cr_assert_eq(s.http_per_ip_limit, 16);
    cr_assert_eq(s.log_level, LOG_LEVEL_DEBUG);
    cr_assert_str_eq(s.data, "/data");
    settings_free(&s);
    settings_free(&s); /* idempotent */
}

Test(settings, empty_values_mean_unset)
{
    const char *env[] = { "TB_API_TOKEN", "", "TB_LISTEN", "", NULL };
    struct settings s;
    char err[256];
    cr_assert_eq(settings_load(&s, lookup, env, err, sizeof err), 0, "%s", err);
    cr_assert_null(s.api_token);
    cr_assert_eq(s.listen_port, 8080);
    settings_free(&s);
}

static void expect_error(const char *name, const char *value, const char *needle)
{
    const char *env[] = { name, value, NULL };
    struct settings s;
    char err[256] = "";
    cr_assert_eq(settings_load(&s, lookup, env, err, sizeof err), -1, "%s=%s accepted", name,
                 value);
    cr_assert(strstr(err, needle) != NULL, "error \"%s\" lacks \"%s\"", err, needle);
    cr_assert_null(s.database_url); /* freed on failure */
}

Test(settings, invalid_values_name_the_variable)
{
    expect_error("TB_LISTEN", "8080", "TB_LISTEN");
    expect_error("TB_LISTEN", "127.0.0.1:0", "TB_LISTEN");
    expect_error("TB_LISTEN", "127.0.0.1:65536", "TB_LISTEN");
    expect_error("TB_LISTEN", "127.0.0.1:80x", "TB_LISTEN");
    expect_error("TB_LISTEN", "::1:80", "TB_LISTEN");
    expect_error("TB_WORKER_CONCURRENCY", "0", "TB_WORKER_CONCURRENCY");
    expect_error("TB_WORKER_CONCURRENCY", "two", "TB_WORKER_CONCURRENCY");
    expect_error("TB_WORKER_CONCURRENCY", "2 ", "TB_WORKER_CONCURRENCY");
    expect_error("TB_HTTP_THREADS", "65", "TB_HTTP_THREADS");
    expect_error("TB_HTTP_PER_IP_LIMIT", "0", "TB_HTTP_PER_IP_LIMIT");
    expect_error("TB_HTTP_PER_IP_LIMIT", "513", "TB_HTTP_PER_IP_LIMIT");
    expect_error("TB_LOG_LEVEL", "verbose", "TB_LOG_LEVEL");
}

Test(settings, listen_forms)
{
    char *host = NULL, err[256];
    unsigned port = 0;
    cr_assert_eq(settings_parse_listen("[::1]:8081", &host, &port, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 8081);
    free(host);
    cr_assert_eq(settings_parse_listen(":9090", &host, &port, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(host, "0.0.0.0");
    cr_assert_eq(port, 9090);
    free(host);
    cr_assert_eq(settings_parse_listen("localhost:1", &host, &port, err, sizeof err), 0, "%s",
                 err);
    cr_assert_str_eq(host, "localhost");
    free(host);
}

Test(settings, log_levels)
{
    enum log_level l;
    cr_assert_eq(logger_level_parse("warning", &l), 0);
    cr_assert_eq(l, LOG_LEVEL_WARN);
    cr_assert_eq(logger_level_parse("Error", &l), 0);
    cr_assert_eq(l, LOG_LEVEL_ERROR);
    cr_assert_eq(logger_level_parse("", &l), -1);
    cr_assert_eq(logger_level_parse(NULL, &l), -1);
    cr_assert_str_eq(logger_level_name(LOG_LEVEL_INFO), "info");
}
