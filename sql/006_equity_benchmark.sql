-- 006_equity_benchmark — the universe benchmark beside each equity point, so
-- the dashboard can draw it on the equity chart. benchmark is the start
-- capital grown by the SPEC §5 universe benchmark returns:
-- B_0 = E_0, B_t = B_{t-1} * (1 + b_t). NULL for runs persisted before this
-- migration. Not part of equity_curve_<f>.csv (SPEC §8 fixes its columns).
ALTER TABLE equity_points ADD COLUMN benchmark double precision;
