-- Leases on the worker's jobs (one row per job: a certificate's pending request, a sweep),
-- so that one replica at a time drives each. `epoch` grows each time another holder (or
-- the same one after expiry) takes the job: the fencing token the holder's appends check.
-- `expires_at` is in milliseconds since the Unix epoch, by the database's clock.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
