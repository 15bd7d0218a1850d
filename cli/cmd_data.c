/* cmd_data.c — `tradebench data synth` (export the synthetic market as a CSV
 * directory) and `tradebench data import` (validate a CSV directory: every
 * file is read with the strict reader; prints symbols, ranges and problems). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "csv_reader.h"
#include "synth.h"
#include "timeutil.h"

static const cli_flag synth_flags[] = {
    {"symbols", 1, 0}, {"bars", 1, 0}, {"freq", 1, 0}, {"seed", 1, 0}, {"out", 1, 0}, {NULL, 0, 0},
};
static const cli_flag import_flags[] = {{"from", 1, 0}, {"freq", 1, 0}, {NULL, 0, 0}};

static int data_synth(int argc, char **argv)
{
    tb_error err = {0};
    cli_args a;
    tb_synth_params p = {42, 500, 2520, TB_FREQ_1D};
    const char *v, *out;
    if (cli_parse(argc, argv, synth_flags, &a, &err)) return cli_report(&err);
    if (cli_get_size(&a, "symbols", &p.n_symbols, &err) || cli_get_size(&a, "bars", &p.n_bars, &err) ||
        cli_get_u64(&a, "seed", &p.seed, &err))
        return cli_report(&err);
    if ((v = cli_get(&a, "freq")) && tb_freq_parse(v, &p.freq)) {
        tb_fail_field(&err, TB_EINVAL, "freq", "--freq must be 1d or 1h, got '%s'", v);
        return cli_report(&err);
    }
    if (!(out = cli_get(&a, "out"))) {
        tb_fail_field(&err, TB_EINVAL, "out", "--out DIR is required");
        return cli_report(&err);
    }
    tb_market *m = NULL;
    if (synth_generate(&p, NULL, 0, &m, &err)) return cli_report(&err);
    int rc = synth_export_csv(m, out, &err);
    if (!rc) printf("data synth: %zu symbols x %zu %s bars (seed %llu) -> %s/\n", p.n_symbols, p.n_bars,
                    tb_freq_name(p.freq), (unsigned long long)p.seed, out);
    market_free(m);
    return rc ? cli_report(&err) : 0;
}

static int data_import(int argc, char **argv)
{
    tb_error err = {0};
    cli_args a;
    tb_freq freq = TB_FREQ_1D;
    const char *v, *dir;
    if (cli_parse(argc, argv, import_flags, &a, &err)) return cli_report(&err);
    if ((v = cli_get(&a, "freq")) && tb_freq_parse(v, &freq)) {
        tb_fail_field(&err, TB_EINVAL, "freq", "--freq must be 1d or 1h, got '%s'", v);
        return cli_report(&err);
    }
    if (!(dir = cli_get(&a, "from"))) {
        tb_fail_field(&err, TB_EINVAL, "from", "--from DIR is required");
        return cli_report(&err);
    }
    char **names = NULL;
    size_t n = 0, bad = 0, bars = 0;
    if (csv_list_symbols(dir, &names, &n, &err)) return cli_report(&err);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    printf("symbol,bars,first,last,status\n");
    for (size_t i = 0; i < n; i++) {
        tb_market *m = NULL;
        tb_error e = {0};
        const char *one[1] = {names[i]};
        if (csv_load(dir, one, 1, freq, &m, &e)) {
            printf("%s,,,,\"%s\"\n", names[i], e.msg);
            fprintf(stderr, "tradebench: %s\n", e.msg);
            bad++;
            continue;
        }
        char f[24], l[24];
        tu_format(m->ts[0], freq == TB_FREQ_1D, f);
        tu_format(m->ts[m->n_bars - 1], freq == TB_FREQ_1D, l);
        printf("%s,%zu,%s,%s,ok\n", names[i], m->n_bars, f, l);
        if (m->ts[0] < lo) lo = m->ts[0];
        if (m->ts[m->n_bars - 1] > hi) hi = m->ts[m->n_bars - 1];
        bars += m->n_bars;
        market_free(m);
    }
    char f[24] = "-", l[24] = "-";
    if (bad < n) {
        tu_format(lo, freq == TB_FREQ_1D, f);
        tu_format(hi, freq == TB_FREQ_1D, l);
    }
    fprintf(stderr, "data import: %zu files, %zu valid, %zu with problems, %zu bars, %s … %s\n", n, n - bad, bad, bars,
            f, l);
    csv_free_names(names, n);
    return bad ? 2 : 0;
}

int cmd_data(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "synth")) return data_synth(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "import")) return data_import(argc - 1, argv + 1);
    fprintf(stderr, "tradebench: usage: tradebench data synth|import ... (see tradebench help)\n");
    return 2;
}
