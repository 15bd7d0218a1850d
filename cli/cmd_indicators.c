/* cmd_indicators.c — `tradebench indicators`: export one symbol's SPEC §2
 * indicators (ts,sma20,ema20,ema50,atr14,rsi14,logret1,vol20,adv20,spread20). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "datasource.h"
#include "indicators.h"
#include "numfmt.h"
#include "timeutil.h"
#include "xalloc.h"

static const cli_flag ind_flags[] = {
    {"data", 1, 0}, {"symbol", 1, 0}, {"out", 1, 0}, {"freq", 1, 0}, {"seed", 1, 0}, {NULL, 0, 0},
};

int cmd_indicators(int argc, char **argv)
{
    tb_error err = {0};
    cli_args a;
    tb_source src;
    source_defaults(&src);
    if (cli_parse(argc, argv, ind_flags, &a, &err)) return cli_report(&err);
    const char *v, *sym = cli_get(&a, "symbol"), *out = cli_get(&a, "out");
    if ((v = cli_get(&a, "data"))) src.data = v;
    if ((v = cli_get(&a, "freq")) && tb_freq_parse(v, &src.freq)) {
        tb_fail_field(&err, TB_EINVAL, "freq", "--freq must be 1d or 1h, got '%s'", v);
        return cli_report(&err);
    }
    if (cli_get_u64(&a, "seed", &src.seed, &err)) return cli_report(&err);
    if (!sym) tb_fail_field(&err, TB_EINVAL, "symbol", "--symbol is required");
    else if (!out) tb_fail_field(&err, TB_EINVAL, "out", "--out is required");
    if (err.code) return cli_report(&err);

    const char *one[1] = {sym};
    tb_universe u;
    tb_market *m = NULL;
    if (universe_from_list(one, 1, &u, &err)) return cli_report(&err);
    int rc = source_load(&src, &u, &m, &err);
    universe_free(&u);
    if (rc) return cli_report(&err);

    tb_series s = market_series(m, 0);
    enum { K = 9 };
    double *col[K];
    for (int k = 0; k < K; k++) col[k] = xmalloc(xmul(s.n ? s.n : 1, sizeof(double)));
    ind_sma(s.close, s.n, 20, col[0]);
    ind_ema(s.close, s.n, 20, col[1]);
    ind_ema(s.close, s.n, 50, col[2]);
    ind_atr(s.high, s.low, s.close, s.n, 14, col[3]);
    ind_rsi(s.close, s.n, 14, col[4]);
    ind_logret(s.close, s.n, 1, col[5]);
    ind_vol(s.close, s.n, 20, col[6]);
    ind_adv(s.volume, s.n, 20, col[7]);
    ind_spread(s.high, s.low, s.close, s.n, 20, col[8]);

    FILE *f = fopen(out, "w");
    if (!f) {
        tb_fail_field(&err, TB_EIO, "out", "cannot write %s: %s", out, strerror(errno));
    } else {
        fputs("ts,sma20,ema20,ema50,atr14,rsi14,logret1,vol20,adv20,spread20\n", f);
        char b[40];
        for (size_t t = 0; t < s.n; t++) {
            tu_format(s.ts[t], m->freq == TB_FREQ_1D, b);
            fputs(b, f);
            for (int k = 0; k < K; k++) {
                nf_double(b, col[k][t]);
                fputc(',', f);
                fputs(b, f);
            }
            fputc('\n', f);
        }
        if (fclose(f)) tb_fail_field(&err, TB_EIO, "out", "error writing %s", out);
    }
    for (int k = 0; k < K; k++) free(col[k]);
    if (!err.code) printf("indicators: %s, %zu bars -> %s\n", sym, s.n, out);
    market_free(m);
    return err.code ? cli_report(&err) : 0;
}
