//! Several vaults on one server: the request's host names the vault.
//!
//! `team-a.localhost:8443` and `team-a.vault.localhost:8443` are vault `team-a` (when
//! `vaults.localhost_names` is on, the default); `team-a.vault.example:8443` is vault `team-a` when `team-a` is listed in
//! `vaults.names`; anything else (a bare IP, `localhost`, unlisted names) is the default vault.

use crate::config::VaultSettings;
use crate::domain::names::valid_vault_name;

/// The host without its port (`[::1]:8443` → `[::1]`).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The vault a request to `host` addresses.
pub fn vault_for_host(host: &str, settings: &VaultSettings) -> String {
    let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return crate::DEFAULT_VAULT.to_owned();
    }
    if let Some((first, rest)) = host.split_once('.') {
        let listed = settings.names.iter().any(|n| n.eq_ignore_ascii_case(first));
        let localhost =
            settings.localhost_names && (rest == "localhost" || rest == "vault.localhost");
        if (listed || localhost) && valid_vault_name(first) {
            return first.to_owned();
        }
    }
    crate::DEFAULT_VAULT.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_vaults_and_everything_else_is_the_default() {
        let s = VaultSettings {
            names: vec!["payments".into()],
            localhost_names: true,
        };
        assert_eq!(vault_for_host("team-a.localhost:8443", &s), "team-a");
        assert_eq!(vault_for_host("TEAM-B.localhost", &s), "team-b");
        assert_eq!(vault_for_host("team-c.vault.localhost:8443", &s), "team-c");
        assert_eq!(vault_for_host("payments.vault.example:443", &s), "payments");
        assert_eq!(vault_for_host("other.vault.example", &s), "default");
        assert_eq!(vault_for_host("127.0.0.1:8443", &s), "default");
        assert_eq!(vault_for_host("[::1]:8443", &s), "default");
        assert_eq!(vault_for_host("localhost:8443", &s), "default");
        assert_eq!(vault_for_host("a.localhost", &s), "default");
        let off = VaultSettings {
            names: vec![],
            localhost_names: false,
        };
        assert_eq!(vault_for_host("team-a.localhost", &off), "default");
    }
}
