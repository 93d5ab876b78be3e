//! Leases on the worker's jobs, in the database, so that several replicas on one database
//! drive each job (a certificate's pending request, a sweep) one at a time, and a killed
//! replica's jobs are taken over once its lease expires.
//!
//! A lease is a row `job_leases(job, holder, epoch, expires_at)`. [`Leases::claim`] takes
//! the row when it is free, expired or already ours, and returns a [`Fence`]: the holder
//! and the epoch, which grows each time the job changes hands. Expiry is by the database's
//! clock, so the replicas' own clocks do not matter. The holder renews before each external
//! step (a call to an ACME CA) and releases when done.
//!
//! Fencing: while a job runs under [`Leases::hold`], every command it sends through the
//! pipeline carries its fence, and the append transaction checks that the row still names
//! this holder and epoch (on PostgreSQL locking the row until commit), refusing otherwise
//! with nothing written. A holder that was paused past its expiry and taken over can thus
//! record nothing. The residual window is the external call itself: a lease that expires
//! while a call to the CA is in flight (longer than `worker.lease_seconds`) lets another
//! replica repeat that call; renewing right before each call keeps the window to one call.
//!
//! Engines: on PostgreSQL the claim locks the row `FOR UPDATE SKIP LOCKED` on a pooled
//! connection (claimers never queue behind each other or behind a fenced append); on
//! SQLite it is one upsert through the writer, the database's only write lock. The server
//! itself takes leases in the database only on PostgreSQL: an SQLite file serves one
//! process, so there [`Leases::for_process`] grants every claim at once without writing
//! (the worker costs not one fsync more than without leases, and a restarted server resumes
//! its jobs at once instead of waiting for its old leases to expire).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::storage::{on_conn, postgres, sqlite, Conn, Engine, Storage};
use super::{EventStore, ExecError};

/// A lease held: the job, who holds it, and the epoch that fences the holder's writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub job: String,
    pub holder: String,
    pub epoch: i64,
}

/// Claims, renews and releases leases for one holder.
#[derive(Clone)]
pub struct Leases {
    es: EventStore,
    holder: Arc<str>,
    ttl_ms: i64,
    /// The only process on its database: every claim is granted, nothing is written.
    alone: bool,
}

/// The holder of a process alone on its (SQLite) database.
pub const LOCAL_HOLDER: &str = "local";

tokio::task_local! {
    static HELD: (Leases, Fence);
}

impl Leases {
    /// Leases for `holder`, each lasting `ttl` unless renewed.
    pub fn new(es: EventStore, holder: &str, ttl: Duration) -> Self {
        Leases {
            es,
            holder: holder.into(),
            ttl_ms: 0,
            alone: false,
        }
        .with_ttl(ttl)
    }

    /// Leases for this process: on PostgreSQL in the database, for a holder of its own (a
    /// new UUID); on SQLite, where this process is the only one, granted without writing.
    pub fn for_process(es: EventStore, ttl: Duration) -> Self {
        match es.storage() {
            Storage::Postgres(_) => Self::new(es, &uuid::Uuid::new_v4().to_string(), ttl),
            Storage::Sqlite(_) => Leases {
                alone: true,
                ..Self::new(es, LOCAL_HOLDER, ttl)
            },
        }
    }

    /// The same leases with another time to live.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Who holds what these leases claim.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Claims `job`: its fence when it was free, expired or already ours; `None` while
    /// another holder has it.
    pub async fn claim(&self, job: &str) -> Result<Option<Fence>, ExecError> {
        if self.alone {
            return Ok(Some(Fence {
                job: job.to_owned(),
                holder: self.holder.to_string(),
                epoch: 0,
            }));
        }
        let (job, holder, ttl) = (job.to_owned(), self.holder.to_string(), self.ttl_ms);
        let epoch = self
            .es
            .side_write(move |mut conn| {
                Box::pin(async move {
                    // PostgreSQL's claim locks an existing row (SKIP LOCKED), so the row is
                    // made first; SQLite's claim is one upsert.
                    let claim = match conn.engine() {
                        Engine::Sqlite => sqlite::claim_lease_sql(),
                        Engine::Postgres => {
                            on_conn!(&mut conn, |c| sqlx::query(postgres::ENSURE_LEASE_SQL)
                                .bind(&job)
                                .execute(c)
                                .await
                                .map(|_| ()))?;
                            postgres::claim_lease_sql()
                        }
                    };
                    let epoch: Option<i64> = on_conn!(&mut conn, |c| {
                        sqlx::query_scalar::<_, i64>(&claim)
                            .bind(&job)
                            .bind(&holder)
                            .bind(ttl)
                            .fetch_optional(c)
                            .await
                    })?;
                    Ok(epoch.map(|epoch| Fence { job, holder, epoch }))
                })
            })
            .await?;
        Ok(epoch)
    }

    /// Extends `fence`'s lease by the time to live. False when it changed hands.
    pub async fn renew(&self, fence: &Fence) -> Result<bool, ExecError> {
        self.update(fence, Some(self.ttl_ms)).await
    }

    /// Gives `fence`'s lease up (it expires now; the epoch stays for the next claimer to
    /// bump). False when it had changed hands already.
    pub async fn release(&self, fence: &Fence) -> Result<bool, ExecError> {
        self.update(fence, None).await
    }

    async fn update(&self, fence: &Fence, ttl_ms: Option<i64>) -> Result<bool, ExecError> {
        if self.alone {
            return Ok(true);
        }
        let fence = fence.clone();
        self.es
            .side_write(move |mut conn| {
                Box::pin(async move {
                    let expires = match ttl_ms {
                        Some(_) => format!("{} + $4", conn.now_ms()),
                        None => "0".to_owned(),
                    };
                    let sql = format!(
                        "UPDATE job_leases SET expires_at = {expires} \
                         WHERE job = $1 AND holder = $2 AND epoch = $3"
                    );
                    let changed = on_conn!(&mut conn, |c| {
                        let q = sqlx::query(&sql)
                            .bind(&fence.job)
                            .bind(&fence.holder)
                            .bind(fence.epoch);
                        match ttl_ms {
                            Some(ttl) => q.bind(ttl).execute(c).await,
                            None => q.execute(c).await,
                        }
                        .map(|r| r.rows_affected())
                    })?;
                    Ok(changed == 1)
                })
            })
            .await
    }

    /// Runs `work` holding `fence`: every command it sends through the pipeline is fenced
    /// by it, and [`renew_held`] renews it.
    pub async fn hold<F: Future>(&self, fence: Fence, work: F) -> F::Output {
        if self.alone {
            return work.await;
        }
        HELD.scope((self.clone(), fence), work).await
    }

    /// Claims `job`, runs `work` holding it and releases it. `None` (and `work` not run)
    /// while another holder has it.
    pub async fn run<F: Future>(&self, job: &str, work: F) -> Result<Option<F::Output>, ExecError> {
        let Some(fence) = self.claim(job).await? else {
            return Ok(None);
        };
        let out = self.hold(fence.clone(), work).await;
        if let Err(e) = self.release(&fence).await {
            tracing::warn!(job, error = %e, "could not release a lease; it will expire");
        }
        Ok(Some(out))
    }
}

/// The fence of the lease the current task holds, if any.
pub fn held() -> Option<Fence> {
    HELD.try_with(|(_, fence)| fence.clone()).ok()
}

/// Renews the lease the current task holds (true when it holds none): call before each
/// external step. False means another replica took the job over: stop.
pub async fn renew_held() -> Result<bool, ExecError> {
    let Ok((leases, fence)) = HELD.try_with(|h| h.clone()) else {
        return Ok(true);
    };
    leases.renew(&fence).await
}

/// Whether `fence` still holds its lease, inside an append transaction (on PostgreSQL the
/// row stays locked until that transaction ends).
pub(crate) async fn check(conn: &mut Conn<'_>, fence: &Fence) -> Result<bool, sqlx::Error> {
    let sql = match conn.engine() {
        Engine::Sqlite => sqlite::FENCE_SQL,
        Engine::Postgres => postgres::FENCE_SQL,
    };
    let row: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(sql)
        .bind(&fence.job)
        .bind(&fence.holder)
        .bind(fence.epoch)
        .fetch_optional(c)
        .await)?;
    Ok(row.is_some())
}
