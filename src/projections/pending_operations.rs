//! The `pending_operations` view: each certificate's pending object (Key Vault
//! `CertificateOperation`), one row per certificate that has one.

use sqlx::types::Json;

use crate::domain::certificate::{CertificateState, OperationStatus};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

use super::sql::{self, Table, Val};

/// A view row's field as the value its column binds: each field's type says how.
pub(super) trait Column {
    fn val(&self) -> Result<Val<'_>, sqlx::Error>;
}

impl Column for String {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Text(self))
    }
}

impl Column for Option<String> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::OptText(self.as_deref()))
    }
}

impl Column for i64 {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Int(*self))
    }
}

impl Column for Option<i64> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::OptInt(*self))
    }
}

impl Column for bool {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Bool(*self))
    }
}

impl Column for Option<bool> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::OptBool(*self))
    }
}

impl<T: serde::Serialize> Column for Json<T> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        sql::json(&self.0)
    }
}

impl<T: serde::Serialize> Column for Option<Json<T>> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        match self {
            Some(j) => sql::json(&j.0),
            None => Ok(Val::OptJson(None)),
        }
    }
}

impl Column for OperationStatus {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Text(self.as_str()))
    }
}

/// The [`Table`] of a view row, from its columns named once, in order (the key first): each
/// binds its field of the same name, as the field's type says ([`Column`]).
macro_rules! view_table {
    (
        $row:ident in $name:literal, key: [$($key:ident),+], order: $order:literal,
        columns: [$($col:ident),+ $(,)?]
    ) => {
        impl super::sql::Table for $row {
            const NAME: &'static str = $name;
            const KEY: &'static [&'static str] = &[$(stringify!($key)),+];
            const COLUMNS: &'static [&'static str] = &[$(stringify!($col)),+];
            const ORDER: &'static str = $order;

            fn values(&self) -> Result<Vec<super::sql::Val<'_>>, sqlx::Error> {
                use super::pending_operations::Column as _;
                Ok(vec![$(self.$col.val()?),+])
            }
        }
    };
}
pub(super) use view_table;

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

view_table!(PendingRow in "pending_operations", key: [vault, name_key], order: "vault, name_key",
    columns: [vault, name_key, name, request_id, issuer_name, issuer_cty, issuer_ct, provider,
        approval_required, approved, key_id, public_key, csr, cancellation_requested, status,
        error_code, error_message, validity_months, target_version, created_at, updated_at]);

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
    by_stream::<PendingRow>(conn, vault, name_key).await
}

/// The row of `T`'s view that one stream shows (the views with a row a stream read their
/// row alike: by vault and name key).
pub(super) async fn by_stream<T: Table>(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
) -> Result<Option<T>, sqlx::Error> {
    let sql = super::sql::by_stream_sql::<T>(conn.engine());
    on_conn!(conn, |c| sqlx::query_as::<_, T>(sql)
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
