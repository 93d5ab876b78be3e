-- Soft delete: a deleted certificate keeps its rows, marked with when it was deleted and
-- when it will be purged; reads of live certificates skip it.
ALTER TABLE certificates ADD COLUMN deleted_date BIGINT;
ALTER TABLE certificates ADD COLUMN scheduled_purge_date BIGINT;
ALTER TABLE certificates ADD COLUMN recoverable_days BIGINT;
CREATE INDEX certificates_purge ON certificates (scheduled_purge_date)
    WHERE deleted_date IS NOT NULL;

-- The vault's certificate contacts (Key Vault `Contacts`), one row per vault that has some.
CREATE TABLE certificate_contacts (
    vault    TEXT    NOT NULL PRIMARY KEY,
    contacts JSONB   NOT NULL,
    updated  BIGINT  NOT NULL
);
