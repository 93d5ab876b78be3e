//! The issuer aggregate (Key Vault `IssuerBundle`): one stream per vault and issuer name.
//!
//! An issuer object names a provider configured on the server. Credentials' passwords are
//! never recorded: events keep only whether one was set.

use serde::{Deserialize, Serialize};

use super::error::DomainError;

/// Organisation details as sent (kept verbatim as JSON; Key Vault does not interpret them).
pub type OrgDetails = serde_json::Value;

/// Events of an issuer object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Stored as the `event_type` column beside the variant's fields (`es::store::encode`):
// serde's external tag is what lets a payload decode straight into its variant.
pub enum IssuerEvent {
    /// PUT or PATCH `/certificates/issuers/{name}`: the issuer's full state after the change.
    IssuerSet {
        name: String,
        provider: String,
        #[serde(default)]
        account_id: Option<String>,
        #[serde(default)]
        password_set: bool,
        #[serde(default)]
        org_details: Option<OrgDetails>,
        enabled: bool,
    },
    /// DELETE `/certificates/issuers/{name}`.
    IssuerDeleted { name: String },
}

/// An issuer object's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    pub name: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub password_set: bool,
    pub org_details: Option<OrgDetails>,
    pub enabled: bool,
}

/// Folded state: the issuer if it exists, and when it was made and last changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssuerState {
    pub issuer: Option<Issuer>,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

impl IssuerState {
    /// Records one event recorded at `at` (Unix seconds).
    pub fn apply(&mut self, event: &IssuerEvent, at: i64) {
        match event {
            IssuerEvent::IssuerSet {
                name,
                provider,
                account_id,
                password_set,
                org_details,
                enabled,
            } => {
                // The name as first spelled stays (names compare case-insensitively).
                let name = match &self.issuer {
                    Some(i) => i.name.clone(),
                    None => {
                        self.created = at;
                        name.clone()
                    }
                };
                self.issuer = Some(Issuer {
                    name,
                    provider: provider.clone(),
                    account_id: account_id.clone(),
                    password_set: *password_set,
                    org_details: org_details.clone(),
                    enabled: *enabled,
                });
                self.updated = at;
            }
            IssuerEvent::IssuerDeleted { .. } => *self = IssuerState::default(),
        }
    }
}

/// The fields of a PUT (all) or PATCH (those given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssuerChanges {
    pub provider: Option<String>,
    pub account_id: Option<Option<String>>,
    pub password_given: Option<bool>,
    pub org_details: Option<Option<OrgDetails>>,
    pub enabled: Option<bool>,
}

/// Commands on an issuer object.
#[derive(Debug, Clone, PartialEq)]
pub enum IssuerCommand {
    /// `SetCertificateIssuer` (PUT): replaces the issuer.
    Set {
        name: String,
        changes: IssuerChanges,
    },
    /// `UpdateCertificateIssuer` (PATCH): changes the given fields of an existing issuer.
    Update {
        name: String,
        changes: IssuerChanges,
    },
    /// `DeleteCertificateIssuer`.
    Delete { name: String },
}

/// Decides an issuer command. `known_providers` are the provider names an issuer may
/// name on this server (configured providers and Key Vault's partner names it maps to
/// them, compared case-insensitively); any other provider is refused (400).
pub fn decide(
    state: &IssuerState,
    command: IssuerCommand,
    known_providers: &[String],
) -> Result<Vec<IssuerEvent>, DomainError> {
    let check_provider = |p: &str| {
        if known_providers.iter().any(|k| k.eq_ignore_ascii_case(p)) {
            Ok(())
        } else {
            Err(DomainError::UnknownProvider {
                provider: p.to_owned(),
                known: known_providers.join(", "),
            })
        }
    };
    match command {
        IssuerCommand::Set { name, changes } => {
            let provider = changes.provider.ok_or_else(|| {
                DomainError::BadParameter("The issuer's 'provider' is required.".into())
            })?;
            check_provider(&provider)?;
            Ok(vec![IssuerEvent::IssuerSet {
                name,
                provider,
                account_id: changes.account_id.flatten(),
                password_set: changes.password_given.unwrap_or(false),
                org_details: changes.org_details.flatten(),
                enabled: changes.enabled.unwrap_or(true),
            }])
        }
        IssuerCommand::Update { name, changes } => {
            let current = state
                .issuer
                .as_ref()
                .ok_or_else(|| DomainError::IssuerNotFound { name: name.clone() })?;
            let provider = changes.provider.unwrap_or_else(|| current.provider.clone());
            check_provider(&provider)?;
            Ok(vec![IssuerEvent::IssuerSet {
                name: current.name.clone(),
                provider,
                account_id: changes
                    .account_id
                    .unwrap_or_else(|| current.account_id.clone()),
                password_set: changes.password_given.unwrap_or(current.password_set),
                org_details: changes
                    .org_details
                    .unwrap_or_else(|| current.org_details.clone()),
                enabled: changes.enabled.unwrap_or(current.enabled),
            }])
        }
        IssuerCommand::Delete { name } => {
            let current = state
                .issuer
                .as_ref()
                .ok_or(DomainError::IssuerNotFound { name })?;
            Ok(vec![IssuerEvent::IssuerDeleted {
                name: current.name.clone(),
            }])
        }
    }
}
