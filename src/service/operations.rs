//! Certificate operations (Key Vault `CertificateOperation`, the pending object): get,
//! cancel, delete, merge, and the officer's approve and reject; and the worker's
//! commands on a request (complete, fail, honour a cancellation, ACME steps, lifetime
//! actions), through the same pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::certificates::{
    version_record, version_record_of, view_after, CertificateView, Certificates,
};
use super::{blocking, Caller, Core, Result, ServiceError};
use crate::crypto;
use crate::domain::certificate::{
    mergeable, AcmeProgress, AcmeStep, CertificateCommand, CertificateState, MergeRequest,
};
use crate::domain::names::ObjectName;
use crate::domain::policy::ActionType;
use crate::domain::DomainError;
use crate::es::aggregate::Certificate;
use crate::es::cache::ReadCache;
use crate::es::storage::Storage;
use crate::es::{EventStore, StreamId};
use crate::projections::pending_operations::{self, PendingRow};

/// Pending objects by (vault, name key), as last read (`None`: there was none).
pub type PendingCache = ReadCache<(String, String), Option<PendingRow>>;

/// How many pending objects [`PendingCache`] holds.
const PENDING_CACHE_CAPACITY: usize = 4096;

/// A cache of pending objects for `es`, when it is the only writer of its database
/// (SQLite): other replicas' writes on PostgreSQL would not end this process's batches.
pub fn pending_cache(es: &EventStore) -> Option<Arc<PendingCache>> {
    matches!(es.storage(), Storage::Sqlite(_))
        .then(|| Arc::new(ReadCache::new(es.generation(), PENDING_CACHE_CAPACITY)))
}

/// The operations service.
#[derive(Clone)]
pub struct Operations(pub(crate) Arc<Core>);

/// The refusal for a certificate with no pending object (or another request id).
fn pending_not_found(name: &ObjectName) -> ServiceError {
    DomainError::PendingNotFound {
        name: name.to_string(),
    }
    .into()
}

/// Which pending object a command answers with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// As it was (`DeleteCertificateOperation`).
    Before,
    /// As it is now.
    After,
    /// As it is now, once the worker is woken: the command left it work (a cancellation to
    /// honour, an approved request to issue).
    AfterWakingWorker,
}

impl Operations {
    fn certificates(&self) -> Certificates {
        Certificates(self.0.clone())
    }

    /// Runs `command`; returns the pending object as `reply` says.
    async fn command(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: CertificateCommand,
        reply: Reply,
    ) -> Result<PendingRow> {
        let (stream, done) = self
            .certificates()
            .run(caller, name, command, None, vec![])
            .await?;
        if reply == Reply::AfterWakingWorker {
            self.0.wake.notify_one();
        }
        let state = if reply == Reply::Before {
            &done.before
        } else {
            &done.after
        };
        pending_operations::row(&stream, state).ok_or_else(|| pending_not_found(name))
    }

    /// `GetCertificateOperation` (`request_id`: a filter).
    pub async fn get(
        &self,
        vault: &str,
        name: &ObjectName,
        request_id: Option<&str>,
    ) -> Result<PendingRow> {
        let key = (vault.to_owned(), name.key());
        let cached = self.0.pending_cache.as_ref().and_then(|c| c.get(&key));
        let row = match cached {
            Some(row) => row,
            None => {
                let read_at = self.0.pending_cache.as_ref().map(|c| c.generation());
                let mut reader = self.0.reader().await?;
                let row = pending_operations::get(&mut reader.conn(), vault, &key.1).await?;
                if let (Some(cache), Some(at)) = (&self.0.pending_cache, read_at) {
                    cache.fill(key, at, row.clone());
                }
                row
            }
        };
        row.filter(|p| request_id.is_none_or(|r| r == p.request_id))
            .ok_or_else(|| pending_not_found(name))
    }

    /// `UpdateCertificateOperation` with `cancellation_requested: true`.
    pub async fn cancel(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
    ) -> Result<PendingRow> {
        let command = CertificateCommand::RequestCancellation { request_id };
        self.command(caller, name, command, Reply::AfterWakingWorker)
            .await
    }

    /// `DeleteCertificateOperation`: returns the pending object as it was.
    pub async fn delete(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
    ) -> Result<PendingRow> {
        let command = CertificateCommand::DeletePending { request_id };
        self.command(caller, name, command, Reply::Before).await
    }

    /// Officer approval of a request waiting for it.
    pub async fn approve(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
    ) -> Result<PendingRow> {
        let officer = caller.actor.clone();
        let command = CertificateCommand::Approve {
            request_id,
            officer,
        };
        self.command(caller, name, command, Reply::AfterWakingWorker)
            .await
    }

    /// Officer rejection: the request fails with `RequestRejected`.
    pub async fn reject(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
        reason: String,
    ) -> Result<PendingRow> {
        let officer = caller.actor.clone();
        let command = CertificateCommand::Reject {
            request_id,
            officer,
            reason,
        };
        self.command(caller, name, command, Reply::After).await
    }

    /// `MergeCertificate`: proves `x5c` against the pending key, then records the version.
    pub async fn merge(
        &self,
        caller: &Caller,
        name: &ObjectName,
        x5c: Vec<String>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<CertificateView> {
        let stream = StreamId::certificate(&caller.vault, name.as_str());
        let loaded = self.0.load::<Certificate>(&stream).await?;
        // What `decide` refuses whatever the chain, before any crypto on the input.
        let pending = mergeable(&loaded.state, name.as_str())?.clone();
        let public = STANDARD
            .decode(&pending.public_key)
            .map_err(|e| ServiceError::Internal(format!("stored public key: {e}")))?;
        let now = self.0.clock.now().timestamp();
        let key_id = pending.key_id.clone();
        let record = blocking("chain check", move || {
            // Each certificate decoded once: decoding dominates a merge's cost.
            let certs = crypto::chain::parse_x5c_certs(&x5c)?;
            let validity = crypto::chain::verify_merge_certs(&certs, &public, now)?;
            let chain = crypto::chain::to_ders(&certs)?;
            Ok(version_record_of(&key_id, &chain, validity))
        })
        .await?;
        let command = CertificateCommand::Merge(Box::new(MergeRequest {
            request_id: pending.request_id.clone(),
            certificate: record,
            enabled,
            tags,
        }));
        let (stream, done) = self
            .certificates()
            .run(caller, name, command, Some(loaded), vec![])
            .await?;
        view_after(&stream, name, &done, None)
    }

    /// Requests that need a provider's action (the worker's queue).
    pub async fn awaiting_provider(&self, limit: i64) -> Result<Vec<PendingRow>> {
        let mut reader = self.0.reader().await?;
        Ok(pending_operations::awaiting_provider(&mut reader.conn(), limit).await?)
    }

    /// A certificate's state (the worker reads a request's ACME progress and lifetime
    /// actions fired from it).
    pub async fn state(&self, vault: &str, name: &str) -> Result<CertificateState> {
        Ok(self
            .0
            .load::<Certificate>(&StreamId::certificate(vault, name))
            .await?
            .state)
    }

    /// The ACME progress of `request_id`, if it is the current request.
    pub async fn acme_progress(
        &self,
        vault: &str,
        name: &str,
        request_id: &str,
    ) -> Result<AcmeProgress> {
        Ok(self
            .state(vault, name)
            .await?
            .acme_progress()
            .filter(|a| a.request_id == request_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn worker(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: CertificateCommand,
    ) -> Result<()> {
        self.certificates()
            .run(caller, name, command, None, vec![])
            .await
            .map(|_| ())
    }

    /// Worker: a provider issued the certificate (chain leaf first).
    pub async fn complete_issuance(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
        chain: Vec<Vec<u8>>,
    ) -> Result<()> {
        let certificate = version_record("", &chain)?;
        self.worker(
            caller,
            name,
            CertificateCommand::CompleteIssuance {
                request_id,
                certificate,
            },
        )
        .await
    }

    /// Worker: the provider refused or failed.
    pub async fn fail_issuance(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
        message: String,
    ) -> Result<()> {
        self.worker(
            caller,
            name,
            CertificateCommand::FailIssuance {
                request_id,
                message,
            },
        )
        .await
    }

    /// Worker: honour a requested cancellation.
    pub async fn honour_cancellation(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
    ) -> Result<()> {
        self.worker(
            caller,
            name,
            CertificateCommand::HonourCancellation { request_id },
        )
        .await
    }

    /// Worker: one step of an ACME order (RFC 8555) for the pending request.
    pub async fn record_acme_step(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
        step: AcmeStep,
    ) -> Result<()> {
        self.worker(
            caller,
            name,
            CertificateCommand::RecordAcmeStep { request_id, step },
        )
        .await
    }

    /// Worker: a lifetime action fired for `version`.
    pub async fn record_lifetime_action(
        &self,
        caller: &Caller,
        name: &ObjectName,
        version: String,
        action: ActionType,
        expires: i64,
        contacts: Vec<String>,
    ) -> Result<()> {
        self.worker(
            caller,
            name,
            CertificateCommand::RecordLifetimeAction {
                version,
                action,
                expires,
                contacts,
            },
        )
        .await
    }
}
