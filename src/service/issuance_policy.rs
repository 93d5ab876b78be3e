//! Per-provider issuance policy, checked when a request is created so that a policy the
//! provider cannot honour is refused with 400 before any key is stored: key types, the
//! longest validity, and for ACME the names an ACME CA can certify. Allowed domains stay
//! a refusal at issuance (the request fails with `CertificateIssuerError`, as Key Vault's
//! does when its CA refuses a name): the built-in CA's, or the ACME driver's before it
//! places an order.

use crate::config::{ProviderKind, ProviderSettings};
use crate::domain::policy::{DistinguishedName, Policy};
use crate::domain::DomainError;

/// The DNS names a policy asks for: the subject CN, then the SAN DNS names.
pub fn dns_names(policy: &Policy) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(dn) = DistinguishedName::parse(&policy.x509_props.subject) {
        if let Some(cn) = dn.common_name() {
            names.push(cn.to_owned());
        }
    }
    for n in &policy.x509_props.sans.dns_names {
        if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n.clone());
        }
    }
    names
}

/// Refuses a policy that provider `name` cannot honour.
pub fn check(name: &str, p: &ProviderSettings, policy: &Policy) -> Result<(), DomainError> {
    let kty = policy.key_props.kty.as_str();
    if !p.allowed_key_types.is_empty()
        && !p
            .allowed_key_types
            .iter()
            .any(|k| k.eq_ignore_ascii_case(kty))
    {
        return Err(DomainError::BadParameter(format!(
            "The provider '{name}' does not issue for {kty} keys; allowed key types: {}.",
            p.allowed_key_types.join(", ")
        )));
    }
    if policy.x509_props.validity_months > p.max_validity_months {
        return Err(DomainError::BadParameter(format!(
            "The provider '{name}' issues certificates valid for at most {} months; the policy asks for {}.",
            p.max_validity_months, policy.x509_props.validity_months
        )));
    }
    match p.kind {
        ProviderKind::LocalCa => {}
        ProviderKind::Acme => {
            let sans = &policy.x509_props.sans;
            if !sans.emails.is_empty() || !sans.upns.is_empty() || !sans.ip_addresses.is_empty() {
                return Err(DomainError::BadParameter(format!(
                    "The ACME provider '{name}' certifies DNS names only; remove the e-mail, UPN and IP subject alternative names."
                )));
            }
            if dns_names(policy).is_empty() {
                return Err(DomainError::BadParameter(format!(
                    "The ACME provider '{name}' needs at least one DNS name (subject CN or sans.dns_names)."
                )));
            }
        }
    }
    Ok(())
}

/// The policy the CSR is built from: for ACME every name also goes into the SAN DNS
/// names, as ACME CAs read names from there only.
pub fn csr_policy(p: &ProviderSettings, policy: &Policy) -> Policy {
    let mut out = policy.clone();
    if p.kind == ProviderKind::Acme {
        out.x509_props.sans.dns_names = dns_names(policy);
    }
    out
}
