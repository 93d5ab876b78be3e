//! Settings: the embedded `config/default.toml`, then an optional file (`--config`), then
//! environment variables `CERTBROKER__SECTION__KEY`. Unknown keys fail start-up.
//! Secrets are [`Secret`], whose `Debug` is redacted.
//!
//! Why one file of some 700 lines: every configuration key is declared, documented and
//! validated here, section by section in the order of `config/default.toml`, so the two
//! can be read side by side; split by section, the validation that crosses sections
//! (aliases naming providers, limits) would have no one home.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The defaults, embedded in the binary.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// A value never printed by `Debug`.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(v: T) -> Self {
        Secret(v)
    }
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub tls: TlsSettings,
    pub auth: AuthSettings,
    pub seal: SealSettings,
    pub ca: CaSettings,
    pub worker: WorkerSettings,
    pub log: LogSettings,
    pub providers: BTreeMap<String, ProviderSettings>,
    /// Key Vault's partner provider names (`DigiCert`, `GlobalSign`, `Test`, ...) and the
    /// configured provider that issues for an issuer naming each.
    pub provider_aliases: BTreeMap<String, String>,
    pub vaults: VaultSettings,
    pub soft_delete: SoftDeleteSettings,
    pub audit: AuditSettings,
    #[serde(default)]
    pub acme: AcmeSettings,
    #[serde(default)]
    pub notifications: NotificationSettings,
    // operating certbroker
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub clock: ClockSettings,
    #[serde(default)]
    pub seed: SeedSettings,
    pub limits: LimitSettings,
    // unchanged Azure clients
    pub identity: IdentitySettings,
    #[serde(default)]
    pub keys: KeySettings,
}

/// The server's clock.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockSettings {
    /// Admins may move the clock forward (`POST /admin/clock/advance`), for tests.
    pub adjustable: bool,
}

/// What the server creates at start on a data directory that does not have it yet.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedSettings {
    /// A seed file (TOML) of issuers, contacts and certificates (empty: none).
    pub file: String,
}

/// What one client may cost: connection and TLS limits, the request head's size, and how
/// refused requests are rate-limited and recorded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Connections each HTTP worker holds at most (beyond: not accepted until one closes).
    pub max_connections: usize,
    /// TLS handshakes in progress per HTTP worker at most.
    pub max_connection_rate: usize,
    /// A connection that has not finished its TLS handshake by then is closed (ms).
    pub tls_handshake_timeout_ms: u64,
    /// A connection whose first request head has not arrived by then gets 408 (ms).
    pub client_request_timeout_ms: u64,
    /// Time a client has to close after the server closed its side (ms).
    pub client_disconnect_timeout_ms: u64,
    /// An idle keep-alive connection is closed after this many seconds (0: no keep-alive).
    pub keep_alive_seconds: u64,
    /// Pending connections the kernel queues for the listener.
    pub backlog: u32,
    /// Largest request head (request line and headers) accepted, in bytes (larger: 431).
    pub max_header_bytes: usize,
    /// Requests refused for want of a valid token that one source address (an IPv6 /64)
    /// may make per second, on average; beyond it: 429 with Retry-After.
    pub unauthenticated_per_second: u32,
    /// How many such requests a source may make at once before the average applies.
    pub unauthenticated_burst: u32,
    /// Refusals (401, 403, 429) alike in source, caller, answer and certificate within
    /// this many seconds are one audit record with a count (0: one record per refusal,
    /// written at once).
    pub refusal_window_seconds: u64,
    /// Distinct refusal records one source may open per window; more are counted in one.
    pub refusal_kinds_per_source: usize,
    /// Sources tracked per window; more are counted in one record for all of them.
    pub refusal_sources_max: usize,
    /// Characters of the request path a refusal record keeps.
    pub refusal_path_chars: usize,
    /// Characters of the client's `x-ms-client-request-id` a refusal record keeps.
    pub refusal_request_id_chars: usize,
}

/// Access tokens for unchanged Azure clients: the managed-identity endpoints, OAuth client
/// credentials, and what the az CLI asks of a cloud.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// A plain-HTTP loopback listener serving the managed-identity routes only (empty: none).
    pub http_listen: String,
    /// The tenant GUID (empty: one made at first start, kept in `<data_dir>/identity`).
    pub tenant_id: String,
    /// Lifetime of the access tokens minted, in seconds.
    pub token_lifetime_seconds: i64,
    /// The token name IMDS-style requests (which carry no secret) get tokens for (empty:
    /// IMDS requests without an identity header are refused).
    pub imds_identity: String,
    /// Audiences accepted on the Key Vault routes besides `auth.resource`.
    pub vault_audiences: Vec<String>,
    /// Audiences accepted on the resource-manager routes (`/subscriptions`, `/tenants`).
    pub arm_audiences: Vec<String>,
    /// Workload-identity issuers whose assertions the token endpoint accepts.
    pub federated: Vec<FederatedIdentity>,
}

/// A federated credential: assertions from `issuer` about `subject`, signed by the key in
/// `key_file`, sent with client id `client_id`, get tokens for `name` with `role`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedIdentity {
    pub name: String,
    pub role: String,
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    /// PEM public key (or certificate) of the issuer (RS256 or ES256).
    pub key_file: String,
    #[serde(default = "default_federated_audience")]
    pub audience: String,
}

fn default_federated_audience() -> String {
    "api://AzureADTokenExchange".to_owned()
}

/// Keys made ahead of requests (`[keys]`, `[keys.pool]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// Background threads making pooled keys (0: no pool).
    pub pool_threads: usize,
    /// Keys kept ready per key type (`rsa-2048`, `rsa-3072`, `rsa-4096`, `ec-p256`,
    /// `ec-p384`, `ec-p521`, `ec-p256k`); absent or 0: made inline.
    #[serde(default)]
    pub pool: BTreeMap<String, usize>,
}

/// Who may read `GET /metrics` besides admins.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// SHA-256 (lowercase hex) of a bearer token that may read `GET /metrics` and nothing
    /// else (empty: admins only).
    pub token_sha256: String,
}

/// Which request hosts name which vault.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSettings {
    /// Vault names served: a host whose first label is one of them names that vault.
    pub names: Vec<String>,
    /// Any `<name>.localhost` host names vault `<name>` without being listed.
    pub localhost_names: bool,
}

/// Soft-delete of certificates.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SoftDeleteSettings {
    /// Days a deleted certificate stays recoverable before it is purged (7-90).
    pub retention_days: i64,
}

/// What the server does at start when the tail of the hash chain does not verify.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BrokenChainAction {
    /// Log the broken position and refuse to start.
    Refuse,
    /// Log the broken position and start anyway.
    Warn,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    pub on_broken_chain: BrokenChainAction,
    pub check_tail_rows: i64,
}

/// Server-wide ACME client settings (each ACME provider names its CA in `providers`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeSettings {
    /// Plain-HTTP listener answering `/.well-known/acme-challenge/{token}` (empty: none).
    pub http01_listen: String,
    /// Attempts at one ACME call when the CA is unreachable or answers badNonce/5xx.
    pub retry_attempts: u32,
    /// First backoff between attempts, in milliseconds (doubles each time).
    pub retry_base_ms: u64,
    /// How long one worker round waits for a CA to validate or issue, in seconds.
    pub poll_timeout_seconds: u64,
}

impl Default for AcmeSettings {
    fn default() -> Self {
        AcmeSettings {
            http01_listen: String::new(),
            retry_attempts: 5,
            retry_base_ms: 200,
            poll_timeout_seconds: 30,
        }
    }
}

/// Where lifetime-action notifications (`EmailContacts`) go besides the event log.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationSettings {
    /// URL that receives each notification as a JSON POST (empty: events only).
    pub webhook_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub retry_after_seconds: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    /// Empty: the SQLite file in `data_dir`; `postgres://` or `postgresql://`: PostgreSQL.
    pub url: Secret<String>,
    pub max_batch: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert_file: String,
    pub key_file: String,
    pub extra_names: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedToken {
    pub name: String,
    /// SHA-256 of the token, lowercase hex.
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub token: Secret<String>,
    pub tokens: Vec<NamedToken>,
    pub authorization_uri: String,
    pub resource: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SealSettings {
    pub master_key: Secret<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaSettings {
    pub cert_file: String,
    pub key_file: String,
    pub common_name: String,
    pub validity_days: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    pub enabled: bool,
    pub interval_ms: u64,
    pub batch: i64,
    /// How long a replica's lease on a job lasts unless renewed, in seconds: how soon
    /// another replica takes over the jobs of one that died.
    pub lease_seconds: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// The kinds of provider an issuer object can name.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// certbroker's own CA.
    LocalCa,
    /// An RFC 8555 ACME CA (Let's Encrypt, Pebble, ...).
    Acme,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    #[serde(default)]
    pub approval_required: bool,
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    #[serde(default = "default_max_validity")]
    pub max_validity_months: u32,
    /// Key types a request may use ("RSA", "EC"; empty: any).
    #[serde(default)]
    pub allowed_key_types: Vec<String>,
    /// ACME: the CA's directory URL.
    #[serde(default)]
    pub directory_url: String,
    /// ACME: the account's contact e-mail address (optional).
    #[serde(default)]
    pub contact_email: String,
    /// ACME: external account binding key id (optional).
    #[serde(default)]
    pub eab_kid: String,
    /// ACME: external account binding HMAC key, base64url (with `eab_kid`).
    #[serde(default)]
    pub eab_hmac_key: Secret<String>,
    /// ACME: PEM file of an extra CA to trust for the ACME server's TLS.
    #[serde(default)]
    pub ca_file: String,
    /// ACME: the challenge type answered ("http-01").
    #[serde(default = "default_challenge")]
    pub challenge: String,
}

fn default_challenge() -> String {
    "http-01".into()
}

fn default_max_validity() -> u32 {
    24
}

/// Checks an ACME provider's settings.
fn validate_acme_provider(name: &str, p: &ProviderSettings) -> Result<(), String> {
    use base64::Engine;
    if p.kind != ProviderKind::Acme {
        return Ok(());
    }
    if p.directory_url.trim().is_empty() {
        return Err(format!(
            "providers.{name}.directory_url is required for kind \"acme\""
        ));
    }
    if p.challenge != "http-01" {
        return Err(format!(
            "providers.{name}.challenge '{}' is not supported; use \"http-01\"",
            p.challenge
        ));
    }
    if p.eab_kid.is_empty() != p.eab_hmac_key.expose().is_empty() {
        return Err(format!(
            "providers.{name}.eab_kid and eab_hmac_key must be given together"
        ));
    }
    if !p.eab_hmac_key.expose().is_empty()
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p.eab_hmac_key.expose().trim_end_matches('='))
            .is_err()
    {
        return Err(format!("providers.{name}.eab_hmac_key is not base64url"));
    }
    Ok(())
}

/// What can go wrong loading settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// `providers.aliases` is another spelling of `provider_aliases` (its entries win): moves it
/// there, so that `providers` holds only providers.
fn lift_provider_aliases(mut dict: figment::value::Dict) -> Result<Figment, ConfigError> {
    use figment::value::{Dict, Value};
    let aliases = match dict.get_mut("providers") {
        Some(Value::Dict(_, providers)) => providers.remove("aliases"),
        _ => None,
    };
    match aliases {
        Some(Value::Dict(_, aliases)) => {
            let entry = dict
                .entry("provider_aliases".to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            match entry {
                Value::Dict(_, target) => target.extend(aliases),
                _ => {
                    return Err(ConfigError::Invalid(
                        "provider_aliases must be a table".into(),
                    ))
                }
            }
        }
        Some(_) => {
            return Err(ConfigError::Invalid(
                "providers.aliases must be a table of Key Vault provider names to providers".into(),
            ))
        }
        None => {}
    }
    Ok(Figment::from(figment::providers::Serialized::defaults(
        dict,
    )))
}

impl Settings {
    /// Loads the layers: defaults, `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("CERTBROKER__").split("__"));
        Self::extract(figment)
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let invalid = |e: figment::Error| {
            ConfigError::Invalid(
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        let figment = if figment.find_value("providers.aliases").is_ok() {
            lift_provider_aliases(figment.extract().map_err(invalid)?)?
        } else {
            figment
        };
        let settings: Settings = figment.extract().map_err(invalid)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Loads only the embedded defaults and a TOML string on top (no environment).
    pub fn from_toml(overrides: &str) -> Result<Self, ConfigError> {
        Self::extract(Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(overrides)))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.storage.max_batch == 0 {
            return Err(ConfigError::Invalid(
                "storage.max_batch must be at least 1".into(),
            ));
        }
        if self.tls.cert_file.is_empty() != self.tls.key_file.is_empty() {
            return Err(ConfigError::Invalid(
                "tls.cert_file and tls.key_file must be given together".into(),
            ));
        }
        if self.ca.cert_file.is_empty() != self.ca.key_file.is_empty() {
            return Err(ConfigError::Invalid(
                "ca.cert_file and ca.key_file must be given together".into(),
            ));
        }
        for t in &self.auth.tokens {
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::Invalid(format!(
                    "auth.tokens: the sha256 of token '{}' must be 64 hex characters",
                    t.name
                )));
            }
        }
        let m = &self.metrics.token_sha256;
        if !m.is_empty() && (m.len() != 64 || !m.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(ConfigError::Invalid(
                "metrics.token_sha256 must be 64 hex characters (the SHA-256 of the token)".into(),
            ));
        }
        let l = &self.limits;
        if l.max_connections == 0
            || l.max_connection_rate == 0
            || l.tls_handshake_timeout_ms == 0
            || l.max_header_bytes < 1024
            || l.unauthenticated_per_second == 0
            || l.unauthenticated_burst == 0
            || l.refusal_kinds_per_source == 0
            || l.refusal_sources_max == 0
        {
            return Err(ConfigError::Invalid(
                "limits: max_connections, max_connection_rate, tls_handshake_timeout_ms, \
                 unauthenticated_per_second, unauthenticated_burst, \
                 refusal_kinds_per_source and refusal_sources_max must be at least 1, \
                 max_header_bytes at least 1024"
                    .into(),
            ));
        }
        for name in self.keys.pool.keys() {
            if crate::domain::policy::KEY_TYPES
                .iter()
                .all(|(n, _)| n != name)
            {
                return Err(ConfigError::Invalid(format!(
                    "keys.pool: '{name}' is not a key type (rsa-2048, rsa-3072, rsa-4096, ec-p256, ec-p384, ec-p521, ec-p256k)"
                )));
            }
        }
        if self.keys.pool_threads > 16 {
            return Err(ConfigError::Invalid(
                "keys.pool_threads must be at most 16".into(),
            ));
        }
        if !(7..=90).contains(&self.soft_delete.retention_days) {
            return Err(ConfigError::Invalid(
                "soft_delete.retention_days must be between 7 and 90".into(),
            ));
        }
        for v in &self.vaults.names {
            if !crate::domain::names::valid_vault_name(v) {
                return Err(ConfigError::Invalid(format!(
                    "vaults.names: '{v}' is not a vault name (3-24 letters, digits and '-')"
                )));
            }
        }
        for (name, p) in &self.providers {
            if p.max_validity_months == 0 {
                return Err(ConfigError::Invalid(format!(
                    "providers.{name}.max_validity_months must be at least 1"
                )));
            }
            validate_acme_provider(name, p).map_err(ConfigError::Invalid)?;
        }
        for (alias, target) in &self.provider_aliases {
            if !self.providers.contains_key(target) {
                return Err(ConfigError::Invalid(format!(
                    "provider_aliases.{alias} names '{target}', which is not a configured provider"
                )));
            }
        }
        Ok(())
    }

    /// Settings for tests: data under `dir`, loopback on an ephemeral port, a fixed token
    /// `test-token`, the background worker off (tests drive it with `run_once`), and an
    /// extra provider `local-ca-restricted` that only issues for `example.com`.
    pub fn for_test(dir: &Path) -> Self {
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"
workers = 2
[storage]
data_dir = "{}"
[auth]
token = "test-token"
[worker]
enabled = false
[keys]
pool_threads = 0
[log]
level = "warn"
[limits]
# Tests send hundreds of refused requests from one address; the rate limit has tests of its own.
unauthenticated_burst = 1000000
[providers.local-ca-restricted]
kind = "local-ca"
allowed_domains = ["example.com"]
max_validity_months = 12
"#,
            dir.display()
        );
        match Self::from_toml(&toml) {
            Ok(s) => s,
            Err(e) => panic!("test settings are invalid: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load_and_ship_both_local_providers() {
        let s = Settings::from_toml("").expect("defaults load");
        assert!(s.providers.contains_key("local-ca"));
        assert!(s.providers["local-ca-approval"].approval_required);
        assert_eq!(s.server.listen.port(), 8443);
    }

    #[test]
    fn providers_aliases_is_another_spelling_of_provider_aliases() {
        let s = Settings::from_toml(
            "[providers.aliases]\nDigiCert = \"local-ca-approval\"\n[provider_aliases]\nTest = \"local-ca\"",
        )
        .expect("loads");
        assert_eq!(s.provider_aliases["DigiCert"], "local-ca-approval");
        assert_eq!(s.provider_aliases["Test"], "local-ca");
        assert!(!s.providers.contains_key("aliases"));
        assert!(s.providers.contains_key("local-ca"));
        let err = Settings::from_toml("[providers.aliases]\nDigiCert = \"nowhere\"").unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
    }

    #[test]
    fn unknown_keys_fail_with_the_key_named() {
        let err = Settings::from_toml("[server]\nlisten_addr = \"x\"").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
        let err = Settings::from_toml("[nonsense]\na = 1").unwrap_err();
        assert!(err.to_string().contains("nonsense"), "{err}");
    }

    #[test]
    fn limits_have_working_defaults_and_refuse_zero_bounds() {
        let s = Settings::from_toml("").expect("defaults load");
        assert_eq!(s.limits.max_header_bytes, 16384);
        assert!(
            s.limits.max_connection_rate > 256,
            "above the library's default"
        );
        let s = Settings::from_toml("[limits]\nrefusal_window_seconds = 0").expect("0 is allowed");
        assert_eq!(s.limits.refusal_window_seconds, 0);
        for bad in [
            "max_connections = 0",
            "unauthenticated_burst = 0",
            "max_header_bytes = 10",
        ] {
            let err = Settings::from_toml(&format!("[limits]\n{bad}")).unwrap_err();
            assert!(err.to_string().contains("limits"), "{bad}: {err}");
        }
    }

    #[test]
    fn key_pool_sizes_load_and_unknown_key_types_fail() {
        let s = Settings::from_toml("[keys.pool]\nrsa-4096 = 3").expect("loads");
        assert_eq!(s.keys.pool["rsa-4096"], 3);
        assert_eq!(s.keys.pool["rsa-2048"], 8);
        let err = Settings::from_toml("[keys.pool]\nrsa-1024 = 3").unwrap_err();
        assert!(err.to_string().contains("rsa-1024"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings::from_toml("[auth]\ntoken = \"hunter2\"").expect("loads");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
