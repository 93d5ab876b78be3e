//! Private keys at rest: generated before a command, sealed (AES-256-GCM under the master
//! key, the key id as associated data) and stored in the `keys` table by the command that
//! names them (an `es::Effect`). Events and views carry only the key id and the public key.

use std::path::Path;

use base64::Engine;

use super::{Result, ServiceError};
use crate::crypto::{self, PKey, Private};
use crate::domain::policy::KeySpec;
use crate::es::keys::{self, SealedKey};
use crate::es::storage::Conn;

/// The master key and the operations that need it.
pub struct KeyStore {
    master: [u8; crypto::seal::MASTER_KEY_LEN],
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyStore(****)")
    }
}

/// A key made for a request, ready to be stored.
pub struct PreparedKey {
    pub key_id: String,
    pub public_der: Vec<u8>,
    pub sealed: Vec<u8>,
    pub key: PKey<Private>,
}

impl PreparedKey {
    /// The key as the `keys` table stores it, in `vault`.
    pub fn to_store(&self, vault: &str) -> SealedKey {
        SealedKey {
            key_id: self.key_id.clone(),
            vault: vault.to_owned(),
            public_der: self.public_der.clone(),
            sealed: self.sealed.clone(),
        }
    }
}

impl KeyStore {
    /// Uses `configured` (base64 of 32 bytes) if not empty, else `<data_dir>/master.key`,
    /// made with mode 0600 at first start.
    pub fn open(configured: &str, data_dir: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let bytes = if !configured.is_empty() {
            base64::engine::general_purpose::STANDARD
                .decode(configured.trim())
                .context("seal.master_key is not valid base64")?
        } else {
            let path = data_dir.join("master.key");
            if path.exists() {
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
            } else {
                let key = crypto::seal::random_bytes::<32>()?;
                write_private_file(&path, &key)?;
                key.to_vec()
            }
        };
        let master: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the master key must be exactly 32 bytes"))?;
        Ok(KeyStore { master })
    }

    /// A key store over a given master key.
    pub fn from_master(master: [u8; 32]) -> Self {
        KeyStore { master }
    }

    /// Seals arbitrary secret bytes (CA and TLS keys kept in files).
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        Ok(crypto::seal::seal(&self.master, aad.as_bytes(), plaintext)?)
    }

    /// Opens what [`KeyStore::seal`] sealed.
    pub fn unseal(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        Ok(crypto::seal::unseal(&self.master, aad.as_bytes(), sealed)?)
    }

    /// Generates and seals a key (slow for RSA: call from a blocking thread).
    pub fn prepare(&self, spec: &KeySpec) -> Result<PreparedKey> {
        let key = crypto::keys::generate_key(spec)?;
        self.wrap(super::new_id(), key)
    }

    /// Seals an existing key under a new id (imports).
    pub fn wrap(&self, key_id: String, key: PKey<Private>) -> Result<PreparedKey> {
        let der = crypto::keys::private_key_to_der(&key)?;
        let sealed = self.seal(&key_id, &der)?;
        Ok(PreparedKey {
            public_der: crypto::keys::public_key_der(&key)?,
            key_id,
            sealed,
            key,
        })
    }

    /// Loads and unseals a stored key.
    pub async fn load(&self, conn: &mut Conn<'_>, key_id: &str) -> Result<PKey<Private>> {
        let sealed = keys::sealed(conn, key_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("key {key_id} is missing")))?;
        let der = self.unseal(key_id, &sealed)?;
        Ok(crypto::keys::private_key_from_der(&der)?)
    }
}

/// Writes a file readable only by its owner (0600), creating parent directories.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
