//! Roles on tokens and the permissions they hold. Which permission each route needs is
//! written beside the route in `http::routes`.

use std::str::FromStr;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads (`Permission::Read`): not secrets, not the audit trail.
    Reader,
    /// Reads, secrets, and certificate writes: create, merge, cancel, delete, import,
    /// update, backup, restore, recover.
    Operator,
    /// Reads, and the officer's decisions: approve, reject.
    Officer,
    /// Everything, including issuers, contacts, purge, the audit trail and tokens.
    Admin,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read certificates, operations, policies, issuers, contacts, public keys.
    Read,
    /// Read certificate-backed secrets (they hold the private key when it is exportable).
    ReadSecrets,
    /// Certificate writes: create, merge, cancel, delete, import, update, backup, restore.
    Write,
    /// The officer's decisions: approve, reject.
    Decide,
    /// Issuers, contacts, purge, the audit trail.
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
            Role::Operator => matches!(
                p,
                Permission::Read | Permission::ReadSecrets | Permission::Write
            ),
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
            Permission::ReadSecrets | Permission::Write => Role::Operator,
            Permission::Decide => Role::Officer,
            Permission::Administer => Role::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::routes::{Access, ROUTES};

    /// What `method` on the route registered as `pattern` needs.
    fn required(method: &str, pattern: &str) -> Permission {
        let r = ROUTES
            .iter()
            .find(|r| r.method.as_str() == method && r.path == pattern)
            .unwrap_or_else(|| panic!("no route {method} {pattern}"));
        match r.access {
            Access::Token(p) => p,
            Access::Public => panic!("{method} {pattern} is public"),
            other => panic!("{method} {pattern} is {other:?}"),
        }
    }

    #[test]
    fn secrets_need_more_than_reader() {
        assert_eq!(
            required("GET", "/secrets/{name}/{version}"),
            Permission::ReadSecrets
        );
        assert_eq!(
            required("GET", "/deletedsecrets/{name}"),
            Permission::ReadSecrets
        );
        assert_eq!(required("GET", "/keys/{name}"), Permission::Read);
        assert!(!Role::Reader.allows(required("GET", "/secrets/{name}")));
        assert!(Role::Operator.allows(required("GET", "/secrets/{name}")));
        assert!(!Role::Officer.allows(required("GET", "/secrets/{name}")));
    }

    #[test]
    fn the_table_maps_operations_to_roles() {
        let least = |m: &str, p: &str| required(m, p).least_role();
        assert_eq!(least("GET", "/certificates/{name}/pending"), Role::Reader);
        assert_eq!(least("GET", "/certificates/{name}/{version}"), Role::Reader);
        assert_eq!(least("POST", "/certificates/{name}/create"), Role::Operator);
        assert_eq!(least("POST", "/certificates/{name}/import"), Role::Operator);
        assert_eq!(
            least("PATCH", "/certificates/{name}/pending"),
            Role::Operator
        );
        assert_eq!(least("DELETE", "/certificates/{name}"), Role::Operator);
        assert_eq!(
            least("POST", "/certificates/{name}/pending/merge"),
            Role::Operator
        );
        assert_eq!(
            least("POST", "/certificates/{name}/pending/approve"),
            Role::Officer
        );
        assert_eq!(
            least("POST", "/certificates/{name}/pending/reject"),
            Role::Officer
        );
        assert_eq!(least("PUT", "/certificates/issuers/{issuer}"), Role::Admin);
        assert_eq!(least("GET", "/certificates/issuers/{issuer}"), Role::Reader);
        assert_eq!(least("PUT", "/certificates/contacts"), Role::Admin);
        assert_eq!(least("DELETE", "/deletedcertificates/{name}"), Role::Admin);
        assert_eq!(least("GET", "/deletedcertificates/{name}"), Role::Reader);
        assert_eq!(least("GET", "/audit/events"), Role::Admin);
        assert_eq!(least("GET", "/certificates/{name}/history"), Role::Admin);
    }

    #[test]
    fn roles_hold_their_permissions_only() {
        assert!(Role::Reader.allows(Permission::Read));
        assert!(!Role::Reader.allows(Permission::Write));
        assert!(!Role::Reader.allows(Permission::ReadSecrets));
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
