//! The merge operation's certificate chain: decoding the `x5c` entries a client sends
//! (base64 DER, PEM, or a key-less PKCS#12 file) and checking that the chain belongs to the
//! pending request (same key, each certificate signed by the next, leaf currently valid).
//! Trust anchors are not checked: a chain may end without a root.

use openssl::x509::X509;

use super::encoding::{
    decode_base64_lenient, looks_like_pem, pem_blocks, read_tlv, TAG_INTEGER, TAG_SEQUENCE,
};
use super::path::order_leaf_first;
use super::pkcs12::{pkcs12_certs, read_pkcs12, Pkcs12Failure, UNSUPPORTED_PKCS12};
use super::x509::{asn1_to_unix, format_time, info_of, parse_cert, parse_cert_block, CertInfo};
use super::{invalid, Result};

/// Most certificates a merge may carry.
pub const MAX_CHAIN_LEN: usize = 16;

/// What a decoded `x5c` entry holds.
enum DerKind {
    Certificate,
    Pkcs12,
    Other,
}

/// Tells a certificate (`SEQUENCE { SEQUENCE tbs, ...}`) from a PKCS#12 file
/// (`SEQUENCE { INTEGER 3, ...}`).
fn der_kind(der: &[u8]) -> DerKind {
    match read_tlv(der) {
        Some((TAG_SEQUENCE, contents, _)) => match read_tlv(contents) {
            Some((TAG_SEQUENCE, _, _)) => DerKind::Certificate,
            Some((TAG_INTEGER, _, _)) => DerKind::Pkcs12,
            _ => DerKind::Other,
        },
        _ => DerKind::Other,
    }
}

/// The certificates of a PEM text in `x5c[index]`.
fn pem_entry(label: &str, text: &[u8]) -> Result<Vec<X509>> {
    let blocks = pem_blocks(text).map_err(|r| invalid(format!("{label} is malformed: {r}.")))?;
    let mut certs = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let number = i + 1;
        match parse_cert_block(&block.label, &block.der) {
            Some(parsed) => certs.push(parsed.map_err(|r| {
                invalid(format!(
                    "{label} PEM block {number} is not a certificate: {r}."
                ))
            })?),
            None if block.label.contains("PRIVATE KEY") => {
                return Err(invalid(format!(
                    "{label} holds a private key (PEM block {number}); a merge takes \
                     certificates only, the key stays in the vault."
                )))
            }
            None => {}
        }
    }
    if certs.is_empty() {
        return Err(invalid(format!(
            "{label} is PEM text without any 'BEGIN CERTIFICATE' block."
        )));
    }
    Ok(certs)
}

/// The certificates of a key-less PKCS#12 file in `x5c[index]`, leaf first.
fn pkcs12_entry(label: &str, der: &[u8]) -> Result<Vec<X509>> {
    let mut parsed = read_pkcs12(der, "").map_err(|f| match f {
        Pkcs12Failure::NotPkcs12 => invalid(format!(
            "{label} is not a certificate: it looks like a PKCS#12 file but cannot be decoded."
        )),
        Pkcs12Failure::WrongPasswordOrDamaged => invalid(format!(
            "{label} is a PKCS#12 file that is password-protected or damaged; send the \
             certificates as base64 DER or PEM instead."
        )),
        Pkcs12Failure::Unsupported => invalid(format!("{label}: {UNSUPPORTED_PKCS12}")),
    })?;
    if parsed.pkey.is_some() {
        return Err(invalid(format!(
            "{label} is a PKCS#12 file holding a private key; a merge takes certificates \
             only, the key stays in the vault."
        )));
    }
    let certs = pkcs12_certs(&mut parsed);
    if certs.is_empty() {
        return Err(invalid(format!(
            "{label} is a PKCS#12 file without certificates."
        )));
    }
    Ok(order_leaf_first(certs, None))
}

/// What `bytes` decode to when they are themselves base64 text (whitespace ignored).
fn base64_text(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/=-_".contains(c) || c.is_whitespace();
    if text.trim().is_empty() || !text.chars().all(is_b64) {
        return None;
    }
    decode_base64_lenient(text.trim()).ok()
}

/// The certificates of one `x5c` entry.
fn parse_entry(index: usize, entry: &str) -> Result<Vec<X509>> {
    let label = format!("x5c[{index}]");
    let text = entry.trim();
    if text.is_empty() {
        return Err(invalid(format!("{label} is empty.")));
    }
    if looks_like_pem(text.as_bytes()) {
        return pem_entry(&label, text.as_bytes());
    }
    let der = decode_base64_lenient(text)
        .map_err(|r| invalid(format!("{label} is not valid base64: {r}.")))?;
    if looks_like_pem(&der) {
        return pem_entry(&label, &der);
    }
    // Base64 of the certificate's base64 text (a PEM body without its armor lines), as
    // Key Vault accepts and as clients that encode the PEM body once more send it.
    let der = match base64_text(&der) {
        Some(inner) if matches!(der_kind(&inner), DerKind::Certificate) => inner,
        _ => der,
    };
    match der_kind(&der) {
        DerKind::Certificate => parse_cert(&der)
            .map(|c| vec![c])
            .map_err(|r| invalid(format!("{label} is not a certificate: {r}."))),
        DerKind::Pkcs12 => pkcs12_entry(&label, &der),
        DerKind::Other => Err(invalid(format!(
            "{label} is not a certificate: its base64 decodes to {} bytes that are neither a \
             DER X.509 certificate nor a PKCS#12 file.",
            der.len()
        ))),
    }
}

/// Decodes a merge request's `x5c`: each entry is base64 (standard or URL-safe, padding
/// optional, whitespace ignored) of a DER certificate, PEM text with one or more
/// certificates, or base64 of a key-less PKCS#12 file (empty or no password; its chain is
/// ordered leaf first). Returns the DER certificates in order, at most
/// [`MAX_CHAIN_LEN`]. Errors name the entry (`x5c[2] ...`).
pub fn parse_x5c(entries: &[String]) -> Result<Vec<Vec<u8>>> {
    to_ders(&parse_x5c_certs(entries)?)
}

/// [`parse_x5c`], keeping the decoded certificates (merge checks them without decoding
/// them again).
pub fn parse_x5c_certs(entries: &[String]) -> Result<Vec<X509>> {
    if entries.is_empty() {
        return Err(invalid(
            "x5c is empty: the merge request must hold at least one certificate.",
        ));
    }
    let mut certs = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        certs.extend(parse_entry(index, entry)?);
        if certs.len() > MAX_CHAIN_LEN {
            return Err(invalid(format!(
                "x5c holds more than {MAX_CHAIN_LEN} certificates."
            )));
        }
    }
    Ok(certs)
}

/// The DER encodings of `certs`, in order.
pub fn to_ders(certs: &[X509]) -> Result<Vec<Vec<u8>>> {
    Ok(certs
        .iter()
        .map(|c| c.to_der())
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

/// A certificate's validity, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

/// Checks a chain (DER, leaf first) against a pending request: see [`verify_merge_certs`].
/// Returns the leaf's [`CertInfo`].
pub fn verify_merge_chain(
    chain: &[Vec<u8>],
    pending_public_key_der: &[u8],
    now: i64,
) -> Result<CertInfo> {
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            parse_cert(der).map_err(|r| invalid(format!("x5c[{i}] is not a certificate: {r}.")))
        })
        .collect::<Result<Vec<_>>>()?;
    verify_merge_certs(&certs, pending_public_key_der, now)?;
    info_of(&certs[0])
}

/// Checks decoded certificates (leaf first) against a pending request: the leaf's public
/// key must be the pending key (SubjectPublicKeyInfo DER), each certificate must be signed
/// by the next, and the leaf must be valid at `now`. No trust anchor is required. Returns
/// the leaf's validity.
pub fn verify_merge_certs(
    certs: &[X509],
    pending_public_key_der: &[u8],
    now: i64,
) -> Result<Validity> {
    let Some(leaf) = certs.first() else {
        return Err(invalid(
            "x5c is empty: the merge request must hold at least one certificate.",
        ));
    };
    let pending = openssl::pkey::PKey::public_key_from_der(pending_public_key_der)?;
    let leaf_matches = leaf.public_key().is_ok_and(|k| k.public_eq(&pending));
    if !leaf_matches {
        return Err(invalid(
            "The certificate's public key does not match the pending certificate request's key.",
        ));
    }
    for (i, pair) in certs.windows(2).enumerate() {
        let (subject, issuer) = (&pair[0], &pair[1]);
        let signed = issuer
            .public_key()
            .is_ok_and(|key| subject.verify(&key).unwrap_or(false));
        if !signed {
            return Err(invalid(format!(
                "x5c[{i}] is not signed by x5c[{}]: the certificates must be in order, each \
                 one followed by its issuer.",
                i + 1
            )));
        }
    }
    let validity = Validity {
        not_before: asn1_to_unix(leaf.not_before())?,
        not_after: asn1_to_unix(leaf.not_after())?,
    };
    if now < validity.not_before {
        return Err(invalid(format!(
            "The certificate is not yet valid: it is valid from {} to {}.",
            format_time(validity.not_before),
            format_time(validity.not_after)
        )));
    }
    if now > validity.not_after {
        return Err(invalid(format!(
            "The certificate has expired: it was valid from {} to {}.",
            format_time(validity.not_before),
            format_time(validity.not_after)
        )));
    }
    Ok(validity)
}
