//! `CertificatePolicy` on the wire, in both directions: a policy as sent becomes the
//! domain's [`PolicyPatch`] (validated and merged in the domain), and a stored
//! [`Policy`] renders as Key Vault returns it.

use serde::{Deserialize, Serialize};

use crate::projections::certificates::CertificateRow;

use crate::domain::policy::{
    ActionType, IssuerPatch, KeyPropsPatch, LifetimeActionPatch, Policy, PolicyPatch, SansPatch,
    Trigger, X509Patch,
};

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

impl From<PolicyRequest> for PolicyPatch {
    fn from(r: PolicyRequest) -> Self {
        PolicyPatch {
            key_props: r.key_props.map(|k| KeyPropsPatch {
                exportable: k.exportable,
                kty: k.kty,
                key_size: k.key_size,
                reuse_key: k.reuse_key,
                crv: k.crv,
            }),
            content_type: r.secret_props.and_then(|s| s.content_type),
            x509_props: r.x509_props.map(|x| X509Patch {
                subject: x.subject,
                sans: x.sans.map(|s| SansPatch {
                    emails: s.emails,
                    dns_names: s.dns_names,
                    upns: s.upns,
                    ip_addresses: s.ip_addresses,
                    uris: s.uris,
                }),
                ekus: x.ekus,
                key_usage: x.key_usage,
                validity_months: x.validity_months,
            }),
            lifetime_actions: r.lifetime_actions.map(|actions| {
                actions
                    .into_iter()
                    .map(|a| {
                        let t = a.trigger.unwrap_or_default();
                        LifetimeActionPatch {
                            lifetime_percentage: t.lifetime_percentage,
                            days_before_expiry: t.days_before_expiry,
                            action_type: a.action.and_then(|a| a.action_type),
                        }
                    })
                    .collect()
            }),
            issuer: r.issuer.map(|i| IssuerPatch {
                name: i.name,
                cty: i.cty,
                cert_transparency: i.cert_transparency,
            }),
            enabled: r.attributes.and_then(|a| a.enabled),
        }
    }
}

/// The policy of a certificate's row as Key Vault returns it.
pub fn certificate_policy(base_url: &str, c: &CertificateRow) -> serde_json::Value {
    policy_response(
        base_url,
        &c.name,
        &c.policy.0,
        c.policy_created,
        c.policy_updated,
    )
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
