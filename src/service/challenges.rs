//! HTTP-01 key authorizations being validated (RFC 8555 §8.3), by token: published by the
//! ACME worker of any replica, answered by the challenge listener of every replica. They
//! live in the database (`acme_challenges`), so a load balancer in front of the replicas'
//! port-80 listeners may send the CA's request to any of them. Not events: an answer lives
//! only while a CA validates, and it holds no secret (a token and the account's thumbprint).

use crate::es::storage::on_conn;
use crate::es::{EventStore, ExecError};

/// Answers older than this (a replica died while a CA validated) are dropped.
const STALE_MS: i64 = 24 * 3600 * 1000;

/// The answers to publish. Cheap to clone; shared by the worker and the listener.
#[derive(Clone)]
pub struct ChallengeStore(EventStore);

impl ChallengeStore {
    /// The answers in `es`'s database.
    pub fn new(es: EventStore) -> Self {
        ChallengeStore(es)
    }

    /// The key authorization for `token`, if one is being validated.
    pub async fn get(&self, token: &str) -> Result<Option<String>, sqlx::Error> {
        let mut pooled = self.0.storage().acquire().await?;
        let mut conn = pooled.conn();
        on_conn!(&mut conn, |c| sqlx::query_scalar(
            "SELECT key_authorization FROM acme_challenges WHERE token = $1"
        )
        .bind(token)
        .fetch_optional(c)
        .await)
    }

    /// Publishes `key_authorization` for `token` (and drops answers left stale).
    pub async fn put(&self, token: &str, key_authorization: &str) -> Result<(), ExecError> {
        let (token, key_authorization) = (token.to_owned(), key_authorization.to_owned());
        self.0
            .side_write(move |mut conn| {
                Box::pin(async move {
                    let now = conn.now_ms();
                    let upsert = format!(
                        "INSERT INTO acme_challenges (token, key_authorization, created_at) \
                         VALUES ($1, $2, {now}) ON CONFLICT (token) DO UPDATE SET \
                         key_authorization = excluded.key_authorization, \
                         created_at = excluded.created_at"
                    );
                    let stale =
                        format!("DELETE FROM acme_challenges WHERE created_at < {now} - $1");
                    on_conn!(&mut conn, |c| {
                        sqlx::query(&stale).bind(STALE_MS).execute(&mut *c).await?;
                        sqlx::query(&upsert)
                            .bind(&token)
                            .bind(&key_authorization)
                            .execute(c)
                            .await
                            .map(|_| ())
                    })
                })
            })
            .await
    }

    /// Withdraws `token`.
    pub async fn remove(&self, token: &str) -> Result<(), ExecError> {
        self.0
            .side_delete("DELETE FROM acme_challenges WHERE token = $1", token)
            .await
    }
}
