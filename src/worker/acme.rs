//! The ACME provider (RFC 8555): drives one pending request through an order at an ACME CA,
//! one recorded step at a time, through the same certificate service as HTTP.
//!
//! Every step is an event on the certificate's stream (account, order URL, valid
//! authorizations, finalization, download), so after a crash the worker resumes the order
//! it recorded instead of placing a second one. The request's own CSR (and so its key) is
//! what the CA signs. This module never writes views and never holds private keys in
//! events: the account credentials are sealed under the master key in `<data_dir>/acme`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    ExternalAccountKey, HttpClient, Identifier, NewAccount, NewOrder, Order, OrderStatus,
    RetryPolicy,
};

use crate::config::{AcmeSettings, ProviderKind, ProviderSettings};
use crate::crypto;
use crate::domain::certificate::AcmeStep;
use crate::domain::names::ObjectName;
use crate::projections::pending_operations::PendingRow;
use crate::service::certificates::{Caller, CertificateService};
use crate::service::keys::{write_private_file, KeyStore};
use crate::service::{load_certificate, ServiceError};

/// Environment variable naming an ACME event type after which the worker stops driving
/// (a fault-injection point for crash tests: the process is then killed and restarted).
pub const HALT_AFTER_ENV: &str = "CERTBROKER_ACME_HALT_AFTER";

/// Checks an ACME provider's settings at start-up.
pub fn validate_provider(name: &str, p: &ProviderSettings) -> Result<(), String> {
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
        && URL_SAFE_NO_PAD
            .decode(p.eab_hmac_key.expose().trim_end_matches('='))
            .is_err()
    {
        return Err(format!("providers.{name}.eab_hmac_key is not base64url"));
    }
    Ok(())
}

/// HTTP-01 key authorizations to publish, by token. Shared with the challenge listener.
#[derive(Clone, Default)]
pub struct ChallengeStore(Arc<RwLock<HashMap<String, String>>>);

impl ChallengeStore {
    /// The key authorization for `token`, if one is being validated.
    pub fn get(&self, token: &str) -> Option<String> {
        self.0.read().ok().and_then(|m| m.get(token).cloned())
    }

    fn put(&self, token: &str, key_authorization: String) {
        if let Ok(mut m) = self.0.write() {
            m.insert(token.to_owned(), key_authorization);
        }
    }

    fn remove(&self, token: &str) {
        if let Ok(mut m) = self.0.write() {
            m.remove(token);
        }
    }
}

/// instant-acme's HTTP through reqwest on OpenSSL, trusting an extra CA if configured.
struct ReqwestHttp(reqwest::Client);

impl HttpClient for ReqwestHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>>
    {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let url = parts.uri.to_string();
            let rsp = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut out = http::Response::builder().status(rsp.status());
            for (k, v) in rsp.headers() {
                out = out.header(k, v);
            }
            let bytes = rsp
                .bytes()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let rsp = out.body(Full::new(bytes))?;
            Ok(BytesResponse::from(rsp))
        })
    }
}

/// An instant-acme HTTP client over reqwest/OpenSSL trusting the system roots and the
/// PEM certificates in `extra_ca_pem` (for tools and tests that talk to a CA directly).
pub fn http_client(extra_ca_pem: Option<&[u8]>) -> anyhow::Result<Box<dyn HttpClient>> {
    let mut b = reqwest::Client::builder();
    if let Some(pem) = extra_ca_pem {
        for c in reqwest::Certificate::from_pem_bundle(pem)? {
            b = b.add_root_certificate(c);
        }
    }
    Ok(Box::new(ReqwestHttp(b.build()?)))
}

/// The path of provider `provider`'s sealed account credentials under `data_dir`, and the
/// associated data they are sealed with.
pub fn account_file(
    data_dir: &std::path::Path,
    provider: &str,
    directory_url: &str,
) -> (PathBuf, String) {
    let digest = hex::encode(crypto::seal::sha256(directory_url.as_bytes()));
    (
        data_dir
            .join("acme")
            .join(format!("{provider}-{}.account.sealed", &digest[..16])),
        format!("acme-account:{provider}"),
    )
}

/// Why a step did not go through.
#[derive(Debug)]
enum Failure {
    /// The CA said no, or cannot be used as configured: the request fails.
    Permanent(String),
    /// Our side broke (database, sealing): retry next round.
    Internal(anyhow::Error),
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        Failure::Internal(e.into())
    }
}

enum Kind {
    Transient(String),
    Permanent(String),
}

fn problem_text(p: &instant_acme::Problem) -> String {
    let mut s = match (&p.r#type, &p.detail) {
        (Some(t), Some(d)) => format!("{d} ({t})"),
        (None, Some(d)) => d.clone(),
        (Some(t), None) => t.clone(),
        (None, None) => "an unspecified problem".into(),
    };
    for sub in &p.subproblems {
        if let Some(d) = &sub.detail {
            s.push_str("; ");
            s.push_str(d);
        }
    }
    s
}

fn classify(e: instant_acme::Error) -> Kind {
    use instant_acme::Error as E;
    match e {
        E::Api(p) => {
            let transient = p.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce")
                || p.status.is_some_and(|s| s >= 500);
            if transient {
                Kind::Transient(problem_text(&p))
            } else {
                Kind::Permanent(problem_text(&p))
            }
        }
        E::Other(inner) => {
            // Our HTTP client's failures (refused, reset, TLS) are worth another try;
            // anything else instant-acme reports this way is not.
            if inner.is::<reqwest::Error>() {
                let mut msg = inner.to_string();
                let mut src = inner.source();
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                Kind::Transient(msg)
            } else {
                Kind::Permanent(inner.to_string())
            }
        }
        E::Timeout(_) => Kind::Transient("timed out waiting for the CA".into()),
        E::Json(e) => Kind::Permanent(format!(
            "the server did not answer with ACME JSON ({e}); check the directory URL"
        )),
        other => Kind::Permanent(other.to_string()),
    }
}

async fn restore(http: reqwest::Client, json: &[u8]) -> Result<Account, instant_acme::Error> {
    let creds: AccountCredentials = serde_json::from_slice(json)?;
    Account::builder_with_http(Box::new(ReqwestHttp(http)))
        .from_credentials(creds)
        .await
}

/// Drives ACME-backed requests.
pub struct AcmeDriver {
    certificates: CertificateService,
    keys: Arc<KeyStore>,
    data_dir: PathBuf,
    settings: AcmeSettings,
    challenges: ChallengeStore,
    accounts: tokio::sync::Mutex<HashMap<String, Account>>,
    retries: AtomicU64,
    halt_after: Option<String>,
}

/// Retries `$call` (an expression making a future) on transient failures with backoff.
macro_rules! retry {
    ($self:expr, $directory:expr, $call:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            match $call.await {
                Ok(v) => break Ok(v),
                Err(e) => match classify(e) {
                    Kind::Transient(m) if attempt + 1 < $self.settings.retry_attempts.max(1) => {
                        tracing::info!(error = %m, attempt, "transient ACME failure; retrying");
                        $self.retries.fetch_add(1, Ordering::Relaxed);
                        let backoff = $self.settings.retry_base_ms.saturating_mul(1u64 << attempt.min(10));
                        tokio::time::sleep(Duration::from_millis(backoff)).await;
                        attempt += 1;
                    }
                    Kind::Transient(m) => {
                        break Err(Failure::Permanent(format!(
                            "The ACME CA at {} could not be used after {} attempts: {m}",
                            $directory,
                            attempt + 1
                        )))
                    }
                    Kind::Permanent(m) => {
                        break Err(Failure::Permanent(format!(
                            "The ACME CA at {} refused the request: {m}",
                            $directory
                        )))
                    }
                },
            }
        }
    }};
}

impl AcmeDriver {
    /// A driver publishing HTTP-01 answers into `challenges`.
    pub fn new(
        certificates: CertificateService,
        keys: Arc<KeyStore>,
        data_dir: PathBuf,
        settings: AcmeSettings,
        challenges: ChallengeStore,
    ) -> Self {
        AcmeDriver {
            certificates,
            keys,
            data_dir,
            settings,
            challenges,
            accounts: tokio::sync::Mutex::new(HashMap::new()),
            retries: AtomicU64::new(0),
            halt_after: std::env::var(HALT_AFTER_ENV).ok().filter(|s| !s.is_empty()),
        }
    }

    /// How many transient failures were retried since start.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    fn http(&self, p: &ProviderSettings) -> Result<ReqwestHttp, Failure> {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10));
        if !p.ca_file.is_empty() {
            let pem = std::fs::read(&p.ca_file).map_err(|e| {
                Failure::Permanent(format!(
                    "The ACME provider's ca_file {} cannot be read: {e}",
                    p.ca_file
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Failure::Permanent(format!(
                    "The ACME provider's ca_file {} is not PEM: {e}",
                    p.ca_file
                ))
            })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        b.build()
            .map(ReqwestHttp)
            .map_err(|e| Failure::Internal(e.into()))
    }

    fn account_path(&self, provider: &str, p: &ProviderSettings) -> PathBuf {
        account_file(&self.data_dir, provider, &p.directory_url).0
    }

    /// The provider's account: cached, restored from its sealed credentials, or registered.
    async fn account(&self, provider: &str, p: &ProviderSettings) -> Result<Account, Failure> {
        let mut cache = self.accounts.lock().await;
        if let Some(a) = cache.get(provider) {
            return Ok(a.clone());
        }
        let (path, aad) = account_file(&self.data_dir, provider, &p.directory_url);
        let dir = p.directory_url.clone();
        let account = if path.exists() {
            let sealed = std::fs::read(&path).map_err(|e| Failure::Internal(e.into()))?;
            let json = self.keys.unseal(&aad, &sealed)?;
            let http = self.http(p)?;
            retry!(self, dir, restore(http.0.clone(), &json))?
        } else {
            let http = self.http(p)?;
            let contact =
                (!p.contact_email.is_empty()).then(|| format!("mailto:{}", p.contact_email));
            let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
            let eab = if p.eab_kid.is_empty() {
                None
            } else {
                let key = URL_SAFE_NO_PAD
                    .decode(p.eab_hmac_key.expose().trim_end_matches('='))
                    .map_err(|e| Failure::Permanent(format!("eab_hmac_key: {e}")))?;
                Some(ExternalAccountKey::new(p.eab_kid.clone(), &key))
            };
            let (account, creds) = retry!(
                self,
                dir,
                Account::builder_with_http(Box::new(ReqwestHttp(http.0.clone()))).create(
                    &NewAccount {
                        contact: &contacts,
                        terms_of_service_agreed: true,
                        only_return_existing: false,
                    },
                    dir.clone(),
                    eab.as_ref(),
                )
            )?;
            let json = serde_json::to_vec(&creds).map_err(|e| Failure::Internal(e.into()))?;
            let sealed = self.keys.seal(&aad, &json)?;
            let _ = std::fs::remove_file(&path);
            write_private_file(&path, &sealed).map_err(Failure::Internal)?;
            account
        };
        cache.insert(provider.to_owned(), account.clone());
        Ok(account)
    }
}

/// The order identifiers for a CSR: its DNS names and its subject CN, deduplicated.
fn identifiers(csr_der: &[u8]) -> Result<Vec<Identifier>, Failure> {
    let info = crypto::csr::csr_info(csr_der).map_err(|e| Failure::Permanent(e.to_string()))?;
    let mut names: Vec<String> = Vec::new();
    for n in info.subject_cn.iter().chain(info.dns_names.iter()) {
        let n = n.to_ascii_lowercase();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    if names.is_empty() {
        return Err(Failure::Permanent(
            "The request names no DNS name; an ACME CA certifies DNS names only.".into(),
        ));
    }
    Ok(names.into_iter().map(Identifier::Dns).collect())
}

fn step_name(step: &AcmeStep) -> &'static str {
    match step {
        AcmeStep::AccountRegistered { .. } => "AcmeAccountRegistered",
        AcmeStep::OrderPlaced { .. } => "AcmeOrderPlaced",
        AcmeStep::AuthorizationValid { .. } => "AcmeAuthorizationValid",
        AcmeStep::Finalized => "AcmeOrderFinalized",
        AcmeStep::CertificateDownloaded { .. } => "AcmeCertificateDownloaded",
    }
}

/// What a request's drive needs to know.
struct Job<'a> {
    caller: Caller,
    name: ObjectName,
    row: &'a PendingRow,
    provider: &'a str,
    settings: &'a ProviderSettings,
}

impl AcmeDriver {
    /// Moves `row`'s request one recorded step further at ACME provider `provider`.
    /// Returns whether anything was recorded.
    pub async fn drive(
        &self,
        row: &PendingRow,
        provider: &str,
        settings: &ProviderSettings,
    ) -> anyhow::Result<bool> {
        let job = Job {
            caller: Caller::system(&row.vault, super::ACTOR),
            name: ObjectName::parse("certificate", &row.name)?,
            row,
            provider,
            settings,
        };
        let state =
            load_certificate(&self.certificates.shared().pool, &row.vault, &row.name).await?;
        let progress = state
            .acme_progress()
            .filter(|a| a.request_id == row.request_id)
            .cloned()
            .unwrap_or_default();
        if row.cancellation_requested {
            if let Some(order_url) = &progress.order_url {
                if let Err(e) = self.deactivate(&job, order_url).await {
                    tracing::warn!(error = ?e, order = %order_url,
                        "could not deactivate the ACME authorizations of a cancelled request");
                }
            }
            return settle(
                self.certificates
                    .honour_cancellation(&job.caller, &job.name, row.request_id.clone())
                    .await,
            );
        }
        match self.advance(&job, &progress).await {
            Ok(()) => Ok(true),
            Err(Failure::Permanent(message)) => {
                if message.contains("accountDoesNotExist") {
                    // The CA forgot the account (a test CA restarted): register anew next time.
                    self.accounts.lock().await.remove(provider);
                    let _ = std::fs::remove_file(self.account_path(provider, settings));
                }
                settle(
                    self.certificates
                        .fail_issuance(&job.caller, &job.name, row.request_id.clone(), message)
                        .await,
                )
            }
            Err(Failure::Internal(e)) => match e.downcast::<ServiceError>() {
                // The request moved on (cancelled, deleted, replaced) while we worked.
                Ok(ServiceError::Domain(d)) => {
                    tracing::info!(reason = %d, "ACME request changed while it was driven");
                    Ok(false)
                }
                Ok(other) => Err(other.into()),
                Err(e) => Err(e),
            },
        }
    }

    async fn record(&self, job: &Job<'_>, step: AcmeStep) -> Result<(), Failure> {
        let kind = step_name(&step);
        self.certificates
            .record_acme_step(&job.caller, &job.name, job.row.request_id.clone(), step)
            .await
            .map_err(|e| Failure::Internal(e.into()))?;
        if self.halt_after.as_deref() == Some(kind) {
            tracing::warn!(
                step = kind,
                "halting the ACME worker as {HALT_AFTER_ENV} asks"
            );
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    fn poll_policy(&self) -> RetryPolicy {
        RetryPolicy::new()
            .initial_delay(Duration::from_millis(20))
            .backoff(1.5)
            .timeout(Duration::from_secs(
                self.settings.poll_timeout_seconds.max(1),
            ))
    }

    async fn advance(
        &self,
        job: &Job<'_>,
        progress: &crate::domain::certificate::AcmeProgress,
    ) -> Result<(), Failure> {
        let dir = job.settings.directory_url.as_str();
        let account = self.account(job.provider, job.settings).await?;
        if progress.account_url.is_none() {
            let step = AcmeStep::AccountRegistered {
                provider: job.provider.to_owned(),
                account_url: account.id().to_owned(),
            };
            self.record(job, step).await?;
        }
        let csr = STANDARD
            .decode(&job.row.csr)
            .map_err(|e| Failure::Internal(e.into()))?;
        let Some(order_url) = progress.order_url.clone() else {
            let ids = identifiers(&csr)?;
            let order = retry!(self, dir, account.new_order(&NewOrder::new(&ids)))?;
            let order_url = order.url().to_owned();
            tracing::info!(order = %order_url, certificate = %job.row.name, "ACME order placed");
            return self.record(job, AcmeStep::OrderPlaced { order_url }).await;
        };
        let mut order = retry!(self, dir, account.order(order_url.clone()))?;
        let mut finalized = progress.finalized;
        loop {
            let status = order.state().status;
            match status {
                OrderStatus::Pending => {
                    let tokens = self.answer_challenges(&mut order, dir).await?;
                    let polled = retry!(self, dir, order.poll_ready(&self.poll_policy()));
                    for t in &tokens {
                        self.challenges.remove(t);
                    }
                    let polled = polled?;
                    if polled == OrderStatus::Invalid {
                        return Err(Failure::Permanent(
                            self.invalid_reason(&mut order, dir).await,
                        ));
                    }
                    self.record_valid_authorizations(job, &mut order, dir, progress)
                        .await?;
                }
                OrderStatus::Ready => {
                    retry!(self, dir, order.finalize_csr(&csr))?;
                    finalized = true;
                    self.record(job, AcmeStep::Finalized).await?;
                }
                OrderStatus::Processing | OrderStatus::Valid => {
                    if !finalized {
                        // Finalized before a crash, but the event was not recorded.
                        self.record(job, AcmeStep::Finalized).await?;
                    }
                    let pem = retry!(self, dir, order.poll_certificate(&self.poll_policy()))?;
                    let certificate_url = order.state().certificate.clone().unwrap_or_default();
                    self.record(job, AcmeStep::CertificateDownloaded { certificate_url })
                        .await?;
                    let chain = crypto::x509::certs_from_pem(pem.as_bytes()).map_err(|e| {
                        Failure::Permanent(format!(
                            "The ACME CA sent a certificate that cannot be read: {e}"
                        ))
                    })?;
                    check_leaf_key(&chain, &job.row.public_key)?;
                    self.certificates
                        .complete_issuance(
                            &job.caller,
                            &job.name,
                            job.row.request_id.clone(),
                            chain,
                        )
                        .await
                        .map_err(|e| Failure::Internal(e.into()))?;
                    return Ok(());
                }
                OrderStatus::Invalid => {
                    return Err(Failure::Permanent(
                        self.invalid_reason(&mut order, dir).await,
                    ))
                }
            }
        }
    }

    /// Fetches every authorization of `order` that is not yet known, retrying transient
    /// failures; later iterations then read the fetched states without network.
    async fn load_authorizations(&self, order: &mut Order, dir: &str) -> Result<(), Failure> {
        let mut attempt: u32 = 0;
        'again: loop {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let Err(e) = authz else { continue };
                match classify(e) {
                    Kind::Transient(_) if attempt + 1 < self.settings.retry_attempts.max(1) => {
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        let backoff = self
                            .settings
                            .retry_base_ms
                            .saturating_mul(1u64 << attempt.min(10));
                        tokio::time::sleep(Duration::from_millis(backoff)).await;
                        attempt += 1;
                        continue 'again;
                    }
                    Kind::Transient(m) | Kind::Permanent(m) => {
                        return Err(Failure::Permanent(format!(
                            "The ACME CA at {dir} did not return an authorization: {m}"
                        )))
                    }
                }
            }
            return Ok(());
        }
    }

    /// Publishes the HTTP-01 answer of every pending authorization and tells the CA it is
    /// ready. Returns the tokens published.
    async fn answer_challenges(
        &self,
        order: &mut Order,
        dir: &str,
    ) -> Result<Vec<String>, Failure> {
        self.load_authorizations(order, dir).await?;
        let mut tokens = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = match authz {
                Ok(a) => a,
                Err(e) => {
                    return Err(match classify(e) {
                        Kind::Transient(m) | Kind::Permanent(m) => Failure::Permanent(format!(
                            "The ACME CA at {dir} did not return an authorization: {m}"
                        )),
                    })
                }
            };
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            let identifier = authz.identifier().to_string();
            let Some(mut challenge) = authz.challenge(ChallengeType::Http01) else {
                return Err(Failure::Permanent(format!(
                    "The ACME CA at {dir} offers no http-01 challenge for {identifier}."
                )));
            };
            let token = challenge.token.clone();
            self.challenges
                .put(&token, challenge.key_authorization().as_str().to_owned());
            tokens.push(token);
            retry!(self, dir, challenge.set_ready())?;
        }
        Ok(tokens)
    }

    async fn record_valid_authorizations(
        &self,
        job: &Job<'_>,
        order: &mut Order,
        dir: &str,
        progress: &crate::domain::certificate::AcmeProgress,
    ) -> Result<(), Failure> {
        self.load_authorizations(order, dir).await?;
        let mut valid = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let authz = authz.map_err(|e| match classify(e) {
                Kind::Transient(m) | Kind::Permanent(m) => {
                    Failure::Permanent(format!("The ACME CA at {dir}: {m}"))
                }
            })?;
            if authz.status == AuthorizationStatus::Valid
                && !progress
                    .valid_authorizations
                    .iter()
                    .any(|u| u == authz.url())
            {
                valid.push((authz.url().to_owned(), authz.identifier().to_string()));
            }
        }
        for (authorization_url, identifier) in valid {
            let step = AcmeStep::AuthorizationValid {
                authorization_url,
                identifier,
            };
            self.record(job, step).await?;
        }
        Ok(())
    }

    /// Why an order is invalid, from its own error and its authorizations' challenges.
    async fn invalid_reason(&self, order: &mut Order, dir: &str) -> String {
        let mut reasons = Vec::new();
        if let Some(e) = &order.state().error {
            reasons.push(problem_text(e));
        }
        let _ = self.load_authorizations(order, dir).await;
        let mut authorizations = order.authorizations();
        while let Some(Ok(authz)) = authorizations.next().await {
            for c in &authz.challenges {
                if let Some(e) = &c.error {
                    reasons.push(format!("{}: {}", authz.identifier(), problem_text(e)));
                }
            }
        }
        if reasons.is_empty() {
            reasons.push("the order became invalid".into());
        }
        format!(
            "The ACME CA at {dir} refused the request: {}",
            reasons.join("; ")
        )
    }

    /// Deactivates the order's pending or valid authorizations (RFC 8555 §7.5.2).
    async fn deactivate(&self, job: &Job<'_>, order_url: &str) -> Result<(), Failure> {
        let dir = job.settings.directory_url.as_str();
        let account = self.account(job.provider, job.settings).await?;
        let mut order = retry!(self, dir, account.order(order_url.to_owned()))?;
        self.load_authorizations(&mut order, dir).await?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let Ok(mut authz) = authz else { continue };
            if matches!(
                authz.status,
                AuthorizationStatus::Pending | AuthorizationStatus::Valid
            ) {
                retry!(self, dir, authz.deactivate())?;
            }
        }
        Ok(())
    }
}

/// The CA must have certified the request's own key.
fn check_leaf_key(chain: &[Vec<u8>], public_key_b64: &str) -> Result<(), Failure> {
    let leaf = chain
        .first()
        .ok_or_else(|| Failure::Permanent("The ACME CA sent an empty certificate chain.".into()))?;
    let info = crypto::x509::cert_info(leaf)
        .map_err(|e| Failure::Permanent(format!("The ACME CA's certificate: {e}")))?;
    let expected = STANDARD
        .decode(public_key_b64)
        .map_err(|e| Failure::Internal(e.into()))?;
    if info.public_key_der != expected {
        return Err(Failure::Permanent(
            "The ACME CA certified a key other than the request's.".into(),
        ));
    }
    Ok(())
}

fn settle(r: Result<(), ServiceError>) -> anyhow::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(ServiceError::Domain(e)) => {
            tracing::info!(reason = %e, "pending request changed before the worker acted");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
