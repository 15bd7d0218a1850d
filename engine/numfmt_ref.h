/* numfmt_ref.h — the formatter nf_double() replaced, frozen as the
 * reference: tests/unit/test_numfmt.c checks nf_double() against it and
 * `tradebench bench --numfmt` times the two. Header-only (static inline) so
 * that it stays out of tb_engine: nothing in the product calls it.
 *
 * nf_double_ref writes the shortest of %.15g/%.16g/%.17g that strtod reads
 * back to x into buf (at least 32 bytes), "" for NaN; returns its length.
 * Never change it: it is what nf_double's output is compared with. */
#ifndef TB_NUMFMT_REF_H
#define TB_NUMFMT_REF_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int nf_double_ref(char *buf, double x)
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

#endif
