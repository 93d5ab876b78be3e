//! The `certificate_contacts` view: each vault's certificate contacts (Key Vault
//! `Contacts`), one row per vault that has some.

use sqlx::types::Json;

use super::row::view_table;
use crate::domain::contacts::{Contact, ContactsState};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

view_table! {
    /// A row of `certificate_contacts`.
    #[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
    struct ContactsRow in "certificate_contacts", key: [vault], order: "vault" {
        vault: String,
        contacts: Json<Vec<Contact>>,
        updated: i64,
    }
}

/// The row a vault's contacts show, if it has some.
pub fn row(stream: &StreamId, state: &ContactsState) -> Option<ContactsRow> {
    Some(ContactsRow {
        vault: stream.vault.clone(),
        contacts: Json(state.contacts.clone()?),
        updated: state.updated,
    })
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
