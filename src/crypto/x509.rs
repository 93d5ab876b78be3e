//! X.509 certificates: reading one ([`CertInfo`]), making self-signed certificates from a
//! policy, issuing from a CSR under a CA, creating CA certificates (root or intermediate)
//! and the HTTPS server certificate, and PEM conversion.
//!
//! Subject strings follow RFC 4514 ordering: `CN=x, O=y, C=US` lists the most specific
//! attribute first and is encoded with `C` first in the DER `RDNSequence`, as Key Vault
//! and .NET do. [`CertInfo::subject`] prints names the same way, so a subject round-trips.

use openssl::asn1::{Asn1Integer, Asn1Time, Asn1TimeRef};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509NameRef, X509Ref, X509};

use super::csr::{
    build_name, name_is_empty, parse_csr, policy_extensions, requested_extensions, san_extension,
};
use super::encoding::{b64url, pem_blocks, read_tlv};
use super::keys::generate_ec;
use super::seal::{random_bytes, sha1};
use super::{invalid, Result};
use crate::domain::policy::{Curve, SubjectAlternativeNames, X509Properties};

/// What certbroker records about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate's DER encoding.
    pub der: Vec<u8>,
    /// base64url (no padding) of the SHA-1 of `der` (the JOSE `x5t`).
    pub x5t: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// The certificate's public key as SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
    /// The subject, e.g. `CN=www.example.com, O=Example` (RFC 4514 order).
    pub subject: String,
    /// The issuer, same format as `subject`.
    pub issuer: String,
    /// The serial number in upper-case hexadecimal.
    pub serial_hex: String,
    /// The DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
}

/// Validity of a certificate issued from a CSR (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueParams {
    /// Start of validity.
    pub not_before: i64,
    /// End of validity; clamped to the CA certificate's own end of validity.
    pub not_after: i64,
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Decodes one DER certificate; the error is a reason phrase for a caller's message.
pub(crate) fn parse_cert(der: &[u8]) -> std::result::Result<X509, String> {
    if der.is_empty() {
        return Err("it is empty".into());
    }
    let not_cert = || {
        format!(
            "the {} bytes are not a DER-encoded X.509 certificate",
            der.len()
        )
    };
    let (_, _, rest) = read_tlv(der).ok_or_else(not_cert)?;
    if !rest.is_empty() {
        return Err(format!(
            "it has {} bytes of unexpected data after the certificate",
            rest.len()
        ));
    }
    X509::from_der(der).map_err(|_| not_cert())
}

/// Decodes a `TRUSTED CERTIFICATE` PEM body: a certificate followed by OpenSSL trust data.
pub(crate) fn parse_trusted_cert(der: &[u8]) -> std::result::Result<X509, String> {
    let (_, _, rest) = read_tlv(der).ok_or("it is not a DER-encoded X.509 certificate")?;
    parse_cert(&der[..der.len() - rest.len()])
}

/// Decodes the body of a PEM block whose label names a certificate; `None` for other
/// labels.
pub(crate) fn parse_cert_block(
    label: &str,
    der: &[u8],
) -> Option<std::result::Result<X509, String>> {
    match label {
        "CERTIFICATE" | "X509 CERTIFICATE" => Some(parse_cert(der)),
        "TRUSTED CERTIFICATE" => Some(parse_trusted_cert(der)),
        _ => None,
    }
}

/// Unix seconds of an ASN.1 time.
pub(crate) fn asn1_to_unix(time: &Asn1TimeRef) -> Result<i64> {
    let diff = Asn1Time::from_unix(0)?.diff(time)?;
    Ok(i64::from(diff.days) * SECONDS_PER_DAY + i64::from(diff.secs))
}

/// `2024-05-01T12:00:00Z` for messages.
pub(crate) fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// `now` plus `months` calendar months, in Unix seconds.
fn add_months(now: i64, months: u32) -> Result<i64> {
    chrono::DateTime::from_timestamp(now, 0)
        .and_then(|t| t.checked_add_months(chrono::Months::new(months)))
        .map(|t| t.timestamp())
        .ok_or_else(|| invalid(format!("A validity of {months} months is out of range.")))
}

/// `now` plus `days` days, in Unix seconds.
fn add_days(now: i64, days: u32) -> Result<i64> {
    if days == 0 {
        return Err(invalid("The validity must be at least one day."));
    }
    now.checked_add(i64::from(days) * SECONDS_PER_DAY)
        .ok_or_else(|| invalid(format!("A validity of {days} days is out of range.")))
}

/// The label used for an attribute in a subject string (Key Vault's spelling).
fn attribute_label(nid: Nid) -> Option<&'static str> {
    Some(match nid {
        Nid::COMMONNAME => "CN",
        Nid::ORGANIZATIONNAME => "O",
        Nid::ORGANIZATIONALUNITNAME => "OU",
        Nid::COUNTRYNAME => "C",
        Nid::LOCALITYNAME => "L",
        Nid::STATEORPROVINCENAME => "S",
        Nid::PKCS9_EMAILADDRESS => "E",
        Nid::STREETADDRESS => "STREET",
        Nid::DOMAINCOMPONENT => "DC",
        Nid::SERIALNUMBER => "SERIALNUMBER",
        Nid::TITLE => "T",
        Nid::GIVENNAME => "G",
        Nid::SURNAME => "SN",
        Nid::USERID => "UID",
        Nid::POSTALCODE => "POSTALCODE",
        _ => return None,
    })
}

/// Escapes the characters [`crate::domain::policy::DistinguishedName::parse`] treats
/// specially.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | ';' | '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A name as `CN=a, O=b` (RFC 4514 order: last RDN first).
pub(crate) fn format_name(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let object = entry.object();
            let label = attribute_label(object.nid())
                .map(str::to_owned)
                .unwrap_or_else(|| object.to_string());
            let value = entry.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{label}={}", escape_value(&value))
        })
        .collect();
    parts.reverse();
    parts.join(", ")
}

/// What certbroker records about a parsed certificate.
pub(crate) fn info_of(cert: &X509Ref) -> Result<CertInfo> {
    let der = cert.to_der()?;
    let public_key = cert.public_key().map_err(|_| {
        invalid("The certificate's public key is malformed or of an unsupported type.")
    })?;
    let dns_names = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(CertInfo {
        x5t: b64url(&sha1(&der)),
        not_before: asn1_to_unix(cert.not_before())?,
        not_after: asn1_to_unix(cert.not_after())?,
        public_key_der: public_key.public_key_to_der()?,
        subject: format_name(cert.subject_name()),
        issuer: format_name(cert.issuer_name()),
        serial_hex: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
        dns_names,
        der,
    })
}

/// Reads a DER certificate.
pub fn cert_info(der: &[u8]) -> Result<CertInfo> {
    let cert =
        parse_cert(der).map_err(|r| invalid(format!("The value is not a certificate: {r}.")))?;
    info_of(&cert)
}

/// A random positive 16-byte serial number (the top bits fixed so it is always 16 bytes).
fn random_serial() -> Result<Asn1Integer> {
    let mut bytes = random_bytes::<16>()?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(BigNum::from_slice(&bytes)?.to_asn1_integer()?)
}

/// A v3 certificate builder with serial, names, key and validity set.
fn start_cert<T: HasPublic>(
    subject: &X509NameRef,
    issuer: &X509NameRef,
    public_key: &PKeyRef<T>,
    not_before: i64,
    not_after: i64,
) -> Result<X509Builder> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = random_serial()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(issuer)?;
    builder.set_pubkey(public_key)?;
    let not_before = Asn1Time::from_unix(not_before)?;
    let not_after = Asn1Time::from_unix(not_after)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    Ok(builder)
}

/// Adds subjectKeyIdentifier and, when `issuer` is given, authorityKeyIdentifier.
fn add_key_identifiers(builder: &mut X509Builder, issuer: Option<&X509Ref>) -> Result<()> {
    let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(issuer, None))?;
    builder.append_extension(ski)?;
    if let Some(issuer) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .issuer(false)
            .build(&builder.x509v3_context(Some(issuer), None))?;
        builder.append_extension(aki)?;
    }
    Ok(())
}

/// Checks that `key` is the private key of `cert`.
fn check_ca_key(key: &PKey<Private>, cert: &X509Ref, what: &str) -> Result<()> {
    let matches = cert.public_key().is_ok_and(|k| k.public_eq(key));
    if matches {
        Ok(())
    } else {
        Err(invalid(format!(
            "The {what} private key does not match the {what} certificate."
        )))
    }
}

/// Clamps `not_after` to the issuing CA's end of validity and checks the period is not
/// empty.
fn clamp_validity(not_before: i64, not_after: i64, ca_cert: &X509Ref) -> Result<i64> {
    if not_after <= not_before {
        return Err(invalid(format!(
            "The requested validity is empty: it ends ({}) before it starts ({}).",
            format_time(not_after),
            format_time(not_before)
        )));
    }
    let ca_not_after = asn1_to_unix(ca_cert.not_after())?;
    let clamped = not_after.min(ca_not_after);
    if clamped <= not_before {
        return Err(invalid(format!(
            "The CA certificate expires at {}, before the requested start of validity {}.",
            format_time(ca_not_after),
            format_time(not_before)
        )));
    }
    Ok(clamped)
}

/// A self-signed v3 certificate for `key` under the policy's X.509 properties: valid from
/// `now` for `validity_months` calendar months, subject = issuer = the policy subject,
/// the policy's SAN/keyUsage/extendedKeyUsage, CA:FALSE and a subjectKeyIdentifier,
/// signed with SHA-256. Returns DER.
pub fn self_signed(key: &PKey<Private>, x509: &X509Properties, now: i64) -> Result<Vec<u8>> {
    if x509.validity_months == 0 {
        return Err(invalid("The validity must be at least one month."));
    }
    let not_after = add_months(now, x509.validity_months)?;
    let name = build_name(&x509.subject)?;
    let mut builder = start_cert(&name, &name, key, now, not_after)?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    let extensions = policy_extensions(
        x509,
        name_is_empty(&name),
        &builder.x509v3_context(None, None),
    )?;
    for ext in extensions {
        builder.append_extension(ext)?;
    }
    add_key_identifiers(&mut builder, None)?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build().to_der()?)
}

/// Issues a certificate for a CSR under a CA: checks the CSR's signature, copies its
/// subject and requested subjectAltName/keyUsage/extendedKeyUsage, adds CA:FALSE, SKI and
/// AKI, issuer = the CA's subject, random serial, SHA-256. `not_after` is clamped to the
/// CA certificate's. Returns DER.
pub fn issue_from_csr(
    csr_der: &[u8],
    ca_key: &PKey<Private>,
    ca_cert: &X509,
    params: &IssueParams,
) -> Result<Vec<u8>> {
    let req = parse_csr(csr_der)?;
    check_ca_key(ca_key, ca_cert, "CA")?;
    let not_after = clamp_validity(params.not_before, params.not_after, ca_cert)?;
    let requested = requested_extensions(&req)?;
    let subject = req.subject_name();
    if name_is_empty(subject) && requested.iter().all(|e| !super::csr::is_san(e)) {
        return Err(invalid(
            "The CSR names neither a subject nor a subject alternative name.",
        ));
    }
    let public_key = req.public_key()?;
    let mut builder = start_cert(
        subject,
        ca_cert.subject_name(),
        &public_key,
        params.not_before,
        not_after,
    )?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    for ext in requested {
        builder.append_extension(ext)?;
    }
    add_key_identifiers(&mut builder, Some(ca_cert))?;
    builder.sign(ca_key, MessageDigest::sha256())?;
    Ok(builder.build().to_der()?)
}

/// A name holding only a common name.
fn cn_name(common_name: &str) -> Result<X509Name> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)
        .map_err(|_| {
            invalid(format!(
                "The common name '{common_name}' cannot be encoded: it must be 1 to 64 characters."
            ))
        })?;
    Ok(name.build())
}

/// Creates a CA: an EC P-256 key and a certificate with CA:TRUE (critical) and keyUsage
/// keyCertSign + cRLSign (critical), SKI (and AKI when a parent signs), valid from `now`
/// for `validity_days`. `parent: None` makes a self-signed root; `Some((key, cert))` an
/// intermediate (path length 0) signed by that CA, its validity clamped to the parent's.
pub fn create_ca(
    common_name: &str,
    now: i64,
    validity_days: u32,
    parent: Option<(&PKey<Private>, &X509)>,
) -> Result<(PKey<Private>, X509)> {
    let not_after = add_days(now, validity_days)?;
    let name = cn_name(common_name)?;
    let key = generate_ec(Curve::P256)?;
    let mut constraints = BasicConstraints::new();
    constraints.critical().ca();
    let (signer, issuer_cert, not_after) = match parent {
        Some((parent_key, parent_cert)) => {
            check_ca_key(parent_key, parent_cert, "parent CA")?;
            constraints.pathlen(0);
            let not_after = clamp_validity(now, not_after, parent_cert)?;
            (parent_key, Some(parent_cert.as_ref()), not_after)
        }
        None => (&key, None, not_after),
    };
    let issuer_name = issuer_cert.map_or(name.as_ref(), |c| c.subject_name());
    let mut builder = start_cert(&name, issuer_name, &key, now, not_after)?;
    builder.append_extension(constraints.build()?)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    add_key_identifiers(&mut builder, issuer_cert)?;
    builder.sign(signer, MessageDigest::sha256())?;
    let cert = builder.build();
    Ok((key, cert))
}

/// An EC P-256 end-entity certificate for an HTTPS server, issued by a CA: CA:FALSE,
/// keyUsage digitalSignature, extendedKeyUsage serverAuth, SAN with `dns_names` and `ips`,
/// CN = the first DNS name (if it fits), SKI and AKI. Valid from `now` for
/// `validity_days`, clamped to the CA's validity.
pub fn tls_server_cert(
    ca_key: &PKey<Private>,
    ca_cert: &X509,
    dns_names: &[String],
    ips: &[std::net::IpAddr],
    now: i64,
    validity_days: u32,
) -> Result<(PKey<Private>, X509)> {
    if dns_names.is_empty() && ips.is_empty() {
        return Err(invalid(
            "A server certificate needs at least one DNS name or IP address.",
        ));
    }
    check_ca_key(ca_key, ca_cert, "CA")?;
    let not_after = clamp_validity(now, add_days(now, validity_days)?, ca_cert)?;
    let name = match dns_names.first() {
        Some(first) if first.len() <= 64 => cn_name(first)?,
        _ => X509NameBuilder::new()?.build(),
    };
    let sans = SubjectAlternativeNames {
        dns_names: dns_names.to_vec(),
        ip_addresses: ips.iter().map(ToString::to_string).collect(),
        ..SubjectAlternativeNames::default()
    };
    let key = generate_ec(Curve::P256)?;
    let mut builder = start_cert(&name, ca_cert.subject_name(), &key, now, not_after)?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    builder.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    builder.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let san = san_extension(
        &sans,
        name_is_empty(&name),
        &builder.x509v3_context(Some(ca_cert), None),
    )?;
    if let Some(san) = san {
        builder.append_extension(san)?;
    }
    add_key_identifiers(&mut builder, Some(ca_cert))?;
    builder.sign(ca_key, MessageDigest::sha256())?;
    Ok((key, builder.build()))
}

/// A DER certificate as PEM text.
pub fn cert_to_pem(der: &[u8]) -> Result<String> {
    let cert =
        parse_cert(der).map_err(|r| invalid(format!("The value is not a certificate: {r}.")))?;
    Ok(String::from_utf8_lossy(&cert.to_pem()?).into_owned())
}

/// All certificates of a PEM text, as DER, in order (other blocks, such as keys, are
/// skipped; no certificate gives an empty list).
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let blocks =
        pem_blocks(pem).map_err(|r| invalid(format!("The PEM text is malformed: {r}.")))?;
    let mut out = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        if let Some(parsed) = parse_cert_block(&block.label, &block.der) {
            let cert = parsed.map_err(|r| {
                invalid(format!(
                    "PEM block {} ({}) is not a certificate: {r}.",
                    index + 1,
                    block.label
                ))
            })?;
            out.push(cert.to_der()?);
        }
    }
    Ok(out)
}
