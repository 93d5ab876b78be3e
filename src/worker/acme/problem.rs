//! How ACME failures are judged (RFC 8555 §6.7): a CA's problem document or a transport
//! failure is either worth another try (badNonce, 5xx, unreachable, timeouts) or final.

/// Why a step did not go through.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The CA said no, or cannot be used as configured: the request fails.
    Permanent(String),
    /// Our side broke (database, sealing): retry next round.
    Internal(anyhow::Error),
}

impl From<crate::service::ServiceError> for Failure {
    fn from(e: crate::service::ServiceError) -> Self {
        Failure::Internal(e.into())
    }
}

/// A failure judged.
pub(crate) enum Kind {
    Transient(String),
    Permanent(String),
}

impl Kind {
    /// The text, whatever the kind.
    pub(crate) fn message(self) -> String {
        match self {
            Kind::Transient(m) | Kind::Permanent(m) => m,
        }
    }
}

/// A problem document as one line: its detail and type, and its subproblems' details.
pub(crate) fn problem_text(p: &instant_acme::Problem) -> String {
    let mut s = match (&p.r#type, &p.detail) {
        (Some(t), Some(d)) => format!("{d} ({t})"),
        (None, Some(d)) => d.clone(),
        (Some(t), None) => t.clone(),
        (None, None) => "an unspecified problem".into(),
    };
    for sub in &p.subproblems {
        if let Some(d) = &sub.detail {
            s.push_str("; ");
            s.push_str(d);
        }
    }
    s
}

/// Judges an instant-acme error.
pub(crate) fn classify(e: instant_acme::Error) -> Kind {
    use instant_acme::Error as E;
    match e {
        E::Api(p) => {
            let transient = p.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce")
                || p.status.is_some_and(|s| s >= 500);
            if transient {
                Kind::Transient(problem_text(&p))
            } else {
                Kind::Permanent(problem_text(&p))
            }
        }
        E::Other(inner) => {
            // Our HTTP client's failures (refused, reset, TLS) are worth another try;
            // anything else instant-acme reports this way is not.
            if inner.is::<reqwest::Error>() {
                Kind::Transient(crate::error::error_chain(&*inner))
            } else {
                Kind::Permanent(inner.to_string())
            }
        }
        E::Timeout(_) => Kind::Transient("timed out waiting for the CA".into()),
        E::Json(e) => Kind::Permanent(format!(
            "the server did not answer with ACME JSON ({e}); check the directory URL"
        )),
        other => Kind::Permanent(other.to_string()),
    }
}
