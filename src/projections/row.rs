//! How a view row meets its table: the [`view_table!`] that declares a row struct and its
//! [`Table`](sql::Table) from one column list, and the [`Column`] each field type binds as.

use sqlx::types::Json;

use crate::domain::certificate::OperationStatus;

use super::sql::{self, Val};

/// A view row's field as the value its column binds: each field's type says how.
pub(super) trait Column {
    fn val(&self) -> Result<Val<'_>, sqlx::Error>;
}

impl Column for String {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Text(self))
    }
}

impl Column for Option<String> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::OptText(self.as_deref()))
    }
}

impl Column for i64 {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Int(*self))
    }
}

impl Column for Option<i64> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::OptInt(*self))
    }
}

impl Column for bool {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Bool(*self))
    }
}

impl Column for Option<bool> {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::OptBool(*self))
    }
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

impl Column for OperationStatus {
    fn val(&self) -> Result<Val<'_>, sqlx::Error> {
        Ok(Val::Text(self.as_str()))
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
