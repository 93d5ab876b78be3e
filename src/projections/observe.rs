//! Read-only queries over the views for the people who run certbroker: the gauges of
//! `GET /metrics`, the operator console's lists (`GET /ops/pending`, `GET /ops/certificates`)
//! and the readiness check's queries. Nothing here writes, and nothing here is part of the
//! write path: every query runs on a reader connection, except the readiness check's
//! `probe`, which the writer runs to show it holds the write lock.

use crate::es::storage::{on_conn, Conn, Session};

/// Operations counted by status and provider.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingCount {
    pub status: String,
    pub provider: Option<String>,
    pub count: i64,
}

/// The current version's expiry of one live certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateExpiry {
    pub vault: String,
    pub name: String,
    pub exp: i64,
}

/// What `GET /metrics` reads from the views at scrape time.
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    pub pending: Vec<PendingCount>,
    pub queue_depth: i64,
    pub awaiting_approval: i64,
    pub expiries: Vec<CertificateExpiry>,
    pub head_position: i64,
}

/// Reads every scrape-time gauge in one read transaction (one consistent snapshot).
pub async fn metrics_snapshot(session: &mut impl Session) -> Result<MetricsSnapshot, sqlx::Error> {
    session.begin_read().await?;
    let out = snapshot_in(&mut session.conn()).await;
    let _ = session.exec("ROLLBACK").await;
    out
}

async fn snapshot_in(conn: &mut Conn<'_>) -> Result<MetricsSnapshot, sqlx::Error> {
    let pending = on_conn!(conn, |c| sqlx::query_as::<_, PendingCount>(
        r#"SELECT status, provider, COUNT(*) AS count
             FROM pending_operations
            GROUP BY status, provider
            ORDER BY status, provider"#,
    )
    .fetch_all(c)
    .await)?;
    // The same predicate as the worker's `pending_operations::awaiting_provider`.
    let queue_depth: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        r#"SELECT COUNT(*) FROM pending_operations
            WHERE status = 'inProgress' AND provider IS NOT NULL
              AND (NOT approval_required OR approved OR cancellation_requested)"#,
    )
    .fetch_one(c)
    .await)?;
    let awaiting_approval: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        r#"SELECT COUNT(*) FROM pending_operations
            WHERE status = 'inProgress' AND approval_required AND NOT approved
              AND NOT cancellation_requested"#,
    )
    .fetch_one(c)
    .await)?;
    let expiries = super::certificates::live_current(conn, "c.vault, c.name, v.exp").await?;
    let head_position: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), 0) FROM events"
    )
    .fetch_one(c)
    .await)?;
    Ok(MetricsSnapshot {
        pending,
        queue_depth,
        awaiting_approval,
        expiries,
        head_position,
    })
}

/// One certificate's latest operation, for the console.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingItem {
    pub name: String,
    pub request_id: String,
    pub issuer: String,
    pub provider: Option<String>,
    pub status: String,
    pub approval_required: bool,
    pub approved: bool,
    pub cancellation_requested: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

/// The latest operation of every certificate of `vault` (only those with `status` when
/// given), oldest first.
pub async fn pending_items(
    conn: &mut Conn<'_>,
    vault: &str,
    status: Option<&str>,
) -> Result<Vec<PendingItem>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, PendingItem>(
        r#"SELECT name, request_id, issuer_name AS issuer, provider, status, approval_required,
                  approved, cancellation_requested, error_code, error_message,
                  created_at AS created, updated_at AS updated
             FROM pending_operations
            WHERE vault = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2)
            ORDER BY created_at, name_key"#,
    )
    .bind(vault)
    .bind(status)
    .fetch_all(c)
    .await)
}

/// One live certificate of a vault, for the console.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateItem {
    pub name: String,
    /// The policy's issuer name (`Self`, `Unknown` or an issuer object).
    pub issuer: Option<String>,
    pub current_version: Option<String>,
    /// The current version's validity (Unix seconds); absent while none is issued.
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub enabled: Option<bool>,
    pub versions: i64,
}

/// Every live (not deleted) certificate of `vault`, soonest expiry first, those without a
/// version last.
pub async fn certificate_items(
    conn: &mut Conn<'_>,
    vault: &str,
) -> Result<Vec<CertificateItem>, sqlx::Error> {
    let issuer = conn.json_text("c.policy", &["issuer", "name"]);
    let sql = format!(
        r#"SELECT c.name,
                  {issuer} AS issuer,
                  c.current_version,
                  v.nbf, v.exp, v.enabled,
                  (SELECT COUNT(*) FROM certificate_versions n
                    WHERE n.vault = c.vault AND n.name_key = c.name_key) AS versions
             FROM certificates c
             LEFT JOIN certificate_versions v
               ON v.vault = c.vault AND v.name_key = c.name_key AND v.version = c.current_version
            WHERE c.vault = $1 AND c.deleted_date IS NULL
            ORDER BY v.exp IS NULL, v.exp, c.name_key"#
    );
    on_conn!(conn, |c| sqlx::query_as::<_, CertificateItem>(&sql)
        .bind(vault)
        .fetch_all(c)
        .await)
}

/// The highest migration applied successfully, and whether any failed (a dirty database).
pub async fn migration_state(conn: &mut Conn<'_>) -> Result<(i64, bool), sqlx::Error> {
    let applied: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(c)
    .await)?;
    let failed: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM _sqlx_migrations WHERE NOT success"
    )
    .fetch_one(c)
    .await)?;
    Ok((applied, failed > 0))
}

/// A statement that touches nothing: run by the writer, it proves the writer took the
/// write lock and answers.
pub async fn probe(conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
    on_conn!(conn, |c| sqlx::query("SELECT 1")
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .map(|_| ())
}

/// Walks the whole events hash chain in one read transaction (a consistent snapshot while
/// the writer keeps appending), as `certbroker verify` does.
pub async fn verify_chain(
    session: &mut impl Session,
    expect_head: Option<&str>,
) -> Result<crate::es::chain::Verification, sqlx::Error> {
    use crate::es::chain;
    session.begin_read().await?;
    let v = chain::verify(session, chain::Range::default(), expect_head).await;
    let _ = session.exec("ROLLBACK").await;
    v
}
