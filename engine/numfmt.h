/* numfmt.h — number formatting for artifacts: the shortest decimal string
 * that round-trips a float64 (SPEC §8; Schubfach, no printf), and a fast
 * exact-when-possible parser used by the CSV reader. Pure functions, no
 * allocation. */
#ifndef TB_NUMFMT_H
#define TB_NUMFMT_H
#include <stddef.h>

/* The shortest decimal that strtod reads back as exactly x (the nearest to x
 * of those when several have that many digits), laid out as printf's %.Pg with
 * P = max(15, its digit count): exponent form "d.ddde+XX" (two exponent digits
 * at least) when the decimal exponent X < -4 or X >= P, plain digits otherwise,
 * no trailing zeros. buf >= 32 bytes (at most 25 are written, with the NUL).
 * NaN writes "" (undefined is an empty CSV field); infinities "inf" / "-inf";
 * -0.0 writes "-0". Returns the length. Thread-safe, no allocation.
 * Against the previous implementation (the first of %.15g, %.16g, %.17g that
 * reads back), the text is byte-identical for every normal double except 46
 * powers of two and their negatives, 2^-1017 ... 2^976 (list in docs/ENGINE.md),
 * for which a 16-digit decimal that is not the nearest one reads back: old %.17g
 * 5.6843418860808015e-14 (2^-44), now 5.684341886080802e-14. Subnormals
 * (|x| < 2.2250738585072014e-308) get their shortest digits, which can be fewer
 * than %.15g's: 5e-324, not 4.94065645841247e-324. The new text never has more
 * digits than the old. */
int nf_double(char *buf, double x);

/* Parse a decimal number occupying exactly s[0..len) (no spaces). Exactly
 * rounded: a fast path for short mantissas, strtod otherwise. Returns 0 and *out
 * on success, -1 when the text is not a finite decimal number. */
int nf_parse(const char *s, size_t len, double *out);

#endif
