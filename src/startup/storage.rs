//! Opening the database for the server and for command-line tools: the engine `storage.url`
//! names (SQLite in the data directory by default), its migrations, the master-key check,
//! the chain's check at start, the event store and the services on it.

use super::*;

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
pub(super) fn ensure_writable(data_dir: &Path) -> anyhow::Result<()> {
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
/// tools (rebuild, verify, events) on either engine.
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
pub(super) async fn check_master_key(
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
        pending_cache: crate::service::operations::pending_cache(&es),
        es,
    }))
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
