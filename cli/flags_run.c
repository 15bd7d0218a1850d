/* flags_run.c — shared run flags (see flags_run.h). */
#include "flags_run.h"

#include <stdio.h>
#include <string.h>

int flags_apply_source(const cli_args *a, tb_backtest_config *c, tb_error *err)
{
    const char *v;
    if ((v = cli_get(a, "data"))) c->source.data = v;
    if ((v = cli_get(a, "freq")) && tb_freq_parse(v, &c->source.freq))
        return tb_fail_field(err, TB_EINVAL, "freq", "--freq must be 1d or 1h, got '%s'", v);
    return cli_get_u64(a, "seed", &c->source.seed, err);
}

int flags_apply_strategy(const cli_args *a, tb_strategy_params *sp, tb_error *err)
{
    const char *v = cli_get(a, "strategy");
    if (!v) return tb_fail_field(err, TB_EINVAL, "strategy", "--strategy is required");
    const tb_strategy_def *def = strategy_find(v);
    if (!def)
        return tb_fail_field(err, TB_EINVAL, "strategy",
                             "unknown strategy '%s' (try trend_baseline, ema_trend, buy_and_hold)", v);
    strategy_params_defaults(def, sp);
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->name[i], "param")) continue;
        const char *kv = a->value[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) return tb_fail_field(err, TB_EINVAL, "param", "--param expects k=v, got '%s'", kv);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        if (strategy_params_set(sp, key, eq + 1, err)) return -1;
    }
    if (cli_has(a, "grid")) return 0; /* a sweep checks every combination itself */
    return strategy_params_validate(sp, err);
}

int flags_apply_universe_range(const cli_args *a, tb_backtest_config *c, tb_error *err)
{
    if (cli_has(a, "symbols") && cli_has(a, "universe"))
        return tb_fail_field(err, TB_EINVAL, "universe", "give --symbols or --universe, not both");
    if (cli_get_size(a, "symbols", &c->n_symbols, err)) return -1;
    c->universe_file = cli_get(a, "universe");
    int intraday = c->source.freq != TB_FREQ_1D;
    if (cli_get_date(a, "start", 0, &c->start, err) || cli_get_date(a, "end", intraday, &c->end, err)) return -1;
    if (c->start > c->end) return tb_fail_field(err, TB_EINVAL, "start", "--start is after --end");
    return cli_get_size(a, "last-bars", &c->last_bars, err);
}
