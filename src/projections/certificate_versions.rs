//! The `certificate_versions` view: every version of every certificate, numbered in the
//! order they became current (`seq`).

use std::collections::BTreeMap;

use sqlx::types::Json;

use crate::domain::certificate::{CertificateState, VersionInfo};
use crate::es::storage::{on_conn, Conn};
use crate::es::StreamId;

use super::row::view_table;

view_table! {
    /// A row of `certificate_versions`.
    #[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
    struct VersionRow in "certificate_versions", key: [vault, name_key, version],
        order: "vault, name_key, seq" {
        vault: String,
        name_key: String,
        version: String,
        seq: i64,
        key_id: String,
        /// Base64 DER of the leaf.
        cer: String,
        /// Base64 DER of the certificates above the leaf, nearest first.
        chain: Json<Vec<String>>,
        x5t: String,
        nbf: i64,
        exp: i64,
        enabled: bool,
        tags: Json<BTreeMap<String, String>>,
        created: i64,
        updated: i64,
    }
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
