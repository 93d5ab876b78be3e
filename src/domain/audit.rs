//! Audit records: facts about access, kept in the events table beside the domain events
//! (stream `audit/{vault}/{certificate name or empty}`) so the hash chain covers them.
//! They change no view.

use serde::{Deserialize, Serialize};

/// The `{code, message}` a refused client was answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalError {
    pub code: String,
    pub message: String,
}

/// Everything the audit stream records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Stored as the `event_type` column beside the variant's fields (`es::store::encode`):
// serde's external tag is what lets a payload decode straight into its variant.
pub enum AuditEvent {
    /// A request was refused before or instead of changing anything: no or a wrong token
    /// (401), a role that does not cover the operation (403), too many requests without a
    /// valid token (429), or a conflict (409). Refusals alike in source, caller, answer and
    /// certificate within one window are one record: `count` of them, the first at `since`.
    /// Schema version 3 (version 2 had no `count` or `since`: one refusal each; version 1
    /// kept `code` and `message` beside `status`).
    AccessRefused {
        method: String,
        path: String,
        status: u16,
        /// The Key Vault error envelope answered.
        error: RefusalError,
        /// The caller's role, when the token was recognised.
        #[serde(default)]
        role: Option<String>,
        /// How many refusals the record stands for.
        #[serde(default = "one")]
        count: u64,
        /// When the first of them was refused (RFC 3339), for a record of several.
        #[serde(default)]
        since: Option<String>,
    },
    /// A token was made with `certbroker token create` (only its hash is stored).
    TokenCreated { name: String, role: String },
    /// A token was revoked with `certbroker token revoke`.
    TokenRevoked { name: String },
    /// An admin moved the server's clock forward (`clock.adjustable`); the event is
    /// recorded at the time before the move.
    ClockAdvanced {
        /// How far it moved, in seconds.
        by_seconds: i64,
        /// How far ahead of the system clock it is now, in seconds.
        offset_seconds: i64,
    },
    /// An OAuth client was made with `certbroker client create` (only its secret's hash
    /// is stored).
    ClientCreated {
        name: String,
        client_id: String,
        role: String,
    },
    /// An OAuth client was revoked with `certbroker client revoke`.
    ClientRevoked { name: String },
}

fn one() -> u64 {
    1
}
