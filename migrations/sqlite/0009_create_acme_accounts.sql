-- ACME accounts (RFC 8555 §7.3), one per provider and directory URL: the credentials
-- (the account URL and its private key) sealed under the master key, hex-encoded. In the
-- database so that every replica uses the one account registered by whichever came first.
CREATE TABLE acme_accounts (
    account    TEXT PRIMARY KEY,
    sealed     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
