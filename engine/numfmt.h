/* numfmt.h — number formatting for artifacts: the shortest decimal string
 * that round-trips a float64 (SPEC §8), and a fast exact-when-possible parser
 * used by the CSV reader. Pure functions, no allocation. */
#ifndef TB_NUMFMT_H
#define TB_NUMFMT_H
#include <stddef.h>

/* Shortest of %.15g/%.16g/%.17g that parses back to exactly x. buf >= 32 bytes.
 * NaN writes "" (undefined is an empty CSV field). Returns the length. */
int nf_double(char *buf, double x);

/* Parse a decimal number occupying exactly s[0..len) (no spaces). Exactly
 * rounded: a fast path for short mantissas, strtod otherwise. Returns 0 and *out
 * on success, -1 when the text is not a finite decimal number. */
int nf_parse(const char *s, size_t len, double *out);

#endif
