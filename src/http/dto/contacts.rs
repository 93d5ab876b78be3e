//! `Contacts` on the wire.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::contacts::Contact;

/// `Contacts` as sent.
#[derive(Debug, Default, Deserialize)]
pub struct ContactsRequest {
    pub contacts: Vec<Contact>,
}

/// `Contacts`.
pub fn contacts(base_url: &str, list: &[Contact]) -> Value {
    json!({
        "id": format!("{base_url}/certificates/contacts"),
        "contacts": list,
    })
}
