//! Driving one pending request through an order at an ACME CA (RFC 8555 §7.4), one
//! recorded step at a time, through the same operations service as HTTP: account, order
//! placed, authorizations valid (HTTP-01 answered), finalized with the request's own CSR,
//! certificate downloaded and checked against the request's key. After a crash the order
//! recorded is resumed, never placed twice.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use instant_acme::{
    AuthorizationStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus, RetryPolicy,
};

use super::problem::{classify, Failure};
use super::retry::with_retry;
use super::AcmeDriver;
use crate::config::ProviderSettings;
use crate::crypto;
use crate::domain::certificate::{AcmeProgress, AcmeStep};
use crate::domain::names::ObjectName;
use crate::projections::pending_operations::PendingRow;
use crate::service::local_ca::domain_allowed;
use crate::service::{Caller, ServiceError};

/// The order identifiers for a CSR: its DNS names and its subject CN, deduplicated; a name
/// outside the provider's `allowed_domains` is refused.
fn identifiers(csr_der: &[u8], job: &Job<'_>) -> Result<Vec<Identifier>, Failure> {
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
    // The provider's allowed domains hold before the CA is asked, as the built-in CA's do.
    let allowed = &job.settings.allowed_domains;
    if let Some(n) = names
        .iter()
        .find(|n| !allowed.is_empty() && !domain_allowed(n, allowed))
    {
        return Err(Failure::Permanent(format!(
            "The provider '{}' may be asked to certify only {} and their subdomains; '{n}' is outside them.",
            job.provider,
            allowed.join(", ")
        )));
    }
    Ok(names.into_iter().map(Identifier::Dns).collect())
}

/// What a request's drive needs to know.
pub struct Job<'a> {
    /// Who the steps are recorded as (the worker, in the request's vault).
    pub caller: Caller,
    pub name: ObjectName,
    pub row: &'a PendingRow,
    /// The provider's name and settings.
    pub provider: &'a str,
    pub settings: &'a ProviderSettings,
}

impl AcmeDriver {
    /// Drives `job`'s request as far as it goes now at its ACME provider, recording each
    /// step. Returns whether anything was recorded.
    pub async fn drive(&self, job: &Job<'_>) -> anyhow::Result<bool> {
        let (row, provider, settings) = (job.row, job.provider, job.settings);
        let progress = self
            .operations
            .acme_progress(&row.vault, &row.name, &row.request_id)
            .await?;
        if row.cancellation_requested {
            if let Some(order_url) = &progress.order_url {
                if let Err(e) = self.deactivate(job, order_url).await {
                    tracing::warn!(error = ?e, order = %order_url,
                        "could not deactivate the ACME authorizations of a cancelled request");
                }
            }
            return super::super::settle(
                self.operations
                    .honour_cancellation(&job.caller, &job.name, row.request_id.clone())
                    .await,
            );
        }
        match self.advance(job, &progress).await {
            Ok(()) => Ok(true),
            Err(Failure::Permanent(message)) => {
                crate::metrics::issuance(provider, "refused", self.since_request(row));
                if message.contains("accountDoesNotExist") {
                    // The CA forgot the account (a test CA restarted): register anew next time.
                    self.forget_account(provider, settings).await;
                }
                super::super::settle(
                    self.operations
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
        let kind = step.event_type();
        self.operations
            .record_acme_step(&job.caller, &job.name, job.row.request_id.clone(), step)
            .await?;
        super::faults::after_step(kind).await;
        Ok(())
    }

    /// Renews the lease this request is driven under before a call to the CA; fails
    /// (nothing more is sent) when another replica took the request over.
    /// Finalizes `order` with `csr` (RFC 8555 §7.4). A finalize is not safe to send twice:
    /// an answer lost on the way (a 5xx, a reset) may hide one the CA took, and the CA
    /// refuses a second as `orderNotReady`. So before each retry the order is read again,
    /// and one that has moved on from `ready` was finalized.
    async fn finalize(&self, order: &mut Order, csr: &[u8], dir: &str) -> Result<(), Failure> {
        let mut retrier = self.retrier(dir);
        loop {
            let Err(e) = order.finalize_csr(csr).await else {
                return Ok(());
            };
            retrier.failed(e).await?;
            if let Ok(state) = order.refresh().await {
                if state.status != OrderStatus::Ready {
                    tracing::info!(order = %order.url(), "the CA took a finalize whose answer was lost");
                    return Ok(());
                }
            }
        }
    }

    async fn renew_lease(&self) -> Result<(), Failure> {
        match crate::es::leases::renew_held().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::Internal(anyhow::anyhow!(
                "another replica took this request over; it drives the order now"
            ))),
            Err(e) => Err(Failure::Internal(e.into())),
        }
    }

    /// Seconds from the request's creation until now: an ACME issuance's whole time.
    fn since_request(&self, row: &PendingRow) -> f64 {
        (self.operations.0.clock.now().timestamp() - row.created_at).max(0) as f64
    }

    fn poll_policy(&self) -> RetryPolicy {
        RetryPolicy::new()
            .initial_delay(Duration::from_millis(20))
            .backoff(1.5)
            .timeout(Duration::from_secs(
                self.settings.poll_timeout_seconds.max(1),
            ))
    }

    async fn advance(&self, job: &Job<'_>, progress: &AcmeProgress) -> Result<(), Failure> {
        let dir = job.settings.directory_url.as_str();
        let started = Instant::now();
        let account = self.account(job.provider, job.settings).await?;
        if progress.account_url.is_none() {
            crate::metrics::acme_step("account", started.elapsed().as_secs_f64());
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
            let ids = identifiers(&csr, job)?;
            self.renew_lease().await?;
            let started = Instant::now();
            let order = with_retry!(self.retrier(dir), account.new_order(&NewOrder::new(&ids)))?;
            crate::metrics::acme_step("order", started.elapsed().as_secs_f64());
            let order_url = order.url().to_owned();
            tracing::info!(order = %order_url, certificate = %job.row.name, "ACME order placed");
            return self.record(job, AcmeStep::OrderPlaced { order_url }).await;
        };
        let mut order = with_retry!(self.retrier(dir), account.order(order_url.clone()))?;
        let mut finalized = progress.finalized;
        loop {
            let status = order.state().status;
            match status {
                OrderStatus::Pending => {
                    self.renew_lease().await?;
                    let started = Instant::now();
                    let tokens = self.answer_challenges(&mut order, dir).await?;
                    let polled =
                        with_retry!(self.retrier(dir), order.poll_ready(&self.poll_policy()));
                    for t in &tokens {
                        if let Err(e) = self.challenges.remove(t).await {
                            tracing::warn!(error = %e, "could not withdraw an HTTP-01 answer");
                        }
                    }
                    let polled = polled?;
                    crate::metrics::acme_step("authorization", started.elapsed().as_secs_f64());
                    if polled == OrderStatus::Invalid {
                        return Err(Failure::Permanent(
                            self.invalid_reason(&mut order, dir).await,
                        ));
                    }
                    self.record_valid_authorizations(job, &mut order, dir, progress)
                        .await?;
                }
                OrderStatus::Ready => {
                    self.renew_lease().await?;
                    let started = Instant::now();
                    self.finalize(&mut order, &csr, dir).await?;
                    crate::metrics::acme_step("finalize", started.elapsed().as_secs_f64());
                    finalized = true;
                    self.record(job, AcmeStep::Finalized).await?;
                }
                OrderStatus::Processing | OrderStatus::Valid => {
                    if !finalized {
                        // Finalized before a crash, but the event was not recorded.
                        self.record(job, AcmeStep::Finalized).await?;
                    }
                    self.renew_lease().await?;
                    let started = Instant::now();
                    let pem = with_retry!(
                        self.retrier(dir),
                        order.poll_certificate(&self.poll_policy())
                    )?;
                    crate::metrics::acme_step("download", started.elapsed().as_secs_f64());
                    let certificate_url = order.state().certificate.clone().unwrap_or_default();
                    self.record(job, AcmeStep::CertificateDownloaded { certificate_url })
                        .await?;
                    let chain = crypto::x509::certs_from_pem(pem.as_bytes()).map_err(|e| {
                        Failure::Permanent(format!(
                            "The ACME CA sent a certificate that cannot be read: {e}"
                        ))
                    })?;
                    check_leaf_key(&chain, &job.row.public_key)?;
                    self.operations
                        .complete_issuance(
                            &job.caller,
                            &job.name,
                            job.row.request_id.clone(),
                            chain,
                        )
                        .await?;
                    crate::metrics::issuance(job.provider, "issued", self.since_request(job.row));
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
        let mut retrier = self.retrier(dir);
        'again: loop {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let Err(e) = authz else { continue };
                match retrier.failed(e).await {
                    Ok(()) => continue 'again,
                    Err(Failure::Permanent(m)) => {
                        return Err(Failure::Permanent(format!(
                            "The ACME CA at {dir} did not return an authorization: {m}"
                        )))
                    }
                    Err(other) => return Err(other),
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
            let mut authz = authz.map_err(|e| {
                Failure::Permanent(format!(
                    "The ACME CA at {dir} did not return an authorization: {}",
                    classify(e).message()
                ))
            })?;
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
                .put(&token, challenge.key_authorization().as_str())
                .await
                .map_err(|e| Failure::Internal(e.into()))?;
            tokens.push(token);
            with_retry!(self.retrier(dir), challenge.set_ready())?;
        }
        Ok(tokens)
    }

    async fn record_valid_authorizations(
        &self,
        job: &Job<'_>,
        order: &mut Order,
        dir: &str,
        progress: &AcmeProgress,
    ) -> Result<(), Failure> {
        self.load_authorizations(order, dir).await?;
        let mut valid = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let authz = authz.map_err(|e| {
                Failure::Permanent(format!("The ACME CA at {dir}: {}", classify(e).message()))
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
            reasons.push(super::problem::problem_text(e));
        }
        let _ = self.load_authorizations(order, dir).await;
        let mut authorizations = order.authorizations();
        while let Some(Ok(authz)) = authorizations.next().await {
            for c in &authz.challenges {
                if let Some(e) = &c.error {
                    reasons.push(format!(
                        "{}: {}",
                        authz.identifier(),
                        super::problem::problem_text(e)
                    ));
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
        let mut order = with_retry!(self.retrier(dir), account.order(order_url.to_owned()))?;
        self.load_authorizations(&mut order, dir).await?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let Ok(mut authz) = authz else { continue };
            if matches!(
                authz.status,
                AuthorizationStatus::Pending | AuthorizationStatus::Valid
            ) {
                // Best effort (the request is cancelled either way): one try.
                authz.deactivate().await.map_err(|e| {
                    Failure::Permanent(format!(
                        "The ACME CA at {dir} did not deactivate an authorization: {}",
                        classify(e).message()
                    ))
                })?;
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
