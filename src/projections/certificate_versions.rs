//! The `certificate_versions` view: every version of every certificate, numbered in the
//! order they became current (`seq`).

use std::collections::BTreeMap;

use sqlx::types::Json;

use crate::domain::certificate::{CertificateState, VersionInfo};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

use super::sql;

pub(crate) const TABLE: &str = "certificate_versions";
const KEY: &[&str] = &["vault", "name_key", "version"];
const COLUMNS: &[&str] = &[
    "vault", "name_key", "version", "seq", "key_id", "cer", "chain", "x5t", "nbf", "exp",
    "enabled", "tags", "created", "updated",
];

/// A row of `certificate_versions`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct VersionRow {
    pub vault: String,
    pub name_key: String,
    pub version: String,
    pub seq: i64,
    pub key_id: String,
    /// Base64 DER of the leaf.
    pub cer: String,
    /// Base64 DER of the certificates above the leaf, nearest first.
    pub chain: Json<Vec<String>>,
    pub x5t: String,
    pub nbf: i64,
    pub exp: i64,
    pub enabled: bool,
    pub tags: Json<BTreeMap<String, String>>,
    pub created: i64,
    pub updated: i64,
}

macro_rules! bind_row {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.vault)
            .bind(&$r.name_key)
            .bind(&$r.version)
            .bind($r.seq)
            .bind(&$r.key_id)
            .bind(&$r.cer)
            .bind(&$r.chain)
            .bind(&$r.x5t)
            .bind($r.nbf)
            .bind($r.exp)
            .bind($r.enabled)
            .bind(&$r.tags)
            .bind($r.created)
            .bind($r.updated)
    };
}

/// The row of one version.
pub fn version_row(stream: &StreamId, seq: usize, v: &VersionInfo) -> VersionRow {
    VersionRow {
        vault: stream.vault.clone(),
        name_key: stream.name_key.clone(),
        version: v.version.clone(),
        seq: seq as i64 + 1,
        key_id: v.key_id.clone(),
        cer: v.cer.clone(),
        chain: Json(v.chain.clone()),
        x5t: v.x5t.clone(),
        nbf: v.nbf,
        exp: v.exp,
        enabled: v.enabled,
        tags: Json(v.tags.clone()),
        created: v.created,
        updated: v.updated,
    }
}

/// The rows a certificate's state shows.
pub fn rows(stream: &StreamId, state: &CertificateState) -> Vec<VersionRow> {
    state
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| version_row(stream, i, v))
        .collect()
}

/// Brings the rows of `stream` from what `before` showed to what `after` shows.
pub async fn sync(
    conn: &mut Conn<'_>,
    stream: &StreamId,
    before: &CertificateState,
    after: &CertificateState,
) -> Result<(), sqlx::Error> {
    let old = rows(stream, before);
    let new = rows(stream, after);
    if old == new {
        return Ok(());
    }
    let gone = old
        .iter()
        .any(|o| !new.iter().any(|n| n.version == o.version));
    if gone {
        // Versions go only all at once (purge, restore over nothing).
        on_conn!(conn, |c| sqlx::query(
            "DELETE FROM certificate_versions WHERE vault = $1 AND name_key = $2"
        )
        .bind(&stream.vault)
        .bind(&stream.name_key)
        .execute(c)
        .await)?;
        return insert(conn, &new).await;
    }
    let changed: Vec<VersionRow> = new.into_iter().filter(|n| !old.contains(n)).collect();
    for r in &changed {
        let sql = sql::upsert(TABLE, COLUMNS, KEY);
        on_conn!(conn, |c| bind_row!(sqlx::query(&sql), r).execute(c).await)?;
    }
    Ok(())
}

/// Inserts rows.
pub async fn insert(conn: &mut Conn<'_>, rows: &[VersionRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(64) {
        let sql = sql::insert_many(TABLE, COLUMNS, chunk.len());
        on_conn!(conn, |c| {
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = bind_row!(q, r);
            }
            q.execute(c).await
        })?;
    }
    Ok(())
}

/// One version (case-insensitive).
pub async fn get(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
    version: &str,
) -> Result<Option<VersionRow>, sqlx::Error> {
    let v = version.to_ascii_lowercase();
    on_conn!(conn, |c| sqlx::query_as::<_, VersionRow>(
        "SELECT * FROM certificate_versions WHERE vault = $1 AND name_key = $2 AND version = $3"
    )
    .bind(vault)
    .bind(name_key)
    .bind(&v)
    .fetch_optional(c)
    .await)
}

/// Versions of a certificate, oldest first, after sequence `after`.
pub async fn list(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<VersionRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, VersionRow>(
        r#"SELECT * FROM certificate_versions
           WHERE vault = $1 AND name_key = $2 AND seq > $3
           ORDER BY seq LIMIT $4"#,
    )
    .bind(vault)
    .bind(name_key)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// Every row, in key order (for the rebuild's comparison).
pub async fn dump(conn: &mut Conn<'_>) -> Result<Vec<VersionRow>, sqlx::Error> {
    on_conn!(conn, |c| sqlx::query_as::<_, VersionRow>(
        "SELECT * FROM certificate_versions ORDER BY vault, name_key, seq"
    )
    .fetch_all(c)
    .await)
}
