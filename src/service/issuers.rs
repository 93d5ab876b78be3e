//! Issuer objects (Key Vault `IssuerBundle`): set (PUT), update (PATCH), delete, get, list.

use std::sync::Arc;

use super::{Caller, Core, Result, ServiceError};
use crate::domain::issuer::{IssuerChanges, IssuerCommand};
use crate::domain::names::ObjectName;
use crate::domain::DomainError;
use crate::es::aggregate::{Issuer, KnownProviders};
use crate::es::StreamId;
use crate::projections::issuers::{self as view, IssuerRow};

/// The issuers service.
#[derive(Clone)]
pub struct Issuers(pub(crate) Arc<Core>);

/// The refusal for a name with no issuer object.
fn issuer_not_found(name: &ObjectName) -> ServiceError {
    DomainError::IssuerNotFound {
        name: name.to_string(),
    }
    .into()
}

impl Issuers {
    /// Runs `command`; returns the issuer before (`before = true`) or after it.
    async fn run(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: IssuerCommand,
        before: bool,
    ) -> Result<IssuerRow> {
        let stream = StreamId::issuer(&caller.vault, name.as_str());
        let known = Arc::new(KnownProviders(self.0.providers.names()));
        let done = self
            .0
            .execute::<Issuer>(
                caller,
                stream.clone(),
                name.as_str(),
                command,
                None,
                vec![],
                known,
            )
            .await?;
        let state = if before { &done.before } else { &done.after };
        view::row(&stream, state).ok_or_else(|| issuer_not_found(name))
    }

    /// `SetCertificateIssuer` (PUT, `replace`) or `UpdateCertificateIssuer` (PATCH).
    pub async fn set(
        &self,
        caller: &Caller,
        name: &ObjectName,
        changes: IssuerChanges,
        replace: bool,
    ) -> Result<IssuerRow> {
        let name_s = name.to_string();
        let command = if replace {
            IssuerCommand::Set {
                name: name_s,
                changes,
            }
        } else {
            IssuerCommand::Update {
                name: name_s,
                changes,
            }
        };
        self.run(caller, name, command, false).await
    }

    /// `DeleteCertificateIssuer`: the issuer as it was.
    pub async fn delete(&self, caller: &Caller, name: &ObjectName) -> Result<IssuerRow> {
        let command = IssuerCommand::Delete {
            name: name.to_string(),
        };
        self.run(caller, name, command, true).await
    }

    /// `GetCertificateIssuer`.
    pub async fn get(&self, vault: &str, name: &ObjectName) -> Result<IssuerRow> {
        let mut reader = self.0.reader().await?;
        view::get(&mut reader.conn(), vault, &name.key())
            .await?
            .ok_or_else(|| issuer_not_found(name))
    }

    /// `GetCertificateIssuers`: a page after `after_key`.
    pub async fn list(&self, vault: &str, after_key: &str, limit: i64) -> Result<Vec<IssuerRow>> {
        let mut reader = self.0.reader().await?;
        Ok(view::list(&mut reader.conn(), vault, after_key, limit).await?)
    }
}
