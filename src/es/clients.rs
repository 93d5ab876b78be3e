//! The `clients` table: OAuth clients made from the CLI, only the SHA-256 of their secret
//! stored. Creating and revoking one is a command (an audit record appended through
//! `execute`, with the table write as its effect), like tokens.

use super::credentials::{self, Credentials};
use super::storage::{on_conn, Conn};

/// A stored client, without its secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientRow {
    pub name: String,
    pub client_id: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// An active client's name, role and secret hash (hex), by its client id.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientSecretRow {
    pub name: String,
    pub role: String,
    pub secret_sha256: String,
}

/// The active client whose client id is `client_id`.
pub async fn by_client_id(
    conn: &mut Conn<'_>,
    client_id: &str,
) -> Result<Option<ClientSecretRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT name, role, secret_sha256 FROM clients
           WHERE client_id = $1 AND revoked_at IS NULL"#
    )
    .bind(client_id)
    .fetch_optional(c)
    .await)
}

/// Stores a client under `name`; false when the name (or client id) is taken.
pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    row: &ClientRow,
    secret_sha256: &str,
) -> Result<bool, sqlx::Error> {
    let columns = ["name", "client_id", "role", "secret_sha256", "created_at"];
    let values: [&str; 5] = [
        row.name.as_str(),
        &row.client_id,
        &row.role,
        secret_sha256,
        &row.created_at,
    ];
    credentials::insert(conn, Credentials::Clients, &columns, &values).await
}

/// Every client, by name.
pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<ClientRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, ClientRow>(
        "SELECT name, client_id, role, created_at, revoked_at FROM clients ORDER BY name"
    )
    .fetch_all(c)
    .await)
}
