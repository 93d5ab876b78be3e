//! The worker: finds pending requests that need a provider's action and drives them
//! through the same certificate service as HTTP (never writing views itself). It keeps no
//! state of its own, so after a restart it picks up where the views say it was.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::config::{ProviderKind, ProviderSettings};
use crate::domain::names::ObjectName;
use crate::projections::pending_operations::{self, PendingRow};
use crate::service::certificates::{Caller, CertificateService};
use crate::service::local_ca::{IssueError, LocalCa};

pub mod acme;
pub mod lifetime;

/// The actor name recorded on the worker's events.
pub const ACTOR: &str = "worker";

/// Drives provider-backed requests.
#[derive(Clone)]
pub struct Worker {
    certificates: CertificateService,
    ca: Arc<LocalCa>,
    providers: Arc<BTreeMap<String, ProviderSettings>>,
    batch: i64,
    /// Purges deleted certificates at the end of their retention.
    keyvault: Option<crate::service::keyvault::KeyVaultService>,
    // ACME and lifetime actions
    acme: Option<Arc<acme::AcmeDriver>>,
    webhook: Option<(reqwest::Client, String)>,
}

impl Worker {
    /// A worker over the certificate service, the built-in CA and the providers.
    pub fn new(
        certificates: CertificateService,
        ca: Arc<LocalCa>,
        providers: Arc<BTreeMap<String, ProviderSettings>>,
        batch: i64,
    ) -> Self {
        Worker {
            certificates,
            ca,
            providers,
            batch: batch.max(1),
            keyvault: None,
            acme: None,
            webhook: None,
        }
    }

    /// Also purge soft-deleted certificates past their scheduled purge date each round.
    pub fn with_keyvault(mut self, keyvault: crate::service::keyvault::KeyVaultService) -> Self {
        self.keyvault = Some(keyvault);
        self
    }

    /// The same worker, driving ACME providers with `driver`.
    pub fn with_acme(mut self, driver: Arc<acme::AcmeDriver>) -> Self {
        self.acme = Some(driver);
        self
    }

    /// The same worker, posting lifetime notifications to `url` (empty: none).
    pub fn with_webhook(mut self, url: &str) -> Self {
        self.webhook = (!url.is_empty()).then(|| (reqwest::Client::new(), url.to_owned()));
        self
    }

    /// The ACME driver, if any (tests read its retry count).
    pub fn acme(&self) -> Option<&acme::AcmeDriver> {
        self.acme.as_deref()
    }

    /// One round: acts on every request that needs it now. Returns how many it moved.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let rows = {
            let mut conn = self.certificates.shared().pool.acquire().await?;
            pending_operations::awaiting_provider(&mut conn, self.batch).await?
        };
        let mut moved = 0;
        if let Some(kv) = &self.keyvault {
            moved += kv.purge_due(ACTOR).await?;
        }
        for row in rows {
            match self.drive(&row).await {
                Ok(true) => moved += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    certificate = %row.name, request_id = %row.request_id, error = %e,
                    "could not drive a pending request; will retry"
                ),
            }
        }
        moved += lifetime::run_due(&self.certificates, &self.webhook).await?;
        Ok(moved)
    }

    async fn drive(&self, row: &PendingRow) -> anyhow::Result<bool> {
        let name = ObjectName::parse("certificate", &row.name)?;
        let caller = Caller::system(&row.vault, ACTOR);
        let request_id = row.request_id.clone();
        // An ACME request has an order to wind down first: its driver honours cancellation.
        let acme = row
            .provider
            .as_ref()
            .and_then(|p| self.providers.get(p))
            .is_some_and(|p| p.kind == ProviderKind::Acme);
        if row.cancellation_requested && !acme {
            return self.settle(
                self.certificates
                    .honour_cancellation(&caller, &name, request_id)
                    .await,
            );
        }
        let provider_name = row.provider.clone().unwrap_or_default();
        let Some(provider) = self.providers.get(&provider_name).cloned() else {
            let message =
                format!("The provider '{provider_name}' is not configured on this server.");
            return self.settle(
                self.certificates
                    .fail_issuance(&caller, &name, request_id, message)
                    .await,
            );
        };
        match provider.kind {
            ProviderKind::LocalCa => {
                let csr = STANDARD.decode(&row.csr)?;
                let ca = self.ca.clone();
                let months = u32::try_from(row.validity_months).unwrap_or(12);
                let now = self.certificates.shared().clock.now().timestamp();
                let issued = tokio::task::spawn_blocking(move || {
                    ca.issue(&csr, months, &provider, now).map(|leaf| {
                        let mut chain = vec![leaf];
                        chain.extend(ca.chain.iter().cloned());
                        chain
                    })
                })
                .await?;
                match issued {
                    Ok(chain) => self.settle(
                        self.certificates
                            .complete_issuance(&caller, &name, request_id, chain)
                            .await,
                    ),
                    Err(IssueError::Refused(message)) => self.settle(
                        self.certificates
                            .fail_issuance(&caller, &name, request_id, message)
                            .await,
                    ),
                    Err(IssueError::Internal(e)) => Err(anyhow::anyhow!(e)),
                }
            }
            ProviderKind::Acme => match &self.acme {
                Some(driver) => driver.drive(row, &provider_name, &provider).await,
                None => anyhow::bail!("no ACME driver is configured"),
            },
        }
    }

    /// A domain refusal means the request moved on meanwhile (deleted, cancelled, merged):
    /// nothing to do. Other errors are retried next round.
    fn settle(&self, r: Result<(), crate::service::ServiceError>) -> anyhow::Result<bool> {
        match r {
            Ok(()) => Ok(true),
            Err(crate::service::ServiceError::Domain(e)) => {
                tracing::info!(reason = %e, "pending request changed before the worker acted");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs rounds until `shutdown` fires: after each round it waits for a wake-up or
    /// `interval`.
    pub async fn run(self, interval: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let wake = self.certificates.shared().wake.clone();
        loop {
            loop {
                match self.run_once().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "worker round failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
