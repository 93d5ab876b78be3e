//! Key generation and encodings (PKCS#8, SubjectPublicKeyInfo, JWK).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;

use super::{CryptoError, Result};
use crate::domain::policy::{Curve, KeySpec};

fn nid(curve: Curve) -> Nid {
    match curve {
        Curve::P256 => Nid::X9_62_PRIME256V1,
        Curve::P384 => Nid::SECP384R1,
        Curve::P521 => Nid::SECP521R1,
        Curve::P256K => Nid::SECP256K1,
    }
}

/// Generates a key for `spec`.
pub fn generate_key(spec: &KeySpec) -> Result<PKey<Private>> {
    Ok(match spec {
        KeySpec::Rsa { bits } => PKey::from_rsa(Rsa::generate(*bits)?)?,
        KeySpec::Ec { curve } => {
            let group = EcGroup::from_curve_name(nid(*curve))?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
    })
}

/// PKCS#8 DER of a private key.
pub fn private_key_to_der(key: &PKey<Private>) -> Result<Vec<u8>> {
    Ok(key.private_key_to_pkcs8()?)
}

/// Reads PKCS#8 (or traditional) DER.
pub fn private_key_from_der(der: &[u8]) -> Result<PKey<Private>> {
    PKey::private_key_from_pkcs8(der)
        .or_else(|_| PKey::private_key_from_der(der))
        .map_err(|_| CryptoError::Invalid("not a DER private key".into()))
}

/// SubjectPublicKeyInfo DER of a key's public half.
pub fn public_key_der(key: &PKey<Private>) -> Result<Vec<u8>> {
    Ok(key.public_key_to_der()?)
}

fn public_from_der(spki: &[u8]) -> Result<PKey<Public>> {
    PKey::public_key_from_der(spki).map_err(|_| CryptoError::Invalid("not a public key".into()))
}

fn curve_of(ec: &EcKey<Public>) -> Result<Curve> {
    match ec.group().curve_name() {
        Some(Nid::X9_62_PRIME256V1) => Ok(Curve::P256),
        Some(Nid::SECP384R1) => Ok(Curve::P384),
        Some(Nid::SECP521R1) => Ok(Curve::P521),
        Some(Nid::SECP256K1) => Ok(Curve::P256K),
        _ => Err(CryptoError::Invalid("unsupported elliptic curve".into())),
    }
}

/// The key type and size of a public key.
pub fn key_spec_of(spki: &[u8]) -> Result<KeySpec> {
    let key = public_from_der(spki)?;
    match key.id() {
        Id::RSA => Ok(KeySpec::Rsa { bits: key.bits() }),
        Id::EC => Ok(KeySpec::Ec {
            curve: curve_of(&key.ec_key()?)?,
        }),
        _ => Err(CryptoError::Invalid(
            "only RSA and EC keys are supported".into(),
        )),
    }
}

fn pad(bytes: Vec<u8>, len: usize) -> Vec<u8> {
    if bytes.len() >= len {
        return bytes;
    }
    let mut out = vec![0; len - bytes.len()];
    out.extend(bytes);
    out
}

/// The JWK of a public key (RSA: n, e; EC: crv, x, y).
pub fn public_jwk(spki: &[u8]) -> Result<serde_json::Value> {
    let key = public_from_der(spki)?;
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    match key.id() {
        Id::RSA => {
            let rsa = key.rsa()?;
            Ok(serde_json::json!({
                "kty": "RSA",
                "n": b64(&rsa.n().to_vec()),
                "e": b64(&rsa.e().to_vec()),
            }))
        }
        Id::EC => {
            let ec = key.ec_key()?;
            let curve = curve_of(&ec)?;
            let size = (curve.bits() as usize).div_ceil(8);
            let mut ctx = BigNumContext::new()?;
            let point = ec
                .public_key()
                .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)?;
            if point.len() != 1 + 2 * size {
                return Err(CryptoError::Invalid("unexpected EC point encoding".into()));
            }
            Ok(serde_json::json!({
                "kty": "EC",
                "crv": curve.as_str(),
                "x": b64(&pad(point[1..1 + size].to_vec(), size)),
                "y": b64(&pad(point[1 + size..].to_vec(), size)),
            }))
        }
        _ => Err(CryptoError::Invalid(
            "only RSA and EC keys are supported".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_keys_round_trip_and_report_their_curve() {
        for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::P256K] {
            let key = generate_key(&KeySpec::Ec { curve }).unwrap();
            let der = private_key_to_der(&key).unwrap();
            let back = private_key_from_der(&der).unwrap();
            assert!(back.public_eq(&key));
            let spki = public_key_der(&key).unwrap();
            assert_eq!(key_spec_of(&spki).unwrap(), KeySpec::Ec { curve });
            let jwk = public_jwk(&spki).unwrap();
            assert_eq!(jwk["crv"], curve.as_str());
            let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
            assert_eq!(x.len(), (curve.bits() as usize).div_ceil(8));
        }
    }

    #[test]
    fn rsa_key_jwk_and_spec() {
        let key = generate_key(&KeySpec::Rsa { bits: 2048 }).unwrap();
        let spki = public_key_der(&key).unwrap();
        assert_eq!(key_spec_of(&spki).unwrap(), KeySpec::Rsa { bits: 2048 });
        let jwk = public_jwk(&spki).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
    }
}
