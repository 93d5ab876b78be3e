//! The one command pipeline: every command of every aggregate goes through
//! [`EventStore::execute`], as esrs's `AggregateManager::handle_command` and cqrs-es's
//! `CqrsFramework::execute_with_metadata` do.
//!
//! Inside the writer's transaction, in order: take the stream's state (as loaded by the
//! caller when it prepared the command, or loaded here), `decide`, append the events
//! (sealed into the hash chain), perform the command's effects (sealed keys, tokens),
//! bring the views up to date, erase released keys. If the stream moved on since it was
//! loaded, the command is decided once more on the fresh state, then refused (409). The
//! caller is answered only after the batch committed, with the states before and after:
//! responses are rendered from what was decided.

use std::sync::Arc;

use super::aggregate::{Aggregate, Change, Views};
use super::envelope::{EventMeta, StreamId};
use super::error::ExecError;
use super::keys::{self, SealedKey};
use super::storage::{on_conn, Conn, Storage};
use super::store::{self, StoreError};
use super::tokens;
use super::writer::{Batch, Writer};
use crate::domain::DomainError;
use futures_util::future::BoxFuture;

/// A stream's state and version, loaded when a command was prepared.
pub struct Loaded<A: Aggregate> {
    pub state: A::State,
    pub version: i64,
}

impl<A: Aggregate> Clone for Loaded<A> {
    fn clone(&self) -> Self {
        Loaded {
            state: self.state.clone(),
            version: self.version,
        }
    }
}

/// What a command writes besides its events, in the same transaction.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Store a sealed private key the events name.
    StoreKey(SealedKey),
    /// Store a new bearer token's hash (refused when the name is taken).
    CreateToken {
        name: String,
        role: String,
        sha256: String,
    },
    /// Revoke an active token or OAuth client (refused when none has that name).
    Revoke {
        kind: super::credentials::Credentials,
        name: String,
    },
    /// Store a new OAuth client and its secret's hash (refused when the name is taken).
    CreateClient {
        name: String,
        client_id: String,
        role: String,
        secret_sha256: String,
    },
    /// Refuse the command, writing nothing, unless this worker lease is still held (added
    /// by [`EventStore::execute`] to every command run under a held lease).
    Fence(super::leases::Fence),
}

/// A command for [`EventStore::execute`].
pub struct Command<A: Aggregate> {
    pub stream: StreamId,
    /// The object as the caller spelled it (for messages).
    pub name: String,
    pub command: A::Command,
    pub meta: EventMeta,
    /// The state the command was prepared on, if it was loaded already.
    pub loaded: Option<Loaded<A>>,
    pub effects: Vec<Effect>,
}

/// What a committed command decided.
pub struct Executed<A: Aggregate> {
    pub before: A::State,
    pub after: A::State,
    pub events: Vec<A::Event>,
    /// When it was decided (Unix seconds): the events' recorded time.
    pub at: i64,
}

impl<A: Aggregate> Executed<A> {
    /// The state after the first `n` events only.
    pub fn state_after(&self, n: usize) -> A::State {
        let mut s = self.before.clone();
        for e in self.events.iter().take(n) {
            A::apply(&mut s, e, self.at);
        }
        s
    }
}

/// The event store: a reader pool, the writer, the views it keeps.
#[derive(Clone)]
pub struct EventStore {
    storage: Storage,
    writer: Writer,
    views: Arc<dyn Views>,
}

impl EventStore {
    /// An event store over `storage`, writing through `writer`, keeping `views`.
    pub fn new(storage: Storage, writer: Writer, views: Arc<dyn Views>) -> Self {
        EventStore {
            storage,
            writer,
            views,
        }
    }

    /// The storage, for reads.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The writer's batch count, for caches of reads (see [`super::cache`]).
    pub fn generation(&self) -> super::cache::Generation {
        self.writer.generation()
    }

    /// Proves the writer takes the write lock and answers: submits a job that runs one
    /// statement touching nothing (readiness).
    pub async fn probe(&self) -> Result<(), ExecError> {
        self.writer
            .submit(|batch| {
                Box::pin(async move {
                    crate::projections::observe::probe(&mut batch.conn())
                        .await
                        .map_err(ExecError::from)
                })
            })
            .await
    }

    /// Loads a stream's state from a reader connection (outside the writer).
    pub async fn load<A: Aggregate>(&self, stream: &StreamId) -> Result<Loaded<A>, StoreError> {
        let mut pooled = self.storage.acquire().await?;
        load::<A>(&mut pooled.conn(), stream).await
    }

    /// Runs `command` through the pipeline and answers once it committed. Under a held
    /// worker lease the command is fenced by it.
    pub async fn execute<A: Aggregate>(
        &self,
        mut command: Command<A>,
        context: Arc<A::Context>,
    ) -> Result<Executed<A>, ExecError> {
        if let Some(fence) = super::leases::held() {
            command.effects.push(Effect::Fence(fence));
        }
        let views = self.views.clone();
        self.writer
            .submit(move |batch| Box::pin(run::<A>(batch, command, context, views)))
            .await
    }
}

impl EventStore {
    /// Runs `work`, a write that is not an event (a lease, an HTTP-01 answer), and returns
    /// once it committed: on SQLite through the writer (the only write lock, sharing its
    /// group commit), on PostgreSQL on a pooled connection (no append lock needed).
    pub async fn side_write<T, F>(&self, work: F) -> Result<T, ExecError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Conn<'c>) -> BoxFuture<'c, Result<T, sqlx::Error>> + Send + 'static,
    {
        match self.storage {
            Storage::Sqlite(_) => {
                self.writer
                    .submit(move |batch| {
                        Box::pin(async move { work(batch.conn()).await.map_err(ExecError::from) })
                    })
                    .await
            }
            Storage::Postgres(_) => {
                let mut pooled = self.storage.acquire().await?;
                Ok(work(pooled.conn()).await?)
            }
        }
    }

    /// A [`side_write`](Self::side_write) running `sql`, one statement with `key` as its `$1`
    /// (a `DELETE … WHERE … = $1`).
    pub async fn side_delete(&self, sql: &'static str, key: &str) -> Result<(), ExecError> {
        let key = key.to_owned();
        self.side_write(move |mut conn| {
            Box::pin(async move {
                on_conn!(&mut conn, |c| sqlx::query(sql)
                    .bind(&key)
                    .execute(c)
                    .await
                    .map(|_| ()))
            })
        })
        .await
    }
}

async fn load<A: Aggregate>(
    conn: &mut super::storage::Conn<'_>,
    stream: &StreamId,
) -> Result<Loaded<A>, StoreError> {
    if A::STATELESS {
        return Ok(Loaded {
            state: A::State::default(),
            version: store::version_of(conn, stream).await?,
        });
    }
    let loaded = store::load::<A::Event>(conn, stream).await?;
    let mut state = A::State::default();
    for (e, at) in &loaded.events {
        A::apply(&mut state, e, *at);
    }
    Ok(Loaded {
        state,
        version: loaded.version,
    })
}

async fn run<A: Aggregate>(
    batch: &mut Batch,
    command: Command<A>,
    context: Arc<A::Context>,
    views: Arc<dyn Views>,
) -> Result<Executed<A>, ExecError> {
    let Command {
        stream,
        name,
        command,
        meta,
        loaded,
        effects,
    } = command;
    let id = stream.to_string();
    let at = meta.at.timestamp();
    // A stream an earlier job of this batch appended to has moved past what the caller
    // loaded: load it afresh here rather than fail the append.
    let known = batch.versions.get(&id).copied();
    let mut loaded = match loaded {
        Some(l) if known.is_none_or(|v| v == l.version) => l,
        _ => load::<A>(&mut batch.conn(), &stream).await?,
    };
    let mut retried = false;
    let events = loop {
        let events = A::decide(&loaded.state, &name, command.clone(), &context)?;
        if events.is_empty() {
            return Ok(Executed {
                after: loaded.state.clone(),
                before: loaded.state,
                events,
                at,
            });
        }
        let mut tail = batch.tail;
        match store::append(
            &mut batch.conn(),
            &mut tail,
            &stream,
            loaded.version,
            &events,
            &meta,
        )
        .await
        {
            Ok(()) => {
                batch.tail = tail;
                break events;
            }
            Err(StoreError::Conflict { .. }) if !retried => {
                retried = true;
                loaded = load::<A>(&mut batch.conn(), &stream).await?;
            }
            Err(StoreError::Conflict { stream, .. }) => return Err(ExecError::Conflict { stream }),
            Err(e) => return Err(e.into()),
        }
    };
    let mut conn = batch.conn();
    for effect in effects {
        apply_effect(&mut conn, effect, &meta).await?;
    }
    let before = loaded.state;
    let mut after = before.clone();
    for e in &events {
        A::apply(&mut after, e, at);
    }
    let change = Change {
        stream: &stream,
        before: A::view(&before),
        after: A::view(&after),
    };
    views.sync(&mut conn, change).await?;
    for key_id in A::released_keys(&before, &events) {
        keys::delete(&mut conn, &key_id).await?;
    }
    batch
        .versions
        .insert(id, loaded.version + events.len() as i64);
    Ok(Executed {
        before,
        after,
        events,
        at,
    })
}

async fn apply_effect(
    conn: &mut super::storage::Conn<'_>,
    effect: Effect,
    meta: &EventMeta,
) -> Result<(), ExecError> {
    match effect {
        Effect::StoreKey(key) => keys::insert(conn, &key, &store::format_time(&meta.at)).await?,
        Effect::CreateToken { name, role, sha256 } => {
            if !tokens::insert(conn, &name, &role, &sha256, &store::format_time(&meta.at)).await? {
                return Err(
                    DomainError::BadParameter(format!("A token named '{name}' exists.")).into(),
                );
            }
        }
        Effect::Revoke { kind, name } => {
            let at = store::format_time(&meta.at);
            if !super::credentials::revoke(conn, kind, &name, &at).await? {
                let noun = kind.noun();
                let message = format!("No active {noun} is named '{name}'.");
                return Err(DomainError::BadParameter(message).into());
            }
        }
        Effect::CreateClient {
            name,
            client_id,
            role,
            secret_sha256,
        } => {
            let row = super::clients::ClientRow {
                name,
                client_id,
                role,
                created_at: store::format_time(&meta.at),
                revoked_at: None,
            };
            if !super::clients::insert(conn, &row, &secret_sha256).await? {
                return Err(DomainError::BadParameter(format!(
                    "A client named '{}' exists.",
                    row.name
                ))
                .into());
            }
        }
        Effect::Fence(fence) => {
            if !super::leases::check(conn, &fence).await? {
                return Err(ExecError::LeaseLost { job: fence.job });
            }
        }
    }
    Ok(())
}
