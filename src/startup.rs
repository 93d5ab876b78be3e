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

/// Refuses to start, saying why, when the data directory cannot be written (a read-only
/// mount, another owner): SQLite itself would only say "unable to open database file".
fn ensure_writable(data_dir: &Path) -> anyhow::Result<()> {
    let probe = data_dir.join(".write-probe");
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => anyhow::bail!(
            "the data directory {} is on a read-only file system; certbroker keeps its database there and must write to it: remount it read-write",
            data_dir.display()
        ),
        Err(e) => Err(e).with_context(|| {
            format!(
                "the data directory {} is not writable by this user",
                data_dir.display()
            )
        }),
    }
}

/// Opens the database of `settings` (`storage.url`, else the SQLite file in
/// `storage.data_dir`), running its migrations.
pub async fn open_storage(settings: &Settings) -> anyhow::Result<Storage> {
    Storage::open(settings.storage.url.expose(), &settings.storage.data_dir)
        .await
        .with_context(|| {
            format!(
                "opening the {} database",
                if settings.storage.url.expose().is_empty() {
                    "SQLite"
                } else {
                    "PostgreSQL"
                }
            )
        })
}

/// Opens the database of `settings` with a write connection of its own, for command-line
/// tools (rebuild, verify, events, token) on either engine.
pub async fn open_tool_database(
    settings: &Settings,
) -> anyhow::Result<(Storage, crate::es::storage::Owned)> {
    let storage = open_storage(settings).await?;
    let owned = storage
        .connect_writer()
        .await
        .context("opening the database for writing")?;
    Ok((storage, owned))
}

const SEAL_CHECK_AAD: &str = "certbroker/seal-check";

/// Refuses to start with a master key other than the one the database was first written
/// with: replicas (or a restored data directory) with another key would seal keys the
/// others cannot open. The database keeps a fixed text sealed under the first key.
async fn check_master_key(
    owned: &mut crate::es::storage::Owned,
    keys: &KeyStore,
) -> anyhow::Result<()> {
    let mine = keys
        .seal(SEAL_CHECK_AAD, SEAL_CHECK_AAD.as_bytes())
        .map_err(|e| anyhow::anyhow!("sealing the master key check: {e}"))?;
    let recorded = crate::es::keys::seal_check(&mut owned.conn(), &hex::encode(mine))
        .await
        .context("reading the master key check")?;
    let opens = hex::decode(&recorded)
        .ok()
        .and_then(|sealed| keys.unseal(SEAL_CHECK_AAD, &sealed).ok())
        .is_some_and(|plain| plain == SEAL_CHECK_AAD.as_bytes());
    if !opens {
        anyhow::bail!(
            "the master key (seal.master_key, or master.key in the data directory) is not the \
             one this database was sealed with: refusing to start rather than seal keys that \
             other replicas could not open; give every replica the same master key"
        );
    }
    Ok(())
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
    let storage = open_storage(settings).await?;
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
        adjustable_clock: None,
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

/// The token issuer: its signing key (made at first start, sealed in
/// `<data_dir>/identity/signing-key.sealed`), the tenant id (configured, or made at first
/// start and kept in `<data_dir>/identity/tenant-id`) and the workload-identity issuers' keys.
fn token_issuer(
    settings: &Settings,
    keys: &KeyStore,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<crate::service::identity::TokenIssuer> {
    use crate::domain::policy::{Curve, KeySpec};
    let dir = settings.storage.data_dir.join("identity");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let key_path = dir.join("signing-key.sealed");
    if !key_path.exists() {
        let key = crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 })?;
        let sealed = keys
            .seal("token-signing", &crypto::keys::private_key_to_der(&key)?)
            .map_err(|e| anyhow::anyhow!("sealing the token signing key: {e}"))?;
        write_private_file(&key_path, &sealed)?;
    }
    let key = crypto::keys::private_key_from_der(
        &keys
            .unseal("token-signing", &std::fs::read(&key_path)?)
            .map_err(|e| anyhow::anyhow!("unsealing the token signing key: {e}"))?,
    )?;
    let configured = settings.identity.tenant_id.trim();
    let tenant_id = if configured.is_empty() {
        let path = dir.join("tenant-id");
        if !path.exists() {
            write_private_file(
                &path,
                uuid::Uuid::new_v4().hyphenated().to_string().as_bytes(),
            )?;
        }
        std::fs::read_to_string(&path)?.trim().to_owned()
    } else {
        configured.to_owned()
    };
    uuid::Uuid::parse_str(&tenant_id)
        .with_context(|| format!("the tenant id '{tenant_id}' is not a GUID"))?;
    let mut federated = Vec::new();
    for f in &settings.identity.federated {
        f.role
            .parse::<http::roles::Role>()
            .map_err(|e| anyhow::anyhow!("identity.federated {}: {e}", f.name))?;
        let pem = std::fs::read(&f.key_file)
            .with_context(|| format!("reading identity.federated {} key_file", f.name))?;
        let key = crypto::jwt::public_key_from_pem(&pem)
            .with_context(|| format!("identity.federated {} key_file", f.name))?;
        federated.push((f.clone(), key));
    }
    Ok(crate::service::identity::TokenIssuer::new(
        key,
        tenant_id,
        &settings.identity,
        &settings.auth.resource,
        federated,
        clock,
    )?)
}

/// The authorization URI of the challenge: `auth.authorization_uri` with `{tenant}`
/// replaced by the tenant id (empty: Entra ID's, for the tenant).
fn authorization_uri(settings: &Settings, tenant_id: &str) -> String {
    match settings.auth.authorization_uri.trim() {
        "" => format!("https://login.microsoftonline.com/{tenant_id}"),
        uri => uri.replace("{tenant}", tenant_id),
    }
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
        // The master key and the TLS and CA material live here whatever the engine.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private (0700)", data_dir.display()))?;
        }
        ensure_writable(&data_dir)?;
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
            adjustable_clock,
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
        let limits = &settings.limits;
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .wrap(actix_web::middleware::from_fn(http::stamp::stamp))
                .configure(http::routes::configure)
        })
        .workers(workers)
        .backlog(limits.backlog)
        .max_connections(limits.max_connections)
        .max_connection_rate(limits.max_connection_rate)
        .tls_handshake_timeout(Duration::from_millis(limits.tls_handshake_timeout_ms))
        .client_request_timeout(Duration::from_millis(limits.client_request_timeout_ms))
        .client_disconnect_timeout(Duration::from_millis(limits.client_disconnect_timeout_ms))
        .keep_alive(match limits.keep_alive_seconds {
            0 => actix_web::http::KeepAlive::Disabled,
            s => actix_web::http::KeepAlive::Timeout(Duration::from_secs(s)),
        })
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
