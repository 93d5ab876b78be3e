//! Access tokens for unchanged Azure clients: ES256 JWTs minted for an identity (a token
//! name, an OAuth client, a federated workload identity) and checked when they come back.
//! It owns the signing key (sealed at rest, opened at start), the tenant id and the
//! workload-identity issuers' keys. Whether the identity still exists is the caller's
//! check (the gate looks it up on every request, so revoking takes effect at once).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::clock::Clock;
use crate::config::{FederatedIdentity, IdentitySettings};
use crate::crypto::{self, jwt, PKey, Private, Public};

/// Which kind of identity a token was minted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// A token from the configuration (`auth.token`, `auth.tokens`, the dev token).
    Config,
    /// A token made with `certbroker token create`.
    Token,
    /// An OAuth client made with `certbroker client create`.
    Client,
    /// A workload identity of `identity.federated`.
    Federated,
}

impl IdentityKind {
    /// The name in the token's `cb_kind` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Config => "config",
            IdentityKind::Token => "token",
            IdentityKind::Client => "client",
            IdentityKind::Federated => "federated",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Config, Self::Token, Self::Client, Self::Federated]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// How the identity is named as an actor (audit records, logs): token names as they
    /// are, other kinds with their kind in front so they cannot pass for a token.
    pub fn actor(self, name: &str) -> String {
        match self {
            IdentityKind::Config | IdentityKind::Token => name.to_owned(),
            k => format!("{}:{name}", k.as_str()),
        }
    }
}

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: IdentityKind,
    pub name: String,
    /// The GUID shown as `client_id` / `appid`.
    pub client_id: String,
}

/// A minted access token.
#[derive(Debug, Clone)]
pub struct Minted {
    pub access_token: String,
    /// Unix seconds.
    pub expires_on: i64,
    /// Seconds from now, as Entra ID counts them (one less than the lifetime).
    pub expires_in: i64,
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub kind: IdentityKind,
    pub name: String,
    pub audience: String,
}

/// Which audiences a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Key Vault (`auth.resource` and `identity.vault_audiences`).
    Vault,
    /// The resource manager (`identity.arm_audiences`).
    ResourceManager,
}

/// Why a JWT was refused (the message goes to the client).
pub const EXPIRED: &str = "The access token has expired.";
pub const NOT_YET_VALID: &str = "The access token is not yet valid.";
pub const BAD_SIGNATURE: &str = "The access token's signature does not verify.";
pub const BAD_CLAIMS: &str = "The access token lacks the claims this server puts in its tokens.";
pub const WRONG_AUDIENCE: &str = "The access token's audience is not accepted on this route.";

/// Allowed clock difference for `nbf`, in seconds.
const NBF_LEEWAY: i64 = 60;

/// Mints and checks access tokens.
pub struct TokenIssuer {
    key: PKey<Private>,
    public: PKey<Public>,
    kid: String,
    tenant_id: String,
    lifetime: i64,
    clock: Arc<dyn Clock>,
    vault_audiences: Vec<String>,
    arm_audiences: Vec<String>,
    arm_configured: Vec<String>,
    federated: Vec<(FederatedIdentity, PKey<Public>)>,
    imds_identity: String,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.kid)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// An audience without its trailing slashes, lowercase, for comparison.
fn normal(aud: &str) -> String {
    aud.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl TokenIssuer {
    /// `key`: the P-256 signing key; `federated`: each configured issuer with its key.
    pub fn new(
        key: PKey<Private>,
        tenant_id: String,
        settings: &IdentitySettings,
        vault_resource: &str,
        federated: Vec<(FederatedIdentity, PKey<Public>)>,
        clock: Arc<dyn Clock>,
    ) -> crypto::Result<Self> {
        let public = jwt::public_of(&key)?;
        let kid = hex::encode(&crypto::seal::sha256(&public.public_key_to_der()?)[..8]);
        let mut vault_audiences = vec![normal(vault_resource)];
        vault_audiences.extend(settings.vault_audiences.iter().map(|a| normal(a)));
        Ok(TokenIssuer {
            key,
            public,
            kid,
            tenant_id,
            lifetime: settings.token_lifetime_seconds.max(60),
            clock,
            vault_audiences,
            arm_audiences: settings.arm_audiences.iter().map(|a| normal(a)).collect(),
            arm_configured: settings.arm_audiences.clone(),
            federated,
            imds_identity: settings.imds_identity.clone(),
        })
    }

    /// The tenant GUID (`tid`, the challenge's tenant, the OAuth paths' tenant).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// Lifetime of minted tokens, in seconds.
    pub fn lifetime(&self) -> i64 {
        self.lifetime
    }

    /// The resource-manager audiences as configured (what a cloud's metadata lists).
    pub fn arm_audiences_as_configured(&self) -> &[String] {
        &self.arm_configured
    }

    /// The signing key as a JSON Web Key Set (RFC 7517), for clients that verify tokens.
    pub fn jwks(&self) -> crypto::Result<Value> {
        let mut jwk = crypto::keys::public_jwk(&self.public.public_key_to_der()?)?;
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kid".into(), json!(self.kid));
            o.insert("use".into(), json!("sig"));
            o.insert("alg".into(), json!("ES256"));
        }
        Ok(json!({ "keys": [jwk] }))
    }

    /// The token name IMDS-style requests get tokens for (empty: none).
    pub fn imds_identity(&self) -> &str {
        &self.imds_identity
    }

    /// A GUID that stands for the identity `kind`/`name` in this tenant, the same each time.
    pub fn guid_for(&self, kind: IdentityKind, name: &str) -> String {
        let digest =
            crypto::seal::sha1(format!("{}/{}/{name}", self.tenant_id, kind.as_str()).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_sha1_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// The subscription GUID shown to the az CLI (one per tenant).
    pub fn subscription_id(&self) -> String {
        self.guid_for(IdentityKind::Config, "subscription")
    }

    /// An access token for `subject` with audience `resource` exactly as asked, issued by
    /// `issuer` (the URL of the tenant the client called).
    pub fn mint(&self, subject: &Subject, resource: &str, issuer: &str) -> crypto::Result<Minted> {
        let now = self.clock.now().timestamp();
        let exp = now + self.lifetime;
        let oid = self.guid_for(subject.kind, &subject.name);
        let claims = json!({
            "aud": resource,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "tid": self.tenant_id,
            "oid": oid,
            "sub": oid,
            "appid": subject.client_id,
            "azp": subject.client_id,
            "idtyp": "app",
            "name": subject.name,
            "cb_kind": subject.kind.as_str(),
            "uti": uuid::Uuid::new_v4().simple().to_string(),
            "ver": "1.0",
        });
        Ok(Minted {
            access_token: jwt::sign_es256(&self.key, &self.kid, &claims)?,
            expires_on: exp,
            expires_in: self.lifetime - 1,
        })
    }

    /// Checks a token this server minted: signature, `nbf`, `exp`, and the audience the
    /// route accepts. Returns who it is for; whether that identity still exists is the
    /// caller's check.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Bearer, &'static str> {
        let verified = jwt::verify(token, &self.public).map_err(|_| BAD_SIGNATURE)?;
        if verified.header["kid"].as_str() != Some(self.kid.as_str()) {
            return Err(BAD_SIGNATURE);
        }
        let c = &verified.claims;
        let now = self.clock.now().timestamp();
        let (Some(exp), Some(nbf)) = (c["exp"].as_i64(), c["nbf"].as_i64()) else {
            return Err(BAD_CLAIMS);
        };
        if exp <= now {
            return Err(EXPIRED);
        }
        if nbf > now + NBF_LEEWAY {
            return Err(NOT_YET_VALID);
        }
        let (Some(aud), Some(name), Some(kind)) = (
            c["aud"].as_str(),
            c["name"].as_str(),
            c["cb_kind"].as_str().and_then(IdentityKind::parse),
        ) else {
            return Err(BAD_CLAIMS);
        };
        if c["tid"].as_str() != Some(self.tenant_id.as_str()) {
            return Err(BAD_CLAIMS);
        }
        let accepted = match audience {
            Audience::Vault => &self.vault_audiences,
            Audience::ResourceManager => &self.arm_audiences,
        };
        if !accepted.contains(&normal(aud)) {
            return Err(WRONG_AUDIENCE);
        }
        Ok(Bearer {
            kind,
            name: name.to_owned(),
            audience: aud.to_owned(),
        })
    }

    /// The configured workload identity `name` and its role, if it is still configured.
    pub fn federated_role(&self, name: &str) -> Option<&str> {
        self.federated
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(f, _)| f.role.as_str())
    }

    /// Checks a workload-identity client assertion sent with `client_id`: a configured
    /// issuer's signature, its subject and audience, and its expiry. Returns the identity.
    pub fn check_assertion(
        &self,
        client_id: &str,
        assertion: &str,
    ) -> Result<&FederatedIdentity, String> {
        let (_, claims) = jwt::decode_unverified(assertion).map_err(|e| e.to_string())?;
        let iss = claims["iss"].as_str().unwrap_or_default();
        let sub = claims["sub"].as_str().unwrap_or_default();
        let Some((fed, key)) = self
            .federated
            .iter()
            .find(|(f, _)| f.client_id == client_id && f.issuer == iss && f.subject == sub)
        else {
            return Err(format!(
                "No federated credential of client '{client_id}' matches issuer '{iss}' and subject '{sub}'."
            ));
        };
        let verified = jwt::verify(assertion, key).map_err(|e| e.to_string())?;
        let c: &Value = &verified.claims;
        let now = self.clock.now().timestamp();
        match c["exp"].as_i64() {
            Some(exp) if exp > now => {}
            _ => return Err("The client assertion has expired.".into()),
        }
        if c["nbf"].as_i64().is_some_and(|nbf| nbf > now + NBF_LEEWAY) {
            return Err("The client assertion is not yet valid.".into());
        }
        let aud_ok = match &c["aud"] {
            Value::String(a) => a == &fed.audience,
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(fed.audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(format!(
                "The client assertion's audience is not '{}'.",
                fed.audience
            ));
        }
        Ok(fed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::domain::policy::{Curve, KeySpec};

    struct At(i64);
    impl Clock for At {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            chrono::DateTime::from_timestamp(self.0, 0).unwrap_or_default()
        }
    }

    fn issuer(at: i64) -> TokenIssuer {
        let key = crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
        let s = Settings::from_toml("").unwrap();
        TokenIssuer::new(
            key,
            "7d3c4f5e-0000-4000-8000-000000000001".into(),
            &s.identity,
            "https://vault.azure.net",
            vec![],
            Arc::new(At(at)),
        )
        .unwrap()
    }

    #[test]
    fn minted_tokens_verify_for_their_audience_until_they_expire() {
        let i = issuer(1_000_000);
        let subject = Subject {
            kind: IdentityKind::Token,
            name: "ci".into(),
            client_id: i.guid_for(IdentityKind::Token, "ci"),
        };
        let m = i
            .mint(&subject, "https://vault.azure.net", "https://h/t/v2.0")
            .unwrap();
        assert_eq!(m.expires_on, 1_000_000 + 3600);
        assert_eq!(m.expires_in, 3599);
        let b = i.verify(&m.access_token, Audience::Vault).unwrap();
        assert_eq!((b.kind, b.name.as_str()), (IdentityKind::Token, "ci"));
        assert_eq!(
            i.verify(&m.access_token, Audience::ResourceManager),
            Err(WRONG_AUDIENCE)
        );
        let (_, claims) = jwt::decode_unverified(&m.access_token).unwrap();
        assert_eq!(claims["tid"], "7d3c4f5e-0000-4000-8000-000000000001");
        assert_eq!(claims["idtyp"], "app");
        let arm = i
            .mint(&subject, "https://management.core.windows.net/", "x")
            .unwrap();
        assert!(i
            .verify(&arm.access_token, Audience::ResourceManager)
            .is_ok());
        let mut later = issuer(0);
        later.key = i.key.clone();
        later.public = i.public.clone();
        later.kid = i.kid.clone();
        later.tenant_id = i.tenant_id.clone();
        later.clock = Arc::new(At(1_000_000 + 3600));
        assert_eq!(later.verify(&m.access_token, Audience::Vault), Err(EXPIRED));
        // Another server's key: refused.
        assert_eq!(
            issuer(1_000_000).verify(&m.access_token, Audience::Vault),
            Err(BAD_SIGNATURE)
        );
    }

    #[test]
    fn identity_guids_are_stable_and_distinct() {
        let i = issuer(0);
        assert_eq!(
            i.guid_for(IdentityKind::Token, "a"),
            i.guid_for(IdentityKind::Token, "a")
        );
        assert_ne!(
            i.guid_for(IdentityKind::Token, "a"),
            i.guid_for(IdentityKind::Client, "a")
        );
        assert_eq!(i.guid_for(IdentityKind::Token, "a").len(), 36);
    }
}
