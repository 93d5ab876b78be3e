//! Certification paths: which certificate signed which, and a bag of certificates ordered
//! leaf first (RFC 5280 §6.1 reads paths from the trust anchor down; x5c and PKCS#12
//! carry them leaf first).

use std::cmp::Ordering;

use openssl::x509::{X509Ref, X509};

/// True when `issuer` issued and signed `subject` (names match, signature verifies).
fn signs(issuer: &X509Ref, subject: &X509Ref) -> bool {
    let names_match = issuer
        .subject_name()
        .try_cmp(subject.issuer_name())
        .is_ok_and(|o| o == Ordering::Equal);
    names_match
        && issuer
            .public_key()
            .is_ok_and(|key| subject.verify(&key).unwrap_or(false))
}

/// Orders certificates leaf first, then each one's issuer. The leaf is `leaf` if given,
/// else the first certificate that signs no other. Certificates outside the leaf's issuer
/// path are kept, after it, in their original order.
pub(crate) fn order_leaf_first(certs: Vec<X509>, leaf: Option<usize>) -> Vec<X509> {
    let n = certs.len();
    if n < 2 {
        return certs;
    }
    // signed_by[j] = indices i != j that signed certs[j].
    let signed_by: Vec<Vec<usize>> = (0..n)
        .map(|j| {
            (0..n)
                .filter(|&i| i != j && signs(&certs[i], &certs[j]))
                .collect()
        })
        .collect();
    let signs_someone = |i: usize| signed_by.iter().any(|issuers| issuers.contains(&i));
    let start = leaf
        .filter(|&i| i < n)
        .or_else(|| (0..n).find(|&i| !signs_someone(i)))
        .unwrap_or(0);
    let mut order = vec![start];
    let mut current = start;
    while let Some(&next) = signed_by[current].iter().find(|i| !order.contains(i)) {
        order.push(next);
        current = next;
    }
    order.extend((0..n).filter(|i| !order.contains(i)).collect::<Vec<_>>());
    let mut slots: Vec<Option<X509>> = certs.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .collect()
}
