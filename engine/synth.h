/* synth.h — the deterministic synthetic market (SPEC §1.1 "synthetic"), the
 * embedded default data source. (seed, n_symbols, n_bars, freq) → the same bars,
 * bit for bit, on every IEEE-754 machine: own integer PRNG, own exp/log, only
 * correctly rounded arithmetic. Each symbol depends only on (seed, its index,
 * freq) and is prefix-stable in n_bars. Never prints, never exits; the
 * algorithm is written down in docs/SYNTHETIC.md. */
#ifndef TB_SYNTH_H
#define TB_SYNTH_H
#include <stddef.h>
#include <stdint.h>

#include "market.h"
#include "tb_error.h"

#define SYNTH_DEFAULT_SEED 42u
#define SYNTH_DEFAULT_SYMBOLS 500u
#define SYNTH_DEFAULT_BARS 2520u
#define SYNTH_MAX_SYMBOLS 100000u          /* n_symbols ∈ [1, SYNTH_MAX_SYMBOLS] */
#define SYNTH_MAX_BARS 10000000u           /* n_bars ∈ [1, SYNTH_MAX_BARS] (bars per symbol) */
#define SYNTH_MAX_TOTAL_BARS 100000000u    /* symbols generated × n_bars (≈ 4.8 GB in memory) */

typedef struct tb_synth_params {
    uint64_t seed;    /* any value; 42 is the default universe */
    size_t n_symbols; /* size of the universe: SYN000 … */
    size_t n_bars;    /* bars per symbol (every symbol shares one calendar) */
    tb_freq freq;     /* TB_FREQ_1D or TB_FREQ_1H */
} tb_synth_params;

/* The default source: seed 42, 500 symbols, 2520 daily bars. */
tb_synth_params synth_default_params(void);

/* Generate symbols indices[0..n_indices) (indices == NULL: all 0..n_symbols-1,
 * in order; n_indices is then ignored) of the universe `p` into a new market,
 * symbols in the order given. Symbol i's bars depend only on (seed, i, freq) and
 * the first k bars do not depend on n_bars, so a subset or a shorter run gives
 * exactly the bars of the full run. p and out must not be NULL. On success
 * returns 0 and *out (caller market_free()s it). On failure returns -1, *out = NULL and *err: TB_EINVAL with
 * field "symbols" (n_symbols out of range, no indices, an index out of range or
 * repeated), "bars" (n_bars out of range, or symbols × bars above
 * SYNTH_MAX_TOTAL_BARS) or "freq". Every seed is valid. */
int synth_generate(const tb_synth_params *p, const size_t *indices, size_t n_indices, tb_market **out,
                   tb_error *err);

/* Write the name of symbol i of an n_symbols universe into buf (>= 16 bytes):
 * "SYN" + i in decimal, zero-padded to 3 digits, or to the digit count of
 * n_symbols-1 when that is wider (SYN0000 … SYN1000 for 1001 symbols). */
void synth_symbol_name(size_t i, size_t n_symbols, char *buf);

/* Parse a name written by synth_symbol_name(…, n_symbols, …) back to its index.
 * Returns -1 for NULL, any other spelling (wrong width, lower case, sign,
 * trailing text) or an index >= n_symbols. */
long synth_symbol_index(const char *name, size_t n_symbols);

/* Export a market as a CSV directory (SPEC §1.1): <dir>/<SYMBOL>.csv, header
 * exactly `date,open,high,low,close,volume`, `YYYY-MM-DD` dates for 1d and
 * `YYYY-MM-DDTHH:MM:SSZ` for intraday, numbers via nf_double (they parse back to
 * exactly the stored doubles). Creates dir and missing parents; an existing
 * directory is fine and existing files of the same name are overwritten.
 * Returns 0, or -1 with *err: TB_EINVAL with field "symbols" for a symbol name
 * that is not a safe file name (empty, ".", "..", containing '/') or field "out"
 * for an empty dir, TB_EIO naming the path for a file system failure
 * (files written before the failure are left in place). */
int synth_export_csv(const tb_market *m, const char *dir, tb_error *err);

#endif
