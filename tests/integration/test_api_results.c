/*
 * test_api_results — the read side of a finished run, independent of the
 * worker: each test runs a small backtest with the engine in-process, seeds
 * PostgreSQL with exactly the rows the worker contract describes (orders in
 * artifact order, equity points with NULL first return, the 15 metrics,
 * artifact rows with rendered ones' content NULL, per-iteration profile
 * rows), then checks over HTTP that orders_<f>.csv, equity_curve_<f>.csv
 * and metrics.json are byte-identical to art_write_orders / art_write_equity
 * / art_write_metrics_json for the same backtest, that stored artifacts come
 * back as stored, and that JSON pages, CSV negotiation, profile, 404s on
 * unknown names (and path tricks) behave.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "artifacts.h"
#include "backtest.h"
#include "harness.h"
#include "jobspec.h"
#include "metrics.h"
#include "test_api_client.h"
#include "timeutil.h"

static struct tb_server srv;
static PGconn *db;
static char schema[64];

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fini(void)
{
    harness_server_kill(&srv);
    api_schema_leave(db, schema);
    db = NULL;
    curl_global_cleanup();
}

TestSuite(api_results, .init = init, .fini = fini, .timeout = 180);

static void up(void)
{
    db = api_schema_enter("api_results", schema, sizeof schema);
    cr_assert_eq(harness_server_start(&srv, NULL, NULL), 0, "tradebench-server did not start");
}

static void down(void)
{
    int rc = harness_server_stop(&srv);
    cr_assert_eq(rc, 0, "tradebench-server exit status %d", rc);
}

/* ---- a growable string for array literals and expected bytes -------------- */

struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        cr_assert_not_null(t->s);
    }
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    t->len += (size_t)n;
}

/* "%.17g" or NULL for an array literal element. */
static void text_num(struct text *t, double x)
{
    if (isnan(x))
        text_add(t, "%sNULL", t->len > 1 ? "," : "");
    else
        text_add(t, "%s%.17g", t->len > 1 ? "," : "", x);
}

/* ---- seeding ---------------------------------------------------------------------------- */

struct seeded {
    long long id;
    char ids[32];
    const char *freq;
    tb_jobspec spec;
    tb_backtest bt;
    char *orders_csv, *equity_csv, *metrics_json, *report_md; /* what the CLI writes */
    size_t orders_len, equity_len, metrics_len, report_len;
};

typedef int (*writer_fn)(FILE *f, const tb_backtest *bt);

static char *render(writer_fn w, const tb_backtest *bt, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_not_null(f);
    cr_assert_eq(w(f, bt), 0);
    fclose(f);
    return buf;
}

static int write_report(FILE *f, const tb_backtest *bt);
static const tb_backtest_config *report_cfg;
static int write_report(FILE *f, const tb_backtest *bt)
{
    tb_report_info info = { "seeded", "backtest", 0.5, 0.4, 2048 };
    return art_write_report(f, bt, report_cfg, &info);
}

/* Run the backtest `body` in-process and store its results as the worker
 * would (status succeeded). */
static void seed(const char *body, struct seeded *s)
{
    js_errors errs;
    tb_error err = { 0 };
    json_error_t je;
    memset(s, 0, sizeof *s);
    json_t *b = json_loads(body, 0, &je);
    cr_assert_not_null(b, "%s", je.text);
    cr_assert_eq(jobspec_from_backtest_json(b, &s->spec, &errs), 0, "%s: %s", errs.e[0].field,
                 errs.e[0].message);
    json_decref(b);
    cr_assert_eq(backtest_run(&s->spec.bt, NULL, &s->bt, &err), 0, "%s", err.msg);
    tb_backtest *bt = &s->bt;
    s->freq = tb_freq_name(bt->market->freq);
    s->orders_csv = render(art_write_orders, bt, &s->orders_len);
    s->equity_csv = render(art_write_equity, bt, &s->equity_len);
    s->metrics_json = render(art_write_metrics_json, bt, &s->metrics_len);
    report_cfg = &s->spec.bt;
    s->report_md = render(write_report, bt, &s->report_len);

    /* runs */
    char *params = json_dumps(s->spec.normalized, JSON_COMPACT);
    const char *p1[1] = { params };
    s->id = api_sql_int(db,
                        "INSERT INTO runs (kind, status, params, progress, attempts, started_at, "
                        "finished_at, heartbeat_at) VALUES ('backtest', 'succeeded', $1::jsonb, 1, "
                        "1, now(), now(), now()) RETURNING id",
                        1, p1);
    free(params);
    snprintf(s->ids, sizeof s->ids, "%lld", s->id);

    /* orders, in artifact order (seq), as unnest() arrays */
    const tb_orders *o = &bt->sim.orders;
    size_t *perm = art_order_perm(bt);
    struct text a[8] = { 0 };
    for (int k = 0; k < 8; k++)
        text_add(&a[k], "{");
    for (size_t j = 0; j < o->n; j++) {
        size_t k = perm[j];
        const char *sep = j ? "," : "";
        text_add(&a[0], "%s%zu", sep, j);
        text_add(&a[1], "%s%lld", sep, (long long)bt->panel.ts[o->t[k]]);
        text_add(&a[2], "%s%s", sep, bt->market->symbols[o->sym[k]]);
        text_add(&a[3], "%s%s", sep, o->sell[k] ? "SELL" : "BUY");
        text_num(&a[4], o->qty[k]);
        text_num(&a[5], o->price[k]);
        text_num(&a[6], o->qty[k] * o->price[k]);
        text_num(&a[7], o->cost[k]);
    }
    free(perm);
    for (int k = 0; k < 8; k++)
        text_add(&a[k], "}");
    const char *po[9] = { s->ids, a[0].s, a[1].s, a[2].s, a[3].s, a[4].s, a[5].s, a[6].s, a[7].s };
    PQclear(api_sql(db,
                    "INSERT INTO orders (run_id, seq, ts, symbol, side, quantity, price, notional, cost) "
                    "SELECT $1::bigint, u.seq, to_timestamp(u.ts), u.sym, u.side, u.q, u.p, u.n, u.c "
                    "FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::float8[], "
                    "$7::float8[], $8::float8[], $9::float8[]) AS u(seq, ts, sym, side, q, p, n, c)",
                    9, po));
    for (int k = 0; k < 8; k++)
        free(a[k].s);

    /* equity points: the columns art_write_equity computes */
    const tb_sim_result *r = &bt->sim;
    struct text e[6] = { 0 };
    for (int k = 0; k < 6; k++)
        text_add(&e[k], "{");
    double peak = r->T ? r->equity[0] : 0;
    for (size_t t = 0; t < r->T; t++) {
        double eq = r->equity[t];
        if (eq > peak)
            peak = eq;
        text_add(&e[0], "%s%lld", t ? "," : "", (long long)bt->panel.ts[t]);
        text_num(&e[1], eq);
        text_num(&e[2], r->cash[t]);
        text_num(&e[3], r->gross[t] / eq);
        text_num(&e[4], 1 - eq / peak);
        text_num(&e[5], t ? eq / r->equity[t - 1] - 1 : NAN);
    }
    for (int k = 0; k < 6; k++)
        text_add(&e[k], "}");
    const char *pe[7] = { s->ids, e[0].s, e[1].s, e[2].s, e[3].s, e[4].s, e[5].s };
    PQclear(api_sql(db,
                    "INSERT INTO equity_points (run_id, ts, equity, cash, exposure, drawdown, ret) "
                    "SELECT $1::bigint, to_timestamp(u.ts), u.e, u.c, u.x, u.d, u.r FROM unnest("
                    "$2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], "
                    "$7::float8[]) AS u(ts, e, c, x, d, r)",
                    7, pe));
    for (int k = 0; k < 6; k++)
        free(e[k].s);

    /* metrics (NULL when undefined) */
    struct text mn = { 0 }, mv = { 0 };
    text_add(&mn, "{");
    text_add(&mv, "{");
    for (size_t k = 0; k < 15; k++) {
        text_add(&mn, "%s%s", k ? "," : "", metrics_names[k]);
        text_num(&mv, metrics_get(&bt->metrics, k));
    }
    text_add(&mn, "}");
    text_add(&mv, "}");
    const char *pm[3] = { s->ids, mn.s, mv.s };
    PQclear(api_sql(db,
                    "INSERT INTO metrics (run_id, name, value) SELECT $1::bigint, n, v "
                    "FROM unnest($2::text[], $3::float8[]) AS u(n, v)",
                    3, pm));
    free(mn.s);
    free(mv.s);

    /* artifacts: three rendered on request, the report stored */
    char on[32], en[40], rn[48], no[24], ne[24], ob[24], eb[24], mb[24];
    snprintf(on, sizeof on, "orders_%s.csv", s->freq);
    snprintf(en, sizeof en, "equity_curve_%s.csv", s->freq);
    snprintf(rn, sizeof rn, "performance_report_%s.md", s->freq);
    snprintf(no, sizeof no, "%zu", o->n);
    snprintf(ne, sizeof ne, "%zu", r->T);
    snprintf(ob, sizeof ob, "%zu", s->orders_len);
    snprintf(eb, sizeof eb, "%zu", s->equity_len);
    snprintf(mb, sizeof mb, "%zu", s->metrics_len);
    const char *pa[10] = { s->ids, on, no, ob, en, ne, eb, mb, rn, s->report_md };
    PQclear(api_sql(db,
                    "INSERT INTO artifacts (run_id, name, content_type, rows, bytes, content) VALUES "
                    "($1::bigint, $2, 'text/csv', $3::bigint, $4::bigint, NULL), "
                    "($1::bigint, $5, 'text/csv', $6::bigint, $7::bigint, NULL), "
                    "($1::bigint, 'metrics.json', 'application/json', NULL, $8::bigint, NULL), "
                    "($1::bigint, $9, 'text/markdown', NULL, length(convert_to($10, 'UTF8')), "
                    "convert_to($10, 'UTF8'))",
                    10, pa));

    /* the profile of two iterations */
    const char *pi[1] = { s->ids };
    PQclear(api_sql(db,
                    "INSERT INTO run_iterations (run_id, iteration, wall_seconds, cpu_seconds, "
                    "peak_rss_bytes, stages, started_at, finished_at) VALUES "
                    "($1::bigint, 1, 0.5, 0.4, 1000, '[{\"name\":\"load_data\",\"wall_seconds\":0.1},"
                    "{\"name\":\"signals\",\"wall_seconds\":0.05},{\"name\":\"simulate\",\"wall_seconds\":0.2},"
                    "{\"name\":\"metrics\",\"wall_seconds\":0.01}]', now(), now()), "
                    "($1::bigint, 2, 0.3, 0.25, 3000, '[{\"name\":\"load_data\",\"wall_seconds\":0.08},"
                    "{\"name\":\"signals\",\"wall_seconds\":0.07},{\"name\":\"simulate\",\"wall_seconds\":0.1},"
                    "{\"name\":\"metrics\",\"wall_seconds\":0.02}]', now(), now())",
                    1, pi));
}

static void seeded_free(struct seeded *s)
{
    free(s->orders_csv);
    free(s->equity_csv);
    free(s->metrics_json);
    free(s->report_md);
    backtest_free(&s->bt);
    jobspec_free(&s->spec);
}

/* GET path and assert 200 with exactly `want` (len bytes) and the type prefix. */
static void expect_bytes(const char *path, const char *accept, const char *want, size_t len,
                         const char *type_prefix, const char *filename)
{
    struct api_resp r;
    api_call(&srv, "GET", path, NULL, accept, NULL, &r);
    api_expect(&r, 200);
    cr_assert(strncmp(r.content_type, type_prefix, strlen(type_prefix)) == 0, "%s: type %s",
              path, r.content_type);
    cr_assert_eq(r.len, len, "%s: %zu bytes, want %zu", path, r.len, len);
    if (memcmp(r.body, want, len) != 0) {
        size_t i = 0;
        while (i < len && r.body[i] == want[i])
            i++;
        cr_assert_fail("%s differs at byte %zu: got '%.60s' want '%.60s'", path, i, r.body + i,
                       want + i);
    }
    if (filename) {
        char d[256];
        snprintf(d, sizeof d, "attachment; filename=\"%s\"", filename);
        cr_assert_str_eq(r.disposition, d, "%s", path);
    }
    api_resp_free(&r);
}

static const char BODY_1D[] =
    "{\"strategy\":\"trend_baseline\",\"data\":\"synthetic\",\"seed\":11,\"universe\":60}";
static const char BODY_1H[] =
    "{\"strategy\":\"ema_trend\",\"data\":\"synthetic\",\"freq\":\"1h\",\"universe\":5,"
    "\"last_bars\":300,\"params\":{\"n\":20}}";

Test(api_results, artifacts_are_byte_identical_to_the_cli_renderers)
{
    struct seeded s;
    char path[128];
    up();
    seed(BODY_1D, &s);
    cr_assert_gt(s.bt.sim.orders.n, 4000, "want several keyset pages, have %zu orders",
                 s.bt.sim.orders.n);

    snprintf(path, sizeof path, "/runs/%s/artifacts/orders_1d.csv", s.ids);
    expect_bytes(path, NULL, s.orders_csv, s.orders_len, "text/csv", "orders_1d.csv");
    snprintf(path, sizeof path, "/runs/%s/artifacts/equity_curve_1d.csv", s.ids);
    expect_bytes(path, NULL, s.equity_csv, s.equity_len, "text/csv", "equity_curve_1d.csv");
    snprintf(path, sizeof path, "/runs/%s/artifacts/metrics.json", s.ids);
    expect_bytes(path, NULL, s.metrics_json, s.metrics_len, "application/json", "metrics.json");
    snprintf(path, sizeof path, "/runs/%s/artifacts/performance_report_1d.md", s.ids);
    expect_bytes(path, NULL, s.report_md, s.report_len, "text/markdown",
                 "performance_report_1d.md");

    /* The CSV downloads are streamed (chunked), not buffered whole. */
    struct api_resp r;
    snprintf(path, sizeof path, "/runs/%s/artifacts/orders_1d.csv", s.ids);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    cr_assert_str_eq(r.transfer_encoding, "chunked");
    api_resp_free(&r);
    /* HEAD: headers only. */
    api_call(&srv, "HEAD", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    cr_assert_eq(r.len, 0);
    api_resp_free(&r);

    /* The list. */
    snprintf(path, sizeof path, "/runs/%s/artifacts", s.ids);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *doc = api_json(&r), *it;
    size_t i;
    cr_assert_str_eq(json_string_value(json_object_get(doc, "status")), "succeeded");
    cr_assert_eq(json_array_size(json_object_get(doc, "items")), 4);
    json_array_foreach(json_object_get(doc, "items"), i, it) {
        const char *name = json_string_value(json_object_get(it, "name"));
        char url[128];
        snprintf(url, sizeof url, "/runs/%s/artifacts/%s", s.ids, name);
        cr_assert_str_eq(json_string_value(json_object_get(it, "url")), url);
        if (!strcmp(name, "orders_1d.csv")) {
            cr_assert_str_eq(json_string_value(json_object_get(it, "content_type")), "text/csv");
            cr_assert_eq(json_integer_value(json_object_get(it, "rows")), (json_int_t)s.bt.sim.orders.n);
            cr_assert_eq(json_integer_value(json_object_get(it, "bytes")), (json_int_t)s.orders_len);
        }
        if (!strcmp(name, "metrics.json"))
            cr_assert(json_is_null(json_object_get(it, "rows")));
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "name")),
                     "equity_curve_1d.csv"); /* by name */
    json_decref(doc);
    api_resp_free(&r);
    seeded_free(&s);
    down();
}

Test(api_results, names_outside_the_list_are_404_never_paths)
{
    struct seeded s;
    up();
    seed(BODY_1H, &s);
    static const char *const names[] = {
        "orders_1d.csv",          /* the run is 1h */
        "nope.csv",
        "..",
        "%2E%2E",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2E%2E%2Fetc%2Fpasswd",
        "../../../../etc/passwd",
        "orders_1h.csv%00.md",
        "..%5Cmetrics.json",
        "metrics.json%20",
        "/etc/passwd",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct api_resp r;
        char path[256];
        snprintf(path, sizeof path, "/runs/%s/artifacts/%s", s.ids, names[i]);
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        cr_assert_eq(r.status, 404, "%s: %ld %.200s", path, r.status, r.body);
        cr_assert(strstr(r.body, "root:") == NULL);
        api_resp_free(&r);
    }
    /* The real 1h names work, with ISO timestamps, byte for byte. */
    char path[128];
    snprintf(path, sizeof path, "/runs/%s/artifacts/orders_1h.csv", s.ids);
    expect_bytes(path, NULL, s.orders_csv, s.orders_len, "text/csv", "orders_1h.csv");
    snprintf(path, sizeof path, "/runs/%s/artifacts/equity_curve_1h.csv", s.ids);
    expect_bytes(path, NULL, s.equity_csv, s.equity_len, "text/csv", "equity_curve_1h.csv");
    cr_assert(strstr(s.equity_csv, "T15:30:00Z") || strstr(s.equity_csv, "T16:30:00Z"),
              "1h timestamps are ISO: %.80s", s.equity_csv);
    seeded_free(&s);
    down();
}

/* Walk /backtests/{id}/<what>?limit=... and concatenate the items. */
static json_t *walk_pages(const char *ids, const char *what, const char *extra, int limit,
                          int *pages)
{
    char path[512], cursor[128] = "";
    json_t *all = json_array();
    *pages = 0;
    for (;;) {
        struct api_resp r;
        snprintf(path, sizeof path, "/backtests/%s/%s?limit=%d%s%s%s", ids, what, limit, extra,
                 cursor[0] ? "&cursor=" : "", cursor);
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        cr_assert_str_eq(r.content_type, "application/json");
        json_t *doc = api_json(&r);
        cr_assert_leq(json_array_size(json_object_get(doc, "items")), (size_t)limit);
        json_array_extend(all, json_object_get(doc, "items"));
        (*pages)++;
        json_t *next = json_object_get(doc, "next_cursor");
        if (json_is_null(next)) {
            json_decref(doc);
            api_resp_free(&r);
            return all;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(doc);
        api_resp_free(&r);
    }
}

Test(api_results, orders_and_equity_as_json_pages_and_negotiated_csv)
{
    struct seeded s;
    char path[256];
    int pages;
    up();
    seed(BODY_1H, &s);
    const tb_orders *o = &s.bt.sim.orders;
    size_t *perm = art_order_perm(&s.bt);

    /* Orders: every page, no duplicates, the artifact's order and values. */
    json_t *items = walk_pages(s.ids, "orders", "", 17, &pages);
    cr_assert_eq(json_array_size(items), o->n);
    cr_assert_eq(pages, o->n ? (int)((o->n + 16) / 17) : 1);
    json_t *it;
    size_t j;
    json_array_foreach(items, j, it) {
        size_t k = perm[j];
        char ts[24];
        tu_format(s.bt.panel.ts[o->t[k]], 0, ts);
        cr_assert_eq(json_integer_value(json_object_get(it, "seq")), (json_int_t)j);
        cr_assert_str_eq(json_string_value(json_object_get(it, "ts")), ts);
        cr_assert_str_eq(json_string_value(json_object_get(it, "symbol")),
                         s.bt.market->symbols[o->sym[k]]);
        cr_assert_str_eq(json_string_value(json_object_get(it, "side")), o->sell[k] ? "SELL" : "BUY");
        cr_assert_eq(json_real_value(json_object_get(it, "quantity")), o->qty[k]);
        cr_assert_eq(json_real_value(json_object_get(it, "price")), o->price[k]);
        cr_assert_eq(json_real_value(json_object_get(it, "cost")), o->cost[k]);
    }
    json_decref(items);

    /* One symbol only. */
    const char *sym = s.bt.market->symbols[0];
    size_t want = 0;
    for (size_t k = 0; k < o->n; k++)
        want += strcmp(s.bt.market->symbols[o->sym[k]], sym) == 0;
    char extra[64];
    snprintf(extra, sizeof extra, "&symbol=%s", sym);
    items = walk_pages(s.ids, "orders", extra, 5, &pages);
    cr_assert_eq(json_array_size(items), want);
    json_array_foreach(items, j, it) cr_assert_str_eq(json_string_value(json_object_get(it, "symbol")), sym);
    json_decref(items);

    /* Equity: every point, first return null. */
    items = walk_pages(s.ids, "equity", "", 64, &pages);
    cr_assert_eq(json_array_size(items), s.bt.sim.T);
    cr_assert(json_is_null(json_object_get(json_array_get(items, 0), "return")));
    cr_assert_eq(json_real_value(json_object_get(json_array_get(items, 1), "equity")), s.bt.sim.equity[1]);
    cr_assert(json_is_real(json_object_get(json_array_get(items, 1), "return")));
    json_decref(items);

    /* CSV: ?format=csv and Accept: text/csv give the artifact's bytes. */
    snprintf(path, sizeof path, "/backtests/%s/orders?format=csv", s.ids);
    expect_bytes(path, NULL, s.orders_csv, s.orders_len, "text/csv", "orders_1h.csv");
    snprintf(path, sizeof path, "/backtests/%s/orders", s.ids);
    expect_bytes(path, "Accept: text/csv", s.orders_csv, s.orders_len, "text/csv", "orders_1h.csv");
    expect_bytes(path, "Accept: application/json;q=0.5, text/csv", s.orders_csv, s.orders_len,
                 "text/csv", NULL);
    snprintf(path, sizeof path, "/backtests/%s/equity?format=csv", s.ids);
    expect_bytes(path, NULL, s.equity_csv, s.equity_len, "text/csv", "equity_curve_1h.csv");
    snprintf(path, sizeof path, "/backtests/%s/equity", s.ids);
    expect_bytes(path, "Accept: text/*", s.equity_csv, s.equity_len, "text/csv", NULL);

    /* JSON wins ties and explicit preferences. */
    struct api_resp r;
    api_call(&srv, "GET", path, NULL, "Accept: */*", NULL, &r);
    cr_assert_str_eq(r.content_type, "application/json");
    api_resp_free(&r);
    api_call(&srv, "GET", path, NULL, "Accept: text/csv;q=0.2, application/json", NULL, &r);
    cr_assert_str_eq(r.content_type, "application/json");
    api_resp_free(&r);
    snprintf(path, sizeof path, "/backtests/%s/equity?format=json", s.ids);
    api_call(&srv, "GET", path, NULL, "Accept: text/csv", NULL, &r);
    cr_assert_str_eq(r.content_type, "application/json");
    api_resp_free(&r);

    /* Bad query parameters name themselves. */
    static const struct {
        const char *q;
        const char *field;
    } bad[] = {
        { "orders?format=xml", "format" }, { "orders?limit=0", "limit" },
        { "orders?limit=5001", "limit" },  { "orders?cursor=zz", "cursor" },
        { "orders?page=2", "page" },       { "equity?symbol=SYN000", "symbol" },
        { "equity?cursor=bzE6MTA", "cursor" }, /* an orders cursor on the equity list */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/backtests/%s/%s", s.ids, bad[i].q);
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect_field_error(&r, bad[i].field);
        api_resp_free(&r);
    }
    free(perm);
    seeded_free(&s);
    down();
}

Test(api_results, run_metrics_summary_and_profile)
{
    struct seeded s;
    char path[128];
    struct api_resp r;
    up();
    seed(BODY_1H, &s);

    /* GET /runs/{id} and /backtests/{id}: the metrics are metrics.json's. */
    json_t *want = metrics_to_json(&s.bt.metrics);
    const char *bases[] = { "runs", "backtests" };
    for (int b = 0; b < 2; b++) {
        snprintf(path, sizeof path, "/%s/%s", bases[b], s.ids);
        api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
        api_expect(&r, 200);
        json_t *doc = api_json(&r);
        cr_assert_str_eq(json_string_value(json_object_get(doc, "status")), "succeeded");
        json_t *m = json_object_get(doc, "metrics");
        cr_assert(json_equal(m, want), "metrics %s", r.body);
        const char *key;
        json_t *v;
        size_t k = 0;
        json_object_foreach(m, key, v) cr_assert_str_eq(key, metrics_names[k++]); /* SPEC order */
        cr_assert_eq(k, 15);
        cr_assert(json_is_integer(json_object_get(m, "n_orders")));
        json_decref(doc);
        api_resp_free(&r);
    }
    json_decref(want);

    /* Profile: two iterations, medians, max RSS, hotspots by median stage time. */
    snprintf(path, sizeof path, "/runs/%s/profile", s.ids);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    json_t *doc = api_json(&r);
    json_t *its = json_object_get(doc, "iterations");
    cr_assert_eq(json_array_size(its), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(its, 1), "peak_rss_bytes")), 3000);
    cr_assert_eq(json_array_size(json_object_get(json_array_get(its, 0), "stages")), 4);
    json_t *sum = json_object_get(doc, "summary");
    cr_assert_float_eq(json_real_value(json_object_get(sum, "median_wall_seconds")), 0.4, 1e-12);
    cr_assert_float_eq(json_real_value(json_object_get(sum, "median_cpu_seconds")), 0.325, 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(sum, "max_peak_rss_bytes")), 3000);
    cr_assert_eq(json_integer_value(json_object_get(sum, "iterations_recorded")), 2);
    json_t *hot = json_object_get(doc, "hotspots");
    cr_assert_eq(json_array_size(hot), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hot, 0), "name")), "simulate");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hot, 1), "name")), "load_data");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hot, 2), "name")), "signals");
    cr_assert_float_eq(json_real_value(json_object_get(json_array_get(hot, 0), "wall_seconds")), 0.15, 1e-12);
    cr_assert_float_eq(json_real_value(json_object_get(json_array_get(hot, 0), "share")), 0.375, 1e-12);
    json_decref(doc);
    api_resp_free(&r);

    /* A run without results yet: an empty profile and list, 409 for results. */
    api_call(&srv, "POST", "/backtests", "{\"strategy\":\"ema_trend\",\"universe\":2}", NULL, NULL, &r);
    long long q = api_run_id(&r);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/profile", q);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    doc = api_json(&r);
    cr_assert_eq(json_array_size(json_object_get(doc, "iterations")), 0);
    cr_assert(json_is_null(json_object_get(json_object_get(doc, "summary"), "median_wall_seconds")));
    json_decref(doc);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/runs/%lld/artifacts", q);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect(&r, 200);
    doc = api_json(&r);
    cr_assert_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    api_resp_free(&r);
    snprintf(path, sizeof path, "/backtests/%lld/equity?format=csv", q);
    api_call(&srv, "GET", path, NULL, NULL, NULL, &r);
    api_expect_problem(&r, 409, "conflict");
    api_resp_free(&r);
    seeded_free(&s);
    down();
}
