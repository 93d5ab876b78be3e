//! The certificate policy as certbroker stores it (Key Vault `CertificatePolicy`): key,
//! secret, X.509, lifetime and issuer properties.
//!
//! These are our storage types (they appear inside events). A policy sent by a client
//! arrives as a [`PolicyPatch`] and becomes a `Policy` through [`Policy::merge`], which holds
//! Key Vault's defaults and validation ([`patch`]); the policy Key Vault reads off an
//! imported certificate and the key operations a policy allows are in [`derived`]. Wire
//! casing and Key Vault's field names live in `http::dto`; this module must not import
//! actix, sqlx or openssl.

mod derived;
mod patch;

pub use derived::CertificateFacts;
pub use patch::{
    IssuerPatch, KeyPropsPatch, LifetimeActionPatch, PolicyPatch, SansPatch, X509Patch,
};

use serde::{Deserialize, Serialize};

use super::error::DomainError;

/// Key type of a certificate's key (Key Vault `JsonWebKeyType`, software keys only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "EC")]
    Ec,
}

impl KeyType {
    /// Key Vault's spelling (`RSA`, `EC`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "EC",
        }
    }
}

/// Elliptic curve of an EC key (Key Vault `JsonWebKeyCurveName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Curve {
    #[serde(rename = "P-256")]
    P256,
    #[serde(rename = "P-384")]
    P384,
    #[serde(rename = "P-521")]
    P521,
    #[serde(rename = "P-256K")]
    P256K,
}

impl Curve {
    /// Key Vault's spelling (`P-256`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::P256K => "P-256K",
        }
    }

    /// Parses Key Vault's curve name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "P-256" => Ok(Curve::P256),
            "P-384" => Ok(Curve::P384),
            "P-521" => Ok(Curve::P521),
            "P-256K" => Ok(Curve::P256K),
            other => Err(DomainError::InvalidPolicy(format!(
                "Unsupported curve '{other}'. Supported curves: P-256, P-384, P-521, P-256K."
            ))),
        }
    }

    /// The key size Key Vault reports for the curve.
    pub fn bits(self) -> u32 {
        match self {
            Curve::P256 | Curve::P256K => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }
}

/// What key to generate: the resolved form of `key_props`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// RSA with a modulus of this many bits (2048, 3072 or 4096).
    Rsa { bits: u32 },
    /// EC on this curve.
    Ec { curve: Curve },
}

/// Every key type name `keys.pool` accepts, with the key it stands for.
pub const KEY_TYPES: &[(&str, KeySpec)] = &[
    ("rsa-2048", KeySpec::Rsa { bits: 2048 }),
    ("rsa-3072", KeySpec::Rsa { bits: 3072 }),
    ("rsa-4096", KeySpec::Rsa { bits: 4096 }),
    ("ec-p256", KeySpec::Ec { curve: Curve::P256 }),
    ("ec-p384", KeySpec::Ec { curve: Curve::P384 }),
    ("ec-p521", KeySpec::Ec { curve: Curve::P521 }),
    (
        "ec-p256k",
        KeySpec::Ec {
            curve: Curve::P256K,
        },
    ),
];

/// The `keys.pool` name of a key type.
pub fn type_name(spec: &KeySpec) -> Option<&'static str> {
    KEY_TYPES.iter().find(|(_, s)| s == spec).map(|(n, _)| *n)
}

/// Key Vault `KeyProperties` (`key_props`), with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyProperties {
    pub exportable: bool,
    pub kty: KeyType,
    pub key_size: u32,
    pub curve: Option<Curve>,
    pub reuse_key: bool,
}

impl KeyProperties {
    /// The key to generate for this policy.
    pub fn spec(&self) -> KeySpec {
        match (self.kty, self.curve) {
            (KeyType::Ec, Some(curve)) => KeySpec::Ec { curve },
            (KeyType::Ec, None) => KeySpec::Ec { curve: Curve::P256 },
            (KeyType::Rsa, _) => KeySpec::Rsa {
                bits: self.key_size,
            },
        }
    }

    /// Resolves `kty`/`key_size`/`crv` as sent (all optional) into a supported key, applying
    /// Key Vault's defaults: RSA 2048, EC P-256.
    pub fn resolve(
        kty: Option<&str>,
        key_size: Option<i64>,
        crv: Option<&str>,
        exportable: Option<bool>,
        reuse_key: Option<bool>,
    ) -> Result<Self, DomainError> {
        let kty = match kty {
            None => {
                if crv.is_some() {
                    KeyType::Ec
                } else {
                    KeyType::Rsa
                }
            }
            Some("RSA") => KeyType::Rsa,
            Some("EC") => KeyType::Ec,
            Some(hsm @ ("RSA-HSM" | "EC-HSM" | "oct-HSM")) => {
                return Err(DomainError::InvalidPolicy(format!(
                    "Key type '{hsm}' needs a hardware security module, which this vault does not have. Use 'RSA' or 'EC'."
                )))
            }
            Some(other) => {
                return Err(DomainError::InvalidPolicy(format!(
                    "Unsupported key type '{other}' for a certificate. Supported key types: RSA, EC."
                )))
            }
        };
        let exportable = exportable.unwrap_or(true);
        let reuse_key = reuse_key.unwrap_or(false);
        match kty {
            KeyType::Rsa => {
                if let Some(c) = crv {
                    return Err(DomainError::InvalidPolicy(format!(
                        "Curve '{c}' was given for an RSA key; 'crv' applies to EC keys only."
                    )));
                }
                let size = key_size.unwrap_or(2048);
                if !matches!(size, 2048 | 3072 | 4096) {
                    return Err(DomainError::InvalidPolicy(format!(
                        "Unsupported RSA key size {size}. Supported sizes: 2048, 3072, 4096."
                    )));
                }
                Ok(KeyProperties {
                    exportable,
                    kty,
                    key_size: size as u32,
                    curve: None,
                    reuse_key,
                })
            }
            KeyType::Ec => {
                let curve = match (crv, key_size) {
                    (Some(c), _) => Curve::parse(c)?,
                    (None, None | Some(256)) => Curve::P256,
                    (None, Some(384)) => Curve::P384,
                    (None, Some(521)) => Curve::P521,
                    (None, Some(other)) => {
                        return Err(DomainError::InvalidPolicy(format!(
                            "Unsupported EC key size {other}. Supported sizes: 256, 384, 521."
                        )))
                    }
                };
                if let Some(size) = key_size {
                    if size != i64::from(curve.bits()) {
                        return Err(DomainError::InvalidPolicy(format!(
                            "Key size {size} does not match curve {}.",
                            curve.as_str()
                        )));
                    }
                }
                Ok(KeyProperties {
                    exportable,
                    kty,
                    key_size: curve.bits(),
                    curve: Some(curve),
                    reuse_key,
                })
            }
        }
    }
}

/// X.509 key usage bits (Key Vault `KeyUsageType`), in Key Vault's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyUsage {
    #[serde(rename = "digitalSignature")]
    DigitalSignature,
    #[serde(rename = "nonRepudiation")]
    NonRepudiation,
    #[serde(rename = "keyEncipherment")]
    KeyEncipherment,
    #[serde(rename = "dataEncipherment")]
    DataEncipherment,
    #[serde(rename = "keyAgreement")]
    KeyAgreement,
    #[serde(rename = "keyCertSign")]
    KeyCertSign,
    #[serde(rename = "cRLSign")]
    CrlSign,
    #[serde(rename = "encipherOnly")]
    EncipherOnly,
    #[serde(rename = "decipherOnly")]
    DecipherOnly,
}

impl KeyUsage {
    /// Parses Key Vault's spelling.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
            DomainError::InvalidPolicy(format!(
                "Unknown key usage '{s}'. Known: digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly."
            ))
        })
    }
}

/// Subject alternative names (Key Vault `SubjectAlternativeNames`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectAlternativeNames {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
}

impl SubjectAlternativeNames {
    /// True when no name of any kind is present.
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty()
            && self.dns_names.is_empty()
            && self.upns.is_empty()
            && self.ip_addresses.is_empty()
            && self.uris.is_empty()
    }
}

/// X.509 properties (Key Vault `X509CertificateProperties`), defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct X509Properties {
    /// The subject as given, e.g. `CN=www.example.com, O=Example`; parsed by
    /// [`DistinguishedName::parse`] when the policy is accepted.
    pub subject: String,
    #[serde(default)]
    pub sans: SubjectAlternativeNames,
    #[serde(default)]
    pub ekus: Vec<String>,
    #[serde(default)]
    pub key_usage: Vec<KeyUsage>,
    pub validity_months: u32,
}

/// A parsed X.509 distinguished name: attribute short names (`CN`, `O`, ...) and values,
/// in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName(pub Vec<(String, String)>);

/// Attribute names accepted in a subject.
pub const DN_ATTRIBUTES: &[&str] = &[
    "CN",
    "O",
    "OU",
    "C",
    "L",
    "ST",
    "S",
    "E",
    "EMAILADDRESS",
    "STREET",
    "DC",
    "SERIALNUMBER",
    "T",
    "TITLE",
    "G",
    "GN",
    "SN",
    "UID",
    "POSTALCODE",
];

impl DistinguishedName {
    /// Parses `CN=a, O=b` (separators `,` or `;`, `\,` escapes a comma, values may be
    /// double-quoted). An empty subject is allowed (then SANs must name the certificate).
    pub fn parse(subject: &str) -> Result<Self, DomainError> {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut in_quotes = false;
        let mut chars = subject.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(next) => current.push(next),
                    None => {
                        return Err(DomainError::InvalidPolicy(
                            "The subject ends with a lone escape character '\\'.".into(),
                        ))
                    }
                },
                '"' => in_quotes = !in_quotes,
                ',' | ';' if !in_quotes => parts.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        if in_quotes {
            return Err(DomainError::InvalidPolicy(
                "The subject has an unterminated quoted value.".into(),
            ));
        }
        parts.push(current);
        let mut out = Vec::new();
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((k, v)) = part.split_once('=') else {
                return Err(DomainError::InvalidPolicy(format!(
                    "The subject '{subject}' is not a valid X.509 distinguished name: '{part}' has no '='."
                )));
            };
            let key = k.trim().to_ascii_uppercase();
            let value = v.trim();
            if !DN_ATTRIBUTES.contains(&key.as_str()) {
                return Err(DomainError::InvalidPolicy(format!(
                    "The subject '{subject}' uses an unknown attribute '{}'.",
                    k.trim()
                )));
            }
            if value.is_empty() {
                return Err(DomainError::InvalidPolicy(format!(
                    "The subject '{subject}' has an empty value for '{}'.",
                    k.trim()
                )));
            }
            if key == "C" && value.chars().count() != 2 {
                return Err(DomainError::InvalidPolicy(format!(
                    "The country 'C={value}' in the subject must be a two-letter code."
                )));
            }
            out.push((key, value.to_owned()));
        }
        Ok(DistinguishedName(out))
    }

    /// The first common name, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == "CN")
            .map(|(_, v)| v.as_str())
    }
}

/// Secret properties: the content type of the certificate's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContentType {
    #[serde(rename = "application/x-pkcs12")]
    Pkcs12,
    #[serde(rename = "application/x-pem-file")]
    Pem,
}

impl ContentType {
    /// The MIME type on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Pkcs12 => "application/x-pkcs12",
            ContentType::Pem => "application/x-pem-file",
        }
    }

    /// Parses a MIME type.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "application/x-pkcs12" => Ok(ContentType::Pkcs12),
            "application/x-pem-file" => Ok(ContentType::Pem),
            other => Err(DomainError::InvalidPolicy(format!(
                "Unsupported secret content type '{other}'. Supported: application/x-pkcs12, application/x-pem-file."
            ))),
        }
    }
}

/// What a lifetime action does (Key Vault `CertificatePolicyAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionType {
    EmailContacts,
    AutoRenew,
}

/// When a lifetime action fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// At this percentage of the lifetime (1-99).
    LifetimePercentage(u32),
    /// This many days before expiry.
    DaysBeforeExpiry(u32),
}

impl Trigger {
    /// When the trigger fires for a version valid from `nbf` to `exp` (Unix seconds). A CA
    /// may issue for less time than the policy asked (ACME CAs choose validity themselves);
    /// when `days_before_expiry` would then fall before the version's start, it fires at
    /// half its lifetime instead of at once, so that renewal never chases itself.
    pub fn due_at(self, nbf: i64, exp: i64) -> i64 {
        match self {
            Trigger::LifetimePercentage(p) => nbf + (exp - nbf) * i64::from(p) / 100,
            Trigger::DaysBeforeExpiry(d) => {
                let due = exp - i64::from(d) * 86_400;
                if due <= nbf {
                    nbf + (exp - nbf) / 2
                } else {
                    due
                }
            }
        }
    }
}

/// One lifetime action (Key Vault `LifetimeAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifetimeAction {
    pub trigger: Trigger,
    pub action: ActionType,
}

/// The issuer reference in a policy (Key Vault `IssuerParameters`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerParameters {
    /// `Self`, `Unknown` or the name of an issuer object.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_transparency: Option<bool>,
}

/// How a certificate request is fulfilled, decided by the issuer name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKind {
    /// `Self`: a self-signed certificate, made at once.
    SelfSigned,
    /// `Unknown`: the owner merges a certificate signed elsewhere.
    Manual,
    /// An issuer object of this vault.
    Object(String),
}

impl IssuerParameters {
    /// The kind of issuance this issuer name means (`Self`/`Unknown` compare case-insensitively).
    pub fn kind(&self) -> IssuerKind {
        if self.name.eq_ignore_ascii_case("self") {
            IssuerKind::SelfSigned
        } else if self.name.eq_ignore_ascii_case("unknown") {
            IssuerKind::Manual
        } else {
            IssuerKind::Object(self.name.clone())
        }
    }
}

/// The whole certificate policy (Key Vault `CertificatePolicy`), defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub key_props: KeyProperties,
    pub content_type: ContentType,
    pub x509_props: X509Properties,
    pub lifetime_actions: Vec<LifetimeAction>,
    pub issuer: IssuerParameters,
    pub enabled: bool,
}

/// Key Vault's default key usages for a new policy.
pub fn default_key_usage() -> Vec<KeyUsage> {
    vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment]
}

/// Key Vault's default extended key usages: server and client authentication.
pub fn default_ekus() -> Vec<String> {
    vec!["1.3.6.1.5.5.7.3.1".into(), "1.3.6.1.5.5.7.3.2".into()]
}

/// Checks that an EKU is a dotted OID.
pub fn validate_eku(oid: &str) -> Result<(), DomainError> {
    let ok = oid.split('.').count() >= 2
        && oid
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(DomainError::InvalidPolicy(format!(
            "The extended key usage '{oid}' is not a dotted object identifier such as 1.3.6.1.5.5.7.3.1."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_fire_at_their_point_of_the_lifetime() {
        let day = 86_400;
        assert_eq!(
            Trigger::LifetimePercentage(80).due_at(0, 100 * day),
            80 * day
        );
        assert_eq!(
            Trigger::DaysBeforeExpiry(30).due_at(0, 365 * day),
            335 * day
        );
        // A window longer than the lifetime fires halfway, not at once.
        assert_eq!(Trigger::DaysBeforeExpiry(30).due_at(0, 10 * day), 5 * day);
    }
}
