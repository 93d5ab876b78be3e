//! API errors: every refusal and failure becomes Key Vault's envelope
//! `{"error":{"code","message"}}` with the right status. The whole DomainError → (status,
//! code) table is [`ApiError::from_domain`]. 5xx answers carry a fixed message; the cause
//! is logged, never echoed.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::DomainError;

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
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

    /// 500 with a fixed message; `cause` is logged, not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The server failed to process the request. The failure was logged.",
        )
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
            DomainError::AlreadyCompleted { .. } => (StatusCode::CONFLICT, "Conflict"),
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
        ApiError {
            status,
            code,
            message,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::from_domain(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(&e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = serde_json::to_string(&Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_default();
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"));
        resp.insert_header(("x-ms-error-code", self.code));
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
        assert_eq!(mapped(DomainError::InvalidName(s())), (400, "BadParameter"));
        assert_eq!(
            mapped(DomainError::InvalidPolicy(s())),
            (400, "BadParameter")
        );
        assert_eq!(
            mapped(DomainError::BadParameter(s())),
            (400, "BadParameter")
        );
        assert_eq!(mapped(DomainError::PendingInProgress), (409, "Forbidden"));
        assert_eq!(
            mapped(DomainError::PendingNotFound { name: s() }),
            (404, "PendingCertificateNotFound")
        );
        assert_eq!(
            mapped(DomainError::NotInProgress { status: s() }),
            (400, "BadParameter")
        );
        assert_eq!(
            mapped(DomainError::MergeForbidden { issuer: s() }),
            (403, "Forbidden")
        );
        assert_eq!(
            mapped(DomainError::AlreadyCompleted { name: s() }),
            (409, "Conflict")
        );
        assert_eq!(
            mapped(DomainError::InvalidChain(s())),
            (400, "BadParameter")
        );
        assert_eq!(
            mapped(DomainError::CertificateNotFound { name: s() }),
            (404, "CertificateNotFound")
        );
        assert_eq!(
            mapped(DomainError::IssuerNotFound { name: s() }),
            (404, "CertificateIssuerNotFound")
        );
        assert_eq!(
            mapped(DomainError::UnknownProvider {
                provider: s(),
                known: s()
            }),
            (400, "BadParameter")
        );
        assert_eq!(mapped(DomainError::PolicyRequired), (400, "BadParameter"));
        assert_eq!(
            mapped(DomainError::ApprovalNotApplicable(s())),
            (400, "BadParameter")
        );
        assert_eq!(
            mapped(DomainError::CertificateDeleted { name: s() }),
            (409, "Conflict")
        );
        assert_eq!(
            mapped(DomainError::CertificateExists { name: s() }),
            (409, "Conflict")
        );
        assert_eq!(
            mapped(DomainError::DeletedCertificateNotFound { name: s() }),
            (404, "CertificateNotFound")
        );
        assert_eq!(
            mapped(DomainError::ContactsNotFound),
            (404, "ContactsNotFound")
        );
        assert_eq!(
            mapped(DomainError::SecretNotFound { name: s() }),
            (404, "SecretNotFound")
        );
        assert_eq!(
            mapped(DomainError::KeyNotFound { name: s() }),
            (404, "KeyNotFound")
        );
        assert_eq!(mapped(DomainError::SecretDisabled), (403, "Forbidden"));
    }

    #[test]
    fn internal_errors_do_not_echo_their_cause() {
        let e = ApiError::internal(&"sqlite: disk I/O error at /secret/path");
        assert_eq!(e.status.as_u16(), 500);
        assert!(!e.message.contains("/secret/path"));
    }
}
