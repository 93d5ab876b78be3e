//! The OpenSSL layer: every use of OpenSSL in certbroker goes through this module.
//!
//! It owns key generation and (de)serialisation ([`keys`]), certificate signing requests
//! ([`csr`]), certificate building and inspection including the built-in CA ([`x509`]),
//! the merge-time chain checks ([`chain`]), PKCS#12/PEM import and export ([`pkcs12`]) and
//! sealing of private keys at rest plus small digest/random helpers ([`seal`]).
//!
//! Errors come in two kinds: [`CryptoError::Invalid`] is the caller's input being wrong
//! (its message is written for API clients and never contains OpenSSL's raw error stack or
//! key material), [`CryptoError::Internal`] is an OpenSSL failure that is our fault.

#![forbid(unsafe_code)]

pub mod chain;
pub mod csr;
mod encoding;
pub mod jwt;
pub mod keys;
mod path;
pub mod pkcs12;
pub mod seal;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod unit_tests;
pub mod x509;

pub use openssl::pkey::{PKey, Private, Public};
pub use openssl::x509::X509;

/// A failure of a cryptographic operation.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The caller's input is bad; the message is shown to API clients as is.
    #[error("{0}")]
    Invalid(String),
    /// OpenSSL failed on input we made or vetted: a server-side fault.
    #[error("cryptographic library failure: {0}")]
    Internal(#[from] openssl::error::ErrorStack),
}

/// Result of the crypto layer.
pub type Result<T> = std::result::Result<T, CryptoError>;

/// Shorthand for a [`CryptoError::Invalid`] with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> CryptoError {
    CryptoError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_their_message() {
        assert_eq!(invalid("bad input").to_string(), "bad input");
        let internal = CryptoError::from(openssl::error::ErrorStack::get());
        assert!(internal
            .to_string()
            .starts_with("cryptographic library failure"));
    }
}
