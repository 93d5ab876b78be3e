//! State folded from certificate events. `apply` records facts; it never validates.

use std::collections::BTreeMap;

use super::event::{CertificateEvent, OperationError};

use crate::domain::policy::{IssuerKind, Policy};

/// The four states of a pending object (S1-S5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl OperationStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::InProgress => "inProgress",
            OperationStatus::Completed => "completed",
            OperationStatus::Failed => "failed",
            OperationStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inProgress" => Some(OperationStatus::InProgress),
            "completed" => Some(OperationStatus::Completed),
            "failed" => Some(OperationStatus::Failed),
            "cancelled" => Some(OperationStatus::Cancelled),
            _ => None,
        }
    }
}

/// The pending object ("certificate operation") of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOperation {
    pub request_id: String,
    pub policy: Policy,
    pub provider: Option<String>,
    pub approval_required: bool,
    pub approved: bool,
    pub key_id: String,
    pub public_key: String,
    pub csr: String,
    pub status: OperationStatus,
    pub cancellation_requested: bool,
    pub error: Option<OperationError>,
    pub target_version: Option<String>,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
}

impl PendingOperation {
    /// The issuer kind this request went to.
    pub fn issuer_kind(&self) -> IssuerKind {
        self.policy.issuer.kind()
    }
}

/// A version as the aggregate needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: String,
    pub key_id: String,
}

/// When a soft-deleted certificate was deleted and will be purged (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedInfo {
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
    pub recoverable_days: i64,
}

/// A certificate's state: its policy, its pending object and its versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateState {
    pub name: Option<String>,
    pub policy: Option<Policy>,
    pub pending: Option<PendingOperation>,
    pub versions: Vec<VersionInfo>,
    /// Set while the certificate is soft-deleted.
    pub deleted: Option<DeletedInfo>,
    // ACME and lifetime actions
    /// Progress of the ACME order of the current pending request.
    pub acme: Option<AcmeProgress>,
    /// Lifetime actions already fired, as (action, version).
    pub lifetime_fired: std::collections::BTreeSet<(String, String)>,
}

/// What is known of a pending request's ACME order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcmeProgress {
    pub request_id: String,
    pub account_url: Option<String>,
    pub order_url: Option<String>,
    pub valid_authorizations: Vec<String>,
    pub finalized: bool,
    pub downloaded: bool,
}

impl CertificateState {
    /// Folds events in order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a CertificateEvent>) -> Self {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// True when the name is taken (live or soft-deleted).
    pub fn exists(&self) -> bool {
        self.name.is_some()
    }

    /// The current (latest) version.
    pub fn latest(&self) -> Option<&VersionInfo> {
        self.versions.last()
    }

    /// The pending object if its `request_id` is `filter` (or no filter is given).
    pub fn pending_matching(&self, filter: Option<&str>) -> Option<&PendingOperation> {
        self.pending
            .as_ref()
            .filter(|p| filter.is_none_or(|f| f == p.request_id))
    }

    /// The ACME progress of `request_id`, started afresh for a new request.
    fn acme_for(&mut self, request_id: &str) -> &mut AcmeProgress {
        if self
            .acme
            .as_ref()
            .is_none_or(|a| a.request_id != request_id)
        {
            self.acme = Some(AcmeProgress {
                request_id: request_id.to_owned(),
                ..AcmeProgress::default()
            });
        }
        self.acme.get_or_insert_with(AcmeProgress::default)
    }

    /// The ACME progress of the current pending request, if any.
    pub fn acme_progress(&self) -> Option<&AcmeProgress> {
        let pending = self.pending.as_ref()?;
        self.acme
            .as_ref()
            .filter(|a| a.request_id == pending.request_id)
    }

    /// Records one event.
    pub fn apply(&mut self, event: &CertificateEvent) {
        match event {
            CertificateEvent::PendingCreated {
                name,
                request_id,
                policy,
                provider,
                approval_required,
                key_id,
                public_key,
                csr,
                enabled,
                tags,
            } => {
                self.name = Some(name.clone());
                self.policy = Some(policy.clone());
                self.pending = Some(PendingOperation {
                    request_id: request_id.clone(),
                    policy: policy.clone(),
                    provider: provider.clone(),
                    approval_required: *approval_required,
                    approved: false,
                    key_id: key_id.clone(),
                    public_key: public_key.clone(),
                    csr: csr.clone(),
                    status: OperationStatus::InProgress,
                    cancellation_requested: false,
                    error: None,
                    target_version: None,
                    enabled: *enabled,
                    tags: tags.clone(),
                });
            }
            CertificateEvent::CancellationRequested { .. } => {
                if let Some(p) = self.pending.as_mut() {
                    p.cancellation_requested = true;
                }
            }
            CertificateEvent::IssuanceApproved { .. } => {
                if let Some(p) = self.pending.as_mut() {
                    p.approved = true;
                }
            }
            CertificateEvent::IssuanceRejected {
                officer, reason, ..
            } => {
                if let Some(p) = self.pending.as_mut() {
                    p.status = OperationStatus::Failed;
                    p.error = Some(super::rejection_error(officer, reason));
                }
            }
            CertificateEvent::IssuanceCompleted { certificate, .. }
            | CertificateEvent::CertificateMerged { certificate, .. } => {
                if let Some(p) = self.pending.as_mut() {
                    p.status = OperationStatus::Completed;
                    p.error = None;
                    p.target_version = Some(certificate.version.clone());
                }
                self.versions.push(VersionInfo {
                    version: certificate.version.clone(),
                    key_id: certificate.key_id.clone(),
                });
            }
            CertificateEvent::IssuanceFailed { error, .. } => {
                if let Some(p) = self.pending.as_mut() {
                    p.status = OperationStatus::Failed;
                    p.error = Some(error.clone());
                }
            }
            CertificateEvent::IssuanceCancelled { error, .. } => {
                if let Some(p) = self.pending.as_mut() {
                    p.status = OperationStatus::Cancelled;
                    p.error = Some(error.clone());
                }
            }
            CertificateEvent::PendingDeleted { .. } => {
                self.pending = None;
            }
            CertificateEvent::VersionUpdated { .. } => {}
            CertificateEvent::PolicyUpdated { policy } => {
                self.policy = Some(policy.clone());
            }
            CertificateEvent::CertificateImported {
                name,
                policy,
                certificate,
                ..
            } => {
                self.name = Some(name.clone());
                self.policy = Some(policy.clone());
                self.pending = None;
                self.versions.push(VersionInfo {
                    version: certificate.version.clone(),
                    key_id: certificate.key_id.clone(),
                });
            }
            CertificateEvent::CertificateDeleted {
                deleted_date,
                scheduled_purge_date,
                recoverable_days,
            } => {
                self.pending = None;
                self.deleted = Some(DeletedInfo {
                    deleted_date: *deleted_date,
                    scheduled_purge_date: *scheduled_purge_date,
                    recoverable_days: *recoverable_days,
                });
            }
            CertificateEvent::CertificateRecovered {} => {
                self.deleted = None;
            }
            CertificateEvent::CertificatePurged { .. } => {
                *self = CertificateState::default();
            }
            CertificateEvent::CertificateRestored {
                name,
                policy,
                versions,
            } => {
                *self = CertificateState {
                    name: Some(name.clone()),
                    policy: Some(policy.clone()),
                    pending: None,
                    versions: versions
                        .iter()
                        .map(|v| VersionInfo {
                            version: v.version.clone(),
                            key_id: v.key_id.clone(),
                        })
                        .collect(),
                    deleted: None,
                    acme: None,
                    lifetime_fired: Default::default(),
                };
            }
            CertificateEvent::AcmeAccountRegistered {
                request_id,
                account_url,
                ..
            } => self.acme_for(request_id).account_url = Some(account_url.clone()),
            CertificateEvent::AcmeOrderPlaced {
                request_id,
                order_url,
            } => self.acme_for(request_id).order_url = Some(order_url.clone()),
            CertificateEvent::AcmeAuthorizationValid {
                request_id,
                authorization_url,
                ..
            } => self
                .acme_for(request_id)
                .valid_authorizations
                .push(authorization_url.clone()),
            CertificateEvent::AcmeOrderFinalized { request_id } => {
                self.acme_for(request_id).finalized = true
            }
            CertificateEvent::AcmeCertificateDownloaded { request_id, .. } => {
                self.acme_for(request_id).downloaded = true
            }
            CertificateEvent::LifetimeActionTriggered {
                version, action, ..
            } => {
                self.lifetime_fired
                    .insert((format!("{action:?}"), version.clone()));
            }
        }
    }
}
