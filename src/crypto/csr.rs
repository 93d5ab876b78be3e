//! PKCS#10 requests: built from a policy's X.509 properties, signed by the request's key.

use openssl::asn1::Asn1Object;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Extension, X509Name, X509NameBuilder, X509Req, X509ReqBuilder, X509v3Context};

use super::{CryptoError, Result};
use crate::domain::policy::{DistinguishedName, KeyUsage as Usage, X509Properties};

/// OID of the Microsoft UPN otherName.
const UPN_OID: &str = "1.3.6.1.4.1.311.20.2.3";

fn attribute_nid(short: &str) -> Nid {
    match short {
        "CN" => Nid::COMMONNAME,
        "O" => Nid::ORGANIZATIONNAME,
        "OU" => Nid::ORGANIZATIONALUNITNAME,
        "C" => Nid::COUNTRYNAME,
        "L" => Nid::LOCALITYNAME,
        "ST" | "S" => Nid::STATEORPROVINCENAME,
        "E" | "EMAILADDRESS" => Nid::PKCS9_EMAILADDRESS,
        "STREET" => Nid::STREETADDRESS,
        "DC" => Nid::DOMAINCOMPONENT,
        "SERIALNUMBER" => Nid::SERIALNUMBER,
        "T" | "TITLE" => Nid::TITLE,
        "G" | "GN" => Nid::GIVENNAME,
        "SN" => Nid::SURNAME,
        "UID" => Nid::USERID,
        _ => Nid::POSTALCODE,
    }
}

/// The X.509 name of a subject string.
pub fn subject_name(subject: &str) -> Result<X509Name> {
    let dn = DistinguishedName::parse(subject).map_err(|e| CryptoError::Invalid(e.to_string()))?;
    let mut b = X509NameBuilder::new()?;
    for (k, v) in &dn.0 {
        b.append_entry_by_nid(attribute_nid(k), v).map_err(|_| {
            CryptoError::Invalid(format!("The subject value '{k}={v}' cannot be encoded."))
        })?;
    }
    Ok(b.build())
}

/// DER of a UTF8String.
fn utf8_string_der(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = vec![0x0c];
    let len = bytes.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let be: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | be.len() as u8);
        out.extend(be);
    }
    out.extend_from_slice(bytes);
    out
}

/// The SAN, key usage and EKU extensions a policy asks for.
pub fn policy_extensions(x509: &X509Properties, ctx: &X509v3Context<'_>) -> Result<Vec<X509Extension>> {
    let mut out = Vec::new();
    let s = &x509.sans;
    if !s.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in &s.dns_names {
            san.dns(d);
        }
        for e in &s.emails {
            san.email(e);
        }
        for ip in &s.ip_addresses {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(CryptoError::Invalid(format!("'{ip}' is not an IP address.")));
            }
            san.ip(ip);
        }
        for u in &s.uris {
            san.uri(u);
        }
        for upn in &s.upns {
            san.other_name2(Asn1Object::from_str(UPN_OID)?, &utf8_string_der(upn));
        }
        out.push(san.build(ctx).map_err(|_| {
            CryptoError::Invalid("The subject alternative names cannot be encoded.".into())
        })?);
    }
    if !x509.key_usage.is_empty() {
        let mut ku = KeyUsage::new();
        ku.critical();
        for u in &x509.key_usage {
            match u {
                Usage::DigitalSignature => ku.digital_signature(),
                Usage::NonRepudiation => ku.non_repudiation(),
                Usage::KeyEncipherment => ku.key_encipherment(),
                Usage::DataEncipherment => ku.data_encipherment(),
                Usage::KeyAgreement => ku.key_agreement(),
                Usage::KeyCertSign => ku.key_cert_sign(),
                Usage::CrlSign => ku.crl_sign(),
                Usage::EncipherOnly => ku.encipher_only(),
                Usage::DecipherOnly => ku.decipher_only(),
            };
        }
        out.push(ku.build()?);
    }
    if !x509.ekus.is_empty() {
        let mut eku = ExtendedKeyUsage::new();
        for oid in &x509.ekus {
            eku.other(oid);
        }
        out.push(eku.build().map_err(|_| {
            CryptoError::Invalid("The extended key usages cannot be encoded.".into())
        })?);
    }
    Ok(out)
}

/// A DER CSR for `x509`, signed by `key` (SHA-256).
pub fn build_csr(key: &PKey<Private>, x509: &X509Properties) -> Result<Vec<u8>> {
    let mut b = X509ReqBuilder::new()?;
    b.set_version(0)?;
    b.set_subject_name(&*subject_name(&x509.subject)?)?;
    b.set_pubkey(key)?;
    let exts = policy_extensions(x509, &b.x509v3_context(None))?;
    if !exts.is_empty() {
        let mut stack = Stack::new()?;
        for e in exts {
            stack.push(e)?;
        }
        b.add_extensions(&stack)?;
    }
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build().to_der()?)
}

/// What the CA needs to know of a CSR.
#[derive(Debug, Clone)]
pub struct CsrInfo {
    pub subject_cn: Option<String>,
    pub dns_names: Vec<String>,
    pub public_key_der: Vec<u8>,
}

/// Parses a DER CSR and checks its signature.
pub fn parse_csr(der: &[u8]) -> Result<X509Req> {
    let req = X509Req::from_der(der)
        .map_err(|_| CryptoError::Invalid("The certificate signing request is not valid DER.".into()))?;
    let public = req.public_key()?;
    if !req.verify(&public).unwrap_or(false) {
        return Err(CryptoError::Invalid(
            "The certificate signing request's signature does not verify.".into(),
        ));
    }
    Ok(req)
}

/// Subject CN, DNS names and public key of a CSR (signature checked).
pub fn csr_info(der: &[u8]) -> Result<CsrInfo> {
    let req = parse_csr(der)?;
    let subject_cn = req
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok());
    let dns_names = san_dns_from_req(&req);
    Ok(CsrInfo {
        subject_cn,
        dns_names,
        public_key_der: req.public_key()?.public_key_to_der()?,
    })
}

/// DNS SANs requested in a CSR. OpenSSL exposes parsed SANs on certificates only, so the
/// requested extensions are copied onto a throwaway certificate and read back.
fn san_dns_from_req(req: &X509Req) -> Vec<String> {
    let build = || -> Result<Vec<String>> {
        let key = super::keys::generate_key(&crate::domain::policy::KeySpec::Ec {
            curve: crate::domain::policy::Curve::P256,
        })?;
        let mut b = openssl::x509::X509Builder::new()?;
        b.set_version(2)?;
        b.set_subject_name(req.subject_name())?;
        b.set_issuer_name(req.subject_name())?;
        b.set_pubkey(&key)?;
        b.set_not_before(&*openssl::asn1::Asn1Time::from_unix(0)?)?;
        b.set_not_after(&*openssl::asn1::Asn1Time::from_unix(1)?)?;
        for ext in req.extensions()?.iter() {
            b.append_extension2(ext)?;
        }
        b.sign(&key, MessageDigest::sha256())?;
        let cert = b.build();
        Ok(cert
            .subject_alt_names()
            .map(|names| names.iter().filter_map(|n| n.dnsname().map(str::to_owned)).collect())
            .unwrap_or_default())
    };
    build().unwrap_or_default()
}
