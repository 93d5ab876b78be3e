//! The `issuers` view: each vault's issuer objects (Key Vault `IssuerBundle`).

use sqlx::types::Json;

use super::row::view_table;
use crate::domain::issuer::IssuerState;
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

view_table! {
    /// A row of `issuers`.
    #[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
    struct IssuerRow in "issuers", key: [vault, name_key], order: "vault, name_key" {
        vault: String,
        name_key: String,
        name: String,
        provider: String,
        account_id: Option<String>,
        password_set: bool,
        org_details: Option<Json<serde_json::Value>>,
        enabled: bool,
        created: i64,
        updated: i64,
    }
}

/// The row an issuer's state shows, if it exists.
pub fn row(stream: &StreamId, state: &IssuerState) -> Option<IssuerRow> {
    let i = state.issuer.as_ref()?;
    Some(IssuerRow {
        vault: stream.vault.clone(),
        name_key: stream.name_key.clone(),
        name: i.name.clone(),
        provider: i.provider.clone(),
        account_id: i.account_id.clone(),
        password_set: i.password_set,
        org_details: i.org_details.clone().map(Json),
        enabled: i.enabled,
        created: state.created,
        updated: state.updated,
    })
}

/// One issuer.
pub async fn get(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
) -> Result<Option<IssuerRow>, sqlx::Error> {
    super::sql::by_stream::<IssuerRow>(conn, vault, name_key).await
}

/// A page of a vault's issuers, by name, after `after_key`.
pub async fn list(
    conn: &mut Conn<'_>,
    vault: &str,
    after_key: &str,
    limit: i64,
) -> Result<Vec<IssuerRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, IssuerRow>(
        "SELECT * FROM issuers WHERE vault = $1 AND name_key > $2 ORDER BY name_key LIMIT $3"
    )
    .bind(vault)
    .bind(after_key)
    .bind(limit)
    .fetch_all(c)
    .await)
}
