//! Application assembly: data directory, master key, the database (migrations, the chain's
//! check, views rebuilt when their shape changed, the writer), TLS, tokens, the built-in
//! CA, the services, the worker and the HTTPS server.

use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use openssl::ssl::{SslAcceptor, SslMethod};

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::crypto::{self, PKey, Private, X509};
use crate::es::storage::{Session, Storage};
use crate::es::{EventStore, Writer};
use crate::http::{self, auth::Auth, AppState};
use crate::projections;
use crate::service::challenges::ChallengeStore;
use crate::service::keystore::{write_private_file, KeyStore};
use crate::service::local_ca::LocalCa;
use crate::service::{Core, Providers, Services};
use crate::worker::Worker;
use sqlx::{SqliteConnection, SqlitePool};

mod https;
mod material;
mod migrate;
mod storage;

pub use material::TlsMaterial;
use material::{authorization_uri, tls_material, token_issuer, tokens};
pub use migrate::{migrate_storage, show as show_head, MigrateReport};
pub use storage::{
    check_chain, database_path, open_database, open_event_store, open_services, open_storage,
    open_tool_database,
};
use storage::{check_master_key, ensure_writable};

/// Raises the soft open-file limit to the hard one: every connection held (up to
/// `limits.max_connections` per worker) is a descriptor, and the usual soft limit of 1024
/// would refuse connections long before.
pub fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let was = limit.current;
    limit.current = limit.maximum;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => tracing::debug!(from = ?was, to = ?limit.maximum, "raised the open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

/// A built application: bound, not yet serving.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    /// Drives issuer-backed requests; tests call `worker.run_once()`.
    pub worker: Worker,
    /// The database (tests read it directly).
    pub storage: Storage,
    /// The services (tests and tools call them directly).
    pub services: Services,
    /// PEM that clients should trust for this server's TLS.
    pub trust_pem: String,
    /// A dev token made at this start (print it once).
    pub dev_token: Option<String>,
    /// The built-in CA chain (PEM).
    pub ca_chain_pem: String,
    /// What the handlers see (readiness checks run on it).
    state: AppState,
    worker_task: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
    writer_task: tokio::task::JoinHandle<()>,
    refusals_task: tokio::task::JoinHandle<()>,
    http01_port: Option<u16>,
    http01_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    identity_port: Option<u16>,
    identity_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The HTTP-01 listener's port and serving task.
type Http01 = (
    Option<u16>,
    Option<tokio::task::JoinHandle<std::io::Result<()>>>,
);

/// Starts the plain-HTTP ACME challenge listener when `acme.http01_listen` is set.
fn http01_listener(settings: &Settings, challenges: ChallengeStore) -> anyhow::Result<Http01> {
    let addr = settings.acme.http01_listen.trim();
    if addr.is_empty() {
        return Ok((None, None));
    }
    let listener =
        TcpListener::bind(addr).with_context(|| format!("binding acme.http01_listen {addr}"))?;
    let port = listener.local_addr()?.port();
    let data = actix_web::web::Data::new(challenges);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .configure(http::acme_challenge::configure)
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((Some(port), Some(tokio::spawn(server))))
}

/// The plain-HTTP managed-identity listener's port and serving task.
type IdentityListener = (
    Option<u16>,
    Option<tokio::task::JoinHandle<std::io::Result<()>>>,
);

/// Starts the plain-HTTP listener for the managed-identity routes when
/// `identity.http_listen` is set. It must be a loopback address: tokens travel in clear.
fn identity_listener(settings: &Settings, state: &AppState) -> anyhow::Result<IdentityListener> {
    let addr = settings.identity.http_listen.trim();
    if addr.is_empty() {
        return Ok((None, None));
    }
    let parsed: std::net::SocketAddr = addr
        .parse()
        .with_context(|| format!("identity.http_listen {addr} is not an address:port"))?;
    if !parsed.ip().is_loopback() {
        anyhow::bail!(
            "identity.http_listen {addr} is not a loopback address: managed-identity tokens \
             must not travel in clear beyond this host"
        );
    }
    let listener = TcpListener::bind(parsed)
        .with_context(|| format!("binding identity.http_listen {addr}"))?;
    let port = listener.local_addr()?.port();
    let data = actix_web::web::Data::new(state.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(http::stamp::stamp))
            .configure(http::routes::configure_identity)
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((Some(port), Some(tokio::spawn(server))))
}

impl Application {
    /// Builds everything from `settings` with the system clock.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Builds everything with a given clock (tests move it).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let data_dir = settings.storage.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        ensure_writable(&data_dir)?;
        // The master key and the TLS and CA material live here whatever the engine.
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&data_dir)?.permissions().mode() & 0o777;
            if mode != 0o700 {
                std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("making {} private (0700)", data_dir.display()))?;
            }
        }
        // Opening the database (SQLite: in the data directory, made 0700) before the master
        // key lands in it.
        let storage = open_storage(&settings).await?;
        let keys = Arc::new(KeyStore::open(
            settings.seal.master_key.expose(),
            &data_dir,
        )?);
        let now = clock.now().timestamp();
        let mut owned = storage
            .connect_writer()
            .await
            .context("opening the database for writing")?;
        check_chain(&mut owned, &settings.audit).await?;
        check_master_key(&mut owned, &keys).await?;
        if let Some(events) = projections::rebuild_if_stale(&mut owned)
            .await
            .context("rebuilding the views for this version")?
        {
            tracing::info!(events, "rebuilt the views from the events for this version");
        }
        owned.close().await;
        let (es, writer_task) = open_event_store(&storage, settings.storage.max_batch).await?;
        let ca = Arc::new(LocalCa::open(&settings.ca, &data_dir, &keys, now)?);
        let tls = tls_material(&settings, &keys, now)?;
        let (tokens, dev_token) = tokens(&settings)?;
        let adjustable_clock = if settings.clock.adjustable {
            let offset = crate::service::clock::recorded_offset(&storage)
                .await
                .context("reading the clock's recorded moves")?;
            Some(Arc::new(crate::clock::AdjustableClock::new(offset)))
        } else {
            None
        };
        let clock: Arc<dyn Clock> = match &adjustable_clock {
            Some(c) => c.clone(),
            None => clock,
        };
        let issuer = Arc::new(token_issuer(&settings, &keys, clock.clone())?);
        let services = Services::new(Core {
            key_pool: Arc::new(crate::service::keypool::KeyPool::start(
                keys.clone(),
                &settings.keys,
            )),
            keys: keys.clone(),
            clock,
            wake: Arc::new(tokio::sync::Notify::new()),
            providers: Arc::new(Providers {
                configured: settings.providers.clone(),
                aliases: settings.provider_aliases.clone(),
            }),
            retention_days: settings.soft_delete.retention_days,
            adjustable_clock,
            pending_cache: crate::service::operations::pending_cache(&es),
            es,
        });
        if !settings.seed.file.is_empty() {
            let file = Path::new(&settings.seed.file);
            let report = crate::seed::apply(&services, file)
                .await
                .with_context(|| format!("seeding from {}", file.display()))?;
            tracing::info!(
                created = report.created,
                skipped = report.skipped,
                file = %file.display(),
                "seeded"
            );
        }
        let challenges = ChallengeStore::new(services.core.es.clone());
        let worker = Worker::new(services.clone(), ca.clone(), settings.worker.batch)
            .with_lease_seconds(settings.worker.lease_seconds)
            .with_acme(Arc::new(crate::worker::acme::AcmeDriver::new(
                services.operations.clone(),
                keys,
                data_dir.clone(),
                settings.acme.clone(),
                challenges.clone(),
            )))
            .with_webhook(&settings.notifications.webhook_url);
        let (http01_port, http01_task) = http01_listener(&settings, challenges)?;
        let expected_migration = crate::es::storage::sqlite::MIGRATOR
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let health = http::ops::Health::new(settings.worker.enabled, expected_migration);
        let metrics_token = match settings.metrics.token_sha256.as_str() {
            "" => None,
            h => Some(
                hex::decode(h)?
                    .as_slice()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("metrics.token_sha256 is not 32 bytes"))?,
            ),
        };
        let state = AppState {
            services: services.clone(),
            auth: Arc::new(
                Auth::new(
                    tokens,
                    &authorization_uri(&settings, issuer.tenant_id()),
                    &settings.auth.resource,
                )
                .with_store(storage.clone())
                .with_issuer(issuer.clone())
                .with_metrics_token(metrics_token),
            ),
            max_body_bytes: settings.server.max_body_bytes,
            retry_after_seconds: settings.server.retry_after_seconds,
            ca_chain_pem: Arc::new(ca.chain_pem()),
            vaults: Arc::new(settings.vaults.clone()),
            health: health.clone(),
            refusals: Arc::new(http::refusals::Refusals::new(settings.limits.clone())),
            max_header_bytes: settings.limits.max_header_bytes,
        };
        let refusals_task = state.refusals.spawn_flusher(services.clone());
        raise_open_file_limit();

        let (identity_port, identity_task) = identity_listener(&settings, &state)?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
        acceptor.set_private_key(&tls.key)?;
        acceptor.set_certificate(&tls.cert)?;
        for c in &tls.chain {
            acceptor.add_extra_chain_cert(c.clone())?;
        }
        let data = actix_web::web::Data::new(state.clone());
        let workers = if settings.server.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            settings.server.workers
        };
        let server = https::serve(
            listener,
            https::acceptor(acceptor)?,
            &settings.limits,
            workers,
            data,
        )?;

        let worker_task = if settings.worker.enabled {
            let (tx, rx) = tokio::sync::watch::channel(false);
            let w = worker.clone();
            let interval = Duration::from_millis(settings.worker.interval_ms.max(10));
            // Readiness reports the worker stopped once this task ends, however it ends.
            let running = health.worker_started();
            let task = tokio::spawn(async move {
                let _running = running;
                w.run(interval, rx).await;
            });
            Some((tx, task))
        } else {
            None
        };
        Ok(Application {
            port,
            server,
            worker,
            storage,
            services,
            trust_pem: tls.trust_pem,
            dev_token,
            ca_chain_pem: ca.chain_pem(),
            state,
            worker_task,
            writer_task,
            refusals_task,
            http01_port,
            http01_task,
            identity_port,
            identity_task,
        })
    }

    /// The port of the plain-HTTP managed-identity listener, if one is configured.
    pub fn identity_port(&self) -> Option<u16> {
        self.identity_port
    }

    /// The port of the HTTP-01 challenge listener, if one is configured.
    pub fn http01_port(&self) -> Option<u16> {
        self.http01_port
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The handlers' state, for running the readiness checks (`http::ops::readiness`) from
    /// outside the server.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until the server stops (signal or handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        // The refusals still being counted get their records before the writer stops.
        self.refusals_task.abort();
        self.state.refusals.flush(&self.state.services, true).await;
        if let Some((tx, task)) = self.worker_task {
            let _ = tx.send(true);
            let _ = task.await;
        }
        self.writer_task.abort();
        if let Some(task) = self.http01_task {
            task.abort();
        }
        if let Some(task) = self.identity_task {
            task.abort();
        }
        result
    }
}
