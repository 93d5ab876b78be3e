//! For the people who run certbroker: liveness (`GET /healthz`), readiness (`GET /readyz`),
//! Prometheus metrics (`GET /metrics`), the operator console's reads (`GET /ops/whoami`,
//! `GET /ops/pending`, `GET /ops/certificates`) and an on-demand walk of the events hash
//! chain (`POST /audit/verify`). Nothing here writes: readiness submits an empty command to
//! the writer to prove it can take the write lock, and everything else reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use super::auth::CallerRole;
use super::extract::{Call, RequestContext};
use super::{AppState, Reply};
use crate::error::ApiError;
use crate::projections::observe;

/// How long readiness waits for the writer to take the write lock and answer.
const WRITER_PROBE: Duration = Duration::from_secs(3);

/// What readiness knows about the parts that run in the background.
#[derive(Debug)]
pub struct Health {
    worker_enabled: bool,
    worker_running: AtomicBool,
    /// The newest migration this binary carries.
    expected_migration: i64,
}

impl Health {
    /// Health of a server whose worker is `worker_enabled` (not running until
    /// [`Health::worker_started`]).
    pub fn new(worker_enabled: bool, expected_migration: i64) -> Arc<Self> {
        Arc::new(Health {
            worker_enabled,
            worker_running: AtomicBool::new(false),
            expected_migration,
        })
    }

    /// Marks the worker running until the returned guard is dropped (the worker's task
    /// ended, returned or panicked).
    pub fn worker_started(self: &Arc<Self>) -> WorkerGuard {
        self.worker_running.store(true, Ordering::SeqCst);
        WorkerGuard(self.clone())
    }
}

/// Held by the worker's task; dropping it marks the worker stopped.
pub struct WorkerGuard(Arc<Health>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.worker_running.store(false, Ordering::SeqCst);
    }
}

/// One readiness check's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// Check name → `ok`, `disabled`, or what is wrong.
    pub checks: serde_json::Map<String, serde_json::Value>,
    /// What is wrong, one line per failed check.
    pub reasons: Vec<String>,
}

/// Runs every readiness check: the database is writable (the writer takes the write lock
/// and answers), every migration this binary carries is applied, the worker runs (when
/// enabled).
pub async fn readiness(state: &AppState) -> Readiness {
    let mut checks = serde_json::Map::new();
    let mut reasons = Vec::new();
    let mut check = |name: &str, outcome: Result<&str, String>| match outcome {
        Ok(v) => {
            checks.insert(name.into(), json!(v));
        }
        Err(why) => {
            checks.insert(name.into(), json!(why.clone()));
            reasons.push(format!("{name}: {why}"));
        }
    };
    let es = &state.services.core.es;
    let database = match tokio::time::timeout(WRITER_PROBE, es.probe()).await {
        Ok(Ok(())) => Ok("ok"),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the writer did not take the write lock within {} s",
            WRITER_PROBE.as_secs()
        )),
    };
    check("database", database);
    let migrations = match es.storage().acquire().await {
        Ok(mut pooled) => match observe::migration_state(&mut pooled.conn()).await {
            Ok((_, true)) => Err("a migration failed (the database is dirty)".to_string()),
            Ok((applied, false)) if applied == state.health.expected_migration => Ok("ok"),
            Ok((applied, false)) => Err(format!(
                "the database is at migration {applied}, this binary needs {}",
                state.health.expected_migration
            )),
            Err(e) => Err(format!("could not read the migrations: {e}")),
        },
        Err(e) => Err(format!("no reader connection: {e}")),
    };
    check("migrations", migrations);
    let worker = if !state.health.worker_enabled {
        Ok("disabled")
    } else if state.health.worker_running.load(Ordering::SeqCst) {
        Ok("ok")
    } else {
        Err("the worker is not running".to_string())
    };
    check("worker", worker);
    Readiness {
        ready: reasons.is_empty(),
        checks,
        reasons,
    }
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// `GET /readyz`: 200 when every readiness check passes; else 503 with Key Vault's error
/// envelope naming what is wrong, and each check's outcome.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let r = readiness(&state).await;
    if r.ready {
        return HttpResponse::Ok().json(json!({"status": "ready", "checks": r.checks}));
    }
    tracing::warn!(reasons = %r.reasons.join("; "), "not ready");
    HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
        .insert_header(("Retry-After", "5"))
        .json(json!({
            "error": {"code": "ServiceUnavailable", "message": format!("Not ready: {}.", r.reasons.join("; "))},
            "status": "unavailable",
            "checks": r.checks,
        }))
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn get_metrics(state: web::Data<AppState>) -> Reply {
    let body = crate::metrics::render(state.services.core.es.storage(), env!("CARGO_PKG_VERSION"))
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(body))
}

/// `GET /ops/whoami`: the caller's token name and role (the console shows what it may do).
pub async fn get_caller(req: HttpRequest, ctx: RequestContext) -> Reply {
    let role = req
        .extensions()
        .get::<CallerRole>()
        .map(|r| r.0)
        .ok_or_else(|| ApiError::internal_message("caller role missing"))?;
    Ok(HttpResponse::Ok().json(json!({
        "name": ctx.caller.actor,
        "role": role.as_str(),
        "vault": ctx.caller.vault,
    })))
}

/// `GET /ops/pending[?status=inProgress]`: every certificate's latest operation in this
/// vault, with issuer, provider, status, approval and times (Unix seconds), oldest first.
pub async fn get_pending_operations(call: Call) -> Reply {
    let status = call.ctx.param("status");
    if let Some(s) = status {
        if !["inProgress", "completed", "failed", "cancelled"].contains(&s) {
            return Err(ApiError::bad_parameter(format!(
                "status must be inProgress, completed, failed or cancelled; got '{s}'."
            )));
        }
    }
    let mut pooled = reader(&call.state).await?;
    let items = observe::pending_items(&mut pooled.conn(), call.vault(), status).await?;
    Ok(HttpResponse::Ok().json(json!({ "value": items })))
}

/// `GET /ops/certificates`: every live certificate of this vault with its policy's issuer,
/// the current version's validity and the number of versions, soonest expiry first.
pub async fn get_certificate_overview(call: Call) -> Reply {
    let mut pooled = reader(&call.state).await?;
    let items = observe::certificate_items(&mut pooled.conn(), call.vault()).await?;
    Ok(HttpResponse::Ok().json(json!({ "value": items })))
}

/// `POST /audit/verify[?expectHead=HASH]`: walks the whole events hash chain now, on a
/// reader connection in one read transaction (as `certbroker verify` does), and reports
/// the rows verified and the head, or the first position that does not hold.
pub async fn verify_audit_chain(call: Call) -> Reply {
    let expect = call.ctx.param("expectHead").map(str::to_owned);
    let mut pooled = reader(&call.state).await?;
    let v = observe::verify_chain(&mut pooled, expect.as_deref()).await?;
    let mut body = json!({
        "verified": v.broken.is_none(),
        "rows": v.rows,
        "head": v.head,
        "broken": v.broken.as_ref().map(|b| json!({"position": b.position, "reason": b.reason})),
    });
    if let Some(e) = &expect {
        body["expectedHead"] = json!({"hash": e, "foundAt": v.expected_head_at});
        if v.expected_head_at.is_none() {
            body["verified"] = json!(false);
        }
    }
    Ok(HttpResponse::Ok().json(body))
}

/// A reader connection (a failure to get one is classified as every database failure is).
async fn reader(state: &AppState) -> Result<crate::es::storage::Pooled, ApiError> {
    Ok(state.services.core.es.storage().acquire().await?)
}
