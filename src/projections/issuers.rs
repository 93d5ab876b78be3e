//! The `issuers` view: each vault's issuer objects (Key Vault `IssuerBundle`).

use sqlx::types::Json;

use super::sql;
use crate::domain::issuer::IssuerState;
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

pub(crate) const TABLE: &str = "issuers";
const KEY: &[&str] = &["vault", "name_key"];
const COLUMNS: &[&str] = &[
    "vault",
    "name_key",
    "name",
    "provider",
    "account_id",
    "password_set",
    "org_details",
    "enabled",
    "created",
    "updated",
];

/// A row of `issuers`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct IssuerRow {
    pub vault: String,
    pub name_key: String,
    pub name: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub password_set: bool,
    pub org_details: Option<Json<serde_json::Value>>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
}

macro_rules! bind_row {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.vault)
            .bind(&$r.name_key)
            .bind(&$r.name)
            .bind(&$r.provider)
            .bind(&$r.account_id)
            .bind($r.password_set)
            .bind(&$r.org_details)
            .bind($r.enabled)
            .bind($r.created)
            .bind($r.updated)
    };
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

/// Brings the row of `stream` from what `before` showed to what `after` shows.
pub async fn sync(
    conn: &mut Conn<'_>,
    stream: &StreamId,
    before: &IssuerState,
    after: &IssuerState,
) -> Result<(), sqlx::Error> {
    let (old, new) = (row(stream, before), row(stream, after));
    if old == new {
        return Ok(());
    }
    match new {
        Some(r) => insert(conn, std::slice::from_ref(&r), true).await,
        None => {
            on_conn!(conn, |c| sqlx::query(
                "DELETE FROM issuers WHERE vault = $1 AND name_key = $2"
            )
            .bind(&stream.vault)
            .bind(&stream.name_key)
            .execute(c)
            .await)?;
            Ok(())
        }
    }
}

/// Inserts rows (replacing rows with the same key when `upsert`).
pub async fn insert(
    conn: &mut Conn<'_>,
    rows: &[IssuerRow],
    upsert: bool,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(if upsert { 1 } else { 64 }) {
        let sql = if upsert {
            sql::upsert(TABLE, COLUMNS, KEY)
        } else {
            sql::insert_many(TABLE, COLUMNS, chunk.len())
        };
        on_conn!(conn, |c| {
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = bind_row!(q, r);
            }
            q.execute(c).await
        })?;
    }
    Ok(())
}

/// One issuer.
pub async fn get(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
) -> Result<Option<IssuerRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, IssuerRow>(
        "SELECT * FROM issuers WHERE vault = $1 AND name_key = $2"
    )
    .bind(vault)
    .bind(name_key)
    .fetch_optional(c)
    .await)
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

/// Every row, in key order (for the rebuild's comparison).
pub async fn dump(conn: &mut Conn<'_>) -> Result<Vec<IssuerRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, IssuerRow>(
        "SELECT * FROM issuers ORDER BY vault, name_key"
    )
    .fetch_all(c)
    .await)
}
