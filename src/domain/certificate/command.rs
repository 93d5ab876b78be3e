//! Certificate commands and `decide`: the rules of the pending-request lifecycle (S1-S11).

use std::collections::BTreeMap;

use super::event::{CertificateEvent, OperationError, VersionRecord};
use super::state::{CertificateState, OperationStatus};
use super::{CODE_ISSUER_ERROR, CODE_REQUEST_REJECTED};
use crate::domain::error::DomainError;
use crate::domain::policy::{ActionType, IssuerKind, Policy};

/// How the issuer named in a create's policy resolves, looked up by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerResolution {
    /// `Self`.
    SelfSigned,
    /// `Unknown`.
    Manual,
    /// An enabled issuer object backed by this configured provider.
    Provider {
        provider: String,
        approval_required: bool,
    },
    /// The issuer object does not exist.
    NotFound,
    /// The issuer object is disabled.
    Disabled,
}

/// A certificate delivered by an issuer or merged by the requester, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub record: VersionRecord,
}

/// `CreateCertificate`: everything prepared beforehand (key, CSR, ids, self-signed cert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub name: String,
    pub policy: Policy,
    pub issuer: IssuerResolution,
    pub request_id: String,
    pub key_id: String,
    pub public_key: String,
    pub csr: String,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
    /// For `Self`: the self-signed certificate made from the same key.
    pub self_signed: Option<VersionRecord>,
}

/// `MergeCertificate`: a chain already proven against `key_id`'s public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// The pending request the chain was checked against.
    pub request_id: String,
    pub certificate: VersionRecord,
    /// Attributes/tags sent with the merge, overriding those of the create.
    pub enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// A command on one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateCommand {
    /// POST `/certificates/{name}/create`.
    Create(Box<CreateRequest>),
    /// PATCH `/certificates/{name}/pending` with `cancellation_requested: true`.
    RequestCancellation { request_id: Option<String> },
    /// DELETE `/certificates/{name}/pending`.
    DeletePending { request_id: Option<String> },
    /// POST `/certificates/{name}/pending/merge`.
    Merge(Box<MergeRequest>),
    /// POST `/certificates/{name}/pending/approve`.
    Approve {
        request_id: Option<String>,
        officer: String,
    },
    /// POST `/certificates/{name}/pending/reject`.
    Reject {
        request_id: Option<String>,
        officer: String,
        reason: String,
    },
    /// The worker delivers a provider's certificate.
    CompleteIssuance {
        request_id: String,
        certificate: VersionRecord,
    },
    /// The worker reports a provider's refusal or failure.
    FailIssuance { request_id: String, message: String },
    /// The worker honours a requested cancellation.
    HonourCancellation { request_id: String },

    // --- Key Vault surface: attributes, policy, import, soft delete, backup/restore ---
    /// Update, import, delete, recover, purge, restore (see `lifecycle`).
    Lifecycle(super::lifecycle::LifecycleCommand),
    // ACME and lifetime actions
    /// The worker records one step of a request's ACME order.
    RecordAcmeStep { request_id: String, step: AcmeStep },
    /// The worker fired a lifetime action for a version.
    RecordLifetimeAction {
        version: String,
        action: ActionType,
        expires: i64,
        contacts: Vec<String>,
    },
}

/// One step of an ACME order (RFC 8555 §7), as the worker observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeStep {
    AccountRegistered {
        provider: String,
        account_url: String,
    },
    OrderPlaced {
        order_url: String,
    },
    AuthorizationValid {
        authorization_url: String,
        identifier: String,
    },
    Finalized,
    CertificateDownloaded {
        certificate_url: String,
    },
}

fn pending_or_404<'a>(
    state: &'a CertificateState,
    name: &str,
    filter: Option<&str>,
) -> Result<&'a super::state::PendingOperation, DomainError> {
    state
        .pending_matching(filter)
        .ok_or_else(|| DomainError::PendingNotFound {
            name: name.to_owned(),
        })
}

/// Decides a command against the current state: the events it causes, or a refusal.
/// `name` is the certificate name as addressed (used in messages).
pub fn decide(
    state: &CertificateState,
    name: &str,
    command: CertificateCommand,
) -> Result<Vec<CertificateEvent>, DomainError> {
    match command {
        CertificateCommand::Create(req) => {
            if state.deleted.is_some() {
                return Err(DomainError::CertificateDeleted {
                    name: name.to_owned(),
                });
            }
            if state
                .pending
                .as_ref()
                .is_some_and(|p| p.status == OperationStatus::InProgress)
            {
                return Err(DomainError::PendingInProgress);
            }
            let (provider, approval_required) = match (&req.issuer, req.policy.issuer.kind()) {
                (IssuerResolution::SelfSigned, IssuerKind::SelfSigned)
                | (IssuerResolution::Manual, IssuerKind::Manual) => (None, false),
                (
                    IssuerResolution::Provider {
                        provider,
                        approval_required,
                    },
                    IssuerKind::Object(_),
                ) => (Some(provider.clone()), *approval_required),
                (IssuerResolution::NotFound, _) => {
                    return Err(DomainError::BadParameter(format!(
                        "Issuer '{}' was not found in this vault. Create it first with PUT /certificates/issuers/{}.",
                        req.policy.issuer.name, req.policy.issuer.name
                    )))
                }
                (IssuerResolution::Disabled, _) => {
                    return Err(DomainError::BadParameter(format!(
                        "Issuer '{}' is disabled.",
                        req.policy.issuer.name
                    )))
                }
                _ => {
                    return Err(DomainError::BadParameter(format!(
                        "The issuer '{}' could not be resolved.",
                        req.policy.issuer.name
                    )))
                }
            };
            let self_signed = match (&req.issuer, req.self_signed.clone()) {
                (IssuerResolution::SelfSigned, Some(mut cert)) => {
                    // The certificate takes the create's attributes and tags, as a worker
                    // completion does from the pending request.
                    cert.enabled = req.enabled;
                    cert.tags = req.tags.clone();
                    Some(cert)
                }
                (IssuerResolution::SelfSigned, None) => {
                    return Err(DomainError::BadParameter(
                        "A self-signed request arrived without its certificate.".into(),
                    ))
                }
                _ => None,
            };
            let request_id = req.request_id.clone();
            // The self-signed version carries the attributes and tags sent with the create.
            let self_signed = self_signed.map(|mut cert| {
                cert.enabled = req.enabled;
                cert.tags = req.tags.clone();
                cert
            });
            let mut events = vec![CertificateEvent::PendingCreated {
                name: req.name,
                request_id: req.request_id,
                policy: req.policy,
                provider,
                approval_required,
                key_id: req.key_id,
                public_key: req.public_key,
                csr: req.csr,
                enabled: req.enabled,
                tags: req.tags,
            }];
            if let Some(certificate) = self_signed {
                events.push(CertificateEvent::IssuanceCompleted {
                    request_id,
                    certificate,
                });
            }
            Ok(events)
        }
        CertificateCommand::RequestCancellation { request_id } => {
            let pending = pending_or_404(state, name, request_id.as_deref())?;
            if pending.status != OperationStatus::InProgress {
                return Err(DomainError::NotInProgress {
                    status: pending.status.as_str().into(),
                });
            }
            if pending.cancellation_requested {
                return Ok(vec![]);
            }
            Ok(vec![CertificateEvent::CancellationRequested {
                request_id: pending.request_id.clone(),
            }])
        }
        CertificateCommand::DeletePending { request_id } => {
            let pending = pending_or_404(state, name, request_id.as_deref())?;
            Ok(vec![CertificateEvent::PendingDeleted {
                request_id: pending.request_id.clone(),
            }])
        }
        CertificateCommand::Merge(req) => {
            let pending = pending_or_404(state, name, None)?;
            match (pending.status, pending.issuer_kind()) {
                (OperationStatus::Completed, _) => {
                    return Err(DomainError::AlreadyCompleted {
                        name: name.to_owned(),
                    })
                }
                (OperationStatus::InProgress, IssuerKind::Object(issuer)) => {
                    return Err(DomainError::MergeForbidden { issuer })
                }
                (OperationStatus::InProgress, IssuerKind::SelfSigned) => {
                    return Err(DomainError::MergeForbidden {
                        issuer: "Self".into(),
                    })
                }
                _ => {}
            }
            if pending.request_id != req.request_id || pending.key_id != req.certificate.key_id {
                return Err(DomainError::InvalidChain(
                    "The pending certificate request changed while the merge was checked; read it again and retry.".into(),
                ));
            }
            let mut certificate = req.certificate;
            certificate.enabled = req.enabled.unwrap_or(pending.enabled);
            certificate.tags = req.tags.unwrap_or_else(|| pending.tags.clone());
            Ok(vec![CertificateEvent::CertificateMerged {
                request_id: pending.request_id.clone(),
                certificate,
            }])
        }
        CertificateCommand::Approve {
            request_id,
            officer,
        } => {
            let pending = awaiting_officer(state, name, request_id.as_deref())?;
            Ok(vec![CertificateEvent::IssuanceApproved {
                request_id: pending.request_id.clone(),
                officer,
            }])
        }
        CertificateCommand::Reject {
            request_id,
            officer,
            reason,
        } => {
            let pending = awaiting_officer(state, name, request_id.as_deref())?;
            if reason.trim().is_empty() {
                return Err(DomainError::BadParameter(
                    "A rejection needs a non-empty 'reason'.".into(),
                ));
            }
            Ok(vec![CertificateEvent::IssuanceRejected {
                request_id: pending.request_id.clone(),
                officer,
                reason,
            }])
        }
        CertificateCommand::CompleteIssuance {
            request_id,
            mut certificate,
        } => {
            let pending = in_progress_for_worker(state, name, &request_id)?;
            if pending.cancellation_requested {
                return Ok(vec![cancelled(request_id)]);
            }
            certificate.enabled = pending.enabled;
            certificate.tags = pending.tags.clone();
            certificate.key_id = pending.key_id.clone();
            Ok(vec![CertificateEvent::IssuanceCompleted {
                request_id,
                certificate,
            }])
        }
        CertificateCommand::FailIssuance {
            request_id,
            message,
        } => {
            in_progress_for_worker(state, name, &request_id)?;
            Ok(vec![CertificateEvent::IssuanceFailed {
                request_id,
                error: OperationError {
                    code: CODE_ISSUER_ERROR.into(),
                    message,
                },
            }])
        }
        CertificateCommand::HonourCancellation { request_id } => {
            let pending = in_progress_for_worker(state, name, &request_id)?;
            if !pending.cancellation_requested {
                return Err(DomainError::BadParameter(
                    "No cancellation was requested for this certificate request.".into(),
                ));
            }
            Ok(vec![cancelled(request_id)])
        }
        CertificateCommand::Lifecycle(command) => {
            super::lifecycle::decide_lifecycle(state, name, command)
        }
        CertificateCommand::RecordAcmeStep { request_id, step } => {
            in_progress_for_worker(state, name, &request_id)?;
            let progress = state.acme_progress();
            let event = match step {
                AcmeStep::AccountRegistered {
                    provider,
                    account_url,
                } => CertificateEvent::AcmeAccountRegistered {
                    request_id,
                    provider,
                    account_url,
                },
                AcmeStep::OrderPlaced { order_url } => {
                    // One order per request: a second one would be a duplicate at the CA.
                    if let Some(existing) = progress.and_then(|p| p.order_url.as_ref()) {
                        return Err(DomainError::BadParameter(format!(
                            "The request already has the ACME order {existing}."
                        )));
                    }
                    CertificateEvent::AcmeOrderPlaced {
                        request_id,
                        order_url,
                    }
                }
                AcmeStep::AuthorizationValid {
                    authorization_url,
                    identifier,
                } => {
                    if progress.is_some_and(|p| p.valid_authorizations.contains(&authorization_url))
                    {
                        return Ok(vec![]);
                    }
                    CertificateEvent::AcmeAuthorizationValid {
                        request_id,
                        authorization_url,
                        identifier,
                    }
                }
                AcmeStep::Finalized => {
                    if progress.is_some_and(|p| p.finalized) {
                        return Ok(vec![]);
                    }
                    CertificateEvent::AcmeOrderFinalized { request_id }
                }
                AcmeStep::CertificateDownloaded { certificate_url } => {
                    if progress.is_some_and(|p| p.downloaded) {
                        return Ok(vec![]);
                    }
                    CertificateEvent::AcmeCertificateDownloaded {
                        request_id,
                        certificate_url,
                    }
                }
            };
            Ok(vec![event])
        }
        CertificateCommand::RecordLifetimeAction {
            version,
            action,
            expires,
            contacts,
        } => {
            if !state.versions.iter().any(|v| v.version == version) {
                return Err(DomainError::CertificateNotFound {
                    name: format!("{name}/versions/{version}"),
                });
            }
            if state
                .lifetime_fired
                .contains(&(format!("{action:?}"), version.clone()))
            {
                return Ok(vec![]);
            }
            Ok(vec![CertificateEvent::LifetimeActionTriggered {
                version,
                action,
                expires,
                contacts,
            }])
        }
    }
}

fn cancelled(request_id: String) -> CertificateEvent {
    CertificateEvent::IssuanceCancelled {
        request_id,
        error: OperationError {
            code: CODE_REQUEST_REJECTED.into(),
            message: "The certificate request was cancelled at the requester's request before the certificate was issued.".into(),
        },
    }
}

fn awaiting_officer<'a>(
    state: &'a CertificateState,
    name: &str,
    filter: Option<&str>,
) -> Result<&'a super::state::PendingOperation, DomainError> {
    let pending = pending_or_404(state, name, filter)?;
    if !pending.approval_required {
        return Err(DomainError::ApprovalNotApplicable(format!(
            "The pending certificate {name} was not sent to an issuer that requires approval."
        )));
    }
    if pending.status != OperationStatus::InProgress {
        return Err(DomainError::ApprovalNotApplicable(format!(
            "The pending certificate {name} is {}; only a request in progress can be approved or rejected.",
            pending.status.as_str()
        )));
    }
    if pending.approved {
        return Err(DomainError::ApprovalNotApplicable(format!(
            "The pending certificate {name} is already approved."
        )));
    }
    Ok(pending)
}

fn in_progress_for_worker<'a>(
    state: &'a CertificateState,
    name: &str,
    request_id: &str,
) -> Result<&'a super::state::PendingOperation, DomainError> {
    let pending = pending_or_404(state, name, Some(request_id))?;
    if pending.status != OperationStatus::InProgress {
        return Err(DomainError::NotInProgress {
            status: pending.status.as_str().into(),
        });
    }
    Ok(pending)
}
