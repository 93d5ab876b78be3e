//! Lifetime actions (Key Vault `LifetimeAction`): when a certificate's current version
//! reaches its trigger (a percentage of its lifetime, or days before expiry) by the
//! server's clock, `AutoRenew` requests a new version through the same issuer (the
//! policy's `reuse_key` decides the key) and `EmailContacts` records a notification and
//! posts it as JSON to the configured webhook. Each action fires once per version: the
//! firing is an event on the certificate's stream.

use crate::domain::names::ObjectName;
use crate::domain::policy::ActionType;
use crate::domain::DomainError;
use crate::service::certificates::CreateInput;
use crate::service::{Caller, ServiceError, Services};

/// Fires every due lifetime action once. Returns how many fired.
pub async fn run_due(
    services: &Services,
    webhook: &Option<(reqwest::Client, String)>,
) -> anyhow::Result<usize> {
    let rows = services.certificates.current_versions().await?;
    let now = services.core.clock.now().timestamp();
    let mut fired = 0;
    for row in rows {
        let policy = &row.policy.0;
        for action in policy.due_actions(row.nbf, row.exp, now) {
            let state = services.operations.state(&row.vault, &row.name).await?;
            if state.lifetime_action_fired(action, &row.version) {
                continue;
            }
            let name = ObjectName::parse("certificate", &row.name)?;
            let caller = Caller::system(&row.vault, super::ACTOR);
            if action == ActionType::AutoRenew {
                match services
                    .certificates
                    .create(&caller, &name, CreateInput::default())
                    .await
                {
                    Ok(_) => {}
                    // Someone else's request is in progress: try again next round.
                    Err(ServiceError::Domain(DomainError::PendingInProgress)) => continue,
                    Err(ServiceError::Domain(e)) => {
                        tracing::warn!(certificate = %row.name, reason = %e, "automatic renewal refused");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let contacts: Vec<String> = if action == ActionType::EmailContacts {
                services
                    .contacts
                    .find(&row.vault)
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.email)
                    .collect()
            } else {
                Vec::new()
            };
            match services
                .operations
                .record_lifetime_action(
                    &caller,
                    &name,
                    row.version.clone(),
                    action,
                    row.exp,
                    contacts.clone(),
                )
                .await
            {
                Ok(()) => {}
                Err(ServiceError::Domain(e)) => {
                    tracing::info!(reason = %e, "certificate changed before its lifetime action was recorded");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            fired += 1;
            crate::metrics::lifetime_action(&format!("{:?}", action));
            if action == ActionType::EmailContacts {
                if let Some((client, url)) = webhook {
                    let body = serde_json::json!({
                        "type": "CertificateNearExpiry",
                        "vault": row.vault,
                        "certificate": row.name,
                        "version": row.version,
                        "expires": row.exp,
                        "contacts": contacts,
                    });
                    if let Err(e) = client.post(url).json(&body).send().await {
                        tracing::warn!(error = %e, "the notification webhook could not be reached");
                    }
                }
            }
        }
    }
    Ok(fired)
}
