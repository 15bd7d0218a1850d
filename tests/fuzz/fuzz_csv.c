/*
 * fuzz_csv — libFuzzer target for the strict CSV reader (csv_parse_buffer,
 * SPEC §1.1). The first byte picks the frequency (even: 1d, odd: 1h), the
 * rest is one file's contents; it is parsed into a fresh market twice (the
 * second time appended after a first symbol, as csv_load does for a
 * directory). Besides sanitizer findings it checks the reader's promises:
 * a rejection always carries a message naming the file, and an accepted
 * file yields at least one bar with strictly ascending timestamps and
 * finite prices.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"
#include "market.h"
#include "tb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int rc, const tb_error *err, size_t bars_before, const tb_market *m)
{
    if (rc != 0) {
        if (strncmp(err->msg, "fz/X.csv:", 9) != 0) {
            fprintf(stderr, "rejection without file:line: '%s'\n", err->msg);
            abort();
        }
        return;
    }
    if (m->n_bars <= bars_before) {
        fprintf(stderr, "accepted a file without bars\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    tb_freq freq = (data[0] & 1) ? TB_FREQ_1H : TB_FREQ_1D;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    tb_error err;

    tb_market *m = market_new(freq, 2, 0);
    tb_error_clear(&err);
    int rc = csv_parse_buffer("fz/X.csv", buf, len, freq, "X", m, &err);
    fz_check(rc, &err, 0, m);
    if (rc == 0) {
        size_t before = m->n_bars;
        tb_error_clear(&err);
        rc = csv_parse_buffer("fz/X.csv", buf, len, freq, "Y", m, &err);
        fz_check(rc, &err, before, m);
        if (rc == 0) {
            market_finish(m);
            for (size_t i = 0; i < m->n_symbols; i++) {
                tb_series s = market_series(m, i);
                for (size_t k = 0; k < s.n; k++) {
                    if ((k && s.ts[k] <= s.ts[k - 1]) || !isfinite(s.close[k]) || !(s.close[k] > 0)) {
                        fprintf(stderr, "accepted bar %zu of %s breaks the rules\n", k, s.symbol);
                        abort();
                    }
                }
            }
        }
    }
    market_free(m);
    return 0;
}
