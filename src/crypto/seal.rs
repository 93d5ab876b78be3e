//! Sealing secrets at rest with AES-256-GCM, and hashes.

use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use super::{CryptoError, Result};

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
const NONCE: usize = 12;
const TAG: usize = 16;

/// Encrypts `plaintext`: output is `nonce || ciphertext || tag`; `aad` is authenticated.
pub fn seal(master: &[u8; MASTER_KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = random_bytes::<NONCE>()?;
    let mut tag = [0u8; TAG];
    let ct = encrypt_aead(Cipher::aes_256_gcm(), master, Some(&nonce), aad, plaintext, &mut tag)?;
    let mut out = Vec::with_capacity(NONCE + ct.len() + TAG);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Decrypts what [`seal`] made; fails on any tampering or a wrong `aad`/key.
pub fn unseal(master: &[u8; MASTER_KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < NONCE + TAG {
        return Err(CryptoError::Invalid("sealed data is too short".into()));
    }
    let (nonce, rest) = sealed.split_at(NONCE);
    let (ct, tag) = rest.split_at(rest.len() - TAG);
    decrypt_aead(Cipher::aes_256_gcm(), master, Some(nonce), aad, ct, tag).map_err(|_| {
        CryptoError::Invalid("sealed data failed authentication (wrong key or tampered)".into())
    })
}

/// `N` random bytes from OpenSSL's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf)
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

/// SHA-1 (certificate thumbprints only).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    openssl::sha::sha1(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let key = random_bytes::<32>().unwrap();
        let sealed = seal(&key, b"k1", b"secret key bytes").unwrap();
        assert_eq!(unseal(&key, b"k1", &sealed).unwrap(), b"secret key bytes");
        assert!(unseal(&key, b"k2", &sealed).is_err());
        let mut bad = sealed.clone();
        bad[14] ^= 1;
        assert!(unseal(&key, b"k1", &bad).is_err());
        assert!(unseal(&key, b"k1", &sealed[..10]).is_err());
        let other = random_bytes::<32>().unwrap();
        assert!(unseal(&other, b"k1", &sealed).is_err());
    }
}
