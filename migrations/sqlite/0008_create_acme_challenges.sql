-- ACME HTTP-01 key authorizations being validated (RFC 8555 §8.3), by token: published by
-- the worker of any replica, answered by the challenge listener of every replica. Not an
-- event (they live only while a CA validates); no secret (token and account thumbprint).
CREATE TABLE acme_challenges (
    token             TEXT PRIMARY KEY,
    key_authorization TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
