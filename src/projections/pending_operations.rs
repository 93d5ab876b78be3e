//! The `pending_operations` view: each certificate's pending object (S1-S11).

use sqlx::SqliteConnection;

use crate::domain::certificate::{rejection_error, CertificateEvent, OperationStatus};
use crate::es::StoredEvent;

/// A row of `pending_operations`.
#[derive(Debug, Clone, sqlx::FromRow)]
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
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub validity_months: i64,
    pub target_version: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
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
        CertificateEvent::PendingCreated {
            name,
            request_id,
            policy,
            provider,
            approval_required,
            key_id,
            public_key,
            csr,
            ..
        } => {
            sqlx::query(
                r#"INSERT OR REPLACE INTO pending_operations
                   (vault, name_key, name, request_id, issuer_name, issuer_cty, issuer_ct,
                    provider, approval_required, approved, key_id, public_key, csr,
                    cancellation_requested, status, error_code, error_message, validity_months,
                    target_version, created_at, updated_at)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, ?12, 0, ?13,
                           NULL, NULL, ?15, NULL, ?14, ?14)"#,
            )
            .bind(vault)
            .bind(key)
            .bind(name)
            .bind(request_id)
            .bind(&policy.issuer.name)
            .bind(&policy.issuer.cty)
            .bind(policy.issuer.cert_transparency)
            .bind(provider)
            .bind(approval_required)
            .bind(key_id)
            .bind(public_key)
            .bind(csr)
            .bind(OperationStatus::InProgress.as_str())
            .bind(at)
            .bind(policy.x509_props.validity_months)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::CancellationRequested { request_id } => {
            update(
                conn,
                vault,
                key,
                request_id,
                at,
                "cancellation_requested = 1",
            )
            .await?;
        }
        CertificateEvent::IssuanceApproved { request_id, .. } => {
            update(conn, vault, key, request_id, at, "approved = 1").await?;
        }
        CertificateEvent::IssuanceRejected { .. }
        | CertificateEvent::IssuanceFailed { .. }
        | CertificateEvent::IssuanceCancelled { .. } => {
            let (request_id, status, code, message) = match event {
                CertificateEvent::IssuanceRejected {
                    request_id,
                    officer,
                    reason,
                } => {
                    let error = rejection_error(officer, reason);
                    (
                        request_id,
                        OperationStatus::Failed,
                        error.code,
                        error.message,
                    )
                }
                CertificateEvent::IssuanceFailed { request_id, error } => (
                    request_id,
                    OperationStatus::Failed,
                    error.code.clone(),
                    error.message.clone(),
                ),
                CertificateEvent::IssuanceCancelled { request_id, error } => (
                    request_id,
                    OperationStatus::Cancelled,
                    error.code.clone(),
                    error.message.clone(),
                ),
                _ => return Ok(()),
            };
            sqlx::query(
                r#"UPDATE pending_operations
                   SET status = ?1, error_code = ?2, error_message = ?3, updated_at = ?4
                   WHERE vault = ?5 AND name_key = ?6 AND request_id = ?7"#,
            )
            .bind(status.as_str())
            .bind(code)
            .bind(message)
            .bind(at)
            .bind(vault)
            .bind(key)
            .bind(request_id)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::IssuanceCompleted {
            request_id,
            certificate,
        }
        | CertificateEvent::CertificateMerged {
            request_id,
            certificate,
        } => {
            sqlx::query(
                r#"UPDATE pending_operations
                   SET status = ?1, error_code = NULL, error_message = NULL,
                       target_version = ?2, updated_at = ?3
                   WHERE vault = ?4 AND name_key = ?5 AND request_id = ?6"#,
            )
            .bind(OperationStatus::Completed.as_str())
            .bind(&certificate.version)
            .bind(at)
            .bind(vault)
            .bind(key)
            .bind(request_id)
            .execute(&mut *conn)
            .await?;
        }
        CertificateEvent::PendingDeleted { request_id } => {
            sqlx::query(
                "DELETE FROM pending_operations WHERE vault = ?1 AND name_key = ?2 AND request_id = ?3",
            )
            .bind(vault)
            .bind(key)
            .bind(request_id)
            .execute(&mut *conn)
            .await?;
        } // Import, delete, purge and restore leave no pending object behind.
        CertificateEvent::CertificateImported { .. }
        | CertificateEvent::CertificateDeleted { .. }
        | CertificateEvent::CertificatePurged { .. }
        | CertificateEvent::CertificateRestored { .. } => {
            sqlx::query("DELETE FROM pending_operations WHERE vault = ?1 AND name_key = ?2")
                .bind(vault)
                .bind(key)
                .execute(&mut *conn)
                .await?;
        }
        CertificateEvent::VersionUpdated { .. }
        | CertificateEvent::PolicyUpdated { .. }
        | CertificateEvent::CertificateRecovered {}
        // ACME progress and lifetime actions change no field of the pending object.
        | CertificateEvent::AcmeAccountRegistered { .. }
        | CertificateEvent::AcmeOrderPlaced { .. }
        | CertificateEvent::AcmeAuthorizationValid { .. }
        | CertificateEvent::AcmeOrderFinalized { .. }
        | CertificateEvent::AcmeCertificateDownloaded { .. }
        | CertificateEvent::LifetimeActionTriggered { .. } => {}
    }
    Ok(())
}

async fn update(
    conn: &mut SqliteConnection,
    vault: &str,
    key: &str,
    request_id: &str,
    at: i64,
    set: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE pending_operations SET {set}, updated_at = ?1 WHERE vault = ?2 AND name_key = ?3 AND request_id = ?4"
    ))
    .bind(at)
    .bind(vault)
    .bind(key)
    .bind(request_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The pending object of a certificate.
pub async fn get(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
) -> Result<Option<PendingRow>, sqlx::Error> {
    sqlx::query_as::<_, PendingRow>(
        "SELECT * FROM pending_operations WHERE vault = ?1 AND name_key = ?2",
    )
    .bind(vault)
    .bind(name_key)
    .fetch_optional(&mut *conn)
    .await
}

/// Requests that need a provider's action: in progress, backed by a provider, and either
/// free to issue (no approval needed, or approved) or with a cancellation to honour.
pub async fn awaiting_provider(
    conn: &mut SqliteConnection,
    limit: i64,
) -> Result<Vec<PendingRow>, sqlx::Error> {
    sqlx::query_as::<_, PendingRow>(
        r#"SELECT * FROM pending_operations
           WHERE status = 'inProgress' AND provider IS NOT NULL
             AND (approval_required = 0 OR approved = 1 OR cancellation_requested = 1)
           ORDER BY updated_at, vault, name_key LIMIT ?1"#,
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
