/* strategies/strategies.h — the registered strategy definitions; one file each. */
#ifndef TB_STRATEGIES_H
#define TB_STRATEGIES_H
#include "strategy.h"

extern const tb_strategy_def strategy_trend_baseline;
extern const tb_strategy_def strategy_ema_trend;
extern const tb_strategy_def strategy_buy_and_hold;

#endif
