//! Key pairs: generation from a [`KeySpec`], PKCS#8 and SubjectPublicKeyInfo encodings,
//! the JWK form of a public key and the [`KeySpec`] of an existing key.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use serde_json::json;

use super::encoding::b64url;
use super::{invalid, Result};
use crate::domain::policy::{Curve, KeySpec};

/// The OpenSSL curve of a Key Vault curve name.
fn curve_nid(curve: Curve) -> Nid {
    match curve {
        Curve::P256 => Nid::X9_62_PRIME256V1,
        Curve::P384 => Nid::SECP384R1,
        Curve::P521 => Nid::SECP521R1,
        Curve::P256K => Nid::SECP256K1,
    }
}

/// The Key Vault curve of an OpenSSL curve, if it is one Key Vault knows.
fn curve_of_nid(nid: Nid) -> Option<Curve> {
    match nid {
        Nid::X9_62_PRIME256V1 => Some(Curve::P256),
        Nid::SECP384R1 => Some(Curve::P384),
        Nid::SECP521R1 => Some(Curve::P521),
        Nid::SECP256K1 => Some(Curve::P256K),
        _ => None,
    }
}

/// Generates a new key pair: RSA of 2048, 3072 or 4096 bits, or EC on a Key Vault curve.
pub fn generate_key(spec: &KeySpec) -> Result<PKey<Private>> {
    match *spec {
        KeySpec::Rsa { bits } => {
            if !matches!(bits, 2048 | 3072 | 4096) {
                return Err(invalid(format!(
                    "Unsupported RSA key size {bits}. Supported sizes: 2048, 3072, 4096."
                )));
            }
            Ok(PKey::from_rsa(Rsa::generate(bits)?)?)
        }
        KeySpec::Ec { curve } => generate_ec(curve),
    }
}

/// Generates an EC key through the `EC_KEY` API (much faster to re-encode on OpenSSL 3
/// than keys made through the provider API).
pub(crate) fn generate_ec(curve: Curve) -> Result<PKey<Private>> {
    Ok(PKey::from_ec_key(EcKey::generate(ec_group(curve)?)?)?)
}

/// The group of `curve`, built once per process: building one costs more than a P-256
/// key pair's generation on OpenSSL 3.
fn ec_group(curve: Curve) -> Result<&'static EcGroup> {
    static GROUPS: [std::sync::OnceLock<EcGroup>; 4] = [const { std::sync::OnceLock::new() }; 4];
    let cell = &GROUPS[curve as usize];
    if let Some(g) = cell.get() {
        return Ok(g);
    }
    let group = EcGroup::from_curve_name(curve_nid(curve))?;
    Ok(cell.get_or_init(|| group))
}

/// Re-homes a decoded EC key on the `EC_KEY` API, where OpenSSL 3 encodes and signs with
/// it several times faster than with a provider-decoded key. Other keys pass through.
pub(crate) fn normalize(key: PKey<Private>) -> Result<PKey<Private>> {
    if key.id() == Id::EC {
        Ok(PKey::from_ec_key(key.ec_key()?)?)
    } else {
        Ok(key)
    }
}

/// The private key as PKCS#8 `PrivateKeyInfo` DER (unencrypted: seal it before storing).
pub fn private_key_to_der(key: &PKey<Private>) -> Result<Vec<u8>> {
    Ok(key.private_key_to_pkcs8()?)
}

/// Decodes a private key from PKCS#8 DER (traditional RSA/EC DER is accepted as well).
pub fn private_key_from_der(der: &[u8]) -> Result<PKey<Private>> {
    let key = PKey::private_key_from_der(der)
        .map_err(|_| invalid("The private key is not a valid PKCS#8 DER structure."))?;
    normalize(key)
}

/// The public half of `key` as SubjectPublicKeyInfo DER.
pub fn public_key_der(key: &PKey<Private>) -> Result<Vec<u8>> {
    Ok(key.public_key_to_der()?)
}

fn public_from_spki(spki_der: &[u8]) -> Result<PKey<openssl::pkey::Public>> {
    PKey::public_key_from_der(spki_der)
        .map_err(|_| invalid("The public key is not a valid SubjectPublicKeyInfo structure."))
}

/// The JSON Web Key (RFC 7517) of a public key given as SubjectPublicKeyInfo DER:
/// `{"kty":"RSA","n","e"}` or `{"kty":"EC","crv","x","y"}`, members base64url without
/// padding, EC coordinates left-padded to the field size.
pub fn public_jwk(spki_der: &[u8]) -> Result<serde_json::Value> {
    let key = public_from_spki(spki_der)?;
    match key.id() {
        Id::RSA => {
            let rsa = key.rsa()?;
            Ok(json!({
                "kty": "RSA",
                "n": b64url(&rsa.n().to_vec()),
                "e": b64url(&rsa.e().to_vec()),
            }))
        }
        Id::EC => {
            let ec = key.ec_key()?;
            let group = ec.group();
            let curve = group
                .curve_name()
                .and_then(curve_of_nid)
                .ok_or_else(|| invalid(unsupported_curve_message(group.curve_name())))?;
            let mut x = BigNum::new()?;
            let mut y = BigNum::new()?;
            let mut ctx = BigNumContext::new()?;
            ec.public_key()
                .affine_coordinates(group, &mut x, &mut y, &mut ctx)?;
            let size = i32::try_from(group.degree().div_ceil(8))
                .map_err(|_| invalid("The EC field size is out of range."))?;
            Ok(json!({
                "kty": "EC",
                "crv": curve.as_str(),
                "x": b64url(&x.to_vec_padded(size)?),
                "y": b64url(&y.to_vec_padded(size)?),
            }))
        }
        _ => Err(invalid(
            "Unsupported key type: only RSA and EC keys are supported.",
        )),
    }
}

fn unsupported_curve_message(nid: Option<Nid>) -> String {
    let name = nid
        .and_then(|n| n.short_name().ok())
        .unwrap_or("an unnamed curve");
    format!("Unsupported elliptic curve {name}. Supported curves: P-256, P-384, P-521, P-256K.")
}

/// The [`KeySpec`] of a public key given as SubjectPublicKeyInfo DER: RSA modulus size or
/// EC curve.
pub fn key_spec_of(spki_der: &[u8]) -> Result<KeySpec> {
    let key = public_from_spki(spki_der)?;
    match key.id() {
        Id::RSA => Ok(KeySpec::Rsa { bits: key.bits() }),
        Id::EC => {
            let ec = key.ec_key()?;
            let nid = ec.group().curve_name();
            let curve = nid
                .and_then(curve_of_nid)
                .ok_or_else(|| invalid(unsupported_curve_message(nid)))?;
            Ok(KeySpec::Ec { curve })
        }
        _ => Err(invalid(
            "Unsupported key type: only RSA and EC keys are supported.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testutil::{ec_key, rsa_key};
    #[test]
    fn generates_every_curve() {
        for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::P256K] {
            let key = generate_key(&KeySpec::Ec { curve }).unwrap();
            let spki = public_key_der(&key).unwrap();
            assert_eq!(key_spec_of(&spki).unwrap(), KeySpec::Ec { curve });
            let jwk = public_jwk(&spki).unwrap();
            assert_eq!(jwk["kty"], "EC");
            assert_eq!(jwk["crv"], curve.as_str());
            let field = (curve.bits() as usize).div_ceil(8);
            for coord in ["x", "y"] {
                let raw = base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    jwk[coord].as_str().unwrap(),
                )
                .unwrap();
                assert_eq!(raw.len(), field, "{curve:?} {coord}");
            }
        }
    }

    #[test]
    fn rsa_key_spec_and_jwk() {
        let key = rsa_key();
        let spki = public_key_der(&key).unwrap();
        assert_eq!(key_spec_of(&spki).unwrap(), KeySpec::Rsa { bits: 2048 });
        let jwk = public_jwk(&spki).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        let n = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwk["n"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(n, key.rsa().unwrap().n().to_vec());
    }

    #[test]
    fn rejects_unsupported_rsa_size() {
        let err = generate_key(&KeySpec::Rsa { bits: 1024 }).unwrap_err();
        assert!(err.to_string().contains("1024"));
    }

    #[test]
    fn pkcs8_round_trip() {
        for key in [ec_key(), rsa_key()] {
            let der = private_key_to_der(&key).unwrap();
            let back = private_key_from_der(&der).unwrap();
            assert!(key.public_eq(&back));
            assert_eq!(private_key_to_der(&back).unwrap(), der);
            assert_eq!(
                public_key_der(&back).unwrap(),
                public_key_der(&key).unwrap()
            );
        }
        let err = private_key_from_der(b"not a key").unwrap_err();
        assert!(matches!(err, super::super::CryptoError::Invalid(_)));
    }

    #[test]
    fn bad_spki_is_invalid() {
        assert!(matches!(
            public_jwk(b"\x30\x03\x02\x01\x00"),
            Err(super::super::CryptoError::Invalid(_))
        ));
        assert!(key_spec_of(&[]).is_err());
    }
}
