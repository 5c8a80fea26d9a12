-- The worker's schedules. Every worker process runs the same cron schedules; the first to claim
-- a tick here fans it out into one job per org, the others find the tick taken and do nothing,
-- so several workers never enqueue a tick twice. Old ticks are pruned by the fan-out.
CREATE TABLE control.worker_ticks (
    schedule   text NOT NULL,
    tick       timestamptz NOT NULL,
    -- how many jobs the tick enqueued
    jobs       integer NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, tick)
);
