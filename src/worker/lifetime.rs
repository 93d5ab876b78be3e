//! Lifetime actions (Key Vault `LifetimeAction`): when a certificate's current version
//! reaches its trigger (a percentage of its lifetime, or days before expiry) by the
//! injected clock, `AutoRenew` requests a new version through the same issuer (the
//! policy's `reuse_key` decides the key) and `EmailContacts` records a notification and
//! posts it as JSON to the configured webhook. Each action fires once per version: the
//! firing is an event on the certificate's stream.

use crate::domain::names::ObjectName;
use crate::domain::policy::{ActionType, IssuerKind, Policy, Trigger};
use crate::domain::DomainError;
use crate::projections::lifetime;
use crate::service::certificates::{Caller, CertificateService, CreateInput};
use crate::service::{load_certificate, ServiceError};

/// When `trigger` fires for a version valid from `nbf` to `exp` (Unix seconds). A CA may
/// issue for less time than the policy asked (ACME CAs choose validity themselves); when
/// `days_before_expiry` would then fall before the version's start, it fires at half its
/// lifetime instead of at once, so that renewal never chases itself.
pub fn due_at(trigger: Trigger, nbf: i64, exp: i64) -> i64 {
    match trigger {
        Trigger::LifetimePercentage(p) => nbf + (exp - nbf) * i64::from(p) / 100,
        Trigger::DaysBeforeExpiry(d) => {
            let due = exp - i64::from(d) * 86_400;
            if due <= nbf {
                nbf + (exp - nbf) / 2
            } else {
                due
            }
        }
    }
}

/// The e-mail addresses of the vault's certificate contacts (`SetCertificateContacts`).
async fn vault_contact_emails(
    certificates: &CertificateService,
    vault: &str,
) -> anyhow::Result<Vec<String>> {
    let mut conn = certificates.shared().pool.acquire().await?;
    Ok(crate::projections::contacts::get(&mut conn, vault)
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.email)
        .collect())
}

/// Fires every due lifetime action once. Returns how many fired.
pub async fn run_due(
    certificates: &CertificateService,
    webhook: &Option<(reqwest::Client, String)>,
) -> anyhow::Result<usize> {
    let shared = certificates.shared();
    let rows = {
        let mut conn = shared.pool.acquire().await?;
        lifetime::current_versions(&mut conn).await?
    };
    let now = shared.clock.now().timestamp();
    let mut fired = 0;
    for row in rows {
        let Ok(policy) = serde_json::from_str::<Policy>(&row.policy) else {
            continue;
        };
        for action in &policy.lifetime_actions {
            if now < due_at(action.trigger, row.nbf, row.exp) {
                continue;
            }
            let state = load_certificate(&shared.pool, &row.vault, &row.name).await?;
            let key = (format!("{:?}", action.action), row.version.clone());
            if state.lifetime_fired.contains(&key) {
                continue;
            }
            let name = ObjectName::parse("certificate", &row.name)?;
            let caller = Caller::system(&row.vault, super::ACTOR);
            if action.action == ActionType::AutoRenew {
                if policy.issuer.kind() == IssuerKind::Manual {
                    continue;
                }
                match certificates
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
            let contacts = if action.action == ActionType::EmailContacts {
                vault_contact_emails(certificates, &row.vault).await?
            } else {
                Vec::new()
            };
            match certificates
                .record_lifetime_action(
                    &caller,
                    &name,
                    row.version.clone(),
                    action.action,
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
            if action.action == ActionType::EmailContacts {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_fire_at_their_point_of_the_lifetime() {
        let day = 86_400;
        assert_eq!(
            due_at(Trigger::LifetimePercentage(80), 0, 100 * day),
            80 * day
        );
        assert_eq!(
            due_at(Trigger::DaysBeforeExpiry(30), 0, 365 * day),
            335 * day
        );
        // A window longer than the lifetime fires halfway, not at once.
        assert_eq!(due_at(Trigger::DaysBeforeExpiry(30), 0, 10 * day), 5 * day);
    }
}
