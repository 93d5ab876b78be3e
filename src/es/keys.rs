//! The `keys` table: private keys sealed under the master key (AES-256-GCM, the key id as
//! associated data), stored in the transaction of the command whose events name them and
//! erased when the certificate is purged. Not a view: the sealed bytes are in no event.

use super::storage::{on_conn, Conn};

/// A key sealed for storage.
#[derive(Clone)]
pub struct SealedKey {
    pub key_id: String,
    pub vault: String,
    /// SubjectPublicKeyInfo DER.
    pub public_der: Vec<u8>,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedKey({})", self.key_id)
    }
}

/// Stores a sealed key.
pub async fn insert(conn: &mut Conn<'_>, key: &SealedKey, at: &str) -> Result<(), sqlx::Error> {
    on_conn!(conn, |c| {
        sqlx::query(
        "INSERT INTO keys (key_id, vault, public_key, sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.key_id)
    .bind(&key.vault)
    .bind(&key.public_der)
    .bind(&key.sealed)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Erases a stored key (deleting a key that is gone already is a no-op).
pub async fn delete(conn: &mut Conn<'_>, key_id: &str) -> Result<(), sqlx::Error> {
    on_conn!(conn, |c| sqlx::query("DELETE FROM keys WHERE key_id = $1")
        .bind(key_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The sealed bytes of a stored key.
pub async fn sealed(conn: &mut Conn<'_>, key_id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT sealed FROM keys WHERE key_id = $1"
    )
    .bind(key_id)
    .fetch_optional(c)
    .await)
}

/// Records `check` (a fixed text sealed under the master key) as the database's seal check
/// unless one is recorded already, and returns the one recorded: the first writer's wins.
pub async fn seal_check(conn: &mut Conn<'_>, check: &str) -> Result<String, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query(
        r#"INSERT INTO meta (key, value) VALUES ('seal_check', $1)
           ON CONFLICT (key) DO NOTHING"#
    )
    .bind(check)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT value FROM meta WHERE key = 'seal_check'"
    )
    .fetch_one(c)
    .await)
}
