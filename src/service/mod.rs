//! The services: one module per resource (certificates, their pending operations, deleted
//! certificates, secrets, keys, issuers, contacts, the audit trail, tokens), each with its
//! commands and queries. A command prepares its slow work (keys, CSRs, signatures, chain
//! checks) first, then goes through the one pipeline, `es::EventStore::execute`; queries
//! read the views. Services are the only writers; they never render HTTP.

pub mod acme_accounts;
pub mod audit;
pub mod backup;
pub mod certificates;
pub mod challenges;
pub mod clients;
pub mod clock;
pub mod contacts;
pub mod deleted;
pub mod identity;
pub mod issuance_policy;
pub mod issuers;
pub mod keypool;
pub mod keys;
pub mod keystore;
pub mod local_ca;
mod lookup;
pub mod operations;
pub mod secrets;
pub mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ProviderSettings;
use crate::crypto::CryptoError;
use crate::domain::audit::AuditEvent;
use crate::domain::DomainError;
use crate::es::aggregate::Aggregate;
use crate::es::credentials::Credentials;
use crate::es::storage::Pooled;
use crate::es::{
    Command, Effect, EventMeta, EventStore, ExecError, Executed, Loaded, StoreError, StreamId,
};
use keystore::KeyStore;

pub use crate::clock::{Clock, SystemClock};

/// A service call's result: `ServiceError` unless said otherwise (as `crypto::Result`).
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A business refusal.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The command pipeline did not commit it (refusals inside it arrive as `Domain`).
    #[error(transparent)]
    Exec(ExecError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<ExecError> for ServiceError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Refused(d) => ServiceError::Domain(d),
            other => ServiceError::Exec(other),
        }
    }
}

/// Who asks, in which vault (HTTP: from the token and Host; worker: itself).
#[derive(Debug, Clone)]
pub struct Caller {
    pub vault: String,
    pub actor: String,
    pub client_request_id: Option<String>,
    pub remote_addr: Option<String>,
}

impl Caller {
    /// The server acting by itself in `vault`.
    pub fn system(vault: &str, actor: &str) -> Self {
        Caller {
            vault: vault.to_owned(),
            actor: actor.to_owned(),
            client_request_id: None,
            remote_addr: None,
        }
    }
}

/// Providers an issuer object may name: the configured ones, and Key Vault's partner
/// names mapped to one of them.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    pub configured: BTreeMap<String, ProviderSettings>,
    /// Key Vault provider name (case-insensitive) → configured provider.
    pub aliases: BTreeMap<String, String>,
}

/// The provider names Key Vault itself knows for issuer objects (its partner CAs and the
/// ones its own services and tests use).
pub const KEY_VAULT_PROVIDERS: &[&str] = &[
    "DigiCert",
    "GlobalSign",
    "Test",
    "OneCertV2-PublicCA",
    "OneCertV2-PrivateCA",
];

/// The configured provider that stands in for a Key Vault provider name without an alias:
/// the built-in CA.
pub const DEFAULT_STAND_IN: &str = "local-ca";

impl Providers {
    /// The configured provider that issues for an issuer naming `provider`: a configured
    /// provider by its name, an alias (case-insensitive), or, for Key Vault's own provider
    /// names without an alias, the built-in CA.
    pub fn resolve(&self, provider: &str) -> Option<(&str, &ProviderSettings)> {
        if let Some((name, p)) = self.configured.get_key_value(provider) {
            return Some((name.as_str(), p));
        }
        let target = self
            .aliases
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(provider))
            .map(|(_, v)| v.as_str())
            .or_else(|| {
                KEY_VAULT_PROVIDERS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(provider))
                    .then_some(DEFAULT_STAND_IN)
            })?;
        self.configured
            .get_key_value(target)
            .map(|(n, p)| (n.as_str(), p))
    }

    /// Every name an issuer may give as its provider.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .configured
            .keys()
            .chain(self.aliases.keys())
            .cloned()
            .collect();
        if self.configured.contains_key(DEFAULT_STAND_IN) {
            for k in KEY_VAULT_PROVIDERS {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                    names.push((*k).to_owned());
                }
            }
        }
        names
    }
}

/// What every service shares.
pub struct Core {
    pub es: EventStore,
    pub keys: Arc<KeyStore>,
    /// Keys made ahead of creates (`keys.pool`).
    pub key_pool: Arc<keypool::KeyPool>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the worker when a request may need it.
    pub wake: Arc<tokio::sync::Notify>,
    pub providers: Arc<Providers>,
    /// Days a deleted certificate stays recoverable.
    pub retention_days: i64,
    /// The clock admins may move (`clock.adjustable`), the same one as `clock`.
    pub adjustable_clock: Option<Arc<crate::clock::AdjustableClock>>,
    /// Pending objects served from memory between writes (SQLite: one process writes).
    pub pending_cache: Option<Arc<operations::PendingCache>>,
}

impl Core {
    /// Records an audit record in the audit stream of `certificate` (or of the vault),
    /// with the effects it carries (a token or client stored or revoked), through the
    /// pipeline like every event.
    pub(crate) async fn record_audit(
        &self,
        caller: &Caller,
        certificate: Option<&str>,
        event: AuditEvent,
        effects: Vec<Effect>,
    ) -> Result<()> {
        let stream = StreamId::audit(&caller.vault, certificate);
        self.execute::<crate::es::aggregate::Audit>(
            caller,
            stream,
            "",
            event,
            None,
            effects,
            Arc::new(()),
        )
        .await
        .map(|_| ())
    }

    /// Revokes the active credential `name` of `kind` (refused when there is none): its
    /// `TokenRevoked` or `ClientRevoked` record, with the table change as the effect.
    pub(crate) async fn revoke_credential(
        &self,
        caller: &Caller,
        kind: Credentials,
        name: &str,
    ) -> Result<()> {
        let event = match kind {
            Credentials::Tokens => AuditEvent::TokenRevoked {
                name: name.to_owned(),
            },
            Credentials::Clients => AuditEvent::ClientRevoked {
                name: name.to_owned(),
            },
        };
        let effect = Effect::Revoke {
            kind,
            name: name.to_owned(),
        };
        self.record_audit(caller, None, event, vec![effect]).await
    }

    /// Event metadata for `caller` now.
    pub fn meta(&self, caller: &Caller) -> EventMeta {
        EventMeta {
            actor: caller.actor.clone(),
            client_request_id: caller.client_request_id.clone(),
            remote_addr: caller.remote_addr.clone(),
            at: self.clock.now(),
        }
    }

    /// A reader connection.
    pub async fn reader(&self) -> Result<Pooled> {
        Ok(self.es.storage().acquire().await?)
    }

    /// Loads a stream's state (for preparing a command).
    pub async fn load<A: Aggregate>(&self, stream: &StreamId) -> Result<Loaded<A>> {
        Ok(self.es.load::<A>(stream).await?)
    }

    /// Runs a command through the pipeline.
    #[allow(clippy::too_many_arguments)]
    pub async fn execute<A: Aggregate>(
        &self,
        caller: &Caller,
        stream: StreamId,
        name: &str,
        command: A::Command,
        loaded: Option<Loaded<A>>,
        effects: Vec<Effect>,
        context: Arc<A::Context>,
    ) -> Result<Executed<A>> {
        let command = Command {
            stream,
            name: name.to_owned(),
            command,
            meta: self.meta(caller),
            loaded,
            effects,
        };
        Ok(self.es.execute(command, context).await?)
    }
}

/// Every service, over one [`Core`].
#[derive(Clone)]
pub struct Services {
    pub certificates: certificates::Certificates,
    pub operations: operations::Operations,
    pub deleted: deleted::Deleted,
    pub secrets: secrets::Secrets,
    pub keys: keys::Keys,
    pub issuers: issuers::Issuers,
    pub contacts: contacts::Contacts,
    pub audit: audit::AuditService,
    pub tokens: tokens::Tokens,
    pub clock: clock::ClockService,
    pub clients: clients::Clients,
    pub core: Arc<Core>,
}

impl Services {
    /// The services over `core`.
    pub fn new(core: Core) -> Self {
        let core = Arc::new(core);
        Services {
            certificates: certificates::Certificates(core.clone()),
            operations: operations::Operations(core.clone()),
            deleted: deleted::Deleted(core.clone()),
            secrets: secrets::Secrets(core.clone()),
            keys: keys::Keys(core.clone()),
            issuers: issuers::Issuers(core.clone()),
            contacts: contacts::Contacts(core.clone()),
            audit: audit::AuditService(core.clone()),
            tokens: tokens::Tokens(core.clone()),
            clock: clock::ClockService(core.clone()),
            clients: clients::Clients(core.clone()),
            core,
        }
    }
}

/// A fresh 32-hex id (Key Vault versions and request ids).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The refusal for a certificate (or version) that does not exist.
pub fn certificate_not_found(name: &str, version: Option<&str>) -> ServiceError {
    let name = versioned(name, version.map(|v| format!("versions/{v}")));
    DomainError::CertificateNotFound { name }.into()
}

/// `name`, then `/{version}` when a version was asked for (how a refusal names it).
pub(crate) fn versioned(name: &str, version: Option<impl std::fmt::Display>) -> String {
    match version {
        Some(v) => format!("{name}/{v}"),
        None => name.to_owned(),
    }
}

/// Runs blocking crypto on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("{what} task failed: {e}")))?
}
