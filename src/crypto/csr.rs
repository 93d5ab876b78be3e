//! Certificate signing requests (PKCS#10): building one from a policy's X.509 properties,
//! reading one back (signature checked), and the pieces shared with certificate building:
//! subject names from Key Vault's `CN=..., O=...` syntax and the SAN, key-usage and
//! extended-key-usage extensions a policy asks for.

use std::net::IpAddr;
use std::str::FromStr;

use openssl::asn1::Asn1Object;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage as KeyUsageExt, SubjectAlternativeName};
use openssl::x509::{
    X509Extension, X509ExtensionRef, X509Name, X509NameBuilder, X509NameRef, X509Req,
    X509ReqBuilder, X509ReqRef, X509v3Context,
};

use super::encoding::{
    encode_tlv, read_children, read_tlv, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, TAG_UTF8_STRING,
};
use super::{invalid, Result};
use crate::domain::policy::{
    validate_eku, DistinguishedName, KeyUsage, SubjectAlternativeNames, X509Properties,
};

/// What the rest of certbroker needs to know about a CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The first common name of the subject, if any.
    pub subject_cn: Option<String>,
    /// The DNS names of the requested subjectAltName extension.
    pub dns_names: Vec<String>,
    /// The requested public key as SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
}

/// OID of the Microsoft user principal name `otherName` (`szOID_NT_PRINCIPAL_NAME`).
const UPN_OID: &str = "1.3.6.1.4.1.311.20.2.3";

/// DER contents of the OIDs of the extensions a policy controls.
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const OID_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];

/// GeneralName tag of a `dNSName` ([2] IMPLICIT IA5String).
const TAG_GENERAL_NAME_DNS: u8 = 0x82;

/// The OpenSSL attribute of a subject attribute name accepted by
/// [`DistinguishedName::parse`].
fn attribute_nid(attr: &str) -> Option<Nid> {
    Some(match attr {
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
        "POSTALCODE" => Nid::POSTALCODE,
        _ => return None,
    })
}

/// Why OpenSSL may refuse a value for `attr` (the string-type and size rules of X.520).
fn attribute_rule(attr: &str) -> &'static str {
    match attr {
        "C" => "a country must be a two-letter code",
        "SERIALNUMBER" => {
            "it must be at most 64 characters among letters, digits, spaces and ' ( ) + , - . / : = ?"
        }
        "E" | "EMAILADDRESS" => "it must be ASCII and at most 128 characters",
        "DC" => "it must be ASCII",
        "CN" | "O" | "OU" | "T" | "TITLE" => "it must be at most 64 characters",
        "L" | "ST" | "S" => "it must be at most 128 characters",
        _ => "the value is not accepted for this attribute",
    }
}

/// Builds an X.509 name from Key Vault's subject syntax (`CN=a, O=b`); empty gives an
/// empty name. As in RFC 4514 the string lists the last RDN first, so `CN=a, O=b` is
/// encoded `O=b` then `CN=a`.
pub(crate) fn build_name(subject: &str) -> Result<X509Name> {
    let dn = DistinguishedName::parse(subject).map_err(|e| invalid(e.to_string()))?;
    let mut builder = X509NameBuilder::new()?;
    for (attr, value) in dn.0.iter().rev() {
        let nid = attribute_nid(attr).ok_or_else(|| {
            invalid(format!(
                "The subject attribute '{attr}' is not supported in a certificate."
            ))
        })?;
        builder.append_entry_by_nid(nid, value).map_err(|_| {
            invalid(format!(
                "The subject attribute {attr}={value} cannot be encoded in a certificate: {}.",
                attribute_rule(attr)
            ))
        })?;
    }
    Ok(builder.build())
}

/// True when the name has no attribute at all.
pub(crate) fn name_is_empty(name: &X509NameRef) -> bool {
    name.entries().next().is_none()
}

fn check_dns_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "The DNS name '{name}' in the subject alternative names is not valid: use letters, \
             digits, '-', '.', '_' and '*' (internationalised names in their xn-- form)."
        )))
    }
}

fn check_email(email: &str) -> Result<()> {
    let ok = email.contains('@') && email.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "The email address '{email}' in the subject alternative names is not valid: it \
             must be ASCII, without spaces, and contain '@'."
        )))
    }
}

fn check_upn(upn: &str) -> Result<()> {
    if upn.trim().is_empty() || upn.chars().any(char::is_control) {
        return Err(invalid(format!(
            "The user principal name '{}' in the subject alternative names is not valid.",
            upn.escape_debug()
        )));
    }
    Ok(())
}

fn check_uri(uri: &str) -> Result<()> {
    let scheme_ok = uri
        .split_once(':')
        .map(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        })
        .unwrap_or(false);
    if scheme_ok && uri.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(invalid(format!(
            "The URI '{uri}' in the subject alternative names is not valid: it must be an \
             absolute ASCII URI such as https://example.com/path."
        )))
    }
}

/// The subjectAltName extension for `sans`, `None` when there are no names. Every value is
/// checked first so a bad one gives a clear [`CryptoError::Invalid`](super::CryptoError).
pub(crate) fn san_extension(
    sans: &SubjectAlternativeNames,
    critical: bool,
    ctx: &X509v3Context<'_>,
) -> Result<Option<X509Extension>> {
    if sans.is_empty() {
        return Ok(None);
    }
    let mut san = SubjectAlternativeName::new();
    if critical {
        san.critical();
    }
    for dns in &sans.dns_names {
        check_dns_name(dns)?;
        san.dns(dns);
    }
    for email in &sans.emails {
        check_email(email)?;
        san.email(email);
    }
    for upn in &sans.upns {
        check_upn(upn)?;
        let value = encode_tlv(TAG_UTF8_STRING, upn.as_bytes());
        san.other_name2(Asn1Object::from_str(UPN_OID)?, &value);
    }
    for ip in &sans.ip_addresses {
        let parsed = IpAddr::from_str(ip.trim()).map_err(|_| {
            invalid(format!(
                "The IP address '{ip}' in the subject alternative names is not a valid IPv4 or \
                 IPv6 address."
            ))
        })?;
        san.ip(&parsed.to_string());
    }
    for uri in &sans.uris {
        check_uri(uri)?;
        san.uri(uri);
    }
    Ok(Some(san.build(ctx)?))
}

/// The keyUsage extension (critical) for `usages`, `None` when empty.
pub(crate) fn key_usage_extension(usages: &[KeyUsage]) -> Result<Option<X509Extension>> {
    if usages.is_empty() {
        return Ok(None);
    }
    let mut ku = KeyUsageExt::new();
    ku.critical();
    for usage in usages {
        match usage {
            KeyUsage::DigitalSignature => ku.digital_signature(),
            KeyUsage::NonRepudiation => ku.non_repudiation(),
            KeyUsage::KeyEncipherment => ku.key_encipherment(),
            KeyUsage::DataEncipherment => ku.data_encipherment(),
            KeyUsage::KeyAgreement => ku.key_agreement(),
            KeyUsage::KeyCertSign => ku.key_cert_sign(),
            KeyUsage::CrlSign => ku.crl_sign(),
            KeyUsage::EncipherOnly => ku.encipher_only(),
            KeyUsage::DecipherOnly => ku.decipher_only(),
        };
    }
    Ok(Some(ku.build()?))
}

/// The extendedKeyUsage extension for dotted OIDs `ekus`, `None` when empty.
pub(crate) fn eku_extension(ekus: &[String]) -> Result<Option<X509Extension>> {
    if ekus.is_empty() {
        return Ok(None);
    }
    let mut eku = ExtendedKeyUsage::new();
    for oid in ekus {
        validate_eku(oid).map_err(|e| invalid(e.to_string()))?;
        Asn1Object::from_str(oid).map_err(|_| {
            invalid(format!(
                "The extended key usage '{oid}' is not a valid object identifier."
            ))
        })?;
        eku.other(oid);
    }
    Ok(Some(eku.build()?))
}

/// The extensions a policy asks for: SAN (critical when the subject is empty, as RFC 5280
/// requires), keyUsage and extendedKeyUsage. Refuses a certificate with no name at all.
pub(crate) fn policy_extensions(
    x509: &X509Properties,
    subject_empty: bool,
    ctx: &X509v3Context<'_>,
) -> Result<Vec<X509Extension>> {
    if subject_empty && x509.sans.is_empty() {
        return Err(invalid(
            "The certificate needs a subject or at least one subject alternative name.",
        ));
    }
    let mut out = Vec::new();
    out.extend(san_extension(&x509.sans, subject_empty, ctx)?);
    out.extend(key_usage_extension(&x509.key_usage)?);
    out.extend(eku_extension(&x509.ekus)?);
    Ok(out)
}

/// Builds a PKCS#10 request for `key` with the subject and extensions of `x509`, signed by
/// `key` with SHA-256; returns its DER.
pub fn build_csr(key: &PKey<Private>, x509: &X509Properties) -> Result<Vec<u8>> {
    let name = build_name(&x509.subject)?;
    let mut builder = X509ReqBuilder::new()?;
    builder.set_version(0)?;
    builder.set_subject_name(&name)?;
    builder.set_pubkey(key)?;
    let extensions = policy_extensions(x509, name_is_empty(&name), &builder.x509v3_context(None))?;
    if !extensions.is_empty() {
        let mut stack = Stack::new()?;
        for ext in extensions {
            stack.push(ext)?;
        }
        builder.add_extensions(&stack)?;
    }
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build().to_der()?)
}

/// Decodes a DER CSR and checks its self-signature.
pub(crate) fn parse_csr(csr_der: &[u8]) -> Result<X509Req> {
    let req = X509Req::from_der(csr_der)
        .map_err(|_| invalid("The CSR is not a DER-encoded PKCS#10 certification request."))?;
    let key = req
        .public_key()
        .map_err(|_| invalid("The CSR's public key is malformed or of an unsupported type."))?;
    if !req.verify(&key).unwrap_or(false) {
        return Err(invalid(
            "The CSR's signature does not verify with its own public key.",
        ));
    }
    Ok(req)
}

/// The DER contents of an extension's OID, and its extnValue.
fn extension_parts(ext: &X509ExtensionRef) -> Result<(Vec<u8>, Vec<u8>)> {
    let der = ext.to_der()?;
    let malformed = || invalid("The CSR holds a malformed extension.");
    let (tag, contents, _) = read_tlv(&der).ok_or_else(malformed)?;
    let children = read_children(contents).ok_or_else(malformed)?;
    match (tag, children.first(), children.last()) {
        (TAG_SEQUENCE, Some(&(TAG_OID, oid)), Some(&(TAG_OCTET_STRING, value))) => {
            Ok((oid.to_vec(), value.to_vec()))
        }
        _ => Err(malformed()),
    }
}

/// True when `ext` is a subjectAltName extension.
pub(crate) fn is_san(ext: &X509ExtensionRef) -> bool {
    extension_parts(ext).is_ok_and(|(oid, _)| oid == OID_SUBJECT_ALT_NAME)
}

/// All extensions requested in a CSR (none when it requests none).
fn all_requested(req: &X509ReqRef) -> Result<Vec<X509Extension>> {
    let stack = req
        .extensions()
        .map_err(|_| invalid("The CSR's extension request attribute is malformed."))?;
    Ok(stack.into_iter().collect())
}

/// The subjectAltName, keyUsage and extendedKeyUsage extensions requested in a CSR, in
/// the order requested; others are dropped.
pub(crate) fn requested_extensions(req: &X509ReqRef) -> Result<Vec<X509Extension>> {
    let mut out = Vec::new();
    for ext in all_requested(req)? {
        let (oid, _) = extension_parts(&ext)?;
        if [OID_SUBJECT_ALT_NAME, OID_KEY_USAGE, OID_EXT_KEY_USAGE].contains(&oid.as_slice()) {
            out.push(ext);
        }
    }
    Ok(out)
}

/// The dNSName entries of a DER `GeneralNames` (the value of a subjectAltName).
fn dns_names_of_general_names(value: &[u8]) -> Option<Vec<String>> {
    let (tag, contents, _) = read_tlv(value)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    Some(
        read_children(contents)?
            .into_iter()
            .filter(|(tag, _)| *tag == TAG_GENERAL_NAME_DNS)
            .map(|(_, name)| String::from_utf8_lossy(name).into_owned())
            .collect(),
    )
}

/// Reads a CSR: checks its signature and returns its common name, requested DNS names and
/// public key.
pub fn csr_info(csr_der: &[u8]) -> Result<CsrInfo> {
    let req = parse_csr(csr_der)?;
    let subject_cn = req
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok());
    let mut dns_names = Vec::new();
    for ext in all_requested(&req)? {
        let (oid, value) = extension_parts(&ext)?;
        if oid == OID_SUBJECT_ALT_NAME {
            dns_names.extend(
                dns_names_of_general_names(&value)
                    .ok_or_else(|| invalid("The CSR's subjectAltName extension is malformed."))?,
            );
        }
    }
    Ok(CsrInfo {
        subject_cn,
        dns_names,
        public_key_der: req.public_key()?.public_key_to_der()?,
    })
}
