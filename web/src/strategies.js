// strategies.js — the strategies the backtest and sweep forms offer and
// their parameters (docs/ENGINE.md): [name, label, default]. A blank field
// means the strategy's default, which the API applies.

export const STRATEGIES = {
  trend_baseline: [['fast', 'fast EMA', '20'], ['slow', 'slow EMA', '50']],
  ema_trend: [['n', 'EMA length n', '50'], ['atr_n', 'ATR length', '14'], ['band', 'band (× ATR)', '0.5']],
  buy_and_hold: [],
};
