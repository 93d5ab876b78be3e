//! HTTP-01 key authorizations being validated (RFC 8555 §8.3), by token: published by the
//! ACME worker, answered by the challenge listener.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The answers to publish. Cheap to clone; shared by the worker and the listener.
#[derive(Clone, Default)]
pub struct ChallengeStore(Arc<RwLock<HashMap<String, String>>>);

impl ChallengeStore {
    /// The key authorization for `token`, if one is being validated.
    pub fn get(&self, token: &str) -> Option<String> {
        self.0.read().ok().and_then(|m| m.get(token).cloned())
    }

    /// Publishes `key_authorization` for `token`.
    pub fn put(&self, token: &str, key_authorization: String) {
        if let Ok(mut m) = self.0.write() {
            m.insert(token.to_owned(), key_authorization);
        }
    }

    /// Withdraws `token`.
    pub fn remove(&self, token: &str) {
        if let Ok(mut m) = self.0.write() {
            m.remove(token);
        }
    }
}
