/* test_csv_reader.c — the strict CSV reader against SPEC §1.1: one test per
 * rejection rule (each asserting TB_EINVAL and a message naming "file:line:"),
 * the accepted line-ending variants, exact number parsing (bit-for-bit equal to
 * strtod), csv_load on a real temporary directory and csv_list_symbols' strcmp
 * order. Buffers are parsed under the fake path "d/X.csv"; temp directories
 * are made with mkdtemp under /tmp and removed by the test that made them. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv_reader.h"
#include "market.h"
#include "tb_error.h"

#define HDR "date,open,high,low,close,volume\n"
#define ROW2 "2024-01-02,10,11,9,10.5,1000\n"
#define ROW3 "2024-01-03,10.5,11.5,10,11,1200\n"
#define ROW4 "2024-01-04,11,12,10.5,11.5,900\n"

/* Parse text as "d/X.csv" (1d) into a fresh market; returns the rc, fills *err. */
static int parse_freq(const char *text, size_t len, tb_freq f, tb_error *err, tb_market **out)
{
    tb_market *m = market_new(f, 1, 0);
    tb_error_clear(err);
    int rc = csv_parse_buffer("d/X.csv", text, len, f, "X", m, err);
    market_finish(m);
    if (out) *out = m;
    else market_free(m);
    return rc;
}

static int parse(const char *text, tb_error *err, tb_market **out)
{
    return parse_freq(text, strlen(text), TB_FREQ_1D, err, out);
}

/* The text must be rejected with TB_EINVAL and a message containing "d/X.csv:<line>:". */
static void expect_reject(const char *text, int line, const char *why)
{
    tb_error err;
    int rc = parse(text, &err, NULL);
    char want[64];
    snprintf(want, sizeof want, "d/X.csv:%d:", line);
    cr_expect_eq(rc, -1, "%s: accepted, should be rejected at line %d:\n%s", why, line, text);
    if (rc != -1) return;
    cr_expect_eq(err.code, TB_EINVAL, "%s: code %d, expected TB_EINVAL", why, (int)err.code);
    cr_expect(strstr(err.msg, want) != NULL, "%s: message '%s' does not name '%s'", why, err.msg, want);
}

/* The text must be accepted with n bars. */
static void expect_accept(const char *text, size_t n, const char *why)
{
    tb_error err;
    tb_market *m = NULL;
    int rc = parse(text, &err, &m);
    cr_expect_eq(rc, 0, "%s: rejected: %s", why, err.msg);
    if (rc == 0) {
        cr_expect_eq(m->n_symbols, 1);
        cr_expect_eq(m->n_bars, n, "%s: %zu bars, expected %zu", why, m->n_bars, n);
    }
    market_free(m);
}

/* ROW2 + (row as line 3) + ROW4, with the good header. */
static void reject_row3(const char *row3, const char *why)
{
    char buf[512];
    snprintf(buf, sizeof buf, HDR ROW2 "%s\n" ROW4, row3);
    expect_reject(buf, 3, why);
}

static void accept_row3(const char *row3, const char *why)
{
    char buf[512];
    snprintf(buf, sizeof buf, HDR ROW2 "%s\n" ROW4, row3);
    expect_accept(buf, 3, why);
}

/* ================================================================ rejections */

Test(csv_reject, wrong_header)
{
    expect_reject("date,open,high,low,close,vol\n" ROW2, 1, "renamed column");
    expect_reject("Date,open,high,low,close,volume\n" ROW2, 1, "capitalised");
    expect_reject("date,open,low,high,close,volume\n" ROW2, 1, "reordered columns");
    expect_reject("date, open,high,low,close,volume\n" ROW2, 1, "space in header");
    expect_reject(ROW2 ROW3, 1, "no header");
    expect_reject("", 1, "empty file");
}

Test(csv_reject, header_missing_or_extra_column)
{
    expect_reject("date,open,high,low,close\n" ROW2, 1, "header missing volume");
    expect_reject("date,open,high,low,close,volume,adj_close\n" ROW2, 1, "header extra column");
    expect_reject("date,open,high,low,close,volume,\n" ROW2, 1, "header trailing comma");
}

Test(csv_reject, row_missing_column)
{
    reject_row3("2024-01-03,10.5,11.5,10,11", "5 fields");
    reject_row3("2024-01-03", "1 field");
    reject_row3("2024-01-03,10.5,11.5,10,,1200", "empty close");
    /* on the last line without a trailing newline too */
    expect_reject(HDR ROW2 ROW3 "2024-01-04,11,12,10.5", 4, "short last line");
}

Test(csv_reject, row_extra_column)
{
    reject_row3("2024-01-03,10.5,11.5,10,11,1200,7", "7 fields");
    reject_row3("2024-01-03,10.5,11.5,10,11,1200,", "trailing comma");
    reject_row3("2024-01-03,10.5,11.5,10,11,1200,,,,", "many trailing commas");
}

Test(csv_reject, non_numeric)
{
    reject_row3("2024-01-03,abc,11.5,10,11,1200", "open text");
    reject_row3("2024-01-03,10.5,11.5x,10,11,1200", "high suffix");
    reject_row3("2024-01-03,10.5,11.5,1 0,11,1200", "low inner space");
    reject_row3("2024-01-03,10.5,11.5,10, 11,1200", "close leading space");
    reject_row3("2024-01-03,10.5,11.5,10,11,12a", "volume suffix");
    reject_row3("2024-01-03,10.5,11.5,10,11,", "volume empty");
    reject_row3("2024-01-03,10.5,11.5,10,11,1e", "dangling exponent");
    reject_row3("2024-01-03,10.5,11.5,10,11,-", "lone sign");
    reject_row3("2024-01-03,10.5,11.5,10,11,1.2.3", "two dots");
    reject_row3("2024-01-03,\"10.5\",11.5,10,11,1200", "quoted");
}

Test(csv_reject, non_finite)
{
    reject_row3("2024-01-03,nan,11.5,10,11,1200", "open nan");
    reject_row3("2024-01-03,10.5,inf,10,11,1200", "high inf");
    reject_row3("2024-01-03,10.5,11.5,10,11,1e999", "volume 1e999");
    reject_row3("2024-01-03,10.5,11.5,10,1e999,1200", "close 1e999");
    reject_row3("2024-01-03,10.5,11.5,10,11,NaN", "volume NaN");
    reject_row3("2024-01-03,10.5,Infinity,10,11,1200", "high Infinity");
    reject_row3("2024-01-03,10.5,11.5,-inf,11,1200", "low -inf");
    reject_row3("2024-01-03,10.5,1.8e308,10,11,1200", "high 1.8e308 overflows");
}

Test(csv_reject, price_zero_or_negative)
{
    /* each price column, zero and negative (the row is otherwise consistent where it can be) */
    reject_row3("2024-01-03,0,11.5,10,11,1200", "open 0");
    reject_row3("2024-01-03,-10.5,11.5,10,11,1200", "open < 0");
    reject_row3("2024-01-03,10.5,0,10,11,1200", "high 0");
    reject_row3("2024-01-03,10.5,-11.5,10,11,1200", "high < 0");
    reject_row3("2024-01-03,10.5,11.5,0,11,1200", "low 0");
    reject_row3("2024-01-03,10.5,11.5,-10,11,1200", "low < 0");
    reject_row3("2024-01-03,10.5,11.5,10,0,1200", "close 0");
    reject_row3("2024-01-03,10.5,11.5,10,-11,1200", "close < 0");
    reject_row3("2024-01-03,10.5,11.5,-0,11,1200", "low -0");
    reject_row3("2024-01-03,0.0,0.0,0.0,0.0,1200", "all prices 0");
    /* volume 0 is a valid quiet day */
    accept_row3("2024-01-03,10.5,11.5,10,11,0", "volume 0");
}

Test(csv_reject, high_below_max_open_close)
{
    /* 1e-9 relative to max(open, close) = 100 is 1e-7 */
    reject_row3("2024-01-03,100,99.9999998,90,100,1200", "high 2e-9 rel below open=close");
    reject_row3("2024-01-03,10,11.5,9,12,1200", "high below close");
    reject_row3("2024-01-03,12,11.5,9,10,1200", "high below open");
    accept_row3("2024-01-03,100,99.99999995,90,100,1200", "high 5e-10 rel below: within tolerance");
    accept_row3("2024-01-03,100,100,90,100,1200", "high == open == close");
}

Test(csv_reject, low_above_min_open_close)
{
    reject_row3("2024-01-03,100,101,100.0000002,100,1200", "low 2e-9 rel above open=close");
    reject_row3("2024-01-03,10,12,10.5,11,1200", "low above open");
    reject_row3("2024-01-03,11,12,10.5,10,1200", "low above close");
    accept_row3("2024-01-03,100,101,100.00000005,100,1200", "low 5e-10 rel above: within tolerance");
    accept_row3("2024-01-03,100,101,100,100,1200", "low == open == close");
}

Test(csv_reject, duplicate_date)
{
    reject_row3("2024-01-02,10.5,11.5,10,11,1200", "same date as line 2");
    expect_reject(HDR ROW2 ROW3 ROW4 "2024-01-04,11,12,10.5,11.5,900\n", 5, "duplicate last line");
}

Test(csv_reject, out_of_order_date)
{
    reject_row3("2024-01-01,10.5,11.5,10,11,1200", "earlier than line 2");
    expect_reject(HDR ROW2 ROW4 ROW3, 4, "line 4 earlier than line 3");
    expect_reject(HDR ROW2 ROW3 "2023-12-31,11,12,10.5,11.5,900\n", 4, "a year back");
}

Test(csv_reject, bad_date)
{
    reject_row3("2024-13-03,10.5,11.5,10,11,1200", "month 13");
    reject_row3("2024-02-30,10.5,11.5,10,11,1200", "Feb 30");
    reject_row3("2023-02-29,10.5,11.5,10,11,1200", "Feb 29 in a common year");
    reject_row3("2024/01/03,10.5,11.5,10,11,1200", "slashes");
    reject_row3("2024-1-3,10.5,11.5,10,11,1200", "no zero padding");
    reject_row3("24-01-03,10.5,11.5,10,11,1200", "two-digit year");
    reject_row3("2024-01-03T00:00:00Z,10.5,11.5,10,11,1200", "timestamp in a 1d file");
    reject_row3(" 2024-01-03,10.5,11.5,10,11,1200", "leading space");
    reject_row3("yesterday,10.5,11.5,10,11,1200", "words");
    reject_row3(",10.5,11.5,10,11,1200", "empty date");
    /* Feb 29 in a leap year is fine */
    expect_accept(HDR "2024-02-28,10,11,9,10.5,1000\n2024-02-29,10,11,9,10.5,1000\n", 2, "leap day");
}

Test(csv_reject, empty_line_in_middle)
{
    expect_reject(HDR ROW2 "\n" ROW3 ROW4, 3, "empty line 3");
    expect_reject(HDR ROW2 ROW3 "\n" ROW4, 4, "empty line 4");
    expect_reject("date,open,high,low,close,volume\r\n2024-01-02,10,11,9,10.5,1000\r\n\r\n"
                  "2024-01-03,10.5,11.5,10,11,1200\r\n",
                  3, "empty CRLF line 3");
    expect_reject(HDR "\n" ROW2, 2, "empty line right after the header");
}

Test(csv_reject, negative_volume)
{
    reject_row3("2024-01-03,10.5,11.5,10,11,-1", "volume -1");
    reject_row3("2024-01-03,10.5,11.5,10,11,-0.5", "volume -0.5");
}

Test(csv_reject, hourly_file_rules)
{
    /* a 1h file takes YYYY-MM-DDTHH:MM:SSZ; a bare date or a bad hour is a bad date */
    const char *ok = HDR "2024-01-02T10:00:00Z,10,11,9,10.5,1000\n2024-01-02T11:00:00Z,10,11,9,10.5,1000\n";
    tb_error err;
    tb_market *m = NULL;
    cr_expect_eq(parse_freq(ok, strlen(ok), TB_FREQ_1H, &err, &m), 0, "%s", err.msg);
    cr_expect(m->n_bars == 2 && m->ts[1] - m->ts[0] == 3600);
    market_free(m);
    const char *bad = HDR "2024-01-02T10:00:00Z,10,11,9,10.5,1000\n2024-01-02T24:00:00Z,10,11,9,10.5,1000\n";
    cr_expect_eq(parse_freq(bad, strlen(bad), TB_FREQ_1H, &err, NULL), -1);
    cr_expect(strstr(err.msg, "d/X.csv:3:") != NULL && err.code == TB_EINVAL, "%s", err.msg);
    const char *dated = HDR "2024-01-02,10,11,9,10.5,1000\n";
    cr_expect_eq(parse_freq(dated, strlen(dated), TB_FREQ_1H, &err, NULL), -1);
    cr_expect(strstr(err.msg, "d/X.csv:2:") != NULL, "%s", err.msg);
}

/* ================================================================ accepted files */

static void check_three_bars(const tb_market *m)
{
    cr_assert_eq(m->n_bars, 3);
    cr_expect(!strcmp(m->symbols[0], "X"));
    const double o[3] = {10, 10.5, 11}, h[3] = {11, 11.5, 12}, l[3] = {9, 10, 10.5}, c[3] = {10.5, 11, 11.5},
                 v[3] = {1000, 1200, 900};
    for (int k = 0; k < 3; k++) {
        cr_expect(m->open[k] == o[k] && m->high[k] == h[k] && m->low[k] == l[k] && m->close[k] == c[k] &&
                      m->volume[k] == v[k],
                  "bar %d", k);
        /* 2024-01-02 is day 19724 since the epoch; daily bars sit at midnight UTC */
        cr_expect(m->ts[k] == (int64_t)(19724 + k) * 86400, "ts[%d] = %lld", k, (long long)m->ts[k]);
    }
}

Test(csv_accept, trailing_newline)
{
    tb_error err;
    tb_market *m = NULL;
    cr_assert_eq(parse(HDR ROW2 ROW3 ROW4, &err, &m), 0, "%s", err.msg);
    check_three_bars(m);
    market_free(m);
}

Test(csv_accept, no_trailing_newline)
{
    tb_error err;
    tb_market *m = NULL;
    cr_assert_eq(parse(HDR ROW2 ROW3 "2024-01-04,11,12,10.5,11.5,900", &err, &m), 0, "%s", err.msg);
    check_three_bars(m);
    market_free(m);
}

Test(csv_accept, crlf_line_ends)
{
    tb_error err;
    tb_market *m = NULL;
    const char *crlf = "date,open,high,low,close,volume\r\n2024-01-02,10,11,9,10.5,1000\r\n"
                       "2024-01-03,10.5,11.5,10,11,1200\r\n2024-01-04,11,12,10.5,11.5,900\r\n";
    cr_assert_eq(parse(crlf, &err, &m), 0, "%s", err.msg);
    check_three_bars(m);
    market_free(m);
    /* CRLF without the final line end */
    const char *crlf2 = "date,open,high,low,close,volume\r\n2024-01-02,10,11,9,10.5,1000\r\n"
                        "2024-01-03,10.5,11.5,10,11,1200\r\n2024-01-04,11,12,10.5,11.5,900";
    cr_assert_eq(parse(crlf2, &err, &m), 0, "%s", err.msg);
    check_three_bars(m);
    market_free(m);
    /* and line numbers still count lines in a CRLF file */
    expect_reject("date,open,high,low,close,volume\r\n2024-01-02,10,11,9,10.5,1000\r\n"
                  "2024-01-03,10.5,11.5,10,11,1200\r\n2024-01-04,11,12,10.5,11.5,-900\r\n",
                  4, "CRLF negative volume on line 4");
}

Test(csv_accept, values_parse_exactly)
{
    /* Each row puts one decimal text in all five numeric fields (open = high = low =
     * close = volume); every stored value must be bit-for-bit what strtod gives. The list
     * mixes short mantissas, > 2^53 mantissas, 17+ significant digits, exponents, the
     * largest double, subnormals and the round-half-even boundary of 1 + 2^-53. */
    static const char *const vals[] = {
        "0.1",
        "123.456",
        "1e-5",
        "5e-1",
        "1E2",
        "00012.5000",
        "99.99999999999999",
        "9007199254740993",
        "0.30000000000000004",
        "1234567.8901234567",
        "3.141592653589793238462643383279",
        "0.000000000000000000000123",
        "123456789012345678901234567890",
        "1.7976931348623157e308",
        "2.2250738585072011e-308",
        "4.9e-324",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203126",
        "2.675",
        "1000000000000000000000",
    };
    enum { NV = sizeof vals / sizeof vals[0] };
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, HDR);
    for (int k = 0; k < NV; k++) {
        const char *s = vals[k];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "2024-03-%02d,%s,%s,%s,%s,%s\n", k + 1, s, s, s, s, s);
    }
    cr_assert(n < sizeof buf);
    tb_error err;
    tb_market *m = NULL;
    cr_assert_eq(parse(buf, &err, &m), 0, "%s", err.msg);
    cr_assert_eq(m->n_bars, (size_t)NV);
    for (int k = 0; k < NV; k++) {
        double want = strtod(vals[k], NULL);
        const double got[5] = {m->open[k], m->high[k], m->low[k], m->close[k], m->volume[k]};
        for (int f = 0; f < 5; f++)
            cr_expect(memcmp(&got[f], &want, sizeof want) == 0, "'%s' field %d: %a, strtod %a", vals[k], f, got[f],
                      want);
    }
    market_free(m);
}

/* ================================================================ directories */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

/* Remove the regular files of dir, then dir itself. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

Test(csv_dir, load_reports_file_and_line)
{
    char dir[] = "/tmp/tb_csv_test_XXXXXX";
    cr_assert(mkdtemp(dir), "mkdtemp");
    write_file(dir, "A.csv", HDR ROW2 ROW3 ROW4);
    write_file(dir, "C.csv", HDR ROW2 ROW3 ROW4);
    write_file(dir, "B.csv", HDR ROW2 ROW3 "2024-01-04,11,12,10.5,nan,900\n");
    tb_error err;
    tb_market *m = NULL;

    /* good files, in the order asked for */
    const char *const ok[2] = {"C", "A"};
    tb_error_clear(&err);
    int rc = csv_load(dir, ok, 2, TB_FREQ_1D, &m, &err);
    cr_expect_eq(rc, 0, "%s", err.msg);
    if (rc == 0) {
        cr_expect(m->n_symbols == 2 && !strcmp(m->symbols[0], "C") && !strcmp(m->symbols[1], "A"));
        cr_expect(m->n_bars == 6 && market_len(m, 0) == 3 && market_len(m, 1) == 3);
        cr_expect(m->close[5] == 11.5 && m->volume[3] == 1000);
        market_free(m);
    }

    /* a bad file: -1, TB_EINVAL, "<dir>/B.csv:4:", *out untouched */
    const char *const bad[3] = {"A", "B", "C"};
    tb_market *sentinel = (tb_market *)&err; /* any non-NULL address: must not be overwritten */
    m = sentinel;
    tb_error_clear(&err);
    rc = csv_load(dir, bad, 3, TB_FREQ_1D, &m, &err);
    char want[128];
    snprintf(want, sizeof want, "%s/B.csv:4:", dir);
    cr_expect_eq(rc, -1);
    cr_expect_eq(err.code, TB_EINVAL);
    cr_expect(strstr(err.msg, want) != NULL, "message '%s' does not name '%s'", err.msg, want);
    cr_expect(m == sentinel, "*out must be untouched on failure");

    /* a missing file is an error too, naming it */
    const char *const missing[1] = {"ZZZ"};
    m = NULL;
    tb_error_clear(&err);
    cr_expect_eq(csv_load(dir, missing, 1, TB_FREQ_1D, &m, &err), -1);
    cr_expect(err.code != TB_OK && strstr(err.msg, "ZZZ.csv") != NULL, "%s", err.msg);
    cr_expect(m == NULL);

    remove_dir(dir);
}

Test(csv_dir, list_symbols_strcmp_order)
{
    char dir[] = "/tmp/tb_csv_test_XXXXXX";
    cr_assert(mkdtemp(dir), "mkdtemp");
    const char *files[] = {"b.csv", "A.csv", "a.csv", "B.csv", "AB.csv", "A_1.csv", "A1.csv",
                           "notes.txt", "x.csv.bak", "README", "data.CSV", "csv"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) write_file(dir, files[k], HDR ROW2);
    char **names = NULL;
    size_t n = 0;
    tb_error err;
    tb_error_clear(&err);
    int rc = csv_list_symbols(dir, &names, &n, &err);
    cr_expect_eq(rc, 0, "%s", err.msg);
    /* strcmp (byte) order: '1' 0x31 < 'B' 0x42 < '_' 0x5f < 'a' 0x61; "A" before "A1" */
    const char *want[] = {"A", "A1", "AB", "A_1", "B", "a", "b"};
    const size_t nw = sizeof want / sizeof want[0];
    cr_expect_eq(n, nw, "%zu names, expected %zu", n, nw);
    for (size_t k = 0; k < n && k < nw; k++)
        cr_expect(!strcmp(names[k], want[k]), "names[%zu] = '%s', expected '%s'", k, names[k], want[k]);
    csv_free_names(names, n);
    remove_dir(dir);
}
