//! SQLite, the embedded engine: one file in the data directory, WAL with
//! `synchronous=FULL` (a commit is on disk when it is acknowledged), foreign keys on, a busy
//! timeout. One writer at a time holds `BEGIN IMMEDIATE`; readers read committed snapshots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};

use super::{quote_ident, Cell, Failure, OpenError};

/// The embedded SQLite migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The database file inside the data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("certbroker.sqlite3")
}

fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
}

/// Makes the data directory the owner's only (0700) and the database's files too (0600):
/// they hold sealed keys, token hashes and the audit trail. SQLite gives the `-wal` and
/// `-shm` files the database file's mode, so the file is made 0600 before SQLite first
/// opens it; files left by an earlier version are narrowed.
fn make_private(data_dir: &Path, db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let private =
            |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)?;
        private(data_dir, 0o700)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            if file.exists() {
                private(&file, 0o600)?;
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        std::fs::create_dir_all(data_dir)
    }
}

/// The SQLite engine: the reader pool and the file it reads.
#[derive(Clone)]
pub struct SqliteStorage {
    pub readers: SqlitePool,
    pub path: PathBuf,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database in `data_dir` and runs the migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, OpenError> {
        let path = database_path(data_dir);
        make_private(data_dir, &path).map_err(|source| OpenError::Io {
            what: format!("creating data directory {}", data_dir.display()),
            source,
        })?;
        let mut writer =
            connect_options(&path)
                .connect()
                .await
                .map_err(|source| OpenError::Db {
                    what: format!("opening {}", path.display()),
                    source,
                })?;
        MIGRATOR.run(&mut writer).await?;
        let _ = sqlx::Connection::close(writer).await;
        // A connection to a local file does not go stale: no ping (a round trip to the
        // connection's worker thread) before each lease.
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(connect_options(&path).read_only(true))
            .await
            .map_err(|source| OpenError::Db {
                what: "opening the reader pool".into(),
                source,
            })?;
        Ok(SqliteStorage { readers, path })
    }

    /// A new read-write connection.
    pub async fn connect_writer(&self) -> Result<SqliteConnection, sqlx::Error> {
        connect_options(&self.path).connect().await
    }

    /// A new read-write connection to the database in `data_dir`.
    pub async fn connect_writer_at(data_dir: &Path) -> Result<SqliteConnection, sqlx::Error> {
        connect_options(&database_path(data_dir)).connect().await
    }
}

/// Takes the write lock for a transaction: `BEGIN IMMEDIATE`.
pub async fn begin_write(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE")
        .execute(conn)
        .await
        .map(|_| ())
}

/// The database's tables in the order they were made, without SQLite's own
/// (`sqlite_sequence`) and the migrator's (`_sqlx_migrations`).
pub async fn tables(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        r#"SELECT name FROM sqlite_master
           WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
             AND name NOT LIKE '\_sqlx\_%' ESCAPE '\'
           ORDER BY rowid"#,
    )
    .fetch_all(conn)
    .await
}

/// The columns of `table`, in their order.
pub async fn columns(conn: &mut SqliteConnection, table: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
        .bind(table)
        .fetch_all(conn)
        .await
}

/// Up to `limit` rows of `table` after rowid `after`, in rowid order (for `events`, the
/// rowid is the position): each row's rowid and its `columns` as stored.
pub async fn read_cells(
    conn: &mut SqliteConnection,
    table: &str,
    columns: &[String],
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Vec<Cell>)>, sqlx::Error> {
    use sqlx::{Row, TypeInfo, ValueRef};
    let list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
        list.join(", "),
        quote_ident(table)
    );
    let rows = sqlx::query(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let rowid: i64 = row.try_get(0)?;
        let mut cells = Vec::with_capacity(columns.len());
        for i in 1..=columns.len() {
            let class = {
                let raw = row.try_get_raw(i)?;
                if raw.is_null() {
                    None
                } else {
                    Some(raw.type_info().name().to_owned())
                }
            };
            cells.push(match class.as_deref() {
                None => Cell::Null,
                Some("INTEGER") => Cell::Int(row.try_get(i)?),
                Some("REAL") => Cell::Real(row.try_get(i)?),
                Some("TEXT") => Cell::Text(row.try_get(i)?),
                _ => Cell::Blob(row.try_get(i)?),
            });
        }
        out.push((rowid, cells));
    }
    Ok(out)
}
/// Milliseconds since the Unix epoch by the database's clock (leases).
pub const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// Claims a lease in one upsert (the writer holds the only write lock, so nothing can
/// interleave): takes the row when it is free, expired or already `$2`'s, bumping the
/// epoch unless `$2` still holds it. Binds: job, holder, ttl ms. Returns the epoch.
pub fn claim_lease_sql() -> String {
    format!(
        r#"INSERT INTO job_leases (job, holder, epoch, expires_at) VALUES ($1, $2, 1, {NOW_MS} + $3)
           ON CONFLICT (job) DO UPDATE SET
             epoch = CASE WHEN job_leases.holder = excluded.holder AND job_leases.expires_at > {NOW_MS}
                          THEN job_leases.epoch ELSE job_leases.epoch + 1 END,
             holder = excluded.holder,
             expires_at = excluded.expires_at
           WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= {NOW_MS}
           RETURNING epoch"#
    )
}

/// The fencing check inside an append transaction (which holds the only write lock).
pub const FENCE_SQL: &str =
    "SELECT epoch FROM job_leases WHERE job = $1 AND holder = $2 AND epoch = $3";

/// `json_extract(column, '$.a.b')`: the text at `path` in a JSON text column. `path` is
/// made of identifiers the code names, never of input.
pub fn json_text(column: &str, path: &[&str]) -> String {
    format!("json_extract({column}, '$.{}')", path.join("."))
}

/// Classifies an SQLite result code (primary or extended, as text).
pub fn classify_code(code: Option<&str>) -> Failure {
    let Some(code) = code.and_then(|c| c.parse::<i64>().ok()) else {
        return Failure::Other;
    };
    match code & 0xff {
        // SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN
        13 | 10 | 8 | 14 => Failure::Unavailable,
        // SQLITE_BUSY, SQLITE_LOCKED
        5 | 6 => Failure::Busy,
        _ => Failure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_classified_by_their_primary_code() {
        assert_eq!(classify_code(Some("13")), Failure::Unavailable);
        assert_eq!(classify_code(Some("3338")), Failure::Unavailable); // SQLITE_IOERR_FSYNC
        assert_eq!(classify_code(Some("1032")), Failure::Unavailable); // SQLITE_READONLY_DBMOVED
        assert_eq!(classify_code(Some("517")), Failure::Busy); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(classify_code(Some("2067")), Failure::Other); // SQLITE_CONSTRAINT_UNIQUE
        assert_eq!(classify_code(None), Failure::Other);
    }
}
