//! Reads of the certificate views that every certificate-backed resource shares
//! (certificates, deleted certificates, secrets, keys): each resource answers "not found"
//! in its own words around them.

use super::{Core, Result, ServiceError};
use crate::domain::names::ObjectName;
use crate::projections::certificate_versions::{self, VersionRow};
use crate::projections::certificates::{self as view, ListedCertificate};

impl Core {
    /// A certificate's row and current version; `deleted`: a soft-deleted one's instead.
    pub(crate) async fn listed(
        &self,
        vault: &str,
        name: &ObjectName,
        deleted: bool,
    ) -> Result<Option<ListedCertificate>> {
        let mut reader = self.reader().await?;
        Ok(view::get(&mut reader.conn(), vault, &name.key(), deleted).await?)
    }

    /// A soft-deleted certificate with a version (what its secret and key views need), or
    /// `not_found()`.
    pub(crate) async fn deleted_with_version(
        &self,
        vault: &str,
        name: &ObjectName,
        not_found: impl Fn() -> ServiceError,
    ) -> Result<(ListedCertificate, VersionRow)> {
        let listed = self
            .listed(vault, name, true)
            .await?
            .ok_or_else(&not_found)?;
        let version = listed.version.clone().ok_or_else(not_found)?;
        Ok((listed, version))
    }

    /// A live certificate with its version `version` (or the current one).
    pub(crate) async fn listed_version(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<Option<(ListedCertificate, VersionRow)>> {
        let mut reader = self.reader().await?;
        let mut conn = reader.conn();
        let Some(listed) = view::get(&mut conn, vault, &name.key(), false).await? else {
            return Ok(None);
        };
        let row = match version {
            None => listed.version.clone(),
            Some(v) => certificate_versions::get(&mut conn, vault, &name.key(), v).await?,
        };
        Ok(row.map(|r| (listed, r)))
    }

    /// A page of a vault's certificates after `after` (name key); see `view::list`.
    pub(crate) async fn list_certificates(
        &self,
        vault: &str,
        deleted: bool,
        include_pending: bool,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ListedCertificate>> {
        let mut reader = self.reader().await?;
        Ok(view::list(
            &mut reader.conn(),
            vault,
            deleted,
            include_pending,
            after,
            limit,
        )
        .await?)
    }

    /// A live certificate and a page of its versions after sequence `after`.
    pub(crate) async fn versions_page(
        &self,
        vault: &str,
        name: &ObjectName,
        after: i64,
        limit: i64,
    ) -> Result<Option<(ListedCertificate, Vec<VersionRow>)>> {
        let mut reader = self.reader().await?;
        let mut conn = reader.conn();
        let Some(listed) = view::get(&mut conn, vault, &name.key(), false).await? else {
            return Ok(None);
        };
        let rows = certificate_versions::list(&mut conn, vault, &name.key(), after, limit).await?;
        Ok(Some((listed, rows)))
    }
}
