//! `CertificatePolicy` on the wire, in both directions, and its validation into the
//! domain's [`Policy`] (Key Vault's defaults filled in).

use serde::{Deserialize, Serialize};

use crate::domain::names::ObjectName;
use crate::domain::policy::{
    default_ekus, default_key_usage, validate_eku, ActionType, ContentType, DistinguishedName,
    IssuerKind, IssuerParameters, KeyProperties, KeyUsage, LifetimeAction, Policy,
    SubjectAlternativeNames, Trigger, X509Properties,
};
use crate::domain::DomainError;

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct KeyPropsRequest {
    pub exportable: Option<bool>,
    pub kty: Option<String>,
    pub key_size: Option<i64>,
    pub reuse_key: Option<bool>,
    pub crv: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct SecretPropsRequest {
    #[serde(rename = "contentType")]
    pub content_type: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct SansRequest {
    pub emails: Option<Vec<String>>,
    pub dns_names: Option<Vec<String>>,
    pub upns: Option<Vec<String>>,
    #[serde(rename = "ipAddresses")]
    pub ip_addresses: Option<Vec<String>>,
    pub uris: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct X509PropsRequest {
    pub subject: Option<String>,
    pub sans: Option<SansRequest>,
    pub ekus: Option<Vec<String>>,
    pub key_usage: Option<Vec<String>>,
    pub validity_months: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct TriggerRequest {
    pub lifetime_percentage: Option<i64>,
    pub days_before_expiry: Option<i64>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct ActionRequest {
    pub action_type: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct LifetimeActionRequest {
    pub trigger: Option<TriggerRequest>,
    pub action: Option<ActionRequest>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct IssuerRequest {
    pub name: Option<String>,
    pub cty: Option<String>,
    pub cert_transparency: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct PolicyAttributesRequest {
    pub enabled: Option<bool>,
}

/// A policy as sent (every field optional).
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct PolicyRequest {
    pub key_props: Option<KeyPropsRequest>,
    pub secret_props: Option<SecretPropsRequest>,
    pub x509_props: Option<X509PropsRequest>,
    pub lifetime_actions: Option<Vec<LifetimeActionRequest>>,
    pub issuer: Option<IssuerRequest>,
    pub attributes: Option<PolicyAttributesRequest>,
}

fn lifetime_actions(
    given: &[LifetimeActionRequest],
    validity_months: u32,
) -> Result<Vec<LifetimeAction>, DomainError> {
    let bad = |m: String| DomainError::InvalidPolicy(m);
    let mut out = Vec::new();
    for (i, a) in given.iter().enumerate() {
        let trigger = a.trigger.clone().unwrap_or_default();
        let trigger = match (trigger.lifetime_percentage, trigger.days_before_expiry) {
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
        let action = match a.action.as_ref().and_then(|a| a.action_type.as_deref()) {
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

impl PolicyRequest {
    /// Validates the policy and fills what is absent: from `base` (PATCH semantics) when
    /// given, else Key Vault's defaults (RSA 2048 exportable, PKCS#12, 12 months, issuer
    /// `Unknown`).
    pub fn into_policy(self, base: Option<&Policy>) -> Result<Policy, DomainError> {
        let kp = self.key_props.unwrap_or_default();
        let base_kp = base.map(|b| &b.key_props);
        let kty_given = kp.kty.is_some() || kp.crv.is_some() || kp.key_size.is_some();
        let key_props = KeyProperties::resolve(
            kp.kty.as_deref().or(if kty_given {
                None
            } else {
                base_kp.map(|k| k.kty.as_str())
            }),
            kp.key_size.or(if kty_given {
                None
            } else {
                base_kp.map(|k| i64::from(k.key_size))
            }),
            kp.crv.as_deref().or(if kty_given {
                None
            } else {
                base_kp.and_then(|k| k.curve.map(|c| c.as_str()))
            }),
            kp.exportable.or(base_kp.map(|k| k.exportable)),
            kp.reuse_key.or(base_kp.map(|k| k.reuse_key)),
        )?;
        let content_type = match self.secret_props.and_then(|s| s.content_type) {
            Some(ct) => ContentType::parse(&ct)?,
            None => base.map(|b| b.content_type).unwrap_or(ContentType::Pkcs12),
        };
        let xp = self.x509_props.unwrap_or_default();
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
        let issuer = match self.issuer {
            Some(i) => {
                let name = i.name.unwrap_or_else(|| "Unknown".into());
                let params = IssuerParameters {
                    name: name.clone(),
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
        let lifetime_actions = match self.lifetime_actions {
            Some(given) => lifetime_actions(&given, validity_months)?,
            None => match base {
                Some(b) => b.lifetime_actions.clone(),
                None => default_lifetime_actions(&issuer),
            },
        };
        let enabled = self
            .attributes
            .and_then(|a| a.enabled)
            .or(base.map(|b| b.enabled))
            .unwrap_or(true);
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

/// A policy as Key Vault returns it.
pub fn policy_response(
    base_url: &str,
    name: &str,
    policy: &Policy,
    created: i64,
    updated: i64,
) -> serde_json::Value {
    let kp = &policy.key_props;
    let mut key_props = serde_json::json!({
        "exportable": kp.exportable,
        "kty": kp.kty.as_str(),
        "key_size": kp.key_size,
        "reuse_key": kp.reuse_key,
    });
    if let Some(c) = kp.curve {
        key_props["crv"] = c.as_str().into();
    }
    let xp = &policy.x509_props;
    let mut sans = serde_json::Map::new();
    let s = &xp.sans;
    for (k, v) in [
        ("emails", &s.emails),
        ("dns_names", &s.dns_names),
        ("upns", &s.upns),
        ("ipAddresses", &s.ip_addresses),
        ("uris", &s.uris),
    ] {
        if !v.is_empty() {
            sans.insert(k.into(), serde_json::json!(v));
        }
    }
    let mut x509 = serde_json::json!({
        "subject": xp.subject,
        "ekus": xp.ekus,
        "key_usage": xp.key_usage,
        "validity_months": xp.validity_months,
    });
    if !sans.is_empty() {
        x509["sans"] = serde_json::Value::Object(sans);
    }
    let actions: Vec<_> = policy
        .lifetime_actions
        .iter()
        .map(|a| {
            let trigger = match a.trigger {
                Trigger::LifetimePercentage(p) => serde_json::json!({ "lifetime_percentage": p }),
                Trigger::DaysBeforeExpiry(d) => serde_json::json!({ "days_before_expiry": d }),
            };
            let action = match a.action {
                ActionType::EmailContacts => "EmailContacts",
                ActionType::AutoRenew => "AutoRenew",
            };
            serde_json::json!({ "trigger": trigger, "action": { "action_type": action } })
        })
        .collect();
    let mut issuer = serde_json::json!({ "name": policy.issuer.name });
    if let Some(cty) = &policy.issuer.cty {
        issuer["cty"] = cty.as_str().into();
    }
    if let Some(ct) = policy.issuer.cert_transparency {
        issuer["cert_transparency"] = ct.into();
    }
    serde_json::json!({
        "id": format!("{base_url}/certificates/{name}/policy"),
        "key_props": key_props,
        "secret_props": { "contentType": policy.content_type.as_str() },
        "x509_props": x509,
        "lifetime_actions": actions,
        "issuer": issuer,
        "attributes": { "enabled": policy.enabled, "created": created, "updated": updated },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Policy, DomainError> {
        serde_json::from_value::<PolicyRequest>(v)
            .expect("shape")
            .into_policy(None)
    }

    #[test]
    fn sdk_minimal_policy_gets_key_vault_defaults() {
        let p = parse(serde_json::json!({
            "key_props": {"exportable": true, "kty": "EC"},
            "secret_props": {"contentType": "application/x-pkcs12"},
            "x509_props": {"subject": "CN=x", "sans": {}, "validity_months": 12},
            "issuer": {"name": "Self"}
        }))
        .expect("valid");
        assert_eq!(p.key_props.curve.map(|c| c.as_str()), Some("P-256"));
        assert_eq!(p.lifetime_actions[0].action, ActionType::AutoRenew);
        assert_eq!(p.x509_props.ekus, default_ekus());
    }

    #[test]
    fn bad_values_are_refused_with_their_field_named() {
        for (body, needle) in [
            (
                serde_json::json!({"x509_props": {"subject": "CN=x"}, "key_props": {"kty": "EC", "crv": "P-999"}}),
                "P-999",
            ),
            (
                serde_json::json!({"x509_props": {"subject": "CN=x"}, "key_props": {"kty": "RSA", "key_size": 1024}}),
                "1024",
            ),
            (
                serde_json::json!({"x509_props": {"subject": "CN=x"}, "key_props": {"kty": "oct"}}),
                "oct",
            ),
            (
                serde_json::json!({"x509_props": {"subject": "nonsense"}}),
                "nonsense",
            ),
            (serde_json::json!({"x509_props": {}}), "subject"),
            (
                serde_json::json!({"x509_props": {"subject": "CN=x", "validity_months": 0}}),
                "validity_months",
            ),
            (
                serde_json::json!({"x509_props": {"subject": "CN=x", "ekus": ["serverAuth"]}}),
                "serverAuth",
            ),
            (
                serde_json::json!({"x509_props": {"subject": "CN=x"}, "lifetime_actions": [{"trigger": {"lifetime_percentage": 100}, "action": {"action_type": "AutoRenew"}}]}),
                "lifetime_percentage",
            ),
            (
                serde_json::json!({"x509_props": {"subject": "CN=x"}, "issuer": {"name": "bad_name"}}),
                "bad_name",
            ),
        ] {
            let err = parse(body).expect_err("must be refused").to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}
