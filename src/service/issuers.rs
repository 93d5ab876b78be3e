//! Issuer commands (`SetCertificateIssuer`, `UpdateCertificateIssuer`,
//! `DeleteCertificateIssuer`) and reads.

use std::sync::Arc;

use super::certificates::Caller;
use super::{flatten, ServiceError, Shared};
use crate::domain::issuer::{decide, IssuerChanges, IssuerCommand, IssuerEvent, IssuerState};
use crate::domain::names::ObjectName;
use crate::domain::DomainError;
use crate::es::store;
use crate::es::{DomainEvent, StreamId};
use crate::projections::{self, issuers::IssuerRow};

/// Issuer commands and reads.
#[derive(Clone)]
pub struct IssuerService {
    shared: Shared,
    providers: Arc<Vec<String>>,
}

impl IssuerService {
    /// A service accepting the given provider names.
    pub fn new(shared: Shared, providers: Vec<String>) -> Self {
        IssuerService {
            shared,
            providers: Arc::new(providers),
        }
    }

    /// PUT (`replace = true`) or PATCH an issuer; returns it as stored.
    pub async fn set(
        &self,
        caller: &Caller,
        name: &ObjectName,
        changes: IssuerChanges,
        replace: bool,
    ) -> Result<IssuerRow, ServiceError> {
        let command = if replace {
            IssuerCommand::Set {
                name: name.to_string(),
                changes,
            }
        } else {
            IssuerCommand::Update {
                name: name.to_string(),
                changes,
            }
        };
        let row = self.run(caller, name, command, false).await?;
        row.ok_or_else(|| ServiceError::Internal("issuer missing after write".into()))
    }

    /// DELETE an issuer; returns it as it was.
    pub async fn delete(
        &self,
        caller: &Caller,
        name: &ObjectName,
    ) -> Result<IssuerRow, ServiceError> {
        let row = self
            .run(
                caller,
                name,
                IssuerCommand::Delete {
                    name: name.to_string(),
                },
                true,
            )
            .await?;
        row.ok_or_else(|| {
            DomainError::IssuerNotFound {
                name: name.to_string(),
            }
            .into()
        })
    }

    async fn run(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: IssuerCommand,
        before: bool,
    ) -> Result<Option<IssuerRow>, ServiceError> {
        let vault = caller.vault.clone();
        let key = name.key();
        let meta = crate::es::EventMeta {
            actor: caller.actor.clone(),
            client_request_id: caller.client_request_id.clone(),
            remote_addr: caller.remote_addr.clone(),
            at: self.shared.clock.now(),
        };
        let providers = self.providers.clone();
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let stream = StreamId::issuer(&vault, &key);
                    let loaded = store::load::<IssuerEvent>(conn, &stream).await?;
                    let mut state = IssuerState::default();
                    for e in &loaded.events {
                        state.apply(e);
                    }
                    let prior = projections::issuers::get(conn, &vault, &key).await?;
                    let events = decide(&state, command, &providers)?;
                    let stored =
                        store::append(conn, &stream, loaded.version, &events, &meta, |e| {
                            DomainEvent::Issuer(e.clone())
                        })
                        .await?;
                    for s in &stored {
                        projections::apply(conn, s).await?;
                    }
                    if before {
                        Ok::<_, ServiceError>(prior)
                    } else {
                        Ok(projections::issuers::get(conn, &vault, &key).await?)
                    }
                })
            })
            .await;
        flatten(out)
    }

    /// `GetCertificateIssuer`.
    pub async fn get(&self, vault: &str, name: &ObjectName) -> Result<IssuerRow, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        projections::issuers::get(&mut conn, vault, &name.key())
            .await?
            .ok_or_else(|| {
                DomainError::IssuerNotFound {
                    name: name.to_string(),
                }
                .into()
            })
    }

    /// `GetCertificateIssuers`: a page after `after_key`.
    pub async fn list(
        &self,
        vault: &str,
        after_key: &str,
        limit: i64,
    ) -> Result<Vec<IssuerRow>, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        Ok(projections::issuers::list(&mut conn, vault, after_key, limit).await?)
    }
}
