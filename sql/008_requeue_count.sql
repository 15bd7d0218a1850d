-- 008_requeue_count — durable counters of the workers' stale-run check, read
-- by GET /metrics (tradebench_runs_requeued_total, _worker_lost_total).
--
-- A run's attempts column cannot tell them: a graceful release gives its
-- attempt back, and deleting a run would make a sum over runs go down. So
-- the reaper's one statement (server/queue.c, QUEUE_SQL_REAP) also adds the
-- runs it put back to the queue ('runs_requeued') and the runs it failed
-- with "worker lost after N attempts" ('runs_worker_lost') here, in the same
-- statement, and only when there are any (no write on an idle check).
-- Counters only grow; they count from this migration on.
CREATE TABLE run_counters (
    name   text PRIMARY KEY CHECK (name IN ('runs_requeued', 'runs_worker_lost')),
    value  bigint NOT NULL DEFAULT 0 CHECK (value >= 0)
);
INSERT INTO run_counters (name) VALUES ('runs_requeued'), ('runs_worker_lost');
