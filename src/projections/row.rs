//! How a view row meets its table: the [`view_table!`] that declares a row struct and its
//! [`Table`](sql::Table) from one column list, and the [`Column`] each field type binds as.

use sqlx::types::Json;

use crate::domain::certificate::OperationStatus;

use super::sql::{self, Val};

/// A view row's field as the value its column binds: each field's type says how.
pub(super) trait Column {
    fn val(&self) -> Result<Val<'_>, sqlx::Error>;
}

/// `Column` for the field types that bind as one [`Val`] of themselves.
macro_rules! columns {
    ($($ty:ty => |$v:ident| $val:expr;)+) => {
        $(impl Column for $ty {
            fn val(&self) -> Result<Val<'_>, sqlx::Error> {
                let $v = self;
                Ok($val)
            }
        })+
    };
}

columns! {
    String => |v| Val::Text(v);
    Option<String> => |v| Val::OptText(v.as_deref());
    i64 => |v| Val::Int(*v);
    Option<i64> => |v| Val::OptInt(*v);
    bool => |v| Val::Bool(*v);
    Option<bool> => |v| Val::OptBool(*v);
    OperationStatus => |v| Val::Text(v.as_str());
}

impl<T: serde::Serialize> Column for Json<T> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        sql::json(&self.0)
    }
}

impl<T: serde::Serialize> Column for Option<Json<T>> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        match self {
            Some(j) => sql::json(&j.0),
            None => Ok(Val::OptJson(None)),
        }
    }
}

/// A view row and its [`Table`](sql::Table), from its columns declared once, in order (the key first):
/// the struct gets one public field per column, and each column binds its field as the
/// field's type says ([`Column`]).
macro_rules! view_table {
    (
        $(#[$attr:meta])*
        struct $row:ident in $name:literal, key: [$($key:ident),+], order: $order:literal {
            $($(#[$fattr:meta])* $col:ident: $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        pub struct $row {
            $($(#[$fattr])* pub $col: $ty),+
        }

        impl super::sql::Table for $row {
            const NAME: &'static str = $name;
            const KEY: &'static [&'static str] = &[$(stringify!($key)),+];
            const COLUMNS: &'static [&'static str] = &[$(stringify!($col)),+];
            const ORDER: &'static str = $order;

            fn values(&self) -> Result<Vec<super::sql::Val<'_>>, sqlx::Error> {
                use super::row::Column as _;
                Ok(vec![$(self.$col.val()?),+])
            }
        }
    };
}
pub(super) use view_table;
