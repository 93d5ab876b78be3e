//! The ACME provider (RFC 8555): drives pending requests through orders at an ACME CA,
//! one recorded step at a time, through the same operations service as HTTP.
//!
//! Every step is an event on the certificate's stream (account, order URL, valid
//! authorizations, finalization, download), so after a crash the worker resumes the order
//! it recorded instead of placing a second one. The request's own CSR (and so its key) is
//! what the CA signs. The account's credentials are sealed under the master key in the
//! database. Split by noun: [`account`], [`order`] (driving), [`http`] (the
//! transport), [`retry`], [`problem`] (judging failures).

pub mod account;
mod faults;
pub mod http;
mod order;
mod problem;
mod retry;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use instant_acme::Account;

pub use account::account_id;
pub use faults::{HALT_AFTER_ENV, LOSE_ANSWER_ENV};
pub use http::http_client;
pub use order::Job;

use crate::config::AcmeSettings;
use crate::service::acme_accounts::AcmeAccounts;
use crate::service::challenges::ChallengeStore;
use crate::service::keystore::KeyStore;
use crate::service::operations::Operations;

/// Drives ACME-backed requests.
pub struct AcmeDriver {
    operations: Operations,
    keys: Arc<KeyStore>,
    data_dir: PathBuf,
    settings: AcmeSettings,
    challenges: ChallengeStore,
    account_store: AcmeAccounts,
    accounts: tokio::sync::Mutex<HashMap<String, Account>>,
    retries: AtomicU64,
}

impl AcmeDriver {
    /// A driver publishing HTTP-01 answers into `challenges`, keeping its accounts in the
    /// database of `operations`.
    pub fn new(
        operations: Operations,
        keys: Arc<KeyStore>,
        data_dir: PathBuf,
        settings: AcmeSettings,
        challenges: ChallengeStore,
    ) -> Self {
        AcmeDriver {
            account_store: AcmeAccounts::new(operations.0.es.clone()),
            operations,
            keys,
            data_dir,
            settings,
            challenges,
            accounts: tokio::sync::Mutex::new(HashMap::new()),
            retries: AtomicU64::new(0),
        }
    }

    /// A retrier for one call to the CA at `dir`.
    fn retrier<'a>(&'a self, dir: &'a str) -> retry::Retrier<'a> {
        retry::Retrier::new(&self.settings, &self.retries, dir)
    }

    /// How many transient failures were retried since start.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}
