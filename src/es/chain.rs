//! The hash chain over the `events` table: each row's `hash` is
//! `SHA-256(previous row's hash ‖ canonical encoding of the row)`, the first row chaining
//! from 32 zero bytes. Writers compute each new row's hash before inserting it, under the
//! write lock that orders every append (`es::store::append`); [`verify`] walks the chain
//! and names the first position that does not hold.
//!
//! What it proves: no row up to the head was edited, deleted, inserted or moved since it
//! was sealed, unless whoever changed it also recomputed every later hash. Truncating the
//! tail leaves a valid shorter chain: only a head kept elsewhere (`verify --expect-head`)
//! detects that. This module never decodes events: it hashes the stored text as it is.

use super::storage::{on_conn, Conn, Session};

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// Label at the start of every encoding, so the format can change without ambiguity.
const ENCODING: &[u8] = b"certbroker.event.v1";

/// The chained columns of one event row, exactly as stored. Serialized (camelCase, the
/// stream id as `stream`, without the payload) as the head of an audit entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainRow {
    pub position: i64,
    #[serde(rename = "stream")]
    pub stream_id: String,
    pub version: i64,
    pub event_type: String,
    pub schema_version: i64,
    /// The event's fields as stored (an audit entry carries them upcast, as `data`).
    #[serde(skip)]
    pub payload: String,
    pub recorded_at: String,
    pub actor: String,
    pub client_request_id: Option<String>,
    pub remote_addr: Option<String>,
    /// The stored hash (lowercase hex), `None` when not sealed yet.
    pub hash: Option<String>,
}

/// The chained columns of one row, borrowed: from a [`ChainRow`] or straight from the
/// database row being read ([`verify`] hashes each row where the driver holds it).
#[derive(Debug, Clone, Copy)]
pub struct ChainCols<'a> {
    pub position: i64,
    pub stream_id: &'a str,
    pub version: i64,
    pub event_type: &'a str,
    pub schema_version: i64,
    pub payload: &'a str,
    pub recorded_at: &'a str,
    pub actor: &'a str,
    pub client_request_id: Option<&'a str>,
    pub remote_addr: Option<&'a str>,
    pub hash: Option<&'a str>,
}

impl ChainRow {
    /// The row's columns, borrowed.
    pub fn cols(&self) -> ChainCols<'_> {
        ChainCols {
            position: self.position,
            stream_id: &self.stream_id,
            version: self.version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: &self.payload,
            recorded_at: &self.recorded_at,
            actor: &self.actor,
            client_request_id: self.client_request_id.as_deref(),
            remote_addr: self.remote_addr.as_deref(),
            hash: self.hash.as_deref(),
        }
    }
}

impl<'a> ChainCols<'a> {
    /// Reads the columns of a row selected as [`COLUMNS`] lists them, without copying.
    fn from_row<R>(row: &'a R) -> Result<Self, sqlx::Error>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        &'a str: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(ChainCols {
            position: row.try_get(0)?,
            stream_id: row.try_get(1)?,
            version: row.try_get(2)?,
            event_type: row.try_get(3)?,
            schema_version: row.try_get(4)?,
            payload: row.try_get(5)?,
            recorded_at: row.try_get(6)?,
            actor: row.try_get(7)?,
            client_request_id: row.try_get(8)?,
            remote_addr: row.try_get(9)?,
            hash: row.try_get(10)?,
        })
    }
}

/// The last sealed row: what an auditor keeps elsewhere to detect truncation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    pub position: i64,
    pub hash: String,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// The canonical encoding of a row: a label, then every chained column in a fixed order;
/// integers as 8 bytes big-endian, text as an 8-byte length and its UTF-8 bytes, absent
/// text as one 0 byte (present text is preceded by one 1 byte). No two rows share one.
pub fn encode_row(row: &ChainRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + row.payload.len());
    out.extend_from_slice(&(ENCODING.len() as u64).to_be_bytes());
    out.extend_from_slice(ENCODING);
    out.extend_from_slice(&row.position.to_be_bytes());
    put_str(&mut out, &row.stream_id);
    out.extend_from_slice(&row.version.to_be_bytes());
    put_str(&mut out, &row.event_type);
    out.extend_from_slice(&row.schema_version.to_be_bytes());
    put_str(&mut out, &row.payload);
    put_str(&mut out, &row.recorded_at);
    put_str(&mut out, &row.actor);
    put_opt(&mut out, row.client_request_id.as_deref());
    put_opt(&mut out, row.remote_addr.as_deref());
    out
}

/// `SHA-256(prev ‖ encode_row(row))`.
pub fn link(prev: &[u8; 32], row: &ChainCols<'_>) -> [u8; 32] {
    // The same bytes as `encode_row`, fed to the hash as they come instead of copied into
    // one buffer first (the payload is most of a row).
    fn text(h: &mut openssl::sha::Sha256, s: &str) {
        h.update(&(s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }
    fn opt(h: &mut openssl::sha::Sha256, s: Option<&str>) {
        match s {
            None => h.update(&[0]),
            Some(s) => {
                h.update(&[1]);
                text(h, s);
            }
        }
    }
    let mut h = openssl::sha::Sha256::new();
    h.update(prev);
    h.update(&(ENCODING.len() as u64).to_be_bytes());
    h.update(ENCODING);
    h.update(&row.position.to_be_bytes());
    text(&mut h, row.stream_id);
    h.update(&row.version.to_be_bytes());
    text(&mut h, row.event_type);
    h.update(&row.schema_version.to_be_bytes());
    text(&mut h, row.payload);
    text(&mut h, row.recorded_at);
    text(&mut h, row.actor);
    opt(&mut h, row.client_request_id);
    opt(&mut h, row.remote_addr);
    h.finish()
}

const COLUMNS: &str = "position, stream_id, version, event_type, schema_version, payload, \
                       recorded_at, actor, client_request_id, remote_addr, hash";

/// Reads up to `limit` rows after `after`, in position order.
pub async fn read_rows(
    conn: &mut Conn<'_>,
    after: i64,
    limit: i64,
) -> Result<Vec<ChainRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2");
    on_conn!(conn, |c| sqlx::query_as::<_, ChainRow>(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await)
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let mut out = [0; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// The last sealed row, if any.
pub async fn head(conn: &mut Conn<'_>) -> Result<Option<Head>, sqlx::Error> {
    let row: Option<(i64, String)> = on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT position, hash FROM events WHERE hash IS NOT NULL
           ORDER BY position DESC LIMIT 1"#,
    )
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(position, hash)| Head { position, hash }))
}

/// Where the chain stood before a command: the last position (sealed or not) and the hash
/// of the last sealed row ([`GENESIS`] when none is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    pub last_position: i64,
    pub prev: [u8; 32],
}

/// Reads the [`Tail`] in one query.
pub async fn tail(conn: &mut Conn<'_>) -> Result<Tail, sqlx::Error> {
    let (last_position, hash): (i64, Option<String>) = on_conn!(conn, |c| sqlx::query_as(
        r#"SELECT (SELECT COALESCE(MAX(position), 0) FROM events) AS last_position,
                  (SELECT hash FROM events WHERE hash IS NOT NULL
                   ORDER BY position DESC LIMIT 1) AS hash"#,
    )
    .fetch_one(c)
    .await)?;
    let prev = match hash {
        None => GENESIS,
        Some(h) => parse_hash(&h).ok_or_else(|| {
            sqlx::Error::Protocol("the last stored hash is not 32 bytes of hex".into())
        })?,
    };
    Ok(Tail {
        last_position,
        prev,
    })
}

/// Seals every row after `tail.last_position`, in position order, chaining from
/// `tail.prev` (rows written before the chain existed). Returns how many rows it sealed.
async fn seal_after(conn: &mut Conn<'_>, tail: Tail) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 1000;
    let (mut after, mut prev) = (tail.last_position, tail.prev);
    let mut sealed = 0;
    loop {
        let rows = read_rows(conn, after, BATCH).await?;
        for row in &rows {
            let hash = link(&prev, &row.cols());
            on_conn!(conn, |c| sqlx::query(
                "UPDATE events SET hash = $1 WHERE position = $2"
            )
            .bind(hex::encode(hash))
            .bind(row.position)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            prev = hash;
            after = row.position;
            sealed += 1;
        }
        if (rows.len() as i64) < BATCH {
            return Ok(sealed);
        }
    }
}

/// Seals every row of a database written before the chain existed (no row sealed yet),
/// from the first row. Does nothing once any row is sealed.
pub async fn seal_unchained(conn: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
    if head(conn).await?.is_some() {
        return Ok(0);
    }
    let from_start = Tail {
        last_position: 0,
        prev: GENESIS,
    };
    seal_after(conn, from_start).await
}

/// Where and why the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first position whose row does not verify.
    pub position: i64,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "position {}: {}", self.position, self.reason)
    }
}

/// What a walk of the chain found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Rows checked.
    pub rows: u64,
    /// The last row checked (its stored hash), when every row checked held.
    pub head: Option<Head>,
    /// The first row that does not hold.
    pub broken: Option<Broken>,
    /// Where the expected head (if one was given) was found.
    pub expected_head_at: Option<i64>,
}

/// How far [`verify`] walks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    /// Start after this position, trusting the stored hash of the row at or before it
    /// (0: from the first row and [`GENESIS`]).
    pub after: i64,
    /// Stop after this position (inclusive); `None`: to the end.
    pub upto: Option<i64>,
}

/// The state of a walk along the chain.
struct Walk {
    range: Range,
    expect: Option<String>,
    prev_pos: i64,
    prev: [u8; 32],
    /// The stored hash of the last row that held (its buffer reused from row to row).
    last_stored: String,
    out: Verification,
}

impl Walk {
    /// Checks the next row; false once the walk is over (a broken row, or past the range).
    fn check(&mut self, row: ChainCols<'_>) -> bool {
        if self.range.upto.is_some_and(|u| row.position > u) {
            return false;
        }
        let fail = |reason: String| {
            Some(Broken {
                position: row.position,
                reason,
            })
        };
        let Some(stored) = row.hash else {
            self.out.broken = fail("the row is not sealed (its hash is missing)".into());
            return false;
        };
        if row.position != self.prev_pos + 1 {
            self.out.broken = fail(format!(
                "the row before it is missing (position {} is followed by {}): rows were deleted",
                self.prev_pos, row.position
            ));
            return false;
        }
        let expected = link(&self.prev, &row);
        if parse_hash(stored) != Some(expected) {
            self.out.broken = fail(
                "the hash does not match the row and its predecessor: this row was edited, \
                 inserted or moved, or the row before it was replaced"
                    .into(),
            );
            return false;
        }
        self.out.rows += 1;
        if self.expect.as_deref() == Some(stored) {
            self.out.expected_head_at = Some(row.position);
        }
        self.prev = expected;
        self.prev_pos = row.position;
        self.last_stored.clear();
        self.last_stored.push_str(stored);
        true
    }

    /// What the walk found: the last row that held is the head, unless a row broke.
    fn finish(self) -> Verification {
        let mut out = self.out;
        if out.broken.is_none() && out.rows > 0 {
            out.head = Some(Head {
                position: self.prev_pos,
                hash: self.last_stored,
            });
        }
        out
    }
}

/// Walks the chain over `range` and reports the first row that does not hold: a missing
/// or wrong hash, or a gap in positions (rows deleted). With `expect_head`, also reports
/// whether a row with that hash was seen.
pub async fn verify(
    session: &mut impl Session,
    range: Range,
    expect_head: Option<&str>,
) -> Result<Verification, sqlx::Error> {
    let mut conn = session.conn();
    let conn = &mut conn;
    let mut out = Verification::default();
    let (prev_pos, prev) = if range.after > 0 {
        let row: Option<(i64, Option<String>)> = on_conn!(conn, |c| {
            sqlx::query_as(
            "SELECT position, hash FROM events WHERE position <= $1 ORDER BY position DESC LIMIT 1",
        )
        .bind(range.after)
        .fetch_optional(c)
        .await
        })?;
        match row {
            Some((position, hash)) => match hash.as_deref().and_then(parse_hash) {
                Some(h) => (position, h),
                None => {
                    out.broken = Some(Broken {
                        position,
                        reason: "the row has no valid hash".into(),
                    });
                    return Ok(out);
                }
            },
            None => (0, GENESIS),
        }
    } else {
        (0, GENESIS)
    };
    let mut walk = Walk {
        range,
        expect: expect_head.map(str::to_ascii_lowercase),
        prev_pos,
        prev,
        last_stored: String::new(),
        out,
    };
    // Pages of PAGE rows, each fetched whole: a streamed scan hands every row across the
    // engine's worker channel with a wake-up each, which profiled at half the speed.
    const PAGE: i64 = 1000;
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
         ORDER BY position LIMIT {PAGE}"
    );
    let sql = conn.sql(&sql);
    let upto = range.upto.unwrap_or(i64::MAX);
    loop {
        let done = on_conn!(conn, |c| {
            let rows = sqlx::query(&sql)
                .bind(walk.prev_pos)
                .bind(upto)
                .fetch_all(c)
                .await?;
            let mut done = (rows.len() as i64) < PAGE;
            for row in &rows {
                if !walk.check(ChainCols::from_row(row)?) {
                    done = true;
                    break;
                }
            }
            done
        });
        if done {
            return Ok(walk.finish());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ChainRow {
        ChainRow {
            position: 1,
            stream_id: "certificate/default/c1".into(),
            version: 1,
            event_type: "PendingCreated".into(),
            schema_version: 1,
            payload: "{}".into(),
            recorded_at: "2026-01-01T00:00:00.000000Z".into(),
            actor: "ci".into(),
            client_request_id: None,
            remote_addr: Some("127.0.0.1:1".into()),
            hash: None,
        }
    }

    #[test]
    fn every_column_changes_the_hash() {
        let base = link(&GENESIS, &row().cols());
        let edits: Vec<fn(&mut ChainRow)> = vec![
            |r| r.position = 2,
            |r| r.stream_id.push('x'),
            |r| r.version = 2,
            |r| r.event_type.push('x'),
            |r| r.schema_version = 2,
            |r| r.payload = "{ }".into(),
            |r| r.recorded_at.push('x'),
            |r| r.actor.push('x'),
            |r| r.client_request_id = Some(String::new()),
            |r| r.remote_addr = None,
        ];
        for edit in edits {
            let mut r = row();
            edit(&mut r);
            assert_ne!(link(&GENESIS, &r.cols()), base);
        }
        assert_ne!(link(&[1; 32], &row().cols()), base);
    }

    #[test]
    fn link_hashes_exactly_the_encoded_row() {
        for mut r in [row(), {
            let mut r = row();
            r.client_request_id = Some("c".into());
            r.remote_addr = None;
            r
        }] {
            let mut h = openssl::sha::Sha256::new();
            h.update(&[3; 32]);
            h.update(&encode_row(&r));
            assert_eq!(link(&[3; 32], &r.cols()), h.finish());
            r.payload = "{\"a\":1}".into();
            let mut h = openssl::sha::Sha256::new();
            h.update(&GENESIS);
            h.update(&encode_row(&r));
            assert_eq!(link(&GENESIS, &r.cols()), h.finish());
        }
    }

    #[test]
    fn moving_text_between_adjacent_columns_changes_the_encoding() {
        let mut a = row();
        a.actor = "ab".into();
        a.recorded_at = "c".into();
        let mut b = row();
        b.actor = "b".into();
        b.recorded_at = "ca".into();
        assert_ne!(encode_row(&a), encode_row(&b));
    }
}
