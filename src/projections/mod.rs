//! Projections: the current-state views, written inside the command's transaction.
//!
//! Each view's rows are a function of its stream's state (the aggregate's fold of the
//! events): after a command, [`Registry::sync`] writes the rows that changed between the
//! state before and after; [`rebuild`] folds every stream from the events and writes every
//! row afresh. Both go through the same row functions, so a rebuild comes out identical.
//! One module per table; [`VIEWS`] is the one list that reset, rebuild and dump walk.
//! Projections never call openssl and never read the clock: every value comes from the
//! events and their recorded times.

pub mod certificate_versions;
pub mod certificates;
pub mod contacts;
pub mod issuers;
pub mod observe;
pub mod pending_operations;
mod row;
mod sql;

use std::collections::BTreeSet;

use crate::domain::certificate::CertificateState;
use crate::domain::contacts::ContactsState;
use crate::domain::issuer::IssuerState;
use crate::es::envelope::StreamKind;
use crate::es::storage::{on_conn, Conn, Session};
use crate::es::store::{self, StoreError};
use crate::es::{Change, DomainEvent, StateRef, StreamId, Synced, Views};
use certificate_versions::VersionRow;
use certificates::CertificateRow;
use contacts::ContactsRow;
use issuers::IssuerRow;
use pending_operations::PendingRow;
use sql::{Table, Val};

/// The version of the views' shape. When it differs from the one a database was built
/// with, the views are rebuilt from the events at start.
pub const VIEWS_VERSION: i64 = 2;

/// The view tables, in dump order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    PendingOperations,
    Certificates,
    CertificateVersions,
    Issuers,
    CertificateContacts,
}

/// Every view.
pub const VIEWS: &[View] = &[
    View::PendingOperations,
    View::Certificates,
    View::CertificateVersions,
    View::Issuers,
    View::CertificateContacts,
];

fn lines<T: Table>(rows: Vec<T>) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{} {}",
                T::NAME,
                serde_json::to_string(r).unwrap_or_else(|e| format!("<{e}>"))
            )
        })
        .collect()
}

impl View {
    /// The table.
    pub fn table(self) -> &'static str {
        match self {
            View::PendingOperations => PendingRow::NAME,
            View::Certificates => CertificateRow::NAME,
            View::CertificateVersions => VersionRow::NAME,
            View::Issuers => IssuerRow::NAME,
            View::CertificateContacts => ContactsRow::NAME,
        }
    }

    /// Every row as a line of JSON, in key order.
    async fn dump(self, conn: &mut Conn<'_>) -> Result<Vec<String>, sqlx::Error> {
        Ok(match self {
            View::PendingOperations => lines(sql::dump::<PendingRow>(conn).await?),
            View::Certificates => lines(sql::dump::<CertificateRow>(conn).await?),
            View::CertificateVersions => lines(sql::dump::<VersionRow>(conn).await?),
            View::Issuers => lines(sql::dump::<IssuerRow>(conn).await?),
            View::CertificateContacts => lines(sql::dump::<ContactsRow>(conn).await?),
        })
    }
}

/// The views of every aggregate, registered with the event store.
pub struct Registry;

impl Views for Registry {
    fn sync<'a>(&'a self, conn: &'a mut Conn<'_>, change: Change<'a>) -> Synced<'a> {
        let Change {
            stream,
            before,
            after,
        } = change;
        Box::pin(async move {
            let vault_key = [Val::Text(&stream.vault)];
            let key = [Val::Text(&stream.vault), Val::Text(&stream.name_key)];
            match (before, after) {
                (StateRef::Certificate(b), StateRef::Certificate(a)) => {
                    let (old, new) = (
                        pending_operations::row(stream, b),
                        pending_operations::row(stream, a),
                    );
                    sql::sync_one(conn, &key, old, new).await?;
                    let (old, new) = (certificates::row(stream, b), certificates::row(stream, a));
                    sql::sync_one(conn, &key, old, new).await?;
                    let (old, new) = (
                        certificate_versions::rows(stream, b),
                        certificate_versions::rows(stream, a),
                    );
                    sql::sync_many(conn, &key, old, new).await
                }
                (StateRef::Issuer(b), StateRef::Issuer(a)) => {
                    sql::sync_one(conn, &key, issuers::row(stream, b), issuers::row(stream, a))
                        .await
                }
                (StateRef::Contacts(b), StateRef::Contacts(a)) => {
                    let (old, new) = (contacts::row(stream, b), contacts::row(stream, a));
                    sql::sync_one(conn, &vault_key, old, new).await
                }
                _ => Ok(()),
            }
        })
    }
}

/// Empties every view.
pub async fn reset(conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
    for view in VIEWS {
        let sql = format!("DELETE FROM {}", view.table());
        on_conn!(conn, |c| sqlx::query(&sql)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// One stream's folded state, of whichever aggregate.
enum Folded {
    Certificate(Box<CertificateState>),
    Issuer(IssuerState),
    Contacts(ContactsState),
    None,
}

/// Rows waiting to be written by a rebuild, flushed in large inserts.
#[derive(Default)]
struct Pending {
    pending: Vec<PendingRow>,
    certificates: Vec<CertificateRow>,
    versions: Vec<VersionRow>,
    issuers: Vec<IssuerRow>,
    contacts: Vec<ContactsRow>,
}

impl Pending {
    fn add(&mut self, stream: &StreamId, folded: &Folded) {
        match folded {
            Folded::Certificate(s) => {
                self.pending.extend(pending_operations::row(stream, s));
                self.certificates.extend(certificates::row(stream, s));
                self.versions.extend(certificate_versions::rows(stream, s));
            }
            Folded::Issuer(s) => self.issuers.extend(issuers::row(stream, s)),
            Folded::Contacts(s) => self.contacts.extend(contacts::row(stream, s)),
            Folded::None => {}
        }
    }

    fn len(&self) -> usize {
        self.pending.len()
            + self.certificates.len()
            + self.versions.len()
            + self.issuers.len()
            + self.contacts.len()
    }

    async fn flush(&mut self, conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        sql::insert_all(conn, &self.pending).await?;
        sql::insert_all(conn, &self.certificates).await?;
        sql::insert_all(conn, &self.versions).await?;
        sql::insert_all(conn, &self.issuers).await?;
        sql::insert_all(conn, &self.contacts).await?;
        *self = Pending::default();
        Ok(())
    }
}

/// The stream being folded by a rebuild, and the rows of the streams folded before it.
#[derive(Default)]
struct Replay {
    current: Option<(StreamId, Folded)>,
    pending: Pending,
    count: u64,
}

impl Replay {
    /// Decodes a page of events and folds them into their streams' states.
    fn fold(&mut self, page: store::RawEvents) -> Result<(), StoreError> {
        for e in page.decode()? {
            self.count += 1;
            let same = self.current.as_ref().is_some_and(|(s, _)| *s == e.stream);
            if !same {
                self.finish_stream();
                let folded = match e.stream.kind {
                    StreamKind::Certificate => Folded::Certificate(Box::default()),
                    StreamKind::Issuer => Folded::Issuer(IssuerState::default()),
                    StreamKind::Contacts => Folded::Contacts(ContactsState::default()),
                    // Audit records change no view.
                    StreamKind::Audit => Folded::None,
                };
                self.current = Some((e.stream.clone(), folded));
            }
            let at = e.unix();
            if let Some((_, folded)) = self.current.as_mut() {
                match (folded, &e.event) {
                    (Folded::Certificate(s), DomainEvent::Certificate(ev)) => s.apply(ev, at),
                    (Folded::Issuer(s), DomainEvent::Issuer(ev)) => s.apply(ev, at),
                    (Folded::Contacts(s), DomainEvent::Contacts(ev)) => s.apply(ev, at),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Turns the stream folded so far into its rows.
    fn finish_stream(&mut self) {
        if let Some((s, f)) = self.current.take() {
            self.pending.add(&s, &f);
        }
    }
}

/// Resets every view and writes it again from the events, one stream at a time. The caller
/// owns the transaction. Returns the number of events replayed.
pub async fn rebuild(conn: &mut Conn<'_>) -> Result<u64, StoreError> {
    rebuild_paged(conn, 5000).await
}

/// [`rebuild`], reading the events `page` at a time (small pages put streams across page
/// boundaries, which tests need).
pub async fn rebuild_paged(conn: &mut Conn<'_>, page_size: i64) -> Result<u64, StoreError> {
    reset(conn).await?;
    let mut replay = Replay::default();
    // Streams are read whole and in order of their id, so one state is held at a time.
    // Each page is decoded and folded while the engine reads the next one (SQLite on its
    // worker thread, PostgreSQL on the server), so reading and decoding overlap.
    let mut page = store::read_streams(conn, None, page_size).await?;
    while let Some(after) = page.last_key() {
        let (next, folded) =
            futures_util::future::join(store::read_streams(conn, Some(&after), page_size), async {
                replay.fold(page)
            })
            .await;
        folded?;
        page = next?;
        if replay.pending.len() >= 2000 {
            replay.pending.flush(conn).await?;
        }
    }
    replay.finish_stream();
    replay.pending.flush(conn).await?;
    Ok(replay.count)
}

/// Renders every view as lines of JSON, one per row, for comparison.
pub async fn dump(conn: &mut Conn<'_>) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for view in VIEWS {
        out.extend(view.dump(conn).await?);
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

/// Rebuilds every view in one write transaction. With `check`, compares the result with
/// the live views and rolls back, changing nothing.
pub async fn rebuild_command(
    owned: &mut impl Session,
    check: bool,
) -> Result<RebuildReport, StoreError> {
    owned.begin_write().await?;
    let result = async {
        let mut conn = owned.conn();
        let live = if check {
            dump(&mut conn).await?
        } else {
            Vec::new()
        };
        let events = rebuild(&mut conn).await?;
        let mut differences = Vec::new();
        if check {
            let rebuilt = dump(&mut conn).await?;
            let live_set: BTreeSet<_> = live.iter().collect();
            let rebuilt_set: BTreeSet<_> = rebuilt.iter().collect();
            differences.extend(live_set.difference(&rebuilt_set).map(|l| format!("- {l}")));
            differences.extend(rebuilt_set.difference(&live_set).map(|l| format!("+ {l}")));
        } else {
            set_views_version(&mut conn).await?;
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
    owned.exec(end).await?;
    result
}

/// Records that the views have the shape of this version ([`VIEWS_VERSION`]).
pub async fn set_views_version(conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
    let v = VIEWS_VERSION.to_string();
    on_conn!(conn, |c| sqlx::query(
        r#"INSERT INTO meta (key, value) VALUES ('views_version', $1)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value"#,
    )
    .bind(&v)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rebuilds the views when they were built by another version of their shape (or never):
/// returns the events replayed, if it rebuilt.
pub async fn rebuild_if_stale(owned: &mut impl Session) -> Result<Option<u64>, StoreError> {
    let stored: Option<String> = {
        let mut conn = owned.conn();
        on_conn!(&mut conn, |c| sqlx::query_scalar(
            "SELECT value FROM meta WHERE key = 'views_version'"
        )
        .fetch_optional(c)
        .await)?
    };
    if stored.as_deref() == Some(VIEWS_VERSION.to_string().as_str()) {
        return Ok(None);
    }
    Ok(Some(rebuild_command(owned, false).await?.events))
}
