//! The ACME account of a provider (RFC 8555 §7.3): registered once (with external account
//! binding when configured), its credentials sealed under the master key in the database
//! (`acme_accounts`, shared by every replica), restored from there, cached while the server
//! runs. An account sealed into `<data_dir>/acme` by an earlier version is imported once.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};

use super::http::{provider_client, ReqwestHttp};
use super::problem::Failure;
use super::retry::with_retry;
use super::AcmeDriver;
use crate::config::ProviderSettings;
use crate::crypto;

/// The id of provider `provider`'s account at `directory_url` (its row in `acme_accounts`),
/// and the associated data its credentials are sealed with.
pub fn account_id(provider: &str, directory_url: &str) -> (String, String) {
    let digest = hex::encode(crypto::seal::sha256(directory_url.as_bytes()));
    (
        format!("{provider}-{}", &digest[..16]),
        format!("acme-account:{provider}"),
    )
}

/// Where an earlier version sealed the account `id` under `data_dir`.
fn legacy_account_file(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("acme").join(format!("{id}.account.sealed"))
}

async fn restore(http: reqwest::Client, json: &[u8]) -> Result<Account, instant_acme::Error> {
    let creds: AccountCredentials = serde_json::from_slice(json)?;
    Account::builder_with_http(Box::new(ReqwestHttp(http)))
        .from_credentials(creds)
        .await
}

fn internal(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Internal(e.into())
}

impl AcmeDriver {
    /// The provider's account: cached, restored from its sealed credentials in the
    /// database (imported from a legacy file when only that exists), or registered. When
    /// two replicas register at once, the first stored wins and both use it.
    pub(crate) async fn account(
        &self,
        provider: &str,
        p: &ProviderSettings,
    ) -> Result<Account, Failure> {
        let mut cache = self.accounts.lock().await;
        if let Some(a) = cache.get(provider) {
            return Ok(a.clone());
        }
        let (id, aad) = account_id(provider, &p.directory_url);
        let dir = p.directory_url.as_str();
        let http = provider_client(p)?.0;
        let legacy = legacy_account_file(&self.data_dir, &id);
        let sealed = match self.account_store.get(&id).await.map_err(internal)? {
            Some(sealed) => sealed,
            None if legacy.exists() => {
                let sealed = std::fs::read(&legacy).map_err(internal)?;
                self.keys.unseal(&aad, &sealed)?;
                let stored = self
                    .account_store
                    .put_first(&id, &sealed)
                    .await
                    .map_err(internal)?;
                let _ = std::fs::remove_file(&legacy);
                stored
            }
            None => {
                let json = self.register(p, http.clone()).await?;
                let sealed = self.keys.seal(&aad, &json)?;
                self.account_store
                    .put_first(&id, &sealed)
                    .await
                    .map_err(internal)?
            }
        };
        let json = self.keys.unseal(&aad, &sealed)?;
        let account = with_retry!(self.retrier(dir), restore(http.clone(), &json))?;
        cache.insert(provider.to_owned(), account.clone());
        Ok(account)
    }

    /// Registers a new account at the provider; its credentials as JSON.
    async fn register(
        &self,
        p: &ProviderSettings,
        http: reqwest::Client,
    ) -> Result<Vec<u8>, Failure> {
        let contact = (!p.contact_email.is_empty()).then(|| format!("mailto:{}", p.contact_email));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let eab = if p.eab_kid.is_empty() {
            None
        } else {
            let key = URL_SAFE_NO_PAD
                .decode(p.eab_hmac_key.expose().trim_end_matches('='))
                .map_err(|e| Failure::Permanent(format!("eab_hmac_key: {e}")))?;
            Some(ExternalAccountKey::new(p.eab_kid.clone(), &key))
        };
        let new = NewAccount {
            contact: &contacts,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let (_, creds) = with_retry!(
            self.retrier(&p.directory_url),
            Account::builder_with_http(Box::new(ReqwestHttp(http.clone()))).create(
                &new,
                p.directory_url.clone(),
                eab.as_ref()
            )
        )?;
        serde_json::to_vec(&creds).map_err(internal)
    }

    /// Forgets a provider's account (the CA no longer knows it): registered anew next time.
    pub(crate) async fn forget_account(&self, provider: &str, p: &ProviderSettings) {
        self.accounts.lock().await.remove(provider);
        let (id, _) = account_id(provider, &p.directory_url);
        if let Err(e) = self.account_store.remove(&id).await {
            tracing::warn!(provider, error = %e, "could not forget the ACME account");
        }
        let _ = std::fs::remove_file(legacy_account_file(&self.data_dir, &id));
    }
}
