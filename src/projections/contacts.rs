//! The `certificate_contacts` view: each vault's certificate contacts (Key Vault
//! `Contacts`), one row per vault that has some.

use sqlx::types::Json;

use super::sql;
use crate::domain::contacts::{Contact, ContactsState};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

pub(crate) const TABLE: &str = "certificate_contacts";
const KEY: &[&str] = &["vault"];
const COLUMNS: &[&str] = &["vault", "contacts", "updated"];

/// A row of `certificate_contacts`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ContactsRow {
    pub vault: String,
    pub contacts: Json<Vec<Contact>>,
    pub updated: i64,
}

/// The row a vault's contacts show, if it has some.
pub fn row(stream: &StreamId, state: &ContactsState) -> Option<ContactsRow> {
    Some(ContactsRow {
        vault: stream.vault.clone(),
        contacts: Json(state.contacts.clone()?),
        updated: state.updated,
    })
}

/// Brings the row of `stream` from what `before` showed to what `after` shows.
pub async fn sync(
    conn: &mut Conn<'_>,
    stream: &StreamId,
    before: &ContactsState,
    after: &ContactsState,
) -> Result<(), sqlx::Error> {
    let (old, new) = (row(stream, before), row(stream, after));
    if old == new {
        return Ok(());
    }
    match new {
        Some(r) => insert(conn, std::slice::from_ref(&r), true).await,
        None => {
            on_conn!(conn, |c| sqlx::query(
                "DELETE FROM certificate_contacts WHERE vault = $1"
            )
            .bind(&stream.vault)
            .execute(c)
            .await)?;
            Ok(())
        }
    }
}

/// Inserts rows (replacing rows with the same key when `upsert`).
pub async fn insert(
    conn: &mut Conn<'_>,
    rows: &[ContactsRow],
    upsert: bool,
) -> Result<(), sqlx::Error> {
    for r in rows {
        let sql = if upsert {
            sql::upsert(TABLE, COLUMNS, KEY)
        } else {
            sql::insert_many(TABLE, COLUMNS, 1)
        };
        on_conn!(conn, |c| sqlx::query(&sql)
            .bind(&r.vault)
            .bind(&r.contacts)
            .bind(r.updated)
            .execute(c)
            .await)?;
    }
    Ok(())
}

/// The vault's contacts, if it has some.
pub async fn get(conn: &mut Conn<'_>, vault: &str) -> Result<Option<Vec<Contact>>, sqlx::Error> {
    let row: Option<ContactsRow> = on_conn!(conn, |c| sqlx::query_as(
        "SELECT * FROM certificate_contacts WHERE vault = $1"
    )
    .bind(vault)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|r| r.contacts.0))
}

/// Every row, in key order (for the rebuild's comparison).
pub async fn dump(conn: &mut Conn<'_>) -> Result<Vec<ContactsRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, ContactsRow>(
        "SELECT * FROM certificate_contacts ORDER BY vault"
    )
    .fetch_all(c)
    .await)
}
