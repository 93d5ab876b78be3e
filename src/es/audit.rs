//! The audit side of the event store: appending audit records to the audit streams, and
//! reading the events table for auditors (filters, paging by position). Reads return rows
//! as stored, payloads upcast to the current schema; nothing here writes a view.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::envelope::{DomainEvent, EventMeta, StoredEvent, StreamId, StreamKind};
use super::store::{self, StoreError};
use super::upcast::upcast;
use crate::domain::audit::AuditEvent;

/// Appends one audit record to the audit stream of `certificate` (or of the vault).
/// Runs inside the writer's transaction like every append.
pub async fn append(
    conn: &mut SqliteConnection,
    vault: &str,
    certificate: Option<&str>,
    event: AuditEvent,
    meta: &EventMeta,
) -> Result<StoredEvent, StoreError> {
    let stream = StreamId::audit(vault, certificate);
    let version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?1")
            .bind(stream.to_string())
            .fetch_one(&mut *conn)
            .await?;
    let mut stored = store::append(conn, &stream, version, &[event], meta, |e| {
        DomainEvent::Audit(e.clone())
    })
    .await?;
    stored.pop().ok_or_else(|| StoreError::Corrupt {
        position: 0,
        reason: "an append returned no event".into(),
    })
}

/// Which events an auditor asks for. Every filter is optional; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// The vault whose streams are read.
    pub vault: String,
    /// A certificate's events and the audit records about it.
    pub certificate: Option<String>,
    pub event_type: Option<String>,
    pub actor: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before.
    pub to: Option<DateTime<Utc>>,
    /// Only positions after this one (paging continues from the last position seen).
    pub after: i64,
}

/// One event as an auditor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub position: i64,
    pub stream: String,
    /// `certificate`, `issuer` or `audit`.
    pub kind: &'static str,
    /// The certificate or issuer name (case-folded) the stream is about, if any.
    pub name: Option<String>,
    pub version: i64,
    pub event_type: String,
    pub schema_version: i64,
    pub recorded_at: String,
    pub actor: String,
    pub client_request_id: Option<String>,
    pub remote_addr: Option<String>,
    /// The row's link in the hash chain.
    pub hash: Option<String>,
    /// The payload, upcast to the current schema.
    pub data: Value,
}

fn time(t: &DateTime<Utc>) -> String {
    // The stored spelling, so that text comparison orders like time.
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads up to `limit` events matching `filter`, in position order.
pub async fn query(
    conn: &mut SqliteConnection,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let (cert_stream, audit_stream) = match &filter.certificate {
        Some(name) => (
            Some(StreamId::certificate(&filter.vault, name).to_string()),
            Some(StreamId::audit(&filter.vault, Some(name)).to_string()),
        ),
        None => (None, None),
    };
    let vault_like = format!("%/{}/%", filter.vault.replace(['%', '_'], ""));
    let rows = sqlx::query(
        r#"SELECT position, stream_id, version, event_type, schema_version, payload,
                  recorded_at, actor, client_request_id, remote_addr, hash
           FROM events
           WHERE position > ?1
             AND stream_id LIKE ?2
             AND (?3 IS NULL OR stream_id IN (?3, ?4))
             AND (?5 IS NULL OR event_type = ?5)
             AND (?6 IS NULL OR actor = ?6)
             AND (?7 IS NULL OR recorded_at >= ?7)
             AND (?8 IS NULL OR recorded_at <= ?8)
           ORDER BY position
           LIMIT ?9"#,
    )
    .bind(filter.after)
    .bind(vault_like)
    .bind(cert_stream)
    .bind(audit_stream)
    .bind(&filter.event_type)
    .bind(&filter.actor)
    .bind(filter.from.as_ref().map(time))
    .bind(filter.to.as_ref().map(time))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let position: i64 = row.try_get("position")?;
        let stream: String = row.try_get("stream_id")?;
        let parsed = StreamId::parse(&stream);
        let event_type: String = row.try_get("event_type")?;
        let schema_version: i64 = row.try_get("schema_version")?;
        let payload: String = row.try_get("payload")?;
        let data: Value = serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
            position,
            reason: e.to_string(),
        })?;
        out.push(AuditEntry {
            position,
            kind: match parsed.as_ref().map(|s| s.kind) {
                Some(StreamKind::Certificate) => "certificate",
                Some(StreamKind::Issuer) => "issuer",
                Some(StreamKind::Audit) => "audit",
                Some(StreamKind::Contacts) => "contacts",
                None => "unknown",
            },
            name: parsed.map(|s| s.name_key).filter(|n| !n.is_empty()),
            stream,
            version: row.try_get("version")?,
            data: upcast(&event_type, schema_version, data),
            event_type,
            schema_version,
            recorded_at: row.try_get("recorded_at")?,
            actor: row.try_get("actor")?,
            client_request_id: row.try_get("client_request_id")?,
            remote_addr: row.try_get("remote_addr")?,
            hash: row.try_get("hash")?,
        });
    }
    Ok(out)
}
