//! The `certificates` view: each certificate's name, policy, current version and
//! soft-delete marks, and the reads that join it with its current version (lists,
//! lifetime actions, scheduled purges).

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;

use super::certificate_versions::VersionRow;
use super::row::view_table;
use crate::domain::certificate::CertificateState;
use crate::domain::policy::Policy;
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

view_table! {
    /// A row of `certificates`.
    #[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
    struct CertificateRow in "certificates", key: [vault, name_key], order: "vault, name_key" {
        vault: String,
        name_key: String,
        name: String,
        policy: Json<Policy>,
        policy_created: i64,
        policy_updated: i64,
        current_version: Option<String>,
        deleted_date: Option<i64>,
        scheduled_purge_date: Option<i64>,
        recoverable_days: Option<i64>,
        preserve_cert_order: Option<bool>,
    }
}

/// The listed form of a stream's state: its certificate row and its latest version's row,
/// as the views hold them after the state's events were projected.
pub fn listed(stream: &StreamId, state: &CertificateState) -> Option<ListedCertificate> {
    Some(ListedCertificate {
        certificate: row(stream, state)?,
        version: state
            .latest()
            .map(|v| super::certificate_versions::version_row(stream, state.versions.len() - 1, v)),
    })
}

/// The row a certificate's state shows, if the certificate exists (live or deleted).
pub fn row(stream: &StreamId, state: &CertificateState) -> Option<CertificateRow> {
    let (name, policy) = (state.name.as_ref()?, state.policy.as_ref()?);
    Some(CertificateRow {
        vault: stream.vault.clone(),
        name_key: stream.name_key.clone(),
        name: name.clone(),
        policy: Json(policy.clone()),
        policy_created: state.policy_created,
        policy_updated: state.policy_updated,
        current_version: state.latest().map(|v| v.version.clone()),
        deleted_date: state.deleted.map(|d| d.deleted_date),
        scheduled_purge_date: state.deleted.map(|d| d.scheduled_purge_date),
        recoverable_days: state.deleted.map(|d| d.recoverable_days),
        preserve_cert_order: state.preserve_cert_order,
    })
}

/// A certificate's row, with its current version when it has one.
#[derive(Debug, Clone)]
pub struct ListedCertificate {
    pub certificate: CertificateRow,
    pub version: Option<VersionRow>,
}

impl ListedCertificate {
    /// The certificate's policy.
    pub fn policy(&self) -> &Policy {
        &self.certificate.policy.0
    }
}

/// A live certificate's row (`deleted`: a soft-deleted one's instead).
pub async fn get(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
    deleted: bool,
) -> Result<Option<ListedCertificate>, sqlx::Error> {
    let row: Option<CertificateRow> = on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT * FROM certificates WHERE vault = $1 AND name_key = $2
             AND (deleted_date IS NOT NULL) = $3"#,
    )
    .bind(vault)
    .bind(name_key)
    .bind(deleted)
    .fetch_optional(c)
    .await)?;
    let Some(certificate) = row else {
        return Ok(None);
    };
    let version = match &certificate.current_version {
        Some(v) => super::certificate_versions::get(conn, vault, name_key, v).await?,
        None => None,
    };
    Ok(Some(ListedCertificate {
        certificate,
        version,
    }))
}

/// Certificates of `vault` after `after` (name key), `limit` of them, each with its current
/// version; `deleted` picks the soft-deleted ones instead of the live ones. Without
/// `include_pending`, only those with a version. Two queries a page, whatever its size.
pub async fn list(
    conn: &mut Conn<'_>,
    vault: &str,
    deleted: bool,
    include_pending: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<ListedCertificate>, sqlx::Error> {
    // The page's certificates, once for their rows and once to join their current versions.
    const PAGE: &str = r#"FROM certificates
           WHERE vault = $1 AND name_key > $2
             AND (deleted_date IS NOT NULL) = $3
             AND ($4 = TRUE OR current_version IS NOT NULL)
           ORDER BY name_key LIMIT $5"#;
    macro_rules! page {
        ($sql:expr) => {
            on_conn!(conn, |c| sqlx::query_as(&$sql)
                .bind(vault)
                .bind(after)
                .bind(deleted)
                .bind(include_pending)
                .bind(limit)
                .fetch_all(c)
                .await)
        };
    }
    let rows: Vec<CertificateRow> = page!(format!("SELECT * {PAGE}"))?;
    let versions: Vec<VersionRow> = page!(format!(
        r#"SELECT v.* FROM certificate_versions v
           JOIN (SELECT name_key, current_version {PAGE}) p
             ON v.name_key = p.name_key AND v.version = p.current_version
           WHERE v.vault = $1"#
    ))?;
    let mut versions: std::collections::HashMap<String, VersionRow> = versions
        .into_iter()
        .map(|v| (v.name_key.clone(), v))
        .collect();
    Ok(rows
        .into_iter()
        .map(|c| ListedCertificate {
            version: versions.remove(&c.name_key),
            certificate: c,
        })
        .collect())
}

/// Deleted certificates whose scheduled purge date is not after `now` (every vault), as
/// (vault, name).
pub async fn due_for_purge(
    conn: &mut Conn<'_>,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT vault, name FROM certificates
           WHERE deleted_date IS NOT NULL AND scheduled_purge_date <= $1
           ORDER BY scheduled_purge_date LIMIT $2"#,
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// A live certificate's current version and policy (for lifetime actions).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrentVersionRow {
    pub vault: String,
    pub name: String,
    pub policy: Json<Policy>,
    pub version: String,
    pub nbf: i64,
    pub exp: i64,
}

/// Every live certificate that has a current version.
pub async fn current_versions(conn: &mut Conn<'_>) -> Result<Vec<CurrentVersionRow>, sqlx::Error> {
    live_current(conn, "c.vault, c.name, c.policy, v.version, v.nbf, v.exp").await
}

/// `columns` of every live certificate joined with its current version, by vault and name.
pub(super) async fn live_current<T>(
    conn: &mut Conn<'_>,
    columns: &str,
) -> Result<Vec<T>, sqlx::Error>
where
    T: Send + Unpin + for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow>,
{
    let sql = format!(
        r#"SELECT {columns}
           FROM certificates c
           JOIN certificate_versions v
             ON v.vault = c.vault AND v.name_key = c.name_key AND v.version = c.current_version
           WHERE c.deleted_date IS NULL
           ORDER BY c.vault, c.name_key"#
    );
    on_conn!(conn, |c| sqlx::query_as::<_, T>(&sql).fetch_all(c).await)
}
