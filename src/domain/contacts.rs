//! The vault's certificate contacts (Key Vault `Contacts`): one stream per vault.

use serde::{Deserialize, Serialize};

use super::error::DomainError;

/// One contact (Key Vault `Contact`): all fields optional on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Events of the contacts stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Stored as the `event_type` column beside the variant's fields (`es::store::encode`):
// serde's external tag is what lets a payload decode straight into its variant.
pub enum ContactsEvent {
    /// `SetCertificateContacts`: the full list now in force.
    ContactsSet { contacts: Vec<Contact> },
    /// `DeleteCertificateContacts`.
    ContactsDeleted {},
}

/// The contacts in force and when they were last set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactsState {
    pub contacts: Option<Vec<Contact>>,
    /// Unix seconds.
    pub updated: i64,
}

impl ContactsState {
    /// Records one event recorded at `at` (Unix seconds).
    pub fn apply(&mut self, event: &ContactsEvent, at: i64) {
        match event {
            ContactsEvent::ContactsSet { contacts } => {
                self.contacts = Some(contacts.clone());
                self.updated = at;
            }
            ContactsEvent::ContactsDeleted {} => *self = ContactsState::default(),
        }
    }
}

/// Commands on the contacts stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactsCommand {
    /// PUT `/certificates/contacts`.
    Set(Vec<Contact>),
    /// DELETE `/certificates/contacts`.
    Delete,
}

/// Decides a contacts command: each contact needs an email address (Key Vault sends mail).
pub fn decide(
    state: &ContactsState,
    command: ContactsCommand,
) -> Result<Vec<ContactsEvent>, DomainError> {
    let current = state.contacts.as_deref();
    match command {
        ContactsCommand::Set(contacts) => {
            for (i, c) in contacts.iter().enumerate() {
                let email = c.email.as_deref().unwrap_or_default();
                if !email.contains('@') || email.len() > 254 {
                    return Err(DomainError::BadParameter(format!(
                        "contacts[{i}].email must be an email address."
                    )));
                }
            }
            Ok(vec![ContactsEvent::ContactsSet { contacts }])
        }
        ContactsCommand::Delete => match current {
            Some(_) => Ok(vec![ContactsEvent::ContactsDeleted {}]),
            None => Err(DomainError::ContactsNotFound),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contacts in force, folded from events.
    fn current(events: &[ContactsEvent]) -> Option<Vec<Contact>> {
        let mut state = ContactsState::default();
        for e in events {
            state.apply(e, 0);
        }
        state.contacts
    }

    #[test]
    fn contacts_need_an_email_and_delete_needs_contacts() {
        let c = |e: &str| Contact {
            email: Some(e.into()),
            name: None,
            phone: None,
        };
        let none = ContactsState::default();
        assert!(decide(&none, ContactsCommand::Set(vec![c("a@b.example")])).is_ok());
        assert!(decide(&none, ContactsCommand::Set(vec![c("nope")])).is_err());
        assert_eq!(
            decide(&none, ContactsCommand::Delete),
            Err(DomainError::ContactsNotFound)
        );
        let set = vec![ContactsEvent::ContactsSet {
            contacts: vec![c("a@b.example")],
        }];
        assert_eq!(current(&set).map(|v| v.len()), Some(1));
    }
}
