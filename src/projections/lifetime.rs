//! Reads for lifetime actions: every certificate's policy with its current version's
//! validity. No table of its own: it reads the `certificates` and `certificate_versions`
//! views.

use sqlx::SqliteConnection;

/// A certificate's current version and policy.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrentVersionRow {
    pub vault: String,
    pub name: String,
    pub policy: String,
    pub version: String,
    pub nbf: i64,
    pub exp: i64,
}

/// Every certificate that has a current version.
pub async fn current_versions(
    conn: &mut SqliteConnection,
) -> Result<Vec<CurrentVersionRow>, sqlx::Error> {
    sqlx::query_as::<_, CurrentVersionRow>(
        r#"SELECT c.vault, c.name, c.policy, v.version, v.nbf, v.exp
           FROM certificates c
           JOIN certificate_versions v
             ON v.vault = c.vault AND v.name_key = c.name_key AND v.version = c.current_version
           ORDER BY c.vault, c.name_key"#,
    )
    .fetch_all(&mut *conn)
    .await
}
