//! Object names: Key Vault's rule (1-127 characters, ASCII letters, digits and `-`).
//! Names compare case-insensitively; [`ObjectName::key`] is the comparison form. And the
//! vault-name rule.

use super::error::DomainError;

/// A valid certificate or issuer name, as the client spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName(String);

impl ObjectName {
    /// Validates a name (Key Vault: `^[0-9a-zA-Z-]+$`, 1-127 characters).
    pub fn parse(kind: &str, s: &str) -> Result<Self, DomainError> {
        if s.is_empty()
            || s.len() > 127
            || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(DomainError::InvalidName(format!(
                "The {kind} name '{}' is invalid. A name must be 1-127 characters long and contain only letters, digits and '-'.",
                s.chars().take(140).collect::<String>()
            )));
        }
        Ok(ObjectName(s.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for identity.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Token names the server records as actors of its own (its configured tokens, the
/// worker, the command line, the seed): a stored token may not take one.
pub const RESERVED_TOKEN_NAMES: &[&str] = &["static", "dev", "anonymous", "worker", "cli", "seed"];

/// Whether `name` is a valid token or client name: 1-64 letters, digits, `-`, `_`, `.`.
pub fn valid_credential_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Refuses a name a new token (`reserved`: also the server's own actor names) or client
/// may not have.
pub fn check_credential_name(noun: &str, name: &str, reserved: bool) -> Result<(), DomainError> {
    if !valid_credential_name(name) {
        return Err(DomainError::InvalidName(format!(
            "A {noun} name is 1-64 letters, digits, '-', '_' or '.'."
        )));
    }
    if reserved && RESERVED_TOKEN_NAMES.contains(&name) {
        return Err(DomainError::InvalidName(format!(
            "The {noun} name '{name}' is reserved."
        )));
    }
    Ok(())
}

/// Key Vault's vault-name rule: 3-24 characters, letters, digits and `-`, starting with a
/// letter, no `--`, not ending with `-`.
pub fn valid_vault_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=24).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && !name.contains("--")
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_key_vault_rule() {
        assert!(ObjectName::parse("certificate", "my-Cert-01").is_ok());
        assert!(ObjectName::parse("certificate", "").is_err());
        assert!(ObjectName::parse("certificate", "a_b").is_err());
        assert!(ObjectName::parse("certificate", "caf\u{e9}").is_err());
        assert!(ObjectName::parse("certificate", &"a".repeat(127)).is_ok());
        assert!(ObjectName::parse("certificate", &"a".repeat(128)).is_err());
    }

    #[test]
    fn credential_names_are_short_plain_and_not_the_servers_own() {
        assert!(check_credential_name("token", "ci.deploy_1", true).is_ok());
        for bad in ["", "has space", "a/b", &"x".repeat(65)] {
            assert!(
                check_credential_name("client", bad, false).is_err(),
                "{bad:?}"
            );
        }
        assert!(check_credential_name("token", "worker", true).is_err());
        // Clients are recorded as `client:<name>`: no actor of the server's to stand for.
        assert!(check_credential_name("client", "worker", false).is_ok());
    }
}
