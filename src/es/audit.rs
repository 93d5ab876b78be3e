//! Reading the events table for auditors: filters, paging by position. Rows come as
//! stored, payloads upcast to the current schema. Audit records are appended through
//! `execute` like every event.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::chain::ChainRow;
use super::envelope::{StreamId, StreamKind};
use super::storage::{on_conn, Conn};
use super::store::{format_time, StoreError};
use super::upcast::upcast;

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

/// One event as an auditor sees it: the row as stored and chained, what its stream is
/// about, and its payload upcast to the current schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    #[serde(flatten)]
    pub row: ChainRow,
    /// `certificate`, `issuer`, `audit` or `contacts`.
    pub kind: &'static str,
    /// The stream's name key (case-folded): the certificate or issuer it is about, or
    /// `contacts`; absent on an audit stream about no certificate.
    pub name: Option<String>,
    /// The payload, upcast to the current schema.
    pub data: Value,
}

/// Reads up to `limit` events matching `filter`, in position order.
pub async fn query(
    conn: &mut Conn<'_>,
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
    let from = filter.from.as_ref().map(format_time);
    let to = filter.to.as_ref().map(format_time);
    let rows: Vec<ChainRow> = on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT position, stream_id, version, event_type, schema_version, payload,
                  recorded_at, actor, client_request_id, remote_addr, hash
           FROM events
           WHERE position > $1
             AND stream_id LIKE $2
             AND ($3 IS NULL OR stream_id IN ($3, $4))
             AND ($5 IS NULL OR event_type = $5)
             AND ($6 IS NULL OR actor = $6)
             AND ($7 IS NULL OR recorded_at >= $7)
             AND ($8 IS NULL OR recorded_at <= $8)
           ORDER BY position
           LIMIT $9"#,
    )
    .bind(filter.after)
    .bind(&vault_like)
    .bind(&cert_stream)
    .bind(&audit_stream)
    .bind(&filter.event_type)
    .bind(&filter.actor)
    .bind(&from)
    .bind(&to)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let parsed = StreamId::parse(&row.stream_id);
        let data: Value = serde_json::from_str(&row.payload).map_err(|e| StoreError::Corrupt {
            position: row.position,
            reason: e.to_string(),
        })?;
        out.push(AuditEntry {
            kind: match parsed.as_ref().map(|s| s.kind) {
                Some(StreamKind::Certificate) => "certificate",
                Some(StreamKind::Issuer) => "issuer",
                Some(StreamKind::Audit) => "audit",
                Some(StreamKind::Contacts) => "contacts",
                None => "unknown",
            },
            name: parsed.map(|s| s.name_key).filter(|n| !n.is_empty()),
            data: upcast(&row.event_type, row.schema_version, data),
            row,
        });
    }
    Ok(out)
}
