//! The `pending_operations` view: each certificate's pending object (Key Vault
//! `CertificateOperation`), one row per certificate that has one.

use crate::domain::certificate::{CertificateState, OperationStatus};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

use super::sql::{Table, Val};

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

impl Table for PendingRow {
    const NAME: &'static str = "pending_operations";
    const KEY: &'static [&'static str] = &["vault", "name_key"];
    const COLUMNS: &'static [&'static str] = &[
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
    const ORDER: &'static str = "vault, name_key";

    fn values(&self) -> Result<Vec<Val<'_>>, sqlx::Error> {
        Ok(vec![
            Val::Text(&self.vault),
            Val::Text(&self.name_key),
            Val::Text(&self.name),
            Val::Text(&self.request_id),
            Val::Text(&self.issuer_name),
            Val::OptText(self.issuer_cty.as_deref()),
            Val::OptBool(self.issuer_ct),
            Val::OptText(self.provider.as_deref()),
            Val::Bool(self.approval_required),
            Val::Bool(self.approved),
            Val::Text(&self.key_id),
            Val::Text(&self.public_key),
            Val::Text(&self.csr),
            Val::Bool(self.cancellation_requested),
            Val::Text(self.status.as_str()),
            Val::OptText(self.error_code.as_deref()),
            Val::OptText(self.error_message.as_deref()),
            Val::Int(self.validity_months),
            Val::OptText(self.target_version.as_deref()),
            Val::Int(self.created_at),
            Val::Int(self.updated_at),
        ])
    }
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
