//! The worker: finds pending requests that need a provider's action and drives them
//! through the same services as HTTP (never writing views itself); fires lifetime actions;
//! purges deleted certificates at the end of their retention. It keeps no state of its
//! own, so after a restart it picks up where the views say it was.
//!
//! Each request is driven under a lease on its certificate ([`request_job`]), and each
//! sweep (scheduled purges, lifetime actions) under one lease for the whole sweep
//! ([`PURGE_SWEEP`], [`LIFETIME_SWEEP`]): a sweep is a few reads and, rarely, a command,
//! so per-item leases would cost two writes per certificate looked at for nothing, while
//! one lease keeps two replicas from posting the same webhook twice. See [`crate::es::leases`].

use std::sync::Arc;
use std::time::Duration;

use crate::config::ProviderKind;
use crate::domain::names::ObjectName;
use crate::es::leases::Leases;
use crate::projections::pending_operations::PendingRow;
use crate::service::local_ca::LocalCa;
use crate::service::{Caller, ServiceError, Services};

pub mod acme;
pub mod lifetime;
mod local_ca;

/// The actor name recorded on the worker's events.
pub const ACTOR: &str = "worker";

/// The lease of the scheduled-purge sweep.
pub const PURGE_SWEEP: &str = "sweep:purge";
/// The lease of the lifetime-action sweep.
pub const LIFETIME_SWEEP: &str = "sweep:lifetime";

/// The lease a pending request is driven under: one per certificate (one request at a
/// time each), so the table holds at most a row per certificate.
pub fn request_job(vault: &str, name: &str) -> String {
    format!("certificate:{vault}/{name}")
}

/// How long a lease lasts by default (`worker.lease_seconds`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Drives provider-backed requests.
#[derive(Clone)]
pub struct Worker {
    services: Services,
    ca: Arc<LocalCa>,
    batch: i64,
    acme: Option<Arc<acme::AcmeDriver>>,
    webhook: Option<(reqwest::Client, String)>,
    leases: Leases,
}

impl Worker {
    /// A worker over the services and the built-in CA, taking `batch` requests a round.
    pub fn new(services: Services, ca: Arc<LocalCa>, batch: i64) -> Self {
        let leases = Leases::for_process(services.core.es.clone(), DEFAULT_LEASE);
        Worker {
            services,
            ca,
            leases,
            batch: batch.max(1),
            acme: None,
            webhook: None,
        }
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

    /// The same worker, its leases lasting `seconds` unless renewed.
    pub fn with_lease_seconds(mut self, seconds: u64) -> Self {
        self.leases = self.leases.with_ttl(Duration::from_secs(seconds.max(1)));
        self
    }

    /// The same worker, claiming its leases as `leases` (tests: several holders in one
    /// process).
    pub fn with_leases(mut self, leases: Leases) -> Self {
        self.leases = leases;
        self
    }

    /// The ACME driver, if any (tests read its retry count).
    pub fn acme(&self) -> Option<&acme::AcmeDriver> {
        self.acme.as_deref()
    }

    /// One round: acts on every request that needs it now. Returns how many it moved.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let rows = self
            .services
            .operations
            .awaiting_provider(self.batch)
            .await?;
        let purge = self.services.deleted.purge_due(ACTOR);
        let mut moved = self
            .leases
            .run(PURGE_SWEEP, purge)
            .await?
            .transpose()?
            .unwrap_or(0);
        for row in rows {
            let job = request_job(&row.vault, &row.name);
            match self.leases.run(&job, self.drive(&row)).await {
                // Another replica drives it now.
                Ok(None) => {}
                Ok(Some(Ok(true))) => moved += 1,
                Ok(Some(Ok(false))) => {}
                Ok(Some(Err(e))) => tracing::warn!(
                    certificate = %row.name, request_id = %row.request_id, error = %e,
                    "could not drive a pending request; will retry"
                ),
                Err(e) => tracing::warn!(
                    certificate = %row.name, request_id = %row.request_id, error = %e,
                    "could not drive a pending request; will retry"
                ),
            }
        }
        let sweep = lifetime::run_due(&self.services, &self.webhook);
        moved += self
            .leases
            .run(LIFETIME_SWEEP, sweep)
            .await?
            .transpose()?
            .unwrap_or(0);
        Ok(moved)
    }

    async fn drive(&self, row: &PendingRow) -> anyhow::Result<bool> {
        let name = ObjectName::parse("certificate", &row.name)?;
        let caller = Caller::system(&row.vault, ACTOR);
        let request_id = row.request_id.clone();
        let ops = &self.services.operations;
        let provider_name = row.provider.clone().unwrap_or_default();
        let provider = self
            .services
            .core
            .providers
            .configured
            .get(&provider_name)
            .cloned();
        // An ACME request has an order to wind down first: its driver honours cancellation.
        let acme = provider
            .as_ref()
            .is_some_and(|p| p.kind == ProviderKind::Acme);
        if row.cancellation_requested && !acme {
            return settle(ops.honour_cancellation(&caller, &name, request_id).await);
        }
        let Some(provider) = provider else {
            let message =
                format!("The provider '{provider_name}' is not configured on this server.");
            return settle(ops.fail_issuance(&caller, &name, request_id, message).await);
        };
        match provider.kind {
            ProviderKind::LocalCa => {
                local_ca::drive(
                    ops,
                    &self.ca,
                    &self.services.core,
                    row,
                    &provider,
                    caller,
                    name,
                )
                .await
            }
            ProviderKind::Acme => match &self.acme {
                Some(driver) => {
                    let job = acme::Job {
                        caller,
                        name,
                        row,
                        provider: &provider_name,
                        settings: &provider,
                    };
                    driver.drive(&job).await
                }
                None => anyhow::bail!("no ACME driver is configured"),
            },
        }
    }

    /// Runs rounds until `shutdown` fires: after each round it waits for a wake-up or
    /// `interval`.
    pub async fn run(self, interval: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let wake = self.services.core.wake.clone();
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

/// A domain refusal means the request moved on meanwhile (deleted, cancelled, merged):
/// nothing to do. Other errors are retried next round.
pub(crate) fn settle(r: Result<(), ServiceError>) -> anyhow::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(ServiceError::Domain(e)) => {
            tracing::info!(reason = %e, "pending request changed before the worker acted");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
