//! Certificates: inspection, self-signing, issuing from a CSR, CA and TLS certificates, PEM.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509NameRef, X509};

use super::{CryptoError, Result};
use crate::domain::policy::{Curve, KeySpec, X509Properties};

/// What the rest of certbroker needs to know of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub der: Vec<u8>,
    /// Base64url (no padding) SHA-1 of the DER: Key Vault's `x5t`.
    pub x5t: String,
    pub not_before: i64,
    pub not_after: i64,
    pub public_key_der: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    pub dns_names: Vec<String>,
}

/// Unix seconds of an ASN.1 time.
pub fn unix(t: &openssl::asn1::Asn1TimeRef) -> Result<i64> {
    let epoch = Asn1Time::from_unix(0)?;
    let d = epoch.diff(t)?;
    Ok(i64::from(d.days) * 86400 + i64::from(d.secs))
}

/// `CN=a, O=b` rendering of a name.
pub fn name_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e
                .data()
                .to_string()
                .unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inspects a DER certificate.
pub fn cert_info(der: &[u8]) -> Result<CertInfo> {
    let cert = X509::from_der(der)
        .map_err(|_| CryptoError::Invalid("not a DER X.509 certificate".into()))?;
    info_of(&cert)
}

fn info_of(cert: &X509) -> Result<CertInfo> {
    let der = cert.to_der()?;
    Ok(CertInfo {
        x5t: URL_SAFE_NO_PAD.encode(super::seal::sha1(&der)),
        not_before: unix(cert.not_before())?,
        not_after: unix(cert.not_after())?,
        public_key_der: cert.public_key()?.public_key_to_der()?,
        subject: name_string(cert.subject_name()),
        issuer: name_string(cert.issuer_name()),
        serial_hex: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
        dns_names: cert
            .subject_alt_names()
            .map(|n| n.iter().filter_map(|g| g.dnsname().map(str::to_owned)).collect())
            .unwrap_or_default(),
        der,
    })
}

fn serial() -> Result<Asn1Integer> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn add_months(now: i64, months: u32) -> Result<i64> {
    chrono::DateTime::from_timestamp(now, 0)
        .and_then(|t| t.checked_add_months(chrono::Months::new(months)))
        .map(|t| t.timestamp())
        .ok_or_else(|| CryptoError::Invalid("validity is out of range".into()))
}

/// A self-signed certificate per the policy, valid from `now` for `validity_months`.
pub fn self_signed(key: &PKey<Private>, x509: &X509Properties, now: i64) -> Result<Vec<u8>> {
    let name = super::csr::subject_name(&x509.subject)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial()?)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(key)?;
    b.set_not_before(&*Asn1Time::from_unix(now)?)?;
    b.set_not_after(&*Asn1Time::from_unix(add_months(now, x509.validity_months)?)?)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    for e in super::csr::policy_extensions(x509, &b.x509v3_context(None, None))? {
        b.append_extension(e)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build().to_der()?)
}

/// Validity of an issued certificate (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct IssueParams {
    pub not_before: i64,
    pub not_after: i64,
}

/// Issues a leaf for a CSR: its subject and requested SAN/KU/EKU, signed by the CA.
pub fn issue_from_csr(
    csr_der: &[u8],
    ca_key: &PKey<Private>,
    ca_cert: &X509,
    params: &IssueParams,
) -> Result<Vec<u8>> {
    let req = super::csr::parse_csr(csr_der)?;
    let ca_end = unix(ca_cert.not_after())?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial()?)?;
    b.set_subject_name(req.subject_name())?;
    b.set_issuer_name(ca_cert.subject_name())?;
    b.set_pubkey(&*req.public_key()?)?;
    b.set_not_before(&*Asn1Time::from_unix(params.not_before)?)?;
    b.set_not_after(&*Asn1Time::from_unix(params.not_after.min(ca_end))?)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    if let Ok(exts) = req.extensions() {
        for e in exts.iter() {
            if copied_from_csr(&e.to_der()?) {
                b.append_extension2(e)?;
            }
        }
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(ca_cert), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .build(&b.x509v3_context(Some(ca_cert), None))?;
    b.append_extension(aki)?;
    b.sign(ca_key, MessageDigest::sha256())?;
    Ok(b.build().to_der()?)
}

/// Only SAN, key usage and EKU are taken from a request; anything else it asks for (e.g.
/// basicConstraints CA:TRUE) is the CA's to decide. `der` is the Extension SEQUENCE.
fn copied_from_csr(der: &[u8]) -> bool {
    const ALLOWED: [[u8; 5]; 3] = [
        [0x06, 0x03, 0x55, 0x1d, 0x11], // subjectAltName
        [0x06, 0x03, 0x55, 0x1d, 0x0f], // keyUsage
        [0x06, 0x03, 0x55, 0x1d, 0x25], // extKeyUsage
    ];
    // Skip the SEQUENCE tag and its length (short or long form).
    let start = match der.get(1) {
        Some(l) if *l < 0x80 => 2,
        Some(l) => 2 + usize::from(l & 0x7f),
        None => return false,
    };
    der.get(start..start + 5)
        .is_some_and(|oid| ALLOWED.iter().any(|a| a == oid))
}

/// A CA: self-signed root (`parent: None`) or an intermediate signed by `parent` (path
/// length 0). EC P-256.
pub fn create_ca(
    common_name: &str,
    now: i64,
    validity_days: u32,
    parent: Option<(&PKey<Private>, &X509)>,
) -> Result<(PKey<Private>, X509)> {
    let key = super::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 })?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    let name = name.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial()?)?;
    b.set_subject_name(&name)?;
    b.set_pubkey(&key)?;
    b.set_not_before(&*Asn1Time::from_unix(now)?)?;
    b.set_not_after(&*Asn1Time::from_unix(now + i64::from(validity_days) * 86400)?)?;
    let mut bc = BasicConstraints::new();
    bc.critical().ca();
    if parent.is_some() {
        bc.pathlen(0);
    }
    b.append_extension(bc.build()?)?;
    b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
    match parent {
        None => {
            b.set_issuer_name(&name)?;
            let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
            b.append_extension(ski)?;
            b.sign(&key, MessageDigest::sha256())?;
        }
        Some((pkey, pcert)) => {
            b.set_issuer_name(pcert.subject_name())?;
            let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(pcert), None))?;
            b.append_extension(ski)?;
            let aki = AuthorityKeyIdentifier::new()
                .keyid(false)
                .build(&b.x509v3_context(Some(pcert), None))?;
            b.append_extension(aki)?;
            b.sign(pkey, MessageDigest::sha256())?;
        }
    }
    Ok((key, b.build()))
}

/// An HTTPS server certificate (EC P-256, CA:FALSE, serverAuth) for `dns_names` and `ips`.
pub fn tls_server_cert(
    ca_key: &PKey<Private>,
    ca_cert: &X509,
    dns_names: &[String],
    ips: &[std::net::IpAddr],
    now: i64,
    validity_days: u32,
) -> Result<(PKey<Private>, X509)> {
    let key = super::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 })?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(
        Nid::COMMONNAME,
        dns_names.first().map(String::as_str).unwrap_or("certbroker"),
    )?;
    let name = name.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial()?)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(ca_cert.subject_name())?;
    b.set_pubkey(&key)?;
    b.set_not_before(&*Asn1Time::from_unix(now - 300)?)?;
    b.set_not_after(&*Asn1Time::from_unix(now + i64::from(validity_days) * 86400)?)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let mut san = SubjectAlternativeName::new();
    for d in dns_names {
        san.dns(d);
    }
    for ip in ips {
        san.ip(&ip.to_string());
    }
    let san = san.build(&b.x509v3_context(Some(ca_cert), None))?;
    b.append_extension(san)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(ca_cert), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .build(&b.x509v3_context(Some(ca_cert), None))?;
    b.append_extension(aki)?;
    b.sign(ca_key, MessageDigest::sha256())?;
    Ok((key, b.build()))
}

/// PEM of a DER certificate.
pub fn cert_to_pem(der: &[u8]) -> Result<String> {
    let cert = X509::from_der(der)
        .map_err(|_| CryptoError::Invalid("not a DER X.509 certificate".into()))?;
    Ok(String::from_utf8_lossy(&cert.to_pem()?).into_owned())
}

/// Every certificate in a PEM text, as DER.
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let certs = X509::stack_from_pem(pem)
        .map_err(|_| CryptoError::Invalid("the PEM text holds a damaged certificate".into()))?;
    certs.iter().map(|c| Ok(c.to_der()?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{KeyUsage as Usage, SubjectAlternativeNames};

    fn props() -> X509Properties {
        X509Properties {
            subject: "CN=www.example.com, O=Example, C=NL".into(),
            sans: SubjectAlternativeNames {
                dns_names: vec!["www.example.com".into(), "example.com".into()],
                emails: vec!["ops@example.com".into()],
                upns: vec!["svc@example.com".into()],
                ip_addresses: vec!["192.0.2.1".into()],
                uris: vec![],
            },
            ekus: vec!["1.3.6.1.5.5.7.3.1".into()],
            key_usage: vec![Usage::DigitalSignature, Usage::KeyEncipherment],
            validity_months: 12,
        }
    }

    #[test]
    fn csr_carries_subject_and_sans_and_ca_issues_a_verifiable_chain() {
        let now = chrono::Utc::now().timestamp();
        let key = super::super::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
        let csr = super::super::csr::build_csr(&key, &props()).unwrap();
        let info = super::super::csr::csr_info(&csr).unwrap();
        assert_eq!(info.subject_cn.as_deref(), Some("www.example.com"));
        assert_eq!(info.dns_names, vec!["www.example.com", "example.com"]);
        let (rk, rc) = create_ca("Root", now, 10, None).unwrap();
        let (ik, ic) = create_ca("Int", now, 10, Some((&rk, &rc))).unwrap();
        let leaf = issue_from_csr(&csr, &ik, &ic, &IssueParams { not_before: now, not_after: now + 86400 * 400 }).unwrap();
        let li = cert_info(&leaf).unwrap();
        assert_eq!(li.public_key_der, info.public_key_der);
        assert_eq!(li.not_after, unix(ic.not_after()).unwrap(), "clamped to the CA");
        assert_eq!(li.x5t.len(), 27);
        let leaf = X509::from_der(&leaf).unwrap();
        let text = String::from_utf8(leaf.to_text().unwrap()).unwrap();
        assert!(text.contains("othername") || text.contains("UPN") || text.contains("1.3.6.1.4.1.311.20.2.3"), "{text}");
        assert!(text.contains("IP Address:192.0.2.1"));
        assert!(text.contains("TLS Web Server Authentication"));
        let mut store = openssl::x509::store::X509StoreBuilder::new().unwrap();
        store.add_cert(rc).unwrap();
        let store = store.build();
        let mut chain = openssl::stack::Stack::new().unwrap();
        chain.push(ic).unwrap();
        let mut ctx = openssl::x509::X509StoreContext::new().unwrap();
        assert!(ctx.init(&store, &leaf, &chain, |c| c.verify_cert()).unwrap());
    }

    #[test]
    fn self_signed_follows_validity_months() {
        let now = 1_700_000_000;
        let key = super::super::keys::generate_key(&KeySpec::Ec { curve: Curve::P384 }).unwrap();
        let mut p = props();
        p.validity_months = 3;
        let info = cert_info(&self_signed(&key, &p, now).unwrap()).unwrap();
        assert_eq!(info.not_before, now);
        assert_eq!(info.not_after, add_months(now, 3).unwrap());
        assert_eq!(info.subject, info.issuer);
    }

    #[test]
    fn tls_certificate_is_an_end_entity_with_sans() {
        let now = chrono::Utc::now().timestamp();
        let (k, c) = create_ca("TLS CA", now, 10, None).unwrap();
        let (_, cert) = tls_server_cert(&k, &c, &["localhost".into()], &["127.0.0.1".parse().unwrap()], now, 10).unwrap();
        let text = String::from_utf8(cert.to_text().unwrap()).unwrap();
        assert!(text.contains("CA:FALSE"));
        assert!(text.contains("DNS:localhost"));
        assert!(text.contains("IP Address:127.0.0.1"));
        let pem = cert_to_pem(&cert.to_der().unwrap()).unwrap();
        assert_eq!(certs_from_pem(pem.as_bytes()).unwrap().len(), 1);
    }
}
