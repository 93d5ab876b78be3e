-- Settings of the database itself, e.g. the shape the views were last built with
-- (`views_version`): when the server's differs, it rebuilds the views from the events.
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- `preserveCertOrder` as last sent with a create or import (Key Vault 7.6+).
ALTER TABLE certificates ADD COLUMN preserve_cert_order BOOLEAN;
