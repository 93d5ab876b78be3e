//! The `tokens` table: bearer tokens made from the CLI, only their SHA-256 stored. Creating
//! and revoking one is a command (an audit record appended through `execute`, with the
//! table write as its effect), so token changes are in the hash chain.

use super::credentials::{self, Credentials};
use super::storage::{on_conn, Conn};

/// A stored token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The name and role of the active token whose SHA-256 (hex) is `sha256`.
pub async fn lookup(
    conn: &mut Conn<'_>,
    sha256: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as(
        "SELECT name, role FROM tokens WHERE sha256 = $1 AND revoked_at IS NULL"
    )
    .bind(sha256)
    .fetch_optional(c)
    .await)
}

/// Stores a token's hash under `name`; false when the name is taken.
pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    name: &str,
    role: &str,
    sha256: &str,
    at: &str,
) -> Result<bool, sqlx::Error> {
    let columns = ["name", "role", "sha256", "created_at"];
    credentials::insert(
        conn,
        Credentials::Tokens,
        &columns,
        &[name, role, sha256, at],
    )
    .await
}

/// Every token, by name.
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<TokenRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, TokenRow>(
        "SELECT name, role, created_at, revoked_at FROM tokens ORDER BY name"
    )
    .fetch_all(c)
    .await)
}
