//! The ACME accounts registered at each provider (RFC 8555 §7.3), by account id (the
//! provider and a digest of its directory URL): their credentials sealed under the master
//! key. They live in the database (`acme_accounts`), so every replica drives its orders
//! with the one account the first replica registered, and a replica started on an empty
//! data directory needs nothing copied. Not events: credentials are key material.

use crate::es::storage::{on_conn, Conn};
use crate::es::{EventStore, ExecError};

/// The sealed account credentials. Cheap to clone.
#[derive(Clone)]
pub struct AcmeAccounts(EventStore);

impl AcmeAccounts {
    /// The accounts in `es`'s database.
    pub fn new(es: EventStore) -> Self {
        AcmeAccounts(es)
    }

    /// The sealed credentials of `account`, if it was registered.
    pub async fn get(&self, account: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let mut pooled = self.0.storage().acquire().await?;
        sealed_of(&mut pooled.conn(), account).await
    }

    /// Stores `sealed` for `account` unless another replica stored its own first; either
    /// way returns what is stored now, which every replica then uses. The stored row is
    /// read in the same write, so nothing can fail once the insert is in.
    pub async fn put_first(&self, account: &str, sealed: &[u8]) -> Result<Vec<u8>, ExecError> {
        let (id, hex) = (account.to_owned(), hex::encode(sealed));
        self.0
            .side_write(move |mut conn| {
                Box::pin(async move {
                    let insert = format!(
                        "INSERT INTO acme_accounts (account, sealed, created_at) \
                         VALUES ($1, $2, {}) ON CONFLICT (account) DO NOTHING",
                        conn.now_ms()
                    );
                    on_conn!(&mut conn, |c| sqlx::query(&insert)
                        .bind(&id)
                        .bind(&hex)
                        .execute(c)
                        .await
                        .map(|_| ()))?;
                    sealed_of(&mut conn, &id)
                        .await?
                        .ok_or(sqlx::Error::RowNotFound)
                })
            })
            .await
    }

    /// Forgets `account` (its CA no longer knows it): the next order registers anew.
    pub async fn remove(&self, account: &str) -> Result<(), ExecError> {
        self.0
            .side_delete("DELETE FROM acme_accounts WHERE account = $1", account)
            .await
    }
}

/// The sealed credentials stored for `account`.
async fn sealed_of(conn: &mut Conn<'_>, account: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let hex: Option<String> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT sealed FROM acme_accounts WHERE account = $1"
    )
    .bind(account)
    .fetch_optional(c)
    .await)?;
    hex.map(|h| hex::decode(h).map_err(|e| sqlx::Error::Decode(e.into())))
        .transpose()
}
