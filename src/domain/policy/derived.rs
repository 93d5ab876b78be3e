//! What Key Vault derives from a policy or a certificate: the policy read off an imported
//! certificate (`ImportCertificate` without a policy), and the key operations a policy's
//! key usage allows (`KeyBundle.key.key_ops`).

use super::{
    default_ekus, default_key_usage, ActionType, ContentType, IssuerKind, IssuerParameters,
    KeyProperties, KeySpec, KeyUsage, LifetimeAction, Policy, SubjectAlternativeNames, Trigger,
    X509Properties,
};
use crate::domain::error::DomainError;

/// What an imported certificate says about itself, read by the crypto layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub subject: String,
    pub dns_names: Vec<String>,
    /// notBefore / notAfter, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub key: KeySpec,
}

impl Policy {
    /// The policy Key Vault reads off an imported certificate: its subject, DNS names and
    /// validity, the key's type, issuer `Unknown`, e-mail at 80 % of the lifetime.
    pub fn from_certificate(
        facts: &CertificateFacts,
        content_type: ContentType,
    ) -> Result<Policy, DomainError> {
        let months = ((facts.not_after - facts.not_before) / (30 * 86_400)).clamp(1, 1200) as u32;
        let (kty, size, crv) = match facts.key {
            KeySpec::Rsa { bits } => ("RSA", i64::from(bits), None),
            KeySpec::Ec { curve } => ("EC", i64::from(curve.bits()), Some(curve.as_str())),
        };
        let key_props =
            KeyProperties::resolve(Some(kty), Some(size), crv, Some(true), Some(false))?;
        Ok(Policy {
            key_props,
            content_type,
            x509_props: X509Properties {
                subject: facts.subject.clone(),
                sans: SubjectAlternativeNames {
                    dns_names: facts.dns_names.clone(),
                    ..Default::default()
                },
                ekus: default_ekus(),
                key_usage: default_key_usage(),
                validity_months: months,
            },
            lifetime_actions: vec![LifetimeAction {
                trigger: Trigger::LifetimePercentage(80),
                action: ActionType::EmailContacts,
            }],
            issuer: IssuerParameters {
                name: "Unknown".into(),
                cty: None,
                cert_transparency: None,
            },
            enabled: true,
        })
    }

    /// The key operations Key Vault derives from the key usage: DataEncipherment →
    /// encrypt, decrypt; DecipherOnly → decrypt; EncipherOnly → encrypt; KeyEncipherment →
    /// wrapKey, unwrapKey; the signing usages → sign, verify.
    pub fn key_ops(&self) -> Vec<&'static str> {
        key_ops(&self.x509_props.key_usage)
    }

    /// The lifetime actions due at `now` for a version valid from `nbf` to `exp` that
    /// can be carried out: `AutoRenew` needs an issuer that issues, so a certificate of
    /// issuer `Unknown` (merged by hand) is never renewed automatically.
    pub fn due_actions(&self, nbf: i64, exp: i64, now: i64) -> Vec<ActionType> {
        let renewable = self.issuer.kind() != IssuerKind::Manual;
        self.lifetime_actions
            .iter()
            .filter(|a| now >= a.trigger.due_at(nbf, exp))
            .filter(|a| a.action != ActionType::AutoRenew || renewable)
            .map(|a| a.action)
            .collect()
    }
}

/// The key operations of `usages` (see [`Policy::key_ops`]); without a policy Key Vault's
/// default usages apply.
pub fn key_ops(usages: &[KeyUsage]) -> Vec<&'static str> {
    use KeyUsage as U;
    let mut ops: Vec<&'static str> = Vec::new();
    for u in usages {
        let add: &[&'static str] = match u {
            U::DataEncipherment => &["encrypt", "decrypt"],
            U::DecipherOnly => &["decrypt"],
            U::EncipherOnly => &["encrypt"],
            U::KeyEncipherment => &["wrapKey", "unwrapKey"],
            U::DigitalSignature
            | U::KeyCertSign
            | U::NonRepudiation
            | U::CrlSign
            | U::KeyAgreement => &["sign", "verify"],
        };
        for op in add {
            if !ops.contains(op) {
                ops.push(op);
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Curve;

    #[test]
    fn an_imported_certificate_gives_its_subject_names_validity_and_key() {
        let facts = CertificateFacts {
            subject: "CN=imp.example.com".into(),
            dns_names: vec!["imp.example.com".into()],
            not_before: 0,
            not_after: 365 * 86_400,
            key: KeySpec::Ec { curve: Curve::P384 },
        };
        let p = Policy::from_certificate(&facts, ContentType::Pem).expect("policy");
        assert_eq!(p.x509_props.validity_months, 12);
        assert_eq!(p.key_props.curve, Some(Curve::P384));
        assert_eq!(p.issuer.name, "Unknown");
        assert_eq!(p.content_type, ContentType::Pem);
        assert_eq!(p.x509_props.sans.dns_names, vec!["imp.example.com"]);
    }

    #[test]
    fn key_usages_map_to_key_vaults_operations() {
        assert_eq!(
            key_ops(&default_key_usage()),
            vec!["sign", "verify", "wrapKey", "unwrapKey"]
        );
        assert_eq!(
            key_ops(&[KeyUsage::DataEncipherment, KeyUsage::DecipherOnly]),
            vec!["encrypt", "decrypt"]
        );
    }

    #[test]
    fn due_lifetime_actions_leave_out_renewal_of_a_certificate_merged_by_hand() {
        let facts = CertificateFacts {
            subject: "CN=imp.example.com".into(),
            dns_names: vec![],
            not_before: 0,
            not_after: 100,
            key: KeySpec::Ec { curve: Curve::P256 },
        };
        // Imported: issuer Unknown, e-mail at 80 %; and a renewal at 90 %.
        let mut p = Policy::from_certificate(&facts, ContentType::Pem).expect("policy");
        p.lifetime_actions.push(LifetimeAction {
            trigger: Trigger::LifetimePercentage(90),
            action: ActionType::AutoRenew,
        });
        assert_eq!(p.due_actions(0, 100, 79), vec![]);
        assert_eq!(p.due_actions(0, 100, 95), vec![ActionType::EmailContacts]);
        p.issuer.name = "Self".into();
        assert_eq!(
            p.due_actions(0, 100, 95),
            vec![ActionType::EmailContacts, ActionType::AutoRenew]
        );
    }
}
