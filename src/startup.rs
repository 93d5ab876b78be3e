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

/// The database file inside the data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    crate::es::storage::sqlite::database_path(data_dir)
}

/// Opens the SQLite database in `data_dir` (running migrations): its reader pool and a
/// read-write connection of its own, for tools and tests that work on the file directly.
pub async fn open_database(data_dir: &Path) -> anyhow::Result<(SqlitePool, SqliteConnection)> {
    let storage = Storage::open_sqlite(data_dir)
        .await
        .context("opening the database")?;
    let conn = crate::es::storage::sqlite::SqliteStorage::connect_writer_at(data_dir)
        .await
        .context("opening the database for writing")?;
    let pool = storage
        .sqlite_pool()
        .cloned()
        .context("the database is not SQLite")?;
    Ok((pool, conn))
}

/// Opens the event store on `storage`: its writer task and the views it keeps.
pub async fn open_event_store(
    storage: &Storage,
    max_batch: usize,
) -> anyhow::Result<(EventStore, tokio::task::JoinHandle<()>)> {
    let (writer, task) = Writer::spawn(storage, max_batch)
        .await
        .context("opening the writer's connection")?;
    Ok((
        EventStore::new(storage.clone(), writer, Arc::new(projections::Registry)),
        task,
    ))
}

/// The services on the database of `settings`, for command-line tools: the same pipeline
/// as the server, with a writer of their own (writers take turns on the write lock).
pub async fn open_services(settings: &Settings) -> anyhow::Result<Services> {
    let data_dir = &settings.storage.data_dir;
    let keys = Arc::new(KeyStore::open(settings.seal.master_key.expose(), data_dir)?);
    let storage = Storage::open_sqlite(data_dir)
        .await
        .context("opening the database")?;
    let (es, _writer) = open_event_store(&storage, settings.storage.max_batch).await?;
    Ok(Services::new(Core {
        es,
        key_pool: Arc::new(crate::service::keypool::KeyPool::empty(keys.clone())),
        keys,
        clock: Arc::new(SystemClock),
        wake: Arc::new(tokio::sync::Notify::new()),
        providers: Arc::new(Providers {
            configured: settings.providers.clone(),
            aliases: settings.provider_aliases.clone(),
        }),
        retention_days: settings.soft_delete.retention_days,
    }))
}

/// The TLS material the server presents.
pub struct TlsMaterial {
    pub key: PKey<Private>,
    pub cert: X509,
    pub chain: Vec<X509>,
    /// PEM of what clients should trust (the generated TLS CA, or the configured chain).
    pub trust_pem: String,
}

fn tls_material(settings: &Settings, keys: &KeyStore, now: i64) -> anyhow::Result<TlsMaterial> {
    if !settings.tls.cert_file.is_empty() {
        let pem = std::fs::read(&settings.tls.cert_file)
            .with_context(|| format!("reading tls.cert_file {}", settings.tls.cert_file))?;
        let mut certs = X509::stack_from_pem(&pem).context("tls.cert_file is not PEM")?;
        if certs.is_empty() {
            anyhow::bail!("tls.cert_file holds no certificate");
        }
        let cert = certs.remove(0);
        let key = PKey::private_key_from_pem(
            &std::fs::read(&settings.tls.key_file)
                .with_context(|| format!("reading tls.key_file {}", settings.tls.key_file))?,
        )
        .context("tls.key_file is not a PEM private key")?;
        return Ok(TlsMaterial {
            key,
            cert,
            chain: certs,
            trust_pem: String::from_utf8_lossy(&pem).into_owned(),
        });
    }
    let dir = settings.storage.data_dir.join("tls");
    let ca_pem = dir.join("ca.pem");
    let ca_key_path = dir.join("ca.key.sealed");
    if !ca_pem.exists() {
        let (k, c) = crypto::x509::create_ca("certbroker TLS CA", now, 3650, None)?;
        let sealed = keys
            .seal("tls-ca", &crypto::keys::private_key_to_der(&k)?)
            .map_err(|e| anyhow::anyhow!("sealing the TLS CA key: {e}"))?;
        write_private_file(&ca_key_path, &sealed)?;
        write_private_file(&ca_pem, &c.to_pem()?)?;
    }
    let ca_cert = X509::from_pem(&std::fs::read(&ca_pem)?)?;
    let ca_key = crypto::keys::private_key_from_der(
        &keys
            .unseal("tls-ca", &std::fs::read(&ca_key_path)?)
            .map_err(|e| anyhow::anyhow!("unsealing the TLS CA key: {e}"))?,
    )?;
    let mut names = vec!["localhost".to_string(), "*.localhost".to_string()];
    names.extend(settings.tls.extra_names.iter().cloned());
    // Host-named vaults: OpenSSL-based clients refuse `*.localhost` (a wildcard needs two
    // labels after it), so listed vaults get their own name and any vault can use
    // `<name>.vault.localhost`.
    names.push("*.vault.localhost".to_string());
    names.extend(
        settings
            .vaults
            .names
            .iter()
            .map(|v| format!("{v}.localhost")),
    );
    let mut ips: Vec<IpAddr> = vec![IpAddr::from_str("127.0.0.1")?, IpAddr::from_str("::1")?];
    let listen_ip = settings.server.listen.ip();
    if !listen_ip.is_unspecified() && !ips.contains(&listen_ip) {
        ips.push(listen_ip);
    }
    // The server certificate is made anew at each start (cheap: EC), so configured names
    // apply at once; clients trust the persistent TLS CA.
    let (key, cert) = crypto::x509::tls_server_cert(&ca_key, &ca_cert, &names, &ips, now, 397)?;
    Ok(TlsMaterial {
        key,
        cert,
        chain: vec![ca_cert.clone()],
        trust_pem: String::from_utf8_lossy(&ca_cert.to_pem()?).into_owned(),
    })
}

/// A token's name and the SHA-256 of its value.
type NamedTokenHash = (String, [u8; 32]);

/// Accepted tokens: the fixed one, the named ones, or else a dev token made at first start.
/// Returns the tokens and, when one was made now, the dev token to print once.
fn tokens(settings: &Settings) -> anyhow::Result<(Vec<NamedTokenHash>, Option<String>)> {
    let mut out = Vec::new();
    if !settings.auth.token.expose().is_empty() {
        out.push((
            "static".to_string(),
            crypto::seal::sha256(settings.auth.token.expose().as_bytes()),
        ));
    }
    for t in &settings.auth.tokens {
        let bytes = hex::decode(&t.sha256)?;
        let hash: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("token {} hash is not 32 bytes", t.name))?;
        out.push((t.name.clone(), hash));
    }
    if !out.is_empty() {
        return Ok((out, None));
    }
    let path = settings.storage.data_dir.join("dev-token.sha256");
    let mut made = None;
    if !path.exists() {
        let token = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            crypto::seal::random_bytes::<32>()?,
        );
        write_private_file(
            &path,
            hex::encode(crypto::seal::sha256(token.as_bytes())).as_bytes(),
        )?;
        made = Some(token);
    }
    let hash = hex::decode(std::fs::read_to_string(&path)?.trim())?;
    let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "{} is damaged; delete it to make a new dev token",
            path.display()
        )
    })?;
    out.push(("dev".to_string(), hash));
    Ok((out, made))
}

/// Chains the rows of a database written before the chain existed (from the first row),
/// then verifies the tail of the chain: the last `audit.check_tail_rows` sealed rows and
/// any unsealed row after them. A broken tail refuses the start or is logged, as
/// `audit.on_broken_chain` says.
pub async fn check_chain(
    owned: &mut impl Session,
    audit: &crate::config::AuditSettings,
) -> anyhow::Result<()> {
    use crate::es::chain;
    owned.begin_write().await?;
    match chain::seal_unchained(&mut owned.conn()).await {
        Ok(n) => {
            owned.exec("COMMIT").await?;
            if n > 0 {
                tracing::info!(
                    rows = n,
                    "chained events written before the hash chain existed"
                );
            }
        }
        Err(e) => {
            let _ = owned.exec("ROLLBACK").await;
            return Err(anyhow::Error::from(e).context("chaining unsealed events"));
        }
    }
    let Some(head) = chain::head(&mut owned.conn()).await? else {
        return Ok(());
    };
    let range = chain::Range {
        after: (head.position - audit.check_tail_rows.max(1)).max(0),
        upto: None,
    };
    let v = chain::verify(owned, range, None).await?;
    if let Some(broken) = v.broken {
        match audit.on_broken_chain {
            crate::config::BrokenChainAction::Refuse => {
                tracing::error!(position = broken.position, reason = %broken.reason, "the events hash chain is broken");
                anyhow::bail!(
                    "the events hash chain is broken at {broken}; run `certbroker verify` \
                     (audit.on_broken_chain = \"warn\" starts anyway)"
                );
            }
            crate::config::BrokenChainAction::Warn => {
                tracing::warn!(position = broken.position, reason = %broken.reason, "the events hash chain is broken; starting anyway");
            }
        }
    }
    Ok(())
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
    http01_port: Option<u16>,
    http01_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
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
        let keys = Arc::new(KeyStore::open(
            settings.seal.master_key.expose(),
            &data_dir,
        )?);
        let now = clock.now().timestamp();
        let storage = Storage::open_sqlite(&data_dir)
            .await
            .context("opening the database")?;
        let mut owned = storage
            .connect_writer()
            .await
            .context("opening the database for writing")?;
        check_chain(&mut owned, &settings.audit).await?;
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
        let services = Services::new(Core {
            es,
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
        });
        let challenges = ChallengeStore::default();
        let worker = Worker::new(services.clone(), ca.clone(), settings.worker.batch)
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
                    &settings.auth.authorization_uri,
                    &settings.auth.resource,
                )
                .with_store(storage.clone())
                .with_metrics_token(metrics_token),
            ),
            max_body_bytes: settings.server.max_body_bytes,
            retry_after_seconds: settings.server.retry_after_seconds,
            ca_chain_pem: Arc::new(ca.chain_pem()),
            vaults: Arc::new(settings.vaults.clone()),
            health: health.clone(),
        };

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
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .wrap(actix_web::middleware::from_fn(http::auth::stamp))
                .configure(http::routes::configure)
        })
        .workers(workers)
        .listen_openssl(listener, acceptor)?
        .run();

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
            http01_port,
            http01_task,
        })
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
        if let Some((tx, task)) = self.worker_task {
            let _ = tx.send(true);
            let _ = task.await;
        }
        self.writer_task.abort();
        if let Some(task) = self.http01_task {
            task.abort();
        }
        result
    }
}
