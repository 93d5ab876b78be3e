//! Certificate import and export: reading a PKCS#12 file or PEM text that holds a private
//! key and its certificate chain, and writing a certificate's secret as PKCS#12 or PEM.
//! Also owns reading PKCS#12 files in general, including the legacy (RC2/3DES) encryption
//! that OpenSSL 3 only offers through its legacy provider.

use std::fmt;
use std::sync::OnceLock;

use openssl::ec::EcKey;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::{ParsedPkcs12_2, Pkcs12};
use openssl::pkey::{PKey, Private};
use openssl::provider::Provider;
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::X509;

use super::encoding::{decode_base64_lenient, looks_like_pem, pem_blocks, TAG_SEQUENCE};
use super::keys::normalize;
use super::path::order_leaf_first;
use super::x509::{parse_cert, parse_cert_block};
use super::{invalid, Result};

/// A private key with its certificate chain, as imported.
pub struct ImportedCertificate {
    /// The private key (matches `chain[0]`).
    pub key: PKey<Private>,
    /// The certificates as DER, leaf first, then its issuers in order.
    pub chain: Vec<Vec<u8>>,
}

impl fmt::Debug for ImportedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedCertificate")
            .field("key", &format_args!("<{} private key>", self.key.bits()))
            .field("chain_len", &self.chain.len())
            .finish()
    }
}

/// Why a PKCS#12 file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pkcs12Failure {
    /// The bytes are not a PKCS#12 structure.
    NotPkcs12,
    /// The MAC or the decryption failed: wrong password, or damaged.
    WrongPasswordOrDamaged,
    /// An algorithm this OpenSSL cannot use (even with the legacy provider).
    Unsupported,
}

/// Message for [`Pkcs12Failure::WrongPasswordOrDamaged`].
pub(crate) const WRONG_PASSWORD: &str = "The PKCS#12 password is wrong or the file is damaged.";

/// Message for [`Pkcs12Failure::Unsupported`].
pub(crate) const UNSUPPORTED_PKCS12: &str =
    "The PKCS#12 file uses an encryption algorithm this server cannot read (such as legacy \
     RC2-40); export it again with AES-256 (for example 'openssl pkcs12 -export' from \
     OpenSSL 3, or certutil with AES256-SHA256).";

/// The legacy provider, loaded on first need (`None` if it is not installed).
fn legacy_provider_loaded() -> bool {
    static LEGACY: OnceLock<Option<Provider>> = OnceLock::new();
    LEGACY
        .get_or_init(|| Provider::try_load(None, "legacy", true).ok())
        .is_some()
}

fn has_reason(err: &openssl::error::ErrorStack, needle: &str) -> bool {
    err.errors()
        .iter()
        .any(|e| e.reason().is_some_and(|r| r.contains(needle)))
}

/// Decodes and decrypts a PKCS#12 file. An empty `password` also matches a file made
/// without one. Legacy algorithms are retried with OpenSSL's legacy provider.
pub(crate) fn read_pkcs12(
    der: &[u8],
    password: &str,
) -> std::result::Result<ParsedPkcs12_2, Pkcs12Failure> {
    let p12 = Pkcs12::from_der(der).map_err(|_| Pkcs12Failure::NotPkcs12)?;
    if password.contains('\0') {
        return Err(Pkcs12Failure::WrongPasswordOrDamaged);
    }
    match p12.parse2(password) {
        Ok(parsed) => Ok(parsed),
        Err(e) if has_reason(&e, "mac verify failure") => {
            Err(Pkcs12Failure::WrongPasswordOrDamaged)
        }
        Err(_) => {
            if !legacy_provider_loaded() {
                return Err(Pkcs12Failure::Unsupported);
            }
            p12.parse2(password).map_err(|e| {
                if has_reason(&e, "unsupported") {
                    Pkcs12Failure::Unsupported
                } else {
                    Pkcs12Failure::WrongPasswordOrDamaged
                }
            })
        }
    }
}

/// The certificates of a parsed PKCS#12 file: its key's certificate first (if any), then
/// the others in file order.
pub(crate) fn pkcs12_certs(parsed: &mut ParsedPkcs12_2) -> Vec<X509> {
    parsed
        .cert
        .take()
        .into_iter()
        .chain(parsed.ca.take().into_iter().flatten())
        .collect()
}

/// Imports a private key with its certificates from a PKCS#12 file (DER, or its base64)
/// or from PEM text (certificates plus one PKCS#8, `EC PRIVATE KEY` or `RSA PRIVATE KEY`
/// block, in any order; an `ENCRYPTED PRIVATE KEY` is decrypted with `password`). The key
/// must match one of the certificates, which becomes the leaf; the others follow in issuer
/// order.
pub fn import_bundle(bytes: &[u8], password: Option<&str>) -> Result<ImportedCertificate> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("The certificate content is empty."));
    }
    if looks_like_pem(bytes) {
        return import_pem(bytes, password);
    }
    let decoded;
    let der = if bytes.first() == Some(&TAG_SEQUENCE) {
        bytes
    } else {
        decoded = std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| decode_base64_lenient(text).ok())
            .ok_or_else(not_a_bundle)?;
        if looks_like_pem(&decoded) {
            return import_pem(&decoded, password);
        }
        &decoded[..]
    };
    let mut parsed = read_pkcs12(der, password.unwrap_or("")).map_err(|f| match f {
        Pkcs12Failure::NotPkcs12 => not_a_bundle(),
        Pkcs12Failure::WrongPasswordOrDamaged => invalid(WRONG_PASSWORD),
        Pkcs12Failure::Unsupported => invalid(UNSUPPORTED_PKCS12),
    })?;
    let certs = pkcs12_certs(&mut parsed);
    let key = parsed.pkey.ok_or_else(|| {
        invalid(
            "The PKCS#12 file holds no private key; importing a certificate needs its private key.",
        )
    })?;
    assemble(key, certs)
}

fn not_a_bundle() -> super::CryptoError {
    invalid("The certificate content is neither a PKCS#12 file nor PEM text.")
}

/// Imports from PEM text.
fn import_pem(text: &[u8], password: Option<&str>) -> Result<ImportedCertificate> {
    let blocks =
        pem_blocks(text).map_err(|r| invalid(format!("The PEM content is malformed: {r}.")))?;
    let mut key: Option<PKey<Private>> = None;
    let mut certs = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let number = index + 1;
        let label = block.label.as_str();
        if let Some(parsed) = parse_cert_block(label, &block.der) {
            certs.push(parsed.map_err(|r| {
                invalid(format!(
                    "PEM block {number} ({label}) is not a certificate: {r}."
                ))
            })?);
            continue;
        }
        let bad_key = || {
            invalid(format!(
                "PEM block {number} ({label}) is not a valid private key."
            ))
        };
        let parsed = match label {
            "PRIVATE KEY" => PKey::private_key_from_pkcs8(&block.der).map_err(|_| bad_key())?,
            "RSA PRIVATE KEY" => Rsa::private_key_from_der(&block.der)
                .and_then(PKey::from_rsa)
                .map_err(|_| bad_key())?,
            "EC PRIVATE KEY" => EcKey::private_key_from_der(&block.der)
                .and_then(PKey::from_ec_key)
                .map_err(|_| bad_key())?,
            "ENCRYPTED PRIVATE KEY" => match password {
                Some(pass) if !pass.is_empty() => {
                    PKey::private_key_from_pkcs8_passphrase(&block.der, pass.as_bytes()).map_err(
                        |_| {
                            invalid(format!(
                        "The password does not decrypt the private key in PEM block {number}."
                    ))
                        },
                    )?
                }
                _ => {
                    return Err(invalid(format!(
                        "The private key in PEM block {number} is encrypted; give its password \
                         or import an unencrypted 'BEGIN PRIVATE KEY' block."
                    )))
                }
            },
            "EC PARAMETERS" => continue,
            other => {
                return Err(invalid(format!(
                    "PEM block {number} ({other}) is not supported in an import: give \
                     CERTIFICATE blocks and one PRIVATE KEY block."
                )))
            }
        };
        if key.is_some() {
            return Err(invalid("The PEM content holds more than one private key."));
        }
        key = Some(parsed);
    }
    let key = key.ok_or_else(|| {
        invalid(
            "The PEM content holds no private key; importing a certificate needs a \
             'BEGIN PRIVATE KEY' block with its key.",
        )
    })?;
    assemble(key, certs)
}

/// Checks the key against the certificates and orders the chain leaf first.
fn assemble(key: PKey<Private>, certs: Vec<X509>) -> Result<ImportedCertificate> {
    if certs.is_empty() {
        return Err(invalid(
            "The content holds a private key but no certificate.",
        ));
    }
    let leaf = certs
        .iter()
        .position(|c| c.public_key().is_ok_and(|k| k.public_eq(&key)))
        .ok_or_else(|| invalid("The private key does not match the certificate."))?;
    let chain = order_leaf_first(certs, Some(leaf))
        .iter()
        .map(|c| c.to_der())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(ImportedCertificate {
        key: normalize(key)?,
        chain,
    })
}

/// Decodes the chain for export and checks the key matches its first certificate.
fn export_certs(key: Option<&PKey<Private>>, chain: &[Vec<u8>]) -> Result<Vec<X509>> {
    if chain.is_empty() {
        return Err(invalid("An export needs at least one certificate."));
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            parse_cert(der)
                .map_err(|r| invalid(format!("Certificate {i} of the chain is not valid: {r}.")))
        })
        .collect::<Result<Vec<_>>>()?;
    if let (Some(key), Some(leaf)) = (key, certs.first()) {
        if !leaf.public_key().is_ok_and(|k| k.public_eq(key)) {
            return Err(invalid("The private key does not match the certificate."));
        }
    }
    Ok(certs)
}

/// A PKCS#12 file (DER) with an empty password holding `key` (if given) and `chain`
/// (leaf first), encrypted with AES-256-CBC (PBES2/PBKDF2) and a SHA-256 MAC, readable by
/// OpenSSL 3, .NET and Python `cryptography`.
pub fn export_pkcs12(key: Option<&PKey<Private>>, chain: &[Vec<u8>]) -> Result<Vec<u8>> {
    let certs = export_certs(key, chain)?;
    let mut builder = Pkcs12::builder();
    builder
        .key_algorithm(Nid::AES_256_CBC)
        .cert_algorithm(Nid::AES_256_CBC)
        .mac_md(MessageDigest::sha256());
    if let Some(key) = key {
        builder.pkey(key);
    }
    let mut rest = certs.into_iter();
    if let Some(leaf) = rest.next() {
        builder.cert(&leaf);
    }
    let mut ca = Stack::new()?;
    for cert in rest {
        ca.push(cert)?;
    }
    if !ca.is_empty() {
        builder.ca(ca);
    }
    Ok(builder.build2("")?.to_der()?)
}

/// PEM text: the key as `BEGIN PRIVATE KEY` (PKCS#8) first when given, then each
/// certificate of `chain` in order.
pub fn export_pem(key: Option<&PKey<Private>>, chain: &[Vec<u8>]) -> Result<String> {
    let certs = export_certs(key, chain)?;
    let mut out = String::new();
    if let Some(key) = key {
        out.push_str(&String::from_utf8_lossy(&key.private_key_to_pem_pkcs8()?));
    }
    for cert in certs {
        out.push_str(&String::from_utf8_lossy(&cert.to_pem()?));
    }
    Ok(out)
}
