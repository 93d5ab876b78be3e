//! The `pending_operations` view: each certificate's pending object (Key Vault
//! `CertificateOperation`), one row per certificate that has one.

use crate::domain::certificate::{CertificateState, OperationStatus};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

use super::row::view_table;

view_table! {
    /// A row of `pending_operations`.
    #[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
    struct PendingRow in "pending_operations", key: [vault, name_key], order: "vault, name_key" {
        vault: String,
        name_key: String,
        name: String,
        request_id: String,
        issuer_name: String,
        issuer_cty: Option<String>,
        issuer_ct: Option<bool>,
        provider: Option<String>,
        approval_required: bool,
        approved: bool,
        key_id: String,
        public_key: String,
        csr: String,
        cancellation_requested: bool,
        #[serde(serialize_with = "status_text")]
        status: OperationStatus,
        error_code: Option<String>,
        error_message: Option<String>,
        validity_months: i64,
        target_version: Option<String>,
        created_at: i64,
        updated_at: i64,
    }
}

fn status_text<S: serde::Serializer>(s: &OperationStatus, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
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

/// The pending object of a certificate.
pub async fn get(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
) -> Result<Option<PendingRow>, sqlx::Error> {
    super::sql::by_stream::<PendingRow>(conn, vault, name_key).await
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
