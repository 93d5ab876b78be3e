-- Current-state views, projected from events in the append transaction; rebuildable.
CREATE TABLE pending_operations (
    vault                  TEXT    NOT NULL,
    name_key               TEXT    NOT NULL,
    name                   TEXT    NOT NULL,
    request_id             TEXT    NOT NULL,
    issuer_name            TEXT    NOT NULL,
    issuer_cty             TEXT,
    issuer_ct              INTEGER,
    provider               TEXT,
    approval_required      INTEGER NOT NULL,
    approved               INTEGER NOT NULL,
    key_id                 TEXT    NOT NULL,
    public_key             TEXT    NOT NULL,
    csr                    TEXT    NOT NULL,
    cancellation_requested INTEGER NOT NULL,
    status                 TEXT    NOT NULL,
    error_code             TEXT,
    error_message          TEXT,
    validity_months        INTEGER NOT NULL,
    target_version         TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    PRIMARY KEY (vault, name_key)
);
CREATE INDEX pending_operations_work ON pending_operations (status, provider);

CREATE TABLE certificates (
    vault           TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    policy          TEXT    NOT NULL,
    policy_created  INTEGER NOT NULL,
    policy_updated  INTEGER NOT NULL,
    current_version TEXT,
    PRIMARY KEY (vault, name_key)
);

CREATE TABLE certificate_versions (
    vault      TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    key_id     TEXT    NOT NULL,
    cer        TEXT    NOT NULL,
    chain      TEXT    NOT NULL,
    x5t        TEXT    NOT NULL,
    nbf        INTEGER NOT NULL,
    exp        INTEGER NOT NULL,
    enabled    INTEGER NOT NULL,
    tags       TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    PRIMARY KEY (vault, name_key, version)
);

CREATE TABLE issuers (
    vault        TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    account_id   TEXT,
    password_set INTEGER NOT NULL,
    org_details  TEXT,
    enabled      INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    PRIMARY KEY (vault, name_key)
);
