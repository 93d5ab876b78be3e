-- The event store: every fact, in order, kept for good.
CREATE TABLE events (
    position          INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id         TEXT    NOT NULL,
    version           INTEGER NOT NULL,
    event_type        TEXT    NOT NULL,
    schema_version    INTEGER NOT NULL,
    payload           TEXT    NOT NULL,
    recorded_at       TEXT    NOT NULL,
    actor             TEXT    NOT NULL,
    client_request_id TEXT,
    remote_addr       TEXT,
    UNIQUE (stream_id, version)
);

-- Sealed private keys (AES-256-GCM under the vault's master key). Events refer to key_id.
CREATE TABLE keys (
    key_id      TEXT PRIMARY KEY,
    vault       TEXT NOT NULL,
    public_key  BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
