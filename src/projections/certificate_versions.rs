//! The `certificates` and `certificate_versions` views: each certificate's policy, its
//! versions and which one is current.

use sqlx::SqliteConnection;

use crate::domain::certificate::CertificateEvent;
use crate::es::StoredEvent;

/// A row of `certificates`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateRow {
    pub vault: String,
    pub name_key: String,
    pub name: String,
    pub policy: String,
    pub policy_created: i64,
    pub policy_updated: i64,
    pub current_version: Option<String>,
}

/// A row of `certificate_versions`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub vault: String,
    pub name_key: String,
    pub version: String,
    pub seq: i64,
    pub key_id: String,
    pub cer: String,
    pub chain: String,
    pub x5t: String,
    pub nbf: i64,
    pub exp: i64,
    pub enabled: bool,
    pub tags: String,
    pub created: i64,
    pub updated: i64,
}

/// Projects one certificate event.
pub async fn apply(
    conn: &mut SqliteConnection,
    stored: &StoredEvent,
    event: &CertificateEvent,
) -> Result<(), sqlx::Error> {
    let vault = &stored.stream.vault;
    let key = &stored.stream.name_key;
    let at = stored.unix();
    match event {
        CertificateEvent::PendingCreated { name, policy, .. } => {
            let policy = serde_json::to_string(policy).unwrap_or_default();
            sqlx::query(
                r#"INSERT INTO certificates (vault, name_key, name, policy, policy_created,
                                            policy_updated, current_version)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL)
                   ON CONFLICT (vault, name_key) DO UPDATE
                   SET policy = excluded.policy, policy_updated = excluded.policy_updated"#,
            )
            .bind(vault)
            .bind(key)
            .bind(name)
            .bind(policy)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::IssuanceCompleted { certificate, .. }
        | CertificateEvent::CertificateMerged { certificate, .. } => {
            let chain = serde_json::to_string(&certificate.chain).unwrap_or_default();
            let tags = serde_json::to_string(&certificate.tags).unwrap_or_default();
            sqlx::query(
                r#"INSERT INTO certificate_versions
                   (vault, name_key, version, seq, key_id, cer, chain, x5t, nbf, exp, enabled,
                    tags, created, updated)
                   VALUES (?1, ?2, ?3,
                           (SELECT COALESCE(MAX(seq), 0) + 1 FROM certificate_versions
                            WHERE vault = ?1 AND name_key = ?2),
                           ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)"#,
            )
            .bind(vault)
            .bind(key)
            .bind(&certificate.version)
            .bind(&certificate.key_id)
            .bind(&certificate.cer)
            .bind(chain)
            .bind(&certificate.x5t)
            .bind(certificate.nbf)
            .bind(certificate.exp)
            .bind(certificate.enabled)
            .bind(tags)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE certificates SET current_version = ?1 WHERE vault = ?2 AND name_key = ?3",
            )
            .bind(&certificate.version)
            .bind(vault)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// A certificate's row.
pub async fn get_certificate(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as::<_, CertificateRow>(
        "SELECT * FROM certificates WHERE vault = ?1 AND name_key = ?2 AND deleted_date IS NULL",
    )
    .bind(vault)
    .bind(name_key)
    .fetch_optional(&mut *conn)
    .await
}

/// One version (case-insensitive), or the current one when `version` is `None`.
pub async fn get_version(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
    version: Option<&str>,
) -> Result<Option<VersionRow>, sqlx::Error> {
    match version {
        Some(v) => {
            sqlx::query_as::<_, VersionRow>(
                "SELECT * FROM certificate_versions WHERE vault = ?1 AND name_key = ?2 AND version = ?3",
            )
            .bind(vault)
            .bind(name_key)
            .bind(v.to_ascii_lowercase())
            .fetch_optional(&mut *conn)
            .await
        }
        None => {
            sqlx::query_as::<_, VersionRow>(
                r#"SELECT v.* FROM certificate_versions v
                   JOIN certificates c ON c.vault = v.vault AND c.name_key = v.name_key
                                      AND c.current_version = v.version
                   WHERE v.vault = ?1 AND v.name_key = ?2"#,
            )
            .bind(vault)
            .bind(name_key)
            .fetch_optional(&mut *conn)
            .await
        }
    }
}
