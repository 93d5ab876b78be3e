//! Import (PKCS#12 or PEM with its key) and export of a certificate with its key.

use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::X509;

use super::{CryptoError, Result};

/// A certificate with its private key, chain leaf first.
pub struct ImportedCertificate {
    pub key: PKey<Private>,
    pub chain: Vec<Vec<u8>>,
}

fn mismatch() -> CryptoError {
    CryptoError::Invalid("The private key does not match the certificate.".into())
}

fn assemble(key: PKey<Private>, certs: Vec<X509>) -> Result<ImportedCertificate> {
    if certs.is_empty() {
        return Err(CryptoError::Invalid("The file holds no certificate.".into()));
    }
    let leaf = certs
        .iter()
        .position(|c| c.public_key().is_ok_and(|p| p.public_eq(&key)))
        .ok_or_else(mismatch)?;
    let mut certs = certs;
    let leaf = certs.remove(leaf);
    let mut chain = vec![leaf.to_der()?];
    for c in certs {
        chain.push(c.to_der()?);
    }
    Ok(ImportedCertificate { key, chain })
}

/// Reads PKCS#12 (DER) or PEM (certificates plus an unencrypted private key).
pub fn import_bundle(bytes: &[u8], password: Option<&str>) -> Result<ImportedCertificate> {
    let text = std::str::from_utf8(bytes).ok();
    if let Some(pem) = text.filter(|t| t.contains("-----BEGIN")) {
        let certs = X509::stack_from_pem(pem.as_bytes())
            .map_err(|_| CryptoError::Invalid("The PEM holds a damaged certificate.".into()))?;
        let key_start = ["-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"]
            .iter()
            .filter_map(|m| pem.find(m))
            .min()
            .ok_or_else(|| {
                CryptoError::Invalid(
                    "The PEM has no unencrypted private key (-----BEGIN PRIVATE KEY-----).".into(),
                )
            })?;
        let key = PKey::private_key_from_pem(pem[key_start..].as_bytes())
            .map_err(|_| CryptoError::Invalid("The PEM private key cannot be read.".into()))?;
        return assemble(key, certs);
    }
    let p12 = Pkcs12::from_der(bytes).map_err(|_| {
        CryptoError::Invalid("The value is neither a PKCS#12 file nor PEM.".into())
    })?;
    let parsed = p12.parse2(password.unwrap_or("")).map_err(|_| {
        CryptoError::Invalid("The PKCS#12 password is wrong or the file is damaged.".into())
    })?;
    let key = parsed
        .pkey
        .ok_or_else(|| CryptoError::Invalid("The PKCS#12 file has no private key.".into()))?;
    let mut certs = Vec::new();
    if let Some(c) = parsed.cert {
        certs.push(c);
    }
    if let Some(ca) = parsed.ca {
        certs.extend(ca);
    }
    assemble(key, certs)
}

/// A PKCS#12 (empty password, AES-256 + PBKDF2, SHA-256 MAC) of the chain and, if given, the key.
pub fn export_pkcs12(key: Option<&PKey<Private>>, chain: &[Vec<u8>]) -> Result<Vec<u8>> {
    let certs: Vec<X509> = chain.iter().map(|d| X509::from_der(d)).collect::<std::result::Result<_, _>>()?;
    let mut b = Pkcs12::builder();
    b.key_algorithm(Nid::AES_256_CBC)
        .cert_algorithm(Nid::AES_256_CBC)
        .mac_md(openssl::hash::MessageDigest::sha256());
    let mut rest = certs.iter();
    if let Some(leaf) = rest.next() {
        b.cert(leaf);
    }
    let mut ca = Stack::new()?;
    for c in rest {
        ca.push(c.clone())?;
    }
    b.ca(ca);
    if let Some(k) = key {
        b.pkey(k);
    }
    Ok(b.build2("")?.to_der()?)
}

/// PEM: the PKCS#8 key first (if given), then every certificate.
pub fn export_pem(key: Option<&PKey<Private>>, chain: &[Vec<u8>]) -> Result<String> {
    let mut out = String::new();
    if let Some(k) = key {
        out.push_str(&String::from_utf8_lossy(&k.private_key_to_pem_pkcs8()?));
    }
    for d in chain {
        out.push_str(&super::x509::cert_to_pem(d)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{Curve, KeySpec};

    fn cert_and_key() -> (PKey<Private>, Vec<u8>) {
        let now = chrono::Utc::now().timestamp();
        let (k, c) = crate::crypto::x509::create_ca("Imported", now, 10, None).unwrap();
        (k, c.to_der().unwrap())
    }

    #[test]
    fn pkcs12_and_pem_round_trip() {
        let (key, der) = cert_and_key();
        let p12 = export_pkcs12(Some(&key), &[der.clone()]).unwrap();
        let back = import_bundle(&p12, None).unwrap();
        assert_eq!(back.chain, vec![der.clone()]);
        assert!(back.key.public_eq(&key));
        let pem = export_pem(Some(&key), &[der.clone()]).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(import_bundle(pem.as_bytes(), None).unwrap().chain, vec![der.clone()]);
        let cert_first = format!("{}{}", crate::crypto::x509::cert_to_pem(&der).unwrap(), String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap());
        assert!(import_bundle(cert_first.as_bytes(), None).is_ok());
    }

    #[test]
    fn passwords_and_mismatches_are_refused() {
        let (key, der) = cert_and_key();
        let cert = X509::from_der(&der).unwrap();
        let p12 = Pkcs12::builder().pkey(&key).cert(&cert).build2("s3cret").unwrap().to_der().unwrap();
        assert!(import_bundle(&p12, Some("s3cret")).is_ok());
        assert!(matches!(import_bundle(&p12, Some("wrong")), Err(CryptoError::Invalid(m)) if m.contains("password")));
        let other = crate::crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
        let pem = export_pem(Some(&other), &[der]).unwrap();
        assert!(matches!(import_bundle(pem.as_bytes(), None), Err(CryptoError::Invalid(m)) if m.contains("does not match")));
    }
}
