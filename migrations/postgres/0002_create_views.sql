-- Current-state views, projected from events in the append transaction; rebuildable.
CREATE TABLE pending_operations (
    vault                  TEXT    NOT NULL,
    name_key               TEXT    NOT NULL,
    name                   TEXT    NOT NULL,
    request_id             TEXT    NOT NULL,
    issuer_name            TEXT    NOT NULL,
    issuer_cty             TEXT,
    issuer_ct              BOOLEAN,
    provider               TEXT,
    approval_required      BOOLEAN NOT NULL,
    approved               BOOLEAN NOT NULL,
    key_id                 TEXT    NOT NULL,
    public_key             TEXT    NOT NULL,
    csr                    TEXT    NOT NULL,
    cancellation_requested BOOLEAN NOT NULL,
    status                 TEXT    NOT NULL,
    error_code             TEXT,
    error_message          TEXT,
    validity_months        BIGINT  NOT NULL,
    target_version         TEXT,
    created_at             BIGINT  NOT NULL,
    updated_at             BIGINT  NOT NULL,
    PRIMARY KEY (vault, name_key)
);
CREATE INDEX pending_operations_work ON pending_operations (status, provider);

CREATE TABLE certificates (
    vault           TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    policy          JSONB   NOT NULL,
    policy_created  BIGINT  NOT NULL,
    policy_updated  BIGINT  NOT NULL,
    current_version TEXT,
    PRIMARY KEY (vault, name_key)
);

CREATE TABLE certificate_versions (
    vault      TEXT    NOT NULL,
    name_key   TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    seq        BIGINT  NOT NULL,
    key_id     TEXT    NOT NULL,
    cer        TEXT    NOT NULL,
    chain      JSONB   NOT NULL,
    x5t        TEXT    NOT NULL,
    nbf        BIGINT  NOT NULL,
    exp        BIGINT  NOT NULL,
    enabled    BOOLEAN NOT NULL,
    tags       JSONB   NOT NULL,
    created    BIGINT  NOT NULL,
    updated    BIGINT  NOT NULL,
    PRIMARY KEY (vault, name_key, version)
);

CREATE TABLE issuers (
    vault        TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    account_id   TEXT,
    password_set BOOLEAN NOT NULL,
    org_details  JSONB,
    enabled      BOOLEAN NOT NULL,
    created      BIGINT  NOT NULL,
    updated      BIGINT  NOT NULL,
    PRIMARY KEY (vault, name_key)
);
