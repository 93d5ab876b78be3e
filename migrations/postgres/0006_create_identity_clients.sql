-- OAuth clients made with `certbroker client create` (client credentials grant): only the
-- SHA-256 of the secret is kept. `client_id` is the GUID clients send as AZURE_CLIENT_ID.
CREATE TABLE clients (
    name          TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
