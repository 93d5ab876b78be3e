//! The `certificate_contacts` view: each vault's contacts list, as JSON.

use sqlx::SqliteConnection;

use crate::domain::contacts::{Contact, ContactsEvent};
use crate::es::StoredEvent;

/// Projects one contacts event.
pub async fn apply(
    conn: &mut SqliteConnection,
    stored: &StoredEvent,
    event: &ContactsEvent,
) -> Result<(), sqlx::Error> {
    let vault = &stored.stream.vault;
    match event {
        ContactsEvent::ContactsSet { contacts } => {
            let json = serde_json::to_string(contacts).unwrap_or_default();
            sqlx::query(
                r#"INSERT INTO certificate_contacts (vault, contacts, updated) VALUES (?1, ?2, ?3)
                   ON CONFLICT (vault) DO UPDATE
                   SET contacts = excluded.contacts, updated = excluded.updated"#,
            )
            .bind(vault)
            .bind(json)
            .bind(stored.unix())
            .execute(&mut *conn)
            .await?;
        }
        ContactsEvent::ContactsDeleted {} => {
            sqlx::query("DELETE FROM certificate_contacts WHERE vault = ?1")
                .bind(vault)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// The contacts of `vault`, if it has any.
pub async fn get(
    conn: &mut SqliteConnection,
    vault: &str,
) -> Result<Option<Vec<Contact>>, sqlx::Error> {
    let row: Option<String> =
        sqlx::query_scalar("SELECT contacts FROM certificate_contacts WHERE vault = ?1")
            .bind(vault)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|j| serde_json::from_str(&j).unwrap_or_default()))
}
