//! What every view shares: a [`Table`] names its columns and binds its rows' values, and
//! the statements a view needs (upsert, insert many, delete by key, dump, bring a
//! stream's rows from one state to the next) are written once here for every table;
//! and text enums in typed columns.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgRow, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentValue, SqliteRow, SqliteTypeInfo};
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};

use crate::domain::certificate::OperationStatus;
use crate::es::storage::{on_conn, Conn, Engine};

/// One column value of a view row, as bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    OptBool(Option<bool>),
    /// JSON, serialized.
    Json(String),
    OptJson(Option<String>),
}

/// `t` as a JSON column value; a value that does not serialize is an error, never empty.
pub fn json<T: serde::Serialize>(t: &T) -> Result<Val<'static>, sqlx::Error> {
    serde_json::to_string(t)
        .map(Val::Json)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A view table: its columns (key columns first), and how a row binds them.
pub trait Table:
    Sized
    + Send
    + Unpin
    + PartialEq
    + serde::Serialize
    + for<'r> sqlx::FromRow<'r, SqliteRow>
    + for<'r> sqlx::FromRow<'r, PgRow>
{
    const NAME: &'static str;
    /// The primary key, a prefix of [`Table::COLUMNS`].
    const KEY: &'static [&'static str];
    const COLUMNS: &'static [&'static str];
    /// The dump order.
    const ORDER: &'static str;
    /// The row's values in column order.
    fn values(&self) -> Result<Vec<Val<'_>>, sqlx::Error>;
}

/// Binds `vals` onto the query `q` (once per engine, inside `on_conn!`).
macro_rules! bind_vals {
    ($q:expr, $vals:expr) => {{
        let mut q = $q;
        for v in $vals {
            q = match v {
                Val::Text(s) => q.bind(*s),
                Val::OptText(s) => q.bind(*s),
                Val::Int(i) => q.bind(*i),
                Val::OptInt(i) => q.bind(*i),
                Val::Bool(b) => q.bind(*b),
                Val::OptBool(b) => q.bind(*b),
                // As JSON, not text: PostgreSQL keeps these columns as `jsonb`.
                Val::Json(s) => q.bind(JsonText(s)),
                Val::OptJson(s) => q.bind(s.as_deref().map(JsonText)),
            };
        }
        q
    }};
}

/// JSON text serialized by [`json`], bound as it is, without parsing it again: text on
/// SQLite, a `jsonb` value on PostgreSQL (which checks it).
struct JsonText<'a>(&'a str);

impl Type<Sqlite> for JsonText<'_> {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for JsonText<'q> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <&str as Encode<'q, Sqlite>>::encode(self.0, buf)
    }
}

impl Type<Postgres> for JsonText<'_> {
    fn type_info() -> PgTypeInfo {
        <sqlx::types::Json<()> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for JsonText<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // The `jsonb` binary format: a version byte (1), then the JSON text.
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

fn placeholders(from: usize, n: usize) -> String {
    let v: Vec<String> = (from..from + n).map(|i| format!("${i}")).collect();
    format!("({})", v.join(", "))
}

/// `INSERT INTO {table} ({columns}) VALUES ($1, ...) ON CONFLICT ({key}) DO UPDATE SET ...`
/// for every non-key column.
pub fn upsert_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders(1, columns.len()),
        key.join(", "),
        set.join(", ")
    )
}

/// `INSERT INTO {table} ({columns}) VALUES (...), (...), ...` for `rows` rows.
pub fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let n = columns.len();
    let tuples: Vec<String> = (0..rows).map(|r| placeholders(r * n + 1, n)).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    )
}

/// The statements a view runs, by what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Statement {
    Upsert,
    /// An insert of this many rows.
    Insert(usize),
    /// A delete by this many leading key columns.
    Delete(usize),
    /// The row of one stream (by vault and name key).
    ByStream,
}

/// The text of `statement` on `table` for `engine`, built once per process: a command
/// writes several rows and a rebuild thousands, and building the text (placeholders, the
/// SQLite spelling of them) cost more than binding the values. The set is bounded: a few
/// statements per table, and inserts of at most a statement's rows.
fn statement_sql(
    table: &'static str,
    statement: Statement,
    engine: Engine,
    build: impl FnOnce() -> String,
) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Key = (&'static str, Statement, Engine);
    static BUILT: OnceLock<Mutex<HashMap<Key, &'static str>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let key = (table, statement, engine);
    if let Some(sql) = built.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return sql;
    }
    let sql = build();
    let sql = match engine {
        Engine::Sqlite => crate::es::storage::positional(&sql).into_owned(),
        Engine::Postgres => sql,
    };
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    built
        .entry(key)
        .or_insert_with(|| Box::leak(sql.into_boxed_str()))
}

/// The row of `T`'s view that one stream shows (the views with one row per stream read it
/// alike: `SELECT * FROM {table} WHERE vault = $1 AND name_key = $2`).
pub async fn by_stream<T: Table>(
    conn: &mut Conn<'_>,
    vault: &str,
    name_key: &str,
) -> Result<Option<T>, sqlx::Error> {
    let sql = statement_sql(T::NAME, Statement::ByStream, conn.engine(), || {
        format!(
            "SELECT * FROM {} WHERE vault = $1 AND name_key = $2",
            T::NAME
        )
    });
    on_conn!(conn, |c| sqlx::query_as::<_, T>(sql)
        .bind(vault)
        .bind(name_key)
        .fetch_optional(c)
        .await)
}

/// Writes `row`, replacing the row with its key.
pub async fn upsert<T: Table>(conn: &mut Conn<'_>, row: &T) -> Result<(), sqlx::Error> {
    let sql = statement_sql(T::NAME, Statement::Upsert, conn.engine(), || {
        upsert_sql(T::NAME, T::COLUMNS, T::KEY)
    });
    let vals = row.values()?;
    on_conn!(conn, |c| bind_vals!(sqlx::query(sql), &vals)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Inserts `rows` in statements of many rows each.
pub async fn insert_all<T: Table>(conn: &mut Conn<'_>, rows: &[T]) -> Result<(), sqlx::Error> {
    let per_statement = (900 / T::COLUMNS.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let sql = statement_sql(
            T::NAME,
            Statement::Insert(chunk.len()),
            conn.engine(),
            || insert_sql(T::NAME, T::COLUMNS, chunk.len()),
        );
        let mut vals = Vec::with_capacity(chunk.len() * T::COLUMNS.len());
        for r in chunk {
            vals.extend(r.values()?);
        }
        on_conn!(conn, |c| bind_vals!(sqlx::query(sql), &vals)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Deletes the rows whose leading key columns equal `key`.
pub async fn delete<T: Table>(conn: &mut Conn<'_>, key: &[Val<'_>]) -> Result<(), sqlx::Error> {
    let sql = statement_sql(T::NAME, Statement::Delete(key.len()), conn.engine(), || {
        let clauses: Vec<String> = T::KEY
            .iter()
            .take(key.len())
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        format!("DELETE FROM {} WHERE {}", T::NAME, clauses.join(" AND "))
    });
    on_conn!(conn, |c| bind_vals!(sqlx::query(sql), key)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every row, in dump order.
pub async fn dump<T: Table>(conn: &mut Conn<'_>) -> Result<Vec<T>, sqlx::Error> {
    let sql = format!("SELECT * FROM {} ORDER BY {}", T::NAME, T::ORDER);
    on_conn!(conn, |c| sqlx::query_as::<_, T>(&sql).fetch_all(c).await)
}

/// Brings the one row under `key` from `old` to `new`.
pub async fn sync_one<T: Table>(
    conn: &mut Conn<'_>,
    key: &[Val<'_>],
    old: Option<T>,
    new: Option<T>,
) -> Result<(), sqlx::Error> {
    match (old, new) {
        (old, Some(new)) if old.as_ref() != Some(&new) => upsert(conn, &new).await,
        (Some(_), None) => delete::<T>(conn, key).await,
        _ => Ok(()),
    }
}

/// Brings the rows under `key` from `old` to `new`: rows that changed or are new are
/// written; when one went, all are written afresh.
pub async fn sync_many<T: Table>(
    conn: &mut Conn<'_>,
    key: &[Val<'_>],
    old: Vec<T>,
    new: Vec<T>,
) -> Result<(), sqlx::Error> {
    if old == new {
        return Ok(());
    }
    let key_of = |r: &T| -> Result<Vec<String>, sqlx::Error> {
        Ok(r.values()?[..T::KEY.len()]
            .iter()
            .map(|v| match v {
                Val::Text(s) => (*s).to_owned(),
                other => format!("{other:?}"),
            })
            .collect())
    };
    let new_keys = new.iter().map(key_of).collect::<Result<Vec<_>, _>>()?;
    let mut gone = false;
    for o in &old {
        gone |= !new_keys.contains(&key_of(o)?);
    }
    if gone {
        delete::<T>(conn, key).await?;
        return insert_all(conn, &new).await;
    }
    for r in new.iter().filter(|n| !old.contains(n)) {
        upsert(conn, r).await?;
    }
    Ok(())
}

// A request's status is stored as its wire text (`inProgress`, `completed`, ...), on
// either engine: the impls are generic over the database, through `str`'s own.
impl<DB: Database> Type<DB> for OperationStatus
where
    str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for OperationStatus
where
    &'q str: Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <&str as Encode<'q, DB>>::encode(self.as_str(), buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for OperationStatus
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let s = <&str as Decode<'r, DB>>::decode(value)?;
        OperationStatus::parse(s).ok_or_else(|| format!("unknown value '{s}'").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_list_every_column_once() {
        assert_eq!(
            upsert_sql("t", &["a", "b", "c"], &["a"]),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3) ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c"
        );
        assert_eq!(
            insert_sql("t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
