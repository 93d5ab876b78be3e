-- The event store: every fact, in order, kept for good. `position` is assigned by the
-- appending transaction (which holds the append lock), never by a sequence, so positions
-- are gap-free across every replica.
CREATE TABLE events (
    position          BIGINT  PRIMARY KEY,
    stream_id         TEXT    NOT NULL,
    version           BIGINT  NOT NULL,
    event_type        TEXT    NOT NULL,
    schema_version    BIGINT  NOT NULL,
    payload           TEXT    NOT NULL,
    recorded_at       TEXT    NOT NULL,
    actor             TEXT    NOT NULL,
    client_request_id TEXT,
    remote_addr       TEXT,
    UNIQUE (stream_id, version)
);

-- Sealed private keys (AES-256-GCM under the vault's master key). Events refer to key_id.
CREATE TABLE keys (
    key_id      TEXT  PRIMARY KEY,
    vault       TEXT  NOT NULL,
    public_key  BYTEA NOT NULL,
    sealed      BYTEA NOT NULL,
    created_at  TEXT  NOT NULL
);
