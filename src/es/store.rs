//! Append and load events. Every append runs inside the writer's transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::envelope::{DomainEvent, EventMeta, StoredEvent, StreamId, StreamKind};
use super::upcast::{current_version, upcast};
use crate::domain::audit::AuditEvent;
use crate::domain::certificate::CertificateEvent;
use crate::domain::issuer::IssuerEvent;

/// Failures of the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the stream first.
    #[error("stream {stream} was at version {actual}, expected {expected}")]
    Conflict {
        stream: String,
        expected: i64,
        actual: i64,
    },
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
    /// A stored event could not be decoded.
    #[error("event at position {position} cannot be decoded: {reason}")]
    Corrupt { position: i64, reason: String },
}

/// Loaded events of one stream, and the stream's version.
pub struct LoadedStream<E> {
    pub events: Vec<E>,
    pub version: i64,
}

fn encode<E: serde::Serialize>(event: &E) -> Result<(String, String), StoreError> {
    let mut value = serde_json::to_value(event).map_err(|e| StoreError::Corrupt {
        position: 0,
        reason: e.to_string(),
    })?;
    let event_type = value
        .as_object_mut()
        .and_then(|o| o.remove("event_type"))
        .and_then(|t| t.as_str().map(str::to_owned))
        .ok_or_else(|| StoreError::Corrupt {
            position: 0,
            reason: "event without a type".into(),
        })?;
    Ok((event_type, value.to_string()))
}

fn decode<E: serde::de::DeserializeOwned>(
    position: i64,
    event_type: &str,
    schema_version: i64,
    payload: &str,
) -> Result<E, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let value: Value = serde_json::from_str(payload).map_err(|e| corrupt(e.to_string()))?;
    let mut value = upcast(event_type, schema_version, value);
    match value.as_object_mut() {
        Some(o) => {
            o.insert("event_type".into(), Value::String(event_type.to_owned()));
        }
        None => return Err(corrupt("payload is not an object".into())),
    }
    serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
}

/// Decodes a row's event for its stream kind.
pub fn decode_event(
    position: i64,
    stream: &StreamId,
    event_type: &str,
    schema_version: i64,
    payload: &str,
) -> Result<DomainEvent, StoreError> {
    Ok(match stream.kind {
        StreamKind::Certificate => DomainEvent::Certificate(decode::<CertificateEvent>(
            position,
            event_type,
            schema_version,
            payload,
        )?),
        StreamKind::Issuer => DomainEvent::Issuer(decode::<IssuerEvent>(
            position,
            event_type,
            schema_version,
            payload,
        )?),
        StreamKind::Contacts => {
            DomainEvent::Contacts(decode::<crate::domain::contacts::ContactsEvent>(
                position,
                event_type,
                schema_version,
                payload,
            )?)
        }
        StreamKind::Audit => DomainEvent::Audit(decode::<AuditEvent>(
            position,
            event_type,
            schema_version,
            payload,
        )?),
    })
}

/// Loads one stream's events in order.
pub async fn load<E: serde::de::DeserializeOwned>(
    conn: &mut SqliteConnection,
    stream: &StreamId,
) -> Result<LoadedStream<E>, StoreError> {
    let rows = sqlx::query(
        r#"SELECT position, version, event_type, schema_version, payload
           FROM events WHERE stream_id = ?1 ORDER BY version"#,
    )
    .bind(stream.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut version = 0;
    for row in rows {
        let position: i64 = row.try_get("position")?;
        version = row.try_get("version")?;
        let event_type: String = row.try_get("event_type")?;
        let schema_version: i64 = row.try_get("schema_version")?;
        let payload: String = row.try_get("payload")?;
        events.push(decode(position, &event_type, schema_version, &payload)?);
    }
    Ok(LoadedStream { events, version })
}

/// Appends `events` to `stream`, which must be at `expected_version`. Returns them as stored.
pub async fn append<E: serde::Serialize>(
    conn: &mut SqliteConnection,
    stream: &StreamId,
    expected_version: i64,
    events: &[E],
    meta: &EventMeta,
    wrap: impl Fn(&E) -> DomainEvent,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stored = Vec::with_capacity(events.len());
    let recorded_at = meta.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    for (i, event) in events.iter().enumerate() {
        let version = expected_version + 1 + i as i64;
        let (event_type, payload) = encode(event)?;
        let result = sqlx::query(
            r#"INSERT INTO events (stream_id, version, event_type, schema_version, payload,
                                   recorded_at, actor, client_request_id, remote_addr)
               VALUES (?1, ?2, ?3, ?9, ?4, ?5, ?6, ?7, ?8)"#,
        )
        .bind(stream.to_string())
        .bind(version)
        .bind(&event_type)
        .bind(&payload)
        .bind(&recorded_at)
        .bind(&meta.actor)
        .bind(&meta.client_request_id)
        .bind(&meta.remote_addr)
        .bind(current_version(&event_type))
        .execute(&mut *conn)
        .await;
        let position = match result {
            Ok(done) => done.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let actual: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?1",
                )
                .bind(stream.to_string())
                .fetch_one(&mut *conn)
                .await?;
                return Err(StoreError::Conflict {
                    stream: stream.to_string(),
                    expected: expected_version,
                    actual,
                });
            }
            Err(e) => return Err(e.into()),
        };
        stored.push(StoredEvent {
            position,
            stream: stream.clone(),
            version,
            recorded_at: parse_time(&recorded_at).unwrap_or(meta.at),
            actor: meta.actor.clone(),
            event: wrap(event),
        });
    }
    Ok(stored)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads stored events in position order, `limit` at a time after `after` (for rebuild).
pub async fn read_all(
    conn: &mut SqliteConnection,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(
        r#"SELECT position, stream_id, version, event_type, schema_version, payload,
                  recorded_at, actor
           FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"#,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let position: i64 = row.try_get("position")?;
        let stream_id: String = row.try_get("stream_id")?;
        let stream = StreamId::parse(&stream_id).ok_or_else(|| StoreError::Corrupt {
            position,
            reason: format!("unknown stream id {stream_id}"),
        })?;
        let event_type: String = row.try_get("event_type")?;
        let schema_version: i64 = row.try_get("schema_version")?;
        let payload: String = row.try_get("payload")?;
        let recorded_at: String = row.try_get("recorded_at")?;
        let event = decode_event(position, &stream, &event_type, schema_version, &payload)?;
        out.push(StoredEvent {
            position,
            version: row.try_get("version")?,
            recorded_at: parse_time(&recorded_at).ok_or_else(|| StoreError::Corrupt {
                position,
                reason: format!("bad recorded_at {recorded_at}"),
            })?,
            actor: row.try_get("actor")?,
            stream,
            event,
        });
    }
    Ok(out)
}
