//! What the `tokens` and `clients` tables share: rows named by their owner, active until
//! revoked (only a SHA-256 of each secret is kept). Which table is a [`Credentials`] kind.

use super::storage::{on_conn, Conn};

/// The table of one kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Bearer tokens (`certbroker token create`).
    Tokens,
    /// OAuth clients (`certbroker client create`).
    Clients,
}

impl Credentials {
    /// What one row is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Credentials::Tokens => "token",
            Credentials::Clients => "client",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Credentials::Tokens => "tokens",
            Credentials::Clients => "clients",
        }
    }
}

/// The role of the active credential `name` (JWTs minted for it name it).
pub async fn active_role(
    conn: &mut Conn<'_>,
    kind: Credentials,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    let sql = format!(
        "SELECT role FROM {} WHERE name = $1 AND revoked_at IS NULL",
        kind.table()
    );
    on_conn!(conn, |c| sqlx::query_scalar(&sql)
        .bind(name)
        .fetch_optional(c)
        .await)
}

/// Stores a credential of `kind`, its text `values` in `columns`; false when the name (or
/// another unique column) is taken.
pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    kind: Credentials,
    columns: &[&str],
    values: &[&str],
) -> Result<bool, sqlx::Error> {
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        kind.table(),
        columns.join(", "),
        marks.join(", ")
    );
    let done = on_conn!(conn, |c| {
        let mut q = sqlx::query(&sql);
        for v in values {
            q = q.bind(*v);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(done > 0)
}

/// Revokes the active credential `name`; false when no active one has that name.
pub(crate) async fn revoke(
    conn: &mut Conn<'_>,
    kind: Credentials,
    name: &str,
    at: &str,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        kind.table()
    );
    let done = on_conn!(conn, |c| sqlx::query(&sql)
        .bind(at)
        .bind(name)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}
