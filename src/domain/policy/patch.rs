//! A policy as a client sends it (every field optional) and how it becomes a [`Policy`]:
//! over Key Vault's defaults for a new certificate (`CreateCertificate`), or over the policy
//! in force for `UpdateCertificatePolicy` / `UpdateCertificate` (PATCH semantics: fields
//! sent replace, fields absent are kept). Every value is validated here.

use super::{
    default_ekus, default_key_usage, validate_eku, ActionType, ContentType, DistinguishedName,
    IssuerKind, IssuerParameters, KeyProperties, KeyUsage, LifetimeAction, Policy,
    SubjectAlternativeNames, Trigger, X509Properties,
};
use crate::domain::error::DomainError;
use crate::domain::names::ObjectName;

/// `key_props` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPropsPatch {
    pub exportable: Option<bool>,
    pub kty: Option<String>,
    pub key_size: Option<i64>,
    pub reuse_key: Option<bool>,
    pub crv: Option<String>,
}

/// `x509_props.sans` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SansPatch {
    pub emails: Option<Vec<String>>,
    pub dns_names: Option<Vec<String>>,
    pub upns: Option<Vec<String>>,
    pub ip_addresses: Option<Vec<String>>,
    pub uris: Option<Vec<String>>,
}

/// `x509_props` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct X509Patch {
    pub subject: Option<String>,
    pub sans: Option<SansPatch>,
    pub ekus: Option<Vec<String>>,
    pub key_usage: Option<Vec<String>>,
    pub validity_months: Option<i64>,
}

/// One of `lifetime_actions` as sent (its trigger and action flattened).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifetimeActionPatch {
    pub lifetime_percentage: Option<i64>,
    pub days_before_expiry: Option<i64>,
    pub action_type: Option<String>,
}

/// `issuer` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuerPatch {
    pub name: Option<String>,
    pub cty: Option<String>,
    pub cert_transparency: Option<bool>,
}

/// A `CertificatePolicy` as sent: what is absent comes from the base (or the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyPatch {
    pub key_props: Option<KeyPropsPatch>,
    /// `secret_props.contentType`.
    pub content_type: Option<String>,
    pub x509_props: Option<X509Patch>,
    pub lifetime_actions: Option<Vec<LifetimeActionPatch>>,
    pub issuer: Option<IssuerPatch>,
    /// `attributes.enabled`.
    pub enabled: Option<bool>,
}

fn lifetime_actions(
    given: &[LifetimeActionPatch],
    validity_months: u32,
) -> Result<Vec<LifetimeAction>, DomainError> {
    let bad = |m: String| DomainError::InvalidPolicy(m);
    let mut out = Vec::new();
    for (i, a) in given.iter().enumerate() {
        let trigger = match (a.lifetime_percentage, a.days_before_expiry) {
            (Some(p), None) if (1..=99).contains(&p) => Trigger::LifetimePercentage(p as u32),
            (Some(p), None) => {
                return Err(bad(format!(
                    "lifetime_actions[{i}].trigger.lifetime_percentage must be between 1 and 99; got {p}."
                )))
            }
            (None, Some(d)) => {
                let max = i64::from(validity_months) * 27;
                if !(1..=max).contains(&d) {
                    return Err(bad(format!(
                        "lifetime_actions[{i}].trigger.days_before_expiry must be between 1 and {max} (validity_months x 27); got {d}."
                    )));
                }
                Trigger::DaysBeforeExpiry(d as u32)
            }
            (Some(_), Some(_)) => {
                return Err(bad(format!(
                    "lifetime_actions[{i}].trigger may have lifetime_percentage or days_before_expiry, not both."
                )))
            }
            (None, None) => {
                return Err(bad(format!(
                    "lifetime_actions[{i}].trigger needs lifetime_percentage or days_before_expiry."
                )))
            }
        };
        let action = match a.action_type.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("EmailContacts") => ActionType::EmailContacts,
            Some(t) if t.eq_ignore_ascii_case("AutoRenew") => ActionType::AutoRenew,
            Some(t) => {
                return Err(bad(format!(
                    "lifetime_actions[{i}].action.action_type '{t}' is unknown; use EmailContacts or AutoRenew."
                )))
            }
            None => {
                return Err(bad(format!(
                    "lifetime_actions[{i}].action.action_type is required."
                )))
            }
        };
        out.push(LifetimeAction { trigger, action });
    }
    Ok(out)
}

/// Key Vault's default lifetime action for a new policy: renew at 80 % of the lifetime,
/// or e-mail the contacts when the certificate is merged by hand (issuer `Unknown`).
fn default_lifetime_actions(issuer: &IssuerParameters) -> Vec<LifetimeAction> {
    let action = match issuer.kind() {
        IssuerKind::Manual => ActionType::EmailContacts,
        IssuerKind::SelfSigned | IssuerKind::Object(_) => ActionType::AutoRenew,
    };
    vec![LifetimeAction {
        trigger: Trigger::LifetimePercentage(80),
        action,
    }]
}

fn validate_sans(sans: &SubjectAlternativeNames) -> Result<(), DomainError> {
    for ip in &sans.ip_addresses {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(DomainError::InvalidPolicy(format!(
                "x509_props.sans.ipAddresses: '{ip}' is not an IPv4 or IPv6 address."
            )));
        }
    }
    for dns in &sans.dns_names {
        let ok = !dns.is_empty()
            && dns.len() <= 253
            && dns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'*');
        if !ok {
            return Err(DomainError::InvalidPolicy(format!(
                "x509_props.sans.dns_names: '{dns}' is not a valid DNS name."
            )));
        }
    }
    Ok(())
}

impl Policy {
    /// A new certificate's policy: `patch` over Key Vault's defaults (RSA 2048 exportable,
    /// PKCS#12, 12 months, issuer `Unknown`, server and client authentication, renewal or
    /// e-mail at 80 %).
    pub fn new(patch: PolicyPatch) -> Result<Policy, DomainError> {
        Self::merge(None, patch)
    }

    /// This policy with `patch` applied (PATCH semantics).
    pub fn apply(&self, patch: PolicyPatch) -> Result<Policy, DomainError> {
        Self::merge(Some(self), patch)
    }

    /// Validates `patch` and fills what is absent from `base` when given, else from Key
    /// Vault's defaults.
    pub fn merge(base: Option<&Policy>, patch: PolicyPatch) -> Result<Policy, DomainError> {
        let kp = patch.key_props.unwrap_or_default();
        let base_kp = base.map(|b| &b.key_props);
        // A key type, size or curve sent replaces the key's whole shape.
        let kty_given = kp.kty.is_some() || kp.crv.is_some() || kp.key_size.is_some();
        let inherit = |f: fn(&KeyProperties) -> Option<String>| {
            if kty_given {
                None
            } else {
                base_kp.and_then(f)
            }
        };
        let kty = kp
            .kty
            .or_else(|| inherit(|k| Some(k.kty.as_str().to_owned())));
        let crv = kp
            .crv
            .or_else(|| inherit(|k| k.curve.map(|c| c.as_str().to_owned())));
        let key_size = kp.key_size.or(if kty_given {
            None
        } else {
            base_kp.map(|k| i64::from(k.key_size))
        });
        let key_props = KeyProperties::resolve(
            kty.as_deref(),
            key_size,
            crv.as_deref(),
            kp.exportable.or(base_kp.map(|k| k.exportable)),
            kp.reuse_key.or(base_kp.map(|k| k.reuse_key)),
        )?;
        let content_type = match patch.content_type {
            Some(ct) => ContentType::parse(&ct)?,
            None => base.map(|b| b.content_type).unwrap_or(ContentType::Pkcs12),
        };
        let xp = patch.x509_props.unwrap_or_default();
        let base_xp = base.map(|b| &b.x509_props);
        let subject = xp
            .subject
            .or_else(|| base_xp.map(|x| x.subject.clone()))
            .unwrap_or_default();
        DistinguishedName::parse(&subject)?;
        let sans = match xp.sans {
            Some(s) => SubjectAlternativeNames {
                emails: s.emails.unwrap_or_default(),
                dns_names: s.dns_names.unwrap_or_default(),
                upns: s.upns.unwrap_or_default(),
                ip_addresses: s.ip_addresses.unwrap_or_default(),
                uris: s.uris.unwrap_or_default(),
            },
            None => base_xp.map(|x| x.sans.clone()).unwrap_or_default(),
        };
        validate_sans(&sans)?;
        if subject.trim().is_empty() && sans.is_empty() {
            return Err(DomainError::InvalidPolicy(
                "The policy needs x509_props.subject or at least one subject alternative name."
                    .into(),
            ));
        }
        let ekus = match xp.ekus {
            Some(e) => e,
            None => base_xp.map(|x| x.ekus.clone()).unwrap_or_else(default_ekus),
        };
        for e in &ekus {
            validate_eku(e)?;
        }
        let key_usage = match xp.key_usage {
            Some(k) => k
                .iter()
                .map(|u| KeyUsage::parse(u))
                .collect::<Result<_, _>>()?,
            None => base_xp
                .map(|x| x.key_usage.clone())
                .unwrap_or_else(default_key_usage),
        };
        let validity_months = match xp.validity_months {
            Some(m) if (1..=1200).contains(&m) => m as u32,
            Some(m) => {
                return Err(DomainError::InvalidPolicy(format!(
                    "x509_props.validity_months must be between 1 and 1200; got {m}."
                )))
            }
            None => base_xp.map(|x| x.validity_months).unwrap_or(12),
        };
        let issuer = match patch.issuer {
            Some(i) => {
                let params = IssuerParameters {
                    name: i.name.unwrap_or_else(|| "Unknown".into()),
                    cty: i.cty,
                    cert_transparency: i.cert_transparency,
                };
                if let IssuerKind::Object(n) = params.kind() {
                    ObjectName::parse("issuer", &n)?;
                }
                params
            }
            None => base.map(|b| b.issuer.clone()).unwrap_or(IssuerParameters {
                name: "Unknown".into(),
                cty: None,
                cert_transparency: None,
            }),
        };
        let lifetime_actions = match patch.lifetime_actions {
            Some(given) => lifetime_actions(&given, validity_months)?,
            None => match base {
                Some(b) => b.lifetime_actions.clone(),
                None => default_lifetime_actions(&issuer),
            },
        };
        let enabled = patch.enabled.or(base.map(|b| b.enabled)).unwrap_or(true);
        Ok(Policy {
            key_props,
            content_type,
            x509_props: X509Properties {
                subject,
                sans,
                ekus,
                key_usage,
                validity_months,
            },
            lifetime_actions,
            issuer,
            enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{Curve, KeyType};

    fn x509(subject: &str) -> Option<X509Patch> {
        Some(X509Patch {
            subject: Some(subject.into()),
            ..Default::default()
        })
    }

    fn key(kty: &str, crv: Option<&str>, size: Option<i64>) -> Option<KeyPropsPatch> {
        Some(KeyPropsPatch {
            kty: Some(kty.into()),
            crv: crv.map(Into::into),
            key_size: size,
            ..Default::default()
        })
    }

    #[test]
    fn given_nothing_when_an_sdk_minimal_policy_arrives_then_key_vaults_defaults_fill_it() {
        let p = Policy::new(PolicyPatch {
            key_props: Some(KeyPropsPatch {
                exportable: Some(true),
                kty: Some("EC".into()),
                ..Default::default()
            }),
            content_type: Some("application/x-pkcs12".into()),
            x509_props: Some(X509Patch {
                subject: Some("CN=x".into()),
                sans: Some(SansPatch::default()),
                validity_months: Some(12),
                ..Default::default()
            }),
            issuer: Some(IssuerPatch {
                name: Some("Self".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(p.key_props.curve, Some(Curve::P256));
        assert_eq!(p.lifetime_actions[0].action, ActionType::AutoRenew);
        assert_eq!(p.x509_props.ekus, default_ekus());
        let manual = Policy::new(PolicyPatch {
            x509_props: x509("CN=m"),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(manual.issuer.name, "Unknown");
        assert_eq!(manual.key_props.kty, KeyType::Rsa);
        assert_eq!(manual.key_props.key_size, 2048);
        assert_eq!(manual.lifetime_actions[0].action, ActionType::EmailContacts);
    }

    #[test]
    fn given_a_policy_when_a_patch_names_some_fields_then_the_others_are_kept() {
        let base = Policy::new(PolicyPatch {
            key_props: key("EC", Some("P-384"), None),
            x509_props: Some(X509Patch {
                subject: Some("CN=a".into()),
                validity_months: Some(6),
                ..Default::default()
            }),
            ..Default::default()
        })
        .expect("base");
        let patched = base
            .apply(PolicyPatch {
                x509_props: Some(X509Patch {
                    validity_months: Some(3),
                    ..Default::default()
                }),
                enabled: Some(false),
                ..Default::default()
            })
            .expect("patched");
        assert_eq!(patched.x509_props.subject, "CN=a");
        assert_eq!(patched.x509_props.validity_months, 3);
        assert_eq!(patched.key_props.curve, Some(Curve::P384));
        assert!(!patched.enabled);
        // A key type sent replaces the key's whole shape.
        let rsa = base
            .apply(PolicyPatch {
                key_props: key("RSA", None, None),
                ..Default::default()
            })
            .expect("rsa");
        assert_eq!(
            (rsa.key_props.kty, rsa.key_props.key_size),
            (KeyType::Rsa, 2048)
        );
        assert_eq!(rsa.key_props.curve, None);
    }

    #[test]
    fn when_values_are_bad_then_the_patch_is_refused_with_the_field_named() {
        let cases: Vec<(PolicyPatch, &str)> = vec![
            (
                PolicyPatch {
                    x509_props: x509("CN=x"),
                    key_props: key("EC", Some("P-999"), None),
                    ..Default::default()
                },
                "P-999",
            ),
            (
                PolicyPatch {
                    x509_props: x509("CN=x"),
                    key_props: key("RSA", None, Some(1024)),
                    ..Default::default()
                },
                "1024",
            ),
            (
                PolicyPatch {
                    x509_props: x509("CN=x"),
                    key_props: key("oct", None, None),
                    ..Default::default()
                },
                "oct",
            ),
            (
                PolicyPatch {
                    x509_props: x509("nonsense"),
                    ..Default::default()
                },
                "nonsense",
            ),
            (
                PolicyPatch {
                    x509_props: Some(X509Patch::default()),
                    ..Default::default()
                },
                "subject",
            ),
            (
                PolicyPatch {
                    x509_props: Some(X509Patch {
                        subject: Some("CN=x".into()),
                        validity_months: Some(0),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "validity_months",
            ),
            (
                PolicyPatch {
                    x509_props: Some(X509Patch {
                        subject: Some("CN=x".into()),
                        ekus: Some(vec!["serverAuth".into()]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "serverAuth",
            ),
            (
                PolicyPatch {
                    x509_props: x509("CN=x"),
                    lifetime_actions: Some(vec![LifetimeActionPatch {
                        lifetime_percentage: Some(100),
                        action_type: Some("AutoRenew".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                "lifetime_percentage",
            ),
            (
                PolicyPatch {
                    x509_props: x509("CN=x"),
                    issuer: Some(IssuerPatch {
                        name: Some("bad_name".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "bad_name",
            ),
        ];
        for (patch, needle) in cases {
            let err = Policy::new(patch).expect_err("must be refused").to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}
