//! The storage engine a suite runs on: SQLite in each server's data directory (the
//! default) or, when `CERTBROKER_TEST_STORAGE_URL` names a PostgreSQL server, a fresh
//! database of its own for each server. Shared by `tests/api` and `tests/sdk_rust`.

/// The PostgreSQL server the suite runs against instead of SQLite, when set (an admin URL:
/// each test gets a database of its own, made on it).
pub const STORAGE_URL_ENV: &str = "CERTBROKER_TEST_STORAGE_URL";

/// Whether the suite runs against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(STORAGE_URL_ENV).is_ok_and(|u| !u.is_empty())
}

/// A fresh database on the test PostgreSQL server, or "" (SQLite in the data directory).
pub async fn fresh_storage_url() -> String {
    let Ok(admin) = std::env::var(STORAGE_URL_ENV) else {
        return String::new();
    };
    if admin.is_empty() {
        return admin;
    }
    use sqlx::Connection;
    let name = format!("cb_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    let (base, _db) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
