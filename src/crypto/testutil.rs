//! Test fixtures shared by the crypto module's unit tests: cached keys (RSA generation is
//! slow), a CA hierarchy, policies and a leaf issued from a CSR.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::csr::build_csr;
use super::keys::{generate_key, private_key_from_der, private_key_to_der};
use super::x509::{create_ca, issue_from_csr, IssueParams};
use super::{PKey, Private, X509};
use crate::domain::policy::{Curve, KeySpec, KeyUsage, SubjectAlternativeNames, X509Properties};

/// The current time, Unix seconds.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One 2048-bit RSA key shared by all tests.
pub(crate) fn rsa_key() -> PKey<Private> {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    let der = KEY.get_or_init(|| {
        let key = generate_key(&KeySpec::Rsa { bits: 2048 }).unwrap();
        private_key_to_der(&key).unwrap()
    });
    private_key_from_der(der).unwrap()
}

/// A fresh EC P-256 key.
pub(crate) fn ec_key() -> PKey<Private> {
    generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap()
}

/// A policy's X.509 properties with every kind of SAN, KU and EKU.
pub(crate) fn full_props() -> X509Properties {
    X509Properties {
        subject: "CN=www.example.com, O=Example\\, Inc., C=US".into(),
        sans: SubjectAlternativeNames {
            emails: vec!["admin@example.com".into()],
            dns_names: vec!["www.example.com".into(), "*.example.com".into()],
            upns: vec!["user@corp.example.com".into()],
            ip_addresses: vec!["10.0.0.1".into(), "2001:db8::1".into()],
            uris: vec!["https://example.com/id".into()],
        },
        ekus: vec!["1.3.6.1.5.5.7.3.1".into(), "1.3.6.1.5.5.7.3.2".into()],
        key_usage: vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment],
        validity_months: 12,
    }
}

/// Properties with only a subject.
pub(crate) fn plain_props(subject: &str) -> X509Properties {
    X509Properties {
        subject: subject.into(),
        sans: SubjectAlternativeNames::default(),
        ekus: Vec::new(),
        key_usage: Vec::new(),
        validity_months: 12,
    }
}

/// A root CA and an intermediate signed by it, valid from an hour ago for a year.
pub(crate) struct Hierarchy {
    pub root: X509,
    pub int_key: PKey<Private>,
    pub int: X509,
}

/// The shared CA hierarchy.
pub(crate) fn hierarchy() -> &'static Hierarchy {
    static H: OnceLock<Hierarchy> = OnceLock::new();
    H.get_or_init(|| {
        let start = now() - 3600;
        let (root_key, root) = create_ca("Test Root", start, 365, None).unwrap();
        let (int_key, int) =
            create_ca("Test Intermediate", start, 365, Some((&root_key, &root))).unwrap();
        Hierarchy { root, int_key, int }
    })
}

/// A leaf for `key` issued by the shared intermediate, valid over `[not_before, not_after]`.
pub(crate) fn issue_leaf(key: &PKey<Private>, not_before: i64, not_after: i64) -> Vec<u8> {
    let h = hierarchy();
    let csr = build_csr(key, &full_props()).unwrap();
    issue_from_csr(
        &csr,
        &h.int_key,
        &h.int,
        &IssueParams {
            not_before,
            not_after,
        },
    )
    .unwrap()
}

/// A leaf valid now, with its key, and the chain leaf + intermediate + root as DER.
pub(crate) fn leaf_chain() -> (PKey<Private>, Vec<Vec<u8>>) {
    let key = ec_key();
    let leaf = issue_leaf(&key, now() - 60, now() + 86_400);
    let h = hierarchy();
    (
        key,
        vec![leaf, h.int.to_der().unwrap(), h.root.to_der().unwrap()],
    )
}

/// Standard base64.
pub(crate) fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}
