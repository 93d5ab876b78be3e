//! Roles on tokens, and the rule table that says which role an operation needs.
//!
//! The table matches method and path pattern, first rule wins, so routes added later fall
//! under a sensible default: any GET needs `reader`, any other write needs `operator`.
//! Only the auth middleware consults it.

use std::str::FromStr;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads (GET).
    Reader,
    /// Reads, and certificate writes: create, merge, cancel, delete, import, update.
    Operator,
    /// Reads, and the officer's decisions: approve, reject.
    Officer,
    /// Everything, including issuers, contacts, purge, the audit trail and tokens.
    Admin,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    Decide,
    Administer,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Reader, Role::Operator, Role::Officer, Role::Admin];

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
            Role::Officer => "officer",
            Role::Admin => "admin",
        }
    }

    /// Whether the role covers `p`.
    pub fn allows(self, p: Permission) -> bool {
        match self {
            Role::Admin => true,
            Role::Reader => p == Permission::Read,
            Role::Operator => matches!(p, Permission::Read | Permission::Write),
            Role::Officer => matches!(p, Permission::Read | Permission::Decide),
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown role '{s}' (reader, operator, officer, admin)"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    /// The least role that holds it (for messages).
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Reader,
            Permission::Write => Role::Operator,
            Permission::Decide => Role::Officer,
            Permission::Administer => Role::Admin,
        }
    }
}

/// A method (`*`: any) and a path pattern: literal segments, `*` for one segment, a final
/// `**` for any rest (also none). Matched case-insensitively.
type Rule = (&'static str, &'static str, Permission);

/// The rule table, first match wins.
pub const RULES: &[Rule] = &[
    ("*", "/audit/**", Permission::Administer),
    ("*", "/tokens/**", Permission::Administer),
    ("GET", "/certificates/*/history", Permission::Administer),
    ("DELETE", "/deletedcertificates/**", Permission::Administer),
    ("GET", "/certificates/issuers/**", Permission::Read),
    ("*", "/certificates/issuers/**", Permission::Administer),
    ("GET", "/certificates/contacts", Permission::Read),
    ("*", "/certificates/contacts", Permission::Administer),
    (
        "POST",
        "/certificates/*/pending/approve",
        Permission::Decide,
    ),
    ("POST", "/certificates/*/pending/reject", Permission::Decide),
    // A certificate-backed secret carries the private key when it is exportable: reading
    // it is more than reading, so it needs the operator role (a reader sees the
    // certificate and its public key).
    ("GET", "/secrets/**", Permission::Write),
    ("GET", "/deletedsecrets/**", Permission::Write),
    ("GET", "/**", Permission::Read),
    ("HEAD", "/**", Permission::Read),
    ("*", "/**", Permission::Write),
];

fn matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/').filter(|s| !s.is_empty());
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return true,
            (None, None) => return true,
            (Some("*"), Some(_)) => {}
            (Some(p), Some(s)) if p.eq_ignore_ascii_case(s) => {}
            _ => return false,
        }
    }
}

/// What `method` on `path` needs.
pub fn required(method: &str, path: &str) -> Permission {
    RULES
        .iter()
        .find(|(m, p, _)| (*m == "*" || m.eq_ignore_ascii_case(method)) && matches(p, path))
        .map_or(Permission::Write, |(_, _, perm)| *perm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_need_more_than_reader() {
        assert_eq!(required("GET", "/secrets/web/abc"), Permission::Write);
        assert_eq!(required("GET", "/deletedsecrets/web"), Permission::Write);
        assert_eq!(required("GET", "/keys/web"), Permission::Read);
        assert!(!Role::Reader.allows(required("GET", "/secrets/web")));
        assert!(Role::Operator.allows(required("GET", "/secrets/web")));
    }

    #[test]
    fn the_table_maps_operations_to_roles() {
        let least = |m: &str, p: &str| required(m, p).least_role();
        assert_eq!(least("GET", "/certificates/c1/pending"), Role::Reader);
        assert_eq!(least("GET", "/certificates/c1/abc"), Role::Reader);
        assert_eq!(least("POST", "/certificates/c1/create"), Role::Operator);
        assert_eq!(least("POST", "/certificates/c1/import"), Role::Operator);
        assert_eq!(least("PATCH", "/certificates/c1/pending"), Role::Operator);
        assert_eq!(least("DELETE", "/certificates/c1"), Role::Operator);
        assert_eq!(
            least("POST", "/certificates/c1/pending/merge"),
            Role::Operator
        );
        assert_eq!(
            least("POST", "/certificates/c1/pending/approve"),
            Role::Officer
        );
        assert_eq!(
            least("POST", "/Certificates/C1/Pending/Reject"),
            Role::Officer
        );
        assert_eq!(least("PUT", "/certificates/issuers/i1"), Role::Admin);
        assert_eq!(least("GET", "/certificates/issuers/i1"), Role::Reader);
        assert_eq!(least("PUT", "/certificates/contacts"), Role::Admin);
        assert_eq!(least("DELETE", "/deletedcertificates/c1"), Role::Admin);
        assert_eq!(least("GET", "/deletedcertificates/c1"), Role::Reader);
        assert_eq!(least("GET", "/audit/events"), Role::Admin);
        assert_eq!(least("GET", "/certificates/c1/history"), Role::Admin);
        // A route nobody has written yet falls under the defaults.
        assert_eq!(least("GET", "/something/new"), Role::Reader);
        assert_eq!(least("POST", "/something/new"), Role::Operator);
    }

    #[test]
    fn roles_hold_their_permissions_only() {
        assert!(Role::Reader.allows(Permission::Read));
        assert!(!Role::Reader.allows(Permission::Write));
        assert!(Role::Operator.allows(Permission::Write));
        assert!(!Role::Operator.allows(Permission::Decide));
        assert!(Role::Officer.allows(Permission::Decide));
        assert!(!Role::Officer.allows(Permission::Write));
        assert!(!Role::Officer.allows(Permission::Administer));
        assert!(Role::Admin.allows(Permission::Administer));
        assert_eq!("Officer".parse::<Role>(), Ok(Role::Officer));
        assert!("root".parse::<Role>().is_err());
    }
}
