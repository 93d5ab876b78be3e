//! Unit tests of the CSR, certificate, merge-chain and PKCS#12 layers, on keys and CAs
//! made at test time (see [`super::testutil`]).

use std::process::Command;

use super::chain::{parse_x5c, verify_merge_chain};
use super::csr::{build_csr, csr_info};
use super::pkcs12::{export_pem, export_pkcs12, import_bundle};
use super::testutil::*;
use super::x509::{cert_info, cert_to_pem, self_signed};
use super::CryptoError;

fn invalid_message<T: std::fmt::Debug>(r: super::Result<T>) -> String {
    match r {
        Err(CryptoError::Invalid(m)) => m,
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

fn spki(key: &super::PKey<super::Private>) -> Vec<u8> {
    key.public_key_to_der().unwrap()
}

// ---- CSR -----------------------------------------------------------------------------

#[test]
fn csr_carries_the_policy_and_verifies() {
    let key = ec_key();
    let csr = build_csr(&key, &full_props()).unwrap();
    let info = csr_info(&csr).unwrap();
    assert_eq!(info.subject_cn.as_deref(), Some("www.example.com"));
    assert_eq!(info.dns_names, vec!["www.example.com", "*.example.com"]);
    assert_eq!(info.public_key_der, spki(&key));

    // OpenSSL's own CLI reads the same CSR: subject, SANs (incl. the UPN otherName), EKUs.
    let req = openssl::x509::X509Req::from_der(&csr).unwrap();
    let text = String::from_utf8(req.to_text().unwrap()).unwrap();
    for needle in [
        "DNS:www.example.com",
        "email:admin@example.com",
        "IP Address:10.0.0.1",
        "URI:https://example.com/id",
        "TLS Web Server Authentication",
        "TLS Web Client Authentication",
        "Digital Signature, Key Encipherment",
        "UPN",
    ] {
        assert!(text.contains(needle), "CSR text lacks {needle}:\n{text}");
    }
}

#[test]
fn csr_with_a_tampered_signature_is_refused() {
    let mut csr = build_csr(&ec_key(), &plain_props("CN=a.example")).unwrap();
    let last = csr.len() - 1;
    csr[last] ^= 0x01;
    let m = invalid_message(csr_info(&csr));
    assert!(m.contains("signature") || m.contains("malformed"), "{m}");
    assert!(csr_info(b"not a csr").is_err());
}

#[test]
fn rsa_csr_carries_an_rsa_key() {
    let key = rsa_key();
    let csr = build_csr(&key, &plain_props("CN=rsa.example")).unwrap();
    assert_eq!(csr_info(&csr).unwrap().public_key_der, spki(&key));
}

// ---- Certificates ----------------------------------------------------------------------

#[test]
fn self_signed_follows_the_policy() {
    let key = ec_key();
    let start = now();
    let der = self_signed(&key, &full_props(), start).unwrap();
    let info = cert_info(&der).unwrap();
    assert_eq!(info.subject, info.issuer);
    assert!(
        info.subject.contains("CN=www.example.com"),
        "{}",
        info.subject
    );
    assert_eq!(info.public_key_der, spki(&key));
    assert_eq!(info.dns_names, vec!["www.example.com", "*.example.com"]);
    // Twelve calendar months: between 365 and 366 days.
    let days = (info.not_after - info.not_before) / 86_400;
    assert!((365..=366).contains(&days), "{days} days");
    // A self-signed certificate is its own valid merge chain.
    verify_merge_chain(&[der], &spki(&key), start + 10).unwrap();
}

#[test]
fn self_signed_refuses_zero_months() {
    let mut props = plain_props("CN=zero.example");
    props.validity_months = 0;
    let m = invalid_message(self_signed(&ec_key(), &props, now()));
    assert!(m.contains("month"), "{m}");
}

#[test]
fn issued_chain_verifies_with_the_openssl_cli() {
    let (_, chain) = leaf_chain();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, der: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, cert_to_pem(der).unwrap()).unwrap();
        path
    };
    let leaf = write("leaf.pem", &chain[0]);
    let int = write("int.pem", &chain[1]);
    let root = write("root.pem", &chain[2]);
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg("-untrusted")
        .arg(&int)
        .arg(&leaf)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- Merge chain -----------------------------------------------------------------------

#[test]
fn merge_chain_accepts_leaf_first_with_or_without_root() {
    let (key, chain) = leaf_chain();
    let info = verify_merge_chain(&chain, &spki(&key), now()).unwrap();
    assert_eq!(info.der, chain[0]);
    verify_merge_chain(&chain[..2], &spki(&key), now()).unwrap();
    verify_merge_chain(&chain[..1], &spki(&key), now()).unwrap();
}

#[test]
fn merge_chain_refuses_a_wrong_key() {
    let (_, chain) = leaf_chain();
    let m = invalid_message(verify_merge_chain(&chain, &spki(&ec_key()), now()));
    assert!(m.contains("does not match"), "{m}");
}

#[test]
fn merge_chain_refuses_a_broken_link() {
    let (key, mut chain) = leaf_chain();
    chain.swap(1, 2);
    let m = invalid_message(verify_merge_chain(&chain, &spki(&key), now()));
    assert!(m.contains("x5c[0] is not signed by x5c[1]"), "{m}");
}

#[test]
fn merge_chain_refuses_expired_and_future_leaves() {
    let key = ec_key();
    let t = now();
    let expired = issue_leaf(&key, t - 10 * 86_400, t - 86_400);
    let m = invalid_message(verify_merge_chain(&[expired], &spki(&key), t));
    assert!(m.contains("expired"), "{m}");
    let future = issue_leaf(&key, t + 86_400, t + 10 * 86_400);
    let m = invalid_message(verify_merge_chain(&[future], &spki(&key), t));
    assert!(m.contains("not yet valid"), "{m}");
}

#[test]
fn x5c_accepts_base64_der_pem_and_urlsafe() {
    let (_, chain) = leaf_chain();
    let pem = cert_to_pem(&chain[1]).unwrap();
    let urlsafe =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &chain[2]);
    let parsed = parse_x5c(&[b64(&chain[0]), pem, urlsafe]).unwrap();
    assert_eq!(parsed, chain);
}

#[test]
fn x5c_errors_name_the_entry() {
    let (_, chain) = leaf_chain();
    assert!(invalid_message(parse_x5c(&[])).contains("empty"));
    let m = invalid_message(parse_x5c(&[b64(&chain[0]), "!!!".into()]));
    assert!(m.starts_with("x5c[1]"), "{m}");
    let m = invalid_message(parse_x5c(&[b64(b"hello world")]));
    assert!(m.starts_with("x5c[0]"), "{m}");
    let too_many: Vec<String> = (0..=super::chain::MAX_CHAIN_LEN)
        .map(|_| b64(&chain[0]))
        .collect();
    assert!(invalid_message(parse_x5c(&too_many)).contains("more than"));
}

// ---- PKCS#12 and PEM import/export -------------------------------------------------------

#[test]
fn pkcs12_round_trip_puts_the_leaf_first() {
    let (key, chain) = leaf_chain();
    let p12 = export_pkcs12(Some(&key), &chain).unwrap();
    let imported = import_bundle(&p12, None).unwrap();
    assert_eq!(imported.chain[0], chain[0]);
    assert_eq!(imported.chain.len(), 3);
    assert!(imported.key.public_eq(&key));
    // Its base64 is accepted too.
    let imported = import_bundle(b64(&p12).as_bytes(), Some("")).unwrap();
    assert_eq!(imported.chain[0], chain[0]);
}

#[test]
fn pkcs12_with_a_password_needs_it() {
    let (key, chain) = leaf_chain();
    let leaf = openssl::x509::X509::from_der(&chain[0]).unwrap();
    let p12 = openssl::pkcs12::Pkcs12::builder()
        .name("t")
        .pkey(&key)
        .cert(&leaf)
        .build2("s3cret")
        .unwrap()
        .to_der()
        .unwrap();
    assert!(import_bundle(&p12, Some("s3cret")).is_ok());
    let m = invalid_message(import_bundle(&p12, Some("wrong")));
    assert!(m.contains("password"), "{m}");
}

#[test]
fn pem_round_trip_and_key_mismatch() {
    let (key, chain) = leaf_chain();
    let pem = export_pem(Some(&key), &chain).unwrap();
    let imported = import_bundle(pem.as_bytes(), None).unwrap();
    assert_eq!(imported.chain, chain);
    // Certificates with a key that belongs to none of them.
    let other = ec_key();
    let mismatched = export_pem(None, &chain).unwrap()
        + &String::from_utf8(other.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let m = invalid_message(import_bundle(mismatched.as_bytes(), None));
    assert!(m.contains("does not match"), "{m}");
    assert!(import_bundle(b"   ", None).is_err());
}
