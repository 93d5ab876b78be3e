//! Sealing of private keys at rest (AES-256-GCM under a master key, with associated data
//! binding the ciphertext to its purpose), plus random bytes and SHA digests.

use openssl::rand::rand_bytes;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use super::{invalid, Result};

/// Length of the master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts `plaintext` with AES-256-GCM under `master`, authenticating `aad` too.
/// Output: 12-byte random nonce, ciphertext, 16-byte tag.
pub fn seal(master: &[u8; MASTER_KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = random_bytes::<NONCE_LEN>()?;
    let mut tag = [0u8; TAG_LEN];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        master,
        Some(&nonce),
        aad,
        plaintext,
        &mut tag,
    )?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Reverses [`seal`]. Fails with [`CryptoError::Invalid`](super::CryptoError::Invalid)
/// when the data is too short or does not authenticate (tampered, another master key or
/// other associated data). For data read from our own storage that means corruption or a
/// wrong master key, which callers should report as an internal fault.
pub fn unseal(master: &[u8; MASTER_KEY_LEN], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(invalid(format!(
            "The sealed data is too short ({} bytes) to have been made by seal.",
            sealed.len()
        )));
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    decrypt_aead(
        Cipher::aes_256_gcm(),
        master,
        Some(nonce),
        aad,
        ciphertext,
        tag,
    )
    .map_err(|_| {
        invalid(
            "The sealed data does not authenticate: it was altered, or sealed under another \
             master key or for another purpose.",
        )
    })
}

/// `N` cryptographically secure random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    rand_bytes(&mut out)?;
    Ok(out)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

/// SHA-1 of `data` (certificate thumbprints only).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    openssl::sha::sha1(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CryptoError;

    const MASTER: [u8; MASTER_KEY_LEN] = [7u8; MASTER_KEY_LEN];

    #[test]
    fn round_trip() {
        let sealed = seal(&MASTER, b"cert/a/1", b"secret key bytes").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 16 + TAG_LEN);
        assert_eq!(
            unseal(&MASTER, b"cert/a/1", &sealed).unwrap(),
            b"secret key bytes"
        );
        // A fresh nonce each time.
        assert_ne!(
            seal(&MASTER, b"cert/a/1", b"secret key bytes").unwrap(),
            sealed
        );
        // Empty plaintext works too.
        let empty = seal(&MASTER, b"", b"").unwrap();
        assert_eq!(unseal(&MASTER, b"", &empty).unwrap(), b"");
    }

    #[test]
    fn tampering_wrong_aad_and_wrong_key_fail() {
        let sealed = seal(&MASTER, b"aad", b"plaintext").unwrap();
        for i in [0, NONCE_LEN, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(matches!(
                unseal(&MASTER, b"aad", &bad),
                Err(CryptoError::Invalid(_))
            ));
        }
        assert!(unseal(&MASTER, b"other", &sealed).is_err());
        assert!(unseal(&[8u8; MASTER_KEY_LEN], b"aad", &sealed).is_err());
    }

    #[test]
    fn short_input_does_not_panic() {
        for len in [0, 1, NONCE_LEN, NONCE_LEN + TAG_LEN - 1] {
            let err = unseal(&MASTER, b"", &vec![0u8; len]).unwrap_err();
            assert!(err.to_string().contains("too short"));
        }
        // Exactly nonce + tag: empty ciphertext, bad tag.
        assert!(unseal(&MASTER, b"", &[0u8; NONCE_LEN + TAG_LEN]).is_err());
    }

    #[test]
    fn digests_and_random() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let a = random_bytes::<32>().unwrap();
        let b = random_bytes::<32>().unwrap();
        assert_ne!(a, b);
        assert_eq!(random_bytes::<0>().unwrap(), [0u8; 0]);
    }
}
