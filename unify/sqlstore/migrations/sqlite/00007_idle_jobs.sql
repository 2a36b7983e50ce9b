-- +goose Up
-- The worker sleeps until the next job comes due; these indexes find it
-- without reading the queue (which may hold a million jobs while a carrier
-- is down): the earliest unleased job, and the earliest lease to expire.
CREATE INDEX jobs_idle ON jobs (run_at) WHERE lease_until = 0;
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE lease_until <> 0;

-- +goose Down
DROP INDEX jobs_leased;
DROP INDEX jobs_idle;
