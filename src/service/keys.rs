//! The managed key behind each certificate version (Key Vault `KeyBundle`): its public
//! part as a JWK, with the key operations the policy's key usage allows.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{Core, Result, ServiceError};
use crate::crypto;
use crate::domain::names::ObjectName;
use crate::domain::DomainError;
use crate::projections::certificate_versions::VersionRow;
use crate::projections::certificates::ListedCertificate;

/// The managed key of a certificate version.
pub struct KeyView {
    pub name: String,
    pub version: VersionRow,
    pub jwk: serde_json::Value,
    pub key_ops: Vec<&'static str>,
}

/// The keys service.
#[derive(Clone)]
pub struct Keys(pub(crate) Arc<Core>);

/// The refusal for a key (or version) that does not exist.
pub fn key_not_found(name: &str, version: Option<&str>) -> ServiceError {
    let name = super::versioned(name, version);
    DomainError::KeyNotFound { name }.into()
}

/// The key of `version` of `listed`, as a JWK read off its certificate.
pub fn key_view(listed: &ListedCertificate, version: &VersionRow) -> Result<KeyView> {
    let leaf = STANDARD
        .decode(&version.cer)
        .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))?;
    let info = crypto::x509::cert_info(&leaf)?;
    Ok(KeyView {
        name: listed.certificate.name.clone(),
        version: version.clone(),
        jwk: crypto::keys::public_jwk(&info.public_key_der)?,
        key_ops: listed.policy().key_ops(),
    })
}

impl Keys {
    /// `GetKey` of a certificate version (the current one when `version` is `None`).
    pub async fn get(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<KeyView> {
        let (listed, row) = self
            .0
            .listed_version(vault, name, version)
            .await?
            .ok_or_else(|| key_not_found(name.as_str(), version))?;
        key_view(&listed, &row)
    }

    /// `GetDeletedKey` of a soft-deleted certificate with a version: its public key.
    pub async fn get_deleted(
        &self,
        vault: &str,
        name: &ObjectName,
    ) -> Result<(ListedCertificate, KeyView)> {
        let not_found = || key_not_found(name.as_str(), None);
        let (listed, version) = self.0.deleted_with_version(vault, name, not_found).await?;
        let key = key_view(&listed, &version)?;
        Ok((listed, key))
    }
}
