//! `decide`: the rules of a certificate, one arm per command. The pending-request lifecycle
//! follows Key Vault's "Monitor and manage certificate creation" (the table in the README's
//! "The pending request" section); the rest follows the certificates REST operations.

use super::command::{AcmeStep, CertificateCommand, CreateRequest, IssuerResolution};
use super::event::{CertificateEvent, OperationError};
use super::state::{CertificateState, OperationStatus, PendingOperation};
use super::{CODE_ISSUER_ERROR, CODE_REQUEST_REJECTED};
use crate::domain::error::DomainError;
use crate::domain::policy::IssuerKind;

fn pending_or_404<'a>(
    state: &'a CertificateState,
    name: &str,
    filter: Option<&str>,
) -> Result<&'a PendingOperation, DomainError> {
    state
        .pending_matching(filter)
        .ok_or_else(|| DomainError::PendingNotFound {
            name: name.to_owned(),
        })
}

fn not_found(name: &str, version: Option<&str>) -> DomainError {
    DomainError::CertificateNotFound {
        name: match version {
            Some(v) => format!("{name}/versions/{v}"),
            None => name.to_owned(),
        },
    }
}

fn live<'a>(state: &'a CertificateState, name: &str) -> Result<&'a CertificateState, DomainError> {
    if state.is_live() {
        Ok(state)
    } else {
        Err(not_found(name, None))
    }
}

fn not_deleted(state: &CertificateState, name: &str) -> Result<(), DomainError> {
    match state.deleted {
        Some(_) => Err(DomainError::CertificateDeleted {
            name: name.to_owned(),
        }),
        None => Ok(()),
    }
}

fn not_in_progress(state: &CertificateState) -> Result<(), DomainError> {
    if state
        .pending
        .as_ref()
        .is_some_and(|p| p.status == OperationStatus::InProgress)
    {
        return Err(DomainError::PendingInProgress);
    }
    Ok(())
}

/// The pending request a merge may complete (scenarios S7, S11): refused whatever the
/// chain when there is none, when it is completed, or while an issuer (or `Self`) is
/// still working on it. Callers check this before proving a chain.
pub fn mergeable<'a>(
    state: &'a CertificateState,
    name: &str,
) -> Result<&'a PendingOperation, DomainError> {
    let pending = pending_or_404(state, name, None)?;
    match (pending.status, pending.issuer_kind()) {
        (OperationStatus::Completed, _) => Err(DomainError::AlreadyCompleted {
            name: name.to_owned(),
        }),
        (OperationStatus::InProgress, IssuerKind::Object(issuer)) => {
            Err(DomainError::MergeForbidden { issuer })
        }
        (OperationStatus::InProgress, IssuerKind::SelfSigned) => Err(DomainError::MergeForbidden {
            issuer: "Self".into(),
        }),
        _ => Ok(pending),
    }
}

/// The keys a command's events release for good: every key the stream ever named, when
/// the certificate is purged. The caller erases them in the same transaction.
pub fn released_keys(before: &CertificateState, events: &[CertificateEvent]) -> Vec<String> {
    if events
        .iter()
        .any(|e| matches!(e, CertificateEvent::CertificatePurged { .. }))
    {
        before.key_ids.iter().cloned().collect()
    } else {
        Vec::new()
    }
}

/// Decides a command against the current state: the events it causes, or a refusal.
/// `name` is the certificate name as addressed (used in messages).
pub fn decide(
    state: &CertificateState,
    name: &str,
    command: CertificateCommand,
) -> Result<Vec<CertificateEvent>, DomainError> {
    match command {
        CertificateCommand::Create(req) => create(state, name, *req),
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
            let pending = mergeable(state, name)?;
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
            approved_if_required(pending)?;
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
        CertificateCommand::RecordAcmeStep { request_id, step } => {
            acme_step(state, name, request_id, step)
        }
        CertificateCommand::RecordLifetimeAction {
            version,
            action,
            expires,
            contacts,
        } => {
            if !state.versions.iter().any(|v| v.version == version) {
                return Err(not_found(name, Some(&version)));
            }
            if state.lifetime_action_fired(action, &version) {
                return Ok(vec![]);
            }
            Ok(vec![CertificateEvent::LifetimeActionTriggered {
                version,
                action,
                expires,
                contacts,
            }])
        }
        CertificateCommand::UpdateVersion {
            version,
            enabled,
            tags,
            policy,
        } => {
            live(state, name)?;
            let Some(found) = state.version(version.as_deref()) else {
                return Err(not_found(name, version.as_deref()));
            };
            let mut events = Vec::new();
            if let Some(patch) = policy {
                events.push(CertificateEvent::PolicyUpdated {
                    policy: current_policy(state, name)?.apply(patch)?,
                });
            }
            events.push(CertificateEvent::VersionUpdated {
                version: found.version.clone(),
                enabled,
                tags,
            });
            Ok(events)
        }
        CertificateCommand::UpdatePolicy { patch } => {
            live(state, name)?;
            Ok(vec![CertificateEvent::PolicyUpdated {
                policy: current_policy(state, name)?.apply(patch)?,
            }])
        }
        CertificateCommand::Import(req) => {
            not_deleted(state, name)?;
            not_in_progress(state)?;
            let derived = req.derived;
            let mut policy = match (req.patch, &state.policy) {
                (Some(patch), _) => derived.apply(patch)?,
                (None, Some(stored)) => stored.clone(),
                (None, None) => derived.clone(),
            };
            // The key is what it is: its type and size come from the file.
            policy.key_props.kty = derived.key_props.kty;
            policy.key_props.key_size = derived.key_props.key_size;
            policy.key_props.curve = derived.key_props.curve;
            Ok(vec![CertificateEvent::CertificateImported {
                name: req.name,
                policy,
                public_key: req.public_key,
                certificate: req.certificate,
                preserve_cert_order: req.preserve_cert_order,
            }])
        }
        CertificateCommand::Delete {
            now,
            retention_days,
        } => {
            live(state, name)?;
            Ok(vec![CertificateEvent::CertificateDeleted {
                deleted_date: now,
                scheduled_purge_date: now + retention_days * 86_400,
                recoverable_days: retention_days,
            }])
        }
        CertificateCommand::Recover => match state.deleted {
            Some(_) => Ok(vec![CertificateEvent::CertificateRecovered {}]),
            None => Err(DomainError::DeletedCertificateNotFound {
                name: name.to_owned(),
            }),
        },
        CertificateCommand::Purge { due_at } => match (state.deleted, due_at) {
            (None, _) => Err(DomainError::DeletedCertificateNotFound {
                name: name.to_owned(),
            }),
            (Some(d), Some(at)) if d.scheduled_purge_date > at => Err(DomainError::BadParameter(
                format!("The deleted certificate {name} is not due for purge yet."),
            )),
            (Some(_), due_at) => Ok(vec![CertificateEvent::CertificatePurged {
                scheduled: due_at.is_some(),
            }]),
        },
        CertificateCommand::Restore(req) => {
            not_deleted(state, name)?;
            if state.exists() {
                return Err(DomainError::CertificateExists {
                    name: name.to_owned(),
                });
            }
            if req.versions.is_empty() {
                return Err(DomainError::BadParameter(
                    "The backup holds no certificate version.".into(),
                ));
            }
            Ok(vec![CertificateEvent::CertificateRestored {
                name: req.name,
                policy: req.policy,
                versions: req.versions,
            }])
        }
    }
}

fn current_policy<'a>(
    state: &'a CertificateState,
    name: &str,
) -> Result<&'a crate::domain::policy::Policy, DomainError> {
    state.policy.as_ref().ok_or_else(|| not_found(name, None))
}

fn create(
    state: &CertificateState,
    name: &str,
    req: CreateRequest,
) -> Result<Vec<CertificateEvent>, DomainError> {
    not_deleted(state, name)?;
    not_in_progress(state)?;
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
    // A self-signed certificate completes the request in the same command, carrying the
    // attributes and tags sent with the create, as a worker completion does.
    let self_signed = match (&req.issuer, req.self_signed) {
        (IssuerResolution::SelfSigned, Some(mut cert)) => {
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
        preserve_cert_order: req.preserve_cert_order,
    }];
    if let Some(certificate) = self_signed {
        events.push(CertificateEvent::IssuanceCompleted {
            request_id,
            certificate,
        });
    }
    Ok(events)
}

fn acme_step(
    state: &CertificateState,
    name: &str,
    request_id: String,
    step: AcmeStep,
) -> Result<Vec<CertificateEvent>, DomainError> {
    approved_if_required(in_progress_for_worker(state, name, &request_id)?)?;
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
            if progress.is_some_and(|p| p.valid_authorizations.contains(&authorization_url)) {
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
) -> Result<&'a PendingOperation, DomainError> {
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

/// A provider acts on a request only once an officer approved it, where approval is
/// required (a failure or a cancellation needs none).
fn approved_if_required(pending: &PendingOperation) -> Result<(), DomainError> {
    if pending.approval_required && !pending.approved {
        return Err(DomainError::AwaitingApproval);
    }
    Ok(())
}

fn in_progress_for_worker<'a>(
    state: &'a CertificateState,
    name: &str,
    request_id: &str,
) -> Result<&'a PendingOperation, DomainError> {
    let pending = pending_or_404(state, name, Some(request_id))?;
    if pending.status != OperationStatus::InProgress {
        return Err(DomainError::NotInProgress {
            status: pending.status.as_str().into(),
        });
    }
    Ok(pending)
}
