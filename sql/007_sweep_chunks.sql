-- 007_sweep_chunks — a large sweep split into chunk runs that any worker
-- can claim (scale-out over PostgreSQL, docs/ARCHITECTURE.md "Sweeps in
-- chunks").
--
-- POST /backtests with a grid whose valid combinations outnumber the chunk
-- size (TB_SWEEP_CHUNK, or the body's chunk_size) inserts, in its one
-- enqueue transaction, the sweep (kind 'sweep', chunks = N, never claimed
-- itself) and N runs of kind 'sweep_chunk' (parent_id = the sweep), each
-- with a sweep_chunks row naming its range of valid members. A worker runs
-- a chunk's members only and stores them as sweep_members rows of the
-- sweep (run_id = the sweep, chunk_id = the chunk, rank NULL until the
-- end). The transaction that stores the last chunk locks the sweep row,
-- ranks every member, writes the sweep's artifacts and marks it succeeded.

ALTER TABLE runs DROP CONSTRAINT runs_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_kind_check
    CHECK (kind IN ('run', 'backtest', 'model', 'sweep', 'sweep_chunk'));
-- The number of chunk runs of a split sweep; NULL for every other run
-- (an unsplit sweep runs in one worker as before).
ALTER TABLE runs ADD COLUMN chunks integer CHECK (chunks >= 2);
-- runs_parent_idx (001) finds the chunks of a sweep.

-- One row per chunk run: what it runs and, once stored, what it measured.
CREATE TABLE sweep_chunks (
    run_id           bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,  -- the chunk
    parent_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,      -- its sweep
    seq              integer NOT NULL CHECK (seq >= 0),           -- 0 .. chunks-1
    member_lo        integer NOT NULL CHECK (member_lo >= 0),     -- valid members [lo, hi) in grid order
    member_hi        integer NOT NULL,
    threads          integer CHECK (threads >= 1),                -- filled by the results transaction
    members_seconds  double precision CHECK (members_seconds >= 0),
    total_seconds    double precision CHECK (total_seconds >= 0), -- the chunk's whole engine call
    stages           jsonb,                                       -- the engine's [{"name", "wall_seconds"}]
    CHECK (member_hi > member_lo),
    UNIQUE (parent_id, seq)
);

-- A chunk's members are the sweep's rows; rank is filled in when the last
-- chunk is stored (UNIQUE (run_id, rank) ignores NULLs), and chunk_id says
-- which chunk wrote a row, so a re-executed chunk deletes exactly its own.
ALTER TABLE sweep_members ALTER COLUMN rank DROP NOT NULL;
ALTER TABLE sweep_members ADD COLUMN chunk_id bigint;
