//! Projections: the current-state views, written from events inside the append transaction.
//!
//! Each projection owns its tables and exposes `apply` and `reset`. `rebuild` resets every
//! view and replays all events by position in one transaction; `dump` renders every view
//! canonically so a rebuild can be proven identical. Projections never call openssl and
//! never read the clock: every value comes from the event and its envelope.

pub mod certificate_lifecycle;
pub mod certificate_versions;
pub mod contacts;
pub mod issuers;
pub mod lifetime;
pub mod pending_operations;

use sqlx::{Row, SqliteConnection};

use crate::es::store::{self, StoreError};
use crate::es::{DomainEvent, StoredEvent};

/// The view tables, in dump order, with their key columns.
pub const VIEWS: &[(&str, &str)] = &[
    ("pending_operations", "vault, name_key"),
    ("certificates", "vault, name_key"),
    ("certificate_versions", "vault, name_key, seq"),
    ("issuers", "vault, name_key"),
    ("certificate_contacts", "vault"),
];

/// Applies one stored event to every view.
pub async fn apply(conn: &mut SqliteConnection, event: &StoredEvent) -> Result<(), sqlx::Error> {
    match &event.event {
        DomainEvent::Certificate(e) => {
            pending_operations::apply(conn, event, e).await?;
            certificate_versions::apply(conn, event, e).await?;
            certificate_lifecycle::apply(conn, event, e).await?;
        }
        DomainEvent::Issuer(e) => issuers::apply(conn, event, e).await?,
        DomainEvent::Contacts(e) => contacts::apply(conn, event, e).await?,
        // Audit records change no view.
        DomainEvent::Audit(_) => {}
    }
    Ok(())
}

/// Empties every view.
pub async fn reset(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    for (table, _) in VIEWS {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Resets every view and replays all events in position order. The caller owns the
/// transaction. Returns the number of events replayed.
pub async fn rebuild(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    reset(conn).await?;
    let mut after = 0;
    let mut count = 0;
    loop {
        let batch = store::read_all(conn, after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for event in &batch {
            apply(conn, event).await?;
            count += 1;
        }
    }
    Ok(count)
}

/// Renders every view as sorted lines of JSON, one per row, for comparison.
pub async fn dump(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for (table, order) in VIEWS {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            let mut obj = serde_json::Map::new();
            for (i, col) in row.columns().iter().enumerate() {
                use sqlx::Column;
                let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                    serde_json::json!(v)
                } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                    serde_json::json!(v)
                } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    serde_json::json!(v.map(hex::encode))
                } else {
                    serde_json::Value::Null
                };
                obj.insert(col.name().to_owned(), value);
            }
            out.push(format!("{table} {}", serde_json::Value::Object(obj)));
        }
    }
    Ok(out)
}

/// What a rebuild did.
#[derive(Debug, Default)]
pub struct RebuildReport {
    pub events: u64,
    /// With `check`: lines present in only one of live/rebuilt views (`- live`, `+ rebuilt`).
    pub differences: Vec<String>,
}

/// Rebuilds every view in one transaction. With `check`, compares the result with the live
/// views and rolls back, changing nothing.
pub async fn rebuild_command(
    conn: &mut SqliteConnection,
    check: bool,
) -> Result<RebuildReport, StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let result = async {
        let live = if check { dump(conn).await? } else { Vec::new() };
        let events = rebuild(conn).await?;
        let mut differences = Vec::new();
        if check {
            let rebuilt = dump(conn).await?;
            let live_set: std::collections::BTreeSet<_> = live.iter().collect();
            let rebuilt_set: std::collections::BTreeSet<_> = rebuilt.iter().collect();
            differences.extend(live_set.difference(&rebuilt_set).map(|l| format!("- {l}")));
            differences.extend(rebuilt_set.difference(&live_set).map(|l| format!("+ {l}")));
        }
        Ok::<_, StoreError>(RebuildReport {
            events,
            differences,
        })
    }
    .await;
    let end = if check || result.is_err() {
        "ROLLBACK"
    } else {
        "COMMIT"
    };
    sqlx::query(end).execute(&mut *conn).await?;
    result
}
