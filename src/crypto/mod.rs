//! OpenSSL wrappers: keys, CSRs, X.509 issuance, merge-chain checks, PKCS#12/PEM and
//! sealing. Nothing here knows about HTTP, SQL or events. Errors say whether the caller's
//! input was bad ([`CryptoError::Invalid`], shown to clients) or we failed (`Internal`).

pub mod chain;
pub mod csr;
pub mod keys;
pub mod pkcs12;
pub mod seal;
pub mod x509;

pub use openssl::pkey::{PKey, Private, Public};
pub use openssl::x509::X509;

/// A crypto failure.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The caller's input is bad; the message is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// OpenSSL failed on input we made.
    #[error("openssl: {0}")]
    Internal(#[from] openssl::error::ErrorStack),
}

/// Crypto result.
pub type Result<T> = std::result::Result<T, CryptoError>;
