//! The managed secret behind each certificate version (Key Vault `SecretBundle`): the
//! certificate chain with its private key when the policy marks the key exportable (else
//! the certificates alone), as the policy's content type.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{Core, Result, ServiceError};
use crate::crypto;
use crate::domain::names::ObjectName;
use crate::domain::policy::ContentType;
use crate::domain::DomainError;
use crate::projections::certificate_versions::VersionRow;
use crate::projections::certificates::ListedCertificate;

/// The managed secret of a certificate version.
pub struct SecretView {
    pub name: String,
    pub version: VersionRow,
    pub content_type: ContentType,
    /// PKCS#12 as standard base64, or PEM text.
    pub value: String,
}

/// The secrets service.
#[derive(Clone)]
pub struct Secrets(pub(crate) Arc<Core>);

/// The refusal for a secret (or version) that does not exist.
pub fn secret_not_found(name: &str, version: Option<&str>) -> ServiceError {
    let name = super::versioned(name, version);
    DomainError::SecretNotFound { name }.into()
}

/// The certificate chain of a version, leaf first, as DER.
pub fn chain_of(version: &VersionRow) -> Result<Vec<Vec<u8>>> {
    let decode = |b64: &str, what: &str| {
        STANDARD
            .decode(b64)
            .map_err(|e| ServiceError::Internal(format!("stored {what}: {e}")))
    };
    let mut out = vec![decode(&version.cer, "certificate")?];
    for c in version.chain.iter() {
        out.push(decode(c, "chain")?);
    }
    Ok(out)
}

impl Secrets {
    /// `GetSecret` of a certificate version (the current one when `version` is `None`).
    pub async fn get(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<SecretView> {
        let (listed, row) = self
            .0
            .listed_version(vault, name, version)
            .await?
            .ok_or_else(|| secret_not_found(name.as_str(), version))?;
        if !row.enabled {
            return Err(DomainError::SecretDisabled.into());
        }
        let policy = listed.policy();
        let key = if policy.key_props.exportable {
            let mut reader = self.0.reader().await?;
            Some(self.0.keys.load(&mut reader.conn(), &row.key_id).await?)
        } else {
            None
        };
        let chain = chain_of(&row)?;
        let value = match policy.content_type {
            ContentType::Pkcs12 => {
                STANDARD.encode(crypto::pkcs12::export_pkcs12(key.as_ref(), &chain)?)
            }
            ContentType::Pem => crypto::pkcs12::export_pem(key.as_ref(), &chain)?,
        };
        Ok(SecretView {
            name: listed.certificate.name.clone(),
            version: row,
            content_type: policy.content_type,
            value,
        })
    }

    /// `GetDeletedSecret` of a soft-deleted certificate with a version (no value).
    pub async fn get_deleted(&self, vault: &str, name: &ObjectName) -> Result<ListedCertificate> {
        let not_found = || secret_not_found(name.as_str(), None);
        let (listed, _) = self.0.deleted_with_version(vault, name, not_found).await?;
        Ok(listed)
    }
}
