//! Merge: reading `x5c` (base64 DER, PEM, or a key-less PKCS#12 with the whole chain) and
//! proving the chain belongs to the pending request.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use openssl::pkcs12::Pkcs12;
use openssl::x509::X509;

use super::x509::{cert_info, CertInfo};
use super::{CryptoError, Result};

/// Most certificates a merge may carry.
pub const MAX_CHAIN: usize = 16;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes standard or URL-safe base64, padding optional, whitespace ignored.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STD.decode(&clean).or_else(|_| URL.decode(&clean)).ok()
}

/// Orders certificates leaf first: the leaf signs nothing else in the set, then each next
/// one is the issuer of the previous.
fn order_leaf_first(certs: Vec<X509>) -> Vec<X509> {
    let issued_by = |child: &X509, parent: &X509| {
        child.issuer_name().to_der().ok() == parent.subject_name().to_der().ok()
            && parent
                .public_key()
                .ok()
                .is_some_and(|k| child.verify(&k).unwrap_or(false))
    };
    let leaf = certs
        .iter()
        .position(|c| {
            !certs
                .iter()
                .any(|other| !std::ptr::eq(other, c) && issued_by(other, c))
        })
        .unwrap_or(0);
    let mut rest = certs;
    let mut out = vec![rest.remove(leaf)];
    while !rest.is_empty() {
        let Some(last) = out.last() else { break };
        match rest.iter().position(|c| issued_by(last, c)) {
            Some(i) => out.push(rest.remove(i)),
            None => {
                out.append(&mut rest);
                break;
            }
        }
    }
    out
}

fn from_pkcs12(bytes: &[u8], index: usize) -> Option<Result<Vec<Vec<u8>>>> {
    let p12 = Pkcs12::from_der(bytes).ok()?;
    let parsed = match p12.parse2("") {
        Ok(p) => p,
        Err(_) => {
            return Some(Err(CryptoError::Invalid(format!(
                "x5c[{index}] is a PKCS#12 file that cannot be opened without a password (or uses an algorithm this server does not read)."
            ))))
        }
    };
    let mut certs: Vec<X509> = Vec::new();
    if let Some(c) = parsed.cert {
        certs.push(c);
    }
    if let Some(ca) = parsed.ca {
        certs.extend(ca.into_iter());
    }
    if certs.is_empty() {
        return Some(Err(CryptoError::Invalid(format!(
            "x5c[{index}] is a PKCS#12 file with no certificate."
        ))));
    }
    Some(
        order_leaf_first(certs)
            .iter()
            .map(|c| Ok(c.to_der()?))
            .collect(),
    )
}

/// Reads `x5c` entries into DER certificates, in order.
pub fn parse_x5c(entries: &[String]) -> Result<Vec<Vec<u8>>> {
    if entries.is_empty() {
        return Err(CryptoError::Invalid(
            "x5c is empty: send the certificate chain, leaf first.".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let text = entry.trim();
        if text.is_empty() {
            return Err(CryptoError::Invalid(format!("x5c[{i}] is empty.")));
        }
        if text.contains("-----BEGIN") {
            let certs = X509::stack_from_pem(text.as_bytes()).map_err(|_| {
                CryptoError::Invalid(format!("x5c[{i}] is PEM but holds a damaged certificate."))
            })?;
            if certs.is_empty() {
                return Err(CryptoError::Invalid(format!("x5c[{i}] is PEM without a certificate.")));
            }
            for c in certs {
                out.push(c.to_der()?);
            }
        } else {
            let bytes = decode_base64(text).ok_or_else(|| {
                CryptoError::Invalid(format!("x5c[{i}] is not base64 (nor a PEM certificate)."))
            })?;
            if X509::from_der(&bytes).is_ok() {
                out.push(bytes);
            } else if let Some(chain) = from_pkcs12(&bytes, i) {
                out.extend(chain?);
            } else {
                return Err(CryptoError::Invalid(format!(
                    "x5c[{i}] is not a DER X.509 certificate (nor a PKCS#12 chain)."
                )));
            }
        }
        if out.len() > MAX_CHAIN {
            return Err(CryptoError::Invalid(format!(
                "x5c holds more than {MAX_CHAIN} certificates."
            )));
        }
    }
    Ok(out)
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_else(|| t.to_string())
}

/// Proves a chain for merge: the leaf's key is the pending key, each certificate is signed
/// by the next, and the leaf is valid at `now`. No trusted root is required.
pub fn verify_merge_chain(
    chain: &[Vec<u8>],
    pending_public_key_der: &[u8],
    now: i64,
) -> Result<CertInfo> {
    let leaf_der = chain
        .first()
        .ok_or_else(|| CryptoError::Invalid("x5c is empty.".into()))?;
    let leaf = cert_info(leaf_der)?;
    if leaf.public_key_der != pending_public_key_der {
        return Err(CryptoError::Invalid(
            "The certificate's public key does not match the pending certificate request's key."
                .into(),
        ));
    }
    let certs: Vec<X509> = chain
        .iter()
        .enumerate()
        .map(|(i, d)| {
            X509::from_der(d)
                .map_err(|_| CryptoError::Invalid(format!("x5c[{i}] is not a certificate.")))
        })
        .collect::<Result<_>>()?;
    for (i, pair) in certs.windows(2).enumerate() {
        let signed = pair[0].verify(&*pair[1].public_key()?).unwrap_or(false);
        if !signed {
            return Err(CryptoError::Invalid(format!(
                "x5c[{i}] is not signed by x5c[{}]: the chain is broken or out of order (leaf first).",
                i + 1
            )));
        }
    }
    if now < leaf.not_before {
        return Err(CryptoError::Invalid(format!(
            "The certificate is not valid yet: it is valid from {}.",
            date(leaf.not_before)
        )));
    }
    if now > leaf.not_after {
        return Err(CryptoError::Invalid(format!(
            "The certificate expired on {}.",
            date(leaf.not_after)
        )));
    }
    Ok(leaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::x509::{create_ca, issue_from_csr, IssueParams};
    use crate::domain::policy::{Curve, KeySpec, X509Properties};
    use base64::engine::general_purpose::STANDARD;

    struct Fixture {
        public: Vec<u8>,
        leaf: Vec<u8>,
        int: X509,
        root: X509,
    }

    fn fixture(not_after_days: i64) -> Fixture {
        let now = chrono::Utc::now().timestamp();
        let key = crate::crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
        let csr = crate::crypto::csr::build_csr(&key, &X509Properties {
            subject: "CN=leaf".into(),
            sans: Default::default(),
            ekus: vec![],
            key_usage: vec![],
            validity_months: 12,
        })
        .unwrap();
        let (rk, root) = create_ca("R", now - 86400 * 10, 100, None).unwrap();
        let (ik, int) = create_ca("I", now - 86400 * 10, 100, Some((&rk, &root))).unwrap();
        let leaf = issue_from_csr(&csr, &ik, &int, &IssueParams { not_before: now - 86400 * 5, not_after: now + 86400 * not_after_days }).unwrap();
        Fixture { public: crate::crypto::keys::public_key_der(&key).unwrap(), leaf, int, root }
    }

    fn b64(d: &[u8]) -> String {
        STANDARD.encode(d)
    }

    #[test]
    fn good_chains_in_every_form_are_accepted() {
        let f = fixture(30);
        let now = chrono::Utc::now().timestamp();
        let der = vec![b64(&f.leaf), b64(&f.int.to_der().unwrap()), b64(&f.root.to_der().unwrap())];
        let chain = parse_x5c(&der).unwrap();
        assert_eq!(verify_merge_chain(&chain, &f.public, now).unwrap().der, f.leaf);
        assert!(verify_merge_chain(&parse_x5c(&der[..1]).unwrap(), &f.public, now).is_ok());
        let pem = format!("{}{}", crate::crypto::x509::cert_to_pem(&f.leaf).unwrap(), String::from_utf8(f.int.to_pem().unwrap()).unwrap());
        assert_eq!(parse_x5c(&[pem]).unwrap().len(), 2);
        let mut ca = openssl::stack::Stack::new().unwrap();
        ca.push(f.root.clone()).unwrap();
        ca.push(X509::from_der(&f.leaf).unwrap()).unwrap();
        ca.push(f.int.clone()).unwrap();
        let p12 = Pkcs12::builder().ca(ca).build2("").unwrap();
        let chain = parse_x5c(&[b64(&p12.to_der().unwrap())]).unwrap();
        assert_eq!(chain[0], f.leaf, "leaf first");
        assert_eq!(chain.len(), 3);
        assert!(verify_merge_chain(&chain, &f.public, now).is_ok());
    }

    #[test]
    fn bad_chains_are_refused_with_clear_messages() {
        let f = fixture(30);
        let now = chrono::Utc::now().timestamp();
        let other = fixture(30);
        let msg = |r: Result<CertInfo>| match r {
            Err(CryptoError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert!(msg(verify_merge_chain(&[f.leaf.clone()], &other.public, now)).contains("does not match"));
        assert!(msg(verify_merge_chain(&[f.leaf.clone(), f.root.to_der().unwrap()], &f.public, now)).contains("x5c[0] is not signed by x5c[1]"));
        let expired = fixture(-1);
        assert!(msg(verify_merge_chain(&[expired.leaf.clone()], &expired.public, now)).contains("expired"));
        for bad in [vec![], vec!["".to_string()], vec!["%%%".to_string()], vec![b64(b"hello")]] {
            assert!(matches!(parse_x5c(&bad), Err(CryptoError::Invalid(_))));
        }
    }
}
