-- Audit trail: a hash chain over the events table, indexes for audit queries, and tokens
-- managed from the CLI.
--
-- hash = SHA-256(previous row's hash || canonical encoding of this row), lowercase hex; the
-- appending transaction fills it in while it holds the append lock.
ALTER TABLE events ADD COLUMN hash TEXT;

CREATE INDEX events_actor ON events (actor, position);
CREATE INDEX events_event_type ON events (event_type, position);
CREATE INDEX events_recorded_at ON events (recorded_at, position);

-- Bearer tokens made with `certbroker token create`: only the SHA-256 of the token is kept.
CREATE TABLE tokens (
    name       TEXT    PRIMARY KEY,
    role       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL,
    revoked_at TEXT
);
