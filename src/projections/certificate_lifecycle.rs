//! The `certificates` and `certificate_versions` views under the rest of Key Vault's surface:
//! attribute and policy updates, import, soft delete (deleted marks, recover, purge),
//! restore; and the reads behind lists, deleted certificates, secrets and keys.

use sqlx::SqliteConnection;

use super::certificate_versions::{self, CertificateRow, VersionRow};
use crate::domain::certificate::{CertificateEvent, VersionRecord};
use crate::es::StoredEvent;

/// A certificate row with its soft-delete marks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LifecycleRow {
    pub deleted_date: Option<i64>,
    pub scheduled_purge_date: Option<i64>,
    pub recoverable_days: Option<i64>,
}

async fn insert_version(
    conn: &mut SqliteConnection,
    stored: &StoredEvent,
    certificate: &VersionRecord,
) -> Result<(), sqlx::Error> {
    // The same insert as an issued version: reuse that projection's arm.
    certificate_versions::apply(
        conn,
        stored,
        &CertificateEvent::CertificateMerged {
            request_id: String::new(),
            certificate: certificate.clone(),
        },
    )
    .await
}

async fn upsert_certificate(
    conn: &mut SqliteConnection,
    stored: &StoredEvent,
    name: &str,
    policy: &crate::domain::policy::Policy,
) -> Result<(), sqlx::Error> {
    let policy = serde_json::to_string(policy).unwrap_or_default();
    sqlx::query(
        r#"INSERT INTO certificates (vault, name_key, name, policy, policy_created,
                                    policy_updated, current_version)
           VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL)
           ON CONFLICT (vault, name_key) DO UPDATE
           SET policy = excluded.policy, policy_updated = excluded.policy_updated"#,
    )
    .bind(&stored.stream.vault)
    .bind(&stored.stream.name_key)
    .bind(name)
    .bind(policy)
    .bind(stored.unix())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Projects the events of this surface (others are left to their projections).
pub async fn apply(
    conn: &mut SqliteConnection,
    stored: &StoredEvent,
    event: &CertificateEvent,
) -> Result<(), sqlx::Error> {
    let vault = &stored.stream.vault;
    let key = &stored.stream.name_key;
    let at = stored.unix();
    match event {
        CertificateEvent::VersionUpdated {
            version,
            enabled,
            tags,
        } => {
            let tags = tags
                .as_ref()
                .map(|t| serde_json::to_string(t).unwrap_or_default());
            sqlx::query(
                r#"UPDATE certificate_versions
                   SET enabled = COALESCE(?1, enabled), tags = COALESCE(?2, tags), updated = ?3
                   WHERE vault = ?4 AND name_key = ?5 AND version = ?6"#,
            )
            .bind(enabled)
            .bind(tags)
            .bind(at)
            .bind(vault)
            .bind(key)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::PolicyUpdated { policy } => {
            let policy = serde_json::to_string(policy).unwrap_or_default();
            sqlx::query(
                "UPDATE certificates SET policy = ?1, policy_updated = ?2 WHERE vault = ?3 AND name_key = ?4",
            )
            .bind(policy)
            .bind(at)
            .bind(vault)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::CertificateImported {
            name,
            policy,
            certificate,
            ..
        } => {
            upsert_certificate(conn, stored, name, policy).await?;
            insert_version(conn, stored, certificate).await?;
        }
        CertificateEvent::CertificateDeleted {
            deleted_date,
            scheduled_purge_date,
            recoverable_days,
        } => {
            sqlx::query(
                r#"UPDATE certificates
                   SET deleted_date = ?1, scheduled_purge_date = ?2, recoverable_days = ?3
                   WHERE vault = ?4 AND name_key = ?5"#,
            )
            .bind(deleted_date)
            .bind(scheduled_purge_date)
            .bind(recoverable_days)
            .bind(vault)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::CertificateRecovered {} => {
            sqlx::query(
                r#"UPDATE certificates
                   SET deleted_date = NULL, scheduled_purge_date = NULL, recoverable_days = NULL
                   WHERE vault = ?1 AND name_key = ?2"#,
            )
            .bind(vault)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::CertificatePurged { .. } => {
            for table in ["certificate_versions", "certificates"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE vault = ?1 AND name_key = ?2"
                ))
                .bind(vault)
                .bind(key)
                .execute(&mut *conn)
                .await?;
            }
        }
        CertificateEvent::CertificateRestored {
            name,
            policy,
            versions,
        } => {
            upsert_certificate(conn, stored, name, policy).await?;
            for v in versions {
                insert_version(conn, stored, v).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A live certificate's row and current version, for lists: ordered by name key.
#[derive(Debug, Clone)]
pub struct ListedCertificate {
    pub certificate: CertificateRow,
    pub version: Option<VersionRow>,
    pub deleted: LifecycleRow,
}

async fn with_versions(
    conn: &mut SqliteConnection,
    rows: Vec<CertificateRow>,
) -> Result<Vec<ListedCertificate>, sqlx::Error> {
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let version =
            certificate_versions::get_version(&mut *conn, &c.vault, &c.name_key, None).await?;
        let deleted = marks(&mut *conn, &c.vault, &c.name_key)
            .await?
            .unwrap_or(LifecycleRow {
                deleted_date: None,
                scheduled_purge_date: None,
                recoverable_days: None,
            });
        out.push(ListedCertificate {
            certificate: c,
            version,
            deleted,
        });
    }
    Ok(out)
}

/// The soft-delete marks of a certificate row (`None`: no row).
pub async fn marks(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
) -> Result<Option<LifecycleRow>, sqlx::Error> {
    sqlx::query_as::<_, LifecycleRow>(
        r#"SELECT deleted_date, scheduled_purge_date, recoverable_days FROM certificates
           WHERE vault = ?1 AND name_key = ?2"#,
    )
    .bind(vault)
    .bind(name_key)
    .fetch_optional(&mut *conn)
    .await
}

/// Certificates of `vault` after `after` (name key), `limit` of them; `deleted` picks the
/// soft-deleted ones instead of the live ones. Without `include_pending`, only those with a
/// version.
pub async fn list(
    conn: &mut SqliteConnection,
    vault: &str,
    deleted: bool,
    include_pending: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<ListedCertificate>, sqlx::Error> {
    let rows = sqlx::query_as::<_, CertificateRow>(
        r#"SELECT * FROM certificates
           WHERE vault = ?1 AND name_key > ?2
             AND ((?3 = 1 AND deleted_date IS NOT NULL) OR (?3 = 0 AND deleted_date IS NULL))
             AND (?4 = 1 OR current_version IS NOT NULL)
           ORDER BY name_key LIMIT ?5"#,
    )
    .bind(vault)
    .bind(after)
    .bind(deleted)
    .bind(include_pending)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    with_versions(conn, rows).await
}

/// One certificate's row (live or deleted) with its current version and marks.
pub async fn get_any(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
) -> Result<Option<ListedCertificate>, sqlx::Error> {
    let rows = sqlx::query_as::<_, CertificateRow>(
        "SELECT * FROM certificates WHERE vault = ?1 AND name_key = ?2",
    )
    .bind(vault)
    .bind(name_key)
    .fetch_all(&mut *conn)
    .await?;
    Ok(with_versions(conn, rows).await?.into_iter().next())
}

/// Versions of a certificate, oldest first, after sequence `after`.
pub async fn versions(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as::<_, VersionRow>(
        r#"SELECT * FROM certificate_versions
           WHERE vault = ?1 AND name_key = ?2 AND seq > ?3
           ORDER BY seq LIMIT ?4"#,
    )
    .bind(vault)
    .bind(name_key)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Deleted certificates whose scheduled purge date is not after `now` (every vault).
pub async fn due_for_purge(
    conn: &mut SqliteConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as::<_, (String, String)>(
        r#"SELECT vault, name FROM certificates
           WHERE deleted_date IS NOT NULL AND scheduled_purge_date <= ?1
           ORDER BY scheduled_purge_date LIMIT ?2"#,
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
