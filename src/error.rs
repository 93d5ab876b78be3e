//! API errors: every refusal and failure becomes Key Vault's envelope
//! `{"error":{"code","message"}}` with the right status. The whole DomainError → (status,
//! code) table is [`ApiError::from_domain`]; every conversion from the layers below
//! (services, the event store, the database, the crypto layer) is in this file. A database
//! failure is a 5xx, never a 404: 503 with `Retry-After` when the disk is full, read-only
//! or busy, else 500. 5xx answers carry a fixed message; the cause chain is kept and
//! logged once, never echoed.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::crypto::CryptoError;
use crate::domain::DomainError;
use crate::es::storage::{classify, Failure};
use crate::es::{ExecError, StoreError};
use crate::service::ServiceError;

/// Seconds a client is asked to wait before retrying a 503.
const RETRY_AFTER_SECONDS: u32 = 5;

/// An error as the client sees it, with the cause behind a 5xx.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// What failed on our side (logged, never shown).
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `error`, then each of its causes, joined with ": ".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            source: None,
        }
    }

    /// 400 `BadParameter`.
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadParameter", message)
    }

    /// 404 for a path that names no operation.
    pub fn not_found_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The requested resource '{path}' does not exist on this server."),
        )
    }

    /// 405 for a known path with another method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The method {method} is not supported on '{path}'."),
        )
    }

    /// 500 with a fixed message; `cause` is kept for the log, not shown.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError {
            source: Some(Arc::new(cause)),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The server failed to process the request. The failure was logged.",
            )
        }
    }

    /// 500 for a fault described in words.
    pub fn internal_message(cause: impl Into<String>) -> Self {
        Self::internal(Fault(cause.into()))
    }

    /// 503: the server cannot write now (disk full, read-only, busy); `cause` is kept.
    pub fn unavailable(
        failure: Failure,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let message = match failure {
            Failure::Busy => "The database is busy; the request was not carried out. Retry shortly.",
            _ => "The server cannot write to its database now (the disk may be full or read-only); the request was not carried out. Retry later.",
        };
        ApiError {
            source: Some(Arc::new(cause)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            )
        }
    }

    /// A database failure: 503 when it may pass, else 500.
    fn database(failure: Failure, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        match failure {
            Failure::Unavailable | Failure::Busy => Self::unavailable(failure, cause),
            Failure::Other => Self::internal(cause),
        }
    }

    /// The status and code of every business refusal.
    pub fn from_domain(e: DomainError) -> Self {
        let message = e.to_string();
        let (status, code) = match e {
            DomainError::InvalidName(_)
            | DomainError::InvalidPolicy(_)
            | DomainError::BadParameter(_)
            | DomainError::NotInProgress { .. }
            | DomainError::InvalidChain(_)
            | DomainError::UnknownProvider { .. }
            | DomainError::PolicyRequired
            | DomainError::ApprovalNotApplicable(_) => (StatusCode::BAD_REQUEST, "BadParameter"),
            // Key Vault answers this 409 with the code "Forbidden" (S6).
            DomainError::PendingInProgress => (StatusCode::CONFLICT, "Forbidden"),
            DomainError::AlreadyCompleted { .. } | DomainError::AwaitingApproval => {
                (StatusCode::CONFLICT, "Conflict")
            }
            DomainError::PendingNotFound { .. } => {
                (StatusCode::NOT_FOUND, "PendingCertificateNotFound")
            }
            DomainError::MergeForbidden { .. } => (StatusCode::FORBIDDEN, "Forbidden"),
            DomainError::CertificateNotFound { .. } => {
                (StatusCode::NOT_FOUND, "CertificateNotFound")
            }
            DomainError::IssuerNotFound { .. } => {
                (StatusCode::NOT_FOUND, "CertificateIssuerNotFound")
            }
            DomainError::CertificateDeleted { .. } | DomainError::CertificateExists { .. } => {
                (StatusCode::CONFLICT, "Conflict")
            }
            DomainError::DeletedCertificateNotFound { .. } => {
                (StatusCode::NOT_FOUND, "CertificateNotFound")
            }
            DomainError::ContactsNotFound => (StatusCode::NOT_FOUND, "ContactsNotFound"),
            DomainError::SecretNotFound { .. } => (StatusCode::NOT_FOUND, "SecretNotFound"),
            DomainError::KeyNotFound { .. } => (StatusCode::NOT_FOUND, "KeyNotFound"),
            DomainError::SecretDisabled => (StatusCode::FORBIDDEN, "Forbidden"),
        };
        Self::new(status, code, message)
    }
}

/// A fault on our side described in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Fault(String);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::from_domain(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::database(classify(&e), e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Db(db) => Self::database(classify(db), e),
            _ => Self::internal(e),
        }
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Refused(d) => Self::from_domain(d),
            ExecError::Conflict { stream } => Self::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("The request conflicted with a concurrent change of {stream}; retry it."),
            ),
            ExecError::Commit { failure, .. } => Self::database(failure, e),
            ExecError::Store(s) => match &*s {
                StoreError::Db(db) => Self::database(classify(db), ExecError::Store(s.clone())),
                _ => Self::internal(ExecError::Store(s)),
            },
            ExecError::Stopped => Self::unavailable(Failure::Busy, e),
            other => Self::internal(other),
        }
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Invalid(m) => Self::bad_parameter(m),
            other => Self::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Domain(d) => Self::from_domain(d),
            ServiceError::Exec(x) => x.into(),
            ServiceError::Store(s) => s.into(),
            ServiceError::Crypto(c) => c.into(),
            ServiceError::Db(d) => d.into(),
            other => Self::internal(other),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            match &self.source {
                Some(cause) => {
                    tracing::error!(status = self.status.as_u16(), error = %error_chain(cause.as_ref()), "request failed")
                }
                None => {
                    tracing::error!(status = self.status.as_u16(), error = %self.message, "request failed")
                }
            }
        }
        let body = serde_json::to_string(&Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_else(|_| {
            r#"{"error":{"code":"InternalError","message":"The error could not be rendered."}}"#
                .into()
        });
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"));
        resp.insert_header(("x-ms-error-code", self.code));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
        }
        resp.body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(e: DomainError) -> (u16, &'static str) {
        let a = ApiError::from_domain(e);
        (a.status.as_u16(), a.code)
    }

    #[test]
    fn every_domain_error_has_its_status_and_code() {
        let s = || String::from("x");
        #[rustfmt::skip]
        let cases = [
            (400, "BadParameter", DomainError::InvalidName(s())),
            (400, "BadParameter", DomainError::InvalidPolicy(s())),
            (400, "BadParameter", DomainError::BadParameter(s())),
            (409, "Forbidden", DomainError::PendingInProgress),
            (404, "PendingCertificateNotFound", DomainError::PendingNotFound { name: s() }),
            (400, "BadParameter", DomainError::NotInProgress { status: s() }),
            (403, "Forbidden", DomainError::MergeForbidden { issuer: s() }),
            (409, "Conflict", DomainError::AlreadyCompleted { name: s() }),
            (400, "BadParameter", DomainError::InvalidChain(s())),
            (404, "CertificateNotFound", DomainError::CertificateNotFound { name: s() }),
            (404, "CertificateIssuerNotFound", DomainError::IssuerNotFound { name: s() }),
            (400, "BadParameter", DomainError::UnknownProvider { provider: s(), known: s() }),
            (400, "BadParameter", DomainError::PolicyRequired),
            (400, "BadParameter", DomainError::ApprovalNotApplicable(s())),
            (409, "Conflict", DomainError::AwaitingApproval),
            (409, "Conflict", DomainError::CertificateDeleted { name: s() }),
            (409, "Conflict", DomainError::CertificateExists { name: s() }),
            (404, "CertificateNotFound", DomainError::DeletedCertificateNotFound { name: s() }),
            (404, "ContactsNotFound", DomainError::ContactsNotFound),
            (404, "SecretNotFound", DomainError::SecretNotFound { name: s() }),
            (404, "KeyNotFound", DomainError::KeyNotFound { name: s() }),
            (403, "Forbidden", DomainError::SecretDisabled),
        ];
        for (status, code, error) in cases {
            let what = format!("{error:?}");
            assert_eq!(mapped(error), (status, code), "{what}");
        }
    }

    #[test]
    fn internal_errors_do_not_echo_their_cause_but_keep_it() {
        let e = ApiError::internal_message("sqlite: disk I/O error at /secret/path");
        assert_eq!(e.status.as_u16(), 500);
        assert!(!e.message.contains("/secret/path"));
        assert!(error_chain(&e).contains("/secret/path"));
    }

    #[test]
    fn database_failures_are_5xx_never_404() {
        let e = ApiError::from(sqlx::Error::RowNotFound);
        assert_eq!(e.status.as_u16(), 500);
        let e = ApiError::from(sqlx::Error::PoolTimedOut);
        assert_eq!((e.status.as_u16(), e.code), (503, "ServiceUnavailable"));
        let e = ApiError::from(ExecError::Commit {
            failure: Failure::Unavailable,
            message: "database or disk is full".into(),
        });
        assert_eq!(e.status.as_u16(), 503);
        assert_eq!(
            e.error_response()
                .headers()
                .get("retry-after")
                .map(|v| v.as_bytes()),
            Some(&b"5"[..])
        );
        let e = ApiError::from(ServiceError::from(ExecError::Refused(
            DomainError::PendingInProgress,
        )));
        assert_eq!((e.status.as_u16(), e.code), (409, "Forbidden"));
        let e = ApiError::from(ExecError::Conflict {
            stream: "certificate/default/c".into(),
        });
        assert_eq!((e.status.as_u16(), e.code), (409, "Conflict"));
    }
}
