/* strategies/buy_and_hold.c — s_t = 1 whenever the symbol has a bar (SPEC §3). */
#include <string.h>

#include "strategies.h"

static void bh_signal(const double *p, const tb_series *s, uint8_t *sig, double *scratch)
{
    (void)p;
    (void)scratch;
    memset(sig, 1, s->n);
}

const tb_strategy_def strategy_buy_and_hold = {
    "buy_and_hold", "long every symbol on every bar it has", NULL, 0, NULL, 0, bh_signal, NULL, NULL, NULL,
};
