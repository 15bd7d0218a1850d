/* numfmt.c — shortest round-trip formatting and exact fast parsing (see numfmt.h).
 * The parser's fast path is Clinger's: a decimal mantissa below 2^53 times a
 * power of ten up to 1e22 is one correctly rounded IEEE operation. Anything
 * else goes through strtod, so results are always exactly rounded. */
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nf_double(char *buf, double x)
{
    if (isnan(x)) {
        buf[0] = '\0';
        return 0;
    }
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(buf, 32, "%.*g", prec, x);
        if (prec == 17 || strtod(buf, NULL) == x) return n;
    }
    return (int)strlen(buf);
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
