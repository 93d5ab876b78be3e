//! `certbroker migrate-storage --to postgres://...`: moves a SQLite database to PostgreSQL
//! with the server stopped. Every table that is not a view is copied as stored (the events
//! in position order with their hashes, so the chain verifies on the target; the keys still
//! sealed, tokens, clients, `meta` with its seal check); the views are rebuilt from the
//! copied events; the chain is verified; and all of it commits in one transaction on the
//! target only when the target's head equals the source's. A target that holds events, or
//! rows in any copied table but `meta`, is refused before anything is copied.

use crate::es::chain::{self, Head};
use crate::es::storage::{postgres, sqlite, Cell, Session};

use super::*;

/// What a migration copied and found.
#[derive(Debug)]
pub struct MigrateReport {
    /// Each copied table and the rows copied, in copy order.
    pub tables: Vec<(String, u64)>,
    /// The events the views were rebuilt from on the target.
    pub replayed: u64,
    /// The events verified on the target.
    pub verified: u64,
    pub source_head: Option<Head>,
    pub target_head: Option<Head>,
}

/// The table of settings of the database itself: the source's replace the target's (a
/// server started once on the empty target leaves its own seal check and views version).
const META: &str = "meta";

/// Rows per read and per insert (fewer for wide tables: PostgreSQL takes 65535 parameters).
const BATCH_CELLS: usize = 20_000;

/// Copies the SQLite database of `settings` (its data directory) to the PostgreSQL
/// database `to`, running the target's migrations first.
pub async fn migrate_storage(settings: &Settings, to: &str) -> anyhow::Result<MigrateReport> {
    if !postgres::is_postgres_url(to) {
        anyhow::bail!("--to must be a PostgreSQL URL (postgres://user:pass@host:port/db)");
    }
    if !settings.storage.url.expose().is_empty() {
        anyhow::bail!(
            "the source must be the SQLite database of a data directory: storage.url \
             (or --storage-url) names a database already; leave it empty"
        );
    }
    let path = database_path(&settings.storage.data_dir);
    if !path.is_file() {
        anyhow::bail!("there is no SQLite database at {}", path.display());
    }
    let source = sqlite::SqliteStorage::open(&settings.storage.data_dir)
        .await
        .context("opening the SQLite database")?;
    let mut src = source
        .connect_writer()
        .await
        .context("opening the SQLite database")?;
    let target = postgres::PostgresStorage::open(to)
        .await
        .context("opening the target PostgreSQL database")?;
    let mut dst = target
        .connect_writer()
        .await
        .context("connecting to the target PostgreSQL database")?;

    // One snapshot of the source; one transaction on the target, holding the append lock
    // so no replica started meanwhile appends in between.
    src.begin_read().await?;
    dst.begin_write().await?;
    let result = copy_all(&mut src, &mut dst).await;
    let _ = src.exec("ROLLBACK").await;
    let committed = match result {
        Ok(report) => dst.exec("COMMIT").await.map(|_| report).map_err(Into::into),
        Err(e) => {
            let _ = dst.exec("ROLLBACK").await;
            Err(e)
        }
    };
    let _ = sqlx::Connection::close(src).await;
    let _ = sqlx::Connection::close(dst).await;
    committed
}

async fn copy_all(
    src: &mut sqlx::SqliteConnection,
    dst: &mut sqlx::PgConnection,
) -> anyhow::Result<MigrateReport> {
    let views: Vec<&str> = projections::VIEWS.iter().map(|v| v.table()).collect();
    let tables: Vec<String> = sqlite::tables(src)
        .await?
        .into_iter()
        .filter(|t| !views.contains(&t.as_str()))
        .collect();
    // Everything is checked before the first row is copied.
    let mut plan = Vec::with_capacity(tables.len());
    for table in &tables {
        let target = postgres::columns(dst, table).await?;
        if target.is_empty() {
            anyhow::bail!("the target has no table {table}: nothing was copied");
        }
        let mut columns = Vec::new();
        for name in sqlite::columns(src, table).await? {
            let Some(c) = target.iter().find(|c| c.name == name) else {
                anyhow::bail!(
                    "the target's table {table} has no column {name}: nothing was copied"
                );
            };
            columns.push(c.clone());
        }
        if table != META {
            let rows = postgres::count_rows(dst, table).await?;
            if table == "events" && rows > 0 {
                let head = chain::head(&mut dst.conn()).await?;
                anyhow::bail!(
                    "the target already holds {rows} events (head position {}): \
                     migrate-storage copies into a database without events only; nothing was copied",
                    head.map_or(0, |h| h.position)
                );
            }
            if rows > 0 {
                anyhow::bail!(
                    "the target's table {table} already holds {rows} rows: migrate-storage \
                     copies into an empty database only; nothing was copied"
                );
            }
        }
        plan.push((table.clone(), columns));
    }
    let source_head = chain::head(&mut src.conn()).await?;

    postgres::clear(dst, META).await?;
    let mut copied = Vec::with_capacity(plan.len());
    for (table, columns) in &plan {
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let batch = (BATCH_CELLS / names.len().max(1)).clamp(1, 1000);
        let (mut after, mut rows) = (i64::MIN, 0u64);
        loop {
            let page = sqlite::read_cells(src, table, &names, after, batch as i64).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            rows += page.len() as u64;
            let cells: Vec<Vec<Cell>> = page.into_iter().map(|(_, cells)| cells).collect();
            postgres::insert_cells(dst, table, columns, &cells)
                .await
                .with_context(|| format!("copying {table}"))?;
        }
        postgres::advance_sequences(dst, table).await?;
        copied.push((table.clone(), rows));
    }

    let replayed = projections::rebuild(&mut dst.conn())
        .await
        .context("rebuilding the views on the target")?;
    projections::set_views_version(&mut dst.conn()).await?;
    let v = chain::verify(dst, chain::Range::default(), None)
        .await
        .context("verifying the chain on the target")?;
    if let Some(b) = &v.broken {
        anyhow::bail!("the chain on the target is broken at {b}: nothing was copied");
    }
    if v.head != source_head {
        anyhow::bail!(
            "the target's head ({}) differs from the source's ({}): nothing was copied",
            show(v.head.as_ref()),
            show(source_head.as_ref())
        );
    }
    Ok(MigrateReport {
        tables: copied,
        replayed,
        verified: v.rows,
        source_head,
        target_head: v.head,
    })
}

/// A head as `verify` prints it.
pub fn show(head: Option<&Head>) -> String {
    match head {
        Some(h) => format!("position {} hash {}", h.position, h.hash),
        None => "none (no events)".into(),
    }
}
