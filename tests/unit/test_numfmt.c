/* test_numfmt.c — nf_double() (Schubfach, engine/numfmt.c) against the
 * implementation it replaced (nf_double_ref, engine/numfmt_ref.h: the shortest of
 * %.15g/%.16g/%.17g that strtod reads back), over 10.2 million doubles:
 * random bit patterns, prices and returns in the ranges the artifacts hold,
 * integers, powers of two and ten and their neighbours, subnormals, the ends
 * of the range. For every value: the text reads back (strtod) to exactly the
 * same bits; it is byte-identical to the old text except where numfmt.h says
 * it may differ (a normal power of two whose old text had 17 digits, or a
 * subnormal), and then it has fewer significant digits. Independently of the
 * old function, a sample (every difference, every exhaustive family, one
 * random value in 64) is checked to be the shortest decimal that reads back
 * and the nearest to x among those. Also the layout rules on hand-picked
 * values and nf_parse reading what nf_double writes.
 * The reference's printf/strtod dominate the time (~1 us a value under
 * ASan); TB_NUMFMT_SCALE scales the random counts. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"
#include "numfmt_ref.h" /* the replaced implementation, verbatim: the reference */

/* ---- helpers ---------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double rng_unit(void) { return (double)(rng() >> 11) * 0x1p-53; }

static double from_bits(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static uint64_t to_bits(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* The significant digits of a %g/%e-style text (no sign, no leading or trailing
 * zeros) into dig, and the decimal exponent of its first digit. "0" gives "". */
static void canon(const char *s, char *dig, int *exp10)
{
    int n = 0, point = -1, lead = 0, seen = 0;
    const char *p = s;
    if (*p == '-') p++;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            point = n + lead;
            continue;
        }
        if (*p == '0' && !seen) {
            lead++;
            continue;
        }
        seen = 1;
        dig[n++] = *p;
    }
    int intlen = point < 0 ? n + lead : point; /* digits before the point */
    while (n > 0 && dig[n - 1] == '0') n--;
    dig[n] = '\0';
    *exp10 = intlen - lead - 1 + (*p == 'e' ? atoi(p + 1) : 0);
}

static int sig_digits(const char *s)
{
    char d[40];
    int e;
    canon(s, d, &e);
    return (int)strlen(d);
}

static int reads_back(const char *s, double x) { return to_bits(strtod(s, NULL)) == to_bits(x); }

/* x's shortest round-trip text has n digits and got is the nearest such text to x:
 * no (n-1)-digit decimal reads back (the two nearest x are the only candidates),
 * and if the nearest n-digit decimal reads back, got is that one. */
static int shortest_and_nearest(double x, const char *got)
{
    char dig[40], t[64];
    int e, n = sig_digits(got);
    if (n >= 2) {
        snprintf(t, sizeof t, "%.*e", n - 2, x); /* the nearest (n-1)-digit decimal */
        if (reads_back(t, x)) return 0;
        canon(t, dig, &e);
        long long m = 0;
        int nd = (int)strlen(dig);
        for (int i = 0; i < n - 1; i++) m = m * 10 + (i < nd ? dig[i] - '0' : 0);
        int q = e - (n - 2); /* t = m * 10^q */
        if (strtod(t, NULL) < x) {
            m++; /* its neighbour on x's other side */
        } else if (m == llround(pow(10, n - 2))) {
            m = 10 * m - 1, q--; /* t rounded up to a power of ten: the grid below is finer */
        } else {
            m--;
        }
        snprintf(t, sizeof t, "%lld.e%d", m, q);
        if (m > 0 && reads_back(t, x)) return 0;
    }
    snprintf(t, sizeof t, "%.*e", n - 1, x); /* the nearest n-digit decimal */
    if (reads_back(t, x)) {
        char dg[40];
        int eg;
        canon(t, dig, &e);
        canon(got, dg, &eg);
        if (strcmp(dig, dg) || e != eg) return 0;
    }
    return 1;
}

/* Random counts times $TB_NUMFMT_SCALE (default 1: 10.2 million values in all;
 * e.g. 10 for a longer soak, 0.1 for a quick run). */
static long scaled(long n)
{
    const char *e = getenv("TB_NUMFMT_SCALE");
    double f = e ? atof(e) : 1.0;
    return f > 0 ? (long)(n * f) : n;
}

typedef struct tally {
    size_t n;       /* values checked */
    size_t differ;  /* texts that differ from the old one */
    size_t checked; /* values given the independent shortest/nearest check */
} tally;

/* Every property of one value; stops the test at the first failure. */
static void check(double x, tally *t, int independent)
{
    char got[40], want[40];
    memset(got, 'X', sizeof got);
    int ng = nf_double(got, x), nw = nf_double_ref(want, x);
    t->n++;
    if (ng != (int)strlen(got)) cr_assert_fail("%a: returned %d for \"%s\"", x, ng, got);
    if (isnan(x)) {
        if (ng != 0) cr_assert_fail("NaN must write \"\", wrote \"%s\"", got);
        return;
    }
    /* A text identical to the old one reads back: the reference checked it with
     * strtod, or it is %.17g, which always reads back. A different one is checked. */
    if (ng != nw || memcmp(got, want, (size_t)ng)) {
        if (!reads_back(got, x)) cr_assert_fail("%a: \"%s\" does not read back (old \"%s\")", x, got, want);
        t->differ++;
        int e, dg = sig_digits(got), dw = sig_digits(want);
        if (dg > dw) cr_assert_fail("%a: \"%s\" has more digits than the old \"%s\"", x, got, want);
        int subnormal = x != 0 && fabs(x) < DBL_MIN;
        int pow2 = frexp(fabs(x), &e) == 0.5 && !subnormal;
        if (!subnormal && !(pow2 && dw == 17 && dg == 16))
            cr_assert_fail("%a: \"%s\" differs from the old \"%s\" outside the documented cases", x, got, want);
        independent = 1;
    }
    if (independent && isfinite(x) && x != 0) {
        t->checked++;
        if (!shortest_and_nearest(x, got)) cr_assert_fail("%a: \"%s\" is not the shortest nearest decimal", x, got);
    }
}

static void report(const char *what, const tally *t)
{
    cr_log_info("%s: %zu values, %zu identical to the old text, %zu differ (as documented), %zu also checked "
                "shortest and nearest independently",
                what, t->n, t->n - t->differ, t->differ, t->checked);
}

/* ---- hand-picked values ----------------------------------------------------------- */

static void expect_text(double x, const char *want)
{
    char got[40];
    int n = nf_double(got, x);
    cr_expect_str_eq(got, want, "%a", x);
    cr_expect_eq(n, (int)strlen(want), "%a: length", x);
}

Test(numfmt, special_values)
{
    expect_text(NAN, "");
    expect_text(-NAN, "");
    expect_text(INFINITY, "inf");
    expect_text(-INFINITY, "-inf");
    expect_text(0.0, "0");
    expect_text(-0.0, "-0");
    expect_text(DBL_MAX, "1.7976931348623157e+308");
    expect_text(-DBL_MAX, "-1.7976931348623157e+308");
    expect_text(DBL_MIN, "2.2250738585072014e-308");
    expect_text(from_bits(1), "5e-324");                            /* old: 4.94065645841247e-324 */
    expect_text(from_bits(2), "1e-323");                            /* old: 9.88131291682493e-324 */
    expect_text(from_bits(0x000fffffffffffff), "2.225073858507201e-308"); /* largest subnormal */
    expect_text(0x1p-24, "5.960464477539063e-08");                  /* old: 5.9604644775390625e-08 */
    for (double x = 1; x < 1e300; x *= 7) {                         /* the old text wherever it is shortest */
        tally t = {0};
        check(x, &t, 1);
        check(-1 / x, &t, 1);
    }
}

Test(numfmt, layout_like_printf_g)
{
    expect_text(1, "1");
    expect_text(-1.5, "-1.5");
    expect_text(0.1, "0.1");
    expect_text(123.45, "123.45");
    expect_text(100, "100");
    expect_text(1e-4, "0.0001");
    expect_text(1.234e-4, "0.0001234");
    expect_text(1e-5, "1e-05");
    expect_text(-1.5e-7, "-1.5e-07");
    expect_text(123456789012345.0, "123456789012345");
    expect_text(1e15, "1e+15");
    expect_text(1234567890123456.0, "1234567890123456");      /* 16 digits: %.16g is fixed up to 1e16 */
    expect_text(12345678901234568.0, "12345678901234568");    /* 17 digits: fixed up to 1e17 */
    expect_text(123456789012345680.0, "1.2345678901234568e+17");
    expect_text(1e100, "1e+100");
    expect_text(1.5e-100, "1.5e-100");
    expect_text(2.0 / 3, "0.6666666666666666");
    expect_text(0.1 + 0.2, "0.30000000000000004");
    expect_text(9007199254740993.0, "9007199254740992");
    expect_text(5e-324 * 3, "1.5e-323");
}

/* ---- exhaustive families -------------------------------------------------------------- */

/* The normal powers of two whose text changed (docs/ENGINE.md, decision 14). */
static const int changed_pow2[] = {-1017, -1007, -957, -921, -808, -791, -788, -778, -705, -695, -662, -652,
                                   -549,  -509,  -496, -489, -383, -366, -296, -140, -97,  -77,  -44,  -24,
                                   89,    122,   132,  172,  182,  275,  305,  345,  378,  398,  405,  481,
                                   534,   544,   554,  574,  594,  710,  803,  863,  896,  976};

Test(numfmt, powers_of_two)
{
    tally t = {0};
    size_t normal_differ = 0, listed = 0;
    for (int e = -1074; e <= 1023; e++) {
        size_t before = t.differ;
        check(ldexp(1, e), &t, 1);
        check(-ldexp(1, e), &t, 1);
        if (e >= -1022) {
            int is_listed = 0;
            for (size_t i = 0; i < sizeof changed_pow2 / sizeof changed_pow2[0]; i++) is_listed |= changed_pow2[i] == e;
            cr_expect_eq(t.differ - before, is_listed ? 2u : 0u, "2^%d: text changed for %zu of +-x", e,
                         t.differ - before);
            normal_differ += t.differ > before;
            listed += (size_t)is_listed;
        }
        for (int d = -3; d <= 3; d++) check(from_bits(to_bits(ldexp(1, e)) + (uint64_t)(int64_t)d), &t, 1);
    }
    cr_expect_eq(normal_differ, 46, "normal powers of two whose text changed: %zu", normal_differ);
    cr_expect_eq(listed, 46);
    report("powers of two +-3 ulps", &t);
}

Test(numfmt, powers_of_ten_and_neighbours)
{
    tally t = {0};
    char s[16];
    for (int p = -323; p <= 308; p++) {
        snprintf(s, sizeof s, "1e%d", p);
        uint64_t b = to_bits(strtod(s, NULL));
        for (int d = -64; d <= 64; d++) {
            uint64_t bb = b + (uint64_t)(int64_t)d;
            if (bb >> 63) continue; /* below +0 */
            check(from_bits(bb), &t, 1);
            check(-from_bits(bb), &t, 0);
        }
        check(strtod(s, NULL) * 1.5, &t, 1);
    }
    report("powers of ten +-64 ulps", &t);
}

Test(numfmt, subnormals_and_range_ends)
{
    tally t = {0};
    rng_state = 11;
    for (uint64_t c = 1; c <= 20000; c++) check(from_bits(c), &t, 1);
    for (uint64_t c = 0; c < 20000; c++) check(from_bits(UINT64_C(0x0010000000000000) - 1 - c), &t, 1);
    for (int i = 0; i < 100000; i++) check(from_bits(rng() & UINT64_C(0x000fffffffffffff)), &t, 1);
    for (int i = 0; i < 100000; i++) check(-from_bits((rng() & UINT64_C(0x000fffffffffffff)) >> (rng() % 52)), &t, 1);
    for (uint64_t c = 0; c < 20000; c++) {
        check(from_bits(to_bits(DBL_MAX) - c), &t, 1);
        check(from_bits(to_bits(DBL_MIN) + c), &t, 1);
    }
    report("subnormals and range ends", &t);
}

/* ---- random families ------------------------------------------------------------------ */

Test(numfmt, random_bit_patterns)
{
    tally t = {0};
    rng_state = 1;
    for (long i = 0, n = scaled(1000000); i < n; i++) check(from_bits(rng()), &t, (i & 63) == 0);
    report("random bit patterns", &t);
}

/* Prices, cash, quantities: few digits, as in the artifacts (two tests, so that
 * Criterion's workers share the load). */
static void prices(uint64_t seed, long count)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    tally t = {0};
    rng_state = seed;
    for (long i = 0, n = scaled(count); i < n; i++) {
        int64_t k = (int64_t)(rng() % 200000001) - 100000000;
        int d = seed == 2 ? 2 : (int)(rng() % 9); /* k / 100, or k / 10^d with 0..8 decimals; |x| < 1e8 */
        check((double)k / p10[d], &t, (i & 63) == 0);
    }
    cr_expect(t.differ == 0, "%zu few-digit values changed text", t.differ);
    report(seed == 2 ? "prices k/100" : "prices k/10^d", &t);
}

Test(numfmt, prices_cents) { prices(2, 2000000); }

Test(numfmt, prices_few_digits) { prices(7, 2000000); }

/* Returns, weights, ratios: full-precision results of arithmetic in 1e-6..1e6. */
Test(numfmt, computed_values)
{
    tally t = {0};
    rng_state = 3;
    for (long i = 0, n = scaled(2000000); i < n; i++) {
        double x;
        switch (i & 3) {
        case 0: x = exp(rng_unit() * 27.631021115928547 - 13.815510557964274); break; /* 1e-6..1e6, log-uniform */
        case 1: x = (double)(rng() % 1000000) / 100.0 * ((double)(rng() % 100000) / 1000.0); break;
        case 2: x = ((double)(rng() % 100000) / 100.0) / ((double)(rng() % 100000 + 1) / 100.0) - 1; break;
        default: x = (double)(float)(rng_unit() * 1000); break; /* float32 values */
        }
        check(rng() & 1 ? x : -x, &t, (i & 63) == 0);
    }
    report("computed values", &t);
}

Test(numfmt, integers)
{
    tally t = {0};
    rng_state = 4;
    for (long i = 0, n = scaled(2000000); i < n; i++) {
        int bits = 1 + (int)(rng() % 64);
        uint64_t v = rng() >> (64 - bits);
        check((double)v, &t, (i & 63) == 0);
        if (i % 4 == 0) check(-(double)(v % 100000), &t, 0);
    }
    report("integers", &t);
}

Test(numfmt, near_powers_of_ten_random)
{
    tally t = {0};
    rng_state = 5;
    for (long i = 0, n = scaled(250000); i < n; i++) {
        int p = (int)(rng() % 632) - 323;
        double x = pow(10, p) * (1 + (rng_unit() - 0.5) * 1e-12); /* within 5e-13 of 10^p */
        check(x, &t, (i & 63) == 0);
    }
    report("near powers of ten", &t);
}

/* ---- the parser's fast path ------------------------------------------------------------ */

Test(numfmt, parse_reads_what_format_writes)
{
    rng_state = 6;
    char buf[40];
    for (int i = 0; i < 200000; i++) {
        double x = i & 1 ? (double)((int64_t)(rng() % 2000000001) - 1000000000) / 100.0 : from_bits(rng());
        if (!isfinite(x)) continue;
        int n = nf_double(buf, x);
        double y;
        cr_assert_eq(nf_parse(buf, (size_t)n, &y), 0, "\"%s\"", buf);
        cr_assert_eq(to_bits(y), to_bits(x), "\"%s\"", buf);
    }
    double y;
    cr_expect_eq(nf_parse("inf", 3, &y), -1);
    cr_expect_eq(nf_parse("", 0, &y), -1);
    cr_expect_eq(nf_parse("1x", 2, &y), -1);
}
