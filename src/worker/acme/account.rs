//! The ACME account of a provider (RFC 8555 §7.3): registered once (with external account
//! binding when configured), its credentials sealed under the master key in
//! `<data_dir>/acme`, restored at the next start, cached while the server runs.

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
use crate::service::keystore::write_private_file;

/// The path of provider `provider`'s sealed account credentials under `data_dir`, and the
/// associated data they are sealed with.
pub fn account_file(data_dir: &Path, provider: &str, directory_url: &str) -> (PathBuf, String) {
    let digest = hex::encode(crypto::seal::sha256(directory_url.as_bytes()));
    (
        data_dir
            .join("acme")
            .join(format!("{provider}-{}.account.sealed", &digest[..16])),
        format!("acme-account:{provider}"),
    )
}

async fn restore(http: reqwest::Client, json: &[u8]) -> Result<Account, instant_acme::Error> {
    let creds: AccountCredentials = serde_json::from_slice(json)?;
    Account::builder_with_http(Box::new(ReqwestHttp(http)))
        .from_credentials(creds)
        .await
}

impl AcmeDriver {
    /// The provider's account: cached, restored from its sealed credentials, or registered.
    pub(crate) async fn account(
        &self,
        provider: &str,
        p: &ProviderSettings,
    ) -> Result<Account, Failure> {
        let mut cache = self.accounts.lock().await;
        if let Some(a) = cache.get(provider) {
            return Ok(a.clone());
        }
        let (path, aad) = account_file(&self.data_dir, provider, &p.directory_url);
        let dir = p.directory_url.as_str();
        let http = provider_client(p)?.0;
        let account = if path.exists() {
            let sealed = std::fs::read(&path).map_err(|e| Failure::Internal(e.into()))?;
            let json = self.keys.unseal(&aad, &sealed)?;
            with_retry!(self.retrier(dir), restore(http.clone(), &json))?
        } else {
            let contact =
                (!p.contact_email.is_empty()).then(|| format!("mailto:{}", p.contact_email));
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
            let (account, creds) = with_retry!(
                self.retrier(dir),
                Account::builder_with_http(Box::new(ReqwestHttp(http.clone()))).create(
                    &new,
                    p.directory_url.clone(),
                    eab.as_ref()
                )
            )?;
            let json = serde_json::to_vec(&creds).map_err(|e| Failure::Internal(e.into()))?;
            let sealed = self.keys.seal(&aad, &json)?;
            let _ = std::fs::remove_file(&path);
            write_private_file(&path, &sealed).map_err(Failure::Internal)?;
            account
        };
        cache.insert(provider.to_owned(), account.clone());
        Ok(account)
    }

    /// Forgets a provider's account (the CA no longer knows it): registered anew next time.
    pub(crate) async fn forget_account(&self, provider: &str, p: &ProviderSettings) {
        self.accounts.lock().await.remove(provider);
        let _ = std::fs::remove_file(account_file(&self.data_dir, provider, &p.directory_url).0);
    }
}
