//! Bearer tokens with roles, made and revoked from the command line: only their SHA-256
//! is stored, and each change is an audit record in the chain (`TokenCreated`,
//! `TokenRevoked`) written with the table change in one command.

use std::sync::Arc;

use super::{Caller, Core, Result};
use crate::domain::audit::AuditEvent;
use crate::domain::names::check_credential_name;
use crate::es::credentials::Credentials;
use crate::es::tokens::{self, TokenRow};
use crate::es::Effect;

/// The tokens service.
#[derive(Clone)]
pub struct Tokens(pub(crate) Arc<Core>);

impl Tokens {
    /// Stores `sha256` (hex) as token `name` with `role` (refused when the name is taken).
    pub async fn create(
        &self,
        caller: &Caller,
        name: &str,
        role: &str,
        sha256: &str,
    ) -> Result<()> {
        check_credential_name("token", name, true)?;
        let event = AuditEvent::TokenCreated {
            name: name.to_owned(),
            role: role.to_owned(),
        };
        let effect = Effect::CreateToken {
            name: name.to_owned(),
            role: role.to_owned(),
            sha256: sha256.to_owned(),
        };
        self.0.record_audit(caller, None, event, vec![effect]).await
    }

    /// Revokes the active token `name` (refused when there is none).
    pub async fn revoke(&self, caller: &Caller, name: &str) -> Result<()> {
        self.0
            .revoke_credential(caller, Credentials::Tokens, name)
            .await
    }

    /// Every token (names, roles, dates; never hashes).
    pub async fn list(&self) -> Result<Vec<TokenRow>> {
        let mut reader = self.0.reader().await?;
        Ok(tokens::list(&mut reader.conn()).await?)
    }

    /// The name and role of the active token whose SHA-256 (hex) is `sha256`.
    pub async fn lookup(&self, sha256: &str) -> Result<Option<(String, String)>> {
        let mut reader = self.0.reader().await?;
        Ok(tokens::lookup(&mut reader.conn(), sha256).await?)
    }
}
