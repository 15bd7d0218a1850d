-- 003_model_registry — what the model registry (/models) stores beyond 001.
--
-- A model training (ML_JOB, or a run of kind 'model') writes one datasets
-- row, its dataset_rows and one models row in its results transaction, all
-- with the run's id as their id (INSERT ... OVERRIDING SYSTEM VALUE; no
-- other statement inserts into these tables, so the identity sequences are
-- never used and ids never collide). One number names the run, its dataset
-- and its model.
--
-- models columns as the worker fills them:
--   params       XGBoost parameters, n_rounds, nthread, cv and k_folds
--   cv           {"method", "k", "folds": [{fold, n_train, n_test, n_purged,
--                n_embargoed, test_first_ts, test_last_ts, test_last_t1,
--                train_base_rate, auc, logloss, accuracy, precision, recall,
--                f1, base_rate}], "mean": {...}, "std": {...}}; null = undefined
--   importances  [{feature, gain, total_gain, permutation_mean,
--                permutation_std}] in SPEC §6.1 order (an array: jsonb keeps
--                array order, not key order)
--   correlation  (new) {"features": [...], "matrix": [[...]]}, Pearson, row-major
--   train_first_ts / train_last_ts  the first row's signal bar and the
--                latest label bar t1: the span of data the model has seen,
--                compared with a meta-filtered backtest's range.

ALTER TABLE models ADD COLUMN correlation jsonb NOT NULL DEFAULT '{}'::jsonb;

-- dataset_rows are written only by that transaction, right after their
-- datasets row; as in 002, the per-row foreign-key trigger buys nothing
-- (thousands of rows per training) and the cascade becomes a trigger.
ALTER TABLE dataset_rows DROP CONSTRAINT dataset_rows_dataset_id_fkey;

CREATE FUNCTION datasets_delete_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dataset_rows WHERE dataset_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER datasets_delete_rows
    AFTER DELETE ON datasets
    FOR EACH ROW EXECUTE FUNCTION datasets_delete_rows();
