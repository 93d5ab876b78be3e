//! The storage engines behind the event store and the views.
//!
//! Everything above this module is written once: SQL uses `$n` placeholders and the
//! standard upsert (`ON CONFLICT ... DO UPDATE`), which both engines read the same way, and
//! runs on a [`Conn`] through [`on_conn!`], which expands each query once per engine. What
//! differs per engine (opening, the write lock, error classes) lives in one module per
//! engine: [`sqlite`] and [`postgres`].

pub mod postgres;
pub mod sqlite;

use std::path::Path;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, SqlitePool};

/// A connection to either engine, borrowed for one operation or transaction.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// Marks the start of a statement that may fail without ending the transaction around
    /// it (a unique violation that turns into a retry): on PostgreSQL a failed statement
    /// aborts its transaction, so it runs under a savepoint of its own; SQLite undoes just
    /// the statement by itself. End it with [`Conn::end_statement`].
    pub async fn begin_statement(&mut self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(_) => Ok(()),
            Conn::Postgres(_) => self.exec("SAVEPOINT statement").await,
        }
    }

    /// Ends what [`Conn::begin_statement`] began: kept when `ok`, undone otherwise.
    pub async fn end_statement(&mut self, ok: bool) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(_) => Ok(()),
            Conn::Postgres(_) if ok => self.exec("RELEASE statement").await,
            Conn::Postgres(_) => {
                self.exec("ROLLBACK TO statement").await?;
                self.exec("RELEASE statement").await
            }
        }
    }

    async fn exec(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        on_conn!(self, |c| sqlx::query(sql).execute(c).await.map(|_| ()))
    }

    /// An SQL expression for the text at `path` inside the JSON column `column`.
    pub fn json_text(&self, column: &str, path: &[&str]) -> String {
        match self {
            Conn::Sqlite(_) => sqlite::json_text(column, path),
            Conn::Postgres(_) => postgres::json_text(column, path),
        }
    }

    /// `sql` (written with `$n` placeholders) as this engine prepares it fastest: see
    /// [`positional`].
    pub fn sql<'s>(&self, sql: &'s str) -> std::borrow::Cow<'s, str> {
        match self {
            Conn::Sqlite(_) => positional(sql),
            Conn::Postgres(_) => std::borrow::Cow::Borrowed(sql),
        }
    }

    /// An SQL expression for now, in milliseconds since the Unix epoch, by the database's
    /// clock.
    pub fn now_ms(&self) -> &'static str {
        match self {
            Conn::Sqlite(_) => sqlite::NOW_MS,
            Conn::Postgres(_) => postgres::NOW_MS,
        }
    }

    /// Which engine this connection is on.
    pub fn engine(&self) -> Engine {
        match self {
            Conn::Sqlite(_) => Engine::Sqlite,
            Conn::Postgres(_) => Engine::Postgres,
        }
    }
}

/// `sql` as SQLite should prepare it: `$1, $2, ...` numbered placeholders, each used once
/// and in order, become anonymous `?` (the same binding). SQLite keeps named and numbered
/// parameters in a list it walks for every parameter sqlx binds, so a statement of `n`
/// numbered parameters costs `n²/2` steps per execution; anonymous ones cost nothing. Any
/// other use of placeholders (one bound twice, out of order) is left as it is.
pub fn positional(sql: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut i, mut copied) = (1usize, 0usize, 0usize);
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                if sql[i + 1..i + 1 + digits].parse::<usize>().ok() != Some(next) {
                    return Cow::Borrowed(sql);
                }
                out.push_str(&sql[copied..i]);
                out.push('?');
                next += 1;
                i += 1 + digits;
                copied = i;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    if next == 1 {
        return Cow::Borrowed(sql);
    }
    out.push_str(&sql[copied..]);
    Cow::Owned(out)
}

/// The storage engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs `$body` with `$c` bound to the engine's own connection type, once per engine.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::es::storage::Conn::Sqlite(inner) => {
                let $c: &mut ::sqlx::SqliteConnection = &mut **inner;
                $body
            }
            $crate::es::storage::Conn::Postgres(inner) => {
                let $c: &mut ::sqlx::PgConnection = &mut **inner;
                $body
            }
        }
    };
}
pub(crate) use on_conn;

/// A connection that can carry transactions: the writer's, a tool's, a test's.
pub trait Session: Send {
    /// The connection, for queries.
    fn conn(&mut self) -> Conn<'_>;

    /// Begins a write transaction holding the engine's write lock until commit, so that
    /// appends from every writer form one gap-free, chained sequence of positions.
    fn begin_write(&mut self) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send {
        async move {
            match self.conn() {
                Conn::Sqlite(c) => sqlite::begin_write(c).await,
                Conn::Postgres(c) => postgres::begin_write(c).await,
            }
        }
    }

    /// Begins a read transaction: one consistent snapshot.
    fn begin_read(&mut self) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send {
        async move {
            match self.conn() {
                Conn::Sqlite(c) => sqlx::query("BEGIN").execute(c).await.map(|_| ()),
                Conn::Postgres(c) => postgres::begin_read(c).await,
            }
        }
    }

    /// Runs a statement that returns nothing.
    fn exec<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'a {
        async move { self.conn().exec(sql).await }
    }

    /// Runs several statements without parameters (`A; B`) in one round trip to the
    /// engine: on SQLite one hop to sqlx's worker thread instead of one per statement.
    fn exec_many<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'a {
        async move {
            use sqlx::Executor;
            match self.conn() {
                // sqlx runs each statement of an unbound query in turn, on its worker.
                Conn::Sqlite(c) => sqlx::query(sql).execute(c).await.map(|_| ()),
                // A string without arguments goes as one simple-protocol query.
                Conn::Postgres(c) => c.execute(sql).await.map(|_| ()),
            }
        }
    }
}

impl Session for SqliteConnection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }
}

impl Session for PgConnection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Postgres(self)
    }
}

/// A pooled connection of either engine.
pub enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    /// The connection, for queries.
    pub fn conn(&mut self) -> Conn<'_> {
        Session::conn(self)
    }
}

impl Session for Pooled {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(&mut *c),
            Pooled::Postgres(c) => Conn::Postgres(&mut *c),
        }
    }
}

/// A connection owned by one task (the writer, a command-line tool).
pub enum Owned {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Session for Owned {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Owned::Sqlite(c) => Conn::Sqlite(c),
            Owned::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl Owned {
    /// The connection, for queries.
    pub fn conn(&mut self) -> Conn<'_> {
        Session::conn(self)
    }

    /// Closes the connection.
    pub async fn close(self) {
        use sqlx::Connection;
        match self {
            Owned::Sqlite(c) => {
                let _ = c.close().await;
            }
            Owned::Postgres(c) => {
                let _ = c.close().await;
            }
        }
    }
}

/// An opened database: a pool for reads and what it takes to open the writer's
/// connection.
#[derive(Clone)]
pub enum Storage {
    Sqlite(sqlite::SqliteStorage),
    Postgres(postgres::PostgresStorage),
}

impl Storage {
    /// Opens the database `url` names (`postgres://` or `postgresql://`: PostgreSQL), or,
    /// when `url` is empty, the SQLite database in `data_dir`; runs the migrations.
    pub async fn open(url: &str, data_dir: &Path) -> Result<Self, OpenError> {
        if url.is_empty() {
            Self::open_sqlite(data_dir).await
        } else if postgres::is_postgres_url(url) {
            Ok(Storage::Postgres(
                postgres::PostgresStorage::open(url).await?,
            ))
        } else {
            Err(OpenError::Url)
        }
    }

    /// Opens the SQLite database in `data_dir` (created 0700, its files 0600), running
    /// migrations.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Self, OpenError> {
        Ok(Storage::Sqlite(
            sqlite::SqliteStorage::open(data_dir).await?,
        ))
    }

    /// A pooled reader connection.
    pub async fn acquire(&self) -> Result<Pooled, sqlx::Error> {
        match self {
            Storage::Sqlite(s) => Ok(Pooled::Sqlite(s.readers.acquire().await?)),
            Storage::Postgres(s) => Ok(Pooled::Postgres(s.readers.acquire().await?)),
        }
    }

    /// A new connection for one writer (the server's writer task, a CLI command).
    pub async fn connect_writer(&self) -> Result<Owned, sqlx::Error> {
        match self {
            Storage::Sqlite(s) => Ok(Owned::Sqlite(s.connect_writer().await?)),
            Storage::Postgres(s) => Ok(Owned::Postgres(s.connect_writer().await?)),
        }
    }

    /// The SQLite reader pool (tests and tools that read the file directly).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match self {
            Storage::Sqlite(s) => Some(&s.readers),
            Storage::Postgres(_) => None,
        }
    }

    /// Which engine this is, for messages.
    pub fn engine(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Db {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("storage.url must be empty (SQLite in storage.data_dir) or start with postgres:// or postgresql://")]
    Url,
    #[error("running database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// One stored value as SQLite holds it (its storage class), on its way from one engine to
/// the other (`certbroker migrate-storage`): read by [`sqlite::read_cells`], written by
/// [`postgres::insert_cells`] in the type of the target column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// `name` as a quoted SQL identifier (both engines quote with double quotes). Names come
/// from the database's own catalog, never from input.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What kind of failure a database error is, for the answer a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The disk is full or the data directory cannot be written: retry later.
    Unavailable,
    /// Another writer holds the database longer than the busy timeout: retry later.
    Busy,
    /// Anything else: a fault on our side.
    Other,
}

/// Classifies a database error.
pub fn classify(e: &sqlx::Error) -> Failure {
    match e {
        sqlx::Error::Database(d)
            if d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            postgres::classify_code(d.code().as_deref())
        }
        sqlx::Error::Database(d) => sqlite::classify_code(d.code().as_deref()),
        sqlx::Error::Io(_) => Failure::Unavailable,
        sqlx::Error::PoolTimedOut => Failure::Busy,
        _ => Failure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn numbered_placeholders_in_order_become_anonymous() {
        assert_eq!(
            positional("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            positional("SELECT 1 WHERE a = $1 AND b = $2 LIMIT $3"),
            "SELECT 1 WHERE a = ? AND b = ? LIMIT ?"
        );
        // Placeholders inside literals are text; `$` not before a digit is not a placeholder.
        assert_eq!(
            positional("SELECT json_extract(x, '$.a'), '$1' FROM t WHERE a = $1"),
            "SELECT json_extract(x, '$.a'), '$1' FROM t WHERE a = ?"
        );
        assert_eq!(positional("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn placeholders_bound_twice_or_out_of_order_are_kept() {
        for sql in [
            "SELECT 1 WHERE a > $1 OR (a = $1 AND b > $2)",
            "SELECT 1 WHERE a = $2 AND b = $1",
            "SELECT 1 WHERE a = $1 AND b = $3",
        ] {
            assert_eq!(positional(sql), sql);
        }
    }
}
