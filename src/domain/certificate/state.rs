//! State folded from certificate events. `apply` records facts; it never validates.
//!
//! The state holds everything the certificate's views show (the projections render their
//! rows from it), including when things happened: `apply` takes the event's recorded time
//! (Unix seconds) from its envelope.

use std::collections::{BTreeMap, BTreeSet};

use super::event::{CertificateEvent, OperationError, VersionRecord};

use crate::domain::policy::{ActionType, IssuerKind, Policy};

/// The four states of a pending object (Key Vault `CertificateOperation.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The certificate name as the create spelled it.
    pub name: String,
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
    /// When the request was created and last changed (Unix seconds).
    pub created_at: i64,
    pub updated_at: i64,
}

impl PendingOperation {
    /// The issuer kind this request went to.
    pub fn issuer_kind(&self) -> IssuerKind {
        self.policy.issuer.kind()
    }
}

/// A certificate version: the record it was made current with, its attributes as
/// updated since, and when it was made and last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: String,
    pub key_id: String,
    /// Base64 DER of the leaf.
    pub cer: String,
    /// Base64 DER of the certificates above the leaf, nearest first.
    pub chain: Vec<String>,
    pub x5t: String,
    pub nbf: i64,
    pub exp: i64,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub updated: i64,
}

impl VersionInfo {
    fn new(record: &VersionRecord, at: i64) -> Self {
        VersionInfo {
            version: record.version.clone(),
            key_id: record.key_id.clone(),
            cer: record.cer.clone(),
            chain: record.chain.clone(),
            x5t: record.x5t.clone(),
            nbf: record.nbf,
            exp: record.exp,
            enabled: record.enabled,
            tags: record.tags.clone(),
            created: at,
            updated: at,
        }
    }

    /// The record this version would be restored from.
    pub fn record(&self) -> VersionRecord {
        VersionRecord {
            version: self.version.clone(),
            key_id: self.key_id.clone(),
            cer: self.cer.clone(),
            chain: self.chain.clone(),
            x5t: self.x5t.clone(),
            nbf: self.nbf,
            exp: self.exp,
            enabled: self.enabled,
            tags: self.tags.clone(),
        }
    }
}

/// When a soft-deleted certificate was deleted and will be purged (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedInfo {
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
    pub recoverable_days: i64,
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

/// A certificate's state: its policy, its pending object and its versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateState {
    /// The name as first spelled since the certificate came to exist (it compares
    /// case-insensitively; later spellings do not rename it).
    pub name: Option<String>,
    pub policy: Option<Policy>,
    /// When the policy was first set and last changed.
    pub policy_created: i64,
    pub policy_updated: i64,
    /// `preserveCertOrder` as last sent with a create or import.
    pub preserve_cert_order: Option<bool>,
    pub pending: Option<PendingOperation>,
    pub versions: Vec<VersionInfo>,
    /// Set while the certificate is soft-deleted.
    pub deleted: Option<DeletedInfo>,
    /// Progress of the ACME order of the current pending request.
    pub acme: Option<AcmeProgress>,
    /// Lifetime actions already fired, as (action, version).
    pub lifetime_fired: BTreeSet<(ActionType, String)>,
    /// Every key the stream has named (requests that never completed included): what a
    /// purge erases.
    pub key_ids: BTreeSet<String>,
}

impl CertificateState {
    /// Folds events in order, without their times (for tests: decisions fold through the
    /// pipeline, with times).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a CertificateEvent>) -> Self {
        let mut state = Self::default();
        for e in events {
            state.apply(e, 0);
        }
        state
    }

    /// True when the name is taken (live or soft-deleted).
    pub fn exists(&self) -> bool {
        self.name.is_some()
    }

    /// True when the certificate exists and is not soft-deleted.
    pub fn is_live(&self) -> bool {
        self.exists() && self.deleted.is_none()
    }

    /// The current (latest) version.
    pub fn latest(&self) -> Option<&VersionInfo> {
        self.versions.last()
    }

    /// A version by id (case-insensitive), or the current one.
    pub fn version(&self, version: Option<&str>) -> Option<&VersionInfo> {
        match version {
            Some(v) => self
                .versions
                .iter()
                .find(|x| x.version.eq_ignore_ascii_case(v)),
            None => self.latest(),
        }
    }

    /// The pending object if its `request_id` is `filter` (or no filter is given).
    pub fn pending_matching(&self, filter: Option<&str>) -> Option<&PendingOperation> {
        self.pending
            .as_ref()
            .filter(|p| filter.is_none_or(|f| f == p.request_id))
    }

    /// Whether lifetime action `action` already fired for `version`.
    pub fn lifetime_action_fired(&self, action: ActionType, version: &str) -> bool {
        self.lifetime_fired.contains(&(action, version.to_owned()))
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

    /// The certificate came to exist (or exists): records its name and policy.
    /// The policy a create, import or restore brings (and the certificate's name, the first
    /// time); `preserveCertOrder` when it was sent.
    fn set_policy(&mut self, name: &str, policy: &Policy, at: i64, preserve: Option<bool>) {
        if self.name.is_none() {
            self.name = Some(name.to_owned());
            self.policy_created = at;
        }
        self.policy = Some(policy.clone());
        self.policy_updated = at;
        if preserve.is_some() {
            self.preserve_cert_order = preserve;
        }
    }

    fn pending_changed(&mut self, at: i64, change: impl FnOnce(&mut PendingOperation)) {
        if let Some(p) = self.pending.as_mut() {
            change(p);
            p.updated_at = at;
        }
    }

    fn add_version(&mut self, record: &VersionRecord, at: i64) {
        self.key_ids.insert(record.key_id.clone());
        self.versions.push(VersionInfo::new(record, at));
    }

    /// Records one event that was recorded at `at` (Unix seconds).
    pub fn apply(&mut self, event: &CertificateEvent, at: i64) {
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
                preserve_cert_order,
            } => {
                self.set_policy(name, policy, at, *preserve_cert_order);
                self.key_ids.insert(key_id.clone());
                self.pending = Some(PendingOperation {
                    name: name.clone(),
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
                    created_at: at,
                    updated_at: at,
                });
            }
            CertificateEvent::CancellationRequested { .. } => {
                self.pending_changed(at, |p| p.cancellation_requested = true)
            }
            CertificateEvent::IssuanceApproved { .. } => {
                self.pending_changed(at, |p| p.approved = true)
            }
            CertificateEvent::IssuanceRejected {
                officer, reason, ..
            } => self.pending_changed(at, |p| {
                p.status = OperationStatus::Failed;
                p.error = Some(super::rejection_error(officer, reason));
            }),
            CertificateEvent::IssuanceCompleted { certificate, .. }
            | CertificateEvent::CertificateMerged { certificate, .. } => {
                self.pending_changed(at, |p| {
                    p.status = OperationStatus::Completed;
                    p.error = None;
                    p.target_version = Some(certificate.version.clone());
                });
                self.add_version(certificate, at);
            }
            CertificateEvent::IssuanceFailed { error, .. } => self.pending_changed(at, |p| {
                p.status = OperationStatus::Failed;
                p.error = Some(error.clone());
            }),
            CertificateEvent::IssuanceCancelled { error, .. } => self.pending_changed(at, |p| {
                p.status = OperationStatus::Cancelled;
                p.error = Some(error.clone());
            }),
            CertificateEvent::PendingDeleted { .. } => self.pending = None,
            CertificateEvent::VersionUpdated {
                version,
                enabled,
                tags,
            } => {
                if let Some(v) = self.versions.iter_mut().find(|v| &v.version == version) {
                    if let Some(e) = enabled {
                        v.enabled = *e;
                    }
                    if let Some(t) = tags {
                        v.tags = t.clone();
                    }
                    v.updated = at;
                }
            }
            CertificateEvent::PolicyUpdated { policy } => {
                self.policy = Some(policy.clone());
                self.policy_updated = at;
            }
            CertificateEvent::CertificateImported {
                name,
                policy,
                certificate,
                preserve_cert_order,
                ..
            } => {
                self.set_policy(name, policy, at, *preserve_cert_order);
                self.pending = None;
                self.add_version(certificate, at);
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
            CertificateEvent::CertificateRecovered {} => self.deleted = None,
            CertificateEvent::CertificatePurged { .. } => *self = CertificateState::default(),
            CertificateEvent::CertificateRestored {
                name,
                policy,
                versions,
            } => {
                *self = CertificateState::default();
                self.set_policy(name, policy, at, None);
                for v in versions {
                    self.add_version(v, at);
                }
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
                self.lifetime_fired.insert((*action, version.clone()));
            }
        }
    }
}
