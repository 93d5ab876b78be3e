//! The single writer: one task owns the write connection and runs every command.
//!
//! Commands arrive on a channel. The writer takes what is queued (up to a batch limit),
//! opens one `BEGIN IMMEDIATE` transaction, runs each command in its own `SAVEPOINT` (a
//! refused or failed command rolls back alone), commits the batch with one fsync, and only
//! then answers every caller. Each successful command's new event rows are sealed into
//! the hash chain (`es::chain`) before its savepoint is released. Slow work (key
//! generation, signing, network) must happen before a command is submitted, never inside it.

use std::panic::AssertUnwindSafe;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// Why a submitted command did not commit (beside its own refusal).
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// The batch's transaction failed to begin or commit.
    #[error("the write transaction failed: {0}")]
    Commit(String),
    /// The writer task has stopped (server shutting down).
    #[error("the writer is not running")]
    Stopped,
    /// The command panicked; its savepoint was rolled back.
    #[error("the command panicked")]
    Panicked,
}

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Finish)> + Send>;

/// A handle to submit commands to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// Result of a command: its own outcome, or a writer failure.
pub type Submitted<T, E> = Result<Result<T, E>, WriterError>;

impl Writer {
    /// Starts the writer task on `conn` (a dedicated connection). `max_batch` bounds how
    /// many queued commands share one commit.
    pub fn spawn(conn: SqliteConnection, max_batch: usize) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let handle = tokio::spawn(run(conn, rx, max_batch.max(1)));
        (Writer { tx }, handle)
    }

    /// Runs `f` inside the writer's transaction and returns its result once the batch it
    /// ran in has committed. An `Err` from `f` rolls back `f`'s writes alone.
    pub async fn submit<T, E, F>(&self, f: F) -> Submitted<T, E>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (otx, orx) = oneshot::channel::<Submitted<T, E>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let outcome = AssertUnwindSafe(f(conn)).catch_unwind().await;
                match outcome {
                    Ok(result) => {
                        let ok = result.is_ok();
                        let finish: Finish = Box::new(move |commit| {
                            let _ = otx.send(match commit {
                                Ok(()) => Ok(result),
                                Err(e) if ok => Err(WriterError::Commit(e)),
                                // A refused command wrote nothing: its refusal stands.
                                Err(_) => Ok(result),
                            });
                        });
                        (ok, finish)
                    }
                    Err(_) => {
                        let finish: Finish = Box::new(move |_| {
                            let _ = otx.send(Err(WriterError::Panicked));
                        });
                        (false, finish)
                    }
                }
            })
        });
        self.tx.send(job).await.map_err(|_| WriterError::Stopped)?;
        orx.await.map_err(|_| WriterError::Stopped)?
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<(), String> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE").await {
            tracing::error!(error = %e, "could not begin the write transaction");
            // Answer every caller: their commands never ran.
            for job in batch {
                let (_, finish) = job_refused(job, &mut conn).await;
                finish(Err(e.clone()));
            }
            continue;
        }
        let mut finishes = Vec::with_capacity(batch.len());
        let mut broken: Option<String> = None;
        for job in batch {
            if let Some(e) = &broken {
                let (_, finish) = job_refused(job, &mut conn).await;
                finish(Err(e.clone()));
                continue;
            }
            if let Err(e) = exec(&mut conn, "SAVEPOINT command").await {
                broken = Some(e);
                let (_, finish) = job_refused(job, &mut conn).await;
                if let Some(e) = &broken {
                    finish(Err(e.clone()));
                }
                continue;
            }
            let tail = match super::chain::tail(&mut conn).await {
                Ok(t) => t,
                Err(e) => {
                    broken = Some(format!("reading the chain's tail: {e}"));
                    let (_, finish) = job_refused(job, &mut conn).await;
                    finishes.push(finish);
                    continue;
                }
            };
            let (ok, finish) = job(&mut conn).await;
            let end = if ok {
                // Chain what the command appended before its savepoint is released, so no
                // row is ever committed unsealed.
                match super::chain::seal_new(&mut conn, tail).await {
                    Ok(_) => exec(&mut conn, "RELEASE command").await,
                    Err(e) => Err(format!("sealing the hash chain: {e}")),
                }
            } else {
                match exec(&mut conn, "ROLLBACK TO command").await {
                    Ok(()) => exec(&mut conn, "RELEASE command").await,
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = end {
                broken = Some(e);
            }
            finishes.push(finish);
        }
        let result = match broken {
            Some(e) => {
                let _ = exec(&mut conn, "ROLLBACK").await;
                Err(e)
            }
            None => match exec(&mut conn, "COMMIT").await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = exec(&mut conn, "ROLLBACK").await;
                    Err(e)
                }
            },
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "write transaction failed; its commands were not committed");
        }
        for finish in finishes {
            finish(result.clone());
        }
    }
    let _ = conn.close().await;
}

/// Tells a job's caller it did not run, without running its body against the database.
async fn job_refused(job: Job, conn: &mut SqliteConnection) -> (bool, Finish) {
    // The job must still be consumed to reach its answer channel; run it inside a
    // savepoint that is always rolled back, so nothing it writes survives.
    let _ = exec(conn, "SAVEPOINT refused").await;
    let out = job(conn).await;
    let _ = exec(conn, "ROLLBACK TO refused").await;
    let _ = exec(conn, "RELEASE refused").await;
    (false, out.1)
}
