//! The storage engines behind the event store and the views.
//!
//! Everything above this module is written once: SQL uses `$n` placeholders and the
//! standard upsert (`ON CONFLICT ... DO UPDATE`), which both engines read the same way, and
//! runs on a [`Conn`] through [`on_conn!`], which expands each query once per engine. What
//! differs per engine (opening, the write lock, error classes) lives in one module per
//! engine: [`sqlite`].

pub mod sqlite;

use std::path::Path;

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

/// A connection to either engine, borrowed for one operation or transaction.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
}

/// Runs `$body` with `$c` bound to the engine's own connection type, once per engine.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::es::storage::Conn::Sqlite(inner) => {
                let $c: &mut ::sqlx::SqliteConnection = &mut **inner;
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
            }
        }
    }

    /// Begins a read transaction: one consistent snapshot.
    fn begin_read(&mut self) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send {
        self.exec("BEGIN")
    }

    /// Runs a statement that returns nothing.
    fn exec<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'a {
        async move {
            let mut conn = self.conn();
            on_conn!(&mut conn, |c| sqlx::query(sql).execute(c).await.map(|_| ()))
        }
    }
}

impl Session for SqliteConnection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }
}

/// A pooled connection of either engine.
pub enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
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
        }
    }
}

/// A connection owned by one task (the writer, a command-line tool).
pub enum Owned {
    Sqlite(SqliteConnection),
}

impl Session for Owned {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Owned::Sqlite(c) => Conn::Sqlite(c),
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
        }
    }
}

/// An opened database: a pool for reads and what it takes to open the writer's
/// connection.
#[derive(Clone)]
pub enum Storage {
    Sqlite(sqlite::SqliteStorage),
}

impl Storage {
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
        }
    }

    /// A new connection for one writer (the server's writer task, a CLI command).
    pub async fn connect_writer(&self) -> Result<Owned, sqlx::Error> {
        match self {
            Storage::Sqlite(s) => Ok(Owned::Sqlite(s.connect_writer().await?)),
        }
    }

    /// The SQLite reader pool (tests and tools that read the file directly).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match self {
            Storage::Sqlite(s) => Some(&s.readers),
        }
    }

    /// Which engine this is, for messages.
    pub fn engine(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
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
    #[error("running database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
        sqlx::Error::Database(d) => sqlite::classify_code(d.code().as_deref()),
        sqlx::Error::Io(_) => Failure::Unavailable,
        sqlx::Error::PoolTimedOut => Failure::Busy,
        _ => Failure::Other,
    }
}
