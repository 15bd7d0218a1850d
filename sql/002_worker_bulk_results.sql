-- 002_worker_bulk_results — cheaper bulk writes of a run's orders and equity points.
--
-- The worker COPYs every order and equity point of a run in its results
-- transaction (BACKTEST_MEDIUM: ~10k orders, 2.5k points). A foreign key
-- checks each inserted row with its own trigger query, which was half of
-- that transaction's time (about 50 ms of 105 ms for 11.6k orders on the
-- reference machine). These two tables are written only by that
-- transaction, which first locks the run row (SELECT ... FOR UPDATE), so a
-- row can never point at a missing run; the per-row check buys nothing.
-- Deleting a run still deletes its orders and equity points: the cascade
-- becomes a trigger on runs. metrics, artifacts and run_iterations (a
-- handful of rows per run) keep their foreign keys.

ALTER TABLE orders DROP CONSTRAINT orders_run_id_fkey;
ALTER TABLE equity_points DROP CONSTRAINT equity_points_run_id_fkey;

CREATE FUNCTION runs_delete_bulk_results() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM orders WHERE run_id = OLD.id;
    DELETE FROM equity_points WHERE run_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER runs_delete_bulk_results
    AFTER DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION runs_delete_bulk_results();
