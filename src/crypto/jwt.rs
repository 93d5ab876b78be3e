//! JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515): signing with ES256 (the
//! server's own access tokens) and checking ES256 or RS256 signatures (its own tokens, and
//! client assertions from configured workload-identity issuers). It checks signatures only;
//! what the claims must say (audience, expiry, issuer) is the caller's business.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::Verifier;
use serde_json::Value;

use super::{invalid, Result};

/// Length of one ES256 signature component (P-256 coordinates).
const P256_LEN: usize = 32;

/// A token whose signature verified: its header and claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub header: Value,
    pub claims: Value,
}

/// Signs `claims` with the P-256 key `key` as an ES256 JWT whose header names `kid`.
pub fn sign_es256(key: &PKey<Private>, kid: &str, claims: &Value) -> Result<String> {
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let ec = key.ec_key()?;
    let digest = openssl::sha::sha256(input.as_bytes());
    let sig = EcdsaSig::sign(&digest, &ec)?;
    let mut raw = sig.r().to_vec_padded(P256_LEN as i32)?;
    raw.extend(sig.s().to_vec_padded(P256_LEN as i32)?);
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// Splits a compact JWT and decodes its header and claims, without checking anything.
pub fn decode_unverified(token: &str) -> Result<(Value, Value)> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, _] = parts.as_slice() else {
        return Err(invalid(
            "The token is not a JWT (three dot-separated parts).",
        ));
    };
    Ok((json_part(h)?, json_part(c)?))
}

fn json_part(part: &str) -> Result<Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| invalid("A part of the token is not base64url."))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid("A part of the token is not JSON."))?;
    if !v.is_object() {
        return Err(invalid("A part of the token is not a JSON object."));
    }
    Ok(v)
}

/// Checks the signature of `token` with `key` (EC P-256 → ES256, RSA → RS256; the header's
/// `alg` must be the one the key allows, so no algorithm confusion is possible).
pub fn verify(token: &str, key: &PKey<Public>) -> Result<Verified> {
    let (header, claims) = decode_unverified(token)?;
    let Some((input, sig)) = token.rsplit_once('.') else {
        return Err(invalid("The token is not a JWT."));
    };
    let sig = URL_SAFE_NO_PAD
        .decode(sig.trim_end_matches('='))
        .map_err(|_| invalid("The token's signature is not base64url."))?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let good = match (key.id(), alg) {
        (Id::EC, "ES256") => {
            if sig.len() != 2 * P256_LEN {
                return Err(invalid("The token's ES256 signature has the wrong length."));
            }
            let r = BigNum::from_slice(&sig[..P256_LEN])?;
            let s = BigNum::from_slice(&sig[P256_LEN..])?;
            let sig = EcdsaSig::from_private_components(r, s)?;
            let digest = openssl::sha::sha256(input.as_bytes());
            let ec = key.ec_key()?;
            sig.verify(&digest, &ec)?
        }
        (Id::RSA, "RS256") => {
            let mut v = Verifier::new(MessageDigest::sha256(), key)?;
            v.update(input.as_bytes())?;
            v.verify(&sig).unwrap_or(false)
        }
        _ => {
            return Err(invalid(format!(
                "The token's algorithm '{alg}' does not match the key that must have signed it."
            )))
        }
    };
    if !good {
        return Err(invalid("The token's signature does not verify."));
    }
    Ok(Verified { header, claims })
}

/// The public half of `key`.
pub fn public_of(key: &PKey<Private>) -> Result<PKey<Public>> {
    Ok(PKey::public_key_from_der(&key.public_key_to_der()?)?)
}

/// A public key from PEM (`PUBLIC KEY`, or the key of a `CERTIFICATE`).
pub fn public_key_from_pem(pem: &[u8]) -> Result<PKey<Public>> {
    if let Ok(k) = PKey::public_key_from_pem(pem) {
        return Ok(k);
    }
    let cert = openssl::x509::X509::from_pem(pem)
        .map_err(|_| invalid("The key file holds no PEM public key or certificate."))?;
    Ok(cert.public_key()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::generate_key;
    use crate::domain::policy::{Curve, KeySpec};
    use serde_json::json;

    #[test]
    fn es256_tokens_verify_with_their_key_only() {
        let key = generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
        let t = sign_es256(&key, "k1", &json!({"aud": "x"})).unwrap();
        let v = verify(&t, &public_of(&key).unwrap()).unwrap();
        assert_eq!(v.claims, json!({"aud": "x"}));
        assert_eq!(v.header["kid"], "k1");
        let other = generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
        assert!(verify(&t, &public_of(&other).unwrap()).is_err());
        // A claims part swapped in keeps the old signature: refused.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(json!({"aud": "y"}).to_string()),
            parts[2]
        );
        assert!(verify(&forged, &public_of(&key).unwrap()).is_err());
    }

    #[test]
    fn rs256_tokens_verify_and_alg_none_is_refused() {
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256"}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(json!({"sub": "s"}).to_string());
        let input = format!("{header}.{claims}");
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(input.as_bytes()).unwrap();
        let sig = URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap());
        let public = public_of(&key).unwrap();
        assert_eq!(
            verify(&format!("{input}.{sig}"), &public).unwrap().claims["sub"],
            "s"
        );
        let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string());
        assert!(verify(&format!("{none}.{claims}."), &public).is_err());
        assert!(decode_unverified("abc").is_err());
    }
}
