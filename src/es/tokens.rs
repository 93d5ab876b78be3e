//! Bearer tokens made from the CLI, kept beside the event store: only the SHA-256 of each
//! token is stored. Creating and revoking one also appends an audit record in the same
//! transaction, so token changes are in the hash chain. The caller owns the transaction.

use sqlx::{Row, SqliteConnection};

use super::audit;
use super::envelope::EventMeta;
use super::store::StoreError;
use crate::domain::audit::AuditEvent;

/// A stored token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The name and role of the active token whose SHA-256 (hex) is `sha256`.
pub async fn lookup(
    conn: &mut SqliteConnection,
    sha256: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT name, role FROM tokens WHERE sha256 = ?1 AND revoked_at IS NULL")
        .bind(sha256)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("name")?, r.try_get("role")?)))
        .transpose()
}

/// Stores a token's hash under `name` (which must be new) and records `TokenCreated`.
/// Returns false when the name is taken.
pub async fn create(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    role: &str,
    sha256: &str,
    meta: &EventMeta,
) -> Result<bool, StoreError> {
    let at = meta.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let done = sqlx::query(
        r#"INSERT INTO tokens (name, role, sha256, created_at) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT DO NOTHING"#,
    )
    .bind(name)
    .bind(role)
    .bind(sha256)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let event = AuditEvent::TokenCreated {
        name: name.to_owned(),
        role: role.to_owned(),
    };
    audit::append(conn, vault, None, event, meta).await?;
    Ok(true)
}

/// Revokes the active token `name` and records `TokenRevoked`. Returns false when no
/// active token has that name.
pub async fn revoke(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    meta: &EventMeta,
) -> Result<bool, StoreError> {
    let at = meta.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let done =
        sqlx::query("UPDATE tokens SET revoked_at = ?1 WHERE name = ?2 AND revoked_at IS NULL")
            .bind(at)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let event = AuditEvent::TokenRevoked {
        name: name.to_owned(),
    };
    audit::append(conn, vault, None, event, meta).await?;
    Ok(true)
}

/// Every token, by name.
pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<TokenRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, role, created_at, revoked_at FROM tokens ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}
