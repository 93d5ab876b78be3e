//! What every view shares: text enums in typed columns, and the statements a view row
//! needs (upsert by key, delete by key) built once from the row's column list.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Sqlite, Type};

use crate::domain::certificate::OperationStatus;

/// `INSERT INTO {table} ({columns}) VALUES ($1, ...) ON CONFLICT ({key}) DO UPDATE SET ...`
/// for every non-key column.
pub fn upsert(table: &str, columns: &[&str], key: &[&str]) -> String {
    let values: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        values.join(", "),
        key.join(", "),
        set.join(", ")
    )
}

/// `INSERT INTO {table} ({columns}) VALUES (...), (...), ...` for `rows` rows.
pub fn insert_many(table: &str, columns: &[&str], rows: usize) -> String {
    let n = columns.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let v: Vec<String> = (1..=n).map(|i| format!("${}", r * n + i)).collect();
            format!("({})", v.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    )
}

/// Implements the column type of an enum stored as its wire text.
macro_rules! text_column {
    ($t:ty, $to:expr, $from:expr) => {
        impl Type<Sqlite> for $t {
            fn type_info() -> SqliteTypeInfo {
                <str as Type<Sqlite>>::type_info()
            }
            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <str as Type<Sqlite>>::compatible(ty)
            }
        }
        impl<'q> Encode<'q, Sqlite> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<SqliteArgumentValue<'q>>,
            ) -> Result<IsNull, BoxDynError> {
                let s: &'static str = $to(*self);
                <&str as Encode<'q, Sqlite>>::encode(s, buf)
            }
        }
        impl<'r> Decode<'r, Sqlite> for $t {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                let s = <&str as Decode<'r, Sqlite>>::decode(value)?;
                $from(s).ok_or_else(|| format!("unknown value '{s}'").into())
            }
        }
    };
}

text_column!(
    OperationStatus,
    OperationStatus::as_str,
    OperationStatus::parse
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_list_every_column_once() {
        assert_eq!(
            upsert("t", &["a", "b", "c"], &["a"]),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, $3) ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c"
        );
        assert_eq!(
            insert_many("t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
