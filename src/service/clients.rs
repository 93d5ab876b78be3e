//! OAuth clients (client credentials grant) made and revoked from the command line: only
//! the SHA-256 of the secret is stored, and each change is an audit record in the chain
//! (`ClientCreated`, `ClientRevoked`) written with the table change in one command.

use std::sync::Arc;

use super::{Caller, Core, Result};
use crate::domain::audit::AuditEvent;
use crate::domain::names::check_credential_name;
use crate::es::clients::{self, ClientRow, ClientSecretRow};
use crate::es::credentials::Credentials;
use crate::es::Effect;

/// The clients service.
#[derive(Clone)]
pub struct Clients(pub(crate) Arc<Core>);

impl Clients {
    /// Stores client `name` with `client_id`, `role` and the SHA-256 (hex) of its secret
    /// (refused when the name is taken).
    pub async fn create(
        &self,
        caller: &Caller,
        name: &str,
        client_id: &str,
        role: &str,
        secret_sha256: &str,
    ) -> Result<()> {
        check_credential_name("client", name, false)?;
        let event = AuditEvent::ClientCreated {
            name: name.to_owned(),
            client_id: client_id.to_owned(),
            role: role.to_owned(),
        };
        let effect = Effect::CreateClient {
            name: name.to_owned(),
            client_id: client_id.to_owned(),
            role: role.to_owned(),
            secret_sha256: secret_sha256.to_owned(),
        };
        self.0.record_audit(caller, None, event, vec![effect]).await
    }

    /// Revokes the active client `name` (refused when there is none).
    pub async fn revoke(&self, caller: &Caller, name: &str) -> Result<()> {
        self.0
            .revoke_credential(caller, Credentials::Clients, name)
            .await
    }

    /// Every client (names, client ids, roles, dates; never hashes).
    pub async fn list(&self) -> Result<Vec<ClientRow>> {
        let mut reader = self.0.reader().await?;
        Ok(clients::list(&mut reader.conn()).await?)
    }

    /// The active client whose client id is `client_id`.
    pub async fn by_client_id(&self, client_id: &str) -> Result<Option<ClientSecretRow>> {
        let mut reader = self.0.reader().await?;
        Ok(clients::by_client_id(&mut reader.conn(), client_id).await?)
    }
}
