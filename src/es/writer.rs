//! The writer: one task owns the write connection and runs every command (group commit).
//!
//! Jobs arrive on a channel. The writer takes what is queued (up to a batch limit), opens
//! one write transaction (holding the engine's write lock), reads the chain's tail once,
//! runs each job in its own `SAVEPOINT` (a refused or failed job rolls back alone), commits
//! the batch with one fsync, and only then answers every caller. Each job's reply channel is
//! kept apart from its work, so a caller is answered even when its job never ran. Slow work
//! (key generation, signing, network) happens before a job is submitted, never inside it.
//!
//! Only `es::execute` builds jobs.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::cache::Generation;
use super::chain::{self, Tail};
use super::error::ExecError;
use super::storage::{classify, Conn, Failure, Owned, Session, Storage};

/// What one job sees: the batch's transaction, the chain's tail, and the versions of the
/// streams earlier jobs of the batch appended to.
pub struct Batch {
    owned: Owned,
    pub(crate) tail: Tail,
    pub(crate) versions: HashMap<String, i64>,
}

impl Batch {
    /// The transaction's connection.
    pub fn conn(&mut self) -> Conn<'_> {
        self.owned.conn()
    }
}

type Output = Box<dyn Any + Send>;
type Work =
    Box<dyn for<'c> FnOnce(&'c mut Batch) -> BoxFuture<'c, Result<Output, ExecError>> + Send>;

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Output, ExecError>>,
}

/// A handle to submit jobs to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    generation: Generation,
}

impl Writer {
    /// Opens the writer's connection on `storage` and starts the writer task. `max_batch`
    /// bounds how many queued jobs share one commit.
    pub async fn spawn(
        storage: &Storage,
        max_batch: usize,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), sqlx::Error> {
        let owned = storage.connect_writer().await?;
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let generation = Generation::default();
        let handle = tokio::spawn(run(
            storage.clone(),
            owned,
            rx,
            max_batch.max(1),
            generation.clone(),
        ));
        Ok((Writer { tx, generation }, handle))
    }

    /// The count of batches this writer ended, bumped before their callers are answered
    /// (see [`super::cache`]).
    pub fn generation(&self) -> Generation {
        self.generation.clone()
    }

    /// Runs `work` inside the writer's transaction and returns its result once the batch it
    /// ran in has committed. An `Err` from `work` rolls back `work`'s writes alone.
    pub(crate) async fn submit<T, F>(&self, work: F) -> Result<T, ExecError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Batch) -> BoxFuture<'c, Result<T, ExecError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |batch| {
            Box::pin(async move { work(batch).await.map(|t| Box::new(t) as Output) })
        });
        self.tx
            .send(Job { work, reply })
            .await
            .map_err(|_| ExecError::Stopped)?;
        let out = answer.await.map_err(|_| ExecError::Stopped)??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| ExecError::Internal("a writer job answered with the wrong type".into()))
    }
}

static BATCHES: AtomicU64 = AtomicU64::new(0);
static COMMANDS: AtomicU64 = AtomicU64::new(0);

/// Batches committed and the commands they carried, since the process started (every
/// writer together): their quotient is the group commit's mean batch size.
pub fn batch_stats() -> (u64, u64) {
    (
        BATCHES.load(Ordering::Relaxed),
        COMMANDS.load(Ordering::Relaxed),
    )
}

fn commit_error(e: &sqlx::Error) -> ExecError {
    ExecError::Commit {
        failure: classify(e),
        message: e.to_string(),
    }
}

async fn run(
    storage: Storage,
    mut owned: Owned,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    generation: Generation,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let healthy;
        (owned, healthy) = run_batch(owned, jobs, &generation).await;
        if !healthy {
            // A database server that restarted or failed over dropped the connection: the
            // next batch gets a new one (its callers were told this one failed).
            match storage.connect_writer().await {
                Ok(fresh) => std::mem::replace(&mut owned, fresh).close().await,
                Err(e) => tracing::error!(error = %e, "could not reconnect the writer"),
            }
        }
    }
    owned.close().await;
}

/// Runs one batch and answers its callers; returns the connection for the next batch and
/// whether it still looks usable.
async fn run_batch(mut owned: Owned, jobs: Vec<Job>, generation: &Generation) -> (Owned, bool) {
    let started = std::time::Instant::now();
    let size = jobs.len();
    let begun = match owned.begin_write().await {
        Ok(()) => chain::tail(&mut owned.conn()).await,
        Err(e) => Err(e),
    };
    let tail = match begun {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "could not begin the write transaction");
            let _ = owned.exec("ROLLBACK").await;
            let err = commit_error(&e);
            generation.bump();
            for job in jobs {
                let _ = job.reply.send(Err(err.clone()));
            }
            return (owned, false);
        }
    };
    let first_position = tail.last_position;
    let mut batch = Batch {
        owned,
        tail,
        versions: HashMap::new(),
    };
    let mut done: Vec<(oneshot::Sender<_>, Result<Output, ExecError>)> = Vec::new();
    let mut broken: Option<ExecError> = None;
    // A job alone in its batch needs no savepoint: if it fails, the whole transaction
    // rolls back, which is the same thing, for two statements fewer.
    let alone = size == 1;
    let mut refused_alone = false;
    // The savepoint of the last job that went through is released together with the next
    // job's savepoint being made (one round trip), or by COMMIT itself.
    let mut open_savepoint = false;
    for job in jobs {
        if let Some(e) = &broken {
            let _ = job.reply.send(Err(e.clone()));
            continue;
        }
        if alone {
            let outcome = AssertUnwindSafe((job.work)(&mut batch))
                .catch_unwind()
                .await
                .unwrap_or(Err(ExecError::Panicked));
            refused_alone = outcome.is_err();
            done.push((job.reply, outcome));
            continue;
        }
        let begin = if open_savepoint {
            batch.owned.exec_many("RELEASE job; SAVEPOINT job").await
        } else {
            batch.owned.exec("SAVEPOINT job").await
        };
        open_savepoint = false;
        if let Err(e) = begin {
            let err = commit_error(&e);
            broken = Some(err.clone());
            let _ = job.reply.send(Err(err));
            continue;
        }
        let (tail, versions) = (batch.tail, batch.versions.clone());
        let outcome = AssertUnwindSafe((job.work)(&mut batch))
            .catch_unwind()
            .await
            .unwrap_or(Err(ExecError::Panicked));
        if outcome.is_ok() {
            open_savepoint = true;
        } else {
            batch.tail = tail;
            batch.versions = versions;
            if let Err(e) = batch.owned.exec_many("ROLLBACK TO job; RELEASE job").await {
                broken = Some(commit_error(&e));
            }
        }
        done.push((job.reply, outcome));
    }
    let mut owned = batch.owned;
    let appended = if refused_alone {
        0
    } else {
        batch.tail.last_position - first_position
    };
    let committed = match broken {
        Some(e) => {
            let _ = owned.exec("ROLLBACK").await;
            Err(e)
        }
        // Nothing of a refused lone job may stay: its refusal is the answer.
        None if refused_alone => match owned.exec("ROLLBACK").await {
            Ok(()) => Ok(()),
            Err(e) => Err(commit_error(&e)),
        },
        None => match owned.exec("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = owned.exec("ROLLBACK").await;
                Err(commit_error(&e))
            }
        },
    };
    let healthy = !matches!(
        &committed,
        Err(ExecError::Commit {
            failure: Failure::Unavailable,
            ..
        })
    );
    match &committed {
        Ok(()) => {
            BATCHES.fetch_add(1, Ordering::Relaxed);
            COMMANDS.fetch_add(size as u64, Ordering::Relaxed);
            crate::metrics::writer_batch(size, started.elapsed().as_secs_f64());
            crate::metrics::events_appended(appended.max(0) as u64);
        }
        Err(e) => {
            tracing::error!(error = %e, "write transaction failed; its commands were not committed")
        }
    }
    // Before any caller hears of this batch, what was cached before it is stale.
    generation.bump();
    for (reply, outcome) in done {
        let answer = match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            // A refused job wrote nothing: its refusal stands.
            (Err(_), Err(refusal)) => Err(refusal),
            (Err(e), Ok(_)) => Err(e.clone()),
        };
        let _ = reply.send(answer);
    }
    (owned, healthy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::storage::on_conn;

    async fn put(batch: &mut Batch, key: &str) -> Result<(), ExecError> {
        let mut conn = batch.conn();
        on_conn!(&mut conn, |c| sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, 'x')"
        )
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_job_in_a_batch_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_sqlite(dir.path()).await.unwrap();
        let (writer, _task) = Writer::spawn(&storage, 16).await.unwrap();
        let before = batch_stats().0;
        // Queued before the writer task runs (one thread): the four jobs share one batch.
        let job = |key: &'static str, fail: bool| {
            writer.submit(move |batch| {
                Box::pin(async move {
                    put(batch, key).await?;
                    if fail {
                        return Err(ExecError::Internal("refused".into()));
                    }
                    Ok(())
                })
            })
        };
        let (a, b, c, d) = tokio::join!(
            job("w-a", false),
            job("w-b", true),
            job("w-c", false),
            job("w-d", true)
        );
        assert!(a.is_ok() && c.is_ok(), "{a:?} {c:?}");
        assert!(b.is_err() && d.is_err());
        assert!(batch_stats().0 > before);
        let mut reader = storage.acquire().await.unwrap();
        let mut conn = reader.conn();
        let keys: Vec<String> = on_conn!(&mut conn, |c| sqlx::query_scalar(
            "SELECT key FROM meta WHERE key LIKE 'w-%' ORDER BY key"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        assert_eq!(keys, ["w-a", "w-c"]);
    }
}
