//! Deleted certificates (Key Vault soft delete): list, get, recover, purge, and the
//! scheduled purge at the end of retention.

use std::sync::Arc;

use super::certificates::{view_after, CertificateView, Certificates};
use super::{Caller, Core, Result, ServiceError};
use crate::domain::certificate::CertificateCommand;
use crate::domain::names::ObjectName;
use crate::domain::DomainError;
use crate::projections::certificates::{self as view, ListedCertificate};

/// The most certificates one scheduled purge removes.
const PURGE_BATCH: i64 = 100;

/// The deleted-certificates service.
#[derive(Clone)]
pub struct Deleted(pub(crate) Arc<Core>);

/// The refusal for a name with no soft-deleted certificate.
fn deleted_not_found(name: &ObjectName) -> ServiceError {
    DomainError::DeletedCertificateNotFound {
        name: name.to_string(),
    }
    .into()
}

impl Deleted {
    fn certificates(&self) -> Certificates {
        Certificates(self.0.clone())
    }

    /// `GetDeletedCertificates` (and `GetDeletedSecrets`, `GetDeletedKeys`): a page after
    /// `after` (name key); `include_pending`: also those deleted before any version.
    pub async fn list(
        &self,
        vault: &str,
        include_pending: bool,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ListedCertificate>> {
        self.0
            .list_certificates(vault, true, include_pending, after, limit)
            .await
    }

    /// `GetDeletedCertificate`.
    pub async fn get(&self, vault: &str, name: &ObjectName) -> Result<ListedCertificate> {
        self.0
            .listed(vault, name, true)
            .await?
            .ok_or_else(|| deleted_not_found(name))
    }

    /// `RecoverDeletedCertificate`: the certificate as it is again.
    pub async fn recover(&self, caller: &Caller, name: &ObjectName) -> Result<CertificateView> {
        let (stream, done) = self
            .certificates()
            .run(caller, name, CertificateCommand::Recover, None, vec![])
            .await?;
        view_after(&stream, name, &done, None)
    }

    /// `PurgeDeletedCertificate` (or the worker's scheduled purge, `due_at`): the events
    /// stay; the views and the sealed keys go.
    pub async fn purge(
        &self,
        caller: &Caller,
        name: &ObjectName,
        due_at: Option<i64>,
    ) -> Result<()> {
        self.certificates()
            .run(
                caller,
                name,
                CertificateCommand::Purge { due_at },
                None,
                vec![],
            )
            .await
            .map(|_| ())
    }

    /// Purges deleted certificates past their scheduled purge date (all vaults), up to
    /// `PURGE_BATCH` a call (the worker calls again next round). Returns how many were
    /// purged.
    pub async fn purge_due(&self, actor: &str) -> Result<usize> {
        let now = self.0.clock.now().timestamp();
        let due = {
            let mut reader = self.0.reader().await?;
            view::due_for_purge(&mut reader.conn(), now, PURGE_BATCH).await?
        };
        let mut purged = 0;
        for (vault, name) in due {
            let caller = Caller::system(&vault, actor);
            let result = match ObjectName::parse("certificate", &name) {
                Ok(n) => self.purge(&caller, &n, Some(now)).await,
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(()) => purged += 1,
                Err(e) => tracing::warn!(certificate = %name, vault = %vault, error = %e,
                    "scheduled purge failed; will retry"),
            }
        }
        Ok(purged)
    }
}
