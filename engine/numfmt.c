/* numfmt.c — shortest round-trip formatting and exact fast parsing (see numfmt.h).
 *
 * nf_double() finds the shortest decimal that reads back as x with
 * Schubfach (R. Giulietti, "The Schubfach way to render doubles", 2020):
 * with k = floor(log10(2^q)) for x = c * 2^q, the scaled value x * 10^-k and
 * the ends of its rounding interval are computed as 126-bit products with a
 * table of powers of ten (numfmt_tables.h, tools/gen_numfmt_tables.py) and
 * rounded to odd, which keeps every comparison with an integer exact. Then at
 * most two candidates are looked at: the multiple of ten in the interval (one
 * digit shorter) if there is one, else the nearer of floor and ceiling (ties
 * to even). It then lays the digits out as printf's %g would (see numfmt.h).
 * No printf, no strtod, no allocation, no state: thread-safe.
 *
 * The parser's fast path is Clinger's: a decimal mantissa below 2^53 times a
 * power of ten up to 1e22 is one correctly rounded IEEE operation. Anything
 * else goes through strtod, so results are always exactly rounded. */
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt_tables.h"

/* ---- Schubfach: the shortest decimal f * 10^e in x's rounding interval ---------- */

__extension__ typedef unsigned __int128 nf_u128;

enum { NF_Q_MIN = -1074 };            /* binary exponent of subnormals and of DBL_MIN */
#define NF_C_MIN (UINT64_C(1) << 52)  /* smallest normal significand */
#define NF_MASK63 ((UINT64_C(1) << 63) - 1)

/* floor(q * log10(2)), floor(q * log10(2) + log10(3/4)), floor(e * log2(10)), exact
 * over the arguments used here (checked by the table generator). Arithmetic right
 * shift of a negative value: GCC's documented implementation-defined behaviour. */
static inline int nf_flog10_pow2(int q) { return (int)(((int64_t)q * 661971961083) >> 41); }
static inline int nf_flog10_3q_pow2(int q) { return (int)(((int64_t)q * 661971961083 - 274743187321) >> 41); }
static inline int nf_flog2_pow10(int e) { return (int)(((int64_t)e * 913124641741) >> 38); }

/* floor(g * cp / 2^127) with g = g1 * 2^63 + g0, or-ed with 1 when the quotient is
 * not an integer ("round to odd"). */
static inline uint64_t nf_rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    nf_u128 x = (nf_u128)g0 * cp, y = (nf_u128)g1 * cp;
    uint64_t z = ((uint64_t)y >> 1) + (uint64_t)(x >> 64);
    uint64_t vbp = (uint64_t)(y >> 64) + (z >> 63);
    return vbp | (((z & NF_MASK63) + NF_MASK63) >> 63);
}

typedef struct nf_dec {
    uint64_t f; /* decimal significand, may end in zeros; < 10^17 */
    int e;      /* value = f * 10^e */
} nf_dec;

/* x = c * 2^q > 0 (c < 2^53; c >= 2^52 unless q == NF_Q_MIN). */
static nf_dec nf_schubfach(uint64_t c, int q)
{
    uint64_t out = c & 1; /* odd significand: interval ends excluded (ties go to even) */
    uint64_t cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != NF_C_MIN || q == NF_Q_MIN) {
        cbl = cb - 2;
        k = nf_flog10_pow2(q);
    } else { /* x is a power of two: the gap below is half the gap above */
        cbl = cb - 1;
        k = nf_flog10_3q_pow2(q);
    }
    int h = q + nf_flog2_pow10(-k) + 2; /* 2..5: 4x's scaled value = g * (cb << h) / 2^127 */
    const uint64_t g1 = NF_G[k - NF_K_MIN][0], g0 = NF_G[k - NF_K_MIN][1];
    uint64_t vb = nf_rop(g1, g0, cb << h), vbl = nf_rop(g1, g0, cbl << h), vbr = nf_rop(g1, g0, cbr << h);
    uint64_t s = vb >> 2; /* floor(x * 10^-k) */
    if (s >= 10) {        /* one digit fewer: the interval (narrower than 10) holds at most one multiple of 10 */
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) return (nf_dec){upin ? sp10 : tp10, k};
    }
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2, win = (t << 2) + out <= vbr;
    if (uin != win) return (nf_dec){uin ? s : t, k};
    /* both in (the interval is at least 1 wide, so never neither): the nearer, ties to even */
    uint64_t mid2 = (s + t) << 1;
    return (nf_dec){vb < mid2 || (vb == mid2 && !(s & 1)) ? s : t, k};
}

/* ---- layout ------------------------------------------------------------------------ */

static const char nf_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";

static const uint64_t nf_p10u[18] = {UINT64_C(1),
                                     UINT64_C(10),
                                     UINT64_C(100),
                                     UINT64_C(1000),
                                     UINT64_C(10000),
                                     UINT64_C(100000),
                                     UINT64_C(1000000),
                                     UINT64_C(10000000),
                                     UINT64_C(100000000),
                                     UINT64_C(1000000000),
                                     UINT64_C(10000000000),
                                     UINT64_C(100000000000),
                                     UINT64_C(1000000000000),
                                     UINT64_C(10000000000000),
                                     UINT64_C(100000000000000),
                                     UINT64_C(1000000000000000),
                                     UINT64_C(10000000000000000),
                                     UINT64_C(100000000000000000)};

/* Number of decimal digits of f, 1 <= f < 10^18. */
static inline int nf_ndigits(uint64_t f)
{
    int n = ((64 - __builtin_clzll(f)) * 1233) >> 12; /* floor(log10(2^bits)), low by at most one */
    return n + (f >= nf_p10u[n]);
}

/* The n digits of f into d[0..n). */
static inline void nf_digits(char *d, uint64_t f, int n)
{
    char *p = d + n;
    while (f >= 100) {
        uint64_t r = f % 100;
        f /= 100;
        p -= 2;
        memcpy(p, nf_pairs + 2 * r, 2);
    }
    if (f >= 10) {
        p -= 2;
        memcpy(p, nf_pairs + 2 * f, 2);
    } else {
        *--p = (char)('0' + f);
    }
}

/* Writes f * 10^e (f > 0) as %.Pg would with P = max(15, digits of f without its
 * trailing zeros), and a NUL; returns the length. */
static int nf_layout(char *p, uint64_t f, int e)
{
    while (f % 100000000 == 0) f /= 100000000, e += 8;
    if (f % 10000 == 0) f /= 10000, e += 4;
    if (f % 100 == 0) f /= 100, e += 2;
    if (f % 10 == 0) f /= 10, e += 1;
    int n = nf_ndigits(f);
    int x10 = e + n - 1; /* decimal exponent of the leading digit */
    int prec = n > 15 ? n : 15;
    char d[20];
    nf_digits(d, f, n);
    int len;
    if (x10 < -4 || x10 >= prec) { /* d[.ddd]e±XX */
        p[0] = d[0];
        len = 1;
        if (n > 1) {
            p[1] = '.';
            memcpy(p + 2, d + 1, (size_t)n - 1);
            len = n + 1;
        }
        p[len++] = 'e';
        p[len++] = x10 < 0 ? '-' : '+';
        unsigned a = (unsigned)(x10 < 0 ? -x10 : x10);
        if (a >= 100) {
            p[len++] = (char)('0' + a / 100);
            a %= 100;
        }
        memcpy(p + len, nf_pairs + 2 * a, 2);
        len += 2;
    } else if (x10 >= n - 1) { /* integer: digits, then zeros */
        memcpy(p, d, (size_t)n);
        memset(p + n, '0', (size_t)(x10 - n + 1));
        len = x10 + 1;
    } else if (x10 >= 0) { /* ddd.ddd */
        memcpy(p, d, (size_t)x10 + 1);
        p[x10 + 1] = '.';
        memcpy(p + x10 + 2, d + x10 + 1, (size_t)(n - x10 - 1));
        len = n + 1;
    } else { /* 0.000ddd */
        int z = -x10 - 1;
        p[0] = '0';
        p[1] = '.';
        memset(p + 2, '0', (size_t)z);
        memcpy(p + 2 + z, d, (size_t)n);
        len = 2 + z + n;
    }
    p[len] = '\0';
    return len;
}

int nf_double(char *buf, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int bq = (int)(bits >> 52) & 0x7ff;
    uint64_t bc = bits & (NF_C_MIN - 1);
    char *p = buf;
    if (bq == 0x7ff && bc) { /* NaN */
        buf[0] = '\0';
        return 0;
    }
    if (bits >> 63) *p++ = '-';
    if (bq == 0x7ff) {
        memcpy(p, "inf", 4);
        return (int)(p - buf) + 3;
    }
    if (bq == 0 && bc == 0) {
        memcpy(p, "0", 2);
        return (int)(p - buf) + 1;
    }
    uint64_t c = bq ? bc | NF_C_MIN : bc;
    int q = bq ? bq - 1075 : NF_Q_MIN;
    if (q < 0 && q > -53) { /* an integer below 2^53 is its own shortest decimal */
        uint64_t f = c >> -q;
        if (f << -q == c) return (int)(p - buf) + nf_layout(p, f, 0);
    }
    nf_dec d = nf_schubfach(c, q);
    return (int)(p - buf) + nf_layout(p, d.f, d.e);
}

static const double nf_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Decimal syntax only: strtod would also take hex, "inf", "nan" and spaces. */
static int nf_decimal_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return 0;
    }
    return 1;
}

static int nf_slow(const char *s, size_t len, double *out)
{
    char tmp[512];
    if (len >= sizeof tmp || !nf_decimal_chars(s, len)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int nf_parse(const char *s, size_t len, double *out)
{
    size_t i = 0;
    int neg = 0;
    if (len == 0) return -1;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    uint64_t mant = 0;
    int digits = 0, frac = 0, seen_dot = 0, any = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            any = 1;
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(c - '0');
                if (mant) digits++;
                if (seen_dot) frac++;
            } else {
                return nf_slow(s, len, out); /* too many digits for the fast path */
            }
        } else if (c == '.' && !seen_dot) {
            seen_dot = 1;
        } else {
            break;
        }
    }
    if (!any) return -1;
    if (i != len) return nf_slow(s, len, out); /* exponent or junk: let strtod judge */
    if (mant >> 53 || frac > 22) return nf_slow(s, len, out);
    double v = (double)mant;
    if (frac) v /= nf_pow10[frac];
    *out = neg ? -v : v;
    return 0;
}
