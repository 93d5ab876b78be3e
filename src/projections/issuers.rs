//! The `issuers` view: each vault's issuer objects.

use sqlx::SqliteConnection;

use crate::domain::issuer::IssuerEvent;
use crate::es::StoredEvent;

/// A row of `issuers`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssuerRow {
    pub vault: String,
    pub name_key: String,
    pub name: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub password_set: bool,
    pub org_details: Option<String>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
}

/// Projects one issuer event.
pub async fn apply(
    conn: &mut SqliteConnection,
    stored: &StoredEvent,
    event: &IssuerEvent,
) -> Result<(), sqlx::Error> {
    let vault = &stored.stream.vault;
    let key = &stored.stream.name_key;
    match event {
        IssuerEvent::IssuerSet {
            name,
            provider,
            account_id,
            password_set,
            org_details,
            enabled,
        } => {
            let org = org_details.as_ref().map(|o| o.to_string());
            sqlx::query(
                r#"INSERT INTO issuers (vault, name_key, name, provider, account_id, password_set,
                                       org_details, enabled, created, updated)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                   ON CONFLICT (vault, name_key) DO UPDATE
                   SET provider = excluded.provider, account_id = excluded.account_id,
                       password_set = excluded.password_set, org_details = excluded.org_details,
                       enabled = excluded.enabled, updated = excluded.updated"#,
            )
            .bind(vault)
            .bind(key)
            .bind(name)
            .bind(provider)
            .bind(account_id)
            .bind(password_set)
            .bind(org)
            .bind(enabled)
            .bind(stored.unix())
            .execute(&mut *conn)
            .await?;
        }
        IssuerEvent::IssuerDeleted { .. } => {
            sqlx::query("DELETE FROM issuers WHERE vault = ?1 AND name_key = ?2")
                .bind(vault)
                .bind(key)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// One issuer.
pub async fn get(
    conn: &mut SqliteConnection,
    vault: &str,
    name_key: &str,
) -> Result<Option<IssuerRow>, sqlx::Error> {
    sqlx::query_as::<_, IssuerRow>("SELECT * FROM issuers WHERE vault = ?1 AND name_key = ?2")
        .bind(vault)
        .bind(name_key)
        .fetch_optional(&mut *conn)
        .await
}

/// A page of a vault's issuers, by name, after `after_key`.
pub async fn list(
    conn: &mut SqliteConnection,
    vault: &str,
    after_key: &str,
    limit: i64,
) -> Result<Vec<IssuerRow>, sqlx::Error> {
    sqlx::query_as::<_, IssuerRow>(
        "SELECT * FROM issuers WHERE vault = ?1 AND name_key > ?2 ORDER BY name_key LIMIT ?3",
    )
    .bind(vault)
    .bind(after_key)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
