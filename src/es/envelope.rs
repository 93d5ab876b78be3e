//! Stored events: the row shape, the stream id and the decoded domain event.

use chrono::{DateTime, Utc};

use crate::domain::audit::AuditEvent;
use crate::domain::certificate::CertificateEvent;
use crate::domain::contacts::ContactsEvent;
use crate::domain::issuer::IssuerEvent;

/// A stream: one aggregate instance in one vault. Spelled `{kind}/{vault}/{name_key}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub kind: StreamKind,
    pub vault: String,
    pub name_key: String,
}

/// The aggregate kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Certificate,
    Issuer,
    /// The vault's certificate contacts (one stream per vault, name `contacts`).
    Contacts,
    /// Audit records (refused requests, token and client changes, clock moves);
    /// `name_key` is the certificate's, or empty.
    Audit,
}

impl StreamId {
    /// The certificate stream of `name` (case-folded) in `vault`.
    pub fn certificate(vault: &str, name: &str) -> Self {
        StreamId {
            kind: StreamKind::Certificate,
            vault: vault.to_owned(),
            name_key: name.to_ascii_lowercase(),
        }
    }

    /// The issuer stream of `name` (case-folded) in `vault`.
    pub fn issuer(vault: &str, name: &str) -> Self {
        StreamId {
            kind: StreamKind::Issuer,
            vault: vault.to_owned(),
            name_key: name.to_ascii_lowercase(),
        }
    }

    /// The contacts stream of `vault`.
    pub fn contacts(vault: &str) -> Self {
        StreamId {
            kind: StreamKind::Contacts,
            vault: vault.to_owned(),
            name_key: "contacts".to_owned(),
        }
    }

    /// The audit stream of `certificate` (case-folded) in `vault`, or of the vault itself.
    pub fn audit(vault: &str, certificate: Option<&str>) -> Self {
        StreamId {
            kind: StreamKind::Audit,
            vault: vault.to_owned(),
            name_key: certificate.unwrap_or_default().to_ascii_lowercase(),
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '/');
        let kind = match parts.next()? {
            "certificate" => StreamKind::Certificate,
            "issuer" => StreamKind::Issuer,
            "contacts" => StreamKind::Contacts,
            "audit" => StreamKind::Audit,
            _ => return None,
        };
        Some(StreamId {
            kind,
            vault: parts.next()?.to_owned(),
            name_key: parts.next()?.to_owned(),
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            StreamKind::Certificate => "certificate",
            StreamKind::Issuer => "issuer",
            StreamKind::Contacts => "contacts",
            StreamKind::Audit => "audit",
        };
        write!(f, "{kind}/{}/{}", self.vault, self.name_key)
    }
}

/// Who caused an event, and from where (recorded with every event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// Who: an identity's actor name (a token's name, `client:<name>`, `federated:<name>`;
    /// see `IdentityKind::actor`), or `worker`, `seed` or `cli`.
    pub actor: String,
    /// The client's `x-ms-client-request-id`, if sent.
    pub client_request_id: Option<String>,
    /// The client's address.
    pub remote_addr: Option<String>,
    /// When the command was decided.
    pub at: DateTime<Utc>,
}

impl EventMeta {
    /// Meta for work the server does by itself.
    pub fn system(actor: &str, at: DateTime<Utc>) -> Self {
        EventMeta {
            actor: actor.to_owned(),
            client_request_id: None,
            remote_addr: None,
            at,
        }
    }
}

/// A decoded domain event of any aggregate.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // see CertificateEvent
pub enum DomainEvent {
    Certificate(CertificateEvent),
    Issuer(IssuerEvent),
    Contacts(ContactsEvent),
    Audit(AuditEvent),
}

/// One row of the `events` table, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: i64,
    pub stream: StreamId,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub event: DomainEvent,
}

impl StoredEvent {
    /// Recorded time as Unix seconds (what the views show as `created`/`updated`).
    pub fn unix(&self) -> i64 {
        self.recorded_at.timestamp()
    }
}
