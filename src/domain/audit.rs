//! Audit records: facts about access, kept in the events table beside the domain events
//! (stream `audit/{vault}/{certificate name or empty}`) so the hash chain covers them.
//! They change no view.

use serde::{Deserialize, Serialize};

/// Everything the audit stream records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type")]
pub enum AuditEvent {
    /// A request was refused before or instead of changing anything: no or a wrong token
    /// (401), a role that does not cover the operation (403), or a conflict (409).
    AccessRefused {
        method: String,
        path: String,
        status: u16,
        /// The Key Vault error code answered.
        code: String,
        message: String,
        /// The caller's role, when the token was recognised.
        #[serde(default)]
        role: Option<String>,
    },
    /// A token was made with `certbroker token create` (only its hash is stored).
    TokenCreated { name: String, role: String },
    /// A token was revoked with `certbroker token revoke`.
    TokenRevoked { name: String },
}
