//! The `pending_operations` view: each certificate's pending object (Key Vault
//! `CertificateOperation`), one row per certificate that has one.

use crate::domain::certificate::{CertificateState, OperationStatus};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

use super::sql;

pub(crate) const TABLE: &str = "pending_operations";
const KEY: &[&str] = &["vault", "name_key"];
const COLUMNS: &[&str] = &[
    "vault",
    "name_key",
    "name",
    "request_id",
    "issuer_name",
    "issuer_cty",
    "issuer_ct",
    "provider",
    "approval_required",
    "approved",
    "key_id",
    "public_key",
    "csr",
    "cancellation_requested",
    "status",
    "error_code",
    "error_message",
    "validity_months",
    "target_version",
    "created_at",
    "updated_at",
];

/// A row of `pending_operations`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct PendingRow {
    pub vault: String,
    pub name_key: String,
    pub name: String,
    pub request_id: String,
    pub issuer_name: String,
    pub issuer_cty: Option<String>,
    pub issuer_ct: Option<bool>,
    pub provider: Option<String>,
    pub approval_required: bool,
    pub approved: bool,
    pub key_id: String,
    pub public_key: String,
    pub csr: String,
    pub cancellation_requested: bool,
    #[serde(serialize_with = "status_text")]
    pub status: OperationStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub validity_months: i64,
    pub target_version: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn status_text<S: serde::Serializer>(s: &OperationStatus, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

macro_rules! bind_row {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.vault)
            .bind(&$r.name_key)
            .bind(&$r.name)
            .bind(&$r.request_id)
            .bind(&$r.issuer_name)
            .bind(&$r.issuer_cty)
            .bind($r.issuer_ct)
            .bind(&$r.provider)
            .bind($r.approval_required)
            .bind($r.approved)
            .bind(&$r.key_id)
            .bind(&$r.public_key)
            .bind(&$r.csr)
            .bind($r.cancellation_requested)
            .bind($r.status)
            .bind(&$r.error_code)
            .bind(&$r.error_message)
            .bind($r.validity_months)
            .bind(&$r.target_version)
            .bind($r.created_at)
            .bind($r.updated_at)
    };
}

/// The row a certificate's state shows, if it has a pending object.
pub fn row(stream: &StreamId, state: &CertificateState) -> Option<PendingRow> {
    let p = state.pending.as_ref()?;
    let (error_code, error_message) = match &p.error {
        Some(e) => (Some(e.code.clone()), Some(e.message.clone())),
        None => (None, None),
    };
    Some(PendingRow {
        vault: stream.vault.clone(),
        name_key: stream.name_key.clone(),
        name: p.name.clone(),
        request_id: p.request_id.clone(),
        issuer_name: p.policy.issuer.name.clone(),
        issuer_cty: p.policy.issuer.cty.clone(),
        issuer_ct: p.policy.issuer.cert_transparency,
        provider: p.provider.clone(),
        approval_required: p.approval_required,
        approved: p.approved,
        key_id: p.key_id.clone(),
        public_key: p.public_key.clone(),
        csr: p.csr.clone(),
        cancellation_requested: p.cancellation_requested,
        status: p.status,
        error_code,
        error_message,
        validity_months: i64::from(p.policy.x509_props.validity_months),
        target_version: p.target_version.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

/// Brings the row of `stream` from what `before` showed to what `after` shows.
pub async fn sync(
    conn: &mut Conn<'_>,
    stream: &StreamId,
    before: &CertificateState,
    after: &CertificateState,
) -> Result<(), sqlx::Error> {
    let (old, new) = (row(stream, before), row(stream, after));
    if old == new {
        return Ok(());
    }
    match new {
        Some(r) => insert(conn, std::slice::from_ref(&r), true).await,
        None => {
            on_conn!(conn, |c| sqlx::query(
                "DELETE FROM pending_operations WHERE vault = $1 AND name_key = $2"
            )
            .bind(&stream.vault)
            .bind(&stream.name_key)
            .execute(c)
            .await)?;
            Ok(())
        }
    }
}

/// Inserts rows (replacing rows with the same key when `upsert`).
pub async fn insert(
    conn: &mut Conn<'_>,
    rows: &[PendingRow],
    upsert: bool,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = if upsert {
        sql::upsert(TABLE, COLUMNS, KEY)
    } else {
        sql::insert_many(TABLE, COLUMNS, rows.len())
    };
    on_conn!(conn, |c| {
        let mut q = sqlx::query(&sql);
        for r in rows {
            q = bind_row!(q, r);
        }
        q.execute(c).await
    })?;
    Ok(())
}

/// The pending object of a certificate.
pub async fn get(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
) -> Result<Option<PendingRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, PendingRow>(
        "SELECT * FROM pending_operations WHERE vault = $1 AND name_key = $2"
    )
    .bind(vault)
    .bind(name_key)
    .fetch_optional(c)
    .await)
}

/// Requests that need a provider's action: in progress, backed by a provider, and either
/// free to issue (no approval needed, or approved) or with a cancellation to honour.
pub async fn awaiting_provider(
    conn: &mut Conn<'_>,
    limit: i64,
) -> Result<Vec<PendingRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, PendingRow>(
        r#"SELECT * FROM pending_operations
           WHERE status = 'inProgress' AND provider IS NOT NULL
             AND (approval_required = FALSE OR approved = TRUE OR cancellation_requested = TRUE)
           ORDER BY updated_at, vault, name_key LIMIT $1"#,
    )
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// Every row, in key order (for the rebuild's comparison).
pub async fn dump(conn: &mut Conn<'_>) -> Result<Vec<PendingRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, PendingRow>(
        "SELECT * FROM pending_operations ORDER BY vault, name_key"
    )
    .fetch_all(c)
    .await)
}
