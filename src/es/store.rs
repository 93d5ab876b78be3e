//! Append and load events. Appends run inside a write transaction that holds the engine's
//! write lock (see `storage::Session::begin_write`): every new row gets the next position
//! and its link in the hash chain before it is inserted, so positions are gap-free and
//! no row is ever committed unsealed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::chain::{self, ChainRow, Tail};
use super::envelope::{DomainEvent, EventMeta, StoredEvent, StreamId, StreamKind};
use super::storage::{on_conn, Conn};
use super::upcast::{current_version, needs_upcast, upcast};
use crate::domain::audit::AuditEvent;
use crate::domain::certificate::CertificateEvent;
use crate::domain::contacts::ContactsEvent;
use crate::domain::issuer::IssuerEvent;

/// Failures of the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another command appended to the stream first.
    #[error("stream {stream} was appended to concurrently (expected version {expected})")]
    Conflict { stream: String, expected: i64 },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored event could not be decoded, or a new one encoded.
    #[error("event at position {position} cannot be decoded: {reason}")]
    Corrupt { position: i64, reason: String },
}

/// A stream's events in order, each with the Unix second it was recorded at, and the
/// stream's version.
pub struct LoadedStream<E> {
    pub events: Vec<(E, i64)>,
    pub version: i64,
}

/// An event's `event_type` and its JSON payload without it.
pub fn encode<E: serde::Serialize>(event: &E) -> Result<(String, String), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        position: 0,
        reason,
    };
    // Events are externally tagged (`{"Variant": {fields}}`): the tag is the type column,
    // the fields the payload.
    let value = serde_json::to_value(event).map_err(|e| corrupt(e.to_string()))?;
    match value {
        Value::Object(o) if o.len() == 1 => {
            let (event_type, fields) = o.into_iter().next().expect("one entry");
            Ok((event_type, fields.to_string()))
        }
        _ => Err(corrupt("event without a type".into())),
    }
}

fn decode<E: serde::de::DeserializeOwned>(
    position: i64,
    event_type: &str,
    schema_version: i64,
    payload: &str,
) -> Result<E, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    if !needs_upcast(event_type, schema_version) {
        // The payload is already in the current schema: wrap it in its tag and decode it
        // in one pass, straight into its variant, without building a JSON tree first.
        if !payload.trim_start().starts_with('{') {
            return Err(corrupt("payload is not an object".into()));
        }
        let tag = serde_json::to_string(event_type).map_err(|e| corrupt(e.to_string()))?;
        let mut text = String::with_capacity(payload.len() + tag.len() + 3);
        text.push('{');
        text.push_str(&tag);
        text.push(':');
        text.push_str(payload);
        text.push('}');
        return serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()));
    }
    let value: Value = serde_json::from_str(payload).map_err(|e| corrupt(e.to_string()))?;
    if !value.is_object() {
        return Err(corrupt("payload is not an object".into()));
    }
    let value = upcast(event_type, schema_version, value);
    let tagged = Value::Object([(event_type.to_owned(), value)].into_iter().collect());
    serde_json::from_value(tagged).map_err(|e| corrupt(e.to_string()))
}

/// Decodes a row's event for its stream kind.
pub fn decode_event(
    position: i64,
    stream: &StreamId,
    event_type: &str,
    schema_version: i64,
    payload: &str,
) -> Result<DomainEvent, StoreError> {
    let (p, t, v) = (position, event_type, schema_version);
    Ok(match stream.kind {
        StreamKind::Certificate => {
            DomainEvent::Certificate(decode::<CertificateEvent>(p, t, v, payload)?)
        }
        StreamKind::Issuer => DomainEvent::Issuer(decode::<IssuerEvent>(p, t, v, payload)?),
        StreamKind::Contacts => DomainEvent::Contacts(decode::<ContactsEvent>(p, t, v, payload)?),
        StreamKind::Audit => DomainEvent::Audit(decode::<AuditEvent>(p, t, v, payload)?),
    })
}

/// The stored spelling of a time (text comparison orders like time).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored time.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(sqlx::FromRow)]
struct EventRow {
    position: i64,
    version: i64,
    event_type: String,
    schema_version: i64,
    payload: String,
    recorded_at: String,
}

/// Loads one stream's events in order.
pub async fn load<E: serde::de::DeserializeOwned>(
    conn: &mut Conn<'_>,
    stream: &StreamId,
) -> Result<LoadedStream<E>, StoreError> {
    let id = stream.to_string();
    let rows: Vec<EventRow> = on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT position, version, event_type, schema_version, payload, recorded_at
           FROM events WHERE stream_id = $1 ORDER BY version"#,
    )
    .bind(&id)
    .fetch_all(c)
    .await)?;
    let mut events = Vec::with_capacity(rows.len());
    let mut version = 0;
    for row in rows {
        version = row.version;
        let at = parse_time(&row.recorded_at)
            .ok_or_else(|| StoreError::Corrupt {
                position: row.position,
                reason: format!("bad recorded_at {}", row.recorded_at),
            })?
            .timestamp();
        events.push((
            decode(
                row.position,
                &row.event_type,
                row.schema_version,
                &row.payload,
            )?,
            at,
        ));
    }
    Ok(LoadedStream { events, version })
}

/// The stream's version (how many events it holds).
pub async fn version_of(conn: &mut Conn<'_>, stream: &StreamId) -> Result<i64, StoreError> {
    let id = stream.to_string();
    Ok(on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1"
    )
    .bind(&id)
    .fetch_one(c)
    .await)?)
}

/// The payload of the newest event of type `event_type` in any stream, parsed as JSON,
/// or `None` when there is none (a payload that does not parse is `Corrupt`).
pub async fn last_of_type(
    conn: &mut Conn<'_>,
    event_type: &str,
) -> Result<Option<Value>, StoreError> {
    let sql = "SELECT position, payload FROM events WHERE event_type = $1 \
               ORDER BY position DESC LIMIT 1";
    let row: Option<(i64, String)> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(event_type)
        .fetch_optional(c)
        .await)?;
    row.map(|(position, payload)| {
        serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
            position,
            reason: e.to_string(),
        })
    })
    .transpose()
}

/// Appends `events` to `stream`, which must be at `expected_version`, at the positions
/// after `tail`, each sealed into the hash chain; advances `tail`. A stream that moved on
/// is [`StoreError::Conflict`] and appends nothing.
pub async fn append<E: serde::Serialize>(
    conn: &mut Conn<'_>,
    tail: &mut Tail,
    stream: &StreamId,
    expected_version: i64,
    events: &[E],
    meta: &EventMeta,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let recorded_at = format_time(&meta.at);
    let stream_id = stream.to_string();
    let mut rows = Vec::with_capacity(events.len());
    let (mut position, mut prev) = (tail.last_position, tail.prev);
    for (i, event) in events.iter().enumerate() {
        let (event_type, payload) = encode(event)?;
        position += 1;
        let mut row = ChainRow {
            position,
            stream_id: stream_id.clone(),
            version: expected_version + 1 + i as i64,
            schema_version: current_version(&event_type),
            event_type,
            payload,
            recorded_at: recorded_at.clone(),
            actor: meta.actor.clone(),
            client_request_id: meta.client_request_id.clone(),
            remote_addr: meta.remote_addr.clone(),
            hash: None,
        };
        prev = chain::link(&prev, &row.cols());
        row.hash = Some(hex::encode(prev));
        rows.push(row);
    }
    let mut sql = String::from(
        "INSERT INTO events (position, stream_id, version, event_type, schema_version, payload, \
         recorded_at, actor, client_request_id, remote_addr, hash) VALUES ",
    );
    for i in 0..rows.len() {
        let b = i * 11;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for k in 1..=11 {
            if k > 1 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(b + k).to_string());
        }
        sql.push(')');
    }
    let sql = conn.sql(&sql);
    conn.begin_statement().await?;
    let result = on_conn!(conn, |c| {
        let mut q = sqlx::query(&sql);
        for r in &rows {
            q = q
                .bind(r.position)
                .bind(&r.stream_id)
                .bind(r.version)
                .bind(&r.event_type)
                .bind(r.schema_version)
                .bind(&r.payload)
                .bind(&r.recorded_at)
                .bind(&r.actor)
                .bind(&r.client_request_id)
                .bind(&r.remote_addr)
                .bind(&r.hash);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    });
    conn.end_statement(result.is_ok()).await?;
    match result {
        Ok(_) => {
            tail.last_position = position;
            tail.prev = prev;
            Ok(())
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict {
            stream: stream_id,
            expected: expected_version,
        }),
        Err(e) => Err(e.into()),
    }
}

#[derive(sqlx::FromRow)]
struct AnyEventRow {
    position: i64,
    stream_id: String,
    version: i64,
    event_type: String,
    schema_version: i64,
    payload: String,
    recorded_at: String,
    actor: String,
}

/// A page of stored events, read but not decoded yet (see [`read_streams`]): decoding
/// is left to the caller, so that it can overlap with reading the next page.
pub struct RawEvents(Vec<AnyEventRow>);

impl RawEvents {
    /// The stream id and version of the page's last event: where the next page starts.
    pub fn last_key(&self) -> Option<(String, i64)> {
        self.0.last().map(|r| (r.stream_id.clone(), r.version))
    }

    /// Decodes every event of the page.
    pub fn decode(self) -> Result<Vec<StoredEvent>, StoreError> {
        decode_rows(self.0)
    }
}

/// Reads the events of every stream, stream by stream in order of stream id and version,
/// `limit` at a time after `after` (a stream id and version). Every event is decoded (by
/// [`RawEvents::decode`]), so a rebuild proves the whole log still reads.
pub async fn read_streams(
    conn: &mut Conn<'_>,
    after: Option<&(String, i64)>,
    limit: i64,
) -> Result<RawEvents, StoreError> {
    let (stream, version) = after.map_or(("", 0), |(s, v)| (s.as_str(), *v));
    let rows: Vec<AnyEventRow> = on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT position, stream_id, version, event_type, schema_version, payload,
                  recorded_at, actor
           FROM events
           WHERE (stream_id > $1 OR (stream_id = $1 AND version > $2))
           ORDER BY stream_id, version LIMIT $3"#,
    )
    .bind(stream)
    .bind(version)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(RawEvents(rows))
}

fn decode_rows(rows: Vec<AnyEventRow>) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let position = row.position;
        let stream = StreamId::parse(&row.stream_id).ok_or_else(|| StoreError::Corrupt {
            position,
            reason: format!("unknown stream id {}", row.stream_id),
        })?;
        let event = decode_event(
            position,
            &stream,
            &row.event_type,
            row.schema_version,
            &row.payload,
        )?;
        out.push(StoredEvent {
            position,
            version: row.version,
            recorded_at: parse_time(&row.recorded_at).ok_or_else(|| StoreError::Corrupt {
                position,
                reason: format!("bad recorded_at {}", row.recorded_at),
            })?,
            actor: row.actor,
            stream,
            event,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contacts::ContactsEvent;

    #[test]
    fn current_payloads_decode_in_one_pass_like_a_json_tree() {
        let events = [
            ContactsEvent::ContactsDeleted {},
            ContactsEvent::ContactsSet { contacts: vec![] },
        ];
        for event in events {
            let (event_type, payload) = encode(&event).expect("encodes");
            let decoded: ContactsEvent = decode(1, &event_type, 1, &payload).expect("decodes");
            assert_eq!(decoded, event);
            let spaced = format!(" {{ {} ", &payload.trim_start()[1..]);
            let decoded: ContactsEvent = decode(1, &event_type, 1, &spaced).expect("decodes");
            assert_eq!(decoded, event);
        }
        // The stored shape: the type apart, the payload the variant's fields alone.
        let (event_type, payload) =
            encode(&ContactsEvent::ContactsSet { contacts: vec![] }).expect("encodes");
        assert_eq!(
            (event_type.as_str(), payload.as_str()),
            ("ContactsSet", r#"{"contacts":[]}"#)
        );
        for bad in ["", "[]", "{", "{\"contacts\": 3}"] {
            assert!(
                decode::<ContactsEvent>(7, "ContactsSet", 1, bad).is_err(),
                "{bad}"
            );
        }
    }
}
