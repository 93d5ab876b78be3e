//! Issuing from the built-in CA for a `local-ca` provider.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::settle;
use crate::config::ProviderSettings;
use crate::domain::names::ObjectName;
use crate::projections::pending_operations::PendingRow;
use crate::service::local_ca::{IssueError, LocalCa};
use crate::service::operations::Operations;
use crate::service::{Caller, Core};

/// Issues the request's CSR (on a blocking thread) and completes or fails the request.
pub(super) async fn drive(
    ops: &Operations,
    ca: &std::sync::Arc<LocalCa>,
    core: &Core,
    row: &PendingRow,
    provider: &ProviderSettings,
    caller: Caller,
    name: ObjectName,
) -> anyhow::Result<bool> {
    let csr = STANDARD.decode(&row.csr)?;
    let ca = ca.clone();
    let months = u32::try_from(row.validity_months).unwrap_or(12);
    let now = core.clock.now().timestamp();
    let provider = provider.clone();
    let started = std::time::Instant::now();
    let issued = tokio::task::spawn_blocking(move || {
        ca.issue(&csr, months, &provider, now).map(|leaf| {
            let mut chain = vec![leaf];
            chain.extend(ca.chain.iter().cloned());
            chain
        })
    })
    .await?;
    let outcome = match &issued {
        Ok(_) => "issued",
        Err(IssueError::Refused(_)) => "refused",
        Err(IssueError::Internal(_)) => "error",
    };
    let provider_name = row.provider.as_deref().unwrap_or_default();
    crate::metrics::issuance(provider_name, outcome, started.elapsed().as_secs_f64());
    let request_id = row.request_id.clone();
    match issued {
        Ok(chain) => settle(
            ops.complete_issuance(&caller, &name, request_id, chain)
                .await,
        ),
        Err(IssueError::Refused(message)) => {
            settle(ops.fail_issuance(&caller, &name, request_id, message).await)
        }
        Err(IssueError::Internal(e)) => Err(anyhow::anyhow!(e)),
    }
}
