//! PostgreSQL, the engine for several replicas on one database: a connection pool for
//! reads, one connection per writer. Appends from every replica are serialized by a
//! transaction-scoped advisory lock taken inside the append transaction, so positions are
//! gap-free and the hash chain is one chain; the lock goes with the transaction, so a
//! dropped session never leaves it held. Migrations are run under sqlx's advisory lock,
//! so replicas starting together run them once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, PgConnection};

use super::{quote_ident, Cell, Failure, OpenError};

/// The embedded PostgreSQL migrations (same numbers and names as the SQLite ones).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The key of the advisory lock every append transaction takes ("certbrkr" in ASCII).
pub const APPEND_LOCK: i64 = 0x6365_7274_6272_6b72;

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The PostgreSQL engine: the reader pool and how to open a writer's connection.
#[derive(Clone)]
pub struct PostgresStorage {
    pub readers: PgPool,
    options: Box<PgConnectOptions>,
}

impl PostgresStorage {
    /// Connects to the database at `url` and runs the migrations (once, whichever replica
    /// gets the migrator's lock first).
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| OpenError::Db {
                what: "reading storage.url".into(),
                source,
            })?
            .application_name("certbroker");
        let mut writer = options
            .clone()
            .connect()
            .await
            .map_err(|source| OpenError::Db {
                what: "connecting to PostgreSQL".into(),
                source,
            })?;
        MIGRATOR.run(&mut writer).await?;
        let _ = sqlx::Connection::close(writer).await;
        let readers = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|source| OpenError::Db {
                what: "opening the reader pool".into(),
                source,
            })?;
        Ok(PostgresStorage {
            readers,
            options: Box::new(options),
        })
    }

    /// A new connection for one writer.
    pub async fn connect_writer(&self) -> Result<PgConnection, sqlx::Error> {
        self.options.connect().await
    }
}

/// Begins an append transaction and takes the append lock, held until commit or
/// rollback. Everything read after it sees every append committed before it.
pub async fn begin_write(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Begins a read transaction on one snapshot.
pub async fn begin_read(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(conn)
        .await
        .map(|_| ())
}

/// Milliseconds since the Unix epoch by the database's clock (leases): one clock for
/// every replica, whatever their own clocks say.
pub const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Makes sure a lease row exists (free: epoch 0, expired) so that the claim can lock it.
pub const ENSURE_LEASE_SQL: &str = "INSERT INTO job_leases (job, holder, epoch, expires_at) \
     VALUES ($1, '', 0, 0) ON CONFLICT (job) DO NOTHING";

/// Claims a lease row that is free, expired or already `$2`'s, skipping it when another
/// transaction holds it locked (a replica claiming it now, or its holder appending under
/// it): `FOR UPDATE SKIP LOCKED`, so claimers never queue behind each other. Bumps the
/// epoch unless `$2` still holds it. Binds: job, holder, ttl ms. Returns the epoch.
pub fn claim_lease_sql() -> String {
    format!(
        r#"UPDATE job_leases SET
             epoch = CASE WHEN job_leases.holder = $2 AND job_leases.expires_at > {NOW_MS}
                          THEN job_leases.epoch ELSE job_leases.epoch + 1 END,
             holder = $2,
             expires_at = {NOW_MS} + $3
           FROM (SELECT job FROM job_leases
                 WHERE job = $1 AND (holder = $2 OR expires_at <= {NOW_MS})
                 FOR UPDATE SKIP LOCKED) AS free
           WHERE job_leases.job = free.job
           RETURNING job_leases.epoch"#
    )
}

/// The fencing check inside an append transaction: the row stays locked until commit, so
/// no replica takes the job over between the check and the commit.
pub const FENCE_SQL: &str =
    "SELECT epoch FROM job_leases WHERE job = $1 AND holder = $2 AND epoch = $3 FOR UPDATE";

/// `(column #>> '{a,b}')`: the text at `path` in a `jsonb` column. `path` is made of
/// identifiers the code names, never of input.
pub fn json_text(column: &str, path: &[&str]) -> String {
    format!("({column} #>> '{{{}}}')", path.join(","))
}

/// A column of a table, as the catalog names it and its type (`udt_name`: `int8`, `bool`,
/// `bytea`, `text`, `jsonb`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub udt: String,
}

/// The columns of `table` in the current schema, in their order (none when there is no
/// such table).
pub async fn columns(conn: &mut PgConnection, table: &str) -> Result<Vec<Column>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        r#"SELECT column_name::text, udt_name::text FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = $1
           ORDER BY ordinal_position"#,
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, udt)| Column { name, udt })
        .collect())
}

/// The number of rows in `table`.
pub async fn count_rows(conn: &mut PgConnection, table: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote_ident(table)))
        .fetch_one(conn)
        .await
}

/// Deletes every row of `table`.
pub async fn clear(conn: &mut PgConnection, table: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("DELETE FROM {}", quote_ident(table)))
        .execute(conn)
        .await
        .map(|_| ())
}

fn mismatch(column: &Column, cell: &Cell) -> sqlx::Error {
    sqlx::Error::Encode(
        format!(
            "column {} ({}) cannot take the value {cell:?}",
            column.name, column.udt
        )
        .into(),
    )
}

/// Inserts `rows` (cells in the order of `columns`) into `table` in one statement, each
/// cell written in its column's type: SQLite's integers become `bigint` or `boolean`, its
/// text `text`, `jsonb` or whatever the column's type reads from text, its blobs `bytea`.
pub async fn insert_cells(
    conn: &mut PgConnection,
    table: &str,
    columns: &[Column],
    rows: &[Vec<Cell>],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
        "INSERT INTO {} ({}) ",
        quote_ident(table),
        names.join(", ")
    ));
    let mut bad = None;
    q.push_values(rows, |mut b, row| {
        for (column, cell) in columns.iter().zip(row) {
            match (column.udt.as_str(), cell) {
                ("int2" | "int4" | "int8", Cell::Int(v)) => b.push_bind(*v),
                ("int2" | "int4" | "int8", Cell::Null) => b.push_bind(None::<i64>),
                ("bool", Cell::Int(v)) => b.push_bind(*v != 0),
                ("bool", Cell::Null) => b.push_bind(None::<bool>),
                ("float4" | "float8", Cell::Real(v)) => b.push_bind(*v),
                ("float4" | "float8", Cell::Int(v)) => b.push_bind(*v as f64),
                ("float4" | "float8", Cell::Null) => b.push_bind(None::<f64>),
                ("bytea", Cell::Blob(v)) => b.push_bind(v.clone()),
                ("bytea", Cell::Text(v)) => b.push_bind(v.as_bytes().to_vec()),
                ("bytea", Cell::Null) => b.push_bind(None::<Vec<u8>>),
                ("text" | "varchar" | "bpchar", Cell::Text(v)) => b.push_bind(v.clone()),
                ("text" | "varchar" | "bpchar", Cell::Int(v)) => b.push_bind(v.to_string()),
                ("text" | "varchar" | "bpchar", Cell::Null) => b.push_bind(None::<String>),
                // Any other type (jsonb, timestamptz, uuid, ...) is read from its text.
                (udt, Cell::Text(_) | Cell::Null)
                    if udt.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    let text = match cell {
                        Cell::Text(v) => Some(v.clone()),
                        _ => None,
                    };
                    b.push_bind(text).push_unseparated(format!("::{udt}"))
                }
                _ => {
                    bad.get_or_insert_with(|| mismatch(column, cell));
                    b.push_bind(None::<String>)
                }
            };
        }
    });
    if let Some(e) = bad {
        return Err(e);
    }
    q.build().execute(conn).await.map(|_| ())
}

/// Moves every sequence behind a column of `table` (serial and identity columns) past the
/// largest value the column holds, so the next value drawn follows the copied rows.
pub async fn advance_sequences(conn: &mut PgConnection, table: &str) -> Result<(), sqlx::Error> {
    for column in columns(&mut *conn, table).await? {
        let sequence: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
            .bind(quote_ident(table))
            .bind(&column.name)
            .fetch_one(&mut *conn)
            .await?;
        let Some(sequence) = sequence else { continue };
        let sql = format!(
            "SELECT setval($1::regclass, COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)",
            quote_ident(&column.name),
            quote_ident(table)
        );
        sqlx::query(&sql).bind(sequence).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Classifies a PostgreSQL SQLSTATE.
pub fn classify_code(code: Option<&str>) -> Failure {
    let Some(code) = code else {
        return Failure::Other;
    };
    match code {
        // serialization_failure, deadlock_detected, lock_not_available, query_canceled
        "40001" | "40P01" | "55P03" | "57014" => Failure::Busy,
        // insufficient resources (disk full, out of memory, too many connections),
        // connection exceptions, the server shutting down, read-only standby
        c if c.starts_with("53") || c.starts_with("08") || c.starts_with("57P") => {
            Failure::Unavailable
        }
        "25006" => Failure::Unavailable,
        _ => Failure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_states_are_classified_by_their_class() {
        assert_eq!(classify_code(Some("53100")), Failure::Unavailable); // disk_full
        assert_eq!(classify_code(Some("08006")), Failure::Unavailable); // connection_failure
        assert_eq!(classify_code(Some("57P01")), Failure::Unavailable); // admin_shutdown
        assert_eq!(classify_code(Some("40P01")), Failure::Busy); // deadlock_detected
        assert_eq!(classify_code(Some("23505")), Failure::Other); // unique_violation
        assert_eq!(classify_code(None), Failure::Other);
    }

    #[test]
    fn json_paths_read_as_text() {
        assert_eq!(
            json_text("c.policy", &["issuer", "name"]),
            "(c.policy #>> '{issuer,name}')"
        );
    }

    #[test]
    fn both_spellings_of_the_scheme_select_postgres() {
        assert!(is_postgres_url("postgres://u@127.0.0.1:5432/db"));
        assert!(is_postgres_url("postgresql://u@127.0.0.1/db"));
        assert!(!is_postgres_url(""));
        assert!(!is_postgres_url("sqlite:///tmp/x"));
    }
}
