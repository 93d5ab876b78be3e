//! The vault's certificate contacts (Key Vault `Contacts`): get, set, delete.

use std::sync::Arc;

use super::{Caller, Core, Result};
use crate::domain::contacts::{Contact, ContactsCommand};
use crate::domain::DomainError;
use crate::es::aggregate;
use crate::es::StreamId;
use crate::projections::contacts as view;

/// The contacts service.
#[derive(Clone)]
pub struct Contacts(pub(crate) Arc<Core>);

impl Contacts {
    /// `GetCertificateContacts`.
    pub async fn get(&self, vault: &str) -> Result<Vec<Contact>> {
        self.find(vault)
            .await?
            .ok_or_else(|| DomainError::ContactsNotFound.into())
    }

    /// The vault's contacts, if it has some.
    pub async fn find(&self, vault: &str) -> Result<Option<Vec<Contact>>> {
        let mut reader = self.0.reader().await?;
        Ok(view::get(&mut reader.conn(), vault).await?)
    }

    /// `SetCertificateContacts` / `DeleteCertificateContacts`: the list set, or the one
    /// deleted.
    pub async fn command(&self, caller: &Caller, command: ContactsCommand) -> Result<Vec<Contact>> {
        let stream = StreamId::contacts(&caller.vault);
        let done = self
            .0
            .execute::<aggregate::Contacts>(
                caller,
                stream,
                "contacts",
                command,
                None,
                vec![],
                Arc::new(()),
            )
            .await?;
        Ok(done
            .after
            .contacts
            .or(done.before.contacts)
            .unwrap_or_default())
    }
}
